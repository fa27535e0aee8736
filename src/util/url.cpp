#include "util/url.hpp"

namespace kget::util {

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
                    "malformed percent-encoding at offset {} of \"{}\": '%' must start an escape "
                    "of two hex digits such as %20 (write a literal '%' as %25)",
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

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
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

Result<std::filesystem::path> file_url_path(std::string_view url) {
  constexpr std::string_view scheme = "file://";
  if (url.substr(0, scheme.size()) != scheme) {
    return fail(ErrorKind::usage, "\"{}\" is not a file URL; write file:///absolute/path", url);
  }
  std::string_view rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (slash == std::string_view::npos || (!host.empty() && host != "localhost")) {
    return fail(ErrorKind::usage,
                "\"{}\" is not a local file URL; write file:///absolute/path/to/store", url);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail(ErrorKind::usage, "\"{}\": a store URL has no query or fragment", url);
  }
  KGET_TRY_ASSIGN(auto path, percent_decode(rest.substr(slash)));
  if (path.find('\0') != std::string::npos) {
    return fail(ErrorKind::usage, "\"{}\": %00 is not allowed in a path", url);
  }
  return std::filesystem::path(path).lexically_normal();
}

} // namespace kget::util
