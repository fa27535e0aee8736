// kget: a package manager and loader for precompiled GPU kernels.
//
// The public C++ API. It compiles as C++17 so that any application can include it; the library
// itself is built with a newer standard. Every failure surfaces as one exception type, kget::Error.
#ifndef KGET_KGET_HPP
#define KGET_KGET_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <kget/kernel_abi.h>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if defined(_WIN32)
#define KGET_API
#else
#define KGET_API __attribute__((visibility("default")))
#endif

namespace kget {

/// What went wrong, for callers that branch on it. The CLI maps each kind to an exit code
/// (see docs/cli.md); the numbers are stable.
enum class ErrorKind : int {
  usage = 2,                 // the caller asked for something that cannot be asked (bad flags)
  invalid_reference = 3,     // "org/name@spec" is malformed
  invalid_setting = 4,       // a KGET_* variable or option has a malformed value
  not_found = 5,             // kernel, revision, variant or file does not exist
  no_compatible_variant = 6, // variants exist, none fits this host
  invalid_metadata = 7,      // metadata.json (or another document) is malformed
  network = 8,               // the registry could not be reached or answered an error
  integrity = 9,             // a digest or signature does not match
  abi = 10,                  // a library does not satisfy the kernel C ABI or its metadata
  io = 11,                   // the filesystem refused a read or write
  internal = 12,             // a bug in kget
  conflict = 13,             // a version is already published with other content
  permission = 14,           // the registry refused the token, or none was given
  kernel = 15,               // a kernel op failed: unsupported input, device error, out of memory
};

/// The name of an error kind, e.g. "no_compatible_variant".
KGET_API const char* to_string(ErrorKind kind) noexcept;

/// The one exception type of the public API. what() says what was expected and what was found.
class KGET_API Error : public std::runtime_error {
public:
  Error(ErrorKind kind, const std::string& message);
  ErrorKind kind() const noexcept { return m_kind; }

private:
  ErrorKind m_kind;
};

/// The version of libkget, e.g. "0.1.0".
KGET_API const char* version() noexcept;

/// A CUDA stream (CUstream / cudaStream_t) for an op's `Stream` parameter; nullptr is the
/// default stream. CPU variants accept any value and ignore it.
struct Stream {
  void* handle = nullptr;
};

/// One argument of an op call, as the kernel C ABI carries it (docs/kernel-abi.md). Built
/// implicitly from what the schema expects: a DLTensor (Tensor, Tensor!, Tensor?), an integer
/// (int), a floating-point number (float), a bool, a string (str), std::nullopt (an absent
/// optional), a Stream, or a DLDataType (ScalarType). An Arg only points at tensors and strings:
/// they must outlive the call.
class Arg {
public:
  Arg(const DLTensor& tensor) noexcept : m_arg(make(KGET_ARG_TENSOR)) {
    m_arg.value.tensor = &tensor;
  }
  Arg(const DLTensor* tensor) noexcept : m_arg(make(KGET_ARG_TENSOR)) {
    m_arg.value.tensor = tensor;
  }
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Arg(T value) noexcept : m_arg(make(KGET_ARG_INT)) {
    m_arg.value.i = static_cast<int64_t>(value);
  }
  template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Arg(T value) noexcept : m_arg(make(KGET_ARG_FLOAT)) {
    m_arg.value.f = static_cast<double>(value);
  }
  Arg(bool value) noexcept : m_arg(make(KGET_ARG_BOOL)) { m_arg.value.b = value ? 1 : 0; }
  Arg(const char* text) noexcept : m_arg(make(KGET_ARG_STRING)) { m_arg.value.s = text; }
  Arg(const std::string& text) noexcept : Arg(text.c_str()) {}
  Arg(std::nullopt_t) noexcept : m_arg(make(KGET_ARG_NONE)) {}
  Arg(Stream stream) noexcept : m_arg(make(KGET_ARG_STREAM)) { m_arg.value.stream = stream.handle; }
  Arg(DLDataType dtype) noexcept : m_arg(make(KGET_ARG_DTYPE)) { m_arg.value.dtype = dtype; }

  const kget_arg& raw() const noexcept { return m_arg; }

private:
  static kget_arg make(kget_arg_kind kind) noexcept {
    kget_arg arg{};
    arg.kind = kind;
    return arg;
  }
  kget_arg m_arg;
};

namespace detail {
struct KernelState;
}

/// One op of a loaded kernel. Calls check the arguments against the op's schema (count and
/// kinds) before the kernel runs; the kernel then checks dtypes, shapes and devices. Failures
/// throw kget::Error: ErrorKind::usage for arguments the op refuses, ErrorKind::kernel when the
/// op fails otherwise. Cheap to copy; keeps its kernel loaded.
class KGET_API Op {
public:
  const std::string& name() const;
  /// E.g. "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()".
  const std::string& schema() const;

  template <class... Args>
  void operator()(const Args&... args) const {
    const Arg packed[] = {Arg(args)..., Arg(std::nullopt)};
    call(packed, sizeof...(Args));
  }
  void call(const Arg* args, size_t count) const;

private:
  friend class Kernel;
  Op(std::shared_ptr<const detail::KernelState> state, size_t index);
  std::shared_ptr<const detail::KernelState> m_state;
  size_t m_index = 0;
};

/// A kernel fetched, verified and loaded: which variant of which commit, from where, and why it
/// was chosen, with its ops. Cheap to copy; the library stays loaded for the life of the process.
class KGET_API Kernel {
public:
  const std::string& repo_id() const;  ///< "kernels-community/rmsnorm"
  const std::string& commit() const;   ///< 40 hex; empty for a local build
  const std::string& revision() const; ///< how the reference resolved, e.g. "branch v1"
  const std::string& variant() const;  ///< e.g. "kget1-cpu-x86_64-linux"
  const std::string& reason() const;   ///< why this variant fits, e.g. "exact SASS sm_90"
  const std::string& source() const;   ///< the endpoint, the cache, or the local directory
  const std::string& path() const;     ///< the variant directory
  const std::string& library_path() const;
  const std::string& metadata_json() const;         ///< the variant's metadata.json, verbatim
  const std::vector<std::string>& warnings() const; ///< e.g. an endpoint that failed
  std::vector<Op> ops() const;
  bool has_op(const std::string& name) const;
  /// ErrorKind::not_found naming the ops the kernel has when it has no such op.
  Op op(const std::string& name) const;

  /// get_kernel makes Kernels; the state is opaque outside libkget.
  explicit Kernel(std::shared_ptr<const detail::KernelState> state);

private:
  std::shared_ptr<const detail::KernelState> m_state;
};

/// Progress of one file of a download, for Options::progress.
struct Progress {
  std::string file; ///< path in the repository
  uint64_t received = 0;
  uint64_t total = 0;
  bool done = false;
};

/// How get_kernel fetches and loads. Every empty field falls back to its environment variable
/// (see `kget env`), then to the default.
struct Options {
  std::string endpoint;             ///< KGET_ENDPOINT / HF_ENDPOINT / https://huggingface.co
  std::vector<std::string> mirrors; ///< KGET_MIRRORS
  std::string cache_dir;            ///< KGET_CACHE / KERNELS_CACHE / HF_HUB_CACHE / HF_HOME/hub
  std::string token;                ///< KGET_TOKEN / HF_TOKEN / the HF token file
  std::optional<bool> offline;      ///< KGET_OFFLINE / HF_HUB_OFFLINE
  std::string device;               ///< KGET_DEVICE: "cpu", "cuda", "cuda:N"; "" = automatic
  std::string lock_file;            ///< KGET_LOCK_FILE: a kget.lock to honour (docs/lock.md)
  bool verify_full = false;         ///< re-hash every file before loading, not only stat it
  /// Called from download threads, possibly at once.
  std::function<void(const Progress&)> progress;
};

/// Fetches (or finds in the cache), verifies and loads the variant of `reference`
/// ("org/name@spec", docs/references.md) that fits this host. Throws kget::Error.
KGET_API Kernel get_kernel(const std::string& reference, const Options& options = Options());

} // namespace kget

#endif // KGET_KGET_HPP
