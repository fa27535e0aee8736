// A small HTTP client over libcurl: one request at a time on one reused connection (HTTP/2 where
// the server offers it over TLS), bodies sent from memory or streamed from a file, responses
// collected into a bounded string, or downloads streamed into a sink with retries and resume.
// Redirects are followed only when a request asks (always for downloads), and the bearer token
// never goes to another host than the one it was given for. docs/http.md describes the policy.
#pragma once

#include "util/result.hpp"
#include "util/sink.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
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

// When GET and HEAD are tried again: after a transfer that broke (connection refused or reset, a
// timeout, a body shorter than announced) and after 408, 429, 500, 502, 503 and 504.
struct RetryPolicy {
  // Requests made in all, the first included; 1 turns retries off.
  int max_attempts = 5;
  // The wait before the second attempt, doubled before each later one up to max_backoff; each
  // wait is drawn at random from its upper half so that many clients do not retry in step.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{8000};
  // A Retry-After the server sends is waited for instead of the backoff; one longer than this is
  // not waited for: the response (or, for a download, the failure) is returned at once.
  std::chrono::seconds max_retry_after{60};
};

// How the client waits between attempts; tests put a recorder here.
using SleepFunction = std::function<void(std::chrono::milliseconds)>;

struct ClientOptions {
  std::chrono::seconds connect_timeout{15};
  // A transfer slower than `low_speed_bytes` per second for `low_speed_time` is abandoned.
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{60};
  long max_redirects = 5;
  std::string user_agent; // default "kget/<version>"
  RetryPolicy retry;
  SleepFunction sleep; // default std::this_thread::sleep_for
};

// Bytes received so far (those of earlier attempts kept by a resume included) and the size of the
// whole body, 0 while unknown.
using ProgressCallback = std::function<void(uint64_t received, uint64_t total)>;

struct DownloadResult {
  long status = 0; // 200, or 206 when the last attempt resumed
  Headers headers; // of the last response
  std::string url; // the URL that answered, after redirects
  int attempts = 0;
  uint64_t bytes = 0; // the sink's size at the end: the whole body
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
  // (ErrorKind::io when the file to send cannot be read). GET and HEAD are retried as the
  // RetryPolicy says; when attempts run out, the last response or failure is returned.
  Result<Response> send(const Request& request);

  // GETs request.url (request.method, body, follow_redirects and max_response_body are not used)
  // and streams the body into `sink`, following redirects. The body is asked for from
  // sink.size() on (`Range: bytes=<size>-` when that is not 0), so a broken transfer resumes
  // where it stopped; a server that answers the whole body instead has the sink restarted.
  // Failures: a 2xx never reached (ErrorKind::not_found for 404, permission for 401 and 403,
  // network otherwise, naming the status and the server's X-Error-Message), attempts run out
  // (network, naming their number and the last error), or the sink's own failure, unchanged.
  Result<DownloadResult> download(const Request& request, util::ByteSink& sink,
                                  const ProgressCallback& progress = {});

private:
  struct State;
  explicit Client(std::unique_ptr<State> state);
  std::unique_ptr<State> m_state;
};

} // namespace kget::http
