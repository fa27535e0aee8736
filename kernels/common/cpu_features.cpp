#include "cpu_features.h"

#include "parallel.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <kget/kernel_abi.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define KGET_KERNELS_X86 1
#endif

namespace kget_kernels {
namespace {

#ifdef KGET_KERNELS_X86
// XGETBV(0): which register states the OS saves on context switches. Encoded as bytes so that
// the file needs no -mxsave; only executed once CPUID says OSXSAVE is set.
uint64_t read_xcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

struct X86Features {
  bool avx2 = false;   // AVX, AVX2, FMA, F16C, OS saves YMM
  bool avx512 = false; // the above plus AVX-512 F, BW, DQ, VL, OS saves ZMM and opmasks
};

X86Features detect_x86() {
  X86Features features;
  unsigned eax = 0;
  unsigned ebx = 0;
  unsigned ecx = 0;
  unsigned edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    return features;
  }
  const bool fma = ecx & (1u << 12);
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  const bool f16c = ecx & (1u << 29);
  if (!osxsave || !avx) {
    return features;
  }
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6u) == 0x6u;   // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xe6u) == 0xe6u; // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    return features;
  }
  const bool avx2 = ebx & (1u << 5);
  const bool avx512f = ebx & (1u << 16);
  const bool avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30);
  const bool avx512vl = ebx & (1u << 31);
  features.avx2 = os_ymm && avx2 && fma && f16c;
  features.avx512 = features.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
#ifdef KGET_KERNELS_AVX512_EMULATED
  features.avx512 = features.avx2; // test libraries: AVX-512 emulated with AVX2 (simd_avx512.h)
#endif
  return features;
}

const X86Features& x86_features() {
  static const X86Features features = detect_x86();
  return features;
}
#endif

CpuIsa best_isa() {
  for (int i = kNumCpuIsas - 1; i > 0; --i) {
    const auto isa = static_cast<CpuIsa>(i);
    if (cpu_isa_compiled(isa) && cpu_isa_supported_by_cpu(isa)) {
      return isa;
    }
  }
  return CpuIsa::kScalar;
}

// Reads KGET_KERNEL_CPU_ISA. Runs once (cpu_isa_choice's static), so getenv is not raced by the
// ops themselves; the process must not setenv it concurrently with the first call.
CpuIsaChoice choose_isa() {
  CpuIsaChoice choice;
  choice.isa = best_isa();
  const char* forced = std::getenv("KGET_KERNEL_CPU_ISA");
  if (!forced || !*forced || std::strcmp(forced, "auto") == 0) {
    return choice;
  }
  for (int i = 0; i < kNumCpuIsas; ++i) {
    const auto isa = static_cast<CpuIsa>(i);
    if (std::strcmp(forced, cpu_isa_name(isa)) != 0) {
      continue;
    }
    choice.isa = isa;
    if (!cpu_isa_compiled(isa)) {
      choice.status = KGET_KERNEL_ERROR_UNSUPPORTED;
      std::snprintf(choice.message, sizeof choice.message,
                    "KGET_KERNEL_CPU_ISA=%s: this build has no %s code path (best here: %s)",
                    forced, forced, cpu_isa_name(best_isa()));
    } else if (!cpu_isa_supported_by_cpu(isa)) {
      choice.status = KGET_KERNEL_ERROR_UNSUPPORTED;
      std::snprintf(choice.message, sizeof choice.message,
                    "KGET_KERNEL_CPU_ISA=%s: this CPU does not support %s (best here: %s)", forced,
                    forced, cpu_isa_name(best_isa()));
    }
    return choice;
  }
  choice.status = KGET_KERNEL_ERROR_INVALID_ARGUMENT;
  std::snprintf(choice.message, sizeof choice.message,
                "KGET_KERNEL_CPU_ISA=%.40s: expected auto, scalar, avx2 or avx512", forced);
  return choice;
}

} // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
  case CpuIsa::kScalar:
    return "scalar";
  case CpuIsa::kAvx2:
    return "avx2";
  case CpuIsa::kAvx512:
    return "avx512";
  }
  return "unknown";
}

bool cpu_isa_compiled(CpuIsa isa) {
  switch (isa) {
  case CpuIsa::kScalar:
    return true;
  case CpuIsa::kAvx2:
#ifdef KGET_KERNELS_HAVE_AVX2
    return true;
#else
    return false;
#endif
  case CpuIsa::kAvx512:
#ifdef KGET_KERNELS_HAVE_AVX512
    return true;
#else
    return false;
#endif
  }
  return false;
}

bool cpu_isa_supported_by_cpu(CpuIsa isa) {
  switch (isa) {
  case CpuIsa::kScalar:
    return true;
#ifdef KGET_KERNELS_X86
  case CpuIsa::kAvx2:
    return x86_features().avx2;
  case CpuIsa::kAvx512:
    return x86_features().avx512;
#else
  case CpuIsa::kAvx2:
  case CpuIsa::kAvx512:
    return false;
#endif
  }
  return false;
}

const CpuIsaChoice& cpu_isa_choice() {
  static const CpuIsaChoice choice = choose_isa();
  return choice;
}

int resolve_cpu_isa(CpuIsa* isa, kget_error* error) {
  const CpuIsaChoice& choice = cpu_isa_choice();
  if (choice.status != KGET_KERNEL_OK) {
    return kget_set_error(error, choice.status, "%s", choice.message);
  }
  const char* message = nullptr;
  const int threads_status = cpu_thread_config_status(&message);
  if (threads_status != KGET_KERNEL_OK) {
    return kget_set_error(error, threads_status, "%s", message);
  }
  *isa = choice.isa;
  return KGET_KERNEL_OK;
}

} // namespace kget_kernels
