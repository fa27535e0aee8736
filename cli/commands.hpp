// The kget subcommands. Each registers itself on the CLI11 app and runs through the library;
// failures come back as kget::Failure and main turns them into a message and an exit code.
#pragma once

#include "util/result.hpp"

#include <CLI/CLI.hpp>
#include <functional>

namespace kget::cli {

// A parsed subcommand runs `run`, which returns the exit code or a failure.
struct Command {
  CLI::App* subcommand;
  std::function<Result<int>()> run;
};

Command add_env_command(CLI::App& app);
Command add_resolve_command(CLI::App& app);
Command add_push_command(CLI::App& app);
Command add_pull_command(CLI::App& app);
Command add_lock_command(CLI::App& app);
Command add_list_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_cache_command(CLI::App& app);
Command add_build_command(CLI::App& app);
Command add_check_command(CLI::App& app);

} // namespace kget::cli
