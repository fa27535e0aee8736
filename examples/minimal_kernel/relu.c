/* A complete kget kernel: relu(Tensor! out, Tensor input) -> () on float32 CPU tensors.
 *
 * It depends on nothing but include/kget/kernel_abi.h and the C library. Build it with
 *   cc -shared -fPIC -O2 -o librelu.so relu.c -I include
 * (from the repository root: cc -shared -fPIC -O2 -o librelu.so examples/minimal_kernel/relu.c
 * -I include). docs/kernel-abi.md explains every rule it follows. */
#include <kget/kernel_abi.h>
#include <stdint.h>

/* Checks that args[index] is a contiguous float32 CPU tensor with a well-formed shape. Stores the
 * tensor in *tensor and its element count in *count. */
static int get_float32_tensor(const kget_arg* args, size_t index, const char* name,
                              const DLTensor** tensor, int64_t* count, kget_error* error) {
  const kget_arg* arg = &args[index];
  const DLTensor* t;
  const void* first;
  if (arg->kind != KGET_ARG_TENSOR) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): expected a tensor, got %s", index, name,
                          kget_arg_kind_name(arg->kind));
  }
  if (!arg->value.tensor) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): the DLTensor pointer is NULL", index, name);
  }
  t = arg->value.tensor;
  if (t->device.device_type != kDLCPU) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): expected a CPU tensor (DLPack device type %d), got "
                          "device type %d",
                          index, name, (int)kDLCPU, (int)t->device.device_type);
  }
  if (!kget_dtype_is(t->dtype, kDLFloat, 32)) {
    const char* found = kget_dtype_name(t->dtype);
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): expected dtype float32, got %s (code %d, bits %d, "
                          "lanes %d)",
                          index, name, found ? found : "another dtype", t->dtype.code,
                          t->dtype.bits, t->dtype.lanes);
  }
  *count = kget_tensor_numel(t);
  if (*count < 0) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): expected ndim >= 0, extents >= 0 and fewer "
                          "than 2^63 elements, got a malformed shape (ndim %d)",
                          index, name, (int)t->ndim);
  }
  if (!kget_tensor_is_contiguous(t)) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): expected a contiguous tensor", index, name);
  }
  if (*count > 0 && !t->data) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): data is NULL for %lld elements", index, name,
                          (long long)*count);
  }
  first = kget_tensor_data(t);
  if ((uintptr_t)first % sizeof(float) != 0) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument %zu (%s): data is not aligned to %zu bytes", index, name,
                          sizeof(float));
  }
  *tensor = t;
  return KGET_KERNEL_OK;
}

/* out = max(input, 0), elementwise; NaN stays NaN as in torch.relu. out may be input itself (in
 * place) but may not partly overlap it. The op keeps no state, so any number of threads may call
 * it at once. */
static int relu_call(const kget_arg* args, size_t nargs, kget_error* error) {
  const DLTensor* out;
  const DLTensor* input;
  int64_t count;
  int64_t input_count;
  int32_t d;
  int status;
  float* y;
  const float* x;
  int64_t i;

  if (nargs != 2 || !args) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "expected 2 arguments (Tensor! out, Tensor input), got %zu", nargs);
  }
  status = get_float32_tensor(args, 0, "out", &out, &count, error);
  if (status != KGET_KERNEL_OK) {
    return status;
  }
  status = get_float32_tensor(args, 1, "input", &input, &input_count, error);
  if (status != KGET_KERNEL_OK) {
    return status;
  }
  if (out->ndim != input->ndim) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument 0 (out): expected %d dimensions like input, got %d",
                          (int)input->ndim, (int)out->ndim);
  }
  for (d = 0; d < out->ndim; ++d) {
    if (out->shape[d] != input->shape[d]) {
      return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                            "argument 0 (out): expected size %lld in dimension %d like input, "
                            "got %lld",
                            (long long)input->shape[d], (int)d, (long long)out->shape[d]);
    }
  }
  y = (float*)kget_tensor_data(out);
  x = (const float*)kget_tensor_data(input);
  if (y != x && count > 0 && (uintptr_t)y < (uintptr_t)(x + count) &&
      (uintptr_t)x < (uintptr_t)(y + count)) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument 0 (out): overlaps input without being the same memory");
  }
  for (i = 0; i < count; ++i) {
    y[i] = x[i] < 0.0f ? 0.0f : x[i];
  }
  return KGET_KERNEL_OK;
}

/* Everything kget reads lives in static storage: valid for as long as the library is loaded. */
static const kget_op relu_ops[] = {
    {.name = "relu",
     .schema = "relu(Tensor! out, Tensor input) -> ()",
     .call = relu_call,
     .reserved = NULL},
};

static const kget_kernel_descriptor relu_descriptor = {
    .abi_version_major = KGET_KERNEL_ABI_VERSION_MAJOR,
    .abi_version_minor = KGET_KERNEL_ABI_VERSION_MINOR,
    .name = "relu",
    .version = "1",
    .num_ops = sizeof relu_ops / sizeof relu_ops[0],
    .ops = relu_ops,
};

KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor) {
  /* Uses nothing newer than ABI 1.0, so it serves every 1.x host; another major gets NULL. */
  (void)host_abi_minor;
  if (host_abi_major != KGET_KERNEL_ABI_VERSION_MAJOR) {
    return NULL;
  }
  return &relu_descriptor;
}
