// A variant's metadata.json: the keys of the Hub's `kernels` plus kget's own section (schema in
// docs/metadata.md). Parsing validates every field; a failure names its JSON path.
#pragma once

#include "util/result.hpp"
#include "util/strings.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kget::metadata {

// One compilation target inside a fatbin: SASS `sm_90a` or PTX `compute_90`.
struct CudaTarget {
  enum class Kind { sass, ptx };
  enum class Suffix { none, arch_specific /* a */, family /* f */ };
  Kind kind = Kind::sass;
  util::MajorMinor capability;
  Suffix suffix = Suffix::none;

  auto operator<=>(const CudaTarget&) const = default;
};

// "sm_90a" / "compute_80" / "sm_100f"; nullopt when malformed.
std::optional<CudaTarget> parse_cuda_target(std::string_view text);
std::string to_string(const CudaTarget& target);

struct Op {
  std::string name;
  std::string schema;
};

struct CudaRequirements {
  util::MajorMinor toolkit;    // the toolkit the library was built with
  util::MajorMinor min_driver; // lowest CUDA version the driver must support
  std::vector<CudaTarget> sass;
  std::vector<CudaTarget> ptx;
};

struct KgetSection {
  int abi_major = 0;
  int abi_minor = 0;
  std::string library; // path of the kernel library inside the variant directory
  std::vector<Op> ops;
  std::optional<CudaRequirements> cuda;     // present exactly when backend.type is "cuda"
  std::vector<std::string> symbol_versions; // "GLIBC_2.17", "GLIBCXX_3.4.21", "CXXABI_1.3.9"
  std::vector<std::string> cpu_features;    // "avx2", "fma"
};

struct VariantMetadata {
  std::string name;
  std::string id;
  int version = 0; // the kernel's major version
  std::string license;
  std::string backend_type;                        // "cuda" or "cpu"
  std::vector<std::string> backend_archs;          // Hub form: "8.0", "9.0a", "9.0+PTX"
  std::string digest_algorithm;                    // "sha256" or "sha512"
  std::map<std::string, std::string> digest_files; // relative path -> base64 digest
  KgetSection kget;
};

// Parse and validate; errors are ErrorKind::invalid_metadata with "$.json.path: ..." messages.
Result<VariantMetadata> parse_metadata(std::string_view json_text);

// A symbol version such as "GLIBCXX_3.4.21" split into family and numbers; nullopt if malformed or
// not one of the families kget's policy knows (GLIBC, GLIBCXX, CXXABI).
struct SymbolVersion {
  std::string family;
  std::vector<int> version;
};
std::optional<SymbolVersion> parse_symbol_version(std::string_view text);

} // namespace kget::metadata
