// The activations on CUDA (docs/kernels.md, "The CUDA variant").
//
// Arithmetic as on the CPU: float32, the same formulas in their x * sigmoid forms (no 1 + tanh or
// 1 + erf, which cancel for x << 0), accurate CUDA math functions (no --use_fast_math), and
// round_T exactly where PyTorch's unfused composition rounds.
//
// Launch shape: 256-thread blocks of (columns x rows) threads, x = min(256, packs per row
// rounded up to a warp), so that short rows share a block; grid-stride loops over both rows and
// columns, with the grid capped (blocks loop over what lies beyond), so any size runs. A pack
// is 16 bytes when the row starts of both tensors are 16-byte aligned (and, for the gated ops,
// d is a whole number of packs), else one element.
#include "../../common/cuda_common.cuh"
#include "activation_cuda.h"

#include <algorithm>

namespace kget_kernels::activation {
namespace {

using cuda::Pack;
using cuda::row_pointer;

constexpr int kBlockThreads = 256;

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

// This thread's rows and columns: threadIdx.y/blockIdx.y go over rows, threadIdx.x/blockIdx.x
// over the packs of a row.
struct Stride2d {
  int64_t first_row;
  int64_t row_step;
  int64_t first_column;
  int64_t column_step;
};

__device__ __forceinline__ Stride2d thread_stride() {
  return Stride2d{static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y,
                  static_cast<int64_t>(gridDim.y) * blockDim.y,
                  static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x,
                  static_cast<int64_t>(gridDim.x) * blockDim.x};
}

template <class Act, class E, int kCount>
__global__ void __launch_bounds__(kBlockThreads) unary_kernel(const UnaryArgs args) {
  const Stride2d stride = thread_stride();
  for (int64_t row = stride.first_row; row < args.grid.rows; row += stride.row_step) {
    int64_t out_offset = 0;
    int64_t input_offset = 0;
    cuda::row_offsets(args.grid, row, &out_offset, &input_offset);
    Pack<E, kCount>* out = row_pointer<E, kCount>(args.out, out_offset);
    const Pack<E, kCount>* input = row_pointer<E, kCount>(args.input, input_offset);
    // Not unrolled: a grid covers up to 2^24 packs at once, so a thread rarely takes more than
    // one, and the unrolled one-element loops spilled around the division's slow-path call on
    // sm_110 and newer.
#pragma unroll 1
    for (int64_t column = stride.first_column; column < args.packs; column += stride.column_step) {
      cuda::store(out + column, activate<Act>(cuda::load(input + column)));
    }
    if constexpr (kCount > 1) {
      // The row's last cols % kCount elements (a contiguous tensor of any size is one row).
      Pack<E, 1>* out_elements = row_pointer<E, 1>(args.out, out_offset);
      const Pack<E, 1>* input_elements = row_pointer<E, 1>(args.input, input_offset);
#pragma unroll 1
      for (int64_t column = args.packs * kCount + stride.first_column; column < args.cols;
           column += stride.column_step) {
        cuda::store(out_elements + column, activate<Act>(cuda::load(input_elements + column)));
      }
    }
  }
}

template <class Act, class E, int kCount>
__global__ void __launch_bounds__(kBlockThreads) gated_kernel(const GatedArgs args) {
  const Stride2d stride = thread_stride();
  for (int64_t row = stride.first_row; row < args.grid.rows; row += stride.row_step) {
    int64_t out_offset = 0;
    int64_t input_offset = 0;
    cuda::row_offsets(args.grid, row, &out_offset, &input_offset);
    Pack<E, kCount>* out = row_pointer<E, kCount>(args.out, out_offset);
    const Pack<E, kCount>* gate = row_pointer<E, kCount>(args.input, input_offset);
    const Pack<E, kCount>* up = row_pointer<E, kCount>(args.input, input_offset + args.d);
    for (int64_t column = stride.first_column; column < args.packs; column += stride.column_step) {
      cuda::store(out + column,
                  activate_and_mul<Act>(cuda::load(gate + column), cuda::load(up + column)));
    }
  }
}

struct Launch {
  dim3 grid;
  dim3 block;
};

// Columns of a block: enough warps for a row's packs, up to the whole block; the rest of the
// block takes further rows. The grid covers every pack once where the caps allow, else loops.
Launch plan(int64_t rows, int64_t packs) {
  const int64_t columns = std::min<int64_t>(
      kBlockThreads, cuda::round_up(std::max<int64_t>(packs, 1), cuda::kWarpSize));
  const int64_t block_rows = kBlockThreads / columns;
  const int64_t grid_rows = std::min(cuda::ceil_div(rows, block_rows), cuda::kMaxGridY);
  const int64_t grid_columns = std::min(cuda::ceil_div(std::max<int64_t>(packs, 1), columns),
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
  const Launch launch = plan(args.grid.rows, args.packs);
  unary_kernel<Act, E, kCount><<<launch.grid, launch.block, 0, stream>>>(args);
}

template <class Act, class E, int kCount>
void launch_gated(GatedArgs args, cudaStream_t stream) {
  args.packs = args.d / kCount;
  const Launch launch = plan(args.grid.rows, args.packs);
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
