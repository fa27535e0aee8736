#include "rmsnorm_cpu.h"

#include "../../common/cpu_features.h"
#include "../../common/parallel.h"
#include "rmsnorm_table.h"

#include <cmath>

namespace kget_kernels::rmsnorm {
namespace {

int choose_kernels(DType dtype, const RowKernels** kernels, kget_error* error) {
  CpuIsa isa = CpuIsa::kScalar;
  KGET_KERNEL_CHECK(resolve_cpu_isa(&isa, error));
  const IsaKernels* table = &scalar_kernels();
#ifdef KGET_KERNELS_HAVE_AVX2
  if (isa == CpuIsa::kAvx2) {
    table = &avx2_kernels();
  }
#endif
#ifdef KGET_KERNELS_HAVE_AVX512
  if (isa == CpuIsa::kAvx512) {
    table = &avx512_kernels();
  }
#endif
  *kernels = &table->by_dtype[static_cast<int>(dtype)];
  return KGET_KERNEL_OK;
}

// 1 / sqrt(mean(x^2) + eps) in float32, as vLLM computes it (there with rsqrtf).
float inverse_rms(float sum_of_squares, int64_t hidden, float eps) {
  return 1.0f / std::sqrt(sum_of_squares / static_cast<float>(hidden) + eps);
}

} // namespace

int run_cpu(const RmsNormProblem& problem, kget_error* error) {
  const RowKernels* kernels = nullptr;
  KGET_KERNEL_CHECK(choose_kernels(problem.dtype, &kernels, error));
  if (problem.grid.rows == 0 || problem.hidden == 0) {
    return KGET_KERNEL_OK;
  }
  const int64_t element = problem.dtype == DType::kFloat32 ? 4 : 2;
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const char* in = problem.input + problem.grid.offset(1, row) * element;
      char* out = problem.out + problem.grid.offset(0, row) * element;
      const void* next[2] = {
          row + 1 < end ? problem.input + problem.grid.offset(1, row + 1) * element : nullptr,
          nullptr};
      const float sum = kernels->sum_squares(in, problem.hidden);
      kernels->scale(out, in, problem.weight, inverse_rms(sum, problem.hidden, problem.eps),
                     problem.hidden, next);
    }
  };
  parallel_for(problem.grid.rows, parallel_grain(problem.grid.rows, problem.hidden), rows);
  return KGET_KERNEL_OK;
}

int run_cpu(const FusedAddRmsNormProblem& problem, kget_error* error) {
  const RowKernels* kernels = nullptr;
  KGET_KERNEL_CHECK(choose_kernels(problem.dtype, &kernels, error));
  if (problem.grid.rows == 0 || problem.hidden == 0) {
    return KGET_KERNEL_OK;
  }
  const int64_t element = problem.dtype == DType::kFloat32 ? 4 : 2;
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      char* input = problem.input + problem.grid.offset(0, row) * element;
      char* residual = problem.residual + problem.grid.offset(1, row) * element;
      const void* next[2] = {nullptr, nullptr};
      if (row + 1 < end) {
        next[0] = problem.input + problem.grid.offset(0, row + 1) * element;
        next[1] = problem.residual + problem.grid.offset(1, row + 1) * element;
      }
      const float sum = kernels->add_residual(residual, input, problem.hidden);
      // The row of residual is still in L1/L2: normalizing it reads no memory again.
      kernels->scale(input, residual, problem.weight, inverse_rms(sum, problem.hidden, problem.eps),
                     problem.hidden, next);
    }
  };
  parallel_for(problem.grid.rows, parallel_grain(problem.grid.rows, problem.hidden), rows);
  return KGET_KERNEL_OK;
}

} // namespace kget_kernels::rmsnorm
