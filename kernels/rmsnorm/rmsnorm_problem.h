// One validated rms_norm or fused_add_rms_norm call, as ops.cpp hands it to a backend (cpu/ now,
// cuda/ later): pointers, dtype and the row grid, with every argument check already done.
#pragma once

#include "../common/row_grid.h"
#include "../common/storage_types.h"

#include <cstdint>

namespace kget_kernels::rmsnorm {

// out[r] = rms_norm(input[r]) for every row r. Grid tensors: 0 = out, 1 = input.
struct RmsNormProblem {
  DType dtype = DType::kFloat32;
  RowGrid grid;
  int64_t hidden = 0; // elements per row
  char* out = nullptr;
  const char* input = nullptr;
  const char* weight = nullptr;
  float eps = 0.0f;
  void* stream = nullptr; // CUDA only: the cudaStream_t to launch on
  int device = 0;         // CUDA only: the tensors' device_id
};

// residual[r] += input[r]; input[r] = rms_norm(residual[r]). Grid tensors: 0 = input,
// 1 = residual.
struct FusedAddRmsNormProblem {
  DType dtype = DType::kFloat32;
  RowGrid grid;
  int64_t hidden = 0;
  char* input = nullptr;
  char* residual = nullptr;
  const char* weight = nullptr;
  float eps = 0.0f;
  void* stream = nullptr;
  int device = 0;
};

} // namespace kget_kernels::rmsnorm
