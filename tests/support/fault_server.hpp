// An HTTP/1.1 server on a loopback address that misbehaves on cue, for tests of the HTTP client
// and of everything that downloads. It either serves files from memory (ETag, Content-Length,
// Accept-Ranges, single ranges `bytes=a-` and `bytes=a-b`) or forwards every request to an
// upstream server on 127.0.0.1 (a real kget-registry), and in both modes applies a queue of
// scripted faults: each is matched to the Nth request or to targets containing a substring, and
// used up after `times` requests. Every request is recorded, headers and all.
//
//   FaultServer server;                                   // or FaultServer("127.0.0.2")
//   server.serve_file("/blob", bytes);
//   server.add_fault(Fault::drop_after(1000).on_request(1));
//   server.add_fault(Fault::answer(503, "1").for_target("/api/"));
//   ... server.url("/blob") ... server.requests()[1].header("range") ...
//
// One thread per connection; keep-alive is honoured (a fault that closes the connection ends it).
#pragma once

#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <linux/sockios.h>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace kget::testing {

using HeaderFields = std::vector<std::pair<std::string, std::string>>;

struct RecordedRequest {
  int number = 0; // 1 for the first request the server received
  std::string method;
  std::string target;
  HeaderFields headers; // names in lower case, in the order received
  std::string body;

  // The first field named `lower_name`, or "" when there is none.
  std::string header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) {
        return value;
      }
    }
    return "";
  }
  bool has_header(std::string_view lower_name) const {
    for (const auto& field : headers) {
      if (field.first == lower_name) {
        return true;
      }
    }
    return false;
  }
};

struct Fault {
  enum class Kind {
    drop,         // send `offset` body bytes, then reset the connection (RST)
    truncate,     // send `offset` body bytes, then close it cleanly (FIN)
    corrupt,      // flip the body byte at `offset` (of this response's body)
    status,       // answer `status` (with Retry-After when given) instead of the request
    stall,        // wait `delay` after `offset` body bytes (0: before the body), then go on
    redirect,     // answer 302 with Location: `location` + the request's target
    ignore_range, // answer 200 with the whole body, whatever Range asked for
  };

  Kind kind = Kind::status;
  int nth = 0;                 // only the Nth request (1-based); 0: any
  std::string target_contains; // only targets containing this; "": any
  int times = 1;               // how many matching requests get it; 0: all of them
  uint64_t offset = 0;
  int status = 0;
  std::string retry_after;
  HeaderFields headers; // further fields of a status answer
  std::chrono::milliseconds delay{0};
  std::string location;

  static Fault drop_after(uint64_t body_bytes) { return make(Kind::drop, body_bytes); }
  static Fault truncate_after(uint64_t body_bytes) { return make(Kind::truncate, body_bytes); }
  static Fault corrupt_at(uint64_t body_offset) { return make(Kind::corrupt, body_offset); }
  static Fault answer(int status_code, std::string retry_after_value = "") {
    Fault fault = make(Kind::status, 0);
    fault.status = status_code;
    fault.retry_after = std::move(retry_after_value);
    return fault;
  }
  static Fault stall(std::chrono::milliseconds how_long, uint64_t at_body_offset = 0) {
    Fault fault = make(Kind::stall, at_body_offset);
    fault.delay = how_long;
    return fault;
  }
  // `base_url` like "http://127.0.0.2:4321" (FaultServer::base_url()).
  static Fault redirect_to(std::string base_url) {
    Fault fault = make(Kind::redirect, 0);
    fault.location = std::move(base_url);
    return fault;
  }
  static Fault ignore_range() { return make(Kind::ignore_range, 0); }

  Fault on_request(int n) const {
    return with([&](Fault& f) { f.nth = n; });
  }
  Fault for_target(std::string part) const {
    return with([&](Fault& f) { f.target_contains = std::move(part); });
  }
  Fault repeat(int count) const {
    return with([&](Fault& f) { f.times = count; });
  }
  Fault always() const { return repeat(0); }
  Fault with_header(std::string name, std::string value) const {
    return with([&](Fault& f) { f.headers.emplace_back(std::move(name), std::move(value)); });
  }

  bool matches(const RecordedRequest& request) const {
    return (nth == 0 || nth == request.number) &&
           (target_contains.empty() || request.target.find(target_contains) != std::string::npos);
  }

private:
  static Fault make(Kind kind, uint64_t offset) {
    Fault fault;
    fault.kind = kind;
    fault.offset = offset;
    return fault;
  }
  template <class Change>
  Fault with(Change change) const {
    Fault copy = *this;
    change(copy);
    return copy;
  }
};

class FaultServer {
public:
  explicit FaultServer(std::string host = "127.0.0.1") : m_host(std::move(host)) {
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    socklen_t length = sizeof address;
    if (m_listener < 0 || ::inet_pton(AF_INET, m_host.c_str(), &address.sin_addr) != 1 ||
        ::bind(m_listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(m_listener, 64) != 0 ||
        ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("fault server cannot listen on " + m_host);
    }
    m_port = ntohs(address.sin_port);
    m_acceptor = std::thread([this] { accept_loop(); });
  }

  ~FaultServer() {
    m_stop = true;
    m_acceptor.join();
    for (auto& thread : m_connections) {
      thread.join();
    }
    ::close(m_listener);
  }

  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  uint16_t port() const { return m_port; }
  std::string base_url() const { return "http://" + m_host + ":" + std::to_string(m_port); }
  std::string url(std::string_view target) const { return base_url() + std::string(target); }

  void serve_file(std::string path, std::string bytes) {
    std::lock_guard lock(m_mutex);
    m_files[std::move(path)] = std::move(bytes);
  }
  // From now on every request goes to 127.0.0.1:`port` instead of the files.
  void forward_to(uint16_t upstream_port) { m_upstream_port = upstream_port; }
  void add_fault(Fault fault) {
    std::lock_guard lock(m_mutex);
    m_faults.push_back(std::move(fault));
  }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(m_mutex);
    return m_requests;
  }
  int connections() const { return m_connection_count; }

  // The ETag served for `bytes`: a quoted FNV-1a hash, stable across runs.
  static std::string etag_of(std::string_view bytes) {
    uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : bytes) {
      hash = (hash ^ c) * 1099511628211ull;
    }
    char text[19];
    std::snprintf(text, sizeof text, "\"%016llx\"", static_cast<unsigned long long>(hash));
    return text;
  }

private:
  struct Reply {
    int status = 200;
    HeaderFields headers; // Content-Length is added from body unless present
    std::string body;
  };

  static const char* reason(int status) {
    switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 302:
      return "Found";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
    }
  }

  // Waits up to 50 ms for `fd` to become readable, so that the threads notice m_stop.
  static bool readable(int fd) {
    pollfd entry{fd, POLLIN, 0};
    return ::poll(&entry, 1, 50) > 0;
  }

  void accept_loop() {
    while (!m_stop) {
      if (!readable(m_listener)) {
        continue;
      }
      int fd = ::accept4(m_listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        ++m_connection_count;
        m_connections.emplace_back([this, fd] { serve(fd); });
      }
    }
  }

  // Reads into `buffer` until it holds `size` bytes; false when the peer closed or we stop.
  bool fill(int fd, std::string& buffer, size_t size) const {
    char chunk[65536];
    while (buffer.size() < size) {
      if (m_stop) {
        return false;
      }
      if (!readable(fd)) {
        continue;
      }
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) {
        return false;
      }
      buffer.append(chunk, static_cast<size_t>(got));
    }
    return true;
  }

  // Reads the head of a message (request or response) up to its blank line.
  bool read_head(int fd, std::string& buffer, std::string& head) const {
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(fd, buffer, buffer.size() + 1)) {
        return false;
      }
    }
    head = buffer.substr(0, end);
    buffer.erase(0, end + 4);
    return true;
  }

  static std::string lower(std::string text) {
    for (char& c : text) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
  }

  // The first line, and the fields after it with names in lower case.
  static std::string parse_fields(const std::string& head, HeaderFields& fields) {
    size_t line_end = std::min(head.find("\r\n"), head.size());
    size_t position = line_end + 2;
    while (position < head.size()) {
      size_t end = std::min(head.find("\r\n", position), head.size());
      std::string line = head.substr(position, end - position);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t value_start = line.find_first_not_of(' ', colon + 1);
        fields.emplace_back(lower(line.substr(0, colon)),
                            value_start == std::string::npos ? "" : line.substr(value_start));
      }
      position = end + 2;
    }
    return head.substr(0, line_end);
  }

  static bool send_all(int fd, std::string_view data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Records the request and takes the first fault that matches it off the queue.
  std::optional<Fault> record(RecordedRequest& request) {
    std::lock_guard lock(m_mutex);
    request.number = static_cast<int>(m_requests.size()) + 1;
    m_requests.push_back(request);
    for (auto it = m_faults.begin(); it != m_faults.end(); ++it) {
      if (it->matches(request)) {
        Fault fault = *it;
        if (it->times > 0 && --it->times == 0) {
          m_faults.erase(it);
        }
        return fault;
      }
    }
    return std::nullopt;
  }

  void serve(int fd) {
    std::string buffer;
    while (!m_stop) {
      std::string head;
      if (!read_head(fd, buffer, head)) {
        break;
      }
      RecordedRequest request;
      std::string request_line = parse_fields(head, request.headers);
      size_t first = request_line.find(' ');
      size_t second = request_line.find(' ', first + 1);
      request.method = request_line.substr(0, first);
      request.target = request_line.substr(first + 1, second - first - 1);
      if (lower(request.header("expect")) == "100-continue") {
        send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
      }
      std::string length_text = request.header("content-length");
      size_t length = length_text.empty() ? 0 : std::stoul(length_text);
      if (!fill(fd, buffer, length)) {
        break;
      }
      request.body = buffer.substr(0, length);
      buffer.erase(0, length);
      std::optional<Fault> fault = record(request);
      if (!respond(fd, request, reply_to(request, fault), fault) ||
          lower(request.header("connection")) == "close") {
        break;
      }
    }
    ::close(fd);
  }

  Reply reply_to(const RecordedRequest& request, const std::optional<Fault>& fault) {
    bool ignore_range = fault && fault->kind == Fault::Kind::ignore_range;
    if (fault && fault->kind == Fault::Kind::status) {
      Reply reply{fault->status, fault->headers, "{\"error\":\"scripted fault\"}"};
      if (!fault->retry_after.empty()) {
        reply.headers.emplace_back("Retry-After", fault->retry_after);
      }
      return reply;
    }
    if (fault && fault->kind == Fault::Kind::redirect) {
      return {302, {{"Location", fault->location + request.target}}, ""};
    }
    if (m_upstream_port != 0) {
      return forward(request, ignore_range);
    }
    return from_files(request, ignore_range);
  }

  Reply from_files(const RecordedRequest& request, bool ignore_range) {
    std::string path = request.target.substr(0, request.target.find('?'));
    std::string bytes;
    {
      std::lock_guard lock(m_mutex);
      auto it = m_files.find(path);
      if (it == m_files.end()) {
        return {
            404,
            {{"X-Error-Code", "EntryNotFound"}, {"X-Error-Message", path + " is not served here"}},
            "{\"error\":\"not found\"}"};
      }
      bytes = it->second;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      return {405, {{"Allow", "GET, HEAD"}}, ""};
    }
    HeaderFields headers{{"ETag", etag_of(bytes)},
                         {"Accept-Ranges", "bytes"},
                         {"Content-Type", "application/octet-stream"}};
    std::string range = request.header("range");
    uint64_t first = 0;
    uint64_t last = 0;
    if (ignore_range || !parse_range(range, bytes.size(), first, last)) {
      return {200, headers, std::move(bytes)};
    }
    if (first >= bytes.size()) {
      headers.emplace_back("Content-Range", "bytes */" + std::to_string(bytes.size()));
      return {416, headers, ""};
    }
    headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                              std::to_string(last) + "/" +
                                              std::to_string(bytes.size()));
    return {206, headers, bytes.substr(first, last - first + 1)};
  }

  // "bytes=a-" or "bytes=a-b"; other forms (suffixes, lists) are ignored and get the whole body.
  static bool parse_range(const std::string& range, uint64_t size, uint64_t& first,
                          uint64_t& last) {
    if (range.rfind("bytes=", 0) != 0 || range.find(',') != std::string::npos) {
      return false;
    }
    std::string spec = range.substr(6);
    size_t dash = spec.find('-');
    if (dash == std::string::npos || dash == 0) {
      return false;
    }
    try {
      first = std::stoull(spec.substr(0, dash));
      last = dash + 1 == spec.size() ? size - 1 : std::stoull(spec.substr(dash + 1));
    } catch (const std::exception&) {
      return false;
    }
    if (last < first && first < size) {
      return false;
    }
    last = std::min(last, size == 0 ? 0 : size - 1);
    return true;
  }

  // Sends the request to the upstream server on a connection of its own and reads its answer.
  Reply forward(const RecordedRequest& request, bool ignore_range) {
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(m_upstream_port);
    if (upstream < 0 ||
        ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      if (upstream >= 0) {
        ::close(upstream);
      }
      return {502, {}, "{\"error\":\"the upstream server cannot be reached\"}"};
    }
    std::string text = request.method + " " + request.target + " HTTP/1.1\r\n";
    for (const auto& [name, value] : request.headers) {
      if (name == "connection" || name == "expect" || name == "keep-alive" ||
          name == "content-length" || (ignore_range && name == "range")) {
        continue;
      }
      text += name + ": " + value + "\r\n";
    }
    text += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    text += "Connection: close\r\n\r\n" + request.body;
    send_all(upstream, text);
    std::string buffer;
    std::string head;
    Reply reply{502, {}, "{\"error\":\"the upstream server sent no answer\"}"};
    if (read_head(upstream, buffer, head)) {
      reply = read_upstream_reply(upstream, head, buffer, request.method == "HEAD");
    }
    ::close(upstream);
    return reply;
  }

  // Reads the answer's body as its head frames it: Content-Length, chunks, or up to the close.
  Reply read_upstream_reply(int upstream, const std::string& head, std::string& buffer,
                            bool head_only) {
    HeaderFields fields;
    std::string status_line = parse_fields(head, fields);
    Reply reply;
    reply.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
    bool chunked = false;
    std::optional<size_t> length;
    for (auto& [name, value] : fields) {
      if (name == "transfer-encoding") {
        chunked = lower(value).find("chunked") != std::string::npos;
      } else if (name == "content-length" && !head_only) {
        length = std::stoul(value);
      } else if (name != "connection" && name != "keep-alive") {
        reply.headers.emplace_back(name, value);
      }
    }
    if (head_only || reply.status == 204 || reply.status == 304) {
      return reply;
    }
    if (chunked) {
      reply.body = read_chunks(upstream, buffer);
    } else if (length) {
      fill(upstream, buffer, *length);
      reply.body = buffer.substr(0, *length);
    } else {
      while (fill(upstream, buffer, buffer.size() + 1)) {
      }
      reply.body = std::move(buffer);
    }
    return reply;
  }

  std::string read_chunks(int upstream, std::string& buffer) const {
    std::string body;
    size_t line_end;
    while (true) {
      while ((line_end = buffer.find("\r\n")) == std::string::npos) {
        if (!fill(upstream, buffer, buffer.size() + 1)) {
          return body;
        }
      }
      size_t size = std::stoul(buffer.substr(0, line_end), nullptr, 16);
      if (size == 0) {
        return body; // trailers, if any, are not needed
      }
      if (!fill(upstream, buffer, line_end + 2 + size + 2)) {
        return body;
      }
      body += buffer.substr(line_end + 2, size);
      buffer.erase(0, line_end + 2 + size + 2);
    }
  }

  // Sleeps in small steps so that the destructor does not wait for a long stall.
  void pause(std::chrono::milliseconds delay) const {
    auto until = std::chrono::steady_clock::now() + delay;
    while (!m_stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Resets the connection once what was sent has reached the peer, so the peer reads those bytes
  // and then ECONNRESET (unsent bytes would be discarded with the reset).
  void reset(int fd) const {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int unsent = 0;
    while (::ioctl(fd, SIOCOUTQ, &unsent) == 0 && unsent > 0 &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    linger abortive{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  }

  // Writes the reply as the fault says; false when the connection is to be closed.
  bool respond(int fd, const RecordedRequest& request, Reply reply,
               const std::optional<Fault>& fault) {
    std::string text =
        "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
    bool has_length = false;
    for (const auto& [name, value] : reply.headers) {
      text += name + ": " + value + "\r\n";
      has_length = has_length || lower(name) == "content-length";
    }
    if (!has_length) {
      text += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    }
    text += "\r\n";
    if (!send_all(fd, text)) {
      return false;
    }
    if (request.method == "HEAD") {
      return true;
    }
    std::string& body = reply.body;
    Fault::Kind kind = fault ? fault->kind : Fault::Kind::ignore_range;
    uint64_t offset = fault ? std::min<uint64_t>(fault->offset, body.size()) : 0;
    if (kind == Fault::Kind::corrupt && fault->offset < body.size()) {
      body[offset] = static_cast<char>(body[offset] ^ 0xff);
    }
    if (kind == Fault::Kind::stall) {
      if (!send_all(fd, std::string_view(body).substr(0, offset))) {
        return false;
      }
      pause(fault->delay);
      return send_all(fd, std::string_view(body).substr(offset));
    }
    if (kind == Fault::Kind::drop || kind == Fault::Kind::truncate) {
      send_all(fd, std::string_view(body).substr(0, offset));
      if (kind == Fault::Kind::drop) {
        reset(fd);
      }
      return false;
    }
    return send_all(fd, body);
  }

  std::string m_host;
  int m_listener = -1;
  uint16_t m_port = 0;
  std::atomic<uint16_t> m_upstream_port{0};
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_connection_count{0};
  std::thread m_acceptor;
  std::vector<std::thread> m_connections; // only the acceptor thread adds to it
  mutable std::mutex m_mutex;
  std::map<std::string, std::string> m_files;
  std::deque<Fault> m_faults;
  std::vector<RecordedRequest> m_requests;
};

} // namespace kget::testing
