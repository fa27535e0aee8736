// The attention forward of one block (flash_attn_table.h, BlockTask) as a template over a vector
// type S (common/simd_*.h) and the element type T: FlashAttention's online softmax in float32.
// Each ISA file instantiates it for its S; flash_attn_cpu.cpp cuts the problem into blocks.
//
// The block's query rows are converted to float32 once. Then for each block of kBlockKeys keys
// that any of its rows may attend (blocks that the causal/window masks exclude for every row are
// never visited): the K and V rows are converted to float32 once, and every query row computes
// its scores against them (vectorized dot products), its new running max m, the correction
// e^(m_old - m_new) of its running sum l and output accumulator O, and O += P V. No
// seqlen_q x seqlen_k matrix exists, only one row of kBlockKeys scores.
//
// Lane order: S::load2 of a bfloat16 pair may permute the 2 * kLanes elements (simd_avx2.h), and
// S::store2 to float keeps the register order, so the float32 copies of Q, K and V hold each pair
// permuted the same way. Dot products do not depend on the order, O accumulates V's permuted
// order, and the final S::load2 (float) / S::store2 (T) of O undoes it.
//
// Nothing from the standard library here: every function is a template over S (simd_avx2.h says
// why); expf/logf are the C library's, called through the builtins.
#pragma once

#include "../../common/storage_types.h"
#include "../../common/vec_math.h"
#include "flash_attn_table.h"

#include <cstdint>

// Small loops over accumulator arrays, fully unrolled so that the arrays live in registers.
#define KGET_FA3_UNROLL _Pragma("GCC unroll 8")

namespace kget_kernels::flash_attn3 {

// tanh(x) = sign(x) (1 - 2 / (1 + e^(2|x|))): absolute error a few float32 ulp of 1, which is
// what the logits softcap * tanh(...) need (relative accuracy near 0 does not matter there).
template <class S>
KGET_KERNELS_INLINE typename S::V tanh_abs_accurate(typename S::V x) {
  using V = typename S::V;
  const V magnitude = S::abs(x);
  const V y = S::mul(magnitude, S::set1(2.88539008177792681f)); // 2 log2(e)
  const V t = S::sub(S::set1(1.0f), vec_math::div_one_plus_exp2<S>(S::set1(2.0f), y));
  return S::select(S::less(x, S::zero()), S::sub(S::zero(), t), t);
}

// dst[0 .. n) = float32 of src[0 .. n), n a multiple of 2 * S::kLanes (in S::load2 order).
template <class S, class T>
KGET_KERNELS_INLINE void widen_row(float* dst, const T* src, int64_t n) {
  constexpr int64_t kPair = 2 * S::kLanes;
  typename S::V a, b;
  for (int64_t d = 0; d < n; d += kPair) {
    S::load2(src + d, a, b);
    S::store2(dst + d, a, b);
  }
}

// Keys [row_lo, row_hi) of the block: scores[c] = q . k[c], four keys at a time in eight
// independent accumulators (two per key), so that the multiply-adds do not wait on each other.
template <class S>
KGET_KERNELS_INLINE void dot_scores(float* scores, const float* q, const float* keys,
                                    int64_t head_dim, int64_t row_lo, int64_t row_hi) {
  using V = typename S::V;
  constexpr int64_t kPair = 2 * S::kLanes;
  int64_t c = row_lo;
  for (; c + 4 <= row_hi; c += 4) {
    const float* key = keys + c * head_dim;
    V acc[8];
    KGET_FA3_UNROLL
    for (int j = 0; j < 8; ++j) {
      acc[j] = S::zero();
    }
    V qa, qb, ka, kb;
    for (int64_t d = 0; d < head_dim; d += kPair) {
      S::load2(q + d, qa, qb);
      KGET_FA3_UNROLL
      for (int j = 0; j < 4; ++j) {
        S::load2(key + j * head_dim + d, ka, kb);
        acc[2 * j] = S::fma(qa, ka, acc[2 * j]);
        acc[2 * j + 1] = S::fma(qb, kb, acc[2 * j + 1]);
      }
    }
    KGET_FA3_UNROLL
    for (int j = 0; j < 4; ++j) {
      scores[c + j] = S::reduce_add(S::add(acc[2 * j], acc[2 * j + 1]));
    }
  }
  for (; c < row_hi; ++c) {
    const float* key = keys + c * head_dim;
    V acc0 = S::zero();
    V acc1 = S::zero();
    V qa, qb, ka, kb;
    for (int64_t d = 0; d < head_dim; d += kPair) {
      S::load2(q + d, qa, qb);
      S::load2(key + d, ka, kb);
      acc0 = S::fma(qa, ka, acc0);
      acc1 = S::fma(qb, kb, acc1);
    }
    scores[c] = S::reduce_add(S::add(acc0, acc1));
  }
}

// o[d0 .. d0 + G * 2 kLanes) = o * alpha + sum over c in [row_lo, row_hi) of p[c] * values[c],
// in 2G independent accumulators.
template <class S, int G>
KGET_KERNELS_INLINE void accumulate_pv_chunk(float* o, const float* p, const float* values,
                                             int64_t head_dim, typename S::V alpha, int64_t d0,
                                             int64_t row_lo, int64_t row_hi) {
  using V = typename S::V;
  constexpr int64_t kPair = 2 * S::kLanes;
  V acc[2 * G];
  KGET_FA3_UNROLL
  for (int g = 0; g < G; ++g) {
    S::load2(o + d0 + g * kPair, acc[2 * g], acc[2 * g + 1]);
    acc[2 * g] = S::mul(acc[2 * g], alpha);
    acc[2 * g + 1] = S::mul(acc[2 * g + 1], alpha);
  }
  V a, b;
  for (int64_t c = row_lo; c < row_hi; ++c) {
    const V weight = S::set1(p[c]);
    const float* row = values + c * head_dim + d0;
    KGET_FA3_UNROLL
    for (int g = 0; g < G; ++g) {
      S::load2(row + g * kPair, a, b);
      acc[2 * g] = S::fma(weight, a, acc[2 * g]);
      acc[2 * g + 1] = S::fma(weight, b, acc[2 * g + 1]);
    }
  }
  KGET_FA3_UNROLL
  for (int g = 0; g < G; ++g) {
    S::store2(o + d0 + g * kPair, acc[2 * g], acc[2 * g + 1]);
  }
}

// o = o * alpha + P V over the keys [row_lo, row_hi): four pairs of vectors at a time (eight
// accumulators), or two where head_dim is not a multiple of four pairs (64 with AVX-512).
template <class S>
KGET_KERNELS_INLINE void accumulate_pv(float* o, const float* p, const float* values,
                                       int64_t head_dim, float alpha, int64_t row_lo,
                                       int64_t row_hi) {
  constexpr int64_t kPair = 2 * S::kLanes;
  const typename S::V scale = S::set1(alpha);
  if (head_dim % (4 * kPair) == 0) {
    for (int64_t d = 0; d < head_dim; d += 4 * kPair) {
      accumulate_pv_chunk<S, 4>(o, p, values, head_dim, scale, d, row_lo, row_hi);
    }
  } else {
    for (int64_t d = 0; d < head_dim; d += 2 * kPair) {
      accumulate_pv_chunk<S, 2>(o, p, values, head_dim, scale, d, row_lo, row_hi);
    }
  }
}

// Scores [0, n_padded) to logits: softcap * tanh(s * scale / softcap), or s * scale; then
// -inf outside [row_lo, row_hi). Returns the max over [row_lo, row_hi).
template <class S>
KGET_KERNELS_INLINE float scores_to_logits(float* scores, int64_t n_padded, int64_t row_lo,
                                           int64_t row_hi, float scale, float softcap) {
  using V = typename S::V;
  constexpr int64_t kPair = 2 * S::kLanes;
  for (int64_t c = 0; c < row_lo; ++c) {
    scores[c] = 0.0f;
  }
  for (int64_t c = row_hi; c < n_padded; ++c) {
    scores[c] = 0.0f;
  }
  V a, b;
  if (softcap > 0.0f) {
    const V inner = S::set1(scale / softcap);
    const V outer = S::set1(softcap);
    for (int64_t c = 0; c < n_padded; c += kPair) {
      S::load2(scores + c, a, b);
      a = S::mul(outer, tanh_abs_accurate<S>(S::mul(a, inner)));
      b = S::mul(outer, tanh_abs_accurate<S>(S::mul(b, inner)));
      S::store2(scores + c, a, b);
    }
  } else {
    const V factor = S::set1(scale);
    for (int64_t c = 0; c < n_padded; c += kPair) {
      S::load2(scores + c, a, b);
      S::store2(scores + c, S::mul(a, factor), S::mul(b, factor));
    }
  }
  const float minus_infinity = -__builtin_inff();
  for (int64_t c = 0; c < row_lo; ++c) {
    scores[c] = minus_infinity;
  }
  for (int64_t c = row_hi; c < n_padded; ++c) {
    scores[c] = minus_infinity;
  }
  float max = minus_infinity;
  for (int64_t c = row_lo; c < row_hi; ++c) {
    max = scores[c] > max ? scores[c] : max;
  }
  return max;
}

// p[c] = e^(logit[c] - max) over [0, n_padded) (0 for -inf); returns their sum.
template <class S>
KGET_KERNELS_INLINE float exponentiate(float* scores, int64_t n_padded, float max) {
  using V = typename S::V;
  constexpr int64_t kPair = 2 * S::kLanes;
  const V shift = S::set1(max);
  V sum0 = S::zero();
  V sum1 = S::zero();
  V a, b;
  for (int64_t c = 0; c < n_padded; c += kPair) {
    S::load2(scores + c, a, b);
    a = vec_math::exp_exact_reduction<S>(S::sub(a, shift));
    b = vec_math::exp_exact_reduction<S>(S::sub(b, shift));
    S::store2(scores + c, a, b);
    sum0 = S::add(sum0, a);
    sum1 = S::add(sum1, b);
  }
  return S::reduce_add(S::add(sum0, sum1));
}

// The keys query position `pos` may attend: [lo, hi), empty when hi <= lo (docs/attention.md).
struct KeyRange {
  int64_t lo;
  int64_t hi;
};

template <class S>
KGET_KERNELS_INLINE KeyRange key_range(const BlockTask& task, int64_t pos) {
  const int64_t diagonal = pos + task.seqlen_k - task.seqlen_q;
  KeyRange range{0, task.seqlen_k};
  if (task.window_left >= 0 && diagonal - task.window_left > range.lo) {
    range.lo = diagonal - task.window_left;
  }
  if (task.window_right >= 0 && diagonal + task.window_right + 1 < range.hi) {
    range.hi = diagonal + task.window_right + 1;
  }
  return range;
}

template <class S, class T>
void attend_block(const BlockTask& task, float* scratch) {
  using V = typename S::V;
  constexpr int64_t kPair = 2 * S::kLanes;
  const int64_t head_dim = task.head_dim;
  const int64_t rows = task.heads * task.npos;
  float* q_rows = scratch;
  float* o_rows = q_rows + kBlockRows * head_dim;
  float* k_rows = o_rows + kBlockRows * head_dim;
  float* v_rows = k_rows + kBlockKeys * head_dim;
  float* scores = v_rows + kBlockKeys * head_dim;
  float* row_max = scores + kBlockKeys;
  float* row_sum = row_max + kBlockRows;
  const float minus_infinity = -__builtin_inff();

  const T* q = static_cast<const T*>(task.q);
  const T* k = static_cast<const T*>(task.k);
  const T* v = static_cast<const T*>(task.v);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t head = r / task.npos;
    const int64_t pos = task.pos0 + r % task.npos;
    widen_row<S>(q_rows + r * head_dim, q + head * task.q_head_stride + pos * task.q_token_stride,
                 head_dim);
    float* o = o_rows + r * head_dim;
    for (int64_t d = 0; d < head_dim; d += kPair) {
      S::store2(o + d, S::zero(), S::zero());
    }
    row_max[r] = minus_infinity;
    row_sum[r] = 0.0f;
  }

  // Key ranges only grow with the position: the block's keys are those of its first position's
  // range start to its last position's range end.
  const int64_t keys_begin = key_range<S>(task, task.pos0).lo;
  const int64_t keys_end = key_range<S>(task, task.pos0 + task.npos - 1).hi;
  for (int64_t j0 = keys_begin; j0 < keys_end; j0 += kBlockKeys) {
    const int64_t nk = keys_end - j0 < kBlockKeys ? keys_end - j0 : kBlockKeys;
    const int64_t n_padded = (nk + kPair - 1) / kPair * kPair;
    for (int64_t c = 0; c < nk; ++c) {
      widen_row<S>(k_rows + c * head_dim, k + (j0 + c) * task.k_token_stride, head_dim);
      widen_row<S>(v_rows + c * head_dim, v + (j0 + c) * task.v_token_stride, head_dim);
    }
    for (int64_t r = 0; r < rows; ++r) {
      const KeyRange range = key_range<S>(task, task.pos0 + r % task.npos);
      const int64_t row_lo = range.lo - j0 > 0 ? range.lo - j0 : 0;
      const int64_t row_hi = range.hi - j0 < nk ? range.hi - j0 : nk;
      if (row_lo >= row_hi) {
        continue; // this row sees no key of this block
      }
      dot_scores<S>(scores, q_rows + r * head_dim, k_rows, head_dim, row_lo, row_hi);
      const float block_max =
          scores_to_logits<S>(scores, n_padded, row_lo, row_hi, task.softmax_scale, task.softcap);
      const float new_max = block_max > row_max[r] ? block_max : row_max[r];
      if (new_max == minus_infinity) {
        continue; // every logit so far is -inf: nothing to add (and no inf - inf)
      }
      const float alpha = __builtin_expf(row_max[r] - new_max); // 0 for the first keys
      const float sum = exponentiate<S>(scores, n_padded, new_max);
      row_sum[r] = row_sum[r] * alpha + sum;
      row_max[r] = new_max;
      accumulate_pv<S>(o_rows + r * head_dim, scores, v_rows, head_dim, alpha, row_lo, row_hi);
    }
  }

  T* out = static_cast<T*>(task.out);
  V a, b;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t head = r / task.npos;
    const int64_t pos = task.pos0 + r % task.npos;
    T* out_row = out + head * task.out_head_stride + pos * task.out_token_stride;
    const float* o = o_rows + r * head_dim;
    const bool empty = !(row_sum[r] > 0.0f);
    const V inverse = S::set1(empty ? 0.0f : 1.0f / row_sum[r]);
    for (int64_t d = 0; d < head_dim; d += kPair) {
      S::load2(o + d, a, b);
      S::store2(out_row + d, S::mul(a, inverse), S::mul(b, inverse));
    }
    // +inf for a row without keys, as FlashAttention's forward writes it: a backward pass's
    // exp(s - lse) is then 0 for every key (docs/attention.md).
    task.lse[head * task.lse_head_stride + pos * task.lse_token_stride] =
        empty ? __builtin_inff() : row_max[r] + __builtin_logf(row_sum[r]);
  }
}

} // namespace kget_kernels::flash_attn3
