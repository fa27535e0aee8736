#define _POSIX_C_SOURCE 200809L
/* kget_get_kernel and the kget_kernel functions from C11, against the registry and the file://
 * store that tests/api/with_registry.sh publishes the example relu kernel to. */
#include <arpa/inet.h>
#include <kget/kernel_abi.h>
#include <kget/kget.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures = 0;
static int passes = 0;

static void check(int ok, const char* what) {
  if (ok) {
    ++passes;
  } else {
    ++failures;
    fprintf(stderr, "FAIL: %s (last error: %s)\n", what, kget_last_error());
  }
}

static int contains(const char* text, const char* part) {
  return text != NULL && strstr(text, part) != NULL;
}

static const char* setting(const char* name) {
  const char* value = getenv(name);
  if (value == NULL || *value == '\0') {
    fprintf(stderr, "%s is not set: run this test through tests/api/with_registry.sh\n", name);
    exit(EXIT_FAILURE);
  }
  return value;
}

/* A new directory under KGET_TEST_WORK (with_registry.sh removes it all), in a static buffer. */
static const char* fresh_dir(void) {
  static char path[4096];
  static int counter = 0;
  snprintf(path, sizeof path, "%s/c-cache-%d", setting("KGET_TEST_WORK"), ++counter);
  if (mkdir(path, 0700) != 0) {
    perror(path);
    exit(EXIT_FAILURE);
  }
  return path;
}

/* http://127.0.0.1:PORT where nothing listens: a port the kernel just gave us and took back. */
static void closed_endpoint(char* endpoint, size_t size) {
  struct sockaddr_in address;
  socklen_t length = sizeof address;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr*)&address, sizeof address) != 0 ||
      getsockname(fd, (struct sockaddr*)&address, &length) != 0) {
    perror("loopback socket");
    exit(EXIT_FAILURE);
  }
  close(fd);
  snprintf(endpoint, size, "http://127.0.0.1:%d", (int)ntohs(address.sin_port));
}

static kget_arg tensor_arg(const DLTensor* tensor) {
  kget_arg arg;
  memset(&arg, 0, sizeof arg);
  arg.kind = KGET_ARG_TENSOR;
  arg.value.tensor = tensor;
  return arg;
}

static DLTensor float_tensor(float* data, int64_t* shape) {
  DLTensor tensor;
  memset(&tensor, 0, sizeof tensor);
  tensor.data = data;
  tensor.device.device_type = kDLCPU;
  tensor.ndim = 1;
  tensor.dtype.code = kDLFloat;
  tensor.dtype.bits = 32;
  tensor.dtype.lanes = 1;
  tensor.shape = shape;
  return tensor;
}

static void test_load_and_call(void) {
  kget_options options = KGET_OPTIONS_INIT;
  kget_kernel* kernel = NULL;
  float input[5] = {-2.0f, -0.5f, 0.0f, 1.5f, 3.25f};
  float output[5] = {9, 9, 9, 9, 9};
  int64_t shape[1] = {5};
  DLTensor in = float_tensor(input, shape);
  DLTensor out = float_tensor(output, shape);
  kget_arg args[2];
  char expected_path_end[256];
  const char* path;

  check(options.struct_size == sizeof(kget_options) && options.offline == -1 &&
            options.endpoint == NULL && options.verify_full == 0,
        "KGET_OPTIONS_INIT");
  options.endpoint = setting("KGET_TEST_HTTP_ENDPOINT");
  options.cache_dir = fresh_dir();
  check(kget_get_kernel("kernels-community/relu@1", &options, &kernel) == KGET_OK,
        "get relu from the registry");
  if (kernel == NULL) {
    return;
  }
  check(strcmp(kget_last_error(), "") == 0, "no error after success");
  check(strcmp(kget_kernel_repo_id(kernel), "kernels-community/relu") == 0, "repo id");
  check(strcmp(kget_kernel_variant(kernel), setting("KGET_TEST_VARIANT")) == 0, "variant");
  check(strlen(kget_kernel_commit(kernel)) == 40, "a 40-hex commit");
  check(strcmp(kget_kernel_reason(kernel), "CPU variant: the fallback when no CUDA variant fits") ==
            0,
        "reason");
  check(strcmp(kget_kernel_source(kernel), options.endpoint) == 0, "source is the registry");
  path = kget_kernel_path(kernel);
  snprintf(expected_path_end, sizeof expected_path_end, "/snapshots/%s/build/%s",
           kget_kernel_commit(kernel), kget_kernel_variant(kernel));
  check(strncmp(path, options.cache_dir, strlen(options.cache_dir)) == 0 &&
            contains(path, expected_path_end),
        "path is the variant directory in the cache");
  check(access(kget_kernel_library_path(kernel), R_OK) == 0, "the library exists");
  check(kget_kernel_op_count(kernel) == 1, "one op");
  check(strcmp(kget_kernel_op_name(kernel, 0), "relu") == 0, "op name");
  check(strcmp(kget_kernel_op_schema(kernel, 0), "relu(Tensor! out, Tensor input) -> ()") == 0,
        "op schema");
  check(kget_kernel_op_name(kernel, 1) == NULL && kget_kernel_op_schema(kernel, 1) == NULL,
        "op index out of range is NULL");

  args[0] = tensor_arg(&out);
  args[1] = tensor_arg(&in);
  check(kget_kernel_call(kernel, "relu", args, 2) == KGET_OK, "call relu");
  check(output[0] == 0.0f && output[1] == 0.0f && output[2] == 0.0f && output[3] == 1.5f &&
            output[4] == 3.25f,
        "relu's values");

  args[1].kind = KGET_ARG_FLOAT;
  args[1].value.f = 3.0;
  check(kget_kernel_call(kernel, "relu", args, 2) == KGET_ERROR_USAGE, "a float for a tensor");
  check(contains(kget_last_error(), "argument 2 \"input\" must be a tensor; got a float"),
        "the message names the parameter");
  args[1].kind = 99;
  check(kget_kernel_call(kernel, "relu", args, 2) == KGET_ERROR_USAGE, "an unknown kind");
  check(contains(kget_last_error(), "got an unknown kind 99"), "reaches the schema check as is");
  check(kget_kernel_call(kernel, "relu", args, 1) == KGET_ERROR_USAGE, "too few arguments");
  check(contains(kget_last_error(), "takes 2 arguments; got 1"), "the message counts");
  check(kget_kernel_call(kernel, "relu", NULL, 2) == KGET_ERROR_USAGE, "NULL args");
  check(kget_kernel_call(kernel, "nope", args, 2) == KGET_ERROR_NOT_FOUND, "an unknown op");
  check(contains(kget_last_error(), "has no op \"nope\"; its ops are: relu"),
        "the message lists the ops");
  check(kget_kernel_call(NULL, "relu", args, 2) == KGET_ERROR_USAGE, "NULL kernel");
  check(kget_kernel_call(kernel, NULL, args, 2) == KGET_ERROR_USAGE, "NULL op");
  kget_kernel_free(kernel);
}

static void test_failures(void) {
  kget_options options = KGET_OPTIONS_INIT;
  kget_kernel* kernel = (kget_kernel*)&options; /* must come back NULL */
  char endpoint[64];

  options.endpoint = setting("KGET_TEST_FILE_ENDPOINT");
  options.cache_dir = fresh_dir();
  check(kget_get_kernel("kernels-community/nope@1", &options, &kernel) == KGET_ERROR_NOT_FOUND,
        "an unknown kernel");
  check(kernel == NULL, "no handle on failure");
  check(contains(kget_last_error(), "kernels-community/nope"), "the message names the kernel");

  options.endpoint = setting("KGET_TEST_HTTP_ENDPOINT");
  options.offline = 1;
  check(kget_get_kernel("kernels-community/relu@1", &options, &kernel) == KGET_ERROR_NOT_FOUND,
        "offline with nothing cached");
  check(contains(kget_last_error(), "kget is offline"), "the message says offline");
  options.offline = 2;
  check(kget_get_kernel("kernels-community/relu@1", &options, &kernel) == KGET_ERROR_USAGE,
        "offline out of range");
  check(contains(kget_last_error(), "kget_options.offline is 2"), "the message names the field");
  options.offline = -1;

  closed_endpoint(endpoint, sizeof endpoint);
  options.endpoint = endpoint;
  check(kget_get_kernel("kernels-community/relu@1", &options, &kernel) == KGET_ERROR_NETWORK,
        "a closed port");
  check(contains(kget_last_error(), endpoint + 7), "the message names the endpoint");

  options.endpoint = setting("KGET_TEST_HTTP_ENDPOINT");
  options.device = "cuda:0";
  check(kget_get_kernel("kernels-community/relu@1", &options, &kernel) ==
            KGET_ERROR_NO_COMPATIBLE_VARIANT,
        "no variant for a CUDA device");
  check(contains(kget_last_error(), "a CPU variant, but CUDA device 0 was asked for"),
        "the message explains the variant");
  options.device = NULL;

  check(kget_get_kernel("relu", &options, &kernel) == KGET_ERROR_INVALID_REFERENCE,
        "a malformed reference");
  check(kget_get_kernel(NULL, &options, &kernel) == KGET_ERROR_USAGE, "NULL reference");
  check(kget_get_kernel("kernels-community/relu@1", &options, NULL) == KGET_ERROR_USAGE,
        "NULL result");
  options.struct_size = 0;
  check(kget_get_kernel("kernels-community/relu@1", &options, &kernel) == KGET_ERROR_USAGE,
        "struct_size 0");
  check(contains(kget_last_error(), "KGET_OPTIONS_INIT"), "the message says how to initialize");

  kget_kernel_free(NULL);
  check(kget_kernel_variant(NULL) == NULL && kget_kernel_op_count(NULL) == 0, "NULL handle");
}

/* NULL options, and options from an older caller: only the fields within struct_size count, the
 * rest comes from the environment. */
static void test_options_from_the_environment(void) {
  kget_options options = KGET_OPTIONS_INIT;
  kget_kernel* kernel = NULL;
  const char* cache = fresh_dir();
  char env_cache[4096];

  setenv("KGET_ENDPOINT", setting("KGET_TEST_FILE_ENDPOINT"), 1);
  setenv("KGET_CACHE", cache, 1);
  check(kget_get_kernel("kernels-community/relu@1", NULL, &kernel) == KGET_OK, "NULL options");
  check(kernel != NULL && strcmp(kget_kernel_source(kernel), getenv("KGET_ENDPOINT")) == 0,
        "the endpoint from KGET_ENDPOINT");
  check(kernel != NULL && strncmp(kget_kernel_path(kernel), cache, strlen(cache)) == 0,
        "the cache from KGET_CACHE");
  kget_kernel_free(kernel);
  kernel = NULL;

  snprintf(env_cache, sizeof env_cache, "%s", cache);
  options.struct_size = offsetof(kget_options, cache_dir); /* knows only `endpoint` */
  options.endpoint = setting("KGET_TEST_HTTP_ENDPOINT");
  options.cache_dir = "/nonexistent/never-read";
  options.device = "cuda:0";
  check(kget_get_kernel("kernels-community/relu@1", &options, &kernel) == KGET_OK,
        "an older, shorter kget_options");
  check(kernel != NULL && strcmp(kget_kernel_source(kernel), options.endpoint) == 0,
        "its endpoint counts");
  check(kernel != NULL && strncmp(kget_kernel_path(kernel), env_cache, strlen(env_cache)) == 0,
        "fields past struct_size are not read");
  kget_kernel_free(kernel);
  kernel = NULL;

  /* The struct of a caller compiled when kget_options ended after `endpoint`: nothing past it is
   * read (ASan would see it). */
  {
    struct {
      size_t struct_size;
      const char* endpoint;
    } older;
    older.struct_size = sizeof older;
    older.endpoint = setting("KGET_TEST_HTTP_ENDPOINT");
    check(kget_get_kernel("kernels-community/relu@1", (const kget_options*)(const void*)&older,
                          &kernel) == KGET_OK,
          "a struct from an older kget.h");
    check(kernel != NULL && strcmp(kget_kernel_source(kernel), older.endpoint) == 0,
          "its endpoint counts, the rest comes from the environment");
    kget_kernel_free(kernel);
  }
  unsetenv("KGET_ENDPOINT");
  unsetenv("KGET_CACHE");
}

int main(void) {
  test_load_and_call();
  test_failures();
  test_options_from_the_environment();
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
