// The table of row functions for the vector type S; included by each ISA file.
#pragma once

#include "rmsnorm_rows.h"
#include "rmsnorm_table.h"

namespace kget_kernels::rmsnorm {

template <class S, class T>
constexpr RowKernels make_row_kernels() {
  return RowKernels{&sum_squares<S, T>, &add_residual<S, T>, &scale<S, T>};
}

template <class S>
constexpr IsaKernels make_isa_kernels() {
  // In DType order: float32, float16, bfloat16.
  return IsaKernels{
      {make_row_kernels<S, float>(), make_row_kernels<S, f16_t>(), make_row_kernels<S, bf16_t>()}};
}

} // namespace kget_kernels::rmsnorm
