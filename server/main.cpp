// kget-registry: serves a kget store over the Hugging Face Hub HTTP API and kget's push protocol
// (docs/registry.md). Thin: options, signals, start and stop. Exit codes are the numbers of
// kget::ErrorKind, as for the kget CLI.
#include "registry/access_log.hpp"
#include "registry/config.hpp"
#include "registry/server.hpp"
#include "store/store.hpp"
#include "util/strings.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <kget/kget.hpp>
#include <optional>
#include <pthread.h>
#include <string>
#include <thread>
#include <vector>

namespace {

using kget::ErrorKind;
using kget::Result;
namespace registry = kget::registry;

// The options as typed; numbers are parsed here rather than by CLI11 so that a bad value gets a
// message naming the option and the expected form, and the invalid_setting exit code.
struct Options {
  std::string root;
  std::string listen;
  std::string public_url;
  std::string token_file;
  bool private_reads = false;
  std::vector<std::string> trusted_orgs;
  std::string max_upload_size = "4G";
  std::string threads;
  std::string event_loop = "epoll";
  std::string max_connections = "1024";
  std::string idle_timeout = "60";
  std::string request_timeout = "300";
  std::string shutdown_grace = "10";
  std::string tree_page_size = "1000";
  std::string access_log;
};

Result<unsigned> parse_count(std::string_view option, std::string_view text, unsigned minimum) {
  auto value = kget::util::parse_uint(kget::util::trim(text));
  if (!value || static_cast<unsigned>(*value) < minimum) {
    return kget::fail(ErrorKind::invalid_setting,
                      "{}: expected a whole number of at least {}, got "
                      "\"{}\"",
                      option, minimum, text);
  }
  return static_cast<unsigned>(*value);
}

Result<registry::Config> make_config(const Options& options) {
  if (options.root.empty()) {
    return kget::fail(ErrorKind::usage, "--root DIR is required: the store to serve (created when "
                                        "the directory is empty or missing)");
  }
  if (options.listen.empty()) {
    return kget::fail(ErrorKind::usage,
                      "--listen HOST:PORT is required, e.g. --listen 127.0.0.1:8080 "
                      "(port 0 picks a free port)");
  }
  registry::Config config;
  config.root = options.root;
  KGET_TRY(registry::parse_listen_address(options.listen));
  config.listen = options.listen;
  if (!options.public_url.empty()) {
    KGET_TRY_ASSIGN(config.public_url, registry::parse_public_url(options.public_url));
  }
  if (!options.token_file.empty()) {
    KGET_TRY_ASSIGN(config.tokens, registry::read_token_file(options.token_file));
    config.push_enabled = true;
  }
  if (options.private_reads && !config.push_enabled) {
    return kget::fail(ErrorKind::usage, "--private needs --token-file FILE: the tokens that may "
                                        "read");
  }
  config.private_reads = options.private_reads;
  config.trusted_orgs.insert(options.trusted_orgs.begin(), options.trusted_orgs.end());
  KGET_TRY_ASSIGN(config.max_upload_size,
                  registry::parse_byte_size("--max-upload-size", options.max_upload_size));
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  KGET_TRY_ASSIGN(config.threads, options.threads.empty()
                                      ? Result<unsigned>(cores)
                                      : parse_count("--threads", options.threads, 1));
  KGET_TRY_ASSIGN(config.event_loop, registry::parse_event_loop(options.event_loop));
  KGET_TRY_ASSIGN(config.max_connections,
                  parse_count("--max-connections", options.max_connections, 1));
  KGET_TRY_ASSIGN(config.idle_timeout_s, parse_count("--idle-timeout", options.idle_timeout, 1));
  KGET_TRY_ASSIGN(config.request_timeout_s,
                  parse_count("--request-timeout", options.request_timeout, 1));
  KGET_TRY_ASSIGN(config.shutdown_grace_s,
                  parse_count("--shutdown-grace", options.shutdown_grace, 0));
  KGET_TRY_ASSIGN(unsigned page, parse_count("--tree-page-size", options.tree_page_size, 1));
  config.tree_page_size = page;
  return config;
}

void add_serve_options(CLI::App& app, Options& options) {
  app.add_option("--root", options.root, "the store directory (created when empty or missing)")
      ->type_name("DIR");
  app.add_option("--listen", options.listen, "HOST:PORT to listen on; port 0 picks a free one")
      ->type_name("HOST:PORT");
  app.add_option("--public-url", options.public_url,
                 "base of the absolute URLs handed out (default: http:// and the Host header)")
      ->type_name("URL");
  app.add_option("--token-file", options.token_file,
                 "tokens accepted for pushes, one per line; without it pushes are refused")
      ->type_name("FILE");
  app.add_flag("--private", options.private_reads, "reads need a token from --token-file too");
  app.add_option("--trusted-org", options.trusted_orgs,
                 "an organization reported as a trusted kernel publisher (repeatable)")
      ->type_name("ORG")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--max-upload-size", options.max_upload_size,
                 "largest blob a push may upload, e.g. 4G, 512M (default 4G)")
      ->type_name("BYTES");
  app.add_option("--threads", options.threads, "worker threads (default: the number of cores)")
      ->type_name("N");
  app.add_option("--event-loop", options.event_loop,
                 "epoll (default) or poll: how worker threads wait for sockets")
      ->type_name("epoll|poll");
  app.add_option("--max-connections", options.max_connections,
                 "connections open at once (default 1024)")
      ->type_name("N");
  app.add_option("--idle-timeout", options.idle_timeout,
                 "seconds a connection may stay silent (default 60)")
      ->type_name("SECONDS");
  app.add_option("--request-timeout", options.request_timeout,
                 "seconds an upload may take in all (default 300)")
      ->type_name("SECONDS");
  app.add_option("--shutdown-grace", options.shutdown_grace,
                 "seconds requests under way get to finish on SIGTERM (default 10)")
      ->type_name("SECONDS");
  app.add_option("--tree-page-size", options.tree_page_size,
                 "entries per page of a tree listing (default 1000)")
      ->type_name("N");
  app.add_option("--access-log", options.access_log,
                 "FILE to append one line per request to, or - for stdout (default: stderr)")
      ->type_name("FILE|-");
}

int fail_with(const kget::Failure& failure) {
  std::fprintf(stderr, "kget-registry: error: %s\n", failure.message.c_str());
  return static_cast<int>(failure.kind);
}

int run_fsck(const std::string& root) {
  auto store = kget::store::Store::open(root);
  if (!store) {
    return fail_with(store.error());
  }
  kget::store::FsckReport report = store->fsck();
  for (const auto& note : report.notes) {
    std::printf("note: %s\n", note.c_str());
  }
  for (const auto& error : report.errors) {
    std::printf("error: %s\n", error.c_str());
  }
  std::printf("kget-registry fsck: %zu repositories, %zu commits, %zu blobs: %s\n",
              report.repositories, report.commits, report.blobs,
              report.ok() ? "ok" : fmt::format("{} errors", report.errors.size()).c_str());
  return report.ok() ? 0 : static_cast<int>(ErrorKind::integrity);
}

int serve(const Options& options) {
  auto config = make_config(options);
  if (!config) {
    return fail_with(config.error());
  }
  auto log = registry::AccessLog::open(options.access_log);
  if (!log) {
    return fail_with(log.error());
  }
  // Blocked here, before libmicrohttpd starts its threads, so that they inherit the mask and the
  // signals reach only sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto store = kget::store::Store::open_or_create(config->root);
  if (!store) {
    return fail_with(store.error());
  }
  unsigned grace = config->shutdown_grace_s;
  auto server = registry::Server::start(std::move(*config), std::move(*store), log->get());
  if (!server) {
    return fail_with(server.error());
  }
  std::printf("kget-registry: listening on %s (store %s)\n", (*server)->url().c_str(),
              std::filesystem::absolute(options.root).lexically_normal().c_str());
  std::fflush(stdout);

  int received = 0;
  sigwait(&stop_signals, &received);
  (*server)->quiesce();
  bool idle = (*server)->wait_idle(std::chrono::seconds(grace));
  (*server)->stop();
  std::printf("kget-registry: stopped on %s%s\n", received == SIGINT ? "SIGINT" : "SIGTERM",
              idle ? "" : " (requests still under way after the grace period were cut)");
  std::fflush(stdout);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"kget-registry: serves a kget store over the Hugging Face Hub HTTP API",
               "kget-registry"};
  app.set_version_flag("--version", std::string("kget-registry ") + kget::version());
  Options options;
  add_serve_options(app, options);
  std::string fsck_root;
  CLI::App* fsck = app.add_subcommand("fsck", "check every blob, commit and ref of a store");
  fsck->add_option("--root", fsck_root, "the store directory")->type_name("DIR")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : static_cast<int>(ErrorKind::usage);
  }
  try {
    if (fsck->parsed()) {
      return run_fsck(fsck_root);
    }
    return serve(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "kget-registry: error: internal: %s\n", error.what());
    return 1;
  }
}
