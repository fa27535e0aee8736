// The C entry point of an op: no C++ exception may cross it (docs/kernel-abi.md), so every op
// body runs inside guarded_op, which turns one into KGET_KERNEL_ERROR_INTERNAL with a message.
#pragma once

#include <exception>
#include <kget/kernel_abi.h>
#include <new>

namespace kget_kernels {

using OpBody = int (*)(const kget_arg* args, size_t nargs, kget_error* error);

template <OpBody Body>
int guarded_op(const kget_arg* args, size_t nargs, kget_error* error) noexcept {
  try {
    return Body(args, nargs, error);
  } catch (const std::bad_alloc&) {
    return kget_set_error(error, KGET_KERNEL_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& exception) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL, "unexpected C++ exception: %s",
                          exception.what());
  } catch (...) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL, "unexpected C++ exception");
  }
}

} // namespace kget_kernels
