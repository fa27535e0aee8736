// kget: a package manager and loader for precompiled GPU kernels.
//
// The public C++ API. It compiles as C++17 so that any application can include it; the library
// itself is built with a newer standard. Every failure surfaces as one exception type, kget::Error.
#ifndef KGET_KGET_HPP
#define KGET_KGET_HPP

#include <stdexcept>
#include <string>

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

} // namespace kget

#endif // KGET_KGET_HPP
