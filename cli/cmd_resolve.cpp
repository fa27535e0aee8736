// kget resolve: which variant of a kernel this host would load, and why.
#include "commands.hpp"
#include "host/host.hpp"
#include "metadata/local_tree.hpp"
#include "resolve/resolver.hpp"
#include "settings/settings.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <memory>

namespace kget::cli {

namespace {

struct ResolveOptions {
  std::string target;
  std::string device;
  bool explain = false;
  bool json = false;
};

Result<resolve::DeviceChoice> device_choice(const ResolveOptions& options,
                                            const settings::Environment& env) {
  if (options.device.empty()) {
    return resolve::device_choice_from(env);
  }
  auto choice = resolve::parse_device_choice(options.device);
  if (!choice) {
    return fail(ErrorKind::usage, "--device: {}", choice.error().message);
  }
  return choice;
}

Result<int> run_resolve(const ResolveOptions& options) {
  std::error_code error;
  if (!std::filesystem::is_directory(options.target, error)) {
    return fail(ErrorKind::not_found,
                "\"{}\" is not a directory. kget resolve takes a kernel directory holding "
                "build/<variant>/metadata.json; resolving org/name@spec against a registry "
                "arrives with the registry client",
                options.target);
  }
  auto env = settings::Environment::process();
  KGET_TRY_ASSIGN(auto device, device_choice(options, env));
  KGET_TRY_ASSIGN(auto host, host::detect(env));
  KGET_TRY_ASSIGN(auto variants, metadata::read_local_variants(options.target));
  auto resolution =
      resolve::resolve(options.target, resolve::candidates_from(std::move(variants)), host, device);
  const resolve::Verdict* chosen = resolution.chosen();
  if (options.json) {
    fmt::print("{}\n", resolve::to_json(resolution).dump(2));
  } else if (options.explain) {
    fmt::print("{}", resolve::render_explanation(resolution));
  }
  if (chosen == nullptr) {
    if (options.json || options.explain) {
      fmt::print(stderr, "error: no variant of {} fits this host\n", resolution.subject);
      return static_cast<int>(ErrorKind::no_compatible_variant);
    }
    KGET_TRY(resolve::choose(resolution));
  }
  if (!options.json && !options.explain) {
    fmt::print("{}\n", chosen->variant);
  }
  return 0;
}

} // namespace

Command add_resolve_command(CLI::App& app) {
  auto* subcommand =
      app.add_subcommand("resolve", "Choose the variant of a kernel that fits this host");
  auto options = std::make_shared<ResolveOptions>();
  subcommand->add_option("target", options->target, "Kernel directory (holding build/<variant>/)")
      ->required();
  subcommand->add_flag("--explain", options->explain,
                       "List every variant with why it was chosen, accepted or rejected");
  subcommand->add_flag("--json", options->json, "Print the explanation as JSON");
  subcommand->add_option("--device", options->device,
                         "Device to choose for: N, cuda:N or cpu (default: KGET_DEVICE)");
  return {subcommand, [options]() { return run_resolve(*options); }};
}

} // namespace kget::cli
