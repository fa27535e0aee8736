// 16 float lanes in AVX-512 registers (F, BW, DQ, VL: x86-64-v4). Include only from translation
// units compiled with the AVX-512 flags (the *_avx512.cpp files); simd_avx2.h says why nothing
// else goes into them.
#pragma once

#if defined(KGET_KERNELS_AVX512_EMULATED)
// Test builds only (tests/kernels, "avx512-emulated"): SIMDe's portable AVX-512 on top of AVX2,
// so that this path's logic (lane orders, masks, packs) runs on a CPU without AVX-512. Never in a
// shipped library: kernels/CMakeLists.txt builds it as separate test libraries.
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#else
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) ||                   \
    !defined(__AVX512VL__)
#error "simd_avx512.h needs -mavx512f -mavx512bw -mavx512dq -mavx512vl"
#endif

// GCC 12's AVX-512 intrinsics read _mm512_undefined_*() values and warn about it once inlined
// (GCC bug 105593, fixed in 13); the warnings point into the header, so this silences only them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

#include "storage_types.h"

#include <cstdint>

namespace kget_kernels::simd {

struct Avx512 {
  using V = __m512;
  using M = __mmask16;
  static constexpr int kLanes = 16;

  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float value) { return _mm512_set1_ps(value); }

  // Two vectors of 2 * kLanes consecutive elements; bfloat16 in the unpacked order of
  // simd_avx2.h, per 128-bit lane.
  static void load2(const float* p, V& a, V& b) {
    a = _mm512_loadu_ps(p);
    b = _mm512_loadu_ps(p + kLanes);
  }
  static void load2(const f16_t* p, V& a, V& b) {
    a = widen_f16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    b = widen_f16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kLanes)));
  }
  static void load2(const bf16_t* p, V& a, V& b) {
    const __m512i bits = _mm512_loadu_si512(p);
    a = _mm512_castsi512_ps(_mm512_unpacklo_epi16(_mm512_setzero_si512(), bits));
    b = _mm512_castsi512_ps(_mm512_unpackhi_epi16(_mm512_setzero_si512(), bits));
  }
  static void store2(float* p, V a, V b) {
    _mm512_storeu_ps(p, a);
    _mm512_storeu_ps(p + kLanes, b);
  }
  static void store2(f16_t* p, V a, V b) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow_f16(a));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + kLanes), narrow_f16(b));
  }
  static void store2(bf16_t* p, V a, V b) {
    const __m512i high_a = _mm512_srli_epi32(bf16_rounded_bits(a), 16);
    const __m512i high_b = _mm512_srli_epi32(bf16_rounded_bits(b), 16);
    _mm512_storeu_si512(p, _mm512_packus_epi32(high_a, high_b));
  }
  static V round_to(const float*, V v) { return v; }
  static V round_to(const f16_t*, V v) { return widen_f16(narrow_f16(v)); }
  static V round_to(const bf16_t*, V v) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(bf16_rounded_bits(v), _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }

  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  static V min_keep_nan(V x, V bound) { return _mm512_min_ps(bound, x); }
  static V max_keep_nan(V x, V bound) { return _mm512_max_ps(bound, x); }
  static M less(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M greater(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static V select(M mask, V if_true, V if_false) {
    return _mm512_mask_blend_ps(mask, if_false, if_true);
  }

  // 2^n from `shifted` = n + 127 + 1.5 * 2^23 (see simd_scalar.h).
  static V pow2_of_shifted(V shifted) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(shifted), 23));
  }
  static V square_error(V a, V square) { return _mm512_fmsub_ps(a, a, square); }
  // By hand: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized inside its own header.
  static float reduce_add(V v) {
    const __m256 halves = _mm256_add_ps(_mm512_castps512_ps256(v), high_half(v));
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(halves), _mm256_extractf128_ps(halves, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
  }

private:
  // Lanes 8-15 (vextractf64x4, AVX512F; also in SIMDe 0.7, unlike vextractf32x8).
  static __m256 high_half(V v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  }
  // float16 <-> float32, nearest even (SIMDe lacks the 512-bit forms: two 256-bit F16C ones).
  static V widen_f16(__m256i halves) {
#if defined(KGET_KERNELS_AVX512_EMULATED)
    const __m256 low = _mm256_cvtph_ps(_mm256_castsi256_si128(halves));
    const __m256 high = _mm256_cvtph_ps(_mm256_extracti128_si256(halves, 1));
    return _mm512_insertf32x8(_mm512_castps256_ps512(low), high, 1);
#else
    return _mm512_cvtph_ps(halves);
#endif
  }
  static __m256i narrow_f16(V v) {
#if defined(KGET_KERNELS_AVX512_EMULATED)
    const __m128i low = _mm256_cvtps_ph(_mm512_castps512_ps256(v), _MM_FROUND_TO_NEAREST_INT);
    const __m128i high = _mm256_cvtps_ph(high_half(v), _MM_FROUND_TO_NEAREST_INT);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1);
#else
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
#endif
  }

  // float bits rounded to nearest even at bit 16 (bfloat16 in the high half). No NaN check, on
  // purpose: in a bfloat16 op every NaN comes from a bfloat16 input or is the default NaN
  // (0xffc00000), and arithmetic keeps its payload, so its low 16 bits are 0 and adding at most
  // 0x8000 cannot carry into the high half. tests/kernels checks NaN payloads of all kinds.
  static __m512i bf16_rounded_bits(V v) {
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    return _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  }
};

} // namespace kget_kernels::simd
