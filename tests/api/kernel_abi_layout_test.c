/* kget's DLPack declarations (include/kget/kernel_abi.h) agree with a real dlpack.h.
 *
 * Two independent declarations are compared: side A (kernel_abi_layout_kget.c) sees only kget's
 * header, side B (kernel_abi_layout_dlpack.c) only Debian's dlpack.h (DLPack 0.6); each exports a
 * table of sizes, alignments, field offsets, field types and enumerator values, and main compares
 * them entry by entry, printing every mismatch. The values DLPack 0.6 lacks (kDLBool, the FP8/FP6/
 * FP4 codes, newer device types) are compared against the DLPack 1.1 numbers written out below.
 * This file itself includes both headers, dlpack.h first, which is the documented order: it must
 * compile without redefinitions, and kget's header must then use dlpack.h's types and add the
 * codes that 0.6 lacks. */
#include "kernel_abi_layout.h"

#include <dlpack/dlpack.h>
#include <kget/kernel_abi.h>
#include <stdio.h>
#include <string.h>

_Static_assert(KGET_KERNEL_ABI_OWN_DLPACK == 0, "after dlpack.h, kget must use its types");
_Static_assert(DLPACK_VERSION == 60, "this test expects Debian's libdlpack-dev 0.6");

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

static const kget_layout_entry* find(const kget_layout_entry* table, size_t count,
                                     const char* name) {
  size_t i;
  for (i = 0; i < count; ++i) {
    if (strcmp(table[i].name, name) == 0) {
      return &table[i];
    }
  }
  return NULL;
}

/* Every entry of dlpack.h's table has an equal entry in kget's, and the other way round. */
static void compare_sides(void) {
  size_t i;
  check(kget_layout_from_kget_count == kget_layout_from_dlpack_count,
        "both sides export the same number of entries");
  for (i = 0; i < kget_layout_from_dlpack_count; ++i) {
    const kget_layout_entry* theirs = &kget_layout_from_dlpack[i];
    const kget_layout_entry* ours =
        find(kget_layout_from_kget, kget_layout_from_kget_count, theirs->name);
    if (!ours) {
      ++failures;
      fprintf(stderr, "FAIL: %s: in dlpack.h but not in kget's table\n", theirs->name);
    } else if (ours->value != theirs->value) {
      ++failures;
      fprintf(stderr, "FAIL: %s: kget %lld, dlpack.h %lld\n", theirs->name, ours->value,
              theirs->value);
    } else {
      ++passes;
    }
  }
  for (i = 0; i < kget_layout_from_kget_count; ++i) {
    if (!find(kget_layout_from_dlpack, kget_layout_from_dlpack_count,
              kget_layout_from_kget[i].name)) {
      ++failures;
      fprintf(stderr, "FAIL: %s: in kget's table but not in dlpack.h's\n",
              kget_layout_from_kget[i].name);
    }
  }
}

/* DLPack 1.1 (include/dlpack/dlpack.h of dmlc/dlpack v1.1), values absent from 0.6. */
static const kget_layout_entry dlpack_1_1_only[] = {
    {"kDLOneAPI", 14},
    {"kDLWebGPU", 15},
    {"kDLHexagon", 16},
    {"kDLMAIA", 17},
    {"kDLBool", 6},
    {"kDLFloat8_e3m4", 7},
    {"kDLFloat8_e4m3", 8},
    {"kDLFloat8_e4m3b11fnuz", 9},
    {"kDLFloat8_e4m3fn", 10},
    {"kDLFloat8_e4m3fnuz", 11},
    {"kDLFloat8_e5m2", 12},
    {"kDLFloat8_e5m2fnuz", 13},
    {"kDLFloat8_e8m0fnu", 14},
    {"kDLFloat6_e2m3fn", 15},
    {"kDLFloat6_e3m2fn", 16},
    {"kDLFloat4_e2m1fn", 17},
};

static void compare_with_spec(void) {
  size_t i;
  const size_t count = sizeof dlpack_1_1_only / sizeof dlpack_1_1_only[0];
  check(kget_layout_kget_only_count == count, "kget declares every DLPack 1.1 addition");
  for (i = 0; i < count; ++i) {
    const kget_layout_entry* ours =
        find(kget_layout_kget_only, kget_layout_kget_only_count, dlpack_1_1_only[i].name);
    if (!ours || ours->value != dlpack_1_1_only[i].value) {
      ++failures;
      fprintf(stderr, "FAIL: %s: DLPack 1.1 says %lld, kget has %s%lld\n", dlpack_1_1_only[i].name,
              dlpack_1_1_only[i].value, ours ? "" : "nothing ", ours ? ours->value : 0LL);
    } else {
      ++passes;
    }
  }
}

/* In this translation unit kget's header runs on dlpack.h 0.6's types: the codes it adds for
 * 0.6 have the 1.1 values, and its helpers work on 0.6's DLTensor. */
static void check_mixed_translation_unit(void) {
  int64_t shape[2] = {2, 3};
  int64_t strides[2] = {3, 1};
  float data[6] = {0};
  DLTensor tensor;
  kget_arg arg;
  memset(&tensor, 0, sizeof tensor);
  tensor.data = data;
  tensor.device.device_type = kDLCPU;
  tensor.ndim = 2;
  tensor.dtype.code = kDLFloat;
  tensor.dtype.bits = 32;
  tensor.dtype.lanes = 1;
  tensor.shape = shape;
  tensor.strides = strides;
  arg.kind = KGET_ARG_TENSOR;
  arg.reserved = 0;
  arg.value.tensor = &tensor;

  check(kDLBool == 6 && kDLFloat8_e4m3fn == 10 && kDLFloat8_e5m2 == 12 && kDLFloat4_e2m1fn == 17,
        "codes added for dlpack.h 0.6 have their DLPack 1.1 values");
  check(kget_tensor_numel(arg.value.tensor) == 6, "kget_tensor_numel on 0.6's DLTensor");
  check(kget_tensor_is_contiguous(arg.value.tensor), "row-major strides are contiguous");
  strides[0] = 1;
  strides[1] = 2;
  check(!kget_tensor_is_contiguous(arg.value.tensor), "column-major strides are not");
  check(kget_dtype_is(tensor.dtype, kDLFloat, 32), "kget_dtype_is");
  check(strcmp(kget_dtype_name(tensor.dtype), "float32") == 0, "kget_dtype_name");
  tensor.dtype.code = kDLFloat8_e4m3fn;
  tensor.dtype.bits = 8;
  check(strcmp(kget_dtype_name(tensor.dtype), "float8_e4m3fn") == 0, "kget_dtype_name of fp8");
  tensor.dtype.lanes = 4;
  check(kget_dtype_name(tensor.dtype) == NULL, "vector dtypes have no name");
}

int main(void) {
  compare_sides();
  compare_with_spec();
  check_mixed_translation_unit();
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
