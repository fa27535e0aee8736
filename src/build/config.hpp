// The inputs of `kget build`: a kernel's build.toml and the matrix of toolchains in
// kernels/matrix.toml (schemas in docs/build.md). Parsing validates every key; a failure is
// ErrorKind::invalid_metadata and names "file:line".
#pragma once

#include "metadata/metadata.hpp"
#include "util/result.hpp"
#include "util/strings.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kget::build {

// An instruction-set path of the CPU backend: files compiled with extra flags, kept only when
// the target CPU architecture is one of `arch`; `define` tells the dispatcher it is there.
struct IsaPath {
  std::string name; // "avx2"
  std::vector<std::string> arch;
  std::vector<std::filesystem::path> sources;
  std::vector<std::string> cxx_flags;
  std::string define;
};

// [kernel.cuda.group.<name>]: CUDA sources compiled only for these capabilities, because their
// code exists for them alone (an sm_90a-only wgmma file, an mma.sync file for 8.0+). Every
// source of the variant sees KGET_CUDA_PATH_<NAME>=<targets> for each group built, so that the
// kernel's run-time dispatch knows which paths are in the library (docs/build.md).
struct CudaGroup {
  std::string name; // [a-z0-9_]+
  std::vector<metadata::CudaTarget> capabilities;
  std::vector<int> capability_lines; // where each capability is written, for errors
  bool ptx = false;                  // also PTX of the newest capability built
  std::vector<std::filesystem::path> sources;
  std::vector<std::string> cuda_flags;
};

// [kernel.cpu] or [kernel.cuda]: sources and flags of one backend. Paths are absolute.
struct BackendSources {
  int cxx_standard = 17; // from `language = "c++17"`
  std::vector<std::filesystem::path> sources;
  std::vector<std::filesystem::path> include;
  std::vector<std::string> defines;
  std::vector<std::string> cxx_flags;
  std::vector<std::string> link_flags;
  std::optional<std::filesystem::path> version_script;
  std::vector<IsaPath> isa;            // cpu only
  std::vector<std::string> cuda_flags; // cuda only
  // cuda only. Without groups: every source is built for cuda_capabilities (each the cell's
  // toolkit builds). With groups: `sources` are shared, built for the union of the groups' targets.
  std::vector<metadata::CudaTarget> cuda_capabilities;
  std::vector<CudaGroup> groups;
  std::vector<std::string> deps; // "cutlass" (build/deps.hpp)
};

struct KernelSpec {
  std::filesystem::path file;      // .../build.toml
  std::filesystem::path directory; // the kernel's directory
  std::string name;
  int version = 0;
  std::string license;
  std::string repo_id;
  int abi_major = 0;
  int abi_minor = 0;
  std::vector<std::string> backends; // "cpu", "cuda"
  std::vector<metadata::Op> ops;
  std::optional<BackendSources> cpu;
  std::optional<BackendSources> cuda;
};

// Parses `path` (a build.toml, or a kernel directory holding one).
Result<KernelSpec> load_kernel_spec(const std::filesystem::path& path);
// The same over text already read; `file` is where it came from (messages, relative paths).
Result<KernelSpec> parse_kernel_spec(std::string_view text, const std::filesystem::path& file);

// One cell of the matrix: a toolchain for one backend, CPU architecture and OS.
struct MatrixCell {
  std::string name;    // "cpu-x86_64", "cu130"
  std::string backend; // "cpu" or "cuda"
  std::string cpu = "x86_64";
  std::string os = "linux";
  std::string cxx = "c++"; // host C++ compiler (also nvcc's -ccbin)
  std::vector<std::string> cxx_flags;
  std::vector<std::string> link_flags;
  // cuda only
  std::filesystem::path
      cuda_root;          // holds bin/nvcc (unless nvcc_wheel) and lib64/libcudart_static.a
  std::string nvcc_wheel; // "nvidia-cuda-nvcc-cu12==12.9.*": nvcc from a venv instead
  util::MajorMinor toolkit;
  util::MajorMinor min_driver;
  std::vector<metadata::CudaTarget> sass; // SASS the cell can build, intersected with the kernel's
  bool ptx_newest = true;                 // also PTX of the newest SASS target built
  int line = 0;                           // where the cell starts in matrix.toml
};

struct Matrix {
  std::filesystem::path file;
  std::vector<MatrixCell> cells;
};

Result<Matrix> load_matrix(const std::filesystem::path& path);
Result<Matrix> parse_matrix(std::string_view text, const std::filesystem::path& file);

// "kget1-cpu-x86_64-linux", "kget1-cu130-x86_64-linux"
std::string variant_name(const KernelSpec& kernel, const MatrixCell& cell);

} // namespace kget::build
