#include "registry/url.hpp"

#include "util/strings.hpp"

namespace kget::registry {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

} // namespace

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      bool complete = i + 2 < text.size();
      int high = complete ? hex_value(text[i + 1]) : -1;
      int low = complete ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return fail(ErrorKind::usage,
                    "malformed percent-encoding at offset {} of \"{}\": '%' must be followed by "
                    "two hex digits",
                    i, text);
      }
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += digits[byte >> 4];
      out += digits[byte & 0xf];
    }
  }
  return out;
}

Result<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return fail(ErrorKind::usage, "the request target \"{}\" is not a path starting with '/'",
                target);
  }
  std::string_view path = target;
  std::string_view query;
  if (size_t mark = target.find('?'); mark != std::string_view::npos) {
    path = target.substr(0, mark);
    query = target.substr(mark + 1);
  }
  Target parsed;
  for (std::string_view segment : util::split(path.substr(1), '/')) {
    KGET_TRY_ASSIGN(auto decoded, percent_decode(segment));
    parsed.segments.push_back(std::move(decoded));
  }
  if (!query.empty()) {
    for (std::string_view pair : util::split(query, '&')) {
      if (pair.empty()) {
        continue;
      }
      size_t equals = pair.find('=');
      std::string_view key = pair.substr(0, equals);
      std::string_view value =
          equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
      KGET_TRY_ASSIGN(auto decoded_key, percent_decode(key, true));
      KGET_TRY_ASSIGN(auto decoded_value, percent_decode(value, true));
      parsed.query.emplace_back(std::move(decoded_key), std::move(decoded_value));
    }
  }
  return parsed;
}

bool query_true(std::string_view value) {
  std::string lower = util::to_lower(util::trim(value));
  return lower == "true" || lower == "1";
}

} // namespace kget::registry
