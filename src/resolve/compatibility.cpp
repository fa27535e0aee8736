#include "resolve/compatibility.hpp"

#include "metadata/variant_name.hpp"
#include "resolve/cuda_drivers.hpp"

#include <algorithm>
#include <kget/kernel_abi.h>
#include <set>
#include <variant>

namespace kget::resolve {

namespace {

using metadata::CudaTarget;
using util::MajorMinor;

Verdict reject(const std::string& name, Rule rule, std::string reason, std::string hint = "") {
  return Verdict{name, std::nullopt, rule, std::move(reason), std::move(hint)};
}

std::string sm_name(MajorMinor cc) {
  return fmt::format("sm_{}{}", cc.major, cc.minor);
}

std::string list_targets(const metadata::CudaRequirements& cuda) {
  std::vector<std::string> names;
  for (const auto& target : cuda.sass) {
    names.push_back(to_string(target));
  }
  for (const auto& target : cuda.ptx) {
    names.push_back("PTX " + to_string(target));
  }
  return util::join(names, ", ");
}

// What in a fatbin runs on compute capability `cc`, and how well.
struct CodeMatch {
  int tier = 0;
  int arch_score = 0;
  std::string target;      // "sm_90a", "compute_80"
  std::string description; // how it runs
};

std::optional<CodeMatch> sass_match(const CudaTarget& target, MajorMinor cc) {
  if (target.capability.major != cc.major || target.capability.minor > cc.minor) {
    return std::nullopt;
  }
  bool same = target.capability.minor == cc.minor;
  int score = target.capability.minor * 2;
  switch (target.suffix) {
  case CudaTarget::Suffix::arch_specific:
    // sm_90a uses features only 9.0 has; it runs nowhere else.
    if (!same) {
      return std::nullopt;
    }
    return CodeMatch{3, score + 1, to_string(target), "exact SASS " + to_string(target)};
  case CudaTarget::Suffix::family:
    return CodeMatch{2, score, to_string(target), "family SASS " + to_string(target)};
  case CudaTarget::Suffix::none:
    if (same) {
      return CodeMatch{3, score, to_string(target), "exact SASS " + to_string(target)};
    }
    return CodeMatch{2, score, to_string(target),
                     "SASS " + to_string(target) + " (same major, older minor)"};
  }
  return std::nullopt;
}

std::optional<CodeMatch> ptx_match(const CudaTarget& target, MajorMinor cc) {
  bool runs = false;
  switch (target.suffix) {
  case CudaTarget::Suffix::arch_specific:
    runs = target.capability == cc;
    break;
  case CudaTarget::Suffix::family:
    runs = target.capability.major == cc.major && target.capability.minor <= cc.minor;
    break;
  case CudaTarget::Suffix::none:
    runs = target.capability <= cc;
    break;
  }
  if (!runs) {
    return std::nullopt;
  }
  int score = (target.capability.major * 10 + target.capability.minor) * 2;
  return CodeMatch{1, score, to_string(target),
                   "PTX " + to_string(target) + " (JIT-compiled by the driver)"};
}

std::optional<CodeMatch> best_of(std::optional<CodeMatch> a, std::optional<CodeMatch> b) {
  if (!a) {
    return b;
  }
  if (!b) {
    return a;
  }
  return std::tie(b->tier, b->arch_score) > std::tie(a->tier, a->arch_score) ? b : a;
}

std::optional<CodeMatch> best_sass(const metadata::CudaRequirements& cuda, MajorMinor cc) {
  std::optional<CodeMatch> best;
  for (const auto& target : cuda.sass) {
    best = best_of(best, sass_match(target, cc));
  }
  return best;
}

std::optional<CodeMatch> best_ptx(const metadata::CudaRequirements& cuda, MajorMinor cc) {
  std::optional<CodeMatch> best;
  for (const auto& target : cuda.ptx) {
    best = best_of(best, ptx_match(target, cc));
  }
  return best;
}

// The name is the contract the Hub and mirrors see; metadata must not contradict it.
std::optional<Verdict> check_name_against_metadata(const std::string& name,
                                                   const metadata::KgetVariantName& parsed,
                                                   const metadata::VariantMetadata& meta) {
  if (auto contradiction = metadata::name_contradiction(parsed, meta)) {
    return reject(name, Rule::metadata,
                  "metadata.json contradicts the variant name: " + *contradiction,
                  "rebuild the variant, or fix its metadata.json");
  }
  return std::nullopt;
}

std::optional<Verdict> check_platform(const std::string& name,
                                      const metadata::KgetVariantName& parsed,
                                      const host::HostInfo& host) {
  if (parsed.os != host.os) {
    return reject(name, Rule::os,
                  fmt::format("built for {}; this host runs {}", parsed.os, host.os));
  }
  if (parsed.cpu != host.cpu.arch) {
    return reject(name, Rule::cpu_arch,
                  fmt::format("built for {} CPUs; this host is {}", parsed.cpu, host.cpu.arch));
  }
  if (parsed.abi_major != KGET_KERNEL_ABI_VERSION_MAJOR) {
    bool newer = parsed.abi_major > KGET_KERNEL_ABI_VERSION_MAJOR;
    return reject(name, Rule::abi,
                  fmt::format("built for kget kernel ABI {}; this kget loads ABI {}",
                              parsed.abi_major, KGET_KERNEL_ABI_VERSION_MAJOR),
                  newer ? "upgrade kget to one that loads this ABI"
                        : "use a variant built for this ABI (rebuild the kernel with this kget)");
  }
  return std::nullopt;
}

const host::VersionFamily* family_of(const host::HostInfo& host, const std::string& family) {
  if (family == "GLIBC") {
    return &host.runtime.glibc;
  }
  if (family == "GLIBCXX") {
    return &host.runtime.glibcxx;
  }
  if (family == "CXXABI") {
    return &host.runtime.cxxabi;
  }
  return nullptr;
}

std::optional<Verdict> check_runtime_abi(const std::string& name,
                                         const metadata::VariantMetadata& meta,
                                         const host::HostInfo& host) {
  std::vector<std::string> missing;
  for (const auto& required : meta.kget.symbol_versions) {
    auto parsed = metadata::parse_symbol_version(required);
    const host::VersionFamily* provided = parsed ? family_of(host, parsed->family) : nullptr;
    if (provided == nullptr) {
      continue; // parse_metadata admits only the known families
    }
    if (provided->highest.empty()) {
      missing.push_back(
          fmt::format("{} (this host provides no {} symbols)", required, parsed->family));
    } else if (provided->highest < parsed->version) {
      missing.push_back(fmt::format("{} (this host provides up to {}_{})", required, parsed->family,
                                    util::format_dotted(provided->highest)));
    }
  }
  if (missing.empty()) {
    return std::nullopt;
  }
  return reject(name, Rule::symbol_versions, fmt::format("needs {}", util::join(missing, ", ")),
                "the variant was built against a newer C/C++ runtime than this host has; use a "
                "build within the manylinux_2_28 policy, or a newer OS");
}

std::optional<Verdict> check_cpu_features(const std::string& name,
                                          const metadata::VariantMetadata& meta,
                                          const host::HostInfo& host) {
  std::set<std::string> provided(host.cpu.features.begin(), host.cpu.features.end());
  std::vector<std::string> missing;
  for (const auto& feature : meta.kget.cpu_features) {
    if (!provided.contains(feature)) {
      missing.push_back(feature);
    }
  }
  if (missing.empty()) {
    return std::nullopt;
  }
  return reject(name, Rule::cpu_features,
                fmt::format("needs CPU features this CPU lacks: {}", util::join(missing, ", ")),
                "use a variant built for a baseline CPU");
}

std::string device_label(const host::CudaDevice& device) {
  std::string label = fmt::format("cuda:{} (compute capability {}", device.ordinal,
                                  util::to_string(device.capability));
  if (!device.name.empty() && device.name != "override") {
    label += ", " + device.name;
  }
  return label + ")";
}

Verdict cpu_variant_but_cuda_asked(const std::string& name, const DeviceChoice& device) {
  return reject(name, Rule::device_choice,
                fmt::format("a CPU variant, but CUDA device {} was asked for", device.ordinal),
                "ask for the CPU (KGET_DEVICE=cpu) or leave the device unset to allow the "
                "CPU fallback");
}

Verdict cuda_variant_but_cpu_asked(const std::string& name) {
  return reject(name, Rule::device_choice, "a CUDA variant, but the CPU was asked for");
}

Verdict no_driver(const std::string& name, const host::CudaInfo& driver) {
  return reject(
      name, Rule::cuda_driver,
      fmt::format("needs a CUDA driver; none is usable here ({})", driver.unavailable_reason),
      "install the NVIDIA driver, or set KGET_OVERRIDE_CUDA_DRIVER (e.g. 13.0) and "
      "KGET_OVERRIDE_CUDA_ARCH to choose for another machine");
}

Verdict judge_cpu(const std::string& name, const metadata::VariantMetadata& meta,
                  const DeviceChoice& device) {
  if (device.kind == DeviceChoice::Kind::cuda) {
    return cpu_variant_but_cuda_asked(name, device);
  }
  Priority priority;
  priority.cpu_feature_count = static_cast<int>(meta.kget.cpu_features.size());
  std::string reason = device.kind == DeviceChoice::Kind::cpu
                           ? "CPU variant, as asked"
                           : "CPU variant: the fallback when no CUDA variant fits";
  return Verdict{name, priority, Rule::variant_name, reason, ""};
}

// The driver's CUDA version (from libcuda, which may be a forward-compatibility package newer
// than the kernel module) decides; the release table only makes the hint concrete.
std::optional<Verdict> check_driver(const std::string& name, const metadata::CudaRequirements& cuda,
                                    const host::CudaInfo& driver) {
  if (!driver.available) {
    return no_driver(name, driver);
  }
  if (driver.driver_version >= cuda.min_driver) {
    return std::nullopt;
  }
  std::string release = cuda.min_driver == MajorMinor{cuda.toolkit.major, 0}
                            ? minor_compat_min_release(cuda.toolkit)
                            : toolkit_driver_release(cuda.min_driver);
  std::string hint = release.empty()
                         ? fmt::format("update the NVIDIA driver to one for CUDA {} or newer",
                                       util::to_string(cuda.min_driver))
                         : fmt::format("update the NVIDIA driver to {} or newer", release);
  if (driver.driver_version.major < cuda.toolkit.major) {
    hint += fmt::format(", or use a cu{}x variant", driver.driver_version.major);
  }
  return reject(name, Rule::cuda_driver,
                fmt::format("built with CUDA {}, needs a driver for CUDA {} or newer; this "
                            "driver supports CUDA {}",
                            util::to_string(cuda.toolkit), util::to_string(cuda.min_driver),
                            util::to_string(driver.driver_version)),
                hint);
}

Verdict judge_cuda(const std::string& name, const metadata::VariantMetadata& meta,
                   const host::HostInfo& host, const DeviceChoice& device) {
  const auto& cuda = *meta.kget.cuda;
  if (device.kind == DeviceChoice::Kind::cpu) {
    return cuda_variant_but_cpu_asked(name);
  }
  if (auto rejected = check_driver(name, cuda, host.cuda)) {
    return *rejected;
  }
  const auto& devices = host.cuda.devices;
  const host::CudaDevice* found = find_device(host.cuda, device.ordinal);
  if (found == nullptr) {
    return reject(name, Rule::cuda_device,
                  devices.empty() ? std::string("the CUDA driver reports no devices")
                                  : fmt::format("no CUDA device {}; this host has {}",
                                                device.ordinal, devices.size()));
  }
  const host::CudaDevice& gpu = *found;
  MajorMinor cc = gpu.capability;
  // The driver JIT-compiles PTX only up to the PTX version of the CUDA it supports.
  bool driver_can_jit = host.cuda.driver_version >= cuda.toolkit;
  auto ptx = best_ptx(cuda, cc);
  auto match = best_of(best_sass(cuda, cc), driver_can_jit ? ptx : std::nullopt);
  if (!match) {
    std::string reason = fmt::format("no SASS or PTX in it runs on {}", device_label(gpu));
    std::string hint = fmt::format("built for {}; this GPU is {}", list_targets(cuda), sm_name(cc));
    if (ptx) {
      reason += fmt::format("; its PTX {} would, with a driver for CUDA {} (this one supports {})",
                            ptx->target, util::to_string(cuda.toolkit),
                            util::to_string(host.cuda.driver_version));
      hint +=
          fmt::format("; or update the driver to one for CUDA {}", util::to_string(cuda.toolkit));
    }
    return reject(name, Rule::gpu_arch, reason, hint);
  }
  std::string reason = fmt::format(
      "{} for {}; CUDA {} build, driver supports CUDA {}", match->description, device_label(gpu),
      util::to_string(cuda.toolkit), util::to_string(host.cuda.driver_version));
  if (host.cuda.driver_version < cuda.toolkit) {
    reason += " (minor-version compatibility)";
  }
  Priority priority{match->tier, match->arch_score, cuda.toolkit, 0};
  return Verdict{name, priority, Rule::variant_name, reason, ""};
}

} // namespace

const host::CudaDevice* find_device(const host::CudaInfo& cuda, int ordinal) {
  for (const auto& device : cuda.devices) {
    if (device.ordinal == ordinal) {
      return &device;
    }
  }
  return nullptr;
}

const char* to_string(Rule rule) {
  switch (rule) {
  case Rule::variant_name:
    return "variant-name";
  case Rule::framework:
    return "framework";
  case Rule::metadata:
    return "metadata";
  case Rule::os:
    return "os";
  case Rule::cpu_arch:
    return "cpu-arch";
  case Rule::abi:
    return "abi";
  case Rule::symbol_versions:
    return "symbol-versions";
  case Rule::cpu_features:
    return "cpu-features";
  case Rule::device_choice:
    return "device-choice";
  case Rule::cuda_driver:
    return "cuda-driver";
  case Rule::cuda_device:
    return "cuda-device";
  case Rule::gpu_arch:
    return "gpu-arch";
  }
  return "?";
}

std::optional<Verdict> judge_by_name(const std::string& name, const host::HostInfo& host) {
  auto parsed_name = metadata::parse_variant_name(name);
  if (auto* foreign = std::get_if<metadata::ForeignVariantName>(&parsed_name)) {
    return reject(name, Rule::framework, foreign->reason,
                  "publish a kget variant (kget build) next to it");
  }
  if (auto* unknown = std::get_if<metadata::UnrecognisedVariantName>(&parsed_name)) {
    return reject(name, Rule::variant_name, unknown->reason);
  }
  return check_platform(name, std::get<metadata::KgetVariantName>(parsed_name), host);
}

std::optional<Verdict> judge_without_metadata(const std::string& name, const host::HostInfo& host,
                                              const DeviceChoice& device) {
  if (auto rejected = judge_by_name(name, host)) {
    return rejected;
  }
  auto parsed = std::get<metadata::KgetVariantName>(metadata::parse_variant_name(name));
  bool cuda = parsed.backend.type != metadata::BackendType::cpu;
  if (!cuda && device.kind == DeviceChoice::Kind::cuda) {
    return cpu_variant_but_cuda_asked(name, device);
  }
  if (cuda && device.kind == DeviceChoice::Kind::cpu) {
    return cuda_variant_but_cpu_asked(name);
  }
  if (cuda && !host.cuda.available) {
    return no_driver(name, host.cuda);
  }
  return std::nullopt;
}

Verdict judge(const std::string& name, const Result<metadata::VariantMetadata>& meta,
              const host::HostInfo& host, const DeviceChoice& device) {
  if (auto rejected = judge_without_metadata(name, host, device)) {
    return *rejected;
  }
  auto parsed = std::get<metadata::KgetVariantName>(metadata::parse_variant_name(name));
  if (!meta) {
    return reject(name, Rule::metadata, meta.error().message,
                  "rebuild the variant, or fix its metadata.json");
  }
  if (auto rejected = check_name_against_metadata(name, parsed, *meta)) {
    return *rejected;
  }
  if (auto rejected = check_runtime_abi(name, *meta, host)) {
    return *rejected;
  }
  if (auto rejected = check_cpu_features(name, *meta, host)) {
    return *rejected;
  }
  if (parsed.backend.type == metadata::BackendType::cpu) {
    return judge_cpu(name, *meta, device);
  }
  return judge_cuda(name, *meta, host, device);
}

std::strong_ordering compare(const Verdict& a, const Verdict& b) {
  if (a.compatible() != b.compatible()) {
    return a.compatible() ? std::strong_ordering::greater : std::strong_ordering::less;
  }
  if (a.compatible()) {
    return *a.priority <=> *b.priority;
  }
  return a.rule <=> b.rule;
}

} // namespace kget::resolve
