// 8 float lanes in AVX2 + FMA + F16C registers. Include only from translation units compiled with
// -mavx2 -mfma -mf16c (the *_avx2.cpp files), which the dispatcher calls only when CPUID says the
// CPU has those extensions.
//
// Why the ISA files include nothing but this header, storage_types.h and the algorithm templates:
// an inline function with external linkage (a non-template inline function, a std:: template
// instantiated with the same arguments) compiled here would contain AVX2 instructions, and the
// linker keeps one copy of it for the whole library, maybe this one, so that the scalar path
// could end up calling AVX2 code on a CPU without AVX2. Everything here is a member of Avx2 or a
// template over it, so its symbols are distinct from every other path's.
#pragma once

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "simd_avx2.h needs -mavx2 -mfma -mf16c"
#endif

#include "storage_types.h"

#include <cstdint>
#include <immintrin.h>

namespace kget_kernels::simd {

struct Avx2 {
  using V = __m256;
  using M = __m256;
  static constexpr int kLanes = 8;

  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float value) { return _mm256_set1_ps(value); }

  // Two vectors of 2 * kLanes consecutive elements. bfloat16 comes in another order: unpacking
  // 16 elements against zero within 128-bit lanes gives elements 0-3, 8-11 in `a` and 4-7, 12-15
  // in `b`, at one instruction per vector; store2's pack undoes exactly that. Elementwise code
  // and reductions do not care, and every operand of an op is loaded the same way.
  static void load2(const float* p, V& a, V& b) {
    a = _mm256_loadu_ps(p);
    b = _mm256_loadu_ps(p + kLanes);
  }
  static void load2(const f16_t* p, V& a, V& b) {
    a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    b = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kLanes)));
  }
  static void load2(const bf16_t* p, V& a, V& b) {
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    a = _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), bits));
    b = _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), bits));
  }
  static void store2(float* p, V a, V b) {
    _mm256_storeu_ps(p, a);
    _mm256_storeu_ps(p + kLanes, b);
  }
  static void store2(f16_t* p, V a, V b) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + kLanes),
                     _mm256_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT));
  }
  static void store2(bf16_t* p, V a, V b) {
    // packus within 128-bit lanes: [a0-3 b0-3 | a4-7 b4-7] = elements 0-7 | 8-15.
    const __m256i high_a = _mm256_srli_epi32(bf16_rounded_bits(a), 16);
    const __m256i high_b = _mm256_srli_epi32(bf16_rounded_bits(b), 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_packus_epi32(high_a, high_b));
  }
  static V round_to(const float*, V v) { return v; }
  static V round_to(const f16_t*, V v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static V round_to(const bf16_t*, V v) {
    return _mm256_castsi256_ps(
        _mm256_and_si256(bf16_rounded_bits(v), _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }

  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  // vminps/vmaxps return the second operand when either is NaN.
  static V min_keep_nan(V x, V bound) { return _mm256_min_ps(bound, x); }
  static V max_keep_nan(V x, V bound) { return _mm256_max_ps(bound, x); }
  static M less(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M greater(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static V select(M mask, V if_true, V if_false) {
    return _mm256_blendv_ps(if_false, if_true, mask);
  }

  // 2^n from `shifted` = n + 127 + 1.5 * 2^23 (see simd_scalar.h).
  static V pow2_of_shifted(V shifted) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(shifted), 23));
  }
  static V square_error(V a, V square) { return _mm256_fmsub_ps(a, a, square); }
  static float reduce_add(V v) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
  }

private:
  // float bits rounded to nearest even at bit 16 (bfloat16 in the high half). No NaN check, on
  // purpose: in a bfloat16 op every NaN comes from a bfloat16 input or is the default NaN
  // (0xffc00000), and arithmetic keeps its payload, so its low 16 bits are 0 and adding at most
  // 0x8000 cannot carry into the high half. tests/kernels checks NaN payloads of all kinds.
  static __m256i bf16_rounded_bits(V v) {
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    return _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
  }
};

} // namespace kget_kernels::simd
