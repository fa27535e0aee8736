// Compatibility of one variant with the host: an ordered value. Incompatible (with the rule that
// failed, a reason and a hint) sorts below compatible (with a priority); the resolver takes the
// maximum, and when nothing fits it shows the nearest misses first.
#pragma once

#include "host/host.hpp"
#include "metadata/metadata.hpp"
#include "resolve/device_choice.hpp"

#include <compare>
#include <optional>
#include <string>

namespace kget::resolve {

// The rules in the order they are checked, from the farthest miss to the nearest: a variant that
// fails only the GPU-architecture rule is closer to fitting than one built for another OS.
// The first five are decided by the variant's name alone (judge_by_name), before its metadata is
// read, so a registry client fetches metadata only for variants that could fit.
enum class Rule {
  variant_name,    // not a kget variant name, or one kget cannot load
  framework,       // built for PyTorch/Python or TVM-FFI
  os,              // built for another OS
  cpu_arch,        // built for another CPU architecture
  abi,             // another kget C ABI major
  metadata,        // metadata.json missing, malformed, or contradicting the name
  symbol_versions, // needs newer GLIBC/GLIBCXX/CXXABI than the host provides
  cpu_features,    // needs CPU features the host lacks
  device_choice,   // the caller asked for another kind of device
  cuda_driver,     // no CUDA driver, or one too old for the toolkit
  cuda_device,     // no such CUDA device
  gpu_arch,        // no SASS or usable PTX for the device's compute capability
};
const char* to_string(Rule rule);

// Among compatible variants, the larger priority wins; members compare in order.
struct Priority {
  int code_tier = 0;         // 3 exact SASS, 2 family SASS, 1 PTX JIT, 0 CPU
  int arch_score = 0;        // closeness of the matched target to the device (higher = closer)
  util::MajorMinor toolkit;  // newer toolkit preferred among equal code
  int cpu_feature_count = 0; // more specialised CPU build preferred
  auto operator<=>(const Priority&) const = default;
};

struct Verdict {
  std::string variant;
  std::optional<Priority> priority; // set exactly when compatible
  Rule rule = Rule::variant_name;   // the failed rule when incompatible
  std::string reason;               // why it fits (or does not)
  std::string hint;                 // what would make it fit; may be empty

  bool compatible() const { return priority.has_value(); }
};

// The device with CUDA ordinal `ordinal`, or nullptr. Devices that could not be queried are left
// out of the list, so a position in it is not an ordinal.
const host::CudaDevice* find_device(const host::CudaInfo& cuda, int ordinal);

// The rejection that the name alone decides (variant_name, framework, os, cpu_arch, abi), or
// nullopt when the variant's metadata must be read to judge it.
std::optional<Verdict> judge_by_name(const std::string& name, const host::HostInfo& host);

// judge_by_name, plus what the name and the device choice decide together: a CUDA variant when
// the CPU was asked for or no driver is usable, a CPU variant when a CUDA device was asked for.
// nullopt when the metadata must be read; a registry client reads it only then.
std::optional<Verdict> judge_without_metadata(const std::string& name, const host::HostInfo& host,
                                              const DeviceChoice& device);

// The verdict on variant `name` with its metadata (or the failure reading it).
Verdict judge(const std::string& name, const Result<metadata::VariantMetadata>& metadata,
              const host::HostInfo& host, const DeviceChoice& device);

// Incompatible < compatible; among incompatible, nearer rules are greater; among compatible,
// higher priority is greater. Ties compare equal.
std::strong_ordering compare(const Verdict& a, const Verdict& b);

} // namespace kget::resolve
