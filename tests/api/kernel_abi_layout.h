/* The layout facts that kernel_abi_layout_test compares between two independent declarations of
 * the DLPack types: kget's own (kernel_abi_layout_kget.c, which includes only kget/kernel_abi.h)
 * and Debian's dlpack.h (kernel_abi_layout_dlpack.c, which includes only <dlpack/dlpack.h>). The
 * two can never meet in one translation unit with both declarations active, because kget's header
 * steps aside when dlpack.h came first; so each side exports a table built from the same lists
 * below, and main compares the tables by name. */
#ifndef KGET_TESTS_KERNEL_ABI_LAYOUT_H
#define KGET_TESTS_KERNEL_ABI_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct kget_layout_entry {
  const char* name;
  long long value;
} kget_layout_entry;

/* Types and fields that DLPack 0.6 (Debian's libdlpack-dev) and DLPack 1.1 (kget) share. */
#define KGET_LAYOUT_TYPES(X) X(DLDevice) X(DLDataType) X(DLTensor)

#define KGET_LAYOUT_FIELDS(X)                                                                      \
  X(DLDevice, device_type)                                                                         \
  X(DLDevice, device_id)                                                                           \
  X(DLDataType, code)                                                                              \
  X(DLDataType, bits)                                                                              \
  X(DLDataType, lanes)                                                                             \
  X(DLTensor, data)                                                                                \
  X(DLTensor, device)                                                                              \
  X(DLTensor, ndim)                                                                                \
  X(DLTensor, dtype)                                                                               \
  X(DLTensor, shape)                                                                               \
  X(DLTensor, strides)                                                                             \
  X(DLTensor, byte_offset)

#define KGET_LAYOUT_ENUMERATORS(X)                                                                 \
  X(kDLCPU)                                                                                        \
  X(kDLCUDA)                                                                                       \
  X(kDLCUDAHost)                                                                                   \
  X(kDLOpenCL)                                                                                     \
  X(kDLVulkan)                                                                                     \
  X(kDLMetal)                                                                                      \
  X(kDLVPI)                                                                                        \
  X(kDLROCM)                                                                                       \
  X(kDLROCMHost)                                                                                   \
  X(kDLExtDev)                                                                                     \
  X(kDLCUDAManaged)                                                                                \
  X(kDLInt)                                                                                        \
  X(kDLUInt)                                                                                       \
  X(kDLFloat)                                                                                      \
  X(kDLOpaqueHandle)                                                                               \
  X(kDLBfloat)                                                                                     \
  X(kDLComplex)

/* A number per field type, so that the tables compare types and not only sizes (int32_t and int
 * are one type on LP64; an enum is compatible with its underlying integer type). */
#define KGET_LAYOUT_TYPE_CODE(expression)                                                          \
  _Generic((expression), int8_t : 1, uint8_t : 2, int16_t : 3, uint16_t : 4, int32_t : 5,          \
           uint32_t : 6, int64_t : 7, uint64_t : 8, void* : 9, int64_t* : 10, default : 0)

/* Entries of one side's table, for use inside an array initialiser. */
#define KGET_LAYOUT_TYPE_ENTRIES(T)                                                                \
  {"sizeof(" #T ")", (long long)sizeof(T)}, {"_Alignof(" #T ")", (long long)_Alignof(T)},
#define KGET_LAYOUT_FIELD_ENTRIES(T, field)                                                        \
  {"offsetof(" #T ", " #field ")", (long long)offsetof(T, field)},                                 \
      {"sizeof(" #T "." #field ")", (long long)sizeof(((T*)0)->field)},                            \
      {"type(" #T "." #field ")", (long long)KGET_LAYOUT_TYPE_CODE(((T*)0)->field)},
#define KGET_LAYOUT_ENUMERATOR_ENTRY(name) {#name, (long long)(name)},
/* All entries of one side's table: `= {KGET_LAYOUT_ENTRIES}`. */
#define KGET_LAYOUT_ENTRIES                                                                        \
  KGET_LAYOUT_TYPES(KGET_LAYOUT_TYPE_ENTRIES)                                                      \
  KGET_LAYOUT_FIELDS(KGET_LAYOUT_FIELD_ENTRIES)                                                    \
  KGET_LAYOUT_ENUMERATORS(KGET_LAYOUT_ENUMERATOR_ENTRY)

extern const kget_layout_entry kget_layout_from_kget[];
extern const size_t kget_layout_from_kget_count;
extern const kget_layout_entry kget_layout_from_dlpack[];
extern const size_t kget_layout_from_dlpack_count;
extern const kget_layout_entry kget_layout_kget_only[];
extern const size_t kget_layout_kget_only_count;

#endif /* KGET_TESTS_KERNEL_ABI_LAYOUT_H */
