/* kget kernel C ABI: the one header a kernel library depends on. */
#ifndef KGET_KERNEL_ABI_H
#define KGET_KERNEL_ABI_H

/* A kernel built for ABI major N loads only in a libkget that speaks major N; minors add
 * backwards-compatible fields at the end of structures (docs/kernel-abi.md). */
#define KGET_KERNEL_ABI_VERSION_MAJOR 1
#define KGET_KERNEL_ABI_VERSION_MINOR 0

#endif /* KGET_KERNEL_ABI_H */
