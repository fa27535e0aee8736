/* kget: the C API, for languages that speak C.
 *
 * Functions return a kget_status; 0 is success. On failure, kget_last_error() returns the
 * message of the calling thread's last failure. */
#ifndef KGET_KGET_H
#define KGET_KGET_H

#include <kget/kernel_abi.h>
#include <stddef.h>

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

/* ---------------------------------------------------------------------------------------------
 * Fetching and loading kernels (docs/api.md). */

/* A kernel fetched, verified and loaded, with its ops. Free it with kget_kernel_free; the library
 * itself stays loaded for the life of the process, as in C++. */
typedef struct kget_kernel kget_kernel;

/* How kget_get_kernel fetches and loads. NULL pointers and empty strings fall back to the
 * environment variable (see `kget env`), then to the default, as kget::Options does.
 *
 * `struct_size` is sizeof(kget_options) as the caller compiled it: later versions of kget append
 * fields at the end and never move or remove one, and read only the fields that fit in
 * `struct_size`, so a program built against this header keeps working with a newer libkget. A
 * newer program with an older libkget has its fields past the older struct ignored. Start from
 * KGET_OPTIONS_INIT, which sets struct_size and every default:
 *
 *   kget_options options = KGET_OPTIONS_INIT;
 *   options.cache_dir = "/var/cache/kernels";
 */
typedef struct kget_options {
  size_t struct_size;
  const char* endpoint;  /* KGET_ENDPOINT / HF_ENDPOINT / https://huggingface.co */
  const char* cache_dir; /* KGET_CACHE / KERNELS_CACHE / HF_HUB_CACHE / $HF_HOME/hub */
  const char* token;     /* KGET_TOKEN / HF_TOKEN / the HF token file */
  int offline;           /* -1: KGET_OFFLINE / HF_HUB_OFFLINE; 0: online; 1: the cache only */
  const char* device;    /* KGET_DEVICE: "cpu", "cuda", "cuda:N"; NULL or "" = automatic */
  int verify_full;       /* nonzero: re-hash every cached file before loading, not only stat it */
  const char* lock_file; /* KGET_LOCK_FILE: a kget.lock to honour (docs/lock.md); NULL = none */
} kget_options;

#define KGET_OPTIONS_INIT                                                                          \
  { sizeof(kget_options), NULL, NULL, NULL, -1, NULL, 0, NULL }

/* Fetches (or finds in the cache), verifies and loads the variant of `reference` ("org/name@spec",
 * docs/references.md) that fits this host; `options` NULL means KGET_OPTIONS_INIT. On success
 * stores a new handle in *kernel; on failure stores NULL and kget_last_error() says why, e.g.
 * KGET_ERROR_NOT_FOUND, KGET_ERROR_NO_COMPATIBLE_VARIANT (the message explains each variant),
 * KGET_ERROR_NETWORK, KGET_ERROR_INTEGRITY, KGET_ERROR_ABI. */
KGET_C_API kget_status kget_get_kernel(const char* reference, const kget_options* options,
                                       kget_kernel** kernel);

/* Frees the handle (NULL is allowed). Ops already running finish; the library stays loaded. */
KGET_C_API void kget_kernel_free(kget_kernel* kernel);

/* What was loaded, as kget::Kernel says it: the repository ("org/name"), the variant
 * ("kget1-cpu-x86_64-linux"), the commit (40 hex; "" for a KGET_LOCAL_KERNELS build), why this
 * variant fits the host, where it came from (the endpoint, the cache, or the local directory), the
 * variant directory and the library. The strings live as long as the handle; NULL for a NULL
 * handle. */
KGET_C_API const char* kget_kernel_repo_id(const kget_kernel* kernel);
KGET_C_API const char* kget_kernel_variant(const kget_kernel* kernel);
KGET_C_API const char* kget_kernel_commit(const kget_kernel* kernel);
KGET_C_API const char* kget_kernel_reason(const kget_kernel* kernel);
KGET_C_API const char* kget_kernel_source(const kget_kernel* kernel);
KGET_C_API const char* kget_kernel_path(const kget_kernel* kernel);
KGET_C_API const char* kget_kernel_library_path(const kget_kernel* kernel);

/* The ops, in the kernel's order: kget_kernel_op_name(kernel, i) for i < kget_kernel_op_count,
 * and its schema, e.g. "relu(Tensor! out, Tensor input) -> ()". NULL when i is out of range. */
KGET_C_API size_t kget_kernel_op_count(const kget_kernel* kernel);
KGET_C_API const char* kget_kernel_op_name(const kget_kernel* kernel, size_t i);
KGET_C_API const char* kget_kernel_op_schema(const kget_kernel* kernel, size_t i);

/* Calls op `op` with `nargs` arguments (docs/kernel-abi.md: one kget_arg per schema parameter,
 * tensors and strings valid during the call). The arguments are checked against the schema
 * first. KGET_ERROR_NOT_FOUND names the ops the kernel has; KGET_ERROR_USAGE is an argument the op
 * refuses (the message names it); KGET_ERROR_KERNEL is any other failure of the op. Thread-safe
 * for ops that are (the shipped kernels' are). */
KGET_C_API kget_status kget_kernel_call(const kget_kernel* kernel, const char* op,
                                        const kget_arg* args, size_t nargs);

#ifdef __cplusplus
}
#endif

#endif /* KGET_KGET_H */
