// The CPU backend of rmsnorm: what ops.cpp calls with a validated problem.
#pragma once

#include "../rmsnorm_problem.h"

#include <kget/kernel_abi.h>

namespace kget_kernels::rmsnorm {

// Runs the problem with the path cpu_isa_choice() picked, on the calling thread and the pool.
// Fails only when that choice failed (a bad KGET_KERNEL_CPU_ISA or KGET_KERNEL_CPU_THREADS).
int run_cpu(const RmsNormProblem& problem, kget_error* error);
int run_cpu(const FusedAddRmsNormProblem& problem, kget_error* error);

} // namespace kget_kernels::rmsnorm
