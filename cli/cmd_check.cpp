// kget check: re-verifies built variant directories (docs/build.md, "kget check"). Prints one
// line per broken rule; the exit code is the first violation's error kind, 0 when clean.
#include "build/check.hpp"
#include "commands.hpp"

#include <fmt/format.h>
#include <memory>

namespace kget::cli {

namespace {

struct CheckOptions {
  std::vector<std::string> directories;
  bool no_load = false;
};

Result<int> run_check(const CheckOptions& options) {
  int exit_code = 0;
  for (const auto& directory : options.directories) {
    KGET_TRY_ASSIGN(auto report, build::check_variant_directory(directory, {!options.no_load}));
    if (report.clean()) {
      fmt::print("{}: ok{}\n", directory, report.loaded ? " (descriptor loaded and matches)" : "");
      continue;
    }
    for (const auto& violation : report.violations) {
      fmt::print(stderr, "{}: {}: {}\n", directory, violation.rule, violation.message);
    }
    if (exit_code == 0) {
      exit_code = static_cast<int>(report.violations.front().kind);
    }
  }
  return exit_code;
}

} // namespace

Command add_check_command(CLI::App& app) {
  auto* subcommand =
      app.add_subcommand("check", "Verify built variant directories (ABI, metadata, policy)");
  auto options = std::make_shared<CheckOptions>();
  subcommand
      ->add_option("directories", options->directories, "Variant directories build/<variant>/")
      ->required();
  subcommand->add_flag("--no-load", options->no_load,
                       "Do not dlopen the library to compare its descriptor with metadata.json");
  return {subcommand, [options]() { return run_check(*options); }};
}

} // namespace kget::cli
