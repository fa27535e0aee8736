// String helpers that know nothing about kget.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kget::util {

std::vector<std::string_view> split(std::string_view text, char separator);
std::string_view trim(std::string_view text);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
bool starts_with(std::string_view text, std::string_view prefix);
std::string to_lower(std::string_view text);

// A non-negative decimal integer that fits in an int, with no sign, spaces or leading '+'.
std::optional<int> parse_uint(std::string_view text);

// "major.minor" with both parts decimal, e.g. "12.8" -> {12, 8}.
struct MajorMinor {
  int major = 0;
  int minor = 0;
  auto operator<=>(const MajorMinor&) const = default;
};
std::optional<MajorMinor> parse_major_minor(std::string_view text);
std::string to_string(MajorMinor version); // "12.8"

// A dotted version of any length, e.g. "3.4.30" -> {3, 4, 30}; compares element by element.
std::optional<std::vector<int>> parse_dotted(std::string_view text);
std::string format_dotted(const std::vector<int>& parts);

} // namespace kget::util
