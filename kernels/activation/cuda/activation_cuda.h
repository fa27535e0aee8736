// The CUDA backend of activation: what ops.cpp calls with a validated problem whose tensors are
// on CUDA device problem.device (compiled in with -DKGET_KERNEL_WITH_CUDA). Plain C++: ops.cpp
// includes it without the CUDA headers.
#pragma once

#include "../activation_problem.h"

#include <kget/kernel_abi.h>

namespace kget_kernels::activation {

// Enqueues the op on problem.stream and returns without waiting for it. KGET_KERNEL_ERROR_DEVICE
// (with the CUDA error and what to do) when the device cannot be made current or the launch
// fails; KGET_KERNEL_ERROR_INTERNAL, with nothing launched, for a dtype or activation it has no
// kernel for (ops.cpp passes none). Nothing is launched, and no CUDA call is made, for an empty
// problem. Messages name the op as problem.op.
int run_cuda(const UnaryProblem& problem, kget_error* error);
int run_cuda(const GatedProblem& problem, kget_error* error);

} // namespace kget_kernels::activation
