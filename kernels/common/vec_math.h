// Float32 math on a vector type S (simd::Scalar, simd::Avx2, simd::Avx512): exponentials and
// the activations built on them. Templates over S only, so each instruction set gets its own copy
// (see simd_avx2.h). Accuracy is measured against float64 in tests/kernels (docs/kernels.md).
#pragma once

// Forces inlining where GCC's heuristics would make a call per vector: a call serializes the
// independent vectors of a loop iteration, and these functions are long dependency chains
// (gelu_erf ran 2.3x slower as a call).
#if defined(__GNUC__) || defined(__clang__)
#define KGET_KERNELS_INLINE inline __attribute__((always_inline))
#else
#define KGET_KERNELS_INLINE inline
#endif

namespace kget_kernels::vec_math {

// n + 127 + 1.5 * 2^23: adding it to y in [-126, 128] rounds y to the integer n (nearest even)
// and leaves n + 127 in the low mantissa bits, ready for S::pow2_of_shifted.
constexpr float kShiftMagic = 12582912.0f + 127.0f;

// 2^f for f in [-1/2, 1/2]: 1 + f Q(f), Q of degree 4 (Chebyshev fit, relative error 1.6e-7,
// about 1.3 ulp). Degree 5 would bring 4e-9 for one more FMA per vector, 7% of GELU-tanh's time
// on AVX2, while the rounding of the argument already costs more than 1.3 ulp in the tails.
template <class S>
KGET_KERNELS_INLINE typename S::V exp2_fraction(typename S::V f) {
  using V = typename S::V;
  V q = S::set1(1.338130254e-3f);
  q = S::fma(q, f, S::set1(9.666368515e-3f));
  q = S::fma(q, f, S::set1(5.550381014e-2f));
  q = S::fma(q, f, S::set1(2.402234904e-1f));
  q = S::fma(q, f, S::set1(6.931471806e-1f));
  return S::fma(f, q, S::set1(1.0f));
}

// 2^y, for the sigmoids: y is clamped to [-126, 128], so results below 2^-126 come out as 2^-126
// (harmless in 1 + 2^y) and from y >= 127.5 on as +inf (2^128 is the exponent pattern of
// infinity). NaN stays NaN. 17 operations, no blend.
template <class S>
KGET_KERNELS_INLINE typename S::V exp2_for_sigmoid(typename S::V y) {
  using V = typename S::V;
  const V clamped = S::min_keep_nan(S::max_keep_nan(y, S::set1(-126.0f)), S::set1(128.0f));
  const V shifted = S::add(clamped, S::set1(kShiftMagic));
  const V n = S::sub(shifted, S::set1(kShiftMagic));
  return S::mul(exp2_fraction<S>(S::sub(clamped, n)), S::pow2_of_shifted(shifted));
}

// x / (1 + 2^y) = x * sigmoid(-y ln2): without the cancellation of x * (1 + tanh(z)) / 2 for
// z << 0. With y = +inf it is x / inf = 0 (NaN for x = -inf).
template <class S>
KGET_KERNELS_INLINE typename S::V div_one_plus_exp2(typename S::V x, typename S::V y) {
  return S::div(x, S::add(S::set1(1.0f), exp2_for_sigmoid<S>(y)));
}

// GELU, tanh approximation: x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as
// x * sigmoid(2u) = x / (1 + 2^y), y = -2u log2(e) = x (a + b x^2).
template <class S>
KGET_KERNELS_INLINE typename S::V gelu_tanh(typename S::V x) {
  using V = typename S::V;
  const V y_over_x = S::fma(S::mul(x, x), S::set1(-0.10294324f), // -2 * 0.044715 k log2(e)
                            S::set1(-2.30220820f));              // -2 k log2(e), k = sqrt(2/pi)
  return div_one_plus_exp2<S>(x, S::mul(x, y_over_x));
}

// SiLU: x * sigmoid(x) = x / (1 + 2^(-x log2(e))).
template <class S>
KGET_KERNELS_INLINE typename S::V silu(typename S::V x) {
  return div_one_plus_exp2<S>(x, S::mul(x, S::set1(-1.44269504088896341f)));
}

// e^x with an exact reduction x = n ln2 + r (Cody and Waite: n * 0.693359375 is exact), for
// callers whose x carries more precision than x * log2(e) would keep. Below -87.33 the result
// is 0 (no subnormals); x must stay below 88.3.
template <class S>
KGET_KERNELS_INLINE typename S::V exp_exact_reduction(typename S::V x) {
  using V = typename S::V;
  const V lower = S::set1(-87.3365447505531f); // -126 ln2
  const V clamped = S::max_keep_nan(x, lower);
  const V shifted = S::fma(clamped, S::set1(1.44269504088896341f), S::set1(kShiftMagic));
  const V n = S::sub(shifted, S::set1(kShiftMagic));
  V r = S::fma(n, S::set1(-0.693359375f), clamped);
  r = S::fma(n, S::set1(2.12194440054690583e-4f), r);
  // e^r = 2^(r log2 e), |r log2 e| <= 1/2 + a rounding: the same polynomial as exp2.
  const V result = S::mul(exp2_fraction<S>(S::mul(r, S::set1(1.44269504088896341f))),
                          S::pow2_of_shifted(shifted));
  return S::select(S::less(x, lower), S::zero(), result);
}

// erfc(a) for a >= 0 as t e^(-a^2 + P(t)), t = 1 / (1 + a/2), P a degree-10 Chebyshev fit on
// t in [0.15, 1] (a <= 11.3; beyond, e^-a^2 underflows anyway), error 1.3e-8. a^2 arrives as
// the exact pair square + square_error, because e^-a^2 turns an absolute error in a^2 into a
// relative one in the result. Relative error a few ulp for every a.
template <class S>
KGET_KERNELS_INLINE typename S::V erfc_nonnegative(typename S::V a, typename S::V square,
                                                   typename S::V square_error) {
  using V = typename S::V;
  const V t = S::div(S::set1(1.0f), S::fma(a, S::set1(0.5f), S::set1(1.0f)));
  // Estrin's scheme: the same polynomial in a tree of depth 5 instead of a chain of 10 FMAs.
  const V t2 = S::mul(t, t);
  const V t4 = S::mul(t2, t2);
  const V t8 = S::mul(t4, t4);
  const V c01 = S::fma(S::set1(1.00160677f), t, S::set1(-1.265568314f));
  const V c23 = S::fma(S::set1(0.2227054901f), t, S::set1(0.3551607579f));
  const V c45 = S::fma(S::set1(1.649284313f), t, S::set1(-0.7028098448f));
  const V c67 = S::fma(S::set1(4.219370181f), t, S::set1(-3.528581115f));
  const V c89 = S::fma(S::set1(0.9708044192f), t, S::set1(-2.779956971f));
  const V c03 = S::fma(c23, t2, c01);
  const V c47 = S::fma(c67, t2, c45);
  const V c8a = S::fma(S::set1(-0.1420156841f), t2, c89);
  const V p = S::fma(c8a, t8, S::fma(c47, t4, c03));
  // exponent = p - square - square_error = sum + low, with the rounding error of p + (-square)
  // recovered exactly (Knuth's two-sum; needs -ffp-contract=off, which the build sets).
  const V minus_square = S::sub(S::zero(), square);
  const V sum = S::add(p, minus_square);
  const V b_virtual = S::sub(sum, p);
  const V a_virtual = S::sub(sum, b_virtual);
  const V rounding = S::add(S::sub(p, a_virtual), S::sub(minus_square, b_virtual));
  const V low = S::sub(rounding, square_error);
  const V e = exp_exact_reduction<S>(sum);
  return S::mul(t, S::fma(e, low, e)); // e^(sum + low) = e^sum (1 + low)
}

// GELU, exact: x Phi(x) = x/2 erfc(-x / sqrt 2), with erfc of |x| / sqrt 2 and the reflection
// erfc(-a) = 2 - erfc(a), so that neither tail cancels.
template <class S>
KGET_KERNELS_INLINE typename S::V gelu_erf(typename S::V x) {
  using V = typename S::V;
  // Past |x| = 15, Phi is 0 or 1 in float32; clamping keeps a^2 finite (and NaN stays NaN).
  const V clamped = S::min_keep_nan(S::max_keep_nan(x, S::set1(-15.0f)), S::set1(15.0f));
  const V x2 = S::mul(clamped, clamped);
  const V half = S::set1(0.5f);
  const V a = S::mul(S::abs(clamped), S::set1(0.707106781186547524f));
  // a^2 = x^2 / 2 exactly as a pair (halving is exact), rather than squaring the rounded a.
  const V tail = S::mul(
      half, erfc_nonnegative<S>(a, S::mul(x2, half), S::mul(S::square_error(clamped, x2), half)));
  const V phi = S::select(S::less(x, S::zero()), tail, S::sub(S::set1(1.0f), tail));
  return S::mul(x, phi);
}

} // namespace kget_kernels::vec_math
