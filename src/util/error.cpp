// kget::Error lives with the result type: it is what a Failure becomes at the public API.
#include <kget/kget.hpp>

namespace kget {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
  case ErrorKind::usage:
    return "usage";
  case ErrorKind::invalid_reference:
    return "invalid_reference";
  case ErrorKind::invalid_setting:
    return "invalid_setting";
  case ErrorKind::not_found:
    return "not_found";
  case ErrorKind::no_compatible_variant:
    return "no_compatible_variant";
  case ErrorKind::invalid_metadata:
    return "invalid_metadata";
  case ErrorKind::network:
    return "network";
  case ErrorKind::integrity:
    return "integrity";
  case ErrorKind::abi:
    return "abi";
  case ErrorKind::io:
    return "io";
  case ErrorKind::internal:
    return "internal";
  case ErrorKind::conflict:
    return "conflict";
  case ErrorKind::permission:
    return "permission";
  case ErrorKind::kernel:
    return "kernel";
  }
  return "unknown";
}

Error::Error(ErrorKind kind, const std::string& message)
    : std::runtime_error(message), m_kind(kind) {}

const char* version() noexcept {
  return KGET_VERSION_STRING;
}

} // namespace kget
