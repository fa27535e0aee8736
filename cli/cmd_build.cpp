// kget build: builds a kernel for every cell of the matrix that applies (docs/build.md) and
// checks each variant; a failed check fails the build with the check's exit code.
#include "build/builder.hpp"
#include "commands.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <memory>

namespace kget::cli {

namespace {

struct BuildOptions {
  std::string kernel;
  std::vector<std::string> variants;
  std::string out;
  std::string matrix;
  int jobs = 0;
  std::string cuda_arch;
  std::string deps;
  double memory_gib = 0;
  bool no_ccache = false;
  bool verbose = false;
};

Result<int> run_build(const BuildOptions& options) {
  build::BuildRequest request;
  request.kernel = options.kernel;
  request.variants = options.variants;
  request.out = options.out;
  request.matrix = options.matrix;
  request.jobs = options.jobs;
  if (!options.cuda_arch.empty()) {
    KGET_TRY_ASSIGN(request.cuda_arch, build::parse_cuda_arch_list(options.cuda_arch));
  }
  request.deps_dir = options.deps;
  request.memory_budget = static_cast<uint64_t>(options.memory_gib * 1024 * 1024 * 1024);
  request.ccache = !options.no_ccache;
  request.verbose = options.verbose;
  request.note = [](std::string_view line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
  };
  KGET_TRY(build::build_kernel(request));
  return 0;
}

} // namespace

Command add_build_command(CLI::App& app) {
  auto* subcommand = app.add_subcommand(
      "build", "Build a kernel for every cell of the matrix that applies, into build/<variant>/");
  auto options = std::make_shared<BuildOptions>();
  subcommand->add_option("kernel", options->kernel, "Kernel directory holding build.toml")
      ->required();
  subcommand->add_option("--variant", options->variants,
                         "Build only this variant, e.g. kget1-cpu-x86_64-linux (repeatable)");
  subcommand->add_option("--out", options->out,
                         "Where build/<variant>/ and the work tree .work/ go (default: the kernel "
                         "directory)");
  subcommand->add_option("--matrix", options->matrix,
                         "The matrix (default: matrix.toml beside the kernel directory)");
  subcommand->add_option("--jobs,-j", options->jobs, "Parallel compile jobs (default: all CPUs)")
      ->check(CLI::NonNegativeNumber);
  subcommand->add_option("--cuda-arch", options->cuda_arch,
                         "Build only these CUDA capabilities of those build.toml lists, e.g. "
                         "8.0,9.0 (9.0 keeps 9.0a); a group left with none is not built");
  subcommand->add_option("--deps", options->deps,
                         "Where build.toml's deps (CUTLASS) are installed (default: "
                         "OUT/.work/deps)");
  subcommand
      ->add_option("--memory", options->memory_gib,
                   "GiB the nvcc jobs may use together (default: 3/4 of the available "
                   "memory); fewer run at once when a unit would not fit")
      ->check(CLI::PositiveNumber);
  subcommand->add_flag("--no-ccache", options->no_ccache,
                       "Do not compile through ccache (used when it is on PATH)");
  subcommand->add_flag(
      "--verbose,-v", options->verbose,
      "Show the toolchain's output instead of logging it to .work/<variant>/build.log");
  return {subcommand, [options]() { return run_build(*options); }};
}

} // namespace kget::cli
