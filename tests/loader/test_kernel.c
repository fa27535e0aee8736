/* A kernel library for the loader's tests (tests/unit/test_loader_*.cpp): "loadertest" 3.1.4 with
 * two ops, built once correctly and once per flaw that the loader must refuse, each flaw chosen
 * by one KGET_TEST_FLAW_* definition (tests/CMakeLists.txt, the loader block). */
#include <kget/kernel_abi.h>
#include <stdint.h>
#include <string.h>

#ifndef KGET_TEST_VERSION_STRING
#define KGET_TEST_VERSION_STRING "3.1.4"
#endif

#if defined(KGET_TEST_FLAW_NEEDS_HELPER)
/* Defined by versioned_helper.c under the version GLIBCXX_99.0, which no host provides. */
extern int kget_test_helper_value(void);
#endif
#if defined(KGET_TEST_FLAW_UNDEFINED_SYMBOL)
/* Defined nowhere: dlopen with RTLD_NOW must fail. */
extern int kget_test_symbol_defined_nowhere(void);
#endif

static int describe_call(const kget_arg* args, size_t nargs, kget_error* error);
/* Unused in the builds that drop it from the ops table (op_missing, null_call). */
__attribute__((unused)) static int fail_with_call(const kget_arg* args, size_t nargs,
                                                  kget_error* error);

/* describe(Tensor! out, Tensor? bias, int n, float scale, bool flag, str label, ScalarType dtype,
 * Stream stream): writes what it received into out, a float64 CPU tensor of 6 elements, so that
 * the test sees every argument arrive. */
static int describe_call(const kget_arg* args, size_t nargs, kget_error* error) {
  const DLTensor* out;
  double* values;
  if (nargs != 8 || !args) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "expected 8 arguments, got %zu", nargs);
  }
  if (args[0].kind != KGET_ARG_TENSOR || !args[0].value.tensor) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument 0 (out): expected a tensor, got %s",
                          kget_arg_kind_name(args[0].kind));
  }
  out = args[0].value.tensor;
  if (out->device.device_type != kDLCPU || !kget_dtype_is(out->dtype, kDLFloat, 64) ||
      kget_tensor_numel(out) != 6 || !kget_tensor_is_contiguous(out) || !out->data) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "argument 0 (out): expected 6 contiguous float64 CPU elements");
  }
  values = (double*)kget_tensor_data(out);
  values[0] = (double)args[2].value.i * args[3].value.f;
  if (args[1].kind == KGET_ARG_TENSOR) {
    const DLTensor* bias = args[1].value.tensor;
    values[1] = kget_tensor_numel(bias) > 0 && kget_dtype_is(bias->dtype, kDLFloat, 64)
                    ? *(const double*)kget_tensor_data(bias)
                    : -2.0;
  } else {
    values[1] = -1.0;
  }
  values[2] = args[4].value.b;
  values[3] = (double)strlen(args[5].value.s);
  values[4] = args[6].value.dtype.code * 1000 + args[6].value.dtype.bits;
  values[5] = args[7].value.stream ? 1.0 : 0.0;
  return KGET_KERNEL_OK;
}

/* fail_with(int status, bool with_message): returns `status`, with a message when asked. */
static int fail_with_call(const kget_arg* args, size_t nargs, kget_error* error) {
  int status;
  if (nargs != 2 || !args || args[0].kind != KGET_ARG_INT || args[1].kind != KGET_ARG_BOOL) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                          "expected (int status, bool with_message)");
  }
  status = (int)args[0].value.i;
#if defined(KGET_TEST_FLAW_NEEDS_HELPER)
  status += kget_test_helper_value();
#endif
#if defined(KGET_TEST_FLAW_UNDEFINED_SYMBOL)
  status += kget_test_symbol_defined_nowhere();
#endif
  if (status != KGET_KERNEL_OK && args[1].value.b) {
    return kget_set_error(error, status, "asked to fail with status %d", status);
  }
  return status;
}

#if defined(KGET_TEST_FLAW_SCHEMA_DIFFERS)
#define DESCRIBE_SCALE "factor"
#else
#define DESCRIBE_SCALE "scale"
#endif

#if defined(KGET_TEST_FLAW_BAD_SCHEMA)
#define FAIL_WITH_SCHEMA "fail_with(int status, bool with_message)"
#else
#define FAIL_WITH_SCHEMA "fail_with(int status, bool with_message) -> ()"
#endif

#if defined(KGET_TEST_FLAW_NULL_CALL)
#define FAIL_WITH_CALL NULL
#else
#define FAIL_WITH_CALL fail_with_call
#endif

static const kget_op test_ops[] = {
    {.name = "describe",
     .schema = "describe(Tensor! out, Tensor? bias, int n, float " DESCRIBE_SCALE
               ", bool flag, str label, ScalarType dtype, Stream stream) -> ()",
     .call = describe_call,
     .reserved = NULL},
#if !defined(KGET_TEST_FLAW_OP_MISSING)
    {.name = "fail_with", .schema = FAIL_WITH_SCHEMA, .call = FAIL_WITH_CALL, .reserved = NULL},
#endif
};

static const kget_kernel_descriptor test_descriptor = {
#if defined(KGET_TEST_FLAW_ABI_MAJOR_2)
    .abi_version_major = 2,
#else
    .abi_version_major = KGET_KERNEL_ABI_VERSION_MAJOR,
#endif
#if defined(KGET_TEST_FLAW_ABI_MINOR_1)
    .abi_version_minor = 1,
#else
    .abi_version_minor = KGET_KERNEL_ABI_VERSION_MINOR,
#endif
#if defined(KGET_TEST_FLAW_NAME)
    .name = "othername",
#else
    .name = "loadertest",
#endif
#if defined(KGET_TEST_FLAW_VERSION)
    .version = "4.0.0",
#else
    .version = KGET_TEST_VERSION_STRING,
#endif
    .num_ops = sizeof test_ops / sizeof test_ops[0],
    .ops = test_ops,
};

#if defined(KGET_TEST_FLAW_NO_INIT)
/* Exported, but under another name than KGET_KERNEL_INIT_SYMBOL. */
KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init_v2(uint32_t host_abi_major,
                                                                     uint32_t host_abi_minor);
KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init_v2(uint32_t host_abi_major,
                                                                     uint32_t host_abi_minor) {
#else
KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor) {
#endif
  (void)host_abi_major;
  (void)host_abi_minor;
#if defined(KGET_TEST_FLAW_INIT_NULL)
  (void)&test_descriptor; /* declared for every flaw; this one never returns it */
  return NULL;
#else
  return &test_descriptor;
#endif
}
