// Per-ISA tables of RMSNorm row functions. Types and declarations only, so that the ISA files
// can include it (see common/simd_avx2.h).
#pragma once

#include "../../common/storage_types.h"

#include <cstdint>

namespace kget_kernels::rmsnorm {

// Row functions of one instruction set for one dtype (rmsnorm_rows.h), type-erased.
struct RowKernels {
  float (*sum_squares)(const void* row, int64_t n);
  float (*add_residual)(void* residual_row, const void* input_row, int64_t n);
  // prefetch: two row pointers (or NULL) to fetch into L2 meanwhile (the next rows).
  void (*scale)(void* out_row, const void* in_row, const void* weight, float inv_rms, int64_t n,
                const void* const* prefetch);
};

// Indexed by DType.
struct IsaKernels {
  RowKernels by_dtype[kNumDTypes];
};

// One table per compiled path: rmsnorm_scalar.cpp, rmsnorm_avx2.cpp, rmsnorm_avx512.cpp.
const IsaKernels& scalar_kernels();
const IsaKernels& avx2_kernels();
const IsaKernels& avx512_kernels();

} // namespace kget_kernels::rmsnorm
