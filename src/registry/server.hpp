// kget-registry's HTTP server: libmicrohttpd (docs/registry.md says why) in front of the Router.
// One poll (or epoll) loop per worker thread; files go out with sendfile(2); request bodies stream
// through the route's BodyReader as they arrive.
#pragma once

#include "registry/access_log.hpp"
#include "registry/config.hpp"
#include "registry/router.hpp"
#include "store/store.hpp"
#include "util/result.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

struct MHD_Daemon;

namespace kget::registry {

class Server {
public:
  // Binds config.listen, then starts serving `store`. Requests are logged to `log` (which must
  // outlive the server; nullptr: no access log).
  static Result<std::unique_ptr<Server>> start(Config config, store::Store store, AccessLog* log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const { return m_port; }
  // "http://127.0.0.1:8080", "http://[::1]:8080": the address actually bound.
  const std::string& url() const { return m_url; }

  // Stops accepting connections; requests under way, and further requests on connections
  // already open, are still served.
  void quiesce();
  // Waits until no request is in flight, at most `grace`; true when none is left.
  bool wait_idle(std::chrono::milliseconds grace) const;
  // Closes every connection and stops the threads. Also done by the destructor.
  void stop();

  // What libmicrohttpd's callbacks need; public only so that they can reach it.
  struct Callbacks;

private:
  Server() = default;

  std::unique_ptr<Router> m_router;
  AccessLog* m_log = nullptr;
  MHD_Daemon* m_daemon = nullptr;
  int m_listen_fd = -1;
  bool m_quiesced = false;
  uint16_t m_port = 0;
  std::string m_url;
  std::chrono::seconds m_request_timeout{300};
  std::atomic<int> m_in_flight{0};
};

} // namespace kget::registry
