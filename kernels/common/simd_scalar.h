// The "vector" of the portable path: one float lane. The kernels' algorithms are templates over a
// vector type S (this, simd::Avx2, simd::Avx512) with the same static functions, so every path
// runs the same arithmetic, lane for lane. Baseline code only: it uses dtype.h.
#pragma once

#include "dtype.h"
#include "storage_types.h"

#include <cstdint>

namespace kget_kernels::simd {

struct Scalar {
  using V = float;
  using M = bool;
  static constexpr int kLanes = 1;

  static V zero() { return 0.0f; }
  static V set1(float value) { return value; }

  // Two vectors of consecutive elements. The vector paths may load them in another order (see
  // simd_avx2.h); store2 writes them back in the order load2 read, so elementwise code is
  // unaffected. Here the order is plain.
  static void load2(const float* p, V& a, V& b) {
    a = p[0];
    b = p[1];
  }
  static void load2(const f16_t* p, V& a, V& b) {
    a = f16_to_f32(p[0].bits);
    b = f16_to_f32(p[1].bits);
  }
  static void load2(const bf16_t* p, V& a, V& b) {
    a = bf16_to_f32(p[0].bits);
    b = bf16_to_f32(p[1].bits);
  }
  static void store2(float* p, V a, V b) {
    p[0] = a;
    p[1] = b;
  }
  static void store2(f16_t* p, V a, V b) {
    p[0].bits = f32_to_f16(a);
    p[1].bits = f32_to_f16(b);
  }
  static void store2(bf16_t* p, V a, V b) {
    p[0].bits = f32_to_bf16(a);
    p[1].bits = f32_to_bf16(b);
  }
  // v rounded to the precision of the element type T (the pointer only selects the overload).
  static V round_to(const float*, V v) { return v; }
  static V round_to(const f16_t*, V v) { return f16_to_f32(f32_to_f16(v)); }
  static V round_to(const bf16_t*, V v) { return bf16_to_f32(f32_to_bf16(v)); }

  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  // a * b + c. Two roundings here: a fused multiply-add in software would cost far more than it
  // gains on a CPU without one; the vector paths fuse.
  static V fma(V a, V b, V c) { return a * b + c; }
  static V abs(V a) { return bits_float(float_bits(a) & 0x7fffffffu); }
  // min/max that return `x` when it is NaN, so that clamping keeps NaN.
  static V min_keep_nan(V x, V bound) { return bound < x ? bound : x; }
  static V max_keep_nan(V x, V bound) { return bound > x ? bound : x; }
  static M less(V a, V b) { return a < b; }
  static M greater(V a, V b) { return a > b; }
  static V select(M mask, V if_true, V if_false) { return mask ? if_true : if_false; }

  // 2^n from `shifted` = n + 127 + 1.5 * 2^23 (float), n an integer in [-126, 128]: the low
  // mantissa bits hold n + 127, which shifted into the exponent field give 2^n (+inf for 128).
  static V pow2_of_shifted(V shifted) { return bits_float(float_bits(shifted) << 23); }
  // a * a - square exactly, for square = a * a rounded (Dekker's product, here via double).
  static V square_error(V a, V square) {
    return static_cast<float>(static_cast<double>(a) * a - static_cast<double>(square));
  }
  static float reduce_add(V v) { return v; }
};

} // namespace kget_kernels::simd
