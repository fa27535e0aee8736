// A tiny HTTP/1.1 server on 127.0.0.1 for tests of the HTTP client: it records every request and
// answers each with what a handler returns. One thread per connection; keep-alive is honoured so
// that tests can count connections.
#pragma once

#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace kget::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct CannedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class LoopbackServer {
public:
  using Handler = std::function<CannedResponse(const ReceivedRequest&)>;

  explicit LoopbackServer(Handler handler) : m_handler(std::move(handler)) {
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (m_listener < 0 || ::bind(m_listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(m_listener, 16) != 0 ||
        ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("loopback server cannot listen");
    }
    m_port = ntohs(address.sin_port);
    m_acceptor = std::thread([this] { accept_loop(); });
  }

  ~LoopbackServer() {
    m_stop = true;
    m_acceptor.join();
    for (auto& thread : m_connections) {
      thread.join();
    }
    ::close(m_listener);
  }

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return m_port; }
  std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(m_port) + path;
  }
  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(m_mutex);
    return m_requests;
  }
  int connections() const { return m_connection_count; }

private:
  // Waits up to 50 ms for `fd` to become readable, so that the threads notice m_stop.
  bool readable(int fd) const {
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
  bool fill(int fd, std::string& buffer, size_t size) {
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

  bool read_head(int fd, std::string& buffer, size_t& head_end) {
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(fd, buffer, buffer.size() + 1)) {
        return false;
      }
    }
    return true;
  }

  static ReceivedRequest parse_head(const std::string& head) {
    ReceivedRequest request;
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t first = request_line.find(' ');
    size_t second = request_line.find(' ', first + 1);
    request.method = request_line.substr(0, first);
    request.target = request_line.substr(first + 1, second - first - 1);
    size_t position = line_end + 2;
    while (position < head.size()) {
      size_t end = head.find("\r\n", position);
      if (end == std::string::npos) {
        end = head.size();
      }
      std::string line = head.substr(position, end - position);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        size_t value_start = line.find_first_not_of(' ', colon + 1);
        request.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
      }
      position = end + 2;
    }
    return request;
  }

  static void send_all(int fd, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        return;
      }
      sent += static_cast<size_t>(n);
    }
  }

  void serve(int fd) {
    std::string buffer;
    while (!m_stop) {
      size_t head_end = 0;
      if (!read_head(fd, buffer, head_end)) {
        break;
      }
      ReceivedRequest request = parse_head(buffer.substr(0, head_end));
      buffer.erase(0, head_end + 4);
      if (request.header("expect") == "100-continue") {
        send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
      }
      std::string length_text = request.header("content-length");
      size_t length = length_text.empty() ? 0 : std::stoul(length_text);
      if (!fill(fd, buffer, length)) {
        break;
      }
      request.body = buffer.substr(0, length);
      buffer.erase(0, length);
      CannedResponse response = m_handler(request);
      bool head = request.method == "HEAD";
      {
        std::lock_guard lock(m_mutex);
        m_requests.push_back(std::move(request));
      }
      std::string text = "HTTP/1.1 " + std::to_string(response.status) + " Status\r\n";
      for (const auto& [name, value] : response.headers) {
        text += name + ": " + value + "\r\n";
      }
      text += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
      send_all(fd, head ? text : text + response.body);
    }
    ::close(fd);
  }

  Handler m_handler;
  int m_listener = -1;
  uint16_t m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_connection_count{0};
  std::thread m_acceptor;
  std::vector<std::thread> m_connections; // only the acceptor thread adds to it
  mutable std::mutex m_mutex;
  std::vector<ReceivedRequest> m_requests;
};

} // namespace kget::testing
