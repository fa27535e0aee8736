// A small HTTP client over libcurl: one request at a time on one reused connection (HTTP/2 where
// the server offers it over TLS), bodies sent from memory or streamed from a file, responses
// collected into a bounded string. Redirects are followed only when a request asks, and the
// bearer token never goes to another host than the one it was given for.
#pragma once

#include "util/result.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kget::http {

// Header fields in the order received; names compare case-insensitively (RFC 9110 §5.1).
class Headers {
public:
  void add(std::string name, std::string value);
  // The value of the first field named `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return m_fields; }
  void clear() { m_fields.clear(); }

private:
  std::vector<std::pair<std::string, std::string>> m_fields;
};

// A request body streamed from a file: read as it is sent, never held whole in memory. `size` is
// the Content-Length announced; the file must still have that many bytes when it is sent.
struct FileBody {
  std::filesystem::path path;
  uint64_t size = 0;
};

// Nothing, bytes in memory, or a file.
using Body = std::variant<std::monostate, std::string, FileBody>;

struct Request {
  std::string method = "GET";
  std::string url;
  // Extra fields, e.g. {"Content-Type", "application/json"}.
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as `Authorization: Bearer <token>` when not empty, only to the host of `url`.
  std::string bearer_token;
  Body body;
  // Off by default: a 3xx comes back as the response, Location and all.
  bool follow_redirects = false;
  // A longer response body fails the request (ErrorKind::network) rather than filling memory.
  size_t max_response_body = 16u << 20;
};

struct Response {
  long status = 0;
  Headers headers;
  std::string body;
  std::string url; // the URL that answered (differs from the request's after a redirect)
};

struct ClientOptions {
  std::chrono::seconds connect_timeout{15};
  // A transfer slower than `low_speed_bytes` per second for `low_speed_time` is abandoned.
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{60};
  long max_redirects = 5;
  std::string user_agent; // default "kget/<version>"
};

// One libcurl easy handle, reused so that consecutive requests to a host share its connection.
// Not thread-safe: one Client per thread.
class Client {
public:
  static Result<Client> create(ClientOptions options = {});
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Any status is a response; only a transfer that fails (cannot connect, times out, the body is
  // too long, the file cannot be read) is a failure, ErrorKind::network naming the method and URL
  // (ErrorKind::io when the file to send cannot be read).
  Result<Response> send(const Request& request);

private:
  struct State;
  explicit Client(std::unique_ptr<State> state);
  std::unique_ptr<State> m_state;
};

} // namespace kget::http
