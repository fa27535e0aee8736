// Resolving among many variants: the cost of choosing, from parsed metadata, on an H100 host.
// Run: build/bench/bench_resolve (results in docs/benchmarks.md).
#include "metadata/metadata.hpp"
#include "resolve/resolver.hpp"

#include <array>
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

using namespace kget;

namespace {

host::HostInfo h100_host() {
  host::HostInfo host;
  host.os = "linux";
  host.cpu.arch = "x86_64";
  host.cpu.features = {"avx", "avx2", "f16c", "fma", "sse4.2"};
  host.runtime.glibc = {"GLIBC", {2, 36}};
  host.runtime.glibcxx = {"GLIBCXX", {3, 4, 30}};
  host.runtime.cxxabi = {"CXXABI", {1, 3, 13}};
  host.cuda.available = true;
  host.cuda.driver_version = {13, 0};
  host.cuda.devices.push_back({0, "NVIDIA H100", "", {9, 0}, 132, 80ull << 30});
  return host;
}

// A mix like a large repository: many toolkits, CPU architectures and foreign variants.
std::vector<resolve::Candidate> make_candidates(int count) {
  constexpr std::array toolkits = {util::MajorMinor{11, 8}, util::MajorMinor{12, 6},
                                   util::MajorMinor{12, 8}, util::MajorMinor{12, 9},
                                   util::MajorMinor{13, 0}};
  constexpr std::array<const char*, 4> sass_sets[] = {{"sm_80", "sm_86", "sm_89", "sm_90"},
                                                      {"sm_90a", "sm_100a", "sm_80", "sm_75"},
                                                      {"sm_75", "sm_80", "sm_86", "sm_120"},
                                                      {"sm_100f", "sm_120", "sm_103a", "sm_89"}};
  std::vector<resolve::Candidate> out;
  for (int i = 0; i < count; ++i) {
    util::MajorMinor toolkit = toolkits[static_cast<size_t>(i) % toolkits.size()];
    const char* cpu = i % 7 == 0 ? "aarch64" : "x86_64";
    std::string name = fmt::format("kget1-cu{}{}-{}-linux", toolkit.major, toolkit.minor, cpu);
    if (i % 11 == 0) {
      name = fmt::format("torch2{}-cxx11-cu128-x86_64-linux", i % 10);
    }
    metadata::VariantMetadata meta;
    meta.name = "bench";
    meta.version = 1;
    meta.backend_type = "cuda";
    meta.kget.abi_major = 1;
    metadata::CudaRequirements cuda{toolkit, {toolkit.major, 0}, {}, {}};
    for (const char* target : sass_sets[static_cast<size_t>(i) % 4]) {
      cuda.sass.push_back(*metadata::parse_cuda_target(target));
    }
    cuda.ptx.push_back(*metadata::parse_cuda_target("compute_80"));
    meta.kget.cuda = cuda;
    meta.kget.symbol_versions = {"GLIBC_2.17", "GLIBCXX_3.4.21", "CXXABI_1.3.9"};
    out.push_back({std::move(name), std::move(meta)});
  }
  return out;
}

void BM_ResolveAmongVariants(benchmark::State& state) {
  auto candidates = make_candidates(static_cast<int>(state.range(0)));
  auto host = h100_host();
  for (auto _ : state) {
    auto resolution = resolve::resolve("bench/kernel", candidates, host, resolve::DeviceChoice{});
    benchmark::DoNotOptimize(resolution.chosen());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ResolveAmongVariants)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_ParseMetadata(benchmark::State& state) {
  std::string text = R"json({"name": "rmsnorm", "id": "_rmsnorm_cuda_1a2b3c4", "version": 1,
    "license": "Apache-2.0", "backend": {"type": "cuda", "archs": ["8.0", "9.0a"]},
    "digest": {"algorithm": "sha256",
               "files": {"librmsnorm.so": "yj/56wyj51lVe0/Q2CU53BGR355R6dEPFcyQBhBlYag="}},
    "kget": {"abi": {"major": 1, "minor": 0}, "library": "librmsnorm.so",
      "ops": [{"name": "rms_norm", "schema": "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()"}],
      "cuda": {"toolkit": "13.0", "min_driver": "13.0", "sass": ["sm_80", "sm_90a"], "ptx": ["compute_90"]},
      "requires": {"symbol_versions": ["GLIBC_2.17", "GLIBCXX_3.4.21"], "cpu_features": []}}})json";
  for (auto _ : state) {
    auto parsed = metadata::parse_metadata(text);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ParseMetadata)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
