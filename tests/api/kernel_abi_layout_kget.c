/* Side A of kernel_abi_layout_test: the DLPack types as kget's header declares them. This
 * translation unit must not see any dlpack.h. */
#include "kernel_abi_layout.h"

#include <kget/kernel_abi.h>

_Static_assert(KGET_KERNEL_ABI_OWN_DLPACK == 1, "kget's own DLPack declarations must be in use");

const kget_layout_entry kget_layout_from_kget[] = {KGET_LAYOUT_ENTRIES};
const size_t kget_layout_from_kget_count = sizeof kget_layout_from_kget / sizeof(kget_layout_entry);

/* The DLPack 1.1 values kget declares beyond DLPack 0.6, for main to check against the spec. */
const kget_layout_entry kget_layout_kget_only[] = {
    {"kDLOneAPI", kDLOneAPI},
    {"kDLWebGPU", kDLWebGPU},
    {"kDLHexagon", kDLHexagon},
    {"kDLMAIA", kDLMAIA},
    {"kDLBool", kDLBool},
    {"kDLFloat8_e3m4", kDLFloat8_e3m4},
    {"kDLFloat8_e4m3", kDLFloat8_e4m3},
    {"kDLFloat8_e4m3b11fnuz", kDLFloat8_e4m3b11fnuz},
    {"kDLFloat8_e4m3fn", kDLFloat8_e4m3fn},
    {"kDLFloat8_e4m3fnuz", kDLFloat8_e4m3fnuz},
    {"kDLFloat8_e5m2", kDLFloat8_e5m2},
    {"kDLFloat8_e5m2fnuz", kDLFloat8_e5m2fnuz},
    {"kDLFloat8_e8m0fnu", kDLFloat8_e8m0fnu},
    {"kDLFloat6_e2m3fn", kDLFloat6_e2m3fn},
    {"kDLFloat6_e3m2fn", kDLFloat6_e3m2fn},
    {"kDLFloat4_e2m1fn", kDLFloat4_e2m1fn},
};
const size_t kget_layout_kget_only_count = sizeof kget_layout_kget_only / sizeof(kget_layout_entry);
