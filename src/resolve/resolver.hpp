// Choosing among the variants of one kernel revision, with an explanation for every variant.
#pragma once

#include "host/host.hpp"
#include "metadata/local_tree.hpp"
#include "metadata/metadata.hpp"
#include "resolve/compatibility.hpp"
#include "resolve/device_choice.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kget::resolve {

struct Candidate {
  std::string name;                           // build/<name>/
  Result<metadata::VariantMetadata> metadata; // or why it could not be read
};

struct Resolution {
  std::string subject; // what was resolved: "org/name@spec" or a directory
  std::string host;    // one line describing the host facts that were used
  DeviceChoice device;
  // Every variant, best first: compatible ones by priority, then rejected ones nearest miss first.
  std::vector<Verdict> verdicts;

  // The chosen variant, or nullptr when none is compatible.
  const Verdict* chosen() const;
};

Resolution resolve(std::string subject, const std::vector<Candidate>& candidates,
                   const host::HostInfo& host, const DeviceChoice& device);

std::vector<Candidate> candidates_from(std::vector<metadata::LocalVariant> variants);

// The chosen verdict, or ErrorKind::no_compatible_variant whose message is the explanation.
Result<Verdict> choose(const Resolution& resolution);

// "linux x86_64, glibc 2.36, CUDA driver 13.0 (580.65.06), cuda:0 compute capability 9.0"
std::string describe_host(const host::HostInfo& host, const DeviceChoice& device);

// The table `kget resolve --explain` prints: one line per variant with verdict, reason and hint.
std::string render_explanation(const Resolution& resolution);

// The same as a stable JSON document (docs/resolver.md).
nlohmann::json to_json(const Resolution& resolution);

} // namespace kget::resolve
