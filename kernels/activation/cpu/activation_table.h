// Per-ISA tables of activation row functions. Types and declarations only, so that the ISA files
// can include it (see common/simd_avx2.h).
#pragma once

#include "../../common/storage_types.h"

#include <cstdint>

namespace kget_kernels::activation {

// Row functions of one instruction set, activation and dtype (activation_rows.h), type-erased.
struct RowKernels {
  void (*unary)(void* out, const void* in, int64_t n);
  void (*gated)(void* out, const void* gate, const void* up, int64_t n);
};

// Indexed by Activation, then DType.
struct IsaKernels {
  RowKernels by[3][kNumDTypes]; // 3 = kNumActivations (activation_problem.h)
};

// One table per compiled path: activation_scalar.cpp, activation_avx2.cpp, activation_avx512.cpp.
const IsaKernels& scalar_kernels();
const IsaKernels& avx2_kernels();
const IsaKernels& avx512_kernels();

} // namespace kget_kernels::activation
