// kget cache path|ls|verify|prune: the local cache (docs/cache.md).
#include "cache/cache.hpp"
#include "commands.hpp"
#include "fetch/fetch.hpp"
#include "output.hpp"
#include "settings/environment.hpp"

#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

namespace kget::cli {

namespace {

struct CacheOptions {
  std::string root;
  std::string older_than;
  bool dry_run = false;
  bool json = false;
};

std::filesystem::path cache_root(const CacheOptions& options) {
  return options.root.empty() ? fetch::default_cache_root(settings::Environment::process())
                              : std::filesystem::path(options.root);
}

// "30s", "15m", "12h", "7d", "2w"
Result<std::chrono::seconds> parse_age(std::string_view text) {
  if (text.empty()) {
    return std::chrono::seconds(0);
  }
  char unit = text.back();
  auto number = util::parse_uint(text.substr(0, text.size() - 1));
  long factor = unit == 's'   ? 1
                : unit == 'm' ? 60
                : unit == 'h' ? 3600
                : unit == 'd' ? 86400
                : unit == 'w' ? 604800
                              : 0;
  if (!number || factor == 0) {
    return fail(ErrorKind::usage,
                "--older-than \"{}\": expected a number and a unit, e.g. 30m, 12h, 7d or 2w", text);
  }
  return std::chrono::seconds(static_cast<long>(*number) * factor);
}

Result<int> run_path(const CacheOptions& options) {
  fmt::print("{}\n", cache_root(options).string());
  return 0;
}

Result<int> run_ls(const CacheOptions& options) {
  auto cache = cache::Cache::at(cache_root(options));
  KGET_TRY_ASSIGN(auto repos, cache.list());
  if (options.json) {
    nlohmann::json document = nlohmann::json::array();
    for (const auto& repo : repos) {
      nlohmann::json refs = nlohmann::json::object();
      for (const auto& [revision, commit] : repo.refs) {
        refs[revision] = commit;
      }
      document.push_back({{"repo", repo.repo_id},
                          {"refs", refs},
                          {"snapshots", repo.snapshots},
                          {"blobs", repo.blobs},
                          {"bytes", repo.blob_bytes}});
    }
    fmt::print("{}\n", document.dump(2));
    return 0;
  }
  fmt::print("{}\n", cache.root().string());
  for (const auto& repo : repos) {
    fmt::print("{}  {} in {} blobs, {} snapshots\n", repo.repo_id, human_bytes(repo.blob_bytes),
               repo.blobs, repo.snapshots.size());
    for (const auto& [revision, commit] : repo.refs) {
      fmt::print("  {:<20} {}\n", revision, commit);
    }
  }
  return 0;
}

Result<int> run_verify(const CacheOptions& options) {
  auto cache = cache::Cache::at(cache_root(options));
  auto report = cache.verify();
  if (options.json) {
    auto issues = [](const std::vector<cache::VerifyIssue>& list) {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& issue : list) {
        items.push_back({{"path", issue.path.string()}, {"problem", issue.problem}});
      }
      return items;
    };
    nlohmann::json document = {{"ok", report.ok()},
                               {"repos", report.repos},
                               {"blobs", report.blobs},
                               {"files", report.snapshots_files},
                               {"errors", issues(report.errors)},
                               {"notes", issues(report.notes)}};
    fmt::print("{}\n", document.dump(2));
  } else {
    for (const auto& issue : report.errors) {
      fmt::print("error: {}: {}\n", issue.path.string(), issue.problem);
    }
    for (const auto& issue : report.notes) {
      fmt::print("note: {}: {}\n", issue.path.string(), issue.problem);
    }
    fmt::print("{}: {} repositories, {} blobs, {} snapshot files: {}\n", cache.root().string(),
               report.repos, report.blobs, report.snapshots_files,
               report.ok() ? "ok" : fmt::format("{} errors", report.errors.size()));
  }
  return report.ok() ? 0 : static_cast<int>(ErrorKind::integrity);
}

Result<int> run_prune(const CacheOptions& options) {
  KGET_TRY_ASSIGN(auto age, parse_age(options.older_than));
  auto cache = cache::Cache::at(cache_root(options));
  KGET_TRY_ASSIGN(auto report, cache.prune({age, options.dry_run}));
  if (options.json) {
    std::vector<std::string> removed;
    for (const auto& path : report.removed) {
      removed.push_back(path.string());
    }
    nlohmann::json document = {
        {"dry_run", options.dry_run}, {"removed", removed}, {"bytes", report.bytes}};
    fmt::print("{}\n", document.dump(2));
    return 0;
  }
  for (const auto& path : report.removed) {
    fmt::print("{} {}\n", options.dry_run ? "would remove" : "removed", path.string());
  }
  fmt::print("{} {} files, {}\n", options.dry_run ? "would free" : "freed", report.removed.size(),
             human_bytes(report.bytes));
  return 0;
}

} // namespace

Command add_cache_command(CLI::App& app) {
  auto* subcommand = app.add_subcommand("cache", "Inspect, verify and prune the local cache");
  subcommand->require_subcommand(1);
  auto options = std::make_shared<CacheOptions>();
  subcommand->add_option("--cache", options->root, "Cache directory (default: KGET_CACHE)");
  auto* path = subcommand->add_subcommand("path", "Print the cache directory");
  auto* ls = subcommand->add_subcommand("ls", "List cached kernels with their refs and sizes");
  auto* verify = subcommand->add_subcommand("verify", "Re-hash every blob and check every link");
  auto* prune = subcommand->add_subcommand("prune", "Remove unreferenced blobs and partial files");
  prune->add_option("--older-than", options->older_than, "Only files older than this (e.g. 7d)");
  prune->add_flag("--dry-run", options->dry_run, "Say what would be removed; remove nothing");
  for (auto* command : {ls, verify, prune}) {
    command->add_flag("--json", options->json, "Print the result as JSON");
  }
  return {subcommand, [=]() -> Result<int> {
            if (path->parsed()) {
              return run_path(*options);
            }
            if (ls->parsed()) {
              return run_ls(*options);
            }
            if (verify->parsed()) {
              return run_verify(*options);
            }
            return run_prune(*options);
          }};
}

} // namespace kget::cli
