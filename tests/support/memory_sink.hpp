// A download sink holding the bytes in memory, for tests of the HTTP client; its write can be made
// to fail like a full disk.
#pragma once

#include "util/sink.hpp"

#include <optional>
#include <string>

namespace kget::testing {

class MemorySink : public util::ByteSink {
public:
  uint64_t size() const override { return data.size(); }
  Result<void> write(std::string_view bytes) override {
    if (fail_beyond && data.size() + bytes.size() > *fail_beyond) {
      return fail(ErrorKind::io, "cannot write blob.part: No space left on device");
    }
    data.append(bytes);
    return {};
  }
  Result<void> restart() override {
    data.clear();
    ++restarts;
    return {};
  }

  std::string data;
  int restarts = 0;
  std::optional<uint64_t> fail_beyond;
};

} // namespace kget::testing
