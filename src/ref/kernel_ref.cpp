#include "ref/kernel_ref.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <charconv>
#include <climits>

namespace kget::ref {

namespace {

constexpr size_t k_max_repo_id_length = 96;
constexpr size_t k_max_revision_length = 255;
constexpr size_t k_commit_length = 40;
constexpr size_t k_short_commit_length = 7;
constexpr std::string_view k_range_starts = "^~<>=!";
constexpr std::string_view k_git_forbidden = " ~^:?*[\\";
constexpr std::string_view k_example = "kernels-community/activation";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_repo_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
         c == '.';
}

bool is_control(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

template <class Predicate>
bool all_of(std::string_view text, Predicate predicate) {
  return std::all_of(text.begin(), text.end(), predicate);
}

std::string lower_case(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

// Errors of a parser that saw only text[begin, ...) point into the whole text.
SyntaxError shifted(SyntaxError error, size_t begin) {
  if (error.offset) {
    *error.offset += begin;
  }
  return error;
}

// The org or the name: text[begin, end), `what` being "org" or "kernel name".
Parsed<void> check_repo_part(std::string_view text, size_t begin, size_t end,
                             std::string_view what) {
  std::string_view part = text.substr(begin, end - begin);
  if (part.empty()) {
    return syntax_error(begin, "the {} is empty; a kernel is named org/name, e.g. {}", what,
                        k_example);
  }
  for (size_t i = begin; i < end; ++i) {
    if (!is_repo_char(text[i])) {
      return syntax_error(i, "{} is not allowed in the {} (letters, digits, '-', '_' and '.' are)",
                          describe_char_at(text, i), what);
    }
  }
  for (std::string_view pair : {"--", ".."}) {
    if (size_t at = part.find(pair); at != std::string_view::npos) {
      return syntax_error(begin + at, "'{}' is not allowed in the {}", pair, what);
    }
  }
  if (part.front() == '-' || part.front() == '.') {
    return syntax_error(begin, "the {} must not start with '{}' (a letter, digit or '_' must)",
                        what, part.front());
  }
  if (part.back() == '-' || part.back() == '.') {
    return syntax_error(end - 1, "the {} must not end with '{}' (a letter, digit or '_' must)",
                        what, part.back());
  }
  return {};
}

// "org/name" in text[0, end).
Parsed<void> check_repo_id(std::string_view text, size_t end) {
  std::string_view repo = text.substr(0, end);
  size_t slash = repo.find('/');
  if (slash == std::string_view::npos) {
    return syntax_error(std::nullopt, "the org is missing; a kernel is named org/name, e.g. {}",
                        k_example);
  }
  if (size_t second = repo.find('/', slash + 1); second != std::string_view::npos) {
    return syntax_error(second, "only one '/' is allowed; a kernel is named org/name, e.g. {}",
                        k_example);
  }
  KGET_TRY(check_repo_part(text, 0, slash, "org"));
  KGET_TRY(check_repo_part(text, slash + 1, end, "kernel name"));
  if (repo.size() > k_max_repo_id_length) {
    return syntax_error(k_max_repo_id_length,
                        "\"org/name\" is {} characters long; the Hub allows at most {}",
                        repo.size(), k_max_repo_id_length);
  }
  if (repo.ends_with(".git")) {
    return syntax_error(end - 4, "a kernel name must not end with \".git\"");
  }
  return {};
}

Parsed<void> check_revision_characters(std::string_view text, size_t begin) {
  for (size_t i = begin; i < text.size(); ++i) {
    char c = text[i];
    if (is_control(c) || k_git_forbidden.find(c) != std::string_view::npos) {
      return syntax_error(i,
                          "{} is not allowed in a branch or tag name (git forbids spaces, control "
                          "characters and ~ ^ : ? * [ \\)",
                          describe_char_at(text, i));
    }
    for (std::string_view sequence : {"..", "@{", "//"}) {
      if (text.substr(i, 2) == sequence) {
        return syntax_error(i, "'{}' is not allowed in a branch or tag name", sequence);
      }
    }
  }
  return {};
}

// Each '/'-separated component of text[begin, ...): git forbids a leading '.' and a ".lock" end.
Parsed<void> check_revision_components(std::string_view text, size_t begin) {
  size_t start = begin;
  while (start <= text.size()) {
    size_t end = std::min(text.find('/', start), text.size());
    std::string_view component = text.substr(start, end - start);
    if (component.starts_with('.')) {
      return syntax_error(start, "a part of a branch or tag name must not start with '.'");
    }
    if (component.ends_with(".lock")) {
      return syntax_error(end - 5, "a part of a branch or tag name must not end with \".lock\"");
    }
    start = end + 1;
  }
  return {};
}

// A branch or tag name in text[begin, ...), by the rules of git check-ref-format.
Parsed<void> check_revision(std::string_view text, size_t begin) {
  std::string_view name = text.substr(begin);
  if (name.size() > k_max_revision_length) {
    return syntax_error(begin + k_max_revision_length,
                        "the branch or tag name is {} characters long; at most {} are allowed",
                        name.size(), k_max_revision_length);
  }
  KGET_TRY(check_revision_characters(text, begin));
  if (name == "@") {
    return syntax_error(begin, "'@' alone is not a branch or tag name");
  }
  if (name.front() == '/' || name.front() == '-') {
    return syntax_error(begin, "a branch or tag name must not start with '{}'", name.front());
  }
  if (name.back() == '/' || name.back() == '.') {
    return syntax_error(text.size() - 1, "a branch or tag name must not end with '{}'",
                        name.back());
  }
  return check_revision_components(text, begin);
}

// "@1.2": neither a major version nor a tag, and the two plausible meanings differ.
std::unexpected<SyntaxError> two_part_version(std::string_view spec, size_t begin) {
  std::string_view major = spec.substr(0, spec.find('.'));
  std::string newest = major == "0"
                           ? fmt::format("the newest {}.x release", spec)
                           : fmt::format("the newest release >= {} within major {}", spec, major);
  return syntax_error(begin,
                      "\"{0}\" is not a version: write @{0}.0 for the tag v{0}.0, or @^{0} for {1}",
                      spec, newest);
}

Parsed<Spec> scan_major(std::string_view spec, size_t begin) {
  if (spec.size() > 1 && spec.front() == '0') {
    size_t digits = spec.find_first_not_of('0');
    return syntax_error(begin, "the major version \"{}\" has a leading zero; write @{}", spec,
                        digits == std::string_view::npos ? "0" : spec.substr(digits));
  }
  int major = 0;
  auto [end, error] = std::from_chars(spec.data(), spec.data() + spec.size(), major);
  if (error != std::errc() || end != spec.data() + spec.size()) {
    return syntax_error(begin, "the major version {} is too large (at most {})", spec, INT_MAX);
  }
  return MajorSpec{major};
}

Parsed<Spec> scan_tag(std::string_view spec, size_t begin) {
  auto version = scan_version(spec);
  if (!version) {
    return std::unexpected(shifted(std::move(version).error(), begin));
  }
  return TagSpec{std::move(*version)};
}

// A spec made of digits and dots: @N, @N.M.P, or a mistake.
Parsed<Spec> scan_numeric(std::string_view spec, size_t begin) {
  auto parts = std::count(spec.begin(), spec.end(), '.') + 1;
  if (parts == 1) {
    return scan_major(spec, begin);
  }
  if (parts == 2 && spec.back() != '.') {
    return two_part_version(spec, begin);
  }
  if (parts == 3) {
    return scan_tag(spec, begin);
  }
  return syntax_error(begin,
                      "\"{}\" is neither @N (the branch vN) nor @N.M.P (the tag vN.M.P), e.g. @1 "
                      "or @1.2.3",
                      spec);
}

// "1.2.3-rc.1" or "1.2.3+build": digits and exactly two dots before the first '-' or '+'.
bool looks_like_full_version(std::string_view spec) {
  std::string_view core = spec.substr(0, spec.find_first_of("-+"));
  return core.size() < spec.size() &&
         all_of(core, [](char c) { return is_digit(c) || c == '.'; }) &&
         std::count(core.begin(), core.end(), '.') == 2;
}

Parsed<Spec> scan_range_spec(std::string_view spec, size_t begin) {
  auto range = scan_range(spec);
  if (!range) {
    return std::unexpected(shifted(std::move(range).error(), begin));
  }
  return RangeSpec{std::move(*range), std::string(spec)};
}

// The spec in text[begin, ...), after the '@'.
Parsed<Spec> scan_spec(std::string_view text, size_t begin) {
  std::string_view spec = text.substr(begin);
  if (spec.empty()) {
    return syntax_error(begin,
                        "nothing follows '@'; write a version (@1, @1.2.3, @^1.2), a branch or "
                        "tag name, a 40-digit commit, or leave out the '@'");
  }
  size_t first = spec.find_first_not_of(" \t");
  if (first != std::string_view::npos &&
      k_range_starts.find(spec[first]) != std::string_view::npos) {
    return scan_range_spec(spec, begin);
  }
  if (spec.size() == k_commit_length && all_of(spec, is_hex)) {
    return CommitSpec{lower_case(spec)};
  }
  if (is_digit(spec.front())) {
    if (all_of(spec, [](char c) { return is_digit(c) || c == '.'; })) {
      return scan_numeric(spec, begin);
    }
    if (looks_like_full_version(spec)) {
      return scan_tag(spec, begin);
    }
  }
  KGET_TRY(check_revision(text, begin));
  return RevisionSpec{std::string(spec)};
}

Parsed<KernelRef> scan_kernel_ref(std::string_view text) {
  if (text.empty()) {
    return syntax_error(std::nullopt, "it is empty; write org/name or org/name@spec, e.g. {}@1",
                        k_example);
  }
  size_t at = std::min(text.find('@'), text.size());
  KGET_TRY(check_repo_id(text, at));
  size_t slash = text.find('/');
  KernelRef ref{std::string(text.substr(0, slash)),
                std::string(text.substr(slash + 1, at - slash - 1)), DefaultSpec{}};
  if (at < text.size()) {
    KGET_TRY_ASSIGN(ref.spec, scan_spec(text, at + 1));
  }
  return ref;
}

template <class T>
Result<T> to_result(std::string_view subject, std::string_view text, Parsed<T>&& parsed) {
  if (!parsed) {
    return fail(ErrorKind::invalid_reference, "{}",
                format_syntax_error(subject, text, parsed.error()));
  }
  if constexpr (std::is_void_v<T>) {
    return {};
  } else {
    return std::move(*parsed);
  }
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

} // namespace

Result<KernelRef> parse_kernel_ref(std::string_view text) {
  return to_result("kernel reference", text, scan_kernel_ref(text));
}

Result<void> validate_repo_id(std::string_view repo_id) {
  return to_result("repository id", repo_id, check_repo_id(repo_id, repo_id.size()));
}

Result<void> validate_revision_name(std::string_view name) {
  if (name.empty()) {
    return fail(ErrorKind::invalid_reference, "invalid revision name \"\": it is empty");
  }
  return to_result("revision name", name, check_revision(name, 0));
}

std::string to_string(const Spec& spec) {
  return std::visit(Overloaded{
                        [](const DefaultSpec&) { return std::string(); },
                        [](const MajorSpec& major) { return std::to_string(major.major); },
                        [](const TagSpec& tag) { return to_string(tag.version); },
                        [](const RangeSpec& range) { return range.text; },
                        [](const CommitSpec& commit) { return commit.sha; },
                        [](const RevisionSpec& revision) { return revision.name; },
                    },
                    spec);
}

std::string to_string(const KernelRef& ref) {
  std::string spec = to_string(ref.spec);
  return spec.empty() ? repo_id(ref) : repo_id(ref) + "@" + spec;
}

std::string repo_id(const KernelRef& ref) {
  return ref.org + "/" + ref.name;
}

std::string describe(const Spec& spec) {
  return std::visit(Overloaded{
                        [](const DefaultSpec&) { return std::string("highest vN branch"); },
                        [](const MajorSpec& major) { return "branch " + branch_name(major.major); },
                        [](const TagSpec& tag) { return "tag " + tag_name(tag.version); },
                        [](const RangeSpec& range) {
                          return "highest release matching " + std::string(util::trim(range.text));
                        },
                        [](const CommitSpec& commit) {
                          return "commit " + commit.sha.substr(0, k_short_commit_length) + "…";
                        },
                        [](const RevisionSpec& revision) { return "revision " + revision.name; },
                    },
                    spec);
}

std::optional<std::string> fixed_revision(const Spec& spec) {
  return std::visit(
      Overloaded{
          [](const DefaultSpec&) { return std::optional<std::string>(); },
          [](const MajorSpec& major) { return std::optional(branch_name(major.major)); },
          [](const TagSpec& tag) { return std::optional(tag_name(tag.version)); },
          [](const RangeSpec&) { return std::optional<std::string>(); },
          [](const CommitSpec& commit) { return std::optional(commit.sha); },
          [](const RevisionSpec& revision) { return std::optional(revision.name); },
      },
      spec);
}

} // namespace kget::ref
