// kget list: the versions of a kernel (its vN branches and vX.Y.Z tags) and its other refs.
#include "client.hpp"
#include "commands.hpp"
#include "ref/kernel_ref.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

namespace kget::cli {

namespace {

struct ListOptions {
  std::string repo;
  ClientFlags client;
  bool json = false;
};

Result<int> run_list(const ListOptions& options) {
  KGET_TRY(ref::validate_repo_id(options.repo));
  KGET_TRY_ASSIGN(auto client, make_client(options.client));
  KGET_TRY_ASSIGN(auto list, fetch::list_versions(options.repo, client.config));
  std::vector<std::pair<ref::Version, std::string>> releases;
  for (const auto& [tag, commit] : list.refs.tags) {
    if (auto version = ref::parse_tag(tag)) {
      releases.emplace_back(*version, commit);
    }
  }
  std::sort(releases.begin(), releases.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  if (options.json) {
    nlohmann::json versions = nlohmann::json::array();
    for (const auto& [version, commit] : releases) {
      versions.push_back({{"version", ref::to_string(version)}, {"commit", commit}});
    }
    nlohmann::json document = {{"repo", options.repo},
                               {"source", list.source},
                               {"branches", list.refs.branches},
                               {"tags", list.refs.tags},
                               {"versions", versions}};
    fmt::print("{}\n", document.dump(2));
    return 0;
  }
  fmt::print("{} (from {})\n", options.repo, list.source);
  fmt::print("branches:\n");
  for (const auto& [name, commit] : list.refs.branches) {
    auto major = ref::parse_major_branch(name);
    fmt::print("  {:<24} {}{}\n", name, commit,
               major ? fmt::format("  (kernel reference @{})", *major) : "");
  }
  fmt::print("releases, newest first:\n");
  for (const auto& [version, commit] : releases) {
    fmt::print("  {:<24} {}\n", ref::to_string(version), commit);
  }
  for (const auto& [tag, commit] : list.refs.tags) {
    if (!ref::parse_tag(tag)) {
      fmt::print("  tag {:<20} {}\n", tag, commit);
    }
  }
  return 0;
}

} // namespace

Command add_list_command(CLI::App& app) {
  auto* subcommand =
      app.add_subcommand("list", "List the versions (branches and tags) of a kernel");
  auto options = std::make_shared<ListOptions>();
  subcommand->add_option("repo", options->repo, "org/name")->required();
  add_client_flags(*subcommand, options->client, /*with_device=*/false);
  subcommand->add_flag("--json", options->json, "Print the refs as JSON");
  return {subcommand, [options] { return run_list(*options); }};
}

} // namespace kget::cli
