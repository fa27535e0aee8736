// kget-tests/cutlass-groups: a CUDA-only test kernel whose code paths are build.toml groups
// compiled for different targets (sm90: sm_90a wgmma; sm80: sm_80 mma.sync plus compute_80
// PTX). This shared source is compiled for the union of the groups' targets, so it holds no
// device code: it validates the arguments, asks the device's compute capability, picks the path
// (kernels/common/cuda_paths.h; KGET_KERNEL_CUDA_PATH forces one) among the groups this build
// has, and calls that group's launcher.
#include "common/cuda_device.cuh"
#include "common/cuda_paths.h"
#include "common/dtype.h"
#include "common/op_guard.h"
#include "common/tensor_args.h"
#include "gemm.h"

#include <cinttypes>
#include <climits>
#include <cstdint>
#include <kget/kernel_abi.h>

#ifdef KGET_CUDA_PATH_SM90
#define CUTLASS_GROUPS_SM90_TARGETS KGET_CUDA_PATH_TARGETS(KGET_CUDA_PATH_SM90)
#else
#define CUTLASS_GROUPS_SM90_TARGETS nullptr
#endif
#ifdef KGET_CUDA_PATH_SM80
#define CUTLASS_GROUPS_SM80_TARGETS KGET_CUDA_PATH_TARGETS(KGET_CUDA_PATH_SM80)
#else
#define CUTLASS_GROUPS_SM80_TARGETS nullptr
#endif

namespace cutlass_groups {
namespace {

using kget_kernels::Args;
using kget_kernels::Backend;
using kget_kernels::CudaPath;
using kget_kernels::DType;
using kget_kernels::Tensor;

constexpr const char* kGemmSchema = "gemm(Tensor! out, Tensor a, Tensor b, Stream stream) -> ()";
constexpr int kInvalid = KGET_KERNEL_ERROR_INVALID_ARGUMENT;
constexpr int kUnsupported = KGET_KERNEL_ERROR_UNSUPPORTED;

// In order of preference: wgmma where the GPU is a 9.0, mma.sync (SASS or its PTX) elsewhere.
enum PathIndex : size_t { kSm90 = 0, kSm80 = 1 };
constexpr CudaPath kPaths[] = {
    {"sm90", CUTLASS_GROUPS_SM90_TARGETS},
    {"sm80", CUTLASS_GROUPS_SM80_TARGETS},
};

int check_dtype(const Tensor& tensor, DType expected, kget_error* error) {
  if (tensor.dtype != expected) {
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected dtype %s, got %s",
                          tensor.index, tensor.name, kget_kernels::dtype_name(expected),
                          kget_kernels::dtype_name(tensor.dtype));
  }
  return KGET_KERNEL_OK;
}

int check_matrix(const Tensor& tensor, const char* dims, kget_error* error) {
  if (tensor.ndim() != 2) {
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected a 2-D tensor %s, got %d-D",
                          tensor.index, tensor.name, dims, tensor.ndim());
  }
  return KGET_KERNEL_OK;
}

int check_extent(const Tensor& tensor, int dim, int64_t expected, const char* what,
                 kget_error* error) {
  if (tensor.size(dim) != expected) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected %" PRId64
                          " (%s) in dimension %d, got %" PRId64,
                          tensor.index, tensor.name, expected, what, dim, tensor.size(dim));
  }
  return KGET_KERNEL_OK;
}

// The kernels cover out with whole 64 x 64 tiles and walk K 64 at a time, without edge code.
int check_tile_multiple(const Tensor& tensor, int dim, const char* what, kget_error* error) {
  if (tensor.size(dim) % kTile != 0) {
    return kget_set_error(error, kUnsupported,
                          "argument %zu (%s): %s = %" PRId64 " is not a multiple of %" PRId64
                          ", which this kernel needs (it computes whole %" PRId64 " x %" PRId64
                          " tiles)",
                          tensor.index, tensor.name, what, tensor.size(dim), kTile, kTile, kTile);
  }
  return KGET_KERNEL_OK;
}

// cp.async moves 16 bytes at a time; rows are 128-byte multiples once the extents are multiples
// of 64, so the first element's alignment is the only one left to check.
int check_aligned(const Tensor& tensor, kget_error* error) {
  const auto address = reinterpret_cast<uintptr_t>(tensor.data());
  if (address % 16 != 0) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected data + byte_offset aligned to 16 bytes, "
                          "got address 0x%" PRIxPTR,
                          tensor.index, tensor.name, address);
  }
  return KGET_KERNEL_OK;
}

int launch(size_t path, const GemmProblem& problem, kget_error* error) {
  switch (path) {
  case kSm90:
#ifdef KGET_CUDA_PATH_SM90
    return launch_gemm_sm90(problem, error);
#else
    break; // choose_cuda_path never picks a path without targets
#endif
  case kSm80:
#ifdef KGET_CUDA_PATH_SM80
    return launch_gemm_sm80(problem, error);
#else
    break;
#endif
  default:
    break;
  }
  return kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL,
                        "gemm: path %zu was chosen but is not built; this is a bug in the "
                        "cutlass-groups kernel",
                        path);
}

int gemm(const kget_arg* raw_args, size_t nargs, kget_error* error) {
  const Args args(raw_args, nargs, "Tensor! out, Tensor a, Tensor b, Stream stream", error);
  KGET_KERNEL_CHECK(args.check_count(4));
  Tensor out;
  Tensor a;
  Tensor b;
  GemmProblem problem;
  KGET_KERNEL_CHECK(args.tensor(0, "out", &out));
  KGET_KERNEL_CHECK(args.tensor(1, "a", &a));
  KGET_KERNEL_CHECK(args.tensor(2, "b", &b));
  KGET_KERNEL_CHECK(args.stream(3, "stream", &problem.stream));

  const Tensor* tensors[] = {&out, &a, &b};
  Backend backend = Backend::kCpu;
  KGET_KERNEL_CHECK(kget_kernels::check_devices(tensors, 3, &backend, error));
  if (backend != Backend::kCuda) {
    return kget_set_error(error, kInvalid,
                          "argument 0 (out): expected a CUDA tensor (kDLCUDA), got host memory: "
                          "this kernel has no CPU backend");
  }
  KGET_KERNEL_CHECK(check_dtype(out, DType::kFloat32, error));
  KGET_KERNEL_CHECK(check_dtype(a, DType::kFloat16, error));
  KGET_KERNEL_CHECK(check_dtype(b, DType::kFloat16, error));
  KGET_KERNEL_CHECK(check_matrix(out, "(M, N)", error));
  KGET_KERNEL_CHECK(check_matrix(a, "(M, K)", error));
  KGET_KERNEL_CHECK(check_matrix(b, "(N, K)", error));
  problem.m = a.size(0);
  problem.k = a.size(1);
  problem.n = b.size(0);
  KGET_KERNEL_CHECK(check_extent(b, 1, problem.k, "K, the second dimension of a", error));
  KGET_KERNEL_CHECK(check_extent(out, 0, problem.m, "M, the first dimension of a", error));
  KGET_KERNEL_CHECK(check_extent(out, 1, problem.n, "N, the first dimension of b", error));
  KGET_KERNEL_CHECK(check_tile_multiple(a, 0, "M", error));
  KGET_KERNEL_CHECK(check_tile_multiple(a, 1, "K", error));
  KGET_KERNEL_CHECK(check_tile_multiple(b, 0, "N", error));
  for (const Tensor* tensor : tensors) {
    KGET_KERNEL_CHECK(kget_kernels::check_memory(*tensor, tensor == &out, error));
    KGET_KERNEL_CHECK(kget_kernels::check_contiguous(*tensor, error));
    KGET_KERNEL_CHECK(check_aligned(*tensor, error));
  }
  KGET_KERNEL_CHECK(kget_kernels::check_disjoint(out, a, error));
  KGET_KERNEL_CHECK(kget_kernels::check_disjoint(out, b, error));
  // One block per tile in gridDim.x (at most 2^31 - 1): 2^43 output elements, far more than any
  // GPU holds, but refused rather than wrapped.
  if ((problem.m / kTile) * (problem.n / kTile) > INT_MAX) {
    return kget_set_error(error, kUnsupported,
                          "argument 0 (out): %" PRId64 " x %" PRId64
                          " is more than the %d 64 x 64 tiles one launch covers",
                          problem.m, problem.n, INT_MAX);
  }
  if (problem.m == 0 || problem.n == 0) {
    return KGET_KERNEL_OK;
  }
  problem.out = reinterpret_cast<float*>(out.data());
  problem.a = a.data();
  problem.b = b.data();
  problem.device = out.dl->device.device_id;

  kget_kernels::cuda::DeviceGuard guard;
  KGET_KERNEL_CHECK(guard.enter(problem.device, "gemm", error));
  kget_kernels::ComputeCapability capability;
  KGET_KERNEL_CHECK(
      kget_kernels::cuda::device_capability(problem.device, "gemm", &capability, error));
  size_t path = 0;
  KGET_KERNEL_CHECK(kget_kernels::choose_cuda_path(kPaths, sizeof kPaths / sizeof kPaths[0], "gemm",
                                                   problem.device, capability, &path, error));
  return launch(path, problem, error);
}

// Static storage, valid for as long as the library is loaded (docs/kernel-abi.md).
constexpr kget_op kOps[] = {
    {"gemm", kGemmSchema, &kget_kernels::guarded_op<gemm>, nullptr},
};

constexpr kget_kernel_descriptor kDescriptor = {
    KGET_KERNEL_ABI_VERSION_MAJOR,
    KGET_KERNEL_ABI_VERSION_MINOR,
    "cutlass_groups",
    "1",
    sizeof kOps / sizeof kOps[0],
    kOps,
};

} // namespace
} // namespace cutlass_groups

// Uses nothing newer than ABI 1.0, so it serves every 1.x host; another major gets NULL.
extern "C" KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t host_major,
                                                                             uint32_t host_minor) {
  (void)host_minor;
  if (host_major != KGET_KERNEL_ABI_VERSION_MAJOR) {
    return nullptr;
  }
  return &cutlass_groups::kDescriptor;
}
