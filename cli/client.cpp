#include "client.hpp"

namespace kget::cli {

void add_client_flags(CLI::App& subcommand, ClientFlags& flags, bool with_device) {
  subcommand.add_option("--endpoint", flags.endpoint,
                        "Registry URL or file:///store (default: KGET_ENDPOINT)");
  subcommand.add_option("--cache", flags.cache, "Cache directory (default: KGET_CACHE)");
  subcommand.add_flag("--offline", flags.offline, "Use the cache only; open no socket");
  if (with_device) {
    subcommand.add_option("--device", flags.device,
                          "cpu, cuda or cuda:N (default: KGET_DEVICE, else automatic)");
    subcommand.add_flag("--verify", flags.verify_full,
                        "Re-hash every cached file rather than compare its size and mtime");
  }
}

Result<Client> make_client(const ClientFlags& flags) {
  Client client{settings::Environment::process(), {}, {}, {}};
  KGET_TRY_ASSIGN(client.config, fetch::config_from(client.env));
  if (!flags.endpoint.empty()) {
    client.config.endpoints.front() = flags.endpoint; // mirrors stay behind it
  }
  if (!flags.cache.empty()) {
    client.config.cache_root = flags.cache;
  }
  client.config.offline = client.config.offline || flags.offline;
  if (flags.verify_full) {
    client.config.verify = cache::VerifyMode::full;
  }
  if (flags.device.empty()) {
    KGET_TRY_ASSIGN(client.device, resolve::device_choice_from(client.env));
  } else {
    auto device = resolve::parse_device_choice(flags.device);
    if (!device) {
      return fail(ErrorKind::usage, "--device: {}", device.error().message);
    }
    client.device = *device;
  }
  KGET_TRY_ASSIGN(client.host, host::detect(client.env));
  return client;
}

} // namespace kget::cli
