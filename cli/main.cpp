// kget: the command line. Thin: parses arguments, calls the library, prints. Exit codes are the
// numbers of kget::ErrorKind (docs/cli.md); 0 is success, 1 an unexpected exception.
#include "commands.hpp"

#include <cstdio>
#include <exception>
#include <kget/kget.hpp>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"kget: fetch, verify and load precompiled GPU kernels", "kget"};
  app.set_version_flag("--version", std::string("kget ") + kget::version());
  app.require_subcommand(1);
  std::vector<kget::cli::Command> commands = {
      kget::cli::add_env_command(app),   kget::cli::add_resolve_command(app),
      kget::cli::add_push_command(app),  kget::cli::add_pull_command(app),
      kget::cli::add_lock_command(app),  kget::cli::add_list_command(app),
      kget::cli::add_info_command(app),  kget::cli::add_cache_command(app),
      kget::cli::add_build_command(app), kget::cli::add_check_command(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : static_cast<int>(kget::ErrorKind::usage);
  }
  try {
    for (auto& command : commands) {
      if (command.subcommand->parsed()) {
        auto result = command.run();
        if (!result) {
          std::fprintf(stderr, "error: %s\n", result.error().message.c_str());
          return static_cast<int>(result.error().kind);
        }
        return *result;
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: internal: %s\n", error.what());
    return 1;
  }
  return 0;
}
