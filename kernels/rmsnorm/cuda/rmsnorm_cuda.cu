// rms_norm and fused_add_rms_norm on CUDA (docs/kernels.md, "The CUDA variant").
//
// Arithmetic as on the CPU: float32, the sum of squares accumulated in float32 (per thread, then
// a warp/block tree), inv_rms = 1 / sqrt(sum / H + eps) with IEEE division and square root (no
// --use_fast_math), and round_T exactly where PyTorch's unfused composition rounds.
//
// Launch shapes, by the number of packs P per row (a pack is 16 bytes when every row start, the
// row length and the weight are 16-byte aligned, else one element):
//   P <= 128          a warp per row, 4 rows per 128-thread block, warp-shuffle sum only: short
//                     rows would leave most of a block idle and pay two barriers per row.
//   P <= 4096         a block per row, ceil(P / 4) threads rounded up to a warp, each holding
//                     its <= 4 packs in registers between the sum of squares and the write: one
//                     read and one write of the row (one pass over memory).
//   longer            a block of 512 threads per row in two passes; the second re-reads the
//                     row, mostly from L2 (rows of more than 16384 float32 or 32768 half values).
// Blocks loop over rows past the grid's cap, so any row count runs.
#include "../../common/cuda_common.cuh"
#include "rmsnorm_cuda.h"

#include <algorithm>

namespace kget_kernels::rmsnorm {
namespace {

using cuda::Pack;
using cuda::row_pointer;

constexpr int kCachedPacks = 4;      // packs per thread kept in registers on the cached paths
constexpr int kWarpRowsPerBlock = 4; // rows (warps) per block on the warp-per-row path
constexpr int kWarpBlockThreads = cuda::kWarpSize * kWarpRowsPerBlock;
constexpr int kMaxCachedPacksPerWarp = cuda::kWarpSize * kCachedPacks;
constexpr int kMaxCachedPacksPerBlock = cuda::kMaxBlockThreads * kCachedPacks;
// Threads of a block on the two-pass path: 512 rather than 1024 leaves ptxas 128 registers per
// thread instead of 64 (it spilled at 64 on sm_100), and a row this long still gives each
// thread at least 8 packs per pass.
constexpr int kStreamingThreads = 512;

// Grid tensors: 0 = out, 1 = input.
struct RmsNormArgs {
  RowGrid grid;
  int64_t packs = 0;   // per row
  float hidden = 0.0f; // elements per row: the mean divides by it, as on the CPU
  float eps = 0.0f;
  char* out = nullptr; // may be input (in place): no __restrict__ below
  const char* input = nullptr;
  const char* weight = nullptr;
};

// Grid tensors: 0 = input, 1 = residual.
struct FusedArgs {
  RowGrid grid;
  int64_t packs = 0;
  float hidden = 0.0f;
  float eps = 0.0f;
  char* input = nullptr;
  char* residual = nullptr;
  const char* weight = nullptr;
};

// The threads that normalize one row together.
struct WarpTeam { // block (32, kWarpRowsPerBlock): warp threadIdx.y of block b takes its rows
  __device__ static int rank() { return threadIdx.x; }
  __device__ static int size() { return cuda::kWarpSize; }
  __device__ static int64_t first_row() {
    return static_cast<int64_t>(blockIdx.x) * blockDim.y + threadIdx.y;
  }
  __device__ static int64_t row_step() { return static_cast<int64_t>(gridDim.x) * blockDim.y; }
  __device__ static float sum(float value) { return cuda::warp_sum(value); }
};

struct BlockTeam { // 1-D block, a multiple of 32 threads, one row at a time
  __device__ static int rank() { return threadIdx.x; }
  __device__ static int size() { return blockDim.x; }
  __device__ static int64_t first_row() { return blockIdx.x; }
  __device__ static int64_t row_step() { return gridDim.x; }
  __device__ static float sum(float value) { return cuda::block_sum(value); }
};

template <class E, int kCount>
__device__ __forceinline__ float sum_of_squares(const Pack<E, kCount>& x) {
  float values[kCount];
  cuda::unpack(x, values);
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kCount; ++j) {
    sum = fmaf(values[j], values[j], sum);
  }
  return sum;
}

// round_T(input + residual): the new residual.
template <class E, int kCount>
__device__ __forceinline__ Pack<E, kCount> add_rounded(const Pack<E, kCount>& input,
                                                       const Pack<E, kCount>& residual) {
  float sum[kCount];
  float addend[kCount];
  cuda::unpack(input, sum);
  cuda::unpack(residual, addend);
#pragma unroll
  for (int j = 0; j < kCount; ++j) {
    sum[j] += addend[j];
  }
  return cuda::pack_of<E>(sum);
}

// round_T(round_T(x * inv_rms) * weight).
template <class E, int kCount>
__device__ __forceinline__ Pack<E, kCount> scale(const Pack<E, kCount>& x,
                                                 const Pack<E, kCount>& weight, float inv_rms) {
  float values[kCount];
  float weights[kCount];
  cuda::unpack(x, values);
  cuda::unpack(weight, weights);
#pragma unroll
  for (int j = 0; j < kCount; ++j) {
    values[j] *= inv_rms;
  }
  cuda::round_to_element<E>(values);
#pragma unroll
  for (int j = 0; j < kCount; ++j) {
    values[j] *= weights[j];
  }
  return cuda::pack_of<E>(values);
}

__device__ __forceinline__ float inverse_rms(float sum_of_squares, float hidden, float eps) {
  return 1.0f / sqrtf(sum_of_squares / hidden + eps);
}

template <class E, int kCount, class Team, int kThreads>
__global__ void __launch_bounds__(kThreads) rms_norm_cached(const RmsNormArgs args) {
  using P = Pack<E, kCount>;
  const P* weight = reinterpret_cast<const P*>(args.weight);
  for (int64_t row = Team::first_row(); row < args.grid.rows; row += Team::row_step()) {
    int64_t out_offset = 0;
    int64_t input_offset = 0;
    cuda::row_offsets(args.grid, row, &out_offset, &input_offset);
    P* out = row_pointer<E, kCount>(args.out, out_offset);
    const P* input = row_pointer<E, kCount>(args.input, input_offset);
    P x[kCachedPacks];
    float squares = 0.0f;
#pragma unroll
    for (int k = 0; k < kCachedPacks; ++k) {
      const int index = Team::rank() + k * Team::size();
      if (index < args.packs) {
        x[k] = cuda::load(input + index);
        squares += sum_of_squares(x[k]);
      }
    }
    const float inv_rms = inverse_rms(Team::sum(squares), args.hidden, args.eps);
#pragma unroll
    for (int k = 0; k < kCachedPacks; ++k) {
      const int index = Team::rank() + k * Team::size();
      if (index < args.packs) {
        cuda::store(out + index, scale(x[k], cuda::load(weight + index), inv_rms));
      }
    }
  }
}

template <class E, int kCount>
__global__ void __launch_bounds__(kStreamingThreads) rms_norm_streaming(const RmsNormArgs args) {
  using P = Pack<E, kCount>;
  const P* weight = reinterpret_cast<const P*>(args.weight);
  for (int64_t row = blockIdx.x; row < args.grid.rows; row += gridDim.x) {
    int64_t out_offset = 0;
    int64_t input_offset = 0;
    cuda::row_offsets(args.grid, row, &out_offset, &input_offset);
    P* out = row_pointer<E, kCount>(args.out, out_offset);
    const P* input = row_pointer<E, kCount>(args.input, input_offset);
    float squares = 0.0f;
    for (int64_t index = threadIdx.x; index < args.packs; index += blockDim.x) {
      squares += sum_of_squares(cuda::load(input + index));
    }
    const float inv_rms = inverse_rms(cuda::block_sum(squares), args.hidden, args.eps);
    // Each thread rewrites only the packs it read itself, so in place is safe.
    for (int64_t index = threadIdx.x; index < args.packs; index += blockDim.x) {
      cuda::store(out + index,
                  scale(cuda::load(input + index), cuda::load(weight + index), inv_rms));
    }
  }
}

template <class E, int kCount, class Team, int kThreads>
__global__ void __launch_bounds__(kThreads) fused_add_rms_norm_cached(const FusedArgs args) {
  using P = Pack<E, kCount>;
  const P* weight = reinterpret_cast<const P*>(args.weight);
  for (int64_t row = Team::first_row(); row < args.grid.rows; row += Team::row_step()) {
    int64_t input_offset = 0;
    int64_t residual_offset = 0;
    cuda::row_offsets(args.grid, row, &input_offset, &residual_offset);
    P* input = row_pointer<E, kCount>(args.input, input_offset);
    P* residual = row_pointer<E, kCount>(args.residual, residual_offset);
    P sum[kCachedPacks];
    float squares = 0.0f;
#pragma unroll
    for (int k = 0; k < kCachedPacks; ++k) {
      const int index = Team::rank() + k * Team::size();
      if (index < args.packs) {
        sum[k] = add_rounded(cuda::load(input + index), cuda::load(residual + index));
        cuda::store(residual + index, sum[k]);
        squares += sum_of_squares(sum[k]);
      }
    }
    const float inv_rms = inverse_rms(Team::sum(squares), args.hidden, args.eps);
#pragma unroll
    for (int k = 0; k < kCachedPacks; ++k) {
      const int index = Team::rank() + k * Team::size();
      if (index < args.packs) {
        cuda::store(input + index, scale(sum[k], cuda::load(weight + index), inv_rms));
      }
    }
  }
}

template <class E, int kCount>
__global__ void __launch_bounds__(kStreamingThreads)
    fused_add_rms_norm_streaming(const FusedArgs args) {
  using P = Pack<E, kCount>;
  const P* weight = reinterpret_cast<const P*>(args.weight);
  for (int64_t row = blockIdx.x; row < args.grid.rows; row += gridDim.x) {
    int64_t input_offset = 0;
    int64_t residual_offset = 0;
    cuda::row_offsets(args.grid, row, &input_offset, &residual_offset);
    P* input = row_pointer<E, kCount>(args.input, input_offset);
    P* residual = row_pointer<E, kCount>(args.residual, residual_offset);
    float squares = 0.0f;
    for (int64_t index = threadIdx.x; index < args.packs; index += blockDim.x) {
      const P sum = add_rounded(cuda::load(input + index), cuda::load(residual + index));
      cuda::store(residual + index, sum);
      squares += sum_of_squares(sum);
    }
    const float inv_rms = inverse_rms(cuda::block_sum(squares), args.hidden, args.eps);
    // The second pass reads back the residual packs this same thread wrote in the first.
    for (int64_t index = threadIdx.x; index < args.packs; index += blockDim.x) {
      cuda::store(input + index,
                  scale(cuda::load(residual + index), cuda::load(weight + index), inv_rms));
    }
  }
}

enum class RowShape { kWarpPerRow, kBlockPerRow, kStreaming };

struct RowLaunch {
  RowShape shape = RowShape::kStreaming;
  dim3 grid;
  dim3 block;
};

RowLaunch plan_rows(int64_t rows, int64_t packs) {
  RowLaunch launch;
  if (packs <= kMaxCachedPacksPerWarp) {
    launch.shape = RowShape::kWarpPerRow;
    launch.block = dim3(cuda::kWarpSize, kWarpRowsPerBlock);
    launch.grid = dim3(static_cast<unsigned>(
        std::min(cuda::ceil_div(rows, kWarpRowsPerBlock), cuda::kMaxGridBlocks)));
  } else if (packs <= kMaxCachedPacksPerBlock) {
    launch.shape = RowShape::kBlockPerRow;
    launch.block = dim3(static_cast<unsigned>(
        cuda::round_up(cuda::ceil_div(packs, kCachedPacks), cuda::kWarpSize)));
    launch.grid = dim3(static_cast<unsigned>(std::min(rows, cuda::kMaxGridBlocks)));
  } else {
    launch.shape = RowShape::kStreaming;
    launch.block = dim3(kStreamingThreads);
    launch.grid = dim3(static_cast<unsigned>(std::min(rows, cuda::kMaxGridBlocks)));
  }
  return launch;
}

template <class E, int kCount>
void launch_rms_norm(const RowLaunch& launch, const RmsNormArgs& args, cudaStream_t stream) {
  switch (launch.shape) {
  case RowShape::kWarpPerRow:
    rms_norm_cached<E, kCount, WarpTeam, kWarpBlockThreads>
        <<<launch.grid, launch.block, 0, stream>>>(args);
    break;
  case RowShape::kBlockPerRow:
    rms_norm_cached<E, kCount, BlockTeam, cuda::kMaxBlockThreads>
        <<<launch.grid, launch.block, 0, stream>>>(args);
    break;
  case RowShape::kStreaming:
    rms_norm_streaming<E, kCount><<<launch.grid, launch.block, 0, stream>>>(args);
    break;
  }
}

template <class E, int kCount>
void launch_fused(const RowLaunch& launch, const FusedArgs& args, cudaStream_t stream) {
  switch (launch.shape) {
  case RowShape::kWarpPerRow:
    fused_add_rms_norm_cached<E, kCount, WarpTeam, kWarpBlockThreads>
        <<<launch.grid, launch.block, 0, stream>>>(args);
    break;
  case RowShape::kBlockPerRow:
    fused_add_rms_norm_cached<E, kCount, BlockTeam, cuda::kMaxBlockThreads>
        <<<launch.grid, launch.block, 0, stream>>>(args);
    break;
  case RowShape::kStreaming:
    fused_add_rms_norm_streaming<E, kCount><<<launch.grid, launch.block, 0, stream>>>(args);
    break;
  }
}

// The 16-byte path applies when every row of both row tensors and the weight start on a 16-byte
// boundary and a row is a whole number of packs; anything else takes the one-element path.
template <class E>
bool vectorizable(const RowGrid& grid, int64_t hidden, const void* first, const void* second,
                  const void* weight) {
  return hidden % cuda::kVectorCount<E> == 0 && cuda::vector_aligned(first) &&
         cuda::vector_aligned(second) && cuda::vector_aligned(weight) &&
         cuda::row_strides_aligned(grid, sizeof(typename E::Storage));
}

// with_element_type's status: anything but OK means `dtype` has no kernel here and nothing was
// launched. ops.cpp admits float32, float16 and bfloat16 only, so this is a bug in the kernel.
int check_element_type(int status, DType dtype, const char* op, kget_error* error) {
  if (status == KGET_KERNEL_OK) {
    return KGET_KERNEL_OK;
  }
  return kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL,
                        "%s: the CUDA backend has no kernel for dtype %d, which ops.cpp accepted; "
                        "this is a bug in the rmsnorm kernel, please report it",
                        op, static_cast<int>(dtype));
}

} // namespace

int run_cuda(const RmsNormProblem& problem, kget_error* error) {
  if (problem.grid.rows == 0 || problem.hidden == 0) {
    return KGET_KERNEL_OK;
  }
  cuda::DeviceGuard guard;
  KGET_KERNEL_CHECK(guard.enter(problem.device, "rms_norm", error));
  const auto stream = static_cast<cudaStream_t>(problem.stream);
  RmsNormArgs args;
  args.grid = problem.grid;
  args.hidden = static_cast<float>(problem.hidden);
  args.eps = problem.eps;
  args.out = problem.out;
  args.input = problem.input;
  args.weight = problem.weight;
  const int launched = cuda::with_element_type(problem.dtype, [&](auto element) {
    using E = decltype(element);
    constexpr int kVector = cuda::kVectorCount<E>;
    if (vectorizable<E>(problem.grid, problem.hidden, problem.out, problem.input, problem.weight)) {
      args.packs = problem.hidden / kVector;
      launch_rms_norm<E, kVector>(plan_rows(problem.grid.rows, args.packs), args, stream);
    } else {
      args.packs = problem.hidden;
      launch_rms_norm<E, 1>(plan_rows(problem.grid.rows, args.packs), args, stream);
    }
    return KGET_KERNEL_OK;
  });
  KGET_KERNEL_CHECK(check_element_type(launched, problem.dtype, "rms_norm", error));
  return cuda::check_launch(error, "rms_norm", problem.device);
}

int run_cuda(const FusedAddRmsNormProblem& problem, kget_error* error) {
  if (problem.grid.rows == 0 || problem.hidden == 0) {
    return KGET_KERNEL_OK;
  }
  cuda::DeviceGuard guard;
  KGET_KERNEL_CHECK(guard.enter(problem.device, "fused_add_rms_norm", error));
  const auto stream = static_cast<cudaStream_t>(problem.stream);
  FusedArgs args;
  args.grid = problem.grid;
  args.hidden = static_cast<float>(problem.hidden);
  args.eps = problem.eps;
  args.input = problem.input;
  args.residual = problem.residual;
  args.weight = problem.weight;
  const int launched = cuda::with_element_type(problem.dtype, [&](auto element) {
    using E = decltype(element);
    constexpr int kVector = cuda::kVectorCount<E>;
    if (vectorizable<E>(problem.grid, problem.hidden, problem.input, problem.residual,
                        problem.weight)) {
      args.packs = problem.hidden / kVector;
      launch_fused<E, kVector>(plan_rows(problem.grid.rows, args.packs), args, stream);
    } else {
      args.packs = problem.hidden;
      launch_fused<E, 1>(plan_rows(problem.grid.rows, args.packs), args, stream);
    }
    return KGET_KERNEL_OK;
  });
  KGET_KERNEL_CHECK(check_element_type(launched, problem.dtype, "fused_add_rms_norm", error));
  return cuda::check_launch(error, "fused_add_rms_norm", problem.device);
}

} // namespace kget_kernels::rmsnorm
