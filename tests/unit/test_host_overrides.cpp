// KGET_OVERRIDE_*: every variable with valid and invalid values, applied to a fixed host so that
// the expectations do not depend on this machine.
#include "host/host.hpp"

#include <gtest/gtest.h>
#include <map>
#include <string>

using namespace kget::host;
using kget::ErrorKind;
using kget::settings::Environment;
using kget::util::MajorMinor;
using Variables = std::map<std::string, std::string, std::less<>>;

namespace {

HostInfo sample_host(const std::string& arch = "x86_64") {
  HostInfo host;
  host.os = "linux";
  host.cpu.arch = arch;
  host.cpu.model = "Test CPU";
  host.cpu.features = {"avx", "avx2", "fma"};
  host.cpu.features_source = "cpuid";
  host.runtime.glibc_version = "2.36";
  host.runtime.libc_path = "/lib/libc.so.6";
  host.runtime.libstdcxx_path = "/lib/libstdc++.so.6";
  host.runtime.provided_versions = {"CXXABI_1.3.13", "GLIBCXX_3.4.30", "GLIBC_2.17",   "GLIBC_2.28",
                                    "GLIBC_2.34",    "GLIBC_2.36",     "GLIBC_PRIVATE"};
  host.runtime.glibc.highest = {2, 36};
  host.runtime.glibcxx.highest = {3, 4, 30};
  host.runtime.cxxabi.highest = {1, 3, 13};
  host.runtime.source = "ELF version definitions";
  host.cuda.available = true;
  host.cuda.driver_version = {12, 4};
  host.cuda.driver_release = "550.54.15";
  host.cuda.source = "libcuda.so.1";
  CudaDevice device;
  device.name = "NVIDIA A100";
  device.uuid = "GPU-1";
  device.capability = {8, 0};
  device.sm_count = 108;
  device.total_memory = 1 << 30;
  host.cuda.devices = {device};
  return host;
}

HostInfo sample_without_cuda() {
  HostInfo host = sample_host();
  host.cuda = CudaInfo{};
  host.cuda.unavailable_reason = "libcuda.so.1 not found";
  host.cuda.source = "libcuda.so.1";
  return host;
}

kget::Result<HostInfo> apply(HostInfo host, Variables variables) {
  KGET_TRY(apply_overrides(host, Environment::from_map(std::move(variables))));
  return host;
}

std::vector<MajorMinor> capabilities(const HostInfo& host) {
  std::vector<MajorMinor> out;
  for (const auto& device : host.cuda.devices) {
    out.push_back(device.capability);
  }
  return out;
}

} // namespace

TEST(HostOverrides, NoneSetChangesNothing) {
  auto host = apply(sample_host(), {{"KGET_CUDA_DRIVER_LIBRARY", "x"}, {"UNRELATED", "1"}});
  ASSERT_TRUE(host.has_value());
  EXPECT_TRUE(host->overrides.empty());
  EXPECT_EQ(host->cuda.source, "libcuda.so.1");
  EXPECT_EQ(host->cpu.features, sample_host().cpu.features);
}

TEST(HostOverrides, CudaDriverVersion) {
  for (HostInfo base : {sample_host(), sample_without_cuda()}) {
    auto host = apply(base, {{"KGET_OVERRIDE_CUDA_DRIVER", "12.8"}});
    ASSERT_TRUE(host.has_value()) << host.error().message;
    EXPECT_TRUE(host->cuda.available);
    EXPECT_EQ(host->cuda.unavailable_reason, "");
    EXPECT_EQ(host->cuda.driver_version, (MajorMinor{12, 8}));
    EXPECT_EQ(host->cuda.driver_release, "");
    EXPECT_EQ(host->cuda.devices.size(), base.cuda.devices.size()) << "devices are kept";
    EXPECT_EQ(host->cuda.source, "KGET_OVERRIDE_CUDA_DRIVER, libcuda.so.1");
    EXPECT_EQ(host->overrides, (std::vector<std::string>{"KGET_OVERRIDE_CUDA_DRIVER=12.8"}));
  }
}

TEST(HostOverrides, CudaDriverNone) {
  for (const char* none : {"none", "NONE", " none "}) {
    auto host = apply(sample_host(), {{"KGET_OVERRIDE_CUDA_DRIVER", none}});
    ASSERT_TRUE(host.has_value());
    EXPECT_FALSE(host->cuda.available);
    EXPECT_EQ(host->cuda.unavailable_reason, "KGET_OVERRIDE_CUDA_DRIVER=none");
    EXPECT_TRUE(host->cuda.devices.empty());
    EXPECT_EQ(host->cuda.driver_release, "");
    EXPECT_EQ(host->cuda.source, "KGET_OVERRIDE_CUDA_DRIVER");
    EXPECT_EQ(host->overrides,
              (std::vector<std::string>{"KGET_OVERRIDE_CUDA_DRIVER=" + std::string(none)}));
  }
}

TEST(HostOverrides, CudaArch) {
  struct Case {
    const char* value;
    std::vector<MajorMinor> expected;
  };
  const std::vector<Case> cases{
      {"9.0", {{9, 0}}},
      {"8.0,9.0", {{8, 0}, {9, 0}}},
      {" 8.6 , 12.0 ,10.0", {{8, 6}, {12, 0}, {10, 0}}},
      {"9.0,9.0", {{9, 0}, {9, 0}}},
      {"none", {}},
      {"", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    auto host = apply(sample_host(), {{"KGET_OVERRIDE_CUDA_ARCH", c.value}});
    ASSERT_TRUE(host.has_value()) << host.error().message;
    EXPECT_EQ(capabilities(*host), c.expected);
    for (std::size_t i = 0; i < host->cuda.devices.size(); ++i) {
      const CudaDevice& device = host->cuda.devices[i];
      EXPECT_EQ(device.ordinal, static_cast<int>(i));
      EXPECT_EQ(device.name, "override");
      EXPECT_EQ(device.uuid, "");
      EXPECT_EQ(device.sm_count, 0);
      EXPECT_EQ(device.total_memory, 0u);
    }
    EXPECT_TRUE(host->cuda.available) << "the detected driver is kept";
    EXPECT_EQ(host->cuda.driver_version, (MajorMinor{12, 4}));
    EXPECT_EQ(host->cuda.source, "KGET_OVERRIDE_CUDA_ARCH, libcuda.so.1");
  }
}

TEST(HostOverrides, CudaDriverAndArchTogetherDescribeAnotherMachine) {
  auto host = apply(sample_without_cuda(), {{"KGET_OVERRIDE_CUDA_DRIVER", "13.0"},
                                            {"KGET_OVERRIDE_CUDA_ARCH", "9.0,10.0"}});
  ASSERT_TRUE(host.has_value());
  EXPECT_TRUE(host->cuda.available);
  EXPECT_EQ(host->cuda.driver_version, (MajorMinor{13, 0}));
  EXPECT_EQ(capabilities(*host), (std::vector<MajorMinor>{{9, 0}, {10, 0}}));
  EXPECT_EQ(host->cuda.source, "KGET_OVERRIDE_CUDA_DRIVER, KGET_OVERRIDE_CUDA_ARCH");
  EXPECT_EQ(host->overrides, (std::vector<std::string>{"KGET_OVERRIDE_CUDA_DRIVER=13.0",
                                                       "KGET_OVERRIDE_CUDA_ARCH=9.0,10.0"}));
}

TEST(HostOverrides, Glibc) {
  auto host = apply(sample_host(), {{"KGET_OVERRIDE_GLIBC", "2.28"}});
  ASSERT_TRUE(host.has_value()) << host.error().message;
  EXPECT_EQ(host->runtime.glibc_version, "2.28");
  EXPECT_EQ(host->runtime.glibc.highest, (std::vector<int>{2, 28}));
  EXPECT_EQ(host->runtime.glibcxx.highest, (std::vector<int>{3, 4, 30}));
  EXPECT_EQ(host->runtime.cxxabi.highest, (std::vector<int>{1, 3, 13}));
  EXPECT_EQ(host->runtime.source, "KGET_OVERRIDE_GLIBC");
  // Versions beyond the pretended glibc no longer count as provided; the rest are untouched.
  EXPECT_EQ(host->runtime.provided_versions,
            (std::vector<std::string>{"CXXABI_1.3.13", "GLIBCXX_3.4.30", "GLIBC_2.17", "GLIBC_2.28",
                                      "GLIBC_PRIVATE"}));
  EXPECT_EQ(host->overrides, (std::vector<std::string>{"KGET_OVERRIDE_GLIBC=2.28"}));

  auto newer = apply(sample_host(), {{"KGET_OVERRIDE_GLIBC", "2.40"}});
  ASSERT_TRUE(newer.has_value());
  EXPECT_EQ(newer->runtime.glibc.highest, (std::vector<int>{2, 40}));
  EXPECT_EQ(newer->runtime.provided_versions, sample_host().runtime.provided_versions);
}

TEST(HostOverrides, GlibcNone) {
  auto host = apply(sample_host(), {{"KGET_OVERRIDE_GLIBC", "none"}});
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->runtime.glibc_version, "");
  EXPECT_TRUE(host->runtime.glibc.highest.empty());
  EXPECT_EQ(host->runtime.glibcxx.highest, (std::vector<int>{3, 4, 30}));
  EXPECT_EQ(host->runtime.provided_versions,
            (std::vector<std::string>{"CXXABI_1.3.13", "GLIBCXX_3.4.30"}));
  EXPECT_EQ(host->runtime.source, "KGET_OVERRIDE_GLIBC");
}

TEST(HostOverrides, CpuFeatures) {
  struct Case {
    const char* value;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases{
      {"avx2,fma", {"avx2", "fma"}},
      {"FMA, AVX2 ,avx2", {"avx2", "fma"}},
      {"avx512f,amx-tile,sse4.2", {"amx-tile", "avx512f", "sse4.2"}},
      {"none", {}},
      {"", {}},
      {"  ", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    auto host = apply(sample_host(), {{"KGET_OVERRIDE_CPU_FEATURES", c.value}});
    ASSERT_TRUE(host.has_value()) << host.error().message;
    EXPECT_EQ(host->cpu.features, c.expected);
    EXPECT_EQ(host->cpu.features_source, "KGET_OVERRIDE_CPU_FEATURES");
    EXPECT_EQ(host->overrides,
              (std::vector<std::string>{"KGET_OVERRIDE_CPU_FEATURES=" + std::string(c.value)}));
  }
}

TEST(HostOverrides, CpuFeaturesFollowTheHostArch) {
  auto arm = apply(sample_host("aarch64"), {{"KGET_OVERRIDE_CPU_FEATURES", "sve2,neon"}});
  ASSERT_TRUE(arm.has_value()) << arm.error().message;
  EXPECT_EQ(arm->cpu.features, (std::vector<std::string>{"neon", "sve2"}));

  auto wrong = apply(sample_host("aarch64"), {{"KGET_OVERRIDE_CPU_FEATURES", "avx2"}});
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message.find("asimd, neon, sve, sve2 (known for aarch64)"),
            std::string::npos)
      << wrong.error().message;
}

TEST(HostOverrides, InvalidValuesAreErrors) {
  struct Case {
    const char* variable;
    const char* value;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases{
      {"KGET_OVERRIDE_CUDA_DRIVER",
       "12",
       {"KGET_OVERRIDE_CUDA_DRIVER=\"12\" is not a CUDA "
        "version: expected MAJOR.MINOR such as 12.8"}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "", {"KGET_OVERRIDE_CUDA_DRIVER=\"\"", "or none"}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "12.10", {"\"12.10\"", "minor 0-9"}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "0.5", {"\"0.5\"", "major 1-99"}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "100.0", {"\"100.0\""}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "12.8.1", {"\"12.8.1\""}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "v12.8", {"\"v12.8\""}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "-1.0", {"\"-1.0\""}},
      {"KGET_OVERRIDE_CUDA_DRIVER", "nothing", {"\"nothing\""}},
      {"KGET_OVERRIDE_CUDA_ARCH",
       "9",
       {"KGET_OVERRIDE_CUDA_ARCH=\"9\" is not a compute capability list (\"9\" is not "
        "MAJOR.MINOR): expected MAJOR.MINOR[,MAJOR.MINOR...] such as 9.0 or 8.0,9.0, or none"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "8.0,9", {"=\"8.0,9\"", "(\"9\" is not MAJOR.MINOR)"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "sm_90", {"(\"sm_90\" is not"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "9.0a", {"(\"9.0a\" is not"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "9.10", {"(\"9.10\" is not"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "8.0,,9.0", {"(\"\" is not"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "9.0,", {"(\"\" is not"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "0.0", {"(\"0.0\" is not"}},
      {"KGET_OVERRIDE_CUDA_ARCH", "9.0,none", {"(\"none\" is not"}},
      {"KGET_OVERRIDE_GLIBC",
       "2",
       {"KGET_OVERRIDE_GLIBC=\"2\" is not a glibc version: expected MAJOR.MINOR such as 2.28"}},
      {"KGET_OVERRIDE_GLIBC", "2.28.1", {"\"2.28.1\""}},
      {"KGET_OVERRIDE_GLIBC", "1.9", {"\"1.9\""}},
      {"KGET_OVERRIDE_GLIBC", "GLIBC_2.28", {"\"GLIBC_2.28\""}},
      {"KGET_OVERRIDE_GLIBC", "", {"KGET_OVERRIDE_GLIBC=\"\"", "or none"}},
      {"KGET_OVERRIDE_CPU_FEATURES",
       "avx2,avx9",
       {"KGET_OVERRIDE_CPU_FEATURES=\"avx2,avx9\" names an unknown CPU feature \"avx9\"",
        "expected a comma-separated list of amx-bf16, amx-fp16, amx-int8, amx-tile, avx, avx2,",
        "(known for x86_64), or none"}},
      {"KGET_OVERRIDE_CPU_FEATURES", "avx2,,fma", {"unknown CPU feature \"\""}},
      {"KGET_OVERRIDE_CPU_FEATURES", "sse4_2", {"unknown CPU feature \"sse4_2\""}},
      {"KGET_OVERRIDE_CPU_FEATURES", "avx2 fma", {"unknown CPU feature \"avx2 fma\""}},
      {"KGET_OVERRIDE_CPU_FEATURES", "none,avx2", {"unknown CPU feature \"none\""}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.variable) + "=" + c.value);
    auto host = apply(sample_host(), {{c.variable, c.value}});
    ASSERT_FALSE(host.has_value()) << "accepted";
    EXPECT_EQ(host.error().kind, ErrorKind::invalid_setting);
    EXPECT_TRUE(host.error().message.starts_with(c.variable)) << host.error().message;
    EXPECT_NE(host.error().message.find("expected"), std::string::npos) << host.error().message;
    for (const auto& fragment : c.fragments) {
      EXPECT_NE(host.error().message.find(fragment), std::string::npos)
          << host.error().message << "\nlacks: " << fragment;
    }
  }
}

TEST(HostOverrides, AnInvalidVariableLeavesTheHostUntouched) {
  HostInfo host = sample_host();
  auto result = apply_overrides(host, Environment::from_map({{"KGET_OVERRIDE_CPU_FEATURES", "avx2"},
                                                             {"KGET_OVERRIDE_GLIBC", "2.28"},
                                                             {"KGET_OVERRIDE_CUDA_ARCH", "9"}}));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(host.cpu.features, sample_host().cpu.features);
  EXPECT_EQ(host.runtime.glibc_version, "2.36");
  EXPECT_TRUE(host.overrides.empty());
}

TEST(HostOverrides, AllAtOnceAreRecordedInOrder) {
  auto host = apply(sample_host(), {{"KGET_OVERRIDE_CPU_FEATURES", "avx2"},
                                    {"KGET_OVERRIDE_GLIBC", "2.28"},
                                    {"KGET_OVERRIDE_CUDA_ARCH", "9.0"},
                                    {"KGET_OVERRIDE_CUDA_DRIVER", "12.8"}});
  ASSERT_TRUE(host.has_value()) << host.error().message;
  EXPECT_EQ(host->overrides, (std::vector<std::string>{
                                 "KGET_OVERRIDE_CUDA_DRIVER=12.8", "KGET_OVERRIDE_CUDA_ARCH=9.0",
                                 "KGET_OVERRIDE_GLIBC=2.28", "KGET_OVERRIDE_CPU_FEATURES=avx2"}));
}

TEST(HostOverrides, DetectAppliesOverridesAndReportsInvalidOnes) {
  auto host = detect(Environment::from_map({{"KGET_CUDA_DRIVER_LIBRARY", "libcuda_kget_none.so"},
                                            {"KGET_OVERRIDE_CUDA_DRIVER", "12.8"},
                                            {"KGET_OVERRIDE_CUDA_ARCH", "9.0"},
                                            {"KGET_OVERRIDE_CPU_FEATURES", "none"}}));
  ASSERT_TRUE(host.has_value()) << host.error().message;
  EXPECT_TRUE(host->cuda.available);
  EXPECT_EQ(capabilities(*host), (std::vector<MajorMinor>{{9, 0}}));
  EXPECT_TRUE(host->cpu.features.empty());
  EXPECT_EQ(host->overrides.size(), 3u);

  auto invalid = detect(Environment::from_map({{"KGET_OVERRIDE_GLIBC", "two"}}));
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().kind, ErrorKind::invalid_setting);
}

namespace {

TEST(HostOverridesContradiction, NoDriverWithDevicesIsAnError) {
  kget::host::HostInfo host = kget::host::detect_without_overrides(
      kget::settings::Environment::from_map({{"KGET_CUDA_DRIVER_LIBRARY", "libkget-none.so"}}));
  auto env = kget::settings::Environment::from_map(
      {{"KGET_OVERRIDE_CUDA_DRIVER", "none"}, {"KGET_OVERRIDE_CUDA_ARCH", "9.0"}});
  auto result = kget::host::apply_overrides(host, env);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, kget::ErrorKind::invalid_setting);
  EXPECT_NE(result.error().message.find("KGET_OVERRIDE_CUDA_DRIVER=none says there is no driver"),
            std::string::npos);
  auto consistent = kget::settings::Environment::from_map(
      {{"KGET_OVERRIDE_CUDA_DRIVER", "none"}, {"KGET_OVERRIDE_CUDA_ARCH", "none"}});
  EXPECT_TRUE(kget::host::apply_overrides(host, consistent));
}

} // namespace
