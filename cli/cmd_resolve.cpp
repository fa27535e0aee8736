// kget resolve: which variant of a kernel this host would load, and why.
#include "client.hpp"
#include "commands.hpp"
#include "host/host.hpp"
#include "metadata/local_tree.hpp"
#include "ref/kernel_ref.hpp"
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
  ClientFlags client;
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

// A directory of variants, or org/name@spec resolved against the registry (or the cache).
Result<resolve::Resolution> resolution_for(const ResolveOptions& options) {
  std::error_code error;
  if (std::filesystem::is_directory(options.target, error)) {
    auto env = settings::Environment::process();
    KGET_TRY_ASSIGN(auto device, device_choice(options, env));
    KGET_TRY_ASSIGN(auto host, host::detect(env));
    KGET_TRY_ASSIGN(auto variants, metadata::read_local_variants(options.target));
    return resolve::resolve(options.target, resolve::candidates_from(std::move(variants)), host,
                            device);
  }
  // Something written as a path is a directory that is not there, not a malformed reference.
  if (options.target.starts_with("/") || options.target.starts_with(".") ||
      std::count(options.target.begin(), options.target.end(), '/') > 1) {
    return fail(ErrorKind::not_found,
                "\"{}\" is not a directory; kget resolve takes org/name[@spec] or a kernel "
                "directory holding build/<variant>/metadata.json",
                options.target);
  }
  auto kernel_ref = ref::parse_kernel_ref(options.target);
  if (!kernel_ref) {
    return fail(kernel_ref.error().kind, "\"{}\" is neither a directory nor a kernel reference: {}",
                options.target, kernel_ref.error().message);
  }
  ClientFlags flags = options.client;
  flags.device = options.device;
  KGET_TRY_ASSIGN(auto client, make_client(flags));
  fetch::PullRequest request{*kernel_ref, &client.host, client.device, {}};
  KGET_TRY_ASSIGN(auto info, fetch::info(request, client.config));
  info.resolution.subject =
      fmt::format("{} ({}, commit {})", options.target, info.revision.how, info.revision.commit);
  return info.resolution;
}

Result<int> run_resolve(const ResolveOptions& options) {
  KGET_TRY_ASSIGN(auto resolution, resolution_for(options));
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
  subcommand
      ->add_option("target", options->target,
                   "org/name[@spec], or a kernel directory holding build/<variant>/")
      ->required();
  subcommand->add_flag("--explain", options->explain,
                       "List every variant with why it was chosen, accepted or rejected");
  subcommand->add_flag("--json", options->json, "Print the explanation as JSON");
  subcommand->add_option("--device", options->device,
                         "Device to choose for: N, cuda:N or cpu (default: KGET_DEVICE)");
  add_client_flags(*subcommand, options->client, /*with_device=*/false);
  return {subcommand, [options]() { return run_resolve(*options); }};
}

} // namespace kget::cli
