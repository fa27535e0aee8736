// kget info: the metadata of every variant of a kernel revision, and which one this host takes.
#include "client.hpp"
#include "commands.hpp"
#include "ref/kernel_ref.hpp"
#include "util/strings.hpp"

#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

namespace kget::cli {

namespace {

struct InfoOptions {
  std::string reference;
  ClientFlags client;
  bool json = false;
};

nlohmann::json variant_json(const resolve::Candidate& candidate, const resolve::Verdict* verdict) {
  nlohmann::json item = {{"variant", candidate.name}};
  if (verdict != nullptr) {
    item["compatible"] = verdict->compatible();
    item["reason"] = verdict->reason;
  }
  if (!candidate.metadata) {
    item["metadata_error"] = candidate.metadata.error().message;
    return item;
  }
  const auto& meta = *candidate.metadata;
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& op : meta.kget.ops) {
    ops.push_back(op.schema);
  }
  item["backend"] = meta.backend_type;
  item["archs"] = meta.backend_archs;
  item["ops"] = ops;
  item["library"] = meta.kget.library;
  item["license"] = meta.license;
  if (meta.kget.cuda) {
    item["cuda_toolkit"] = util::to_string(meta.kget.cuda->toolkit);
    item["cuda_min_driver"] = util::to_string(meta.kget.cuda->min_driver);
  }
  item["cpu_features"] = meta.kget.cpu_features;
  item["symbol_versions"] = meta.kget.symbol_versions;
  return item;
}

const resolve::Verdict* verdict_for(const resolve::Resolution& resolution,
                                    const std::string& name) {
  for (const auto& verdict : resolution.verdicts) {
    if (verdict.variant == name) {
      return &verdict;
    }
  }
  return nullptr;
}

Result<int> run_info(const InfoOptions& options) {
  KGET_TRY_ASSIGN(auto kernel_ref, ref::parse_kernel_ref(options.reference));
  KGET_TRY_ASSIGN(auto client, make_client(options.client));
  fetch::PullRequest request{kernel_ref, &client.host, client.device, {}};
  KGET_TRY_ASSIGN(auto info, fetch::info(request, client.config));
  const auto* chosen = info.resolution.chosen();
  if (options.json) {
    nlohmann::json variants = nlohmann::json::array();
    for (const auto& candidate : info.variants) {
      variants.push_back(variant_json(candidate, verdict_for(info.resolution, candidate.name)));
    }
    nlohmann::json document = {{"repo", info.repo_id},
                               {"commit", info.revision.commit},
                               {"resolved", info.revision.how},
                               {"source", info.source},
                               {"chosen", chosen ? nlohmann::json(chosen->variant) : nullptr},
                               {"variants", variants}};
    fmt::print("{}\n", document.dump(2));
    return 0;
  }
  fmt::print("{}: {} -> commit {} (from {})\n", info.repo_id, info.revision.how,
             info.revision.commit, info.source);
  for (const auto& candidate : info.variants) {
    const auto* verdict = verdict_for(info.resolution, candidate.name);
    std::string mark = chosen && chosen->variant == candidate.name ? "chosen"
                       : verdict && verdict->compatible()          ? "fits"
                                                                   : "no";
    fmt::print("\n{} [{}]{}\n", candidate.name, mark,
               verdict ? fmt::format(" {}", verdict->reason) : "");
    if (!candidate.metadata) {
      fmt::print("  metadata: {}\n", candidate.metadata.error().message);
      continue;
    }
    const auto& meta = *candidate.metadata;
    fmt::print("  backend  {}{}\n", meta.backend_type,
               meta.backend_archs.empty() ? "" : " (" + util::join(meta.backend_archs, ", ") + ")");
    if (meta.kget.cuda) {
      fmt::print("  cuda     toolkit {}, driver >= {}\n", util::to_string(meta.kget.cuda->toolkit),
                 util::to_string(meta.kget.cuda->min_driver));
    }
    fmt::print("  library  {}\n", meta.kget.library);
    for (const auto& op : meta.kget.ops) {
      fmt::print("  op       {}\n", op.schema);
    }
  }
  return 0;
}

} // namespace

Command add_info_command(CLI::App& app) {
  auto* subcommand = app.add_subcommand("info", "Show every variant of a kernel with its metadata");
  auto options = std::make_shared<InfoOptions>();
  subcommand->add_option("reference", options->reference, "org/name[@spec]")->required();
  add_client_flags(*subcommand, options->client, /*with_device=*/true);
  subcommand->add_flag("--json", options->json, "Print the variants as JSON");
  return {subcommand, [options] { return run_info(*options); }};
}

} // namespace kget::cli
