// A minimal kget kernel for the builder's tests (tests/unit/test_build_*.cpp): one op, and flaws
// switched on by definitions that the tests put into a copy of build.toml.
#include <kget/kernel_abi.h>

#if defined(TINY_NEEDS_GLIBC_2_34)
#include <pthread.h>
#endif

namespace {

int noop_call(const kget_arg*, size_t, kget_error*) {
  return KGET_KERNEL_OK;
}

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

#if defined(TINY_NEEDS_GLIBC_2_34)
// pthread_create is versioned GLIBC_2.34 since glibc moved libpthread into libc.
extern "C" __attribute__((visibility("default"))) void* tiny_thread_entry() {
  return reinterpret_cast<void*>(&pthread_create);
}
#endif

extern "C" KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t major,
                                                                             uint32_t) {
  return major == KGET_KERNEL_ABI_VERSION_MAJOR ? &tiny_descriptor : nullptr;
}
