// What kget-registry is told on its command line (docs/registry.md lists the options), and the
// parsers for the option values that are more than a number.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kget::registry {

// How libmicrohttpd's worker threads wait for sockets. epoll is the default: with 256
// connections serving large files it moved 20-40% more bytes than poll(2) in bench/registry_wrk.sh
// (docs/benchmarks.md). Its cost: libmicrohttpd 0.9.75's edge-triggered loop can miss a client's
// FIN that arrives together with the last bytes of a request body (a short read clears its
// read-ready flag, and no new edge comes), so a client that disconnects mid-upload is noticed
// only at the idle timeout; nothing is stored either way. poll(2) notices at once.
enum class EventLoop { poll, epoll };

struct Config {
  std::filesystem::path root;
  std::string listen = "127.0.0.1:8080"; // HOST:PORT; port 0 picks a free one
  // The base of absolute URLs the server hands out (tree pagination). Empty: http:// and the
  // request's Host header, else the listening address.
  std::string public_url;
  // Tokens accepted for pushes (and, with private_reads, for reads). Pushes are refused when
  // push_enabled is false (no --token-file).
  std::vector<std::string> tokens;
  bool push_enabled = false;
  bool private_reads = false;
  std::set<std::string> trusted_orgs;
  uint64_t max_upload_size = uint64_t{4} << 30;
  unsigned threads = 1;
  EventLoop event_loop = EventLoop::epoll;
  unsigned max_connections = 1024;
  unsigned idle_timeout_s = 60;
  unsigned request_timeout_s = 300;
  unsigned shutdown_grace_s = 10;
  size_t tree_page_size = 1000;
  // libmicrohttpd's memory per connection, which bounds the request line and headers.
  size_t connection_memory = 64 * 1024;
};

// The largest JSON body a push route reads (blobs/missing, versions).
constexpr uint64_t k_max_json_body = 16u << 20;
// How much of a body the server still reads, and throws away, after deciding to refuse it, so that
// the client gets the answer rather than a connection reset; past this the connection is dropped.
constexpr uint64_t k_max_drain = 64u << 20;

// "4G", "512M", "64K", "1000": bytes, the suffixes being powers of 1024 (case-insensitive, an
// optional trailing "B" or "iB" accepted). ErrorKind::invalid_setting names `option`.
Result<uint64_t> parse_byte_size(std::string_view option, std::string_view text);

// One token per line; blank lines and lines starting with '#' ignored, surrounding spaces
// trimmed. A file that cannot be read or holds no token is an error (ErrorKind::invalid_setting),
// since a server that would refuse every push is not what anyone starting it with a token file
// meant.
Result<std::vector<std::string>> read_token_file(const std::filesystem::path& path);

// The host and port of --listen: "127.0.0.1:8080", "[::1]:0", "localhost:9000".
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view text);

// "poll" or "epoll" (--event-loop).
Result<EventLoop> parse_event_loop(std::string_view text);

// "http://host:port" or "https://host/prefix" without a trailing '/'; invalid_setting otherwise.
Result<std::string> parse_public_url(std::string_view text);

} // namespace kget::registry
