#include "host/cpu.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <sys/utsname.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace kget::host {

namespace {

#if defined(__x86_64__)

struct CpuidRegisters {
  std::uint32_t eax = 0;
  std::uint32_t ebx = 0;
  std::uint32_t ecx = 0;
  std::uint32_t edx = 0;
};

CpuidRegisters cpuid(std::uint32_t leaf, std::uint32_t subleaf = 0) {
  CpuidRegisters r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

bool bit(std::uint32_t value, int index) {
  return ((value >> index) & 1U) != 0;
}

// XCR0: which register states the OS saves on context switch. Inline asm rather than _xgetbv so
// that this file needs no -mxsave; only called when CPUID says OSXSAVE is on.
std::uint64_t read_xcr0() {
  std::uint32_t low = 0;
  std::uint32_t high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (std::uint64_t{high} << 32) | low;
}

// XCR0 bits: SSE|AVX (YMM), opmask|ZMM_Hi256|Hi16_ZMM (AVX-512), XTILECFG|XTILEDATA (AMX).
constexpr std::uint64_t k_xcr0_ymm = 0x6;
constexpr std::uint64_t k_xcr0_avx512 = 0xe0;
constexpr std::uint64_t k_xcr0_amx = 0x60000;

std::vector<std::string> x86_features() {
  std::uint32_t max_leaf = cpuid(0).eax;
  if (max_leaf < 1) {
    return {};
  }
  CpuidRegisters leaf1 = cpuid(1);
  CpuidRegisters leaf7;
  CpuidRegisters leaf7_1;
  if (max_leaf >= 7) {
    leaf7 = cpuid(7, 0);
    if (leaf7.eax >= 1) {
      leaf7_1 = cpuid(7, 1);
    }
  }
  std::uint64_t xcr0 = bit(leaf1.ecx, 27) ? read_xcr0() : 0;
  bool ymm = (xcr0 & k_xcr0_ymm) == k_xcr0_ymm;
  bool zmm = ymm && (xcr0 & k_xcr0_avx512) == k_xcr0_avx512;
  bool tiles = (xcr0 & k_xcr0_amx) == k_xcr0_amx;

  struct Feature {
    const char* name;
    bool present;
  };
  const std::array features{
      Feature{"sse4.2", bit(leaf1.ecx, 20)},
      Feature{"avx", ymm && bit(leaf1.ecx, 28)},
      Feature{"fma", ymm && bit(leaf1.ecx, 12)},
      Feature{"f16c", ymm && bit(leaf1.ecx, 29)},
      Feature{"avx2", ymm && bit(leaf7.ebx, 5)},
      Feature{"bmi2", bit(leaf7.ebx, 8)},
      Feature{"avx512f", zmm && bit(leaf7.ebx, 16)},
      Feature{"avx512dq", zmm && bit(leaf7.ebx, 17)},
      Feature{"avx512cd", zmm && bit(leaf7.ebx, 28)},
      Feature{"avx512bw", zmm && bit(leaf7.ebx, 30)},
      Feature{"avx512vl", zmm && bit(leaf7.ebx, 31)},
      Feature{"avx512vnni", zmm && bit(leaf7.ecx, 11)},
      Feature{"avx512fp16", zmm && bit(leaf7.edx, 23)},
      Feature{"avx512bf16", zmm && bit(leaf7_1.eax, 5)},
      Feature{"amx-bf16", tiles && bit(leaf7.edx, 22)},
      Feature{"amx-tile", tiles && bit(leaf7.edx, 24)},
      Feature{"amx-int8", tiles && bit(leaf7.edx, 25)},
      Feature{"amx-fp16", tiles && bit(leaf7_1.eax, 21)},
  };
  std::vector<std::string> out;
  for (const auto& feature : features) {
    if (feature.present) {
      out.emplace_back(feature.name);
    }
  }
  return out;
}

std::string x86_model() {
  if (cpuid(0x80000000).eax < 0x80000004) {
    return "";
  }
  std::array<char, 49> brand{};
  for (std::uint32_t i = 0; i < 3; ++i) {
    CpuidRegisters r = cpuid(0x80000002 + i);
    std::memcpy(brand.data() + i * 16, &r, 16);
  }
  return std::string(util::trim(std::string_view(brand.data())));
}

#elif defined(__aarch64__)

std::vector<std::string> aarch64_features() {
  unsigned long hwcap = getauxval(AT_HWCAP);
  unsigned long hwcap2 = getauxval(AT_HWCAP2);
  std::vector<std::string> out;
  if ((hwcap & HWCAP_ASIMD) != 0) {
    out.emplace_back("asimd"); // the kernel's name; "neon" is the same unit
    out.emplace_back("neon");
  }
  if ((hwcap & HWCAP_SVE) != 0) {
    out.emplace_back("sve");
  }
  if ((hwcap2 & HWCAP2_SVE2) != 0) {
    out.emplace_back("sve2");
  }
  return out;
}

#endif

std::string process_arch() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  struct utsname names {};
  if (::uname(&names) != 0) {
    return "";
  }
  return normalize_arch(names.machine);
#endif
}

CpuInfo make_cpu_info() {
  CpuInfo cpu;
  cpu.arch = process_arch();
#if defined(__x86_64__)
  cpu.model = x86_model();
  cpu.features = x86_features();
  cpu.features_source = "cpuid";
#elif defined(__aarch64__)
  cpu.features = aarch64_features();
  cpu.features_source = "auxv";
#endif
  std::sort(cpu.features.begin(), cpu.features.end());
  return cpu;
}

} // namespace

const CpuInfo& detect_cpu() {
  static const CpuInfo cpu = make_cpu_info();
  return cpu;
}

std::string normalize_arch(std::string_view machine) {
  std::string lower = util::to_lower(machine);
  if (lower == "amd64" || lower == "x86-64") {
    return "x86_64";
  }
  if (lower == "arm64") {
    return "aarch64";
  }
  return lower;
}

const std::vector<std::string>& known_cpu_features(std::string_view arch) {
  static const std::vector<std::string> x86 = [] {
    std::vector<std::string> names{"sse4.2",   "avx",        "avx2",       "fma",        "f16c",
                                   "bmi2",     "avx512f",    "avx512bw",   "avx512vl",   "avx512dq",
                                   "avx512cd", "avx512vnni", "avx512bf16", "avx512fp16", "amx-tile",
                                   "amx-int8", "amx-bf16",   "amx-fp16"};
    std::sort(names.begin(), names.end());
    return names;
  }();
  static const std::vector<std::string> arm{"asimd", "neon", "sve", "sve2"};
  static const std::vector<std::string> none;
  if (arch == "x86_64") {
    return x86;
  }
  if (arch == "aarch64") {
    return arm;
  }
  return none;
}

} // namespace kget::host
