#include "loader/loader.hpp"

#include "host/elf_versions.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <set>
#include <system_error>

namespace kget::loader {

namespace fs = std::filesystem;

namespace {

// More ops than any kernel has; a descriptor claiming more is garbage, and the checks below would
// otherwise walk that many entries of memory the library does not own.
constexpr std::size_t k_max_ops = 10000;

// Libraries are never closed, so their descriptors stay valid for as long as the process runs; the
// registry only remembers them so that a second load of one file gives the same kernel. Keyed by
// the canonical path: in the cache, several variant directories may link to one blob.
struct Registry {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const LoadedKernel>> kernels;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

// The library named by $.kget.library: lexically inside the variant directory (it may be a
// symlink, as the cache's files are symlinks into its blobs), and a regular file once resolved.
Result<fs::path> library_path(const LoadRequest& request) {
  const std::string& library = request.metadata.kget.library;
  const fs::path normal = fs::path(library).lexically_normal();
  if (library.empty() || normal.is_absolute() || normal.empty() || *normal.begin() == "..") {
    return fail(ErrorKind::abi,
                "variant {}: $.kget.library \"{}\" is not a relative path inside the variant "
                "directory {}",
                request.variant, library, request.variant_dir.string());
  }
  fs::path path = request.variant_dir / normal;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error) {
    return fail(ErrorKind::io, "variant {}: cannot read the kernel library {}: {}", request.variant,
                path.string(), error.message());
  }
  if (!fs::is_regular_file(status)) {
    return fail(ErrorKind::abi, "variant {}: the kernel library {} is not a regular file",
                request.variant, path.string());
  }
  return path;
}

// The provider of a version family on this host, for messages: "libstdc++ provides up to
// GLIBCXX_3.4.30 (/usr/lib/x86_64-linux-gnu/libstdc++.so.6)".
std::string provider_description(const host::RuntimeAbi& runtime, const std::string& family) {
  const bool is_libc = family == "GLIBC";
  const host::VersionFamily& provided = is_libc               ? runtime.glibc
                                        : family == "GLIBCXX" ? runtime.glibcxx
                                                              : runtime.cxxabi;
  std::string library = is_libc ? "libc" : "libstdc++";
  std::string where = is_libc ? runtime.libc_path : runtime.libstdcxx_path;
  if (is_libc && util::starts_with(runtime.source, "KGET_OVERRIDE")) {
    where = "set by " + runtime.source;
  }
  if (provided.highest.empty()) {
    return fmt::format("this host's {} provides no {} versions{}", library, family,
                       where.empty() ? "" : " (" + where + ")");
  }
  return fmt::format("this host's {} provides up to {}_{}{}", library, family,
                     util::format_dotted(provided.highest),
                     where.empty() ? "" : " (" + where + ")");
}

// The family of a version name that kget's runtime policy governs ("GLIBC", "GLIBCXX", "CXXABI"),
// or "" for any other (a library's own versions, which dlopen checks).
std::string governed_family(std::string_view version) {
  const std::string_view family = version.substr(0, version.find('_'));
  if (family == "GLIBC" || family == "GLIBCXX" || family == "CXXABI") {
    return std::string(family);
  }
  return "";
}

bool host_provides(const host::RuntimeAbi& runtime, const std::string& family,
                   const std::string& version) {
  const auto& provided = runtime.provided_versions;
  if (std::find(provided.begin(), provided.end(), version) != provided.end()) {
    return true;
  }
  // libm and libpthread define GLIBC versions that libc.so.6's own table need not list; a
  // numeric version up to the family's highest is there.
  const host::VersionFamily& known = family == "GLIBC"     ? runtime.glibc
                                     : family == "GLIBCXX" ? runtime.glibcxx
                                                           : runtime.cxxabi;
  auto parsed = metadata::parse_symbol_version(version);
  return parsed && !known.highest.empty() && parsed->version <= known.highest;
}

// The versions the file itself needs, read before dlopen: a missing one would make dlopen fail
// with a message about a symbol, or, worse, succeed until a lazily bound symbol is called.
Result<void> check_version_needs(const fs::path& path, const host::HostInfo& host) {
  KGET_TRY_ASSIGN(auto needs, host::read_version_needs(path.string()));
  std::vector<std::string> missing;
  for (const auto& version : needs) {
    const std::string family = governed_family(version);
    if (!family.empty() && !host_provides(host.runtime, family, version)) {
      missing.push_back(
          fmt::format("needs {}; {}", version, provider_description(host.runtime, family)));
    }
  }
  if (missing.empty()) {
    return {};
  }
  return fail(ErrorKind::abi,
              "{}: {}. The library was built against a newer C/C++ runtime than this host has; "
              "use a variant built within the manylinux_2_28 policy, or a newer OS",
              path.string(), util::join(missing, "; "));
}

// "MAJOR" or "MAJOR.MINOR.PATCH", each a decimal number; the major, or nullopt when malformed.
std::optional<int> version_major(std::string_view version) {
  const auto parts = util::split(version, '.');
  if (parts.size() != 1 && parts.size() != 3) {
    return std::nullopt;
  }
  for (auto part : parts) {
    if (!util::parse_uint(part)) {
      return std::nullopt;
    }
  }
  return util::parse_uint(parts[0]);
}

// What the descriptor must satisfy whatever the metadata says.
Result<std::vector<LoadedOp>> check_descriptor(const fs::path& path,
                                               const kget_kernel_descriptor& descriptor) {
  const std::string where = path.string();
  if (descriptor.abi_version_major != KGET_KERNEL_ABI_VERSION_MAJOR) {
    return fail(ErrorKind::abi,
                "{}: the descriptor says ABI {}.{}; this kget speaks ABI {}.{} and loads only "
                "kernels of major {}",
                where, descriptor.abi_version_major, descriptor.abi_version_minor,
                KGET_KERNEL_ABI_VERSION_MAJOR, KGET_KERNEL_ABI_VERSION_MINOR,
                KGET_KERNEL_ABI_VERSION_MAJOR);
  }
  if (descriptor.name == nullptr || descriptor.version == nullptr) {
    return fail(ErrorKind::abi, "{}: the descriptor's {} is NULL", where,
                descriptor.name == nullptr ? "name" : "version");
  }
  if (!version_major(descriptor.version)) {
    return fail(ErrorKind::abi,
                "{}: the descriptor's version \"{}\" is neither MAJOR nor MAJOR.MINOR.PATCH", where,
                descriptor.version);
  }
  if (descriptor.num_ops > k_max_ops || (descriptor.num_ops > 0 && descriptor.ops == nullptr)) {
    return fail(ErrorKind::abi, "{}: the descriptor claims {} ops at address {}", where,
                descriptor.num_ops, static_cast<const void*>(descriptor.ops));
  }
  std::vector<LoadedOp> ops;
  std::set<std::string> names;
  for (std::size_t i = 0; i < descriptor.num_ops; ++i) {
    const kget_op& op = descriptor.ops[i];
    if (op.name == nullptr || op.schema == nullptr) {
      return fail(ErrorKind::abi, "{}: op {} has a NULL {}", where, i,
                  op.name == nullptr ? "name" : "schema");
    }
    if (op.call == nullptr) {
      return fail(ErrorKind::abi, "{}: op {} \"{}\" has a NULL call", where, i, op.name);
    }
    if (!names.insert(op.name).second) {
      return fail(ErrorKind::abi, "{}: op name \"{}\" appears twice; op names must be unique",
                  where, op.name);
    }
    auto parsed = parse_schema(op.schema);
    if (!parsed) {
      return fail(ErrorKind::abi, "{}: op {} \"{}\": {}", where, i, op.name,
                  parsed.error().message);
    }
    if (parsed->name != op.name) {
      return fail(ErrorKind::abi, "{}: op {} is named \"{}\" but its schema \"{}\" names \"{}\"",
                  where, i, op.name, op.schema, parsed->name);
    }
    ops.push_back(LoadedOp{op.name, op.schema, std::move(*parsed), op.call});
  }
  return ops;
}

// dlopen, the handshake and the checks that do not depend on the metadata.
Result<std::shared_ptr<const LoadedKernel>> open_kernel(const fs::path& path) {
  const std::string where = path.string();
  // RTLD_LOCAL: the kernel's symbols stay out of the global scope, so two versions of one kernel
  // (even with one SONAME: glibc matches an already loaded object by the file's device and inode,
  // and by SONAME only for names without a slash) load side by side. RTLD_NOW: an unresolvable
  // symbol fails here, not in the middle of a call. Never dlclosed (see Registry).
  void* handle = ::dlopen(where.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = ::dlerror();
    return fail(ErrorKind::abi, "{}: dlopen failed: {}", where,
                reason != nullptr ? reason : "no reason given");
  }
  void* symbol = ::dlsym(handle, KGET_KERNEL_INIT_SYMBOL);
  if (symbol == nullptr) {
    return fail(ErrorKind::abi,
                "{}: does not export {}; a kget kernel library exports it with "
                "KGET_KERNEL_EXPORT (docs/kernel-abi.md, \"The handshake\")",
                where, KGET_KERNEL_INIT_SYMBOL);
  }
  auto init = reinterpret_cast<kget_kernel_init_fn>(symbol);
  const kget_kernel_descriptor* descriptor =
      init(KGET_KERNEL_ABI_VERSION_MAJOR, KGET_KERNEL_ABI_VERSION_MINOR);
  if (descriptor == nullptr) {
    return fail(ErrorKind::abi,
                "{}: {}({}, {}) returned NULL: the kernel cannot serve ABI {}.{} (it was built "
                "for another major, or needs a newer minor)",
                where, KGET_KERNEL_INIT_SYMBOL, KGET_KERNEL_ABI_VERSION_MAJOR,
                KGET_KERNEL_ABI_VERSION_MINOR, KGET_KERNEL_ABI_VERSION_MAJOR,
                KGET_KERNEL_ABI_VERSION_MINOR);
  }
  KGET_TRY_ASSIGN(auto ops, check_descriptor(path, *descriptor));
  auto kernel = std::make_shared<LoadedKernel>();
  kernel->library_path = path;
  kernel->descriptor = descriptor;
  kernel->ops = std::move(ops);
  return std::shared_ptr<const LoadedKernel>(std::move(kernel));
}

std::string op_names(const std::vector<std::string>& names) {
  return names.empty() ? "none" : util::join(names, ", ");
}

// What the library declares against what its metadata.json says: docs/kernel-abi.md, "How kget
// checks a kernel when it loads it", steps 3 to 5.
Result<void> check_against_metadata(const LoadedKernel& kernel, const LoadRequest& request) {
  const std::string where = kernel.library_path.string();
  const kget_kernel_descriptor& descriptor = *kernel.descriptor;
  const metadata::VariantMetadata& meta = request.metadata;
  if (static_cast<long long>(descriptor.abi_version_major) != meta.kget.abi_major ||
      static_cast<long long>(descriptor.abi_version_minor) != meta.kget.abi_minor) {
    return fail(ErrorKind::abi,
                "{} (variant {}): the library was built for ABI {}.{}; metadata.json "
                "$.kget.abi says {}.{}",
                where, request.variant, descriptor.abi_version_major, descriptor.abi_version_minor,
                meta.kget.abi_major, meta.kget.abi_minor);
  }
  if (meta.name != descriptor.name) {
    return fail(ErrorKind::abi,
                "{} (variant {}): the library's descriptor names the kernel \"{}\"; metadata.json "
                "$.name says \"{}\"",
                where, request.variant, descriptor.name, meta.name);
  }
  if (version_major(descriptor.version) != meta.version) {
    return fail(ErrorKind::abi,
                "{} (variant {}): the library's descriptor says version \"{}\" (major {}); "
                "metadata.json $.version says {}",
                where, request.variant, descriptor.version, *version_major(descriptor.version),
                meta.version);
  }
  if (kernel.ops.size() != meta.kget.ops.size()) {
    std::vector<std::string> library_names;
    std::vector<std::string> metadata_names;
    for (const auto& op : kernel.ops) {
      library_names.push_back(op.name);
    }
    for (const auto& op : meta.kget.ops) {
      metadata_names.push_back(op.name);
    }
    return fail(ErrorKind::abi,
                "{} (variant {}): the library has {} ops ({}); metadata.json $.kget.ops lists {} "
                "({})",
                where, request.variant, kernel.ops.size(), op_names(library_names),
                meta.kget.ops.size(), op_names(metadata_names));
  }
  for (std::size_t i = 0; i < kernel.ops.size(); ++i) {
    const LoadedOp& op = kernel.ops[i];
    const metadata::Op& declared = meta.kget.ops[i];
    if (op.name != declared.name) {
      return fail(ErrorKind::abi,
                  "{} (variant {}): op {} of the library is \"{}\"; metadata.json "
                  "$.kget.ops[{}].name says \"{}\"",
                  where, request.variant, i, op.name, i, declared.name);
    }
    if (op.schema != declared.schema) {
      return fail(ErrorKind::abi,
                  "{} (variant {}): op \"{}\" has the schema \"{}\" in the library; metadata.json "
                  "$.kget.ops[{}].schema says \"{}\"",
                  where, request.variant, op.name, op.schema, i, declared.schema);
    }
  }
  return {};
}

std::string status_name(int status) {
  switch (status) {
  case KGET_KERNEL_ERROR_INVALID_ARGUMENT:
    return "KGET_KERNEL_ERROR_INVALID_ARGUMENT";
  case KGET_KERNEL_ERROR_UNSUPPORTED:
    return "KGET_KERNEL_ERROR_UNSUPPORTED";
  case KGET_KERNEL_ERROR_DEVICE:
    return "KGET_KERNEL_ERROR_DEVICE";
  case KGET_KERNEL_ERROR_OUT_OF_MEMORY:
    return "KGET_KERNEL_ERROR_OUT_OF_MEMORY";
  case KGET_KERNEL_ERROR_INTERNAL:
    return "KGET_KERNEL_ERROR_INTERNAL";
  default:
    return fmt::format("status {}, counted as KGET_KERNEL_ERROR_INTERNAL", status);
  }
}

} // namespace

Result<std::shared_ptr<const LoadedKernel>> load(const LoadRequest& request,
                                                 const host::HostInfo& host) {
  KGET_TRY_ASSIGN(fs::path path, library_path(request));
  std::error_code error;
  const fs::path canonical = fs::canonical(path, error);
  if (error) {
    return fail(ErrorKind::io, "variant {}: cannot resolve the kernel library {}: {}",
                request.variant, path.string(), error.message());
  }

  std::shared_ptr<const LoadedKernel> kernel;
  {
    Registry& loaded = registry();
    std::lock_guard lock(loaded.mutex);
    auto found = loaded.kernels.find(canonical.string());
    if (found != loaded.kernels.end()) {
      kernel = found->second;
    } else {
      // Once loaded, a library has passed this; reading its ELF again would cost a warm
      // get_kernel time in proportion to the library's size.
      KGET_TRY(check_version_needs(path, host));
      KGET_TRY_ASSIGN(kernel, open_kernel(canonical));
      loaded.kernels.emplace(canonical.string(), kernel);
    }
  }
  // Per request: one file may be loaded through several variants, each with its own metadata.
  KGET_TRY(check_against_metadata(*kernel, request));
  return kernel;
}

Result<void> call(const LoadedOp& op, const kget_arg* args, size_t nargs) {
  if (op.call == nullptr) {
    return fail(ErrorKind::internal, "{}: the op has no entry point (not from a loaded kernel)",
                op.name);
  }
  KGET_TRY(check_arguments(op.parsed, args, nargs));
  kget_error error;
  error.message[0] = '\0';
  const int status = op.call(args, nargs, &error);
  if (status == KGET_KERNEL_OK) {
    return {};
  }
  error.message[sizeof error.message - 1] = '\0'; // a kernel that overran its line still ends
  std::string message = error.message;
  if (message.empty()) {
    message = "the op failed without a message";
  }
  if (status == KGET_KERNEL_ERROR_INVALID_ARGUMENT) {
    return fail(ErrorKind::usage, "{}: {}", op.name, message);
  }
  return fail(ErrorKind::kernel, "{}: {} ({})", op.name, message, status_name(status));
}

} // namespace kget::loader
