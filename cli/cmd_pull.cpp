// kget pull: fetch kernels into the cache, verified, ready for get_kernel.
#include "client.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "ref/kernel_ref.hpp"

#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

namespace kget::cli {

namespace {

struct PullOptions {
  std::vector<std::string> references;
  ClientFlags client;
  bool json = false;
  bool quiet = false;
  bool locked = false;
  std::string lock_file = "kget.lock";
};

nlohmann::json pulled_json(const fetch::Pulled& pulled) {
  const auto* chosen = pulled.resolution.chosen();
  return {{"repo", pulled.repo_id},
          {"commit", pulled.revision.commit},
          {"revision", pulled.revision.name},
          {"resolved", pulled.revision.how},
          {"source", pulled.source},
          {"variant", pulled.variant},
          {"reason", chosen ? chosen->reason : ""},
          {"path", pulled.variant_dir.string()},
          {"files", pulled.files.size()},
          {"files_downloaded", pulled.files_downloaded},
          {"bytes_downloaded", pulled.bytes_downloaded},
          {"local", pulled.local},
          {"warnings", pulled.warnings}};
}

void print_pulled(const fetch::Pulled& pulled, std::chrono::steady_clock::duration elapsed) {
  for (const auto& warning : pulled.warnings) {
    fmt::print(stderr, "warning: {}\n", warning);
  }
  const auto* chosen = pulled.resolution.chosen();
  if (pulled.local) {
    fmt::print("{}: local build {}\n", pulled.repo_id, pulled.source);
  } else {
    fmt::print("{}: {} -> commit {} (from {})\n", pulled.repo_id, pulled.revision.how,
               pulled.revision.commit, pulled.source);
  }
  fmt::print("  variant  {} ({})\n", pulled.variant, chosen ? chosen->reason : "");
  if (pulled.files_downloaded > 0) {
    fmt::print("  fetched  {} files, {} in {:.2f} s\n", pulled.files_downloaded,
               human_bytes(pulled.bytes_downloaded),
               std::chrono::duration<double>(elapsed).count());
  } else if (!pulled.local) {
    fmt::print("  fetched  nothing: all {} files were in the cache\n", pulled.files.size());
  }
  fmt::print("  path     {}\n", pulled.variant_dir.string());
}

Result<int> run_pull(const PullOptions& options) {
  KGET_TRY_ASSIGN(auto client, make_client(options.client));
  lock::LockFile lock;
  std::vector<std::string> references = options.references;
  if (options.locked) {
    KGET_TRY_ASSIGN(lock, lock::read_lock_file(options.lock_file));
    if (references.empty()) {
      for (const auto& [repo, kernel] : lock.kernels) {
        references.push_back(kernel.spec.empty() ? repo : repo + "@" + kernel.spec);
      }
    }
  } else if (references.empty()) {
    return fail(ErrorKind::usage, "kget pull needs a kernel reference (or --locked)");
  }
  nlohmann::json results = nlohmann::json::array();
  std::optional<Failure> first_failure;
  for (const auto& text : references) {
    auto started = std::chrono::steady_clock::now();
    auto parsed = ref::parse_kernel_ref(text);
    Result<fetch::Pulled> pulled =
        parsed ? Result<fetch::Pulled>() : std::unexpected(parsed.error());
    if (parsed) {
      if (std::holds_alternative<ref::DefaultSpec>(parsed->spec) && !options.json &&
          !options.quiet) {
        fmt::print(stderr, "note: {} has no @version; using its highest vN branch\n", text);
      }
      ProgressDisplay display(options.json ? ProgressDisplay::Style::quiet
                                           : ProgressDisplay::style_for(options.quiet));
      fetch::PullRequest request{*parsed, &client.host, client.device, display.callback(), nullptr};
      if (options.locked) {
        auto locked = lock::find(lock, options.lock_file, ref::repo_id(*parsed),
                                 ref::to_string(parsed->spec));
        if (locked) {
          request.locked = *locked;
        } else {
          pulled = std::unexpected(locked.error());
        }
      }
      if (pulled) {
        pulled = fetch::pull(request, client.config);
      }
    }
    auto elapsed = std::chrono::steady_clock::now() - started;
    if (!pulled) {
      if (options.json) {
        results.push_back({{"reference", text},
                           {"error", pulled.error().message},
                           {"kind", to_string(pulled.error().kind)}});
      } else {
        fmt::print(stderr, "error: {}: {}\n", text, pulled.error().message);
      }
      first_failure = first_failure.value_or(pulled.error());
      continue;
    }
    if (options.json) {
      auto item = pulled_json(*pulled);
      item["reference"] = text;
      results.push_back(std::move(item));
    } else if (!options.quiet) {
      print_pulled(*pulled, elapsed);
    }
  }
  if (options.json) {
    fmt::print("{}\n", results.dump(2));
  }
  return first_failure ? static_cast<int>(first_failure->kind) : 0;
}

} // namespace

Command add_pull_command(CLI::App& app) {
  auto* subcommand = app.add_subcommand("pull", "Fetch kernels into the cache, verified");
  auto options = std::make_shared<PullOptions>();
  subcommand->add_option("reference", options->references,
                         "org/name[@spec] ... (with --locked: default every kernel in the lock)");
  subcommand->add_flag("--locked", options->locked,
                       "Take each kernel's commit and digests from the lock file; resolve nothing");
  subcommand->add_option("--lock-file", options->lock_file, "The lock file (default: kget.lock)");
  add_client_flags(*subcommand, options->client, /*with_device=*/true);
  subcommand->add_flag("--json", options->json, "Print the result as JSON");
  subcommand->add_flag("-q,--quiet", options->quiet, "Print nothing but errors");
  return {subcommand, [options] { return run_pull(*options); }};
}

} // namespace kget::cli
