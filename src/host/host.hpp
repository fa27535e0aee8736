// What this machine is: OS, CPU and its features, the C and C++ runtime ABI, and the CUDA driver
// with its devices. Detection never fails: what cannot be read is reported as absent, with why.
// Overrides (KGET_OVERRIDE_*) replace detected facts and are validated.
#pragma once

#include "settings/environment.hpp"
#include "util/result.hpp"
#include "util/strings.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kget::host {

struct CpuInfo {
  std::string arch;                  // "x86_64", "aarch64" (the Hub's names)
  std::string model;                 // e.g. "AMD EPYC 7B13", "" when unknown
  std::vector<std::string> features; // lower case, sorted: "avx2", "avx512f", "amx-tile", "sve2"...
  std::string features_source;       // "cpuid", "auxv", or "KGET_OVERRIDE_CPU_FEATURES"
};

// One symbol-version family as provided by a runtime library, e.g. GLIBCXX up to 3.4.30.
struct VersionFamily {
  std::string prefix;       // "GLIBC", "GLIBCXX", "CXXABI"
  std::vector<int> highest; // e.g. {3, 4, 30}; empty when the library was not found
};

struct RuntimeAbi {
  std::string glibc_version;                  // gnu_get_libc_version(), e.g. "2.36"
  std::string libc_path;                      // the libc.so.6 whose version definitions were read
  std::string libstdcxx_path;                 // the libstdc++.so.6 read, "" when not found
  std::vector<std::string> provided_versions; // every version definition read: "GLIBC_2.17", ...
  VersionFamily glibc{"GLIBC", {}};
  VersionFamily glibcxx{"GLIBCXX", {}};
  VersionFamily cxxabi{"CXXABI", {}};
  std::string source; // "ELF version definitions" or "KGET_OVERRIDE_GLIBC"
};

struct CudaDevice {
  int ordinal = 0;
  std::string name;            // "NVIDIA H100 80GB HBM3"
  std::string uuid;            // "GPU-xxxxxxxx-xxxx-..." or ""
  util::MajorMinor capability; // {9, 0}
  int sm_count = 0;
  std::uint64_t total_memory = 0; // bytes
};

struct CudaInfo {
  bool available = false;          // a driver answered and reported at least its version
  std::string unavailable_reason;  // why not, e.g. "libcuda.so.1 not found"
  util::MajorMinor driver_version; // CUDA version the driver supports (cuDriverGetVersion)
  std::string driver_release;      // NVIDIA driver release, e.g. "580.65.06"; "" when unreadable
  std::vector<CudaDevice> devices;
  std::string source; // "libcuda.so.1", or the override variables used
};

struct HostInfo {
  std::string os; // "linux"
  CpuInfo cpu;
  RuntimeAbi runtime;
  CudaInfo cuda;
  std::vector<std::string> overrides; // the KGET_OVERRIDE_* variables that were applied
};

// Detect the host, then apply the overrides set in `env`. Fails only on a malformed override
// (ErrorKind::invalid_setting, naming the variable, the value, and what was expected).
Result<HostInfo> detect(const settings::Environment& env);

// Detection alone, without overrides. KGET_CUDA_DRIVER_LIBRARY still chooses the library.
HostInfo detect_without_overrides(const settings::Environment& env);

// Apply the KGET_OVERRIDE_* variables of `env` to `host`.
Result<void> apply_overrides(HostInfo& host, const settings::Environment& env);

// The stable JSON document of `kget env --json` ("host" part); see docs/host.md.
nlohmann::json to_json(const HostInfo& host);

} // namespace kget::host
