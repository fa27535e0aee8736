// The CPU backend of flash-attn3: what ops.cpp calls with a validated problem.
#pragma once

#include "../flash_attn_problem.h"

#include <kget/kernel_abi.h>

namespace kget_kernels::flash_attn3 {

// Runs the problem with the path cpu_isa_choice() picked, on the calling thread and the pool.
// Fails only when that choice failed (a bad KGET_KERNEL_CPU_ISA or KGET_KERNEL_CPU_THREADS).
int run_cpu(const AttentionProblem& problem, kget_error* error);

} // namespace kget_kernels::flash_attn3
