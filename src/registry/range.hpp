// The Range request header (RFC 9110 §14), as far as a download client needs it: one byte range,
// "a-b", "a-" or "-n". Anything else a server may ignore and answer with the whole file, which is
// what a multi-range request or a malformed header gets here.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kget::registry {

struct RangeChoice {
  enum class Kind { whole, partial, unsatisfiable };
  Kind kind = Kind::whole;
  uint64_t first = 0;  // partial: the first byte sent
  uint64_t length = 0; // partial: how many bytes
};

// What to send of a file of `size` bytes for the Range header `header` (nullopt: none).
RangeChoice choose_range(std::optional<std::string_view> header, uint64_t size);

} // namespace kget::registry
