// The activations on CUDA (docs/kernels.md, "The CUDA variant").
//
// Arithmetic as on the CPU: float32, the same formulas in their x * sigmoid forms (no 1 + tanh or
// 1 + erf, which cancel for x << 0), accurate CUDA math functions (no --use_fast_math), and
// round_T exactly where PyTorch's unfused composition rounds.
//
// Launch shape: 256-thread blocks of (columns x rows) threads. A block row works on tiles of
// columns * kPacks packs of one row: thread x takes packs x, x + columns, ... of the tile (each
// access coalesced across the warp), loads all of them into registers, then computes and stores
// them, so that several 16-byte loads per thread are in flight at once. columns = min(256, the
// row's packs / kPacks rounded up to a warp), so that short rows share a block; grid-stride loops
// over rows and over the tiles of a row, with the grid capped (blocks loop over what lies
// beyond), so any size runs. A pack is 16 bytes when the row starts of both tensors are 16-byte
// aligned (and, for the gated ops, d is a whole number of packs), else one element.
#include "../../common/cuda_common.cuh"
#include "activation_cuda.h"

#include <algorithm>

namespace kget_kernels::activation {
namespace {

using cuda::Pack;
using cuda::row_pointer;

constexpr int kBlockThreads = 256;
// Packs each thread loads before it uses any, per tile. A memory-bound kernel gets bandwidth x
// latency bytes per second only with that many bytes in flight (Little's law): on an H200,
// 4.8 TB/s at ~0.7 us is ~26 KB per SM, which one 16-byte load per thread (32 KB at full
// occupancy) barely reaches, and not while blocks drain and start. Unary: 4 loads a thread;
// gated: 2 packs each of gate and up, also 4. More would cost registers (4 per pack) for little.
constexpr int kUnaryPacks = 4;
constexpr int kGatedPacks = 2;

// GELU, tanh approximation: x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as
// x * sigmoid(2u) = x / (1 + 2^y), y = -2u log2(e) = x (a + b x^2), as vec_math.h does. tanhf
// would be accurate to 2 ulp, but 1 + tanh(u) cancels for x << 0 (5e-5 relative at x = -3).
// y = +inf gives x / inf = 0 (NaN for x = -inf); NaN stays NaN.
struct GeluTanh {
  __device__ __forceinline__ static float apply(float x) {
    // -2k log2(e) (1 + 0.044715 x^2), k = sqrt(2/pi)
    const float y_over_x = fmaf(x * x, -0.10294324f, -2.30220820f);
    return x / (1.0f + exp2f(x * y_over_x));
  }
};

// GELU, exact: x Phi(x). normcdff is accurate to 5 ulp over the whole range, both tails
// included (x/2 (1 + erf(x / sqrt 2)) would cancel for x << 0).
struct GeluErf {
  __device__ __forceinline__ static float apply(float x) { return x * normcdff(x); }
};

// SiLU: x / (1 + e^-x).
struct Silu {
  __device__ __forceinline__ static float apply(float x) { return x / (1.0f + expf(-x)); }
};

// Grid tensors: 0 = out, 1 = input.
struct UnaryArgs {
  RowGrid grid;
  int64_t packs = 0;   // whole packs per row
  int64_t cols = 0;    // elements per row; those past packs * kCount go one by one
  char* out = nullptr; // may be input (in place): each element is read before it is written
  const char* input = nullptr;
};

// Grid tensors: 0 = out, 1 = input (gate = its first d elements, up = the next d).
struct GatedArgs {
  RowGrid grid;
  int64_t packs = 0; // per row of out: d is a whole number of packs
  int64_t d = 0;
  char* out = nullptr;
  const char* input = nullptr;
};

// round_T(act(x)).
template <class Act, class E, int kCount>
__device__ __forceinline__ Pack<E, kCount> activate(const Pack<E, kCount>& x) {
  float values[kCount];
  cuda::unpack(x, values);
#pragma unroll
  for (int j = 0; j < kCount; ++j) {
    values[j] = Act::apply(values[j]);
  }
  return cuda::pack_of<E>(values);
}

// round_T(round_T(act(gate)) * up).
template <class Act, class E, int kCount>
__device__ __forceinline__ Pack<E, kCount> activate_and_mul(const Pack<E, kCount>& gate,
                                                            const Pack<E, kCount>& up) {
  float values[kCount];
  float ups[kCount];
  cuda::unpack(gate, values);
  cuda::unpack(up, ups);
#pragma unroll
  for (int j = 0; j < kCount; ++j) {
    values[j] = Act::apply(values[j]);
  }
  cuda::round_to_element<E>(values);
#pragma unroll
  for (int j = 0; j < kCount; ++j) {
    values[j] *= ups[j];
  }
  return cuda::pack_of<E>(values);
}

// This thread's rows and packs: threadIdx.y/blockIdx.y go over rows; blockIdx.x over tiles of
// blockDim.x * kPacks packs of a row, threadIdx.x over the packs of a tile, blockDim.x apart.
// 32-bit: the grid's caps keep every start and step below 2^27 (the loop counters are 64-bit),
// and these live across the division's slow-path calls, around which ptxas must keep or spill
// them (in 64 bits it spilled 4 bytes in unary_kernel<Silu, Float32> on sm_75 to sm_90).
struct Tiling {
  uint32_t first_row;
  uint32_t row_step;
  uint32_t first_pack;  // of this thread's first tile
  uint32_t tile_step;   // to the same thread's pack in its next tile
  uint32_t first_index; // one element per thread, for the unary tails: this thread's first
  uint32_t index_step;  // and the step to its next
};

template <int kPacks>
__device__ __forceinline__ Tiling thread_tiling() {
  const uint32_t tile = blockDim.x * kPacks;
  return Tiling{blockIdx.y * blockDim.y + threadIdx.y, gridDim.y * blockDim.y,
                blockIdx.x * tile + threadIdx.x,       gridDim.x * tile,
                blockIdx.x * blockDim.x + threadIdx.x, gridDim.x * blockDim.x};
}

template <class Act, class E, int kCount>
__global__ void __launch_bounds__(kBlockThreads) unary_kernel(const UnaryArgs args) {
  const Tiling tiling = thread_tiling<kUnaryPacks>();
  const uint32_t lane_step = blockDim.x;
  for (int64_t row = tiling.first_row; row < args.grid.rows; row += tiling.row_step) {
    int64_t out_offset = 0;
    int64_t input_offset = 0;
    cuda::row_offsets(args.grid, row, &out_offset, &input_offset);
    Pack<E, kCount>* out = row_pointer<E, kCount>(args.out, out_offset);
    const Pack<E, kCount>* input = row_pointer<E, kCount>(args.input, input_offset);
    // Only the packs within a tile are unrolled, not the tile loop: unrolled, the one-element
    // kernels' loops spilled around the division's slow-path call on sm_110 and newer.
#pragma unroll 1
    for (int64_t first = tiling.first_pack; first < args.packs; first += tiling.tile_step) {
      // Every load before any use, so that they are in flight together. In place is still safe:
      // each thread reads exactly the elements it writes, before it writes them.
      Pack<E, kCount> x[kUnaryPacks];
#pragma unroll
      for (int k = 0; k < kUnaryPacks; ++k) {
        if (first + k * lane_step < args.packs) {
          x[k] = cuda::load(input + first + k * lane_step);
        }
      }
#pragma unroll
      for (int k = 0; k < kUnaryPacks; ++k) {
        if (first + k * lane_step < args.packs) {
          cuda::store(out + first + k * lane_step, activate<Act>(x[k]));
        }
      }
    }
    if constexpr (kCount > 1) {
      // The row's last cols % kCount elements (a contiguous tensor of any size is one row).
      Pack<E, 1>* out_elements = row_pointer<E, 1>(args.out, out_offset);
      const Pack<E, 1>* input_elements = row_pointer<E, 1>(args.input, input_offset);
#pragma unroll 1
      for (int64_t column = args.packs * kCount + tiling.first_index; column < args.cols;
           column += tiling.index_step) {
        cuda::store(out_elements + column, activate<Act>(cuda::load(input_elements + column)));
      }
    }
  }
}

template <class Act, class E, int kCount>
__global__ void __launch_bounds__(kBlockThreads) gated_kernel(const GatedArgs args) {
  const Tiling tiling = thread_tiling<kGatedPacks>();
  const uint32_t lane_step = blockDim.x;
  for (int64_t row = tiling.first_row; row < args.grid.rows; row += tiling.row_step) {
    int64_t out_offset = 0;
    int64_t input_offset = 0;
    cuda::row_offsets(args.grid, row, &out_offset, &input_offset);
    Pack<E, kCount>* out = row_pointer<E, kCount>(args.out, out_offset);
    const Pack<E, kCount>* gate = row_pointer<E, kCount>(args.input, input_offset);
    const Pack<E, kCount>* up = row_pointer<E, kCount>(args.input, input_offset + args.d);
#pragma unroll 1
    for (int64_t first = tiling.first_pack; first < args.packs; first += tiling.tile_step) {
      Pack<E, kCount> gates[kGatedPacks];
      Pack<E, kCount> ups[kGatedPacks];
#pragma unroll
      for (int k = 0; k < kGatedPacks; ++k) {
        if (first + k * lane_step < args.packs) {
          gates[k] = cuda::load(gate + first + k * lane_step);
          ups[k] = cuda::load(up + first + k * lane_step);
        }
      }
#pragma unroll
      for (int k = 0; k < kGatedPacks; ++k) {
        if (first + k * lane_step < args.packs) {
          cuda::store(out + first + k * lane_step, activate_and_mul<Act>(gates[k], ups[k]));
        }
      }
    }
  }
}

struct Launch {
  dim3 grid;
  dim3 block;
};

// Columns of a block: enough warps for a row's packs at kPacks a thread, up to the whole block;
// the rest of the block takes further rows. The grid covers every tile once where the caps
// allow, else loops.
Launch plan(int64_t rows, int64_t packs, int64_t packs_per_thread) {
  const int64_t row_packs = std::max<int64_t>(packs, 1);
  const int64_t columns = std::min<int64_t>(
      kBlockThreads, cuda::round_up(cuda::ceil_div(row_packs, packs_per_thread), cuda::kWarpSize));
  const int64_t block_rows = kBlockThreads / columns;
  const int64_t grid_rows = std::min(cuda::ceil_div(rows, block_rows), cuda::kMaxGridY);
  const int64_t grid_columns = std::min(cuda::ceil_div(row_packs, columns * packs_per_thread),
                                        std::max<int64_t>(1, cuda::kMaxGridBlocks / grid_rows));
  Launch launch;
  launch.block = dim3(static_cast<unsigned>(columns), static_cast<unsigned>(block_rows));
  launch.grid = dim3(static_cast<unsigned>(grid_columns), static_cast<unsigned>(grid_rows));
  return launch;
}

// Calls fn(Act{}) with the functor of `activation`; returns what fn returns, or
// KGET_KERNEL_ERROR_INTERNAL (nothing called) for an activation it does not know.
template <class Fn>
int with_activation(Activation activation, Fn&& fn) {
  switch (activation) {
  case Activation::kGeluTanh:
    return fn(GeluTanh{});
  case Activation::kGeluErf:
    return fn(GeluErf{});
  case Activation::kSilu:
    return fn(Silu{});
  }
  return KGET_KERNEL_ERROR_INTERNAL;
}

// The status of with_activation and with_element_type: anything but OK means the problem's
// activation or dtype has no kernel here and nothing was launched. ops.cpp builds only known
// ones, so this is a bug in the kernel.
int check_dispatched(int status, const char* op, DType dtype, Activation activation,
                     kget_error* error) {
  if (status == KGET_KERNEL_OK) {
    return KGET_KERNEL_OK;
  }
  return kget_set_error(
      error, KGET_KERNEL_ERROR_INTERNAL,
      "%s: the CUDA backend has no kernel for dtype %d and activation %d, which "
      "ops.cpp accepted; this is a bug in the activation kernel, please report it",
      op, static_cast<int>(dtype), static_cast<int>(activation));
}

// 16-byte packs need every row start of out and input on a 16-byte boundary.
template <class E>
bool rows_vector_aligned(const RowGrid& grid, const void* out, const void* input) {
  return cuda::vector_aligned(out) && cuda::vector_aligned(input) &&
         cuda::row_strides_aligned(grid, sizeof(typename E::Storage));
}

template <class Act, class E, int kCount>
void launch_unary(UnaryArgs args, cudaStream_t stream) {
  args.packs = args.cols / kCount;
  const Launch launch = plan(args.grid.rows, args.packs, kUnaryPacks);
  unary_kernel<Act, E, kCount><<<launch.grid, launch.block, 0, stream>>>(args);
}

template <class Act, class E, int kCount>
void launch_gated(GatedArgs args, cudaStream_t stream) {
  args.packs = args.d / kCount;
  const Launch launch = plan(args.grid.rows, args.packs, kGatedPacks);
  gated_kernel<Act, E, kCount><<<launch.grid, launch.block, 0, stream>>>(args);
}

} // namespace

int run_cuda(const UnaryProblem& problem, kget_error* error) {
  if (problem.grid.rows == 0 || problem.cols == 0) {
    return KGET_KERNEL_OK;
  }
  cuda::DeviceGuard guard;
  KGET_KERNEL_CHECK(guard.enter(problem.device, problem.op, error));
  const auto stream = static_cast<cudaStream_t>(problem.stream);
  UnaryArgs args;
  args.grid = problem.grid;
  args.cols = problem.cols;
  args.out = problem.out;
  args.input = problem.input;
  const int launched = with_activation(problem.activation, [&](auto act) {
    using Act = decltype(act);
    return cuda::with_element_type(problem.dtype, [&](auto element) {
      using E = decltype(element);
      if (rows_vector_aligned<E>(problem.grid, problem.out, problem.input)) {
        launch_unary<Act, E, cuda::kVectorCount<E>>(args, stream);
      } else {
        launch_unary<Act, E, 1>(args, stream);
      }
      return KGET_KERNEL_OK;
    });
  });
  KGET_KERNEL_CHECK(
      check_dispatched(launched, problem.op, problem.dtype, problem.activation, error));
  return cuda::check_launch(error, problem.op, problem.device);
}

int run_cuda(const GatedProblem& problem, kget_error* error) {
  if (problem.grid.rows == 0 || problem.d == 0) {
    return KGET_KERNEL_OK;
  }
  cuda::DeviceGuard guard;
  KGET_KERNEL_CHECK(guard.enter(problem.device, problem.op, error));
  const auto stream = static_cast<cudaStream_t>(problem.stream);
  GatedArgs args;
  args.grid = problem.grid;
  args.d = problem.d;
  args.out = problem.out;
  args.input = problem.input;
  const int launched = with_activation(problem.activation, [&](auto act) {
    using Act = decltype(act);
    return cuda::with_element_type(problem.dtype, [&](auto element) {
      using E = decltype(element);
      if (problem.d % cuda::kVectorCount<E> == 0 &&
          rows_vector_aligned<E>(problem.grid, problem.out, problem.input)) {
        launch_gated<Act, E, cuda::kVectorCount<E>>(args, stream);
      } else {
        launch_gated<Act, E, 1>(args, stream);
      }
      return KGET_KERNEL_OK;
    });
  });
  KGET_KERNEL_CHECK(
      check_dispatched(launched, problem.op, problem.dtype, problem.activation, error));
  return cuda::check_launch(error, problem.op, problem.device);
}

} // namespace kget_kernels::activation
