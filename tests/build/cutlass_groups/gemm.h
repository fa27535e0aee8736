// The problem dispatch.cu hands to a group's launcher, and the launchers of the groups
// (sm90_gemm.cu, sm80_gemm.cu). A launcher exists only where its group was built: callers test
// KGET_CUDA_PATH_<GROUP> first (kernels/common/cuda_paths.h).
#pragma once

#include <cstdint>
#include <kget/kernel_abi.h>

namespace cutlass_groups {

// The tile every path computes per thread block: out is cut into kTile x kTile tiles, and K is
// walked kTile at a time. dispatch.cu admits only shapes that are whole tiles, so no kernel has
// a boundary case.
constexpr int64_t kTile = 64;

// out (m, n) float32 = a (m, k) float16 x b (n, k) float16 transposed, all compact row-major on
// one device, every data pointer 16-byte aligned, m and n positive multiples of kTile, k a
// multiple of kTile (0: out is zeroed).
struct GemmProblem {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  float* out = nullptr;
  const void* a = nullptr; // float16 bits
  const void* b = nullptr;
  int device = 0;
  void* stream = nullptr; // a cudaStream_t
};

// Launch on problem.stream (the device is already current) and return the launch's status.
int launch_gemm_sm90(const GemmProblem& problem, kget_error* error);
int launch_gemm_sm80(const GemmProblem& problem, kget_error* error);

} // namespace cutlass_groups
