/* kget kernel C ABI: the one header a kernel library depends on.
 *
 * A kernel library exports one function, kget_kernel_init, which returns a descriptor: the ABI
 * version first, then the kernel's name, version and ops. Each op is called with an array of
 * tagged arguments (tensors are DLPack DLTensors) and reports failure through a status and a
 * message in a buffer the caller owns. The contract, the schema grammar and the versioning rules
 * are in docs/kernel-abi.md; this header is the code side of that document.
 *
 * The header is C99/C11 and C++17, and needs only <stdint.h> and <stddef.h>. The optional helpers
 * at the end also use <stdarg.h> and <stdio.h> (vsnprintf); define KGET_KERNEL_ABI_NO_HELPERS to
 * leave them out. */
#ifndef KGET_KERNEL_ABI_H
#define KGET_KERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>

/* A kernel built for ABI major N loads only in a libkget that speaks major N; minors add
 * backwards-compatible fields at the end of structures and values at the end of enums
 * (docs/kernel-abi.md, "Versioning"). */
#define KGET_KERNEL_ABI_VERSION_MAJOR 1
#define KGET_KERNEL_ABI_VERSION_MINOR 0

/* ---------------------------------------------------------------------------------------------
 * DLPack types.
 *
 * Tensors cross the boundary as DLPack DLTensors so that PyTorch, JAX, CuPy and NumPy tensors pass
 * through __dlpack__ without copies. The declarations below follow DLPack 1.1 (dlpack.h of
 * dmlc/dlpack): same names, values, field types and order, so they are interchangeable with it.
 *
 * Rule for translation units that also use a real dlpack.h: include it BEFORE this header (or
 * define KGET_KERNEL_ABI_USE_DLPACK_H and this header includes <dlpack/dlpack.h> itself). Every
 * DLPack release guards its header with DLPACK_DLPACK_H_ and defines DLPACK_EXTERN_C; when either
 * is defined this header declares nothing of DLPack's, uses the real types, and only adds the
 * data type codes an older dlpack.h lacks (kDLBool before 0.8, the FP8/FP6/FP4 codes before 1.1).
 * The other order (this header first, then dlpack.h) fails with redefinitions, as any two
 * declarations of one C type would. KGET_KERNEL_ABI_OWN_DLPACK says which declarations are in
 * use: 1 for this header's, 0 for a real dlpack.h. The static assertions further down check the
 * layout of whichever is in use. */
#if defined(KGET_KERNEL_ABI_USE_DLPACK_H) && !defined(DLPACK_DLPACK_H_)
#include <dlpack/dlpack.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DLPACK_DLPACK_H_) || defined(DLPACK_EXTERN_C)
#define KGET_KERNEL_ABI_OWN_DLPACK 0

/* dlpack.h before 0.8 (DLPACK_VERSION < 80) has no kDLBool. */
#if defined(DLPACK_VERSION) && DLPACK_VERSION < 80
enum { kDLBool = 6 };
#endif
/* dlpack.h before 1.1 (0.x defines DLPACK_VERSION, 1.0 has DLPACK_MINOR_VERSION 0) has no FP8,
 * FP6 or FP4 codes. */
#if defined(DLPACK_VERSION) ||                                                                     \
    (defined(DLPACK_MAJOR_VERSION) && DLPACK_MAJOR_VERSION == 1 && DLPACK_MINOR_VERSION < 1)
enum {
  kDLFloat8_e3m4 = 7,
  kDLFloat8_e4m3 = 8,
  kDLFloat8_e4m3b11fnuz = 9,
  kDLFloat8_e4m3fn = 10,
  kDLFloat8_e4m3fnuz = 11,
  kDLFloat8_e5m2 = 12,
  kDLFloat8_e5m2fnuz = 13,
  kDLFloat8_e8m0fnu = 14,
  kDLFloat6_e2m3fn = 15,
  kDLFloat6_e3m2fn = 16,
  kDLFloat4_e2m1fn = 17
};
#endif

#else /* no dlpack.h: declare DLPack 1.1's types here */
#define KGET_KERNEL_ABI_OWN_DLPACK 1

/* Where a tensor's memory lives. DLPack fixes the underlying type at int32_t in C++ and leaves it
 * to the compiler in C, where it is 4 bytes on every supported platform (asserted below). */
#ifdef __cplusplus
typedef enum : int32_t {
#else
typedef enum {
#endif
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3, /* pinned host memory allocated through CUDA; readable from the CPU */
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13, /* CUDA unified (managed) memory */
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
  kDLMAIA = 17
} DLDeviceType;

typedef struct {
  DLDeviceType device_type;
  int32_t device_id; /* e.g. the CUDA ordinal; 0 for the CPU */
} DLDevice;

/* Kind of a tensor element; with the bit width in DLDataType it names the dtype (kDLFloat, 32 is
 * float32; kDLBfloat, 16 is bfloat16; kDLFloat8_e4m3fn, 8 is torch.float8_e4m3fn). */
typedef enum {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
  kDLFloat8_e3m4 = 7,
  kDLFloat8_e4m3 = 8,
  kDLFloat8_e4m3b11fnuz = 9,
  kDLFloat8_e4m3fn = 10,
  kDLFloat8_e4m3fnuz = 11,
  kDLFloat8_e5m2 = 12,
  kDLFloat8_e5m2fnuz = 13,
  kDLFloat8_e8m0fnu = 14,
  kDLFloat6_e2m3fn = 15,
  kDLFloat6_e3m2fn = 16,
  kDLFloat4_e2m1fn = 17
} DLDataTypeCode;

typedef struct {
  uint8_t code;   /* a DLDataTypeCode */
  uint8_t bits;   /* bits of one lane: 8, 16, 32, 64; 4 or 6 for the sub-byte floats */
  uint16_t lanes; /* 1 for scalars; more for vector types such as float4 */
} DLDataType;

typedef struct {
  /* Start of the allocation; the first element is at (char*)data + byte_offset. For CUDA this is
   * a device pointer. May be NULL when the tensor has no elements. */
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;   /* ndim entries */
  int64_t* strides; /* ndim entries, in elements (not bytes); NULL means compact row-major */
  uint64_t byte_offset;
} DLTensor;

#endif /* DLPack types */

/* ---------------------------------------------------------------------------------------------
 * Arguments. */

/* What a kget_arg holds. Values are never renumbered; new kinds are appended (docs/kernel-abi.md
 * has the schema type of each). Zero is KGET_ARG_NONE so that a zeroed argument is "absent". */
typedef enum kget_arg_kind {
  KGET_ARG_NONE = 0,   /* no value: an absent optional (Tensor?, int?, ...) */
  KGET_ARG_TENSOR = 1, /* value.tensor: Tensor, Tensor!, Tensor? */
  KGET_ARG_INT = 2,    /* value.i: int */
  KGET_ARG_FLOAT = 3,  /* value.f: float (a C double) */
  KGET_ARG_BOOL = 4,   /* value.b: bool, 0 or 1 */
  KGET_ARG_STRING = 5, /* value.s: str, NUL-terminated UTF-8 */
  KGET_ARG_STREAM = 6, /* value.stream: Stream (a CUstream / cudaStream_t; NULL is the default) */
  KGET_ARG_DTYPE = 7   /* value.dtype: ScalarType */
} kget_arg_kind;

/* One argument: 16 bytes on LP64. `kind` is an int32_t rather than the enum type so that its size
 * does not depend on the compiler's choice for enums. Pointers in it are valid only during the
 * call; the op must not keep them. */
typedef struct kget_arg {
  int32_t kind;      /* a kget_arg_kind */
  uint32_t reserved; /* 0 in ABI 1.0; ops ignore it */
  union {
    const DLTensor* tensor; /* never NULL for KGET_ARG_TENSOR */
    int64_t i;
    double f;
    int32_t b;
    const char* s;
    void* stream;
    DLDataType dtype;
  } value;
} kget_arg;

/* ---------------------------------------------------------------------------------------------
 * Errors. */

/* Status an op returns. kget maps them to its own error kinds; any other nonzero value counts as
 * KGET_KERNEL_ERROR_INTERNAL. Values are never renumbered; new ones are appended. */
typedef enum kget_kernel_status {
  KGET_KERNEL_OK = 0,
  KGET_KERNEL_ERROR_INVALID_ARGUMENT = 1, /* the caller's fault: count, kind, dtype, shape, device,
                                             alignment, layout */
  KGET_KERNEL_ERROR_UNSUPPORTED = 2,      /* valid, but not implemented by this build (a head
                                             dimension, a GPU architecture) */
  KGET_KERNEL_ERROR_DEVICE = 3,           /* the device or its runtime failed (launch error) */
  KGET_KERNEL_ERROR_OUT_OF_MEMORY = 4,
  KGET_KERNEL_ERROR_INTERNAL = 5 /* a bug in the kernel */
} kget_kernel_status;

#define KGET_KERNEL_ERROR_MESSAGE_SIZE 512

/* Where an op writes why it failed. The caller owns it and passes it with message[0] == '\0'; an
 * op that returns nonzero writes one NUL-terminated line (truncated to fit, never overflowing)
 * that says what was expected and what was found, without the op's name (kget adds it). A fixed
 * array rather than a (buffer, capacity) pair: the size is a compile-time constant on both
 * sides, so no caller can pass a short buffer and no op can be handed a wrong capacity. */
typedef struct kget_error {
  char message[KGET_KERNEL_ERROR_MESSAGE_SIZE];
} kget_error;

/* ---------------------------------------------------------------------------------------------
 * Ops and the descriptor. */

/* An op's entry point: args[0..nargs) in the order of the schema's parameters. Returns
 * KGET_KERNEL_OK (0) or a kget_kernel_status with error->message filled in. Must be callable from
 * several threads at once, must validate everything it reads, and must not throw, exit or abort
 * (docs/kernel-abi.md, "What the kernel guarantees"). */
typedef int (*kget_op_fn)(const kget_arg* args, size_t nargs, kget_error* error);

typedef struct kget_op {
  const char* name;   /* as in the schema and in metadata.json $.kget.ops[].name */
  const char* schema; /* e.g. "relu(Tensor! out, Tensor input) -> ()" */
  kget_op_fn call;
  /* NULL in ABI 1.0. kget_op is an array element, so it cannot grow at its end within a major;
   * a later minor may point this at an extension structure (read only by hosts of that minor). */
  const void* reserved;
} kget_op;

/* What kget_kernel_init returns. Static storage owned by the library, valid, unchanged, for as
 * long as the library is loaded (kget never unloads kernels). Later minors append fields; a host
 * reads a field only when abi_version_minor says the kernel was built with it. */
typedef struct kget_kernel_descriptor {
  uint32_t abi_version_major; /* KGET_KERNEL_ABI_VERSION_MAJOR the kernel was built with */
  uint32_t abi_version_minor; /* KGET_KERNEL_ABI_VERSION_MINOR the kernel was built with */
  const char* name;           /* equals metadata.json $.name, e.g. "rmsnorm" */
  const char* version;        /* "MAJOR" or "MAJOR.MINOR.PATCH"; MAJOR equals $.version */
  size_t num_ops;
  const kget_op* ops; /* num_ops entries, names unique, same order as $.kget.ops */
} kget_kernel_descriptor;

#if defined(_WIN32)
#define KGET_KERNEL_EXPORT __declspec(dllexport)
#else
#define KGET_KERNEL_EXPORT __attribute__((visibility("default")))
#endif

/* The one symbol a kernel exports. kget calls it with its own ABI version; the kernel returns its
 * descriptor, or NULL when it cannot serve that version (another major, or an older minor that
 * lacks something the kernel needs). It may be called more than once and from any thread, returns
 * the same pointer each time, and does no work beyond that: no CUDA initialisation, no allocation,
 * no threads, no output, so that loading a kernel on a machine without its GPU is safe. */
KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor);

/* For dlsym(handle, KGET_KERNEL_INIT_SYMBOL). */
typedef const kget_kernel_descriptor* (*kget_kernel_init_fn)(uint32_t host_abi_major,
                                                             uint32_t host_abi_minor);
#define KGET_KERNEL_INIT_SYMBOL "kget_kernel_init"

/* ---------------------------------------------------------------------------------------------
 * Layout checks. The ABI is defined for LP64 Linux (x86-64, aarch64); these fail the build of a
 * kernel or of kget whose compiler would lay a structure out differently. */
#if defined(__cplusplus)
#define KGET_KERNEL_ABI_ASSERT(name, condition) static_assert(condition, #name)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define KGET_KERNEL_ABI_ASSERT(name, condition) _Static_assert(condition, #name)
#else /* C99: an array of negative size stops the build */
#define KGET_KERNEL_ABI_ASSERT(name, condition)                                                    \
  typedef char kget_kernel_abi_assert_##name[(condition) ? 1 : -1]
#endif

#if defined(__LP64__) || defined(_LP64)
KGET_KERNEL_ABI_ASSERT(DLDeviceType_is_4_bytes, sizeof(DLDeviceType) == 4);
KGET_KERNEL_ABI_ASSERT(DLDevice_size, sizeof(DLDevice) == 8);
KGET_KERNEL_ABI_ASSERT(DLDevice_device_type, offsetof(DLDevice, device_type) == 0);
KGET_KERNEL_ABI_ASSERT(DLDevice_device_id, offsetof(DLDevice, device_id) == 4);
KGET_KERNEL_ABI_ASSERT(DLDataType_size, sizeof(DLDataType) == 4);
KGET_KERNEL_ABI_ASSERT(DLDataType_code, offsetof(DLDataType, code) == 0);
KGET_KERNEL_ABI_ASSERT(DLDataType_bits, offsetof(DLDataType, bits) == 1);
KGET_KERNEL_ABI_ASSERT(DLDataType_lanes, offsetof(DLDataType, lanes) == 2);
KGET_KERNEL_ABI_ASSERT(DLTensor_size, sizeof(DLTensor) == 48);
KGET_KERNEL_ABI_ASSERT(DLTensor_data, offsetof(DLTensor, data) == 0);
KGET_KERNEL_ABI_ASSERT(DLTensor_device, offsetof(DLTensor, device) == 8);
KGET_KERNEL_ABI_ASSERT(DLTensor_ndim, offsetof(DLTensor, ndim) == 16);
KGET_KERNEL_ABI_ASSERT(DLTensor_dtype, offsetof(DLTensor, dtype) == 20);
KGET_KERNEL_ABI_ASSERT(DLTensor_shape, offsetof(DLTensor, shape) == 24);
KGET_KERNEL_ABI_ASSERT(DLTensor_strides, offsetof(DLTensor, strides) == 32);
KGET_KERNEL_ABI_ASSERT(DLTensor_byte_offset, offsetof(DLTensor, byte_offset) == 40);
KGET_KERNEL_ABI_ASSERT(kDLCUDA_is_2, kDLCUDA == 2);
KGET_KERNEL_ABI_ASSERT(kDLCUDAManaged_is_13, kDLCUDAManaged == 13);
KGET_KERNEL_ABI_ASSERT(kDLBfloat_is_4, kDLBfloat == 4);
KGET_KERNEL_ABI_ASSERT(kDLBool_is_6, kDLBool == 6);
KGET_KERNEL_ABI_ASSERT(kDLFloat8_e4m3fn_is_10, kDLFloat8_e4m3fn == 10);
KGET_KERNEL_ABI_ASSERT(kDLFloat4_e2m1fn_is_17, kDLFloat4_e2m1fn == 17);

KGET_KERNEL_ABI_ASSERT(kget_arg_size, sizeof(kget_arg) == 16);
KGET_KERNEL_ABI_ASSERT(kget_arg_kind_offset, offsetof(kget_arg, kind) == 0);
KGET_KERNEL_ABI_ASSERT(kget_arg_reserved_offset, offsetof(kget_arg, reserved) == 4);
KGET_KERNEL_ABI_ASSERT(kget_arg_value_offset, offsetof(kget_arg, value) == 8);
KGET_KERNEL_ABI_ASSERT(kget_error_size, sizeof(kget_error) == 512);
KGET_KERNEL_ABI_ASSERT(kget_op_size, sizeof(kget_op) == 32);
KGET_KERNEL_ABI_ASSERT(kget_op_name, offsetof(kget_op, name) == 0);
KGET_KERNEL_ABI_ASSERT(kget_op_schema, offsetof(kget_op, schema) == 8);
KGET_KERNEL_ABI_ASSERT(kget_op_call, offsetof(kget_op, call) == 16);
KGET_KERNEL_ABI_ASSERT(kget_op_reserved, offsetof(kget_op, reserved) == 24);
KGET_KERNEL_ABI_ASSERT(descriptor_size, sizeof(kget_kernel_descriptor) == 40);
KGET_KERNEL_ABI_ASSERT(descriptor_major, offsetof(kget_kernel_descriptor, abi_version_major) == 0);
KGET_KERNEL_ABI_ASSERT(descriptor_minor, offsetof(kget_kernel_descriptor, abi_version_minor) == 4);
KGET_KERNEL_ABI_ASSERT(descriptor_name, offsetof(kget_kernel_descriptor, name) == 8);
KGET_KERNEL_ABI_ASSERT(descriptor_version, offsetof(kget_kernel_descriptor, version) == 16);
KGET_KERNEL_ABI_ASSERT(descriptor_num_ops, offsetof(kget_kernel_descriptor, num_ops) == 24);
KGET_KERNEL_ABI_ASSERT(descriptor_ops, offsetof(kget_kernel_descriptor, ops) == 32);
#endif

#undef KGET_KERNEL_ABI_ASSERT

/* ---------------------------------------------------------------------------------------------
 * Helpers for kernel authors: static inline, pure C, nothing exported. */
#ifndef KGET_KERNEL_ABI_NO_HELPERS
#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
#define KGET_KERNEL_ABI_PRINTF(format_index, first_arg)                                            \
  __attribute__((format(printf, format_index, first_arg)))
#else
#define KGET_KERNEL_ABI_PRINTF(format_index, first_arg)
#endif

/* Writes a printf-style message into `error` (truncated to fit; NULL `error` is allowed) and
 * returns `status`, so that an op can write `return kget_set_error(error, status, ...);`. */
static inline int kget_set_error(kget_error* error, int status, const char* format, ...)
    KGET_KERNEL_ABI_PRINTF(3, 4);
static inline int kget_set_error(kget_error* error, int status, const char* format, ...) {
  va_list args;
  if (!error) {
    return status;
  }
  va_start(args, format);
  vsnprintf(error->message, sizeof error->message, format, args);
  va_end(args);
  return status;
}

#undef KGET_KERNEL_ABI_PRINTF

/* Spelled per language so that the helpers stay clean under C++ warnings such as
 * -Wold-style-cast and -Wzero-as-null-pointer-constant. */
#ifdef __cplusplus
#define KGET_KERNEL_ABI_NULL nullptr
#define KGET_KERNEL_ABI_CAST(type, value) static_cast<type>(value)
#else
#define KGET_KERNEL_ABI_NULL NULL
#define KGET_KERNEL_ABI_CAST(type, value) ((type)(value))
#endif

/* True when `dtype` is the scalar type (code, bits), e.g. kget_dtype_is(t->dtype, kDLFloat, 32). */
static inline int kget_dtype_is(DLDataType dtype, int code, int bits) {
  return dtype.code == code && dtype.bits == bits && dtype.lanes == 1;
}

/* The name of a scalar dtype as PyTorch spells it ("float32", "bfloat16", "float8_e4m3fn"), or
 * NULL for a vector type or a code/width pair that has none. */
static inline const char* kget_dtype_name(DLDataType dtype) {
#define KGET_KERNEL_ABI_DTYPE(code, bits) (((code) << 8) | (bits))
  switch (dtype.lanes == 1 ? KGET_KERNEL_ABI_DTYPE(dtype.code, dtype.bits) : -1) {
  case KGET_KERNEL_ABI_DTYPE(kDLInt, 8):
    return "int8";
  case KGET_KERNEL_ABI_DTYPE(kDLInt, 16):
    return "int16";
  case KGET_KERNEL_ABI_DTYPE(kDLInt, 32):
    return "int32";
  case KGET_KERNEL_ABI_DTYPE(kDLInt, 64):
    return "int64";
  case KGET_KERNEL_ABI_DTYPE(kDLUInt, 8):
    return "uint8";
  case KGET_KERNEL_ABI_DTYPE(kDLUInt, 16):
    return "uint16";
  case KGET_KERNEL_ABI_DTYPE(kDLUInt, 32):
    return "uint32";
  case KGET_KERNEL_ABI_DTYPE(kDLUInt, 64):
    return "uint64";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat, 16):
    return "float16";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat, 32):
    return "float32";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat, 64):
    return "float64";
  case KGET_KERNEL_ABI_DTYPE(kDLBfloat, 16):
    return "bfloat16";
  case KGET_KERNEL_ABI_DTYPE(kDLComplex, 64):
    return "complex64";
  case KGET_KERNEL_ABI_DTYPE(kDLComplex, 128):
    return "complex128";
  case KGET_KERNEL_ABI_DTYPE(kDLBool, 8):
    return "bool";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat8_e4m3fn, 8):
    return "float8_e4m3fn";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat8_e4m3fnuz, 8):
    return "float8_e4m3fnuz";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat8_e5m2, 8):
    return "float8_e5m2";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat8_e5m2fnuz, 8):
    return "float8_e5m2fnuz";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat8_e8m0fnu, 8):
    return "float8_e8m0fnu";
  case KGET_KERNEL_ABI_DTYPE(kDLFloat4_e2m1fn, 4):
    return "float4_e2m1fn";
  default:
    return KGET_KERNEL_ABI_NULL;
  }
#undef KGET_KERNEL_ABI_DTYPE
}

/* The name of a kget_arg_kind for messages ("tensor", "int", ...), "unknown" for others. */
static inline const char* kget_arg_kind_name(int32_t kind) {
  switch (kind) {
  case KGET_ARG_NONE:
    return "none";
  case KGET_ARG_TENSOR:
    return "tensor";
  case KGET_ARG_INT:
    return "int";
  case KGET_ARG_FLOAT:
    return "float";
  case KGET_ARG_BOOL:
    return "bool";
  case KGET_ARG_STRING:
    return "string";
  case KGET_ARG_STREAM:
    return "stream";
  case KGET_ARG_DTYPE:
    return "dtype";
  default:
    return "unknown";
  }
}

/* Number of elements, or -1 when the shape is malformed (negative ndim or dimension, NULL shape
 * with ndim > 0) or the count does not fit in int64_t. */
static inline int64_t kget_tensor_numel(const DLTensor* tensor) {
  int64_t count = 1;
  int32_t d;
  if (tensor->ndim < 0 || (tensor->ndim > 0 && !tensor->shape)) {
    return -1;
  }
  for (d = 0; d < tensor->ndim; ++d) {
    int64_t extent = tensor->shape[d];
    if (extent < 0 || (extent > 0 && count > INT64_MAX / extent)) {
      return -1;
    }
    count *= extent;
  }
  return count;
}

/* True when the elements are compact and row-major (strides NULL, or equal to the row-major
 * strides except where the extent is 1 and the stride does not matter). Assumes a well-formed
 * shape (kget_tensor_numel(tensor) >= 0). */
static inline int kget_tensor_is_contiguous(const DLTensor* tensor) {
  int64_t expected = 1;
  int32_t d;
  if (!tensor->strides || kget_tensor_numel(tensor) == 0) {
    return 1;
  }
  for (d = tensor->ndim - 1; d >= 0; --d) {
    if (tensor->shape[d] != 1 && tensor->strides[d] != expected) {
      return 0;
    }
    expected *= tensor->shape[d];
  }
  return 1;
}

/* Address of the first element: data + byte_offset. */
static inline void* kget_tensor_data(const DLTensor* tensor) {
  char* base = KGET_KERNEL_ABI_CAST(char*, tensor->data);
  return base ? base + tensor->byte_offset : tensor->data;
}

/* True when both tensors have the same ndim and extents. */
static inline int kget_tensor_same_shape(const DLTensor* a, const DLTensor* b) {
  int32_t d;
  if (a->ndim != b->ndim) {
    return 0;
  }
  for (d = 0; d < a->ndim; ++d) {
    if (a->shape[d] != b->shape[d]) {
      return 0;
    }
  }
  return 1;
}

#undef KGET_KERNEL_ABI_NULL
#undef KGET_KERNEL_ABI_CAST
#endif /* KGET_KERNEL_ABI_NO_HELPERS */

#ifdef __cplusplus
}
#endif

#endif /* KGET_KERNEL_ABI_H */
