// The last partial pair of vectors of a row (fewer than 2 * S::kLanes elements): copied into a
// zero-padded buffer of one full pair, so that loops need no masked loads and never touch
// memory past the row. A template over S, like all code the ISA files include (simd_avx2.h).
#pragma once

#include <cstdint>
#include <cstring>

namespace kget_kernels {

template <class S, class T>
struct TailBuffer {
  static constexpr int64_t kSize = 2 * S::kLanes;
  T data[kSize];

  TailBuffer() { std::memset(data, 0, sizeof data); }
  TailBuffer(const T* source, int64_t count) : TailBuffer() {
    std::memcpy(data, source, static_cast<size_t>(count) * sizeof(T));
  }
  void copy_to(T* destination, int64_t count) const {
    std::memcpy(destination, data, static_cast<size_t>(count) * sizeof(T));
  }
};

} // namespace kget_kernels
