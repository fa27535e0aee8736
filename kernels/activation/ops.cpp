// kernels-community/activation: the kget C ABI glue. Validates every argument once, then hands
// a UnaryProblem or GatedProblem to the backend of the tensors' device (cpu/, and cuda/ when
// built with KGET_KERNEL_WITH_CUDA). Semantics and rules: docs/kernels.md.
#include "../common/op_guard.h"
#include "../common/row_grid.h"
#include "../common/tensor_args.h"
#include "activation_problem.h"
#include "cpu/activation_cpu.h"
#ifdef KGET_KERNEL_WITH_CUDA
#include "cuda/activation_cuda.h"
#endif

#include <cinttypes>
#include <kget/kernel_abi.h>

namespace kget_kernels::activation {
namespace {

constexpr const char* kUnaryParameters = "Tensor! out, Tensor input, Stream stream";

// The ops' names, as template arguments of their bodies: gelu_fast and gelu_tanh run one
// activation, and a backend's messages name the op that was called.
constexpr char kGeluFast[] = "gelu_fast";
constexpr char kGeluTanh[] = "gelu_tanh";
constexpr char kGelu[] = "gelu";
constexpr char kSilu[] = "silu";
constexpr char kGeluAndMul[] = "gelu_and_mul";
constexpr char kGeluTanhAndMul[] = "gelu_tanh_and_mul";
constexpr char kSiluAndMul[] = "silu_and_mul";

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

// The three arguments every activation takes, and the checks they share.
struct Operands {
  Tensor out;
  Tensor input;
  void* stream = nullptr;
  Backend backend = Backend::kCpu;
};

int read_operands(const kget_arg* raw_args, size_t nargs, Operands* operands, kget_error* error) {
  const Args args(raw_args, nargs, kUnaryParameters, error);
  KGET_KERNEL_CHECK(args.check_count(3));
  KGET_KERNEL_CHECK(args.tensor(0, "out", &operands->out));
  KGET_KERNEL_CHECK(args.tensor(1, "input", &operands->input));
  KGET_KERNEL_CHECK(args.stream(2, "stream", &operands->stream));
  const Tensor* tensors[] = {&operands->out, &operands->input};
  KGET_KERNEL_CHECK(check_devices(tensors, 2, &operands->backend, error));
  return check_dtype_like(operands->out, operands->input, error);
}

// out = act(input): same shape; any layout whose last dimension is contiguous (a contiguous pair
// becomes one row).
template <Activation kActivation, const char* kOp>
int unary_op(const kget_arg* raw_args, size_t nargs, kget_error* error) {
  Operands operands;
  KGET_KERNEL_CHECK(read_operands(raw_args, nargs, &operands, error));
  const Tensor& out = operands.out;
  const Tensor& input = operands.input;
  KGET_KERNEL_CHECK(check_shape_like(out, input, error));
  KGET_KERNEL_CHECK(check_memory(out, true, error));
  KGET_KERNEL_CHECK(check_memory(input, false, error));
  KGET_KERNEL_CHECK(check_same_or_disjoint(out, input, error));

  UnaryProblem problem;
  if (kget_tensor_is_contiguous(out.dl) && kget_tensor_is_contiguous(input.dl)) {
    problem.cols = input.numel;
  } else {
    KGET_KERNEL_CHECK(check_rows_contiguous(out, error));
    KGET_KERNEL_CHECK(check_rows_contiguous(input, error));
    const Tensor* rows[] = {&out, &input};
    KGET_KERNEL_CHECK(build_row_grid(rows, 2, input.ndim() - 1, &problem.grid, error));
    problem.cols = input.size(input.ndim() - 1);
  }
  problem.dtype = input.dtype;
  problem.activation = kActivation;
  problem.op = kOp;
  problem.out = out.data();
  problem.input = input.data();
  problem.stream = operands.stream;
  problem.device = input.dl->device.device_id;
  return dispatch(operands.backend, problem, error);
}

// out[..., d] = act(input[..., :d]) * input[..., d:], input [..., 2d], as vLLM's *_and_mul.
template <Activation kActivation, const char* kOp>
int gated_op(const kget_arg* raw_args, size_t nargs, kget_error* error) {
  Operands operands;
  KGET_KERNEL_CHECK(read_operands(raw_args, nargs, &operands, error));
  const Tensor& out = operands.out;
  const Tensor& input = operands.input;
  KGET_KERNEL_CHECK(check_min_ndim(input, 1, error));
  const int last = input.ndim() - 1;
  const int64_t d = input.size(last) / 2;
  if (input.size(last) % 2 != 0) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument 1 (input): expected an even last dimension (2 * d), got "
                          "%" PRId64,
                          input.size(last));
  }
  KGET_KERNEL_CHECK(check_leading_shape_like(out, input, error));
  if (out.size(last) != d) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument 0 (out): expected the last dimension to be %" PRId64
                          " (half of input's %" PRId64 "), got %" PRId64,
                          d, input.size(last), out.size(last));
  }
  KGET_KERNEL_CHECK(check_memory(out, true, error));
  KGET_KERNEL_CHECK(check_memory(input, false, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(out, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(input, error));
  KGET_KERNEL_CHECK(check_disjoint(out, input, error));

  GatedProblem problem;
  const Tensor* rows[] = {&out, &input};
  KGET_KERNEL_CHECK(build_row_grid(rows, 2, last, &problem.grid, error));
  problem.dtype = input.dtype;
  problem.activation = kActivation;
  problem.op = kOp;
  problem.d = d;
  problem.out = out.data();
  problem.input = input.data();
  problem.stream = operands.stream;
  problem.device = input.dl->device.device_id;
  return dispatch(operands.backend, problem, error);
}

#define KGET_ACTIVATION_SCHEMA(name) name "(Tensor! out, Tensor input, Stream stream) -> ()"

// Static storage, valid for as long as the library is loaded (docs/kernel-abi.md).
constexpr kget_op kOps[] = {
    {kGeluFast, KGET_ACTIVATION_SCHEMA("gelu_fast"),
     &guarded_op<unary_op<Activation::kGeluTanh, kGeluFast>>, nullptr},
    {kGeluTanh, KGET_ACTIVATION_SCHEMA("gelu_tanh"),
     &guarded_op<unary_op<Activation::kGeluTanh, kGeluTanh>>, nullptr},
    {kGelu, KGET_ACTIVATION_SCHEMA("gelu"), &guarded_op<unary_op<Activation::kGeluErf, kGelu>>,
     nullptr},
    {kSilu, KGET_ACTIVATION_SCHEMA("silu"), &guarded_op<unary_op<Activation::kSilu, kSilu>>,
     nullptr},
    {kGeluAndMul, KGET_ACTIVATION_SCHEMA("gelu_and_mul"),
     &guarded_op<gated_op<Activation::kGeluErf, kGeluAndMul>>, nullptr},
    {kGeluTanhAndMul, KGET_ACTIVATION_SCHEMA("gelu_tanh_and_mul"),
     &guarded_op<gated_op<Activation::kGeluTanh, kGeluTanhAndMul>>, nullptr},
    {kSiluAndMul, KGET_ACTIVATION_SCHEMA("silu_and_mul"),
     &guarded_op<gated_op<Activation::kSilu, kSiluAndMul>>, nullptr},
};

#undef KGET_ACTIVATION_SCHEMA

constexpr kget_kernel_descriptor kDescriptor = {
    KGET_KERNEL_ABI_VERSION_MAJOR,
    KGET_KERNEL_ABI_VERSION_MINOR,
    "activation",
    "1",
    sizeof kOps / sizeof kOps[0],
    kOps,
};

} // namespace
} // namespace kget_kernels::activation

// Uses nothing newer than ABI 1.0, so it serves every 1.x host; another major gets NULL.
extern "C" KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t host_major,
                                                                             uint32_t host_minor) {
  (void)host_minor;
  if (host_major != KGET_KERNEL_ABI_VERSION_MAJOR) {
    return nullptr;
  }
  return &kget_kernels::activation::kDescriptor;
}
