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
  bool verbose = false;
};

Result<int> run_build(const BuildOptions& options) {
  build::BuildRequest request;
  request.kernel = options.kernel;
  request.variants = options.variants;
  request.out = options.out;
  request.matrix = options.matrix;
  request.jobs = options.jobs;
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
  subcommand->add_flag(
      "--verbose,-v", options->verbose,
      "Show the toolchain's output instead of logging it to .work/<variant>/build.log");
  return {subcommand, [options]() { return run_build(*options); }};
}

} // namespace kget::cli
