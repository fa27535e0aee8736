// The CPU backend of activation: what ops.cpp calls with a validated problem.
#pragma once

#include "../activation_problem.h"

#include <kget/kernel_abi.h>

namespace kget_kernels::activation {

// Runs the problem with the path cpu_isa_choice() picked, on the calling thread and the pool.
// Fails only when that choice failed (a bad KGET_KERNEL_CPU_ISA or KGET_KERNEL_CPU_THREADS).
int run_cpu(const UnaryProblem& problem, kget_error* error);
int run_cpu(const GatedProblem& problem, kget_error* error);

} // namespace kget_kernels::activation
