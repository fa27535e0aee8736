// An HTTP request as the registry's routes see it, and the response they describe. The routes are
// plain functions of these values; src/registry/server.cpp turns them into libmicrohttpd calls.
#pragma once

#include "util/fs.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kget::registry {

struct Request {
  std::string method;  // "GET", "HEAD", "PUT", "POST", ...
  std::string target;  // the request-target exactly as received: raw path and query
  std::string version; // "HTTP/1.1"
  // The path split on '/', then each segment percent-decoded on its own, so that "refs%2Fpr%2F1"
  // stays one segment "refs/pr/1". The empty segment before the leading '/' is dropped.
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query; // decoded ('+' and %XX), in order
  std::map<std::string, std::string> headers;             // names in lower case; first one wins
  std::string client_address;

  // The first value of a header (name in lower case), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // The first value of a query parameter, or nullopt.
  std::optional<std::string_view> query_value(std::string_view name) const;
  // The declared Content-Length; nullopt without one (no body, or a chunked body).
  std::optional<uint64_t> content_length() const;
};

// A body read from a file by the server with sendfile(2), never through memory.
struct FileBody {
  util::FileDescriptor fd;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body; // used when `file` is empty
  std::optional<FileBody> file;

  Response& add_header(std::string name, std::string value);
  // The value of a header set on this response, or nullopt (for tests and the access log).
  std::optional<std::string_view> find_header(std::string_view name) const;
  // What Content-Length says: the body's size (also for HEAD, where it is not sent).
  uint64_t content_length() const { return file ? file->length : body.size(); }
};

// 200 (or `status`) with a JSON body.
Response json_response(std::string body, unsigned status = 200);

// A 4xx/5xx the Hub's way: X-Error-Code and X-Error-Message headers (huggingface_hub types its
// exceptions by X-Error-Code) and a JSON body {"error": message}.
Response error_response(unsigned status, std::string_view code, std::string_view message);

// The status and X-Error-Code for a failure of the store or of validation, by its kind:
// not_found 404, conflict 409, permission 403, io and internal 500, anything else 400.
Response failure_response(const Failure& failure, std::string_view code_for_400 = "BadRequest");

// A header value made safe to send: control characters become spaces and bytes outside ASCII
// become '?', so a message quoting a client's input can neither split nor corrupt the header.
std::string header_safe(std::string_view text);

} // namespace kget::registry
