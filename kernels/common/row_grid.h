// Rows of tensors that share their leading dimensions, each tensor with its own strides.
//
// The kernels work on rows: RMSNorm normalizes each row of the last dimension, the gated
// activations split each row in two, the elementwise ones treat a contiguous tensor as one row.
// Leading dimensions may have any non-negative strides (a slice of a larger tensor, a transposed
// batch); they are coalesced where every tensor allows it, so the common cases become one
// dimension.
#pragma once

#include "tensor_args.h"

#include <cstdint>
#include <kget/kernel_abi.h>

namespace kget_kernels {

constexpr int kMaxRowDims = 6; // leading dimensions left after coalescing
constexpr int kMaxGridTensors = 3;

struct RowGrid {
  int64_t rows = 1; // product of the extents
  int ndim = 0;     // coalesced leading dimensions, outermost first
  int64_t extent[kMaxRowDims] = {};
  int64_t stride[kMaxGridTensors][kMaxRowDims] = {}; // in elements, per tensor

  // Element offset of row `row` (0 <= row < rows) in tensor `tensor`.
  int64_t offset(int tensor, int64_t row) const {
    int64_t result = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      result += (row % extent[d]) * stride[tensor][d];
      row /= extent[d];
    }
    return result;
  }
};

// The grid over the first `leading` dimensions of `tensors` (their extents must be equal).
// KGET_KERNEL_ERROR_UNSUPPORTED when more than kMaxRowDims dimensions cannot be merged.
int build_row_grid(const Tensor* const* tensors, int count, int leading, RowGrid* grid,
                   kget_error* error);

} // namespace kget_kernels
