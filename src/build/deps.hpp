// Header-only libraries a kernel may ask for in build.toml (`deps = ["cutlass"]`), each at one
// pinned version whose file hash is checked, installed on first use into a directory of the
// build tree (docs/build.md, "Dependencies").
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kget::build {

struct Dependency {
  std::string_view name;                 // as build.toml names it
  std::string_view requirement;          // pip requirement, pinned: "nvidia-cutlass==4.2.0.0"
  std::string_view sha256;               // of the one wheel file the pin allows
  std::vector<std::string_view> include; // relative to the install directory
  std::string_view probe;                // a file that must exist after the install
  std::vector<std::string_view> cuda_flags;
  uint64_t unit_memory = 0; // what one nvcc unit using it peaks at, with margin (bytes)
};

// The dependency called `name`, or nullptr.
const Dependency* find_dependency(std::string_view name);
std::vector<std::string> dependency_names();

// Where an installed dependency lives: `deps_dir`/<package>-<version>/ (the include paths of
// `dependency` below it), installed first when missing: pip, --no-deps, --require-hashes, into a
// temporary directory renamed into place, under an flock so that concurrent builds install once.
// Fails naming the package, its version and what to do when pip or the index is not available.
Result<std::vector<std::filesystem::path>> ensure_dependency(const Dependency& dependency,
                                                             const std::filesystem::path& deps_dir,
                                                             const std::filesystem::path& log);

} // namespace kget::build
