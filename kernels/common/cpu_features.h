// Which CPU code path the kernels run: detection from CPUID, and the KGET_KERNEL_CPU_ISA override.
#pragma once

#include <cstddef>
#include <kget/kernel_abi.h>

namespace kget_kernels {

// CPU code paths, in increasing order of preference. kScalar is portable C++ (what the compiler
// makes of it for the baseline target: SSE2 on x86-64, NEON on aarch64).
enum class CpuIsa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kNumCpuIsas = 3;

// "scalar", "avx2", "avx512".
const char* cpu_isa_name(CpuIsa isa);

// True when this library was built with the path (the AVX ones only on x86-64, with a compiler
// that knows the flags).
bool cpu_isa_compiled(CpuIsa isa);

// True when the CPU and the operating system support the path: AVX2 + FMA + F16C with YMM state
// enabled (XCR0), or AVX-512 F/BW/DQ/VL (x86-64-v4) with ZMM state enabled.
bool cpu_isa_supported_by_cpu(CpuIsa isa);

// The path every op uses, chosen once per process on first use: the best path that is compiled
// and supported, unless the environment variable KGET_KERNEL_CPU_ISA names one ("auto", "scalar",
// "avx2", "avx512"). A forced path that cannot run is an error, not a silent fallback, so that a
// test forcing a path never passes on another one.
struct CpuIsaChoice {
  CpuIsa isa = CpuIsa::kScalar;
  int status = 0;         // a kget_kernel_status: 0, or why no path was chosen
  char message[200] = {}; // with a nonzero status
};
const CpuIsaChoice& cpu_isa_choice();

// What a CPU op calls first: the chosen path in *isa, or the status and message of a bad
// KGET_KERNEL_CPU_ISA or KGET_KERNEL_CPU_THREADS (parallel.h), written into `error`.
int resolve_cpu_isa(CpuIsa* isa, kget_error* error);

} // namespace kget_kernels
