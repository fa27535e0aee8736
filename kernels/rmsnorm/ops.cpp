// kernels-community/rmsnorm: the kget C ABI glue. Validates every argument once, then hands a
// RmsNormProblem to the backend of the tensors' device (cpu/, and cuda/ when built with
// KGET_KERNEL_WITH_CUDA). Semantics and rules: docs/kernels.md.
#include "../common/op_guard.h"
#include "../common/row_grid.h"
#include "../common/tensor_args.h"
#include "cpu/rmsnorm_cpu.h"
#include "rmsnorm_problem.h"
#ifdef KGET_KERNEL_WITH_CUDA
#include "cuda/rmsnorm_cuda.h"
#endif

#include <cfloat>
#include <kget/kernel_abi.h>

namespace kget_kernels::rmsnorm {
namespace {

constexpr const char* kRmsNormSchema =
    "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps, Stream stream) -> ()";
constexpr const char* kFusedAddRmsNormSchema =
    "fused_add_rms_norm(Tensor! input, Tensor! residual, Tensor weight, float eps, "
    "Stream stream) -> ()";

// eps is added to a float32 mean: it must be a float32 number, and negative values could make
// the square root NaN.
int read_eps(const Args& args, size_t index, float* eps) {
  double value = 0.0;
  KGET_KERNEL_CHECK(args.float_value(index, "eps", &value));
  if (value < 0.0 || value > FLT_MAX) {
    return kget_set_error(args.error(), KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (eps): expected a number from 0 to %g (float32), got %g",
                          index, static_cast<double>(FLT_MAX), value);
  }
  *eps = static_cast<float>(value);
  return KGET_KERNEL_OK;
}

// The weight of a row of `hidden` elements: [hidden], contiguous, dtype of `reference`.
int check_weight(const Tensor& weight, const Tensor& reference, int64_t hidden, kget_error* error) {
  KGET_KERNEL_CHECK(check_dtype_like(weight, reference, error));
  KGET_KERNEL_CHECK(check_vector(weight, hidden, "the last dimension of input", error));
  KGET_KERNEL_CHECK(check_memory(weight, false, error));
  return check_contiguous(weight, error);
}

template <class Problem>
int dispatch(Backend backend, const Problem& problem, kget_error* error) {
  switch (backend) {
  case Backend::kCpu:
    return run_cpu(problem, error);
  case Backend::kCuda:
#ifdef KGET_KERNEL_WITH_CUDA
    return run_cuda(problem, error);
#else
    break; // check_devices accepts CUDA tensors only in a CUDA build
#endif
  }
  return kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL, "no backend for this device");
}

int rms_norm(const kget_arg* raw_args, size_t nargs, kget_error* error) {
  const Args args(raw_args, nargs,
                  "Tensor! out, Tensor input, Tensor weight, float eps, Stream stream", error);
  KGET_KERNEL_CHECK(args.check_count(5));
  Tensor out;
  Tensor input;
  Tensor weight;
  RmsNormProblem problem;
  KGET_KERNEL_CHECK(args.tensor(0, "out", &out));
  KGET_KERNEL_CHECK(args.tensor(1, "input", &input));
  KGET_KERNEL_CHECK(args.tensor(2, "weight", &weight));
  KGET_KERNEL_CHECK(read_eps(args, 3, &problem.eps));
  KGET_KERNEL_CHECK(args.stream(4, "stream", &problem.stream));

  const Tensor* tensors[] = {&out, &input, &weight};
  Backend backend = Backend::kCpu;
  KGET_KERNEL_CHECK(check_devices(tensors, 3, &backend, error));
  KGET_KERNEL_CHECK(check_min_ndim(input, 1, error));
  KGET_KERNEL_CHECK(check_dtype_like(out, input, error));
  KGET_KERNEL_CHECK(check_shape_like(out, input, error));
  problem.hidden = input.size(input.ndim() - 1);
  KGET_KERNEL_CHECK(check_weight(weight, input, problem.hidden, error));
  KGET_KERNEL_CHECK(check_memory(out, true, error));
  KGET_KERNEL_CHECK(check_memory(input, false, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(out, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(input, error));
  KGET_KERNEL_CHECK(check_same_or_disjoint(out, input, error));
  KGET_KERNEL_CHECK(check_disjoint(out, weight, error));

  const Tensor* rows[] = {&out, &input};
  KGET_KERNEL_CHECK(build_row_grid(rows, 2, input.ndim() - 1, &problem.grid, error));
  problem.dtype = input.dtype;
  problem.out = out.data();
  problem.input = input.data();
  problem.weight = weight.data();
  problem.device = input.dl->device.device_id;
  return dispatch(backend, problem, error);
}

int fused_add_rms_norm(const kget_arg* raw_args, size_t nargs, kget_error* error) {
  const Args args(raw_args, nargs,
                  "Tensor! input, Tensor! residual, Tensor weight, float eps, Stream stream",
                  error);
  KGET_KERNEL_CHECK(args.check_count(5));
  Tensor input;
  Tensor residual;
  Tensor weight;
  FusedAddRmsNormProblem problem;
  KGET_KERNEL_CHECK(args.tensor(0, "input", &input));
  KGET_KERNEL_CHECK(args.tensor(1, "residual", &residual));
  KGET_KERNEL_CHECK(args.tensor(2, "weight", &weight));
  KGET_KERNEL_CHECK(read_eps(args, 3, &problem.eps));
  KGET_KERNEL_CHECK(args.stream(4, "stream", &problem.stream));

  const Tensor* tensors[] = {&input, &residual, &weight};
  Backend backend = Backend::kCpu;
  KGET_KERNEL_CHECK(check_devices(tensors, 3, &backend, error));
  KGET_KERNEL_CHECK(check_min_ndim(input, 1, error));
  KGET_KERNEL_CHECK(check_dtype_like(residual, input, error));
  KGET_KERNEL_CHECK(check_shape_like(residual, input, error));
  problem.hidden = input.size(input.ndim() - 1);
  KGET_KERNEL_CHECK(check_weight(weight, input, problem.hidden, error));
  KGET_KERNEL_CHECK(check_memory(input, true, error));
  KGET_KERNEL_CHECK(check_memory(residual, true, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(input, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(residual, error));
  // Both are written: any shared byte would make the result depend on the order of the writes.
  KGET_KERNEL_CHECK(check_disjoint(residual, input, error));
  KGET_KERNEL_CHECK(check_disjoint(input, weight, error));
  KGET_KERNEL_CHECK(check_disjoint(residual, weight, error));

  const Tensor* rows[] = {&input, &residual};
  KGET_KERNEL_CHECK(build_row_grid(rows, 2, input.ndim() - 1, &problem.grid, error));
  problem.dtype = input.dtype;
  problem.input = input.data();
  problem.residual = residual.data();
  problem.weight = weight.data();
  problem.device = input.dl->device.device_id;
  return dispatch(backend, problem, error);
}

// Static storage, valid for as long as the library is loaded (docs/kernel-abi.md).
constexpr kget_op kOps[] = {
    {"rms_norm", kRmsNormSchema, &guarded_op<rms_norm>, nullptr},
    {"fused_add_rms_norm", kFusedAddRmsNormSchema, &guarded_op<fused_add_rms_norm>, nullptr},
};

constexpr kget_kernel_descriptor kDescriptor = {
    KGET_KERNEL_ABI_VERSION_MAJOR,
    KGET_KERNEL_ABI_VERSION_MINOR,
    "rmsnorm",
    "1",
    sizeof kOps / sizeof kOps[0],
    kOps,
};

} // namespace
} // namespace kget_kernels::rmsnorm

// Uses nothing newer than ABI 1.0, so it serves every 1.x host; another major gets NULL.
extern "C" KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t host_major,
                                                                             uint32_t host_minor) {
  (void)host_minor;
  if (host_major != KGET_KERNEL_ABI_VERSION_MAJOR) {
    return nullptr;
  }
  return &kget_kernels::rmsnorm::kDescriptor;
}
