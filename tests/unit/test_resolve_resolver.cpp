// The resolver over hosts like H100 (9.0), A100 (8.0), L4 (8.9), B200 (10.0), RTX 5090 (12.0)
// and a CPU-only machine, with drivers for CUDA 12.2, 12.8 and 13.0.
#include "resolve/resolver.hpp"

#include <gtest/gtest.h>
#include <map>

using namespace kget;
using namespace kget::resolve;
using kget::metadata::CudaTarget;
using kget::metadata::VariantMetadata;

namespace {

host::HostInfo cpu_only_host() {
  host::HostInfo host;
  host.os = "linux";
  host.cpu.arch = "x86_64";
  host.cpu.features = {"avx", "avx2", "f16c", "fma", "sse4.2"};
  host.runtime.glibc = {"GLIBC", {2, 36}};
  host.runtime.glibcxx = {"GLIBCXX", {3, 4, 30}};
  host.runtime.cxxabi = {"CXXABI", {1, 3, 13}};
  host.cuda.available = false;
  host.cuda.unavailable_reason = "libcuda.so.1 not found";
  return host;
}

host::HostInfo gpu_host(util::MajorMinor capability, util::MajorMinor driver,
                        std::string release = "") {
  host::HostInfo host = cpu_only_host();
  host.cuda.available = true;
  host.cuda.unavailable_reason.clear();
  host.cuda.driver_version = driver;
  host.cuda.driver_release = std::move(release);
  host.cuda.devices.push_back({0, "test GPU", "", capability, 100, 80ull << 30});
  return host;
}

const util::MajorMinor k_h100{9, 0}, k_a100{8, 0}, k_l4{8, 9}, k_b200{10, 0}, k_b300{10, 3},
    k_rtx5090{12, 0}, k_v100{7, 0}, k_rtx3090{8, 6};
const util::MajorMinor k_cuda122{12, 2}, k_cuda128{12, 8}, k_cuda130{13, 0};

std::vector<CudaTarget> targets(std::initializer_list<const char*> names) {
  std::vector<CudaTarget> out;
  for (const char* name : names) {
    out.push_back(*metadata::parse_cuda_target(name));
  }
  return out;
}

VariantMetadata cuda_metadata(util::MajorMinor toolkit, std::initializer_list<const char*> sass,
                              std::initializer_list<const char*> ptx) {
  VariantMetadata meta;
  meta.name = "k";
  meta.version = 1;
  meta.backend_type = "cuda";
  meta.kget.abi_major = 1;
  meta.kget.cuda =
      metadata::CudaRequirements{toolkit, {toolkit.major, 0}, targets(sass), targets(ptx)};
  meta.kget.symbol_versions = {"GLIBC_2.17", "GLIBCXX_3.4.21"};
  return meta;
}

VariantMetadata cpu_metadata(std::vector<std::string> features = {}) {
  VariantMetadata meta;
  meta.name = "k";
  meta.version = 1;
  meta.backend_type = "cpu";
  meta.kget.abi_major = 1;
  meta.kget.cpu_features = std::move(features);
  return meta;
}

Candidate candidate(std::string name, VariantMetadata meta) {
  return {std::move(name), meta};
}

// A typical published set: one exact-arch build, a broad build, a PTX-only build, a CPU build.
std::vector<Candidate> typical_set() {
  return {
      candidate("kget1-cu130-x86_64-linux", cuda_metadata(k_cuda130, {"sm_90a", "sm_100a"}, {})),
      candidate("kget1-cu129-x86_64-linux",
                cuda_metadata({12, 9}, {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_120"},
                              {"compute_120"})),
      candidate("kget1-cu126-x86_64-linux", cuda_metadata({12, 6}, {}, {"compute_75"})),
      candidate("kget1-cpu-x86_64-linux", cpu_metadata({"avx2"})),
  };
}

const Verdict& verdict_of(const Resolution& resolution, const std::string& name) {
  for (const auto& verdict : resolution.verdicts) {
    if (verdict.variant == name) {
      return verdict;
    }
  }
  ADD_FAILURE() << "no verdict for " << name;
  static Verdict none;
  return none;
}

std::vector<std::string> order_of(const Resolution& resolution) {
  std::vector<std::string> names;
  for (const auto& verdict : resolution.verdicts) {
    names.push_back(verdict.variant);
  }
  return names;
}

struct Scenario {
  const char* label;
  util::MajorMinor capability;
  util::MajorMinor driver;
  const char* chosen;
  const char* chosen_reason; // substring of the chosen verdict's reason
};

void PrintTo(const Scenario& scenario, std::ostream* out) {
  *out << scenario.label;
}

class TypicalSet : public ::testing::TestWithParam<Scenario> {};

TEST_P(TypicalSet, ChoosesTheBestFit) {
  const Scenario& s = GetParam();
  auto resolution =
      kget::resolve::resolve("k", typical_set(), gpu_host(s.capability, s.driver), DeviceChoice{});
  const Verdict* chosen = resolution.chosen();
  ASSERT_NE(chosen, nullptr) << render_explanation(resolution);
  EXPECT_EQ(chosen->variant, s.chosen) << render_explanation(resolution);
  EXPECT_NE(chosen->reason.find(s.chosen_reason), std::string::npos) << chosen->reason;
}

INSTANTIATE_TEST_SUITE_P(
    Hosts, TypicalSet,
    ::testing::Values(
        Scenario{"H100 driver 13.0", k_h100, k_cuda130, "kget1-cu130-x86_64-linux",
                 "exact SASS sm_90a"},
        Scenario{"H100 driver 12.8", k_h100, k_cuda128, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_90 for cuda:0 (compute capability 9.0, test GPU); CUDA 12.9 build, "
                 "driver "
                 "supports CUDA 12.8 (minor-version compatibility)"},
        Scenario{"H100 driver 12.2", k_h100, k_cuda122, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_90"},
        Scenario{"A100 driver 13.0", k_a100, k_cuda130, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_80"},
        Scenario{"L4 driver 13.0", k_l4, k_cuda130, "kget1-cu129-x86_64-linux", "exact SASS sm_89"},
        Scenario{"RTX 3090 driver 12.8", k_rtx3090, k_cuda128, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_86"},
        Scenario{"B200 driver 13.0", k_b200, k_cuda130, "kget1-cu130-x86_64-linux",
                 "exact SASS sm_100a"},
        // B200 on a 12.8 driver: cu130 needs a 13.0 driver; cu129 has only PTX compute_120 (too
        // new) and SASS for other majors; the 12.6 PTX compute_75 JITs.
        Scenario{"B200 driver 12.8", k_b200, k_cuda128, "kget1-cu126-x86_64-linux",
                 "PTX compute_75"},
        Scenario{"RTX 5090 driver 13.0", k_rtx5090, k_cuda130, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_120"},
        Scenario{"B300 driver 13.0", k_b300, k_cuda130, "kget1-cu126-x86_64-linux",
                 "PTX compute_75"},
        Scenario{"V100 driver 13.0", k_v100, k_cuda130, "kget1-cpu-x86_64-linux",
                 "CPU variant: the fallback"},
        Scenario{"A100 driver 12.2", k_a100, k_cuda122, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_80 for cuda:0 (compute capability 8.0, test GPU); CUDA 12.9 build, "
                 "driver supports CUDA 12.2 (minor-version compatibility)"},
        Scenario{"L4 driver 12.2", k_l4, k_cuda122, "kget1-cu129-x86_64-linux", "exact SASS sm_89"},
        Scenario{"L4 driver 12.8", k_l4, k_cuda128, "kget1-cu129-x86_64-linux", "exact SASS sm_89"},
        Scenario{"A100 driver 12.8", k_a100, k_cuda128, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_80"},
        // 12.6 PTX needs a driver for CUDA 12.6: a 12.2 driver cannot JIT it, so the CPU remains.
        Scenario{"B200 driver 12.2", k_b200, k_cuda122, "kget1-cpu-x86_64-linux",
                 "CPU variant: the fallback"},
        Scenario{"RTX 5090 driver 12.8", k_rtx5090, k_cuda128, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_120"},
        Scenario{"RTX 5090 driver 12.2", k_rtx5090, k_cuda122, "kget1-cu129-x86_64-linux",
                 "exact SASS sm_120"},
        Scenario{"V100 driver 12.2", k_v100, k_cuda122, "kget1-cpu-x86_64-linux",
                 "CPU variant: the fallback"}));

TEST(Resolver, PrefersArchSpecificOverFamilyOverPtx) {
  std::vector<Candidate> candidates = {
      candidate("kget1-cu126-x86_64-linux", cuda_metadata({12, 6}, {}, {"compute_80"})),
      candidate("kget1-cu128-x86_64-linux", cuda_metadata({12, 8}, {"sm_80"}, {"compute_80"})),
      candidate("kget1-cu129-x86_64-linux", cuda_metadata({12, 9}, {"sm_90"}, {})),
      candidate("kget1-cu130-x86_64-linux", cuda_metadata(k_cuda130, {"sm_90a"}, {})),
  };
  auto resolution =
      kget::resolve::resolve("k", candidates, gpu_host(k_h100, k_cuda130), DeviceChoice{});
  EXPECT_EQ(order_of(resolution),
            (std::vector<std::string>{"kget1-cu130-x86_64-linux", "kget1-cu129-x86_64-linux",
                                      "kget1-cu128-x86_64-linux", "kget1-cu126-x86_64-linux"}));
  EXPECT_EQ(verdict_of(resolution, "kget1-cu130-x86_64-linux").priority->code_tier, 3);
  EXPECT_EQ(verdict_of(resolution, "kget1-cu128-x86_64-linux").priority->code_tier, 1);

  // On an 8.6 GPU, sm_80 SASS (same major) beats PTX, and sm_90a does not run at all.
  auto ampere =
      kget::resolve::resolve("k", candidates, gpu_host(k_rtx3090, k_cuda130), DeviceChoice{});
  EXPECT_EQ(ampere.chosen()->variant, "kget1-cu128-x86_64-linux");
  EXPECT_NE(ampere.chosen()->reason.find("SASS sm_80 (same major, older minor)"),
            std::string::npos);
  const Verdict& hopper_only = verdict_of(ampere, "kget1-cu130-x86_64-linux");
  EXPECT_FALSE(hopper_only.compatible());
  EXPECT_EQ(hopper_only.rule, Rule::gpu_arch);
  EXPECT_EQ(hopper_only.hint, "built for sm_90a; this GPU is sm_86");
}

TEST(Resolver, NewerToolkitBreaksTiesBetweenEqualCode) {
  std::vector<Candidate> candidates = {
      candidate("kget1-cu128-x86_64-linux", cuda_metadata({12, 8}, {"sm_90"}, {})),
      candidate("kget1-cu130-x86_64-linux", cuda_metadata(k_cuda130, {"sm_90"}, {})),
  };
  auto resolution =
      kget::resolve::resolve("k", candidates, gpu_host(k_h100, k_cuda130), DeviceChoice{});
  EXPECT_EQ(resolution.chosen()->variant, "kget1-cu130-x86_64-linux");
}

TEST(Resolver, RejectsToolkitNewerThanTheDriverMajor) {
  auto resolution =
      kget::resolve::resolve("k", typical_set(), gpu_host(k_h100, k_cuda128), DeviceChoice{});
  const Verdict& cu130 = verdict_of(resolution, "kget1-cu130-x86_64-linux");
  EXPECT_FALSE(cu130.compatible());
  EXPECT_EQ(cu130.rule, Rule::cuda_driver);
  EXPECT_EQ(cu130.reason, "built with CUDA 13.0, needs a driver for CUDA 13.0 or newer; this "
                          "driver supports CUDA 12.8");
  EXPECT_EQ(cu130.hint, "update the NVIDIA driver to 580.65.06 or newer, or use a cu12x variant");
}

TEST(Resolver, PtxNeedsADriverThatKnowsItsVersion) {
  // A 12.2 driver runs 12.8 SASS (minor-version compatibility) but cannot JIT 12.8 PTX.
  std::vector<Candidate> candidates = {
      candidate("kget1-cu128-x86_64-linux", cuda_metadata({12, 8}, {"sm_80"}, {"compute_80"})),
  };
  auto resolution =
      kget::resolve::resolve("k", candidates, gpu_host(k_h100, k_cuda122), DeviceChoice{});
  const Verdict& verdict = resolution.verdicts.front();
  EXPECT_FALSE(verdict.compatible());
  EXPECT_EQ(verdict.rule, Rule::gpu_arch);
  EXPECT_NE(verdict.reason.find("its PTX compute_80 would, with a driver for CUDA 12.8 (this one "
                                "supports 12.2)"),
            std::string::npos)
      << verdict.reason;
  // The same build on an A100 runs through its SASS.
  auto a100 = kget::resolve::resolve("k", candidates, gpu_host(k_a100, k_cuda122), DeviceChoice{});
  ASSERT_NE(a100.chosen(), nullptr);
  EXPECT_NE(a100.chosen()->reason.find("minor-version compatibility"), std::string::npos);
}

TEST(Resolver, ForwardCompatibilityDriverIsJudgedByItsCudaVersion) {
  // A CUDA 13.0 compat libcuda on a 535 kernel module: libcuda's version decides.
  std::vector<Candidate> candidates = {
      candidate("kget1-cu130-x86_64-linux", cuda_metadata(k_cuda130, {"sm_90a"}, {})),
  };
  auto resolution = kget::resolve::resolve(
      "k", candidates, gpu_host(k_h100, k_cuda130, "535.54.03"), DeviceChoice{});
  EXPECT_NE(resolution.chosen(), nullptr) << render_explanation(resolution);
}

TEST(Resolver, MinDriverAboveTheMajorNamesTheToolkitRelease) {
  VariantMetadata meta = cuda_metadata({12, 8}, {"sm_90"}, {});
  meta.kget.cuda->min_driver = {12, 8}; // uses a driver API new in 12.8
  auto resolution = kget::resolve::resolve("k", {candidate("kget1-cu128-x86_64-linux", meta)},
                                           gpu_host(k_h100, k_cuda122), DeviceChoice{});
  const Verdict& verdict = resolution.verdicts.front();
  EXPECT_EQ(verdict.rule, Rule::cuda_driver);
  EXPECT_EQ(verdict.reason, "built with CUDA 12.8, needs a driver for CUDA 12.8 or newer; this "
                            "driver supports CUDA 12.2");
  EXPECT_EQ(verdict.hint, "update the NVIDIA driver to 570.26 or newer");
}

TEST(Resolver, DevicesAreFoundByOrdinalNotPosition) {
  // Device 0 could not be queried and is absent; device 1 is an H100.
  host::HostInfo host = gpu_host(k_h100, k_cuda130);
  host.cuda.devices[0].ordinal = 1;
  auto first =
      kget::resolve::resolve("k", typical_set(), host, DeviceChoice{DeviceChoice::Kind::cuda, 0});
  EXPECT_EQ(first.chosen(), nullptr);
  EXPECT_EQ(verdict_of(first, "kget1-cu130-x86_64-linux").reason,
            "no CUDA device 0; this host has 1");
  auto second =
      kget::resolve::resolve("k", typical_set(), host, DeviceChoice{DeviceChoice::Kind::cuda, 1});
  ASSERT_NE(second.chosen(), nullptr);
  EXPECT_EQ(second.chosen()->variant, "kget1-cu130-x86_64-linux");
}

TEST(Resolver, NameAloneDecidesPlatformRules) {
  host::HostInfo host = cpu_only_host();
  EXPECT_EQ(judge_by_name("kget1-cu130-aarch64-linux", host)->rule, Rule::cpu_arch);
  EXPECT_EQ(judge_by_name("kget1-cpu-x86_64-darwin", host)->rule, Rule::os);
  EXPECT_EQ(judge_by_name("kget3-cpu-x86_64-linux", host)->rule, Rule::abi);
  EXPECT_EQ(judge_by_name("torch28-cxx11-cu128-x86_64-linux", host)->rule, Rule::framework);
  EXPECT_EQ(judge_by_name("nonsense", host)->rule, Rule::variant_name);
  EXPECT_FALSE(judge_by_name("kget1-cu130-x86_64-linux", host));
  EXPECT_FALSE(judge_by_name("kget1-cpu-x86_64-linux", host));
}

TEST(Resolver, ArchSpecificAndFamilyRules) {
  struct Case {
    const char* sass;
    util::MajorMinor device;
    bool runs;
  };
  for (const Case& c : {
           Case{"sm_90a", {9, 0}, true},
           Case{"sm_90a", {10, 0}, false},
           Case{"sm_100a", {10, 3}, false},
           Case{"sm_100f", {10, 3}, true},
           Case{"sm_100f", {10, 0}, true},
           Case{"sm_100f", {12, 0}, false},
           Case{"sm_103f", {10, 0}, false},
           Case{"sm_80", {8, 9}, true},
           Case{"sm_86", {8, 0}, false},
           Case{"sm_80", {9, 0}, false},
           Case{"sm_120", {12, 1}, true},
           Case{"sm_75", {7, 5}, true},
       }) {
    std::vector<Candidate> candidates = {
        candidate("kget1-cu130-x86_64-linux", cuda_metadata(k_cuda130, {c.sass}, {}))};
    auto resolution =
        kget::resolve::resolve("k", candidates, gpu_host(c.device, k_cuda130), DeviceChoice{});
    EXPECT_EQ(resolution.chosen() != nullptr, c.runs)
        << c.sass << " on " << c.device.major << "." << c.device.minor;
  }
}

TEST(Resolver, PtxRules) {
  struct Case {
    const char* ptx;
    util::MajorMinor device;
    bool runs;
  };
  for (const Case& c : {
           Case{"compute_80", {9, 0}, true},
           Case{"compute_80", {12, 0}, true},
           Case{"compute_90", {8, 9}, false},
           Case{"compute_90a", {9, 0}, true},
           Case{"compute_90a", {10, 0}, false},
           Case{"compute_100f", {10, 3}, true},
           Case{"compute_100f", {12, 0}, false},
       }) {
    std::vector<Candidate> candidates = {
        candidate("kget1-cu130-x86_64-linux", cuda_metadata(k_cuda130, {}, {c.ptx}))};
    auto resolution =
        kget::resolve::resolve("k", candidates, gpu_host(c.device, k_cuda130), DeviceChoice{});
    EXPECT_EQ(resolution.chosen() != nullptr, c.runs)
        << c.ptx << " on " << c.device.major << "." << c.device.minor;
  }
}

TEST(Resolver, CpuOnlyHostFallsBackToCpu) {
  auto resolution = kget::resolve::resolve("k", typical_set(), cpu_only_host(), DeviceChoice{});
  ASSERT_NE(resolution.chosen(), nullptr);
  EXPECT_EQ(resolution.chosen()->variant, "kget1-cpu-x86_64-linux");
  const Verdict& cu130 = verdict_of(resolution, "kget1-cu130-x86_64-linux");
  EXPECT_EQ(cu130.rule, Rule::cuda_driver);
  EXPECT_EQ(cu130.reason, "needs a CUDA driver; none is usable here (libcuda.so.1 not found)");
}

TEST(Resolver, AskingForACudaDeviceDisablesTheCpuFallback) {
  auto resolution = kget::resolve::resolve("k", typical_set(), cpu_only_host(),
                                           DeviceChoice{DeviceChoice::Kind::cuda, 0});
  EXPECT_EQ(resolution.chosen(), nullptr);
  EXPECT_EQ(verdict_of(resolution, "kget1-cpu-x86_64-linux").rule, Rule::device_choice);
  auto chosen = choose(resolution);
  ASSERT_FALSE(chosen);
  EXPECT_EQ(chosen.error().kind, ErrorKind::no_compatible_variant);
  EXPECT_NE(chosen.error().message.find("no variant of k fits this host"), std::string::npos);
  EXPECT_NE(chosen.error().message.find("kget1-cu130-x86_64-linux"), std::string::npos);
  EXPECT_NE(chosen.error().message.find("hint: install the NVIDIA driver"), std::string::npos);
}

TEST(Resolver, AskingForTheCpuSkipsCudaVariants) {
  auto resolution = kget::resolve::resolve("k", typical_set(), gpu_host(k_h100, k_cuda130),
                                           DeviceChoice{DeviceChoice::Kind::cpu, 0});
  ASSERT_NE(resolution.chosen(), nullptr);
  EXPECT_EQ(resolution.chosen()->variant, "kget1-cpu-x86_64-linux");
  EXPECT_EQ(resolution.chosen()->reason, "CPU variant, as asked");
  EXPECT_EQ(verdict_of(resolution, "kget1-cu130-x86_64-linux").rule, Rule::device_choice);
}

TEST(Resolver, ChosenDeviceDecides) {
  host::HostInfo host = gpu_host(k_a100, k_cuda130);
  host.cuda.devices.push_back({1, "second", "", k_h100, 132, 80ull << 30});
  auto first =
      kget::resolve::resolve("k", typical_set(), host, DeviceChoice{DeviceChoice::Kind::cuda, 0});
  EXPECT_EQ(first.chosen()->variant, "kget1-cu129-x86_64-linux");
  auto second =
      kget::resolve::resolve("k", typical_set(), host, DeviceChoice{DeviceChoice::Kind::cuda, 1});
  EXPECT_EQ(second.chosen()->variant, "kget1-cu130-x86_64-linux");
  auto missing =
      kget::resolve::resolve("k", typical_set(), host, DeviceChoice{DeviceChoice::Kind::cuda, 2});
  EXPECT_EQ(missing.chosen(), nullptr);
  EXPECT_EQ(verdict_of(missing, "kget1-cu130-x86_64-linux").reason,
            "no CUDA device 2; this host has 2");
}

TEST(Resolver, DriverWithoutDevices) {
  host::HostInfo host = gpu_host(k_h100, k_cuda130);
  host.cuda.devices.clear();
  auto resolution = kget::resolve::resolve("k", typical_set(), host, DeviceChoice{});
  EXPECT_EQ(resolution.chosen()->variant, "kget1-cpu-x86_64-linux");
  EXPECT_EQ(verdict_of(resolution, "kget1-cu130-x86_64-linux").reason,
            "the CUDA driver reports no devices");
}

TEST(Resolver, RuntimeAbiRequirements) {
  host::HostInfo host = cpu_only_host();
  host.runtime.glibc = {"GLIBC", {2, 28}};
  VariantMetadata needs_new_glibc = cpu_metadata();
  needs_new_glibc.kget.symbol_versions = {"GLIBC_2.34", "GLIBCXX_3.4.32", "CXXABI_1.3.9"};
  auto resolution = kget::resolve::resolve(
      "k", {candidate("kget1-cpu-x86_64-linux", needs_new_glibc)}, host, DeviceChoice{});
  const Verdict& verdict = resolution.verdicts.front();
  EXPECT_EQ(verdict.rule, Rule::symbol_versions);
  EXPECT_EQ(verdict.reason, "needs GLIBC_2.34 (this host provides up to GLIBC_2.28), "
                            "GLIBCXX_3.4.32 (this host provides up to GLIBCXX_3.4.30)");

  host.runtime.glibcxx.highest.clear();
  VariantMetadata needs_libstdcxx = cpu_metadata();
  needs_libstdcxx.kget.symbol_versions = {"GLIBCXX_3.4.9"};
  auto no_libstdcxx = kget::resolve::resolve(
      "k", {candidate("kget1-cpu-x86_64-linux", needs_libstdcxx)}, host, DeviceChoice{});
  EXPECT_EQ(no_libstdcxx.verdicts.front().reason,
            "needs GLIBCXX_3.4.9 (this host provides no GLIBCXX symbols)");

  VariantMetadata old_enough = cpu_metadata();
  old_enough.kget.symbol_versions = {"GLIBC_2.2.5", "GLIBC_2.28"};
  EXPECT_NE(kget::resolve::resolve("k", {candidate("kget1-cpu-x86_64-linux", old_enough)}, host,
                                   DeviceChoice{})
                .chosen(),
            nullptr);
}

TEST(Resolver, CpuFeatureRequirements) {
  host::HostInfo host = cpu_only_host();
  auto resolution = kget::resolve::resolve(
      "k", {candidate("kget1-cpu-x86_64-linux", cpu_metadata({"avx2", "avx512f", "avx512bw"}))},
      host, DeviceChoice{});
  EXPECT_EQ(resolution.verdicts.front().rule, Rule::cpu_features);
  EXPECT_EQ(resolution.verdicts.front().reason,
            "needs CPU features this CPU lacks: avx512f, avx512bw");
}

TEST(Resolver, PlatformAbiAndNameRules) {
  VariantMetadata mislabelled = cuda_metadata({12, 8}, {"sm_90"}, {});
  VariantMetadata wrong_backend = cpu_metadata();
  VariantMetadata low_min_driver = cuda_metadata({13, 1}, {"sm_90"}, {});
  low_min_driver.kget.cuda->min_driver = {12, 8};
  std::vector<Candidate> candidates = {
      candidate("kget1-cpu-aarch64-linux", cpu_metadata()),
      candidate("kget1-cpu-x86_64-darwin", cpu_metadata()),
      candidate("kget1-cpu-x86_64-linux",
                [] {
                  VariantMetadata abi2 = cpu_metadata();
                  abi2.kget.abi_major = 2;
                  return abi2;
                }()),
      candidate("kget1-cu130-x86_64-linux", mislabelled),
      candidate("kget1-cu129-x86_64-linux", wrong_backend),
      candidate("kget1-cu131-x86_64-linux", low_min_driver),
      {"kget1-cu120-x86_64-linux",
       kget::fail(ErrorKind::invalid_metadata, "metadata.json $.x: bad")},
      candidate("torch28-cxx11-cu128-x86_64-linux", cpu_metadata()),
      candidate("whatever", cpu_metadata()),
  };
  auto resolution =
      kget::resolve::resolve("k", candidates, gpu_host(k_h100, k_cuda130), DeviceChoice{});
  EXPECT_EQ(resolution.chosen(), nullptr);
  struct Expected {
    const char* variant;
    Rule rule;
    const char* reason;
  };
  for (const Expected& e : {
           Expected{"kget1-cpu-aarch64-linux", Rule::cpu_arch,
                    "built for aarch64 CPUs; this host is x86_64"},
           Expected{"kget1-cpu-x86_64-darwin", Rule::os, "built for darwin; this host runs linux"},
           Expected{"kget1-cpu-x86_64-linux", Rule::metadata,
                    "the name says ABI 1, $.kget.abi.major says 2"},
           Expected{"kget1-cu130-x86_64-linux", Rule::metadata,
                    "the name says CUDA 13.0, $.kget.cuda.toolkit says 12.8"},
           Expected{"kget1-cu129-x86_64-linux", Rule::metadata,
                    "the name says cu129, $.backend.type says \"cpu\""},
           Expected{"kget1-cu131-x86_64-linux", Rule::metadata,
                    "$.kget.cuda.min_driver 12.8 is below 13.0"},
           Expected{"kget1-cu120-x86_64-linux", Rule::metadata, "metadata.json $.x: bad"},
           Expected{
               "torch28-cxx11-cu128-x86_64-linux", Rule::framework,
               "built for PyTorch/Python (torch 2.8), CUDA 12.8, x86_64-linux, not kget's C ABI"},
           Expected{"whatever", Rule::variant_name, "is not a variant name kget knows"},
       }) {
    const Verdict& verdict = verdict_of(resolution, e.variant);
    EXPECT_EQ(verdict.rule, e.rule) << e.variant << ": " << verdict.reason;
    EXPECT_NE(verdict.reason.find(e.reason), std::string::npos)
        << e.variant << ": " << verdict.reason;
  }
  // ABI 2 labelled consistently is an ABI rejection, not a metadata one.
  VariantMetadata consistent_abi2 = cpu_metadata();
  consistent_abi2.kget.abi_major = 2;
  auto abi = kget::resolve::resolve("k", {candidate("kget2-cpu-x86_64-linux", consistent_abi2)},
                                    cpu_only_host(), DeviceChoice{});
  EXPECT_EQ(abi.verdicts.front().rule, Rule::abi);
  EXPECT_EQ(abi.verdicts.front().reason, "built for kget kernel ABI 2; this kget loads ABI 1");
  EXPECT_EQ(abi.verdicts.front().hint, "upgrade kget to one that loads this ABI");
}

TEST(Resolver, RejectionsAreOrderedNearestMissFirst) {
  std::vector<Candidate> candidates = {
      candidate("torch28-cxx11-cu128-x86_64-linux", cpu_metadata()),
      candidate("kget1-cpu-x86_64-darwin", cpu_metadata()),
      candidate("kget1-cu130-x86_64-linux", cuda_metadata(k_cuda130, {"sm_90a"}, {})),
      candidate("kget1-cu129-aarch64-linux", cuda_metadata({12, 9}, {"sm_86"}, {})),
      candidate("kget1-cu128-x86_64-linux", cuda_metadata({12, 8}, {"sm_90"}, {})),
  };
  auto resolution = kget::resolve::resolve("k", candidates, gpu_host(k_rtx3090, k_cuda128),
                                           DeviceChoice{DeviceChoice::Kind::cuda, 0});
  EXPECT_EQ(resolution.chosen(), nullptr);
  EXPECT_EQ(order_of(resolution),
            (std::vector<std::string>{"kget1-cu128-x86_64-linux", "kget1-cu130-x86_64-linux",
                                      "kget1-cu129-aarch64-linux", "kget1-cpu-x86_64-darwin",
                                      "torch28-cxx11-cu128-x86_64-linux"}));
  std::string explanation = render_explanation(resolution);
  EXPECT_NE(explanation.find("hint: built for sm_90; this GPU is sm_86"), std::string::npos)
      << explanation;
  EXPECT_NE(explanation.find("nearest miss: kget1-cu128-x86_64-linux (gpu-arch)"),
            std::string::npos)
      << explanation;
}

TEST(Resolver, JsonDocument) {
  auto resolution =
      kget::resolve::resolve("demo", typical_set(), gpu_host(k_h100, k_cuda128), DeviceChoice{});
  auto document = to_json(resolution);
  EXPECT_EQ(document["subject"], "demo");
  EXPECT_EQ(document["chosen"], "kget1-cu129-x86_64-linux");
  EXPECT_EQ(document["device"], "cuda:0 or cpu");
  ASSERT_EQ(document["variants"].size(), 4u);
  EXPECT_EQ(document["variants"][0]["verdict"], "chosen");
  EXPECT_EQ(document["variants"][0]["priority"]["code_tier"], 3);
  EXPECT_EQ(document["variants"][0]["rule"], nullptr);
  const auto& last = document["variants"][3];
  EXPECT_EQ(last["variant"], "kget1-cu130-x86_64-linux");
  EXPECT_EQ(last["verdict"], "rejected");
  EXPECT_EQ(last["rule"], "cuda-driver");
}

TEST(Resolver, DescribesTheHost) {
  EXPECT_EQ(describe_host(gpu_host(k_h100, k_cuda130, "580.65.06"), DeviceChoice{}),
            "linux x86_64, glibc 2.36, CUDA driver 13.0 (580.65.06), cuda:0 compute capability "
            "9.0; device cuda:0 or cpu");
  EXPECT_EQ(describe_host(cpu_only_host(), DeviceChoice{DeviceChoice::Kind::cpu, 0}),
            "linux x86_64, glibc 2.36, CUDA: none (libcuda.so.1 not found); device cpu");
}

} // namespace
