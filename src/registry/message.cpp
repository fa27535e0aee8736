#include "registry/message.hpp"

#include "util/strings.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

namespace kget::registry {

using json = nlohmann::json;

std::optional<std::string_view> Request::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  if (it == headers.end()) {
    return std::nullopt;
  }
  return std::string_view(it->second);
}

std::optional<std::string_view> Request::query_value(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> Request::content_length() const {
  auto text = header("content-length");
  if (!text) {
    return std::nullopt;
  }
  std::string_view value = util::trim(*text);
  uint64_t length = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (error != std::errc() || end != value.data() + value.size() || value.empty()) {
    return std::nullopt; // libmicrohttpd has already refused a malformed Content-Length
  }
  return length;
}

Response& Response::add_header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::optional<std::string_view> Response::find_header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (util::to_lower(key) == util::to_lower(name)) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

Response json_response(std::string body, unsigned status) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.add_header("Content-Type", "application/json");
  return response;
}

std::string header_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += ' ';
    } else if (byte >= 0x80) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

Response error_response(unsigned status, std::string_view code, std::string_view message) {
  json body = {{"error", std::string(message)}};
  // The message may quote a client's bytes, which need not be UTF-8.
  Response response =
      json_response(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", status);
  response.add_header("X-Error-Code", std::string(code));
  response.add_header("X-Error-Message", header_safe(message));
  return response;
}

Response failure_response(const Failure& failure, std::string_view code_for_400) {
  switch (failure.kind) {
  case ErrorKind::not_found:
    return error_response(404, "NotFound", failure.message);
  case ErrorKind::conflict:
    return error_response(409, "Conflict", failure.message);
  case ErrorKind::permission:
    return error_response(403, "Forbidden", failure.message);
  case ErrorKind::io:
  case ErrorKind::internal:
    return error_response(500, "InternalError", failure.message);
  default:
    return error_response(400, code_for_400, failure.message);
  }
}

} // namespace kget::registry
