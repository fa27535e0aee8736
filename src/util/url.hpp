// Percent-encoding (RFC 3986) and local file URLs (RFC 8089), shared by the registry, which
// parses request targets, and the clients, which build URLs and open file:// stores.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace kget::util {

// %XX decoded; a '%' not followed by two hex digits is an error (ErrorKind::usage). With
// `plus_is_space` (query strings), '+' is a space.
Result<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

// Every byte outside the URI's unreserved set (A-Z a-z 0-9 - . _ ~) as %XX, so the result is
// one path segment or one query value whatever it holds. With `keep_slash`, '/' stays literal
// (a path of several segments, as huggingface_hub quotes a file name).
std::string percent_encode(std::string_view text, bool keep_slash = false);

// "file:///srv/my%20store" -> "/srv/my store" (normalised). Only local URLs: an empty host or
// "localhost", no query or fragment, no %00. Errors are ErrorKind::usage naming the URL.
Result<std::filesystem::path> file_url_path(std::string_view url);

} // namespace kget::util
