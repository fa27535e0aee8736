// RMSNorm on one row, as templates over a vector type S (common/simd_*.h). Each ISA file
// instantiates them for its S and exports a table of them; rmsnorm_cpu.cpp walks the rows.
//
// Arithmetic (docs/kernels.md): float32 throughout, values rounded to the element type where
// PyTorch's unfused composition rounds them (HF LlamaRMSNorm, vLLM's kernels): the sum
// input + residual, the normalized value x * inv_rms, and the product with the weight.
#pragma once

#include "../../common/storage_types.h"
#include "../../common/vec_math.h"
#include "../../common/vec_tail.h"

#include <cstdint>

namespace kget_kernels::rmsnorm {

// Rows are summed in blocks whose float32 partial sums are added in double, so the error of a
// long row grows with its number of blocks, not its length.
constexpr int64_t kSumBlock = 4096;

// Loops below go by pairs of vectors (S::load2/store2, 2 * kLanes elements) and finish with one
// zero-padded TailBuffer pair.

// Sum of x[i]^2 over one block, in four vector accumulators.
template <class S, class T>
float sum_squares_block(const T* x, int64_t n) {
  using V = typename S::V;
  constexpr int64_t kPair = 2 * S::kLanes;
  V acc0 = S::zero();
  V acc1 = S::zero();
  V acc2 = S::zero();
  V acc3 = S::zero();
  V a, b, c, d;
  int64_t i = 0;
  for (; i + 2 * kPair <= n; i += 2 * kPair) {
    S::load2(x + i, a, b);
    S::load2(x + i + kPair, c, d);
    acc0 = S::fma(a, a, acc0);
    acc1 = S::fma(b, b, acc1);
    acc2 = S::fma(c, c, acc2);
    acc3 = S::fma(d, d, acc3);
  }
  for (; i + kPair <= n; i += kPair) {
    S::load2(x + i, a, b);
    acc0 = S::fma(a, a, acc0);
    acc1 = S::fma(b, b, acc1);
  }
  if (i < n) {
    const TailBuffer<S, T> tail(x + i, n - i);
    S::load2(tail.data, a, b);
    acc0 = S::fma(a, a, acc0);
    acc1 = S::fma(b, b, acc1);
  }
  return S::reduce_add(S::add(S::add(acc0, acc1), S::add(acc2, acc3)));
}

template <class S, class T>
float sum_squares(const void* row, int64_t n) {
  const T* x = static_cast<const T*>(row);
  double total = 0.0;
  for (int64_t i = 0; i < n; i += kSumBlock) {
    total += sum_squares_block<S>(x + i, n - i < kSumBlock ? n - i : kSumBlock);
  }
  return static_cast<float>(total);
}

// One pair of add_residual: the rounded sums, stored into `residual`, accumulated squared.
template <class S, class T>
KGET_KERNELS_INLINE void add_residual_pair(T* residual, const T* input, typename S::V& acc0,
                                           typename S::V& acc1) {
  typename S::V x0, x1, r0, r1;
  S::load2(input, x0, x1);
  S::load2(residual, r0, r1);
  const typename S::V sum0 = S::round_to(residual, S::add(x0, r0));
  const typename S::V sum1 = S::round_to(residual, S::add(x1, r1));
  S::store2(residual, sum0, sum1);
  acc0 = S::fma(sum0, sum0, acc0);
  acc1 = S::fma(sum1, sum1, acc1);
}

// residual[i] = round(input[i] + residual[i]); returns the sum of the new residual[i]^2.
template <class S, class T>
float add_residual_block(T* residual, const T* input, int64_t n) {
  using V = typename S::V;
  constexpr int64_t kPair = 2 * S::kLanes;
  V acc0 = S::zero();
  V acc1 = S::zero();
  V acc2 = S::zero();
  V acc3 = S::zero();
  int64_t i = 0;
  for (; i + 2 * kPair <= n; i += 2 * kPair) {
    add_residual_pair<S>(residual + i, input + i, acc0, acc1);
    add_residual_pair<S>(residual + i + kPair, input + i + kPair, acc2, acc3);
  }
  for (; i + kPair <= n; i += kPair) {
    add_residual_pair<S>(residual + i, input + i, acc0, acc1);
  }
  if (i < n) {
    TailBuffer<S, T> sum(residual + i, n - i);
    const TailBuffer<S, T> addend(input + i, n - i);
    add_residual_pair<S>(sum.data, addend.data, acc0, acc1);
    sum.copy_to(residual + i, n - i);
  }
  return S::reduce_add(S::add(S::add(acc0, acc1), S::add(acc2, acc3)));
}

template <class S, class T>
float add_residual(void* residual_row, const void* input_row, int64_t n) {
  T* residual = static_cast<T*>(residual_row);
  const T* input = static_cast<const T*>(input_row);
  double total = 0.0;
  for (int64_t i = 0; i < n; i += kSumBlock) {
    total += add_residual_block<S>(residual + i, input + i, n - i < kSumBlock ? n - i : kSumBlock);
  }
  return static_cast<float>(total);
}

// One pair of scale: out = round(round(in * inv) * weight).
template <class S, class T>
KGET_KERNELS_INLINE void scale_pair(T* out, const T* in, const T* weight, typename S::V inv) {
  typename S::V x0, x1, w0, w1;
  S::load2(in, x0, x1);
  S::load2(weight, w0, w1);
  S::store2(out, S::mul(S::round_to(out, S::mul(x0, inv)), w0),
            S::mul(S::round_to(out, S::mul(x1, inv)), w1));
}

// out[i] = round(round(in[i] * inv_rms) * weight[i]). `out` may be `in` (in place). While
// this row is scaled from cache, the rows in `prefetch` (up to two, may be NULL) are fetched into
// L2: the next row's sum of squares then overlaps this row's arithmetic instead of following it.
template <class S, class T>
void scale(void* out_row, const void* in_row, const void* weight_row, float inv_rms, int64_t n,
           const void* const* prefetch) {
  constexpr int64_t kPair = 2 * S::kLanes;
  T* out = static_cast<T*>(out_row);
  const T* in = static_cast<const T*>(in_row);
  const T* weight = static_cast<const T*>(weight_row);
  const char* first = static_cast<const char*>(prefetch[0]);
  const char* second = static_cast<const char*>(prefetch[1]);
  const typename S::V inv = S::set1(inv_rms);
  int64_t i = 0;
  for (; i + kPair <= n; i += kPair) {
    if (first) {
      __builtin_prefetch(first + i * static_cast<int64_t>(sizeof(T)), 0, 2);
    }
    if (second) {
      __builtin_prefetch(second + i * static_cast<int64_t>(sizeof(T)), 0, 2);
    }
    scale_pair<S>(out + i, in + i, weight + i, inv);
  }
  if (i < n) {
    const TailBuffer<S, T> x(in + i, n - i);
    const TailBuffer<S, T> w(weight + i, n - i);
    TailBuffer<S, T> y;
    scale_pair<S>(y.data, x.data, w.data, inv);
    y.copy_to(out + i, n - i);
  }
}

} // namespace kget_kernels::rmsnorm
