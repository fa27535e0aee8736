#include "activation_cpu.h"

#include "../../common/cpu_features.h"
#include "../../common/parallel.h"
#include "activation_table.h"

#include <algorithm>

namespace kget_kernels::activation {
namespace {

static_assert(kNumActivations == 3, "IsaKernels::by has one entry per activation");

// Rows are cut into blocks of at most this many elements, so that one long row (a contiguous
// tensor is one row) still spreads over the threads.
constexpr int64_t kBlockElements = kParallelChunkElements;

int choose_kernels(DType dtype, Activation activation, const RowKernels** kernels,
                   kget_error* error) {
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
  *kernels = &table->by[static_cast<int>(activation)][static_cast<int>(dtype)];
  return KGET_KERNEL_OK;
}

// Calls fn(row, first column, count) over rows x cols, in blocks, in parallel.
template <class Fn>
void for_each_block(int64_t rows, int64_t cols, Fn& fn) {
  const int64_t block = std::min(cols, kBlockElements);
  const int64_t blocks_per_row = (cols + block - 1) / block;
  auto blocks = [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      const int64_t row = index / blocks_per_row;
      const int64_t col = (index % blocks_per_row) * block;
      fn(row, col, std::min(block, cols - col));
    }
  };
  parallel_for(rows * blocks_per_row, parallel_grain(rows * blocks_per_row, block), blocks);
}

} // namespace

int run_cpu(const UnaryProblem& problem, kget_error* error) {
  const RowKernels* kernels = nullptr;
  KGET_KERNEL_CHECK(choose_kernels(problem.dtype, problem.activation, &kernels, error));
  if (problem.grid.rows == 0 || problem.cols == 0) {
    return KGET_KERNEL_OK;
  }
  const int64_t element = problem.dtype == DType::kFloat32 ? 4 : 2;
  auto block = [&](int64_t row, int64_t col, int64_t count) {
    kernels->unary(problem.out + (problem.grid.offset(0, row) + col) * element,
                   problem.input + (problem.grid.offset(1, row) + col) * element, count);
  };
  for_each_block(problem.grid.rows, problem.cols, block);
  return KGET_KERNEL_OK;
}

int run_cpu(const GatedProblem& problem, kget_error* error) {
  const RowKernels* kernels = nullptr;
  KGET_KERNEL_CHECK(choose_kernels(problem.dtype, problem.activation, &kernels, error));
  if (problem.grid.rows == 0 || problem.d == 0) {
    return KGET_KERNEL_OK;
  }
  const int64_t element = problem.dtype == DType::kFloat32 ? 4 : 2;
  auto block = [&](int64_t row, int64_t col, int64_t count) {
    const char* gate = problem.input + (problem.grid.offset(1, row) + col) * element;
    kernels->gated(problem.out + (problem.grid.offset(0, row) + col) * element, gate,
                   gate + problem.d * element, count);
  };
  for_each_block(problem.grid.rows, problem.d, block);
  return KGET_KERNEL_OK;
}

} // namespace kget_kernels::activation
