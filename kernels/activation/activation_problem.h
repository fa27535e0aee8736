// One validated activation call, as ops.cpp hands it to a backend (cpu/ or cuda/).
#pragma once

#include "../common/row_grid.h"
#include "../common/storage_types.h"

#include <cstdint>

namespace kget_kernels::activation {

// The activation functions; values index the kernel tables.
enum class Activation : int {
  kGeluTanh = 0, // gelu_fast, gelu_tanh: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kGeluErf = 1,  // gelu: x/2 (1 + erf(x / sqrt 2))
  kSilu = 2,     // silu: x / (1 + e^-x)
};
constexpr int kNumActivations = 3;

// out = act(input) elementwise, over rows of `cols` contiguous elements (one row of all elements
// when both tensors are contiguous). Grid tensors: 0 = out, 1 = input.
struct UnaryProblem {
  DType dtype = DType::kFloat32;
  Activation activation = Activation::kGeluTanh;
  const char* op = "activation"; // the op's name, for messages (gelu_fast and gelu_tanh share one)
  RowGrid grid;
  int64_t cols = 0;
  char* out = nullptr;
  const char* input = nullptr;
  void* stream = nullptr; // CUDA only: the cudaStream_t to launch on
  int device = 0;         // CUDA only: the tensors' device_id
};

// out[r, j] = act(input[r, j]) * input[r, d + j] for j < d. Grid tensors: 0 = out, 1 = input.
struct GatedProblem {
  DType dtype = DType::kFloat32;
  Activation activation = Activation::kGeluTanh;
  const char* op = "activation";
  RowGrid grid;
  int64_t d = 0;
  char* out = nullptr;
  const char* input = nullptr;
  void* stream = nullptr;
  int device = 0;
};

} // namespace kget_kernels::activation
