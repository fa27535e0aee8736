// Element types as the kernels store them in memory.
//
// Types only, no functions: the instruction-set-specific translation units (*_avx2.cpp,
// *_avx512.cpp) include this header, and an inline function defined here would be compiled once per
// instruction set. The linker keeps one copy of an inline function, possibly the AVX-512 one, and
// the scalar path would then run AVX-512 instructions on a CPU without them (see simd_avx2.h).
#pragma once

#include <cstdint>

namespace kget_kernels {

// The floating-point dtypes the CPU kernels implement. The values index per-dtype tables.
enum class DType : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };
constexpr int kNumDTypes = 3;

// IEEE binary16 and bfloat16 elements as raw bits. Distinct types so that overloads and templates
// select the right conversion; layout-compatible with uint16_t.
struct f16_t {
  uint16_t bits;
};
struct bf16_t {
  uint16_t bits;
};

} // namespace kget_kernels
