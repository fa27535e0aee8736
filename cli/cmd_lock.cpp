// kget lock: pin kernels to commits, with the digests of every variant's files, in kget.lock.
#include "client.hpp"
#include "commands.hpp"
#include "ref/kernel_ref.hpp"

#include <fmt/format.h>
#include <memory>

namespace kget::cli {

namespace {

struct LockOptions {
  std::vector<std::string> references;
  std::string lock_file = "kget.lock";
  ClientFlags client;
};

Result<int> run_lock(const LockOptions& options) {
  KGET_TRY_ASSIGN(auto client, make_client(options.client));
  lock::LockFile lock;
  if (std::filesystem::exists(options.lock_file)) {
    KGET_TRY_ASSIGN(lock, lock::read_lock_file(options.lock_file));
  }
  for (const auto& text : options.references) {
    KGET_TRY_ASSIGN(auto kernel_ref, ref::parse_kernel_ref(text));
    fetch::PullRequest request{kernel_ref, &client.host, client.device, {}, nullptr};
    KGET_TRY_ASSIGN(auto info, fetch::info(request, client.config));
    KGET_TRY_ASSIGN(auto entry, fetch::lock_entry(info, kernel_ref, client.config));
    fmt::print("{}: {} -> commit {}, {} variants\n", text, info.revision.how, entry.commit,
               entry.variants.size());
    lock.kernels[entry.repo] = std::move(entry);
  }
  KGET_TRY(lock::write_lock_file(options.lock_file, lock));
  fmt::print("wrote {}\n", options.lock_file);
  return 0;
}

} // namespace

Command add_lock_command(CLI::App& app) {
  auto* subcommand = app.add_subcommand(
      "lock", "Pin kernels to their current commits, with every variant's digests, in kget.lock");
  auto options = std::make_shared<LockOptions>();
  subcommand->add_option("reference", options->references, "org/name[@spec] ...")->required();
  subcommand->add_option("--lock-file", options->lock_file, "The lock file (default: kget.lock)");
  add_client_flags(*subcommand, options->client, /*with_device=*/false);
  return {subcommand, [options] { return run_lock(*options); }};
}

} // namespace kget::cli
