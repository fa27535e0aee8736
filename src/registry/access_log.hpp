// One line per request, in a format scripts may rely on (docs/registry.md, "Access log"):
//   127.0.0.1 "GET /api/kernels/acme/relu/refs HTTP/1.1" 200 123 0.4ms
// client address, the request line as received (bytes outside printable ASCII, '"' and '\' as
// \xNN, so is a space), the status (- when the server never answered), the body bytes the response
// carried (0 for HEAD and 304), and the time from the request line to the end of the exchange. A
// request that did not complete normally gets one more field, `aborted:<reason>`.
#pragma once

#include "util/result.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace kget::registry {

struct AccessEntry {
  std::string client;
  std::string method;
  std::string target;
  std::string version;
  unsigned status = 0; // 0: no response of the server's own (e.g. a header libmicrohttpd refused)
  uint64_t bytes = 0;
  std::chrono::nanoseconds duration{0};
  std::string aborted; // empty, or why the exchange ended early: client, timeout, error, shutdown
};

std::string format_access_line(const AccessEntry& entry);

class AccessLog {
public:
  // "-" is standard output, "" standard error, anything else a file opened for appending.
  static Result<std::unique_ptr<AccessLog>> open(const std::string& destination);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Thread-safe; flushed line by line so that a reader (a benchmark counting requests) sees it.
  void write(const AccessEntry& entry);

private:
  AccessLog(std::FILE* file, bool owned) : m_file(file), m_owned(owned) {}
  std::FILE* m_file;
  bool m_owned;
  std::mutex m_mutex;
};

} // namespace kget::registry
