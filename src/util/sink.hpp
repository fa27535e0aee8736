// Where downloaded bytes go. The HTTP layer writes into a sink and, when it resumes a broken
// transfer, asks the server for the bytes after size(); when the server ignores the Range and
// sends the whole body again, it calls restart() first. The cache's blob writer is a sink that
// hashes as it writes.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <string_view>

namespace kget::util {

class ByteSink {
public:
  virtual ~ByteSink() = default;
  // Bytes accepted so far.
  virtual uint64_t size() const = 0;
  virtual Result<void> write(std::string_view data) = 0;
  // Forget everything written; size() becomes 0.
  virtual Result<void> restart() = 0;
};

} // namespace kget::util
