// A minimal kget kernel for the builder's tests (tests/unit/test_build_*.cpp): one op, and flaws
// switched on by definitions that the tests put into a copy of build.toml.
#include <kget/kernel_abi.h>

#if defined(TINY_NEEDS_GLIBC_2_34)
#include <pthread.h>
#endif
#if defined(TINY_NEEDS_GLIBC_2_36)
#include <stdlib.h>
#endif

namespace {

#if defined(TINY_NEEDS_GLIBC_2_34)
// pthread_create is versioned GLIBC_2.34 since glibc moved libpthread into libc; the builder pins
// it to GLIBC_2.2.5, and the op proves that the pinned call still runs a thread.
void* mark_ran(void* flag) {
  *static_cast<int*>(flag) = 1;
  return nullptr;
}

int noop_call(const kget_arg*, size_t, kget_error*) {
  int ran = 0;
  pthread_t thread;
  if (pthread_create(&thread, nullptr, mark_ran, &ran) != 0 || pthread_join(thread, nullptr) != 0) {
    return KGET_KERNEL_ERROR_INTERNAL;
  }
  return ran == 1 ? KGET_KERNEL_OK : KGET_KERNEL_ERROR_INTERNAL;
}
#elif defined(TINY_NEEDS_GLIBC_2_36)
// arc4random is new in glibc 2.36: no older version exists to pin it to.
int noop_call(const kget_arg*, size_t, kget_error*) {
  return arc4random() == 0 && arc4random() == 0 ? KGET_KERNEL_ERROR_INTERNAL : KGET_KERNEL_OK;
}
#else
int noop_call(const kget_arg*, size_t, kget_error*) {
  return KGET_KERNEL_OK;
}
#endif

const kget_op tiny_ops[] = {
    {"noop", "noop(Tensor! out) -> ()", noop_call, nullptr},
};

const kget_kernel_descriptor tiny_descriptor = {KGET_KERNEL_ABI_VERSION_MAJOR,
                                                KGET_KERNEL_ABI_VERSION_MINOR,
                                                "tiny",
                                                "1",
                                                sizeof tiny_ops / sizeof tiny_ops[0],
                                                tiny_ops};

} // namespace

#if defined(TINY_EXTRA_EXPORT)
// Exported by mistake: what a library without a version script shows.
extern "C" __attribute__((visibility("default"))) int tiny_extra_symbol() {
  return 42;
}
#endif

extern "C" KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t major,
                                                                             uint32_t) {
  return major == KGET_KERNEL_ABI_VERSION_MAJOR ? &tiny_descriptor : nullptr;
}
