#include "host/cpu.hpp"

#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>
#include <string>

using namespace kget::host;

namespace {

// The kernel's /proc/cpuinfo flag for each of our feature names.
const std::map<std::string, std::string>& kernel_flag_names() {
  static const std::map<std::string, std::string> names{
      {"sse4.2", "sse4_2"},
      {"avx", "avx"},
      {"avx2", "avx2"},
      {"fma", "fma"},
      {"f16c", "f16c"},
      {"bmi2", "bmi2"},
      {"avx512f", "avx512f"},
      {"avx512bw", "avx512bw"},
      {"avx512vl", "avx512vl"},
      {"avx512dq", "avx512dq"},
      {"avx512cd", "avx512cd"},
      {"avx512vnni", "avx512_vnni"},
      {"avx512bf16", "avx512_bf16"},
      {"avx512fp16", "avx512_fp16"},
      {"amx-tile", "amx_tile"},
      {"amx-int8", "amx_int8"},
      {"amx-bf16", "amx_bf16"},
      {"amx-fp16", "amx_fp16"},
  };
  return names;
}

// The first "KEY : value" line of /proc/cpuinfo with this key.
std::string cpuinfo_field(const std::string& key) {
  std::ifstream file("/proc/cpuinfo");
  std::string line;
  while (std::getline(file, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::string name = line.substr(0, colon);
    name.erase(name.find_last_not_of(" \t") + 1);
    if (name == key) {
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "";
}

std::set<std::string> cpuinfo_flags() {
  std::istringstream words(cpuinfo_field("flags"));
  std::set<std::string> flags;
  for (std::string word; words >> word;) {
    flags.insert(word);
  }
  return flags;
}

bool reported(const CpuInfo& cpu, const std::string& feature) {
  return std::find(cpu.features.begin(), cpu.features.end(), feature) != cpu.features.end();
}

} // namespace

TEST(HostCpu, ArchIsTheHubName) {
  const CpuInfo& cpu = detect_cpu();
#if defined(__x86_64__)
  EXPECT_EQ(cpu.arch, "x86_64");
  EXPECT_EQ(cpu.features_source, "cpuid");
#elif defined(__aarch64__)
  EXPECT_EQ(cpu.arch, "aarch64");
  EXPECT_EQ(cpu.features_source, "auxv");
#endif
}

TEST(HostCpu, NormalizeArch) {
  EXPECT_EQ(normalize_arch("x86_64"), "x86_64");
  EXPECT_EQ(normalize_arch("amd64"), "x86_64");
  EXPECT_EQ(normalize_arch("AMD64"), "x86_64");
  EXPECT_EQ(normalize_arch("aarch64"), "aarch64");
  EXPECT_EQ(normalize_arch("arm64"), "aarch64");
  EXPECT_EQ(normalize_arch("riscv64"), "riscv64");
}

TEST(HostCpu, FeaturesAreKnownSortedUniqueLowerCase) {
  const CpuInfo& cpu = detect_cpu();
  const auto& known = known_cpu_features(cpu.arch);
  EXPECT_TRUE(std::is_sorted(cpu.features.begin(), cpu.features.end()));
  EXPECT_EQ(std::adjacent_find(cpu.features.begin(), cpu.features.end()), cpu.features.end());
  for (const auto& feature : cpu.features) {
    EXPECT_NE(std::find(known.begin(), known.end(), feature), known.end()) << feature;
    EXPECT_EQ(feature, kget::util::to_lower(feature));
  }
}

TEST(HostCpu, KnownFeatureLists) {
  const auto& x86 = known_cpu_features("x86_64");
  EXPECT_EQ(x86.size(), 18u);
  EXPECT_TRUE(std::is_sorted(x86.begin(), x86.end()));
  for (const auto& [ours, kernel] : kernel_flag_names()) {
    EXPECT_NE(std::find(x86.begin(), x86.end(), ours), x86.end()) << ours;
  }
  const auto& arm = known_cpu_features("aarch64");
  EXPECT_EQ(arm, (std::vector<std::string>{"asimd", "neon", "sve", "sve2"}));
  EXPECT_TRUE(known_cpu_features("riscv64").empty());
}

#if defined(__x86_64__)

// The kernel derives its flags from the same CPUID bits and clears those whose register state it
// does not enable, so both views must agree feature by feature.
TEST(HostCpu, FeaturesAgreeWithProcCpuinfo) {
  std::set<std::string> flags = cpuinfo_flags();
  if (flags.empty()) {
    GTEST_SKIP() << "/proc/cpuinfo has no flags line";
  }
  const CpuInfo& cpu = detect_cpu();
  for (const auto& feature : cpu.features) {
    EXPECT_TRUE(flags.contains(kernel_flag_names().at(feature)))
        << feature << " reported by CPUID but not in /proc/cpuinfo";
  }
  for (const auto& [ours, kernel] : kernel_flag_names()) {
    if (flags.contains(kernel)) {
      EXPECT_TRUE(reported(cpu, ours))
          << kernel << " in /proc/cpuinfo but " << ours << " not reported";
    }
  }
  if (flags.contains("avx2")) {
    EXPECT_TRUE(reported(cpu, "avx2"));
  }
  // Every x86-64 machine kget supports has SSE4.2 (x86-64-v2).
  EXPECT_TRUE(reported(cpu, "sse4.2"));
}

TEST(HostCpu, ModelIsTheBrandString) {
  const CpuInfo& cpu = detect_cpu();
  std::string model = cpuinfo_field("model name");
  if (model.empty()) {
    GTEST_SKIP() << "/proc/cpuinfo has no model name";
  }
  EXPECT_EQ(cpu.model, model);
}

#endif
