// Loading a kernel library: the checks before dlopen, dlopen itself, the kget_kernel_init
// handshake, and the comparison of what the library declares with its metadata.json
// (docs/kernel-abi.md, "What the loader checks"). Libraries stay loaded for the life of the
// process, so ops never dangle; two versions of one kernel load side by side (RTLD_LOCAL).
#pragma once

#include "host/host.hpp"
#include "loader/schema.hpp"
#include "metadata/metadata.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <kget/kernel_abi.h>
#include <memory>
#include <string>
#include <vector>

namespace kget::loader {

struct LoadRequest {
  std::filesystem::path variant_dir; // holds metadata.json and the library
  std::string variant;               // the variant's name, for messages
  metadata::VariantMetadata metadata;
};

// One op of a loaded kernel: its entry point and its parsed schema.
struct LoadedOp {
  std::string name;
  std::string schema;
  Schema parsed;
  kget_op_fn call = nullptr;
};

struct LoadedKernel {
  std::filesystem::path library_path;
  const kget_kernel_descriptor* descriptor = nullptr;
  std::vector<LoadedOp> ops; // in the descriptor's order
};

// Loads the kernel library of a variant (docs/kernel-abi.md, "What the loader checks"). The
// library is request.variant_dir / $.kget.library: that path must stay lexically inside the
// variant directory (it may be a symlink, as in the cache, whose files link into its blobs) and
// resolve to a regular file. Before dlopen: every GLIBC, GLIBCXX and CXXABI version the file's
// own version needs name (read from the ELF file, not only from the metadata) must be provided
// by host.runtime. Then dlopen(RTLD_NOW | RTLD_LOCAL), dlsym(kget_kernel_init), init(1, minor)
// non-NULL, and the descriptor checks: ABI major equal to the host's and to $.kget.abi.major,
// minor equal to $.kget.abi.minor (a kernel of a newer minor may serve this host: it was told
// the host's minor and promised to use nothing newer), name == $.name, version MAJOR or
// MAJOR.MINOR.PATCH with MAJOR == $.version, ops (names and schemas) byte-equal to $.kget.ops in
// order, names unique, every call non-NULL, every schema valid and naming its op. Failures are
// ErrorKind::abi (io when the file cannot be read) and say what was expected and what was
// found. Loading the same file (same canonical path) twice returns the same kernel object
// without a second dlopen; the metadata checks run on every load. Thread-safe.
Result<std::shared_ptr<const LoadedKernel>> load(const LoadRequest& request,
                                                 const host::HostInfo& host);

// Calls `op` after checking `args` against its schema (check_arguments, ErrorKind::usage). A
// non-zero status from the kernel becomes a failure "<op name>: <kernel's message>":
// KGET_KERNEL_ERROR_INVALID_ARGUMENT as ErrorKind::usage, every other status as
// ErrorKind::kernel with the status's name appended (docs/kernel-abi.md, "Errors").
Result<void> call(const LoadedOp& op, const kget_arg* args, size_t nargs);

} // namespace kget::loader
