#include "ref/version.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <charconv>
#include <climits>

namespace kget::ref {

namespace {

constexpr std::string_view k_operator_chars = "<>=!^~";
constexpr std::string_view k_operators_hint = "use one of ^ ~ = > >= < <=";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_identifier_char(char c) {
  return is_digit(c) || is_alpha(c) || c == '-';
}

bool is_numeric(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// A piece of the text being parsed that remembers where it sits, so that errors point into the
// whole text rather than into the piece.
struct Span {
  std::string_view whole;
  size_t begin = 0;
  size_t end = 0;

  std::string_view text() const { return whole.substr(begin, end - begin); }
  bool empty() const { return begin == end; }
  size_t find(char c) const {
    size_t at = whole.substr(0, end).find(c, begin);
    return at == std::string_view::npos ? end : at;
  }
};

std::vector<Span> split(Span span, char separator) {
  std::vector<Span> parts;
  size_t begin = span.begin;
  while (true) {
    size_t end = Span{span.whole, begin, span.end}.find(separator);
    parts.push_back(Span{span.whole, begin, end});
    if (end == span.end) {
      return parts;
    }
    begin = end + 1;
  }
}

Span trimmed(Span span) {
  while (span.begin < span.end && is_space(span.whole[span.begin])) {
    ++span.begin;
  }
  while (span.end > span.begin && is_space(span.whole[span.end - 1])) {
    --span.end;
  }
  return span;
}

Parsed<int> scan_number(Span span, std::string_view what) {
  if (span.empty()) {
    return syntax_error(span.begin, "the {} is empty; a version is MAJOR.MINOR.PATCH, e.g. 1.2.3",
                        what);
  }
  for (size_t i = span.begin; i < span.end; ++i) {
    if (!is_digit(span.whole[i])) {
      return syntax_error(i, "{} is not allowed in the {} (digits only)",
                          describe_char_at(span.whole, i), what);
    }
  }
  std::string_view text = span.text();
  if (text.size() > 1 && text.front() == '0') {
    return syntax_error(span.begin, "the {} \"{}\" has a leading zero, which SemVer forbids", what,
                        text);
  }
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return syntax_error(span.begin, "the {} {} is too large (at most {})", what, text, INT_MAX);
  }
  return value;
}

// A pre-release or build identifier; `numbers_strict` forbids leading zeros in numeric ones.
Parsed<std::string> scan_identifier(Span span, std::string_view what, bool numbers_strict) {
  if (span.empty()) {
    return syntax_error(span.begin,
                        "empty {} identifier; identifiers are separated by single dots and must "
                        "not be empty",
                        what);
  }
  for (size_t i = span.begin; i < span.end; ++i) {
    if (!is_identifier_char(span.whole[i])) {
      return syntax_error(i, "{} is not allowed in a {} identifier (letters, digits and '-' are)",
                          describe_char_at(span.whole, i), what);
    }
  }
  std::string_view text = span.text();
  if (numbers_strict && is_numeric(text) && text.size() > 1 && text.front() == '0') {
    return syntax_error(span.begin,
                        "the numeric {} identifier \"{}\" has a leading zero, which SemVer forbids",
                        what, text);
  }
  return std::string(text);
}

Parsed<std::vector<std::string>> scan_identifiers(Span span, std::string_view what,
                                                  bool numbers_strict) {
  std::vector<std::string> identifiers;
  for (Span part : split(span, '.')) {
    KGET_TRY_ASSIGN(auto identifier, scan_identifier(part, what, numbers_strict));
    identifiers.push_back(std::move(identifier));
  }
  return identifiers;
}

// A version that may leave out its minor and patch numbers, as ranges allow ("1", "1.2").
struct PartialVersion {
  int major = 0;
  std::optional<int> minor;
  std::optional<int> patch;
  std::vector<std::string> prerelease;
  std::vector<std::string> build;

  bool is_full() const { return patch.has_value(); }
  Version floor() const {
    return Version{major, minor.value_or(0), patch.value_or(0), prerelease, build};
  }
};

constexpr std::string_view k_part_names[] = {"major version", "minor version", "patch version"};

// MAJOR[.MINOR[.PATCH]] with at least `min_parts` parts.
Parsed<PartialVersion> scan_core(Span core, size_t min_parts) {
  std::vector<Span> parts = split(core, '.');
  if (parts.size() > 3) {
    return syntax_error(parts[3].begin - 1,
                        "too many parts; a version is MAJOR.MINOR.PATCH, e.g. 1.2.3");
  }
  std::vector<int> numbers;
  for (size_t i = 0; i < parts.size(); ++i) {
    KGET_TRY_ASSIGN(int number, scan_number(parts[i], k_part_names[i]));
    numbers.push_back(number);
  }
  if (parts.size() < min_parts) {
    return syntax_error(core.end, "\"{}\" has {} of the 3 parts MAJOR.MINOR.PATCH, e.g. 1.2.3",
                        core.text(), parts.size());
  }
  PartialVersion version;
  version.major = numbers[0];
  if (numbers.size() > 1) {
    version.minor = numbers[1];
  }
  if (numbers.size() > 2) {
    version.patch = numbers[2];
  }
  return version;
}

Parsed<PartialVersion> scan_partial_version(Span span, size_t min_parts) {
  if (span.empty()) {
    std::optional<size_t> offset = span.whole.empty() ? std::nullopt : std::optional(span.begin);
    return syntax_error(offset, "the version is empty; expected MAJOR.MINOR.PATCH, e.g. 1.2.3");
  }
  char first = span.whole[span.begin];
  if (first == 'v' || first == 'V') {
    return syntax_error(span.begin,
                        "a version has no leading '{}' (only its tag name does); write \"{}\"",
                        first, span.text().substr(1));
  }
  size_t plus = span.find('+');
  size_t dash = Span{span.whole, span.begin, plus}.find('-');
  KGET_TRY_ASSIGN(auto version, scan_core(Span{span.whole, span.begin, dash}, min_parts));
  if (!version.is_full() && dash != span.end) {
    return syntax_error(dash, "a pre-release or build needs all of MAJOR.MINOR.PATCH before it");
  }
  if (dash < plus) {
    KGET_TRY_ASSIGN(version.prerelease,
                    scan_identifiers(Span{span.whole, dash + 1, plus}, "pre-release", true));
  }
  if (plus < span.end) {
    KGET_TRY_ASSIGN(version.build,
                    scan_identifiers(Span{span.whole, plus + 1, span.end}, "build", false));
  }
  return version;
}

// Numeric identifiers have no leading zeros, so the longer one is the larger; this compares
// numbers of any length without converting them.
std::weak_ordering compare_identifiers(std::string_view a, std::string_view b) {
  bool a_numeric = is_numeric(a);
  bool b_numeric = is_numeric(b);
  if (a_numeric && b_numeric) {
    if (a.size() != b.size()) {
      return a.size() <=> b.size();
    }
    return a <=> b;
  }
  if (a_numeric != b_numeric) {
    return a_numeric ? std::weak_ordering::less : std::weak_ordering::greater;
  }
  return a <=> b;
}

std::string join_identifiers(const std::vector<std::string>& identifiers) {
  return util::join(identifiers, ".");
}

// The lowest version of all, below every pre-release of MAJOR.MINOR.PATCH: an exclusive upper
// bound "< x.y.z-0" keeps x.y.z's pre-releases out, as npm does.
Version lowest_of(int major, int minor, int patch) {
  return Version{major, minor, patch, {"0"}, {}};
}

// The first version above everything that MAJOR[.MINOR[.PATCH]] names: 1 -> 2.0.0-0,
// 1.2 -> 1.3.0-0, 1.2.3 -> 1.2.4-0. A part at INT_MAX carries into the one before it, since no
// version has a larger part; nullopt when even the major version cannot grow.
std::optional<Version> above(int major, std::optional<int> minor, std::optional<int> patch) {
  if (patch && *patch < INT_MAX) {
    return lowest_of(major, *minor, *patch + 1);
  }
  if (minor && *minor < INT_MAX) {
    return lowest_of(major, *minor + 1, 0);
  }
  if (major < INT_MAX) {
    return lowest_of(major + 1, 0, 0);
  }
  return std::nullopt;
}

std::optional<Version> above(const PartialVersion& version) {
  return above(version.major, version.minor, version.patch);
}

// The exclusive upper bound of ^V: the first version that changes the leftmost non-zero part
// given (^1.2 -> 2, ^0.2 -> 0.3, ^0.0.3 -> 0.0.4, ^0.0 -> 0.1, ^0 -> 1).
std::optional<Version> caret_upper(const PartialVersion& version) {
  if (version.major > 0 || !version.minor) {
    return above(version.major, {}, {});
  }
  if (*version.minor > 0 || !version.patch) {
    return above(0, version.minor, {});
  }
  return above(0, 0, version.patch);
}

// ~1.2.3 and ~1.2 allow patch updates, ~1 allows minor ones.
std::optional<Version> tilde_upper(const PartialVersion& version) {
  return above(version.major, version.minor, {});
}

std::string partial_to_string(const PartialVersion& version) {
  std::string text = std::to_string(version.major);
  if (version.minor) {
    text += "." + std::to_string(*version.minor);
  }
  if (version.patch) {
    text += "." + std::to_string(*version.patch);
  }
  if (!version.prerelease.empty()) {
    text += "-" + join_identifiers(version.prerelease);
  }
  if (!version.build.empty()) {
    text += "+" + join_identifiers(version.build);
  }
  return text;
}

// Width in terminal columns of text[0, offset) once control bytes are shown as \xNN; UTF-8
// continuation bytes take no column of their own.
size_t display_column(std::string_view text, size_t offset) {
  size_t column = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) {
      column += 4;
    } else if ((byte & 0xc0) != 0x80) {
      column += 1;
    }
  }
  return column + (offset > text.size() ? offset - text.size() : 0);
}

std::string display(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

size_t utf8_sequence_length(unsigned char lead) {
  if ((lead & 0xe0) == 0xc0) {
    return 2;
  }
  if ((lead & 0xf0) == 0xe0) {
    return 3;
  }
  if ((lead & 0xf8) == 0xf0) {
    return 4;
  }
  return 1;
}

enum class RangeOp { caret, tilde, eq, gt, ge, lt, le };

struct Operator {
  std::string_view text;
  RangeOp op;
};

constexpr Operator k_operators[] = {
    {">=", RangeOp::ge}, {"<=", RangeOp::le},   {">", RangeOp::gt},   {"<", RangeOp::lt},
    {"=", RangeOp::eq},  {"^", RangeOp::caret}, {"~", RangeOp::tilde}};

std::optional<Operator> find_operator(std::string_view text) {
  for (const Operator& op : k_operators) {
    if (text == op.text) {
      return op;
    }
  }
  return std::nullopt;
}

size_t operator_length(Span span) {
  size_t end = span.begin;
  while (end < span.end && k_operator_chars.find(span.whole[end]) != std::string_view::npos) {
    ++end;
  }
  return end - span.begin;
}

} // namespace

std::weak_ordering operator<=>(const Version& a, const Version& b) {
  if (auto order = std::tie(a.major, a.minor, a.patch) <=> std::tie(b.major, b.minor, b.patch);
      order != 0) {
    return order;
  }
  if (a.prerelease.empty() != b.prerelease.empty()) {
    // A release ranks above its pre-releases.
    return a.prerelease.empty() ? std::weak_ordering::greater : std::weak_ordering::less;
  }
  size_t common = std::min(a.prerelease.size(), b.prerelease.size());
  for (size_t i = 0; i < common; ++i) {
    if (auto order = compare_identifiers(a.prerelease[i], b.prerelease[i]); order != 0) {
      return order;
    }
  }
  return a.prerelease.size() <=> b.prerelease.size();
}

Parsed<Version> scan_version(std::string_view text) {
  KGET_TRY_ASSIGN(auto version, scan_partial_version(Span{text, 0, text.size()}, 3));
  return version.floor();
}

Result<Version> parse_version(std::string_view text) {
  auto version = scan_version(text);
  if (!version) {
    return fail(ErrorKind::invalid_reference, "{}",
                format_syntax_error("version", text, version.error()));
  }
  return std::move(*version);
}

std::string to_string(const Version& version) {
  return partial_to_string(PartialVersion{version.major, version.minor, version.patch,
                                          version.prerelease, version.build});
}

std::optional<Version> parse_tag(std::string_view tag) {
  if (tag.empty() || tag.front() != 'v') {
    return std::nullopt;
  }
  auto version = scan_version(tag.substr(1));
  return version ? std::optional(std::move(*version)) : std::nullopt;
}

std::optional<int> parse_major_branch(std::string_view branch) {
  if (branch.size() < 2 || branch.front() != 'v') {
    return std::nullopt;
  }
  std::string_view digits = branch.substr(1);
  auto major = scan_number(Span{digits, 0, digits.size()}, "major version");
  return major ? std::optional(*major) : std::nullopt;
}

std::string tag_name(const Version& version) {
  return "v" + to_string(version);
}

std::string branch_name(int major) {
  return "v" + std::to_string(major);
}

bool VersionRange::satisfies_bounds(const Version& version) const {
  return std::all_of(m_bounds.begin(), m_bounds.end(), [&](const Bound& bound) {
    switch (bound.comparison) {
    case Comparison::eq:
      return (version <=> bound.version) == 0;
    case Comparison::lt:
      return version < bound.version;
    case Comparison::le:
      return version <= bound.version;
    case Comparison::gt:
      return version > bound.version;
    case Comparison::ge:
      return version >= bound.version;
    }
    return false;
  });
}

bool VersionRange::allows_prerelease_of(const Version& version) const {
  return std::any_of(m_prerelease_anchors.begin(), m_prerelease_anchors.end(),
                     [&](const Version& anchor) {
                       return std::tie(anchor.major, anchor.minor, anchor.patch) ==
                              std::tie(version.major, version.minor, version.patch);
                     });
}

bool VersionRange::matches(const Version& version) const {
  if (m_matches_nothing || !satisfies_bounds(version)) {
    return false;
  }
  return !version.is_prerelease() || allows_prerelease_of(version);
}

std::optional<Version> VersionRange::highest_match(const std::vector<Version>& versions) const {
  const Version* best = nullptr;
  for (const Version& version : versions) {
    if (matches(version) && (best == nullptr || version > *best)) {
      best = &version;
    }
  }
  return best ? std::optional(*best) : std::nullopt;
}

namespace {

void add_upper(std::optional<Version> upper, std::vector<Bound>& bounds) {
  if (upper) { // without one the limit does not fit in an int, and every version is below it
    bounds.push_back(Bound{Comparison::lt, std::move(*upper)});
  }
}

// The bounds a comparator stands for once its partial version is filled in, as npm and cargo
// expand them; false when it can match nothing.
bool add_bounds(RangeOp op, const PartialVersion& version, std::vector<Bound>& bounds) {
  switch (op) {
  case RangeOp::eq:
    if (version.is_full()) {
      bounds.push_back(Bound{Comparison::eq, version.floor()});
    } else {
      bounds.push_back(Bound{Comparison::ge, version.floor()});
      add_upper(above(version), bounds);
    }
    return true;
  case RangeOp::gt:
    if (version.is_full()) {
      bounds.push_back(Bound{Comparison::gt, version.floor()});
    } else if (auto lower = above(version)) {
      bounds.push_back(Bound{Comparison::ge, std::move(*lower)});
    } else {
      return false;
    }
    return true;
  case RangeOp::ge:
    bounds.push_back(Bound{Comparison::ge, version.floor()});
    return true;
  case RangeOp::lt:
    bounds.push_back(
        Bound{Comparison::lt, version.is_full()
                                  ? version.floor()
                                  : lowest_of(version.major, version.minor.value_or(0), 0)});
    return true;
  case RangeOp::le:
    if (version.is_full()) {
      bounds.push_back(Bound{Comparison::le, version.floor()});
    } else {
      add_upper(above(version), bounds);
    }
    return true;
  case RangeOp::caret:
    bounds.push_back(Bound{Comparison::ge, version.floor()});
    add_upper(caret_upper(version), bounds);
    return true;
  case RangeOp::tilde:
    bounds.push_back(Bound{Comparison::ge, version.floor()});
    add_upper(tilde_upper(version), bounds);
    return true;
  }
  return true;
}

} // namespace

namespace {

struct Comparator {
  std::vector<Bound> bounds;
  bool matches_nothing = false;
  std::optional<Version> prerelease; // the pre-release it names, if any
  std::string text;                  // canonical
};

struct OperatorAndVersion {
  Operator op;
  Span version;
};

Parsed<OperatorAndVersion> scan_operator(Span token) {
  std::string_view text = token.whole;
  size_t length = operator_length(token);
  if (length == 0) {
    if (is_digit(text[token.begin])) {
      return syntax_error(token.begin,
                          "\"{0}\" has no operator; write ^{0} for compatible releases or ={0} "
                          "for exactly that version",
                          token.text());
    }
    return syntax_error(token.begin,
                        "expected an operator and a version such as ^1.2 or >=1.2, got \"{}\"; {}",
                        token.text(), k_operators_hint);
  }
  auto op = find_operator(text.substr(token.begin, length));
  Span version = trimmed(Span{text, token.begin + length, token.end});
  if (op && !version.empty() &&
      k_operator_chars.find(text[version.begin]) != std::string_view::npos) {
    op.reset(); // "> =1.2": a space inside an operator
  }
  if (!op) {
    size_t end = version.begin + operator_length(version);
    return syntax_error(token.begin, "unknown operator \"{}\"; {}",
                        Span{text, token.begin, end}.text(), k_operators_hint);
  }
  if (version.empty()) {
    return syntax_error(version.begin, "missing version after \"{}\"", op->text);
  }
  for (size_t i = version.begin; i < version.end; ++i) {
    if (is_space(text[i])) {
      return syntax_error(i,
                          "a space inside a comparator; join comparators with ',' as in >=1.2,<2");
    }
  }
  return OperatorAndVersion{*op, version};
}

Parsed<Comparator> scan_comparator(Span token) {
  KGET_TRY_ASSIGN(auto parts, scan_operator(token));
  KGET_TRY_ASSIGN(auto version, scan_partial_version(parts.version, 1));
  Comparator comparator;
  comparator.matches_nothing = !add_bounds(parts.op.op, version, comparator.bounds);
  if (!version.prerelease.empty()) {
    comparator.prerelease = version.floor();
  }
  comparator.text = std::string(parts.op.text) + partial_to_string(version);
  return comparator;
}

// Points at the comma after an empty comparator, or for the last, at the one before it.
SyntaxError empty_comparator(const std::vector<Span>& tokens, size_t index) {
  bool last = index + 1 == tokens.size();
  return SyntaxError{
      fmt::format("empty comparator {} ','; comparators are joined by ',' as in >=1.2,<2",
                  last ? "after" : "before"),
      last ? tokens[index].begin - 1 : tokens[index].end};
}

} // namespace

Parsed<VersionRange> scan_range(std::string_view text) {
  if (trimmed(Span{text, 0, text.size()}).empty()) {
    return syntax_error(std::nullopt, "the range is empty; write e.g. ^1.2, ~1.2.3 or >=1.2,<2");
  }
  VersionRange range;
  std::vector<std::string> texts;
  std::vector<Span> tokens = split(Span{text, 0, text.size()}, ',');
  for (size_t i = 0; i < tokens.size(); ++i) {
    Span token = trimmed(tokens[i]);
    if (token.empty()) {
      return std::unexpected(empty_comparator(tokens, i));
    }
    KGET_TRY_ASSIGN(auto comparator, scan_comparator(token));
    range.m_bounds.insert(range.m_bounds.end(), comparator.bounds.begin(), comparator.bounds.end());
    range.m_matches_nothing = range.m_matches_nothing || comparator.matches_nothing;
    if (comparator.prerelease) {
      range.m_prerelease_anchors.push_back(std::move(*comparator.prerelease));
    }
    texts.push_back(std::move(comparator.text));
  }
  range.m_text = util::join(texts, ",");
  return range;
}

Result<VersionRange> parse_range(std::string_view text) {
  auto range = scan_range(text);
  if (!range) {
    return fail(ErrorKind::invalid_reference, "{}",
                format_syntax_error("version range", text, range.error()));
  }
  return std::move(*range);
}

std::string to_string(const VersionRange& range) {
  return range.text();
}

std::string format_syntax_error(std::string_view subject, std::string_view input,
                                const SyntaxError& error) {
  std::string message =
      fmt::format("invalid {} \"{}\": {}", subject, display(input), error.message);
  if (error.offset) {
    message += fmt::format("\n  {}\n  {}^", display(input),
                           std::string(display_column(input, *error.offset), ' '));
  }
  return message;
}

std::string describe_char_at(std::string_view text, size_t offset) {
  if (offset >= text.size()) {
    return "the end";
  }
  auto byte = static_cast<unsigned char>(text[offset]);
  if (byte == ' ') {
    return "a space";
  }
  if (byte < 0x20 || byte == 0x7f) {
    return fmt::format("control character {:#04x}", byte);
  }
  if (byte < 0x80) {
    return fmt::format("'{}'", text[offset]);
  }
  if ((byte & 0xc0) == 0x80) {
    return fmt::format("byte {:#04x}", byte);
  }
  return fmt::format("'{}'", text.substr(offset, utf8_sequence_length(byte)));
}

} // namespace kget::ref
