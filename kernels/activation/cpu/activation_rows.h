// Activations on one row, as templates over a vector type S (common/simd_*.h). Each ISA file
// instantiates them for its S and exports a table of them; activation_cpu.cpp walks the rows.
//
// Arithmetic (docs/kernels.md): float32, rounded to the element type where PyTorch's unfused
// composition rounds (vLLM's kernels too): act(x) once; act(gate) and then act(gate) * up.
#pragma once

#include "../../common/storage_types.h"
#include "../../common/vec_math.h"
#include "../../common/vec_tail.h"
#include "activation_table.h"

#include <cstdint>

namespace kget_kernels::activation {

struct GeluTanh {
  template <class S>
  KGET_KERNELS_INLINE static typename S::V apply(typename S::V x) {
    return vec_math::gelu_tanh<S>(x);
  }
};

struct GeluErf {
  template <class S>
  KGET_KERNELS_INLINE static typename S::V apply(typename S::V x) {
    return vec_math::gelu_erf<S>(x);
  }
};

struct Silu {
  template <class S>
  KGET_KERNELS_INLINE static typename S::V apply(typename S::V x) {
    return vec_math::silu<S>(x);
  }
};

// Loops go by pairs of vectors (S::load2/store2, 2 * kLanes elements), two pairs per iteration
// so that the long exp chains of four vectors overlap, and finish with one zero-padded
// TailBuffer pair.

template <class S, class T, class Act>
KGET_KERNELS_INLINE void unary_pair(T* out, const T* in) {
  typename S::V a, b;
  S::load2(in, a, b);
  S::store2(out, Act::template apply<S>(a), Act::template apply<S>(b));
}

// out[i] = act(in[i]); out may be in (in place): each pair is loaded before it is stored.
template <class S, class T, class Act>
void unary(void* out_row, const void* in_row, int64_t n) {
  constexpr int64_t kPair = 2 * S::kLanes;
  T* out = static_cast<T*>(out_row);
  const T* in = static_cast<const T*>(in_row);
  int64_t i = 0;
  for (; i + 2 * kPair <= n; i += 2 * kPair) {
    typename S::V a, b, c, d;
    S::load2(in + i, a, b);
    S::load2(in + i + kPair, c, d);
    S::store2(out + i, Act::template apply<S>(a), Act::template apply<S>(b));
    S::store2(out + i + kPair, Act::template apply<S>(c), Act::template apply<S>(d));
  }
  for (; i + kPair <= n; i += kPair) {
    unary_pair<S, T, Act>(out + i, in + i);
  }
  if (i < n) {
    TailBuffer<S, T> tail(in + i, n - i);
    unary_pair<S, T, Act>(tail.data, tail.data);
    tail.copy_to(out + i, n - i);
  }
}

// One pair of gated: out = round(round(act(gate)) * up).
template <class S, class T, class Act>
KGET_KERNELS_INLINE void gated_pair(T* out, const T* gate, const T* up) {
  typename S::V g0, g1, u0, u1;
  S::load2(gate, g0, g1);
  S::load2(up, u0, u1);
  S::store2(out, S::mul(S::round_to(out, Act::template apply<S>(g0)), u0),
            S::mul(S::round_to(out, Act::template apply<S>(g1)), u1));
}

// out[i] = round(round(act(gate[i])) * up[i]).
template <class S, class T, class Act>
void gated(void* out_row, const void* gate_row, const void* up_row, int64_t n) {
  constexpr int64_t kPair = 2 * S::kLanes;
  T* out = static_cast<T*>(out_row);
  const T* gate = static_cast<const T*>(gate_row);
  const T* up = static_cast<const T*>(up_row);
  int64_t i = 0;
  for (; i + 2 * kPair <= n; i += 2 * kPair) {
    gated_pair<S, T, Act>(out + i, gate + i, up + i);
    gated_pair<S, T, Act>(out + i + kPair, gate + i + kPair, up + i + kPair);
  }
  for (; i + kPair <= n; i += kPair) {
    gated_pair<S, T, Act>(out + i, gate + i, up + i);
  }
  if (i < n) {
    const TailBuffer<S, T> g(gate + i, n - i);
    const TailBuffer<S, T> u(up + i, n - i);
    TailBuffer<S, T> y;
    gated_pair<S, T, Act>(y.data, g.data, u.data);
    y.copy_to(out + i, n - i);
  }
}

template <class S, class T, class Act>
constexpr RowKernels make_row_kernels() {
  return RowKernels{&unary<S, T, Act>, &gated<S, T, Act>};
}

template <class S>
constexpr IsaKernels make_isa_kernels() {
  // In Activation order (gelu_tanh, gelu_erf, silu), each in DType order (float32, float16,
  // bfloat16).
  return IsaKernels{{
      {make_row_kernels<S, float, GeluTanh>(), make_row_kernels<S, f16_t, GeluTanh>(),
       make_row_kernels<S, bf16_t, GeluTanh>()},
      {make_row_kernels<S, float, GeluErf>(), make_row_kernels<S, f16_t, GeluErf>(),
       make_row_kernels<S, bf16_t, GeluErf>()},
      {make_row_kernels<S, float, Silu>(), make_row_kernels<S, f16_t, Silu>(),
       make_row_kernels<S, bf16_t, Silu>()},
  }};
}

} // namespace kget_kernels::activation
