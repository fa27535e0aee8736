/* Side B of kernel_abi_layout_test: the DLPack types as Debian's dlpack.h (libdlpack-dev)
 * declares them. This translation unit must not see kget's header. */
#include "kernel_abi_layout.h"

#include <dlpack/dlpack.h>

#ifdef KGET_KERNEL_ABI_H
#error "side B must see only dlpack.h"
#endif

const kget_layout_entry kget_layout_from_dlpack[] = {KGET_LAYOUT_ENTRIES};
const size_t kget_layout_from_dlpack_count =
    sizeof kget_layout_from_dlpack / sizeof(kget_layout_entry);
