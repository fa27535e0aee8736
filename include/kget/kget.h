/* kget: the C API, for languages that speak C.
 *
 * Functions return a kget_status; 0 is success. On failure, kget_last_error() returns the
 * message of the calling thread's last failure. */
#ifndef KGET_KGET_H
#define KGET_KGET_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define KGET_C_API
#else
#define KGET_C_API __attribute__((visibility("default")))
#endif

/* Same numbers as kget::ErrorKind and as the CLI's exit codes. */
typedef enum kget_status {
  KGET_OK = 0,
  KGET_ERROR_USAGE = 2,
  KGET_ERROR_INVALID_REFERENCE = 3,
  KGET_ERROR_INVALID_SETTING = 4,
  KGET_ERROR_NOT_FOUND = 5,
  KGET_ERROR_NO_COMPATIBLE_VARIANT = 6,
  KGET_ERROR_INVALID_METADATA = 7,
  KGET_ERROR_NETWORK = 8,
  KGET_ERROR_INTEGRITY = 9,
  KGET_ERROR_ABI = 10,
  KGET_ERROR_IO = 11,
  KGET_ERROR_INTERNAL = 12,
  KGET_ERROR_CONFLICT = 13,
  KGET_ERROR_PERMISSION = 14,
  KGET_ERROR_KERNEL = 15
} kget_status;

/* The version of libkget, e.g. "0.1.0". */
KGET_C_API const char* kget_version(void);

/* The message of this thread's last failure, or "" if there was none. Valid until the next call
 * into kget from the same thread. */
KGET_C_API const char* kget_last_error(void);

/* Choose, for this host, among the variants under `variants_dir` (a kernel directory holding
 * build/<variant>/metadata.json), honouring KGET_DEVICE and the KGET_OVERRIDE_* variables. On
 * success writes the chosen variant's name into `variant` (at most `variant_size` bytes, NUL
 * included). KGET_ERROR_NO_COMPATIBLE_VARIANT's message lists every variant with its reason. */
KGET_C_API kget_status kget_resolve_local(const char* variants_dir, char* variant,
                                          unsigned long variant_size);

#ifdef __cplusplus
}
#endif

#endif /* KGET_KGET_H */
