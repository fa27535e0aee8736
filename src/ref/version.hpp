// Semantic versions (semver.org 2.0.0), the Hub's tag and branch names for them, and the version
// ranges a kernel reference may ask for. Grammar and semantics: docs/references.md.
#pragma once

#include "util/result.hpp"

#include <compare>
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kget::ref {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::vector<std::string> prerelease; // identifiers between '-' and '+', e.g. {"rc", "1"}
  std::vector<std::string> build;      // identifiers after '+'; kept, but never affect ordering

  bool is_prerelease() const { return !prerelease.empty(); }

  // Precedence per SemVer §11. Weak rather than strong because build metadata is ignored:
  // 1.0.0+a and 1.0.0+b are equivalent, yet not equal.
  friend std::weak_ordering operator<=>(const Version& a, const Version& b);
  // Equality of everything, build metadata included.
  friend bool operator==(const Version& a, const Version& b) = default;
};

// A parse failure with the offset of the offending character, so that a caller that embeds the
// text in a longer one (a kernel reference) can point at it there.
struct SyntaxError {
  std::string message;
  std::optional<size_t> offset; // into the text given to the parser; may equal its size (the end)
};

template <class T>
using Parsed = std::expected<T, SyntaxError>;

template <class... Args>
std::unexpected<SyntaxError> syntax_error(std::optional<size_t> offset,
                                          fmt::format_string<Args...> format, Args&&... args) {
  return std::unexpected(SyntaxError{fmt::format(format, std::forward<Args>(args)...), offset});
}

// One condition of a range after its shorthand is expanded: `version <comparison> bound.version`.
enum class Comparison { eq, lt, le, gt, ge };
struct Bound {
  Comparison comparison;
  Version version;
};

class VersionRange;
Parsed<VersionRange> scan_range(std::string_view text);

// Comma-separated comparators that must all hold, e.g. "^1.2" or ">=1.2, <2".
class VersionRange {
public:
  // Matches every release and no pre-release; parse_range is the way to get a useful one.
  VersionRange() = default;

  // Pre-releases match only when a comparator names a pre-release of the same MAJOR.MINOR.PATCH.
  bool matches(const Version& version) const;
  // The highest matching version; the first of equivalent ones (differing only in build metadata).
  std::optional<Version> highest_match(const std::vector<Version>& versions) const;

  // The canonical text: comparators joined by ',' without spaces, e.g. ">=1.2,<2".
  const std::string& text() const { return m_text; }

  friend bool operator==(const VersionRange& a, const VersionRange& b) {
    return a.m_text == b.m_text;
  }

private:
  friend Parsed<VersionRange> scan_range(std::string_view text);

  bool satisfies_bounds(const Version& version) const;
  bool allows_prerelease_of(const Version& version) const;

  std::vector<Bound> m_bounds;
  std::vector<Version> m_prerelease_anchors; // the pre-releases the comparators name
  bool m_matches_nothing = false;            // e.g. ">2147483647", whose bound cannot be written
  std::string m_text;
};

// Strict SemVer: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], no leading zeros, no empty identifiers,
// identifiers of [0-9A-Za-z-] only, MAJOR, MINOR and PATCH at most 2147483647.
Result<Version> parse_version(std::string_view text);
Parsed<Version> scan_version(std::string_view text);
std::string to_string(const Version& version);

// The Hub convention: release tags are "v" + a version ("v1.2.3", "v1.3.0-rc.1"), and major
// version N is the branch "vN". Anything else is not a release tag or a major branch.
std::optional<Version> parse_tag(std::string_view tag);
std::optional<int> parse_major_branch(std::string_view branch);
std::string tag_name(const Version& version);
std::string branch_name(int major);

// Caret (^1.2), tilde (~1.2) and comparators (=, >, >=, <, <=) joined by ','; see
// docs/references.md. A range that nothing can satisfy is not an error: it matches nothing.
Result<VersionRange> parse_range(std::string_view text);
std::string to_string(const VersionRange& range);

// `invalid <subject> "<input>": <message>`, then, when the error has an offset, the input again
// with a caret under the offending character.
std::string format_syntax_error(std::string_view subject, std::string_view input,
                                const SyntaxError& error);

// The character at `offset` for an error message: "'$'", "a space", "control character 0x01",
// or a whole UTF-8 sequence such as "'é'".
std::string describe_char_at(std::string_view text, size_t offset);

} // namespace kget::ref
