#include "row_grid.h"

namespace kget_kernels {

int build_row_grid(const Tensor* const* tensors, int count, int leading, RowGrid* grid,
                   kget_error* error) {
  *grid = RowGrid();
  for (int d = 0; d < leading; ++d) {
    const int64_t extent = tensors[0]->size(d);
    grid->rows *= extent;
    if (extent == 1) {
      continue; // any stride: the index is always 0
    }
    // Merge into the previous (outer) dimension when, for every tensor, stepping the outer
    // dimension is the same as stepping this one `extent` times.
    bool mergeable = grid->ndim > 0;
    for (int t = 0; t < count && mergeable; ++t) {
      mergeable = grid->stride[t][grid->ndim - 1] == tensors[t]->stride(d) * extent;
    }
    if (mergeable) {
      grid->extent[grid->ndim - 1] *= extent;
      for (int t = 0; t < count; ++t) {
        grid->stride[t][grid->ndim - 1] = tensors[t]->stride(d);
      }
      continue;
    }
    if (grid->ndim == kMaxRowDims) {
      return kget_set_error(error, KGET_KERNEL_ERROR_UNSUPPORTED,
                            "argument %zu (%s): more than %d leading dimensions whose strides "
                            "cannot be merged",
                            tensors[0]->index, tensors[0]->name, kMaxRowDims);
    }
    grid->extent[grid->ndim] = extent;
    for (int t = 0; t < count; ++t) {
      grid->stride[t][grid->ndim] = tensors[t]->stride(d);
    }
    ++grid->ndim;
  }
  return KGET_KERNEL_OK;
}

} // namespace kget_kernels
