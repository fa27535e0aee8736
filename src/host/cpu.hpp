// CPU detection: architecture, model and the instruction-set features kernels are built for.
#pragma once

#include "host/host.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kget::host {

// This process's CPU: CPUID (x86-64, with XGETBV so that a feature counts only when the OS saves
// its registers) or the auxiliary vector (aarch64). Detected once per process.
const CpuInfo& detect_cpu();

// The Hub's name for a machine name from uname: "amd64" -> "x86_64", "arm64" -> "aarch64".
std::string normalize_arch(std::string_view machine);

// Every feature name kget knows for `arch` (sorted); empty for an unknown architecture.
const std::vector<std::string>& known_cpu_features(std::string_view arch);

} // namespace kget::host
