#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace kget::util {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      out += separator;
    }
    out += parts[i];
  }
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<int> parse_uint(std::string_view text) {
  if (text.empty() || text.size() > 9) {
    return std::nullopt;
  }
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

std::optional<MajorMinor> parse_major_minor(std::string_view text) {
  auto parts = split(text, '.');
  if (parts.size() != 2) {
    return std::nullopt;
  }
  auto major = parse_uint(parts[0]);
  auto minor = parse_uint(parts[1]);
  if (!major || !minor) {
    return std::nullopt;
  }
  return MajorMinor{*major, *minor};
}

std::string to_string(MajorMinor version) {
  return std::to_string(version.major) + "." + std::to_string(version.minor);
}

std::optional<std::vector<int>> parse_dotted(std::string_view text) {
  std::vector<int> out;
  for (auto part : split(text, '.')) {
    auto value = parse_uint(part);
    if (!value) {
      return std::nullopt;
    }
    out.push_back(*value);
  }
  return out;
}

std::string format_dotted(const std::vector<int>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      out += '.';
    }
    out += std::to_string(parts[i]);
  }
  return out;
}

} // namespace kget::util
