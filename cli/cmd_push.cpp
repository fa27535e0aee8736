// kget push: publish built variants as one version of a repository, to a kget-registry or
// straight into a file:// store.
#include "commands.hpp"
#include "output.hpp"
#include "publish/publish.hpp"
#include "settings/settings.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

namespace kget::cli {

namespace {

struct PushOptions {
  std::vector<std::string> directories;
  std::string repo;
  std::string version;
  std::string to;
  std::string token;
  std::string message;
  bool json = false;
};

nlohmann::json outcome_json(const publish::PushPlan& plan, const publish::Destination& destination,
                            const publish::PushOutcome& outcome) {
  nlohmann::json variants = nlohmann::json::array();
  for (const auto& variant : plan.variants) {
    variants.push_back(variant.name);
  }
  const auto& published = outcome.published;
  return {{"repo", plan.repo},
          {"version", ref::to_string(plan.version)},
          {"to", destination.url},
          {"commit", published.commit},
          {"branch", published.branch},
          {"tag", published.tag},
          {"created", published.created},
          {"moved_main", published.moved_main},
          {"variants", variants},
          {"files", plan.files.size()},
          {"bytes", plan.total_bytes()},
          {"blobs_uploaded", outcome.blobs_uploaded},
          {"blobs_present", outcome.blobs_present},
          {"bytes_uploaded", outcome.bytes_uploaded},
          {"bytes_present", outcome.bytes_present}};
}

void print_outcome(const publish::PushPlan& plan, const publish::Destination& destination,
                   const publish::PushOutcome& outcome) {
  const auto& published = outcome.published;
  std::string version = ref::to_string(plan.version);
  if (published.created) {
    fmt::print("pushed {} {} to {}\n", plan.repo, version, destination.url);
  } else {
    fmt::print("{} {} is already published (identical) at {}\n", plan.repo, version,
               destination.url);
  }
  fmt::print("  commit    {}\n", published.commit);
  fmt::print("  branch    {}{}\n", published.branch, published.moved_main ? " (and main)" : "");
  fmt::print("  tag       {}\n", published.tag);
  fmt::print("  variants  {}\n", plan.variants.size());
  for (const auto& variant : plan.variants) {
    fmt::print("            {} ({} files)\n", variant.name, variant.files);
  }
  fmt::print("  files     {} ({})\n", plan.files.size(), human_bytes(plan.total_bytes()));
  fmt::print("  uploaded  {} blobs ({}), {} already present ({})\n", outcome.blobs_uploaded,
             human_bytes(outcome.bytes_uploaded), outcome.blobs_present,
             human_bytes(outcome.bytes_present));
}

struct DestinationChoice {
  std::string url;
  std::string origin; // "--to" or the variable it came from
};

// --to, else KGET_ENDPOINT (or HF_ENDPOINT). Not the built-in default: huggingface.co has no
// kget push API, and a push should go where its author said.
Result<DestinationChoice> destination_url(const PushOptions& options,
                                          const settings::Environment& env) {
  if (!options.to.empty()) {
    return DestinationChoice{options.to, "--to"};
  }
  auto endpoint = settings::lookup(settings::Id::endpoint, env);
  if (!endpoint.is_set) {
    return fail(ErrorKind::usage,
                "where to? give --to URL (a kget-registry, or file:///path of a store) or set "
                "KGET_ENDPOINT");
  }
  return DestinationChoice{endpoint.value, endpoint.source};
}

Result<int> run_push(const PushOptions& options) {
  auto env = settings::Environment::process();
  KGET_TRY_ASSIGN(auto choice, destination_url(options, env));
  std::string token =
      options.token.empty() ? settings::lookup(settings::Id::token, env).value : options.token;
  auto destination = publish::parse_destination(choice.url);
  if (!destination) {
    ErrorKind kind = choice.origin == "--to" ? ErrorKind::usage : ErrorKind::invalid_setting;
    return fail(kind, "{}: {}", choice.origin, destination.error().message);
  }
  std::vector<std::filesystem::path> inputs(options.directories.begin(), options.directories.end());
  KGET_TRY_ASSIGN(auto plan,
                  publish::plan_push({inputs, options.repo, options.version, options.message}));
  KGET_TRY_ASSIGN(auto outcome, publish::push(plan, *destination, token));
  if (options.json) {
    fmt::print("{}\n", outcome_json(plan, *destination, outcome).dump(2));
  } else {
    print_outcome(plan, *destination, outcome);
  }
  return 0;
}

} // namespace

Command add_push_command(CLI::App& app) {
  auto* subcommand =
      app.add_subcommand("push", "Publish built variants as a version of a kernel repository");
  auto options = std::make_shared<PushOptions>();
  subcommand
      ->add_option("directories", options->directories,
                   "Kernel directories (holding build/<variant>/), build directories or variant "
                   "directories")
      ->required();
  subcommand->add_option("--repo", options->repo, "Repository to publish to, org/name")->required();
  subcommand->add_option("--version", options->version, "Version to publish, e.g. 1.2.0")
      ->required();
  subcommand->add_option("--to", options->to,
                         "Registry URL or file:///path of a store (default: KGET_ENDPOINT)");
  subcommand->add_option("--token", options->token, "Bearer token (default: KGET_TOKEN)");
  subcommand->add_option("--message", options->message,
                         "Commit message (default: \"Publish version <version>\")");
  subcommand->add_flag("--json", options->json, "Print the outcome as JSON");
  return {subcommand, [options]() { return run_push(*options); }};
}

} // namespace kget::cli
