#define _POSIX_C_SOURCE 200809L
/* The C header compiles as C11 and the C API works from C. */
#include <kget/kernel_abi.h>
#include <kget/kget.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
  char variant[64];
  const char* demo = KGET_FIXTURES_DIR "/kernels/demo";
  check(strcmp(kget_version(), KGET_VERSION_STRING) == 0, "kget_version");

  setenv("KGET_OVERRIDE_CUDA_DRIVER", "13.0", 1);
  setenv("KGET_OVERRIDE_CUDA_ARCH", "9.0", 1);
  check(kget_resolve_local(demo, variant, sizeof variant) == KGET_OK, "resolve for an H100");
  check(strcmp(variant, "kget1-cu130-x86_64-linux") == 0, "chooses the sm_90a build");

  check(kget_resolve_local(demo, variant, 4) == KGET_ERROR_USAGE, "too small a buffer");
  check(strstr(kget_last_error(), "needs 25 bytes; variant_size is 4") != NULL,
        "the message says how large");

  setenv("KGET_DEVICE", "cuda:0", 1);
  setenv("KGET_OVERRIDE_CUDA_ARCH", "7.0", 1);
  check(kget_resolve_local(demo, variant, sizeof variant) == KGET_ERROR_NO_COMPATIBLE_VARIANT,
        "nothing fits a V100 when the CUDA device is required");
  check(strstr(kget_last_error(), "this GPU is sm_70") != NULL, "the message explains");

  setenv("KGET_OVERRIDE_CUDA_ARCH", "seven", 1);
  check(kget_resolve_local(demo, variant, sizeof variant) == KGET_ERROR_INVALID_SETTING,
        "a malformed override");
  unsetenv("KGET_OVERRIDE_CUDA_ARCH");
  check(kget_resolve_local("/nonexistent", variant, sizeof variant) == KGET_ERROR_NOT_FOUND,
        "a missing directory is not found");
  check(strstr(kget_last_error(), "/nonexistent is not a directory") != NULL,
        "the message names the directory");
  check(kget_resolve_local(NULL, variant, sizeof variant) == KGET_ERROR_USAGE, "NULL argument");

  check(KGET_KERNEL_ABI_VERSION_MAJOR == 1, "ABI major");
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
