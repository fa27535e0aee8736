#define _POSIX_C_SOURCE 200809L
/* The minimal kernel (examples/minimal_kernel/relu.c) as kget sees it: dlopen, the
 * kget_kernel_init handshake, the descriptor, a correct call, every kind of bad argument, and
 * concurrent calls. The library's path is argv[1], or KGET_MINIMAL_KERNEL at compile time. */
#include <dlfcn.h>
#include <kget/kernel_abi.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
static int passes = 0;

static void check(int ok, const char* what) {
  if (ok) {
    ++passes;
  } else {
    ++failures;
    fprintf(stderr, "FAIL: %s\n", what);
  }
}

static kget_op_fn relu;

/* A float32 CPU tensor over caller-owned storage. */
static DLTensor make_tensor(float* data, int32_t ndim, int64_t* shape) {
  DLTensor tensor;
  memset(&tensor, 0, sizeof tensor);
  tensor.data = data;
  tensor.device.device_type = kDLCPU;
  tensor.device.device_id = 0;
  tensor.ndim = ndim;
  tensor.dtype.code = kDLFloat;
  tensor.dtype.bits = 32;
  tensor.dtype.lanes = 1;
  tensor.shape = shape;
  tensor.strides = NULL;
  tensor.byte_offset = 0;
  return tensor;
}

static kget_arg tensor_arg(const DLTensor* tensor) {
  kget_arg arg;
  memset(&arg, 0, sizeof arg);
  arg.kind = KGET_ARG_TENSOR;
  arg.value.tensor = tensor;
  return arg;
}

static int call_relu(const DLTensor* out, const DLTensor* input, kget_error* error) {
  kget_arg args[2];
  args[0] = tensor_arg(out);
  args[1] = tensor_arg(input);
  error->message[0] = '\0';
  return relu(args, 2, error);
}

/* A call that must fail as an invalid argument with a message containing `expected`. */
static void check_rejected(int status, const kget_error* error, const char* expected,
                           const char* what) {
  char line[1024];
  int ok = status == KGET_KERNEL_ERROR_INVALID_ARGUMENT && error->message[0] != '\0' &&
           memchr(error->message, '\0', sizeof error->message) != NULL &&
           strstr(error->message, expected) != NULL;
  snprintf(line, sizeof line, "%s: status %d, message \"%s\", expected it to contain \"%s\"", what,
           status, error->message, expected);
  check(ok, line);
}

static void check_descriptor(kget_kernel_init_fn init) {
  const kget_kernel_descriptor* descriptor = init(1, 0);
  check(init(2, 0) == NULL, "kget_kernel_init(2, 0) is NULL: another major");
  check(init(0, 0) == NULL, "kget_kernel_init(0, 0) is NULL: another major");
  check(descriptor != NULL, "kget_kernel_init(1, 0) returns a descriptor");
  if (!descriptor) {
    return;
  }
  check(init(1, 0) == descriptor, "a second call returns the same descriptor");
  check(init(1, 7) == descriptor, "a newer 1.x host is served too");
  check(descriptor->abi_version_major == 1 && descriptor->abi_version_minor == 0,
        "descriptor ABI version is 1.0");
  check(strcmp(descriptor->name, "relu") == 0, "descriptor name");
  check(strcmp(descriptor->version, "1") == 0, "descriptor version");
  check(descriptor->num_ops == 1 && descriptor->ops != NULL, "one op");
  if (descriptor->num_ops != 1 || !descriptor->ops) {
    return;
  }
  check(strcmp(descriptor->ops[0].name, "relu") == 0, "op name");
  check(strcmp(descriptor->ops[0].schema, "relu(Tensor! out, Tensor input) -> ()") == 0,
        "op schema");
  check(descriptor->ops[0].reserved == NULL, "op reserved field is NULL in ABI 1.0");
  check(descriptor->ops[0].call != NULL, "op entry point");
  relu = descriptor->ops[0].call;
}

static void check_values(void) {
  float x[6] = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f, NAN};
  float y[6] = {9, 9, 9, 9, 9, 9};
  float expected[5] = {0.0f, 0.0f, 0.0f, 0.5f, 3.0f};
  int64_t shape[2] = {2, 3};
  DLTensor input = make_tensor(x, 2, shape);
  DLTensor out = make_tensor(y, 2, shape);
  kget_error error;
  int i;
  int same = 1;

  check(call_relu(&out, &input, &error) == KGET_KERNEL_OK, "relu on a 2x3 float32 tensor");
  check(error.message[0] == '\0', "no message on success");
  for (i = 0; i < 5; ++i) {
    same = same && y[i] == expected[i];
  }
  check(same, "relu values");
  check(isnan(y[5]), "relu keeps NaN");
  check(x[0] == -2.0f, "input is not written");

  {
    float z[4] = {-1.0f, 1.0f, -INFINITY, INFINITY};
    int64_t n[1] = {4};
    DLTensor both = make_tensor(z, 1, n);
    check(call_relu(&both, &both, &error) == KGET_KERNEL_OK, "relu in place");
    check(z[0] == 0.0f && z[1] == 1.0f && z[2] == 0.0f && isinf(z[3]), "in-place values");
  }
  {
    /* byte_offset selects the elements after the first; explicit row-major strides are fine. */
    float xs[4] = {-7.0f, -1.0f, 2.0f, -3.0f};
    float ys[3] = {9, 9, 9};
    int64_t n[1] = {3};
    int64_t unit[1] = {1};
    DLTensor in3 = make_tensor(xs, 1, n);
    DLTensor out3 = make_tensor(ys, 1, n);
    in3.byte_offset = sizeof(float);
    in3.strides = unit;
    check(call_relu(&out3, &in3, &error) == KGET_KERNEL_OK, "relu honours byte_offset");
    check(ys[0] == 0.0f && ys[1] == 2.0f && ys[2] == 0.0f, "byte_offset values");
  }
  {
    int64_t empty[1] = {0};
    DLTensor in0 = make_tensor(NULL, 1, empty);
    DLTensor out0 = make_tensor(NULL, 1, empty);
    check(call_relu(&out0, &in0, &error) == KGET_KERNEL_OK, "an empty tensor may have NULL data");
  }
  {
    float s = -4.0f;
    float t = 9.0f;
    DLTensor in_scalar = make_tensor(&s, 0, NULL);
    DLTensor out_scalar = make_tensor(&t, 0, NULL);
    check(call_relu(&out_scalar, &in_scalar, &error) == KGET_KERNEL_OK && t == 0.0f,
          "a 0-d tensor");
  }
}

static void check_bad_arguments(void) {
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  float y[8] = {0};
  int64_t shape[2] = {2, 3};
  int64_t other[2] = {3, 2};
  int64_t flat[1] = {6};
  kget_arg args[3];
  kget_error error;
  DLTensor input = make_tensor(x, 2, shape);
  DLTensor out = make_tensor(y, 2, shape);
  DLTensor bad;

  args[0] = tensor_arg(&out);
  args[1] = tensor_arg(&input);
  args[2] = tensor_arg(&input);
  error.message[0] = '\0';
  check_rejected(relu(args, 1, &error), &error, "expected 2 arguments", "one argument");
  error.message[0] = '\0';
  check_rejected(relu(args, 3, &error), &error, "got 3", "three arguments");
  error.message[0] = '\0';
  check_rejected(relu(NULL, 0, &error), &error, "expected 2 arguments", "no arguments");
  check(relu(args, 1, NULL) == KGET_KERNEL_ERROR_INVALID_ARGUMENT, "a NULL error is survived");

  args[1].kind = KGET_ARG_INT;
  args[1].value.i = 5;
  error.message[0] = '\0';
  check_rejected(relu(args, 2, &error), &error, "argument 1 (input): expected a tensor, got int",
                 "an int for a tensor");
  args[1] = tensor_arg(NULL);
  error.message[0] = '\0';
  check_rejected(relu(args, 2, &error), &error, "DLTensor pointer is NULL", "a NULL DLTensor*");

  bad = input;
  bad.dtype.bits = 64;
  check_rejected(call_relu(&out, &bad, &error), &error, "expected dtype float32, got float64",
                 "float64 input");
  bad = input;
  bad.dtype.code = kDLBfloat;
  bad.dtype.bits = 16;
  check_rejected(call_relu(&out, &bad, &error), &error, "got bfloat16", "bfloat16 input");
  bad = out;
  bad.dtype.lanes = 4;
  check_rejected(call_relu(&bad, &input, &error), &error, "argument 0 (out): expected dtype",
                 "vector out");
  bad = input;
  bad.device.device_type = kDLCUDA;
  check_rejected(call_relu(&out, &bad, &error), &error, "expected a CPU tensor", "a CUDA tensor");

  bad = out;
  bad.shape = other;
  check_rejected(call_relu(&bad, &input, &error), &error,
                 "expected size 2 in dimension 0 like input, got 3", "mismatched shapes");
  bad = out;
  bad.ndim = 1;
  bad.shape = flat;
  check_rejected(call_relu(&bad, &input, &error), &error, "expected 2 dimensions like input",
                 "mismatched ndim");
  bad = input;
  bad.data = NULL;
  check_rejected(call_relu(&out, &bad, &error), &error, "data is NULL for 6 elements", "NULL data");
  bad = input;
  bad.byte_offset = 2;
  check_rejected(call_relu(&out, &bad, &error), &error, "not aligned", "misaligned data");
  {
    int64_t column_major[2] = {1, 2};
    bad = input;
    bad.strides = column_major;
    check_rejected(call_relu(&out, &bad, &error), &error, "contiguous", "column-major input");
  }
  {
    int64_t negative[2] = {2, -3};
    int64_t huge[2] = {INT64_MAX / 2, 4};
    bad = input;
    bad.shape = negative;
    check_rejected(call_relu(&out, &bad, &error), &error, "malformed shape", "negative extent");
    bad.shape = huge;
    check_rejected(call_relu(&out, &bad, &error), &error, "malformed shape",
                   "element count overflows");
    bad = input;
    bad.ndim = -1;
    check_rejected(call_relu(&out, &bad, &error), &error, "malformed shape", "negative ndim");
    bad = input;
    bad.shape = NULL;
    check_rejected(call_relu(&out, &bad, &error), &error, "malformed shape", "NULL shape");
  }
  {
    /* out starts one element into input: same shape, overlapping, not the same memory. */
    int64_t n[1] = {6};
    DLTensor in6 = make_tensor(x, 1, n);
    DLTensor out6 = make_tensor(x + 1, 1, n);
    check_rejected(call_relu(&out6, &in6, &error), &error, "overlaps", "partly overlapping out");
  }
  {
    char long_message[600];
    kget_error small;
    memset(long_message, 'a', sizeof long_message - 1);
    long_message[sizeof long_message - 1] = '\0';
    check(kget_set_error(&small, 7, "%s", long_message) == 7 &&
              strlen(small.message) == sizeof small.message - 1,
          "kget_set_error truncates to the buffer");
  }
}

/* Several threads call the op at once on their own tensors; every result must be right. */
enum { thread_count = 4, calls_per_thread = 2000, elements = 256 };

static void* hammer(void* failed) {
  float x[elements];
  float y[elements];
  int64_t shape[1] = {elements};
  DLTensor input = make_tensor(x, 1, shape);
  DLTensor out = make_tensor(y, 1, shape);
  kget_error error;
  int call;
  int i;
  for (call = 0; call < calls_per_thread; ++call) {
    for (i = 0; i < elements; ++i) {
      x[i] = (float)((i + call) % 7 - 3);
    }
    if (call_relu(&out, &input, &error) != KGET_KERNEL_OK) {
      *(int*)failed = 1;
      return NULL;
    }
    for (i = 0; i < elements; ++i) {
      if (y[i] != (x[i] < 0.0f ? 0.0f : x[i])) {
        *(int*)failed = 1;
        return NULL;
      }
    }
  }
  return NULL;
}

static void check_threads(void) {
  pthread_t threads[thread_count];
  int failed[thread_count] = {0};
  int started = 1;
  int ok = 1;
  int t;
  for (t = 0; t < thread_count; ++t) {
    started = started && pthread_create(&threads[t], NULL, hammer, &failed[t]) == 0;
  }
  check(started, "threads start");
  for (t = 0; t < thread_count; ++t) {
    pthread_join(threads[t], NULL);
    ok = ok && !failed[t];
  }
  check(ok, "concurrent calls from several threads");
}

int main(int argc, char** argv) {
#ifdef KGET_MINIMAL_KERNEL
  const char* path = argc > 1 ? argv[1] : KGET_MINIMAL_KERNEL;
#else
  const char* path = argc > 1 ? argv[1] : NULL;
#endif
  void* library;
  void* symbol;
  kget_kernel_init_fn init;

  if (!path) {
    fprintf(stderr, "usage: %s PATH/librelu.so\n", argv[0]);
    return 2;
  }
  library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    fprintf(stderr, "FAIL: dlopen %s: %s\n", path, dlerror());
    return 1;
  }
  symbol = dlsym(library, KGET_KERNEL_INIT_SYMBOL);
  check(symbol != NULL, "the library exports kget_kernel_init");
  if (!symbol) {
    return 1;
  }
  /* ISO C has no conversion from void* to a function pointer; POSIX guarantees the bytes. */
  memcpy(&init, &symbol, sizeof init);
  check_descriptor(init);
  if (relu) {
    check_values();
    check_bad_arguments();
    check_threads();
  }
  /* kget never unloads kernels; the test does the same. */
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
