// The CUDA backend of rmsnorm: what ops.cpp calls with a validated problem whose tensors are on
// CUDA device problem.device (compiled in with -DKGET_KERNEL_WITH_CUDA). Plain C++: ops.cpp
// includes it without the CUDA headers.
#pragma once

#include "../rmsnorm_problem.h"

#include <kget/kernel_abi.h>

namespace kget_kernels::rmsnorm {

// Enqueues the op on problem.stream and returns without waiting for it. KGET_KERNEL_ERROR_DEVICE
// (with the CUDA error and what to do) when the device cannot be made current or the launch
// fails (OUT_OF_MEMORY or INTERNAL for the errors docs/kernels.md lists), INTERNAL for a dtype
// the backend does not know (a bug: ops.cpp validated it); nothing is launched, and no CUDA call
// is made, for an empty problem.
int run_cuda(const RmsNormProblem& problem, kget_error* error);
int run_cuda(const FusedAddRmsNormProblem& problem, kget_error* error);

} // namespace kget_kernels::rmsnorm
