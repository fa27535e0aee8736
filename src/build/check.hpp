// `kget check`: re-verifies a built variant directory against the rules a published kernel must
// meet (docs/build.md, "kget check"): the C ABI export, metadata.json against the name and the
// binary, digests, the manylinux_2_28 symbol-version policy, no absolute RPATH/RUNPATH, no CUDA
// toolkit libraries at run time, and (optionally) the descriptor through the real loader.
#pragma once

#include "metadata/metadata.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kget::build {

// One broken rule: `rule` is a short name ("exports", "policy", ...), `message` says what was
// expected and what was found; `kind` is the exit code it maps to.
struct Violation {
  std::string rule;
  ErrorKind kind = ErrorKind::abi;
  std::string message;
};

struct CheckReport {
  std::string variant;
  std::optional<metadata::VariantMetadata> metadata; // when metadata.json parsed
  std::vector<Violation> violations;                 // empty: the variant is clean
  bool loaded = false;                               // the loader accepted the descriptor
  bool clean() const { return violations.empty(); }
};

struct CheckOptions {
  bool load = true; // dlopen the library and compare its descriptor with the metadata
};

// The highest versions a kernel may need (manylinux_2_28): GLIBC 2.28, GLIBCXX 3.4.24,
// CXXABI 1.3.11. `version` is e.g. "GLIBC_2.34"; nullopt when within policy, else the limit.
std::optional<std::string> policy_limit_exceeded(const std::string& version);

// The symbol versions of families GLIBC, GLIBCXX and CXXABI that the library at `path` needs,
// sorted: what metadata.json's $.kget.requires.symbol_versions must say.
Result<std::vector<std::string>> required_symbol_versions(const std::filesystem::path& path);

// Checks every rule and reports every violation. Fails only when `directory` cannot be read.
Result<CheckReport> check_variant_directory(const std::filesystem::path& directory,
                                            const CheckOptions& options = {});

} // namespace kget::build
