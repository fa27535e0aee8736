// `kget build`: every cell of the matrix that applies to a kernel, built through a generated CMake
// project into OUT/build/<variant>/ with its computed metadata.json, then checked
// (docs/build.md).
#pragma once

#include "build/check.hpp"
#include "build/config.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace kget::build {

struct BuildRequest {
  std::filesystem::path kernel;      // kernels/<name> or its build.toml
  std::filesystem::path matrix;      // empty: kernels/matrix.toml beside the kernel directory
  std::filesystem::path out;         // empty: the kernel directory
  std::vector<std::string> variants; // empty: every cell that applies
  int jobs = 0;                      // 0: the number of CPUs
  // CUDA capabilities to build, of those build.toml asks for (--cuda-arch 9.0 keeps 9.0 and
  // 9.0a); a group left with none is not built. Empty: all. For test and single-GPU builds.
  std::vector<util::MajorMinor> cuda_arch;
  std::filesystem::path deps_dir; // empty: OUT/.work/deps (build/deps.hpp)
  // Bytes the compile jobs may use together; each nvcc unit is assumed to need its kernel's
  // unit_memory. 0: three quarters of the memory available now.
  uint64_t memory_budget = 0;
  bool ccache = true;                         // compile through ccache when it is on PATH
  bool verbose = false;                       // toolchain output on stdout instead of a log file
  std::function<void(std::string_view)> note; // progress lines ("built ...", "skipped ...")
};

struct VariantOutcome {
  std::string variant;
  std::string cell;
  bool built = false;
  std::string skipped; // why the cell was skipped, when it was
  std::filesystem::path directory;
  CheckReport check;
};

struct BuildReport {
  std::vector<VariantOutcome> variants;
};

// Builds and checks. A failed compilation, or a check with violations, fails the whole build
// with the kind of the first violation (abi = 10, ...) and a message listing them.
Result<BuildReport> build_kernel(const BuildRequest& request);

// "8.0,9.0" -> {8.0, 9.0}: the --cuda-arch list; suffixes are not taken (9.0 keeps 9.0a too).
Result<std::vector<util::MajorMinor>> parse_cuda_arch_list(std::string_view text);

// The metadata.json of a built variant directory holding the library: digests of every file but
// metadata.json, symbol versions from the ELF, CUDA targets from the fatbin.
Result<std::string> compute_metadata_json(const KernelSpec& kernel, const MatrixCell& cell,
                                          const std::filesystem::path& variant_directory,
                                          const std::string& library);

} // namespace kget::build
