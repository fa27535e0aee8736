// What every client-side subcommand (pull, resolve, list, info, cache) reads before it starts:
// the settings, the host facts and the device choice, with command-line options applied.
#pragma once

#include "fetch/fetch.hpp"
#include "host/host.hpp"
#include "resolve/device_choice.hpp"
#include "settings/environment.hpp"

#include <CLI/CLI.hpp>
#include <string>

namespace kget::cli {

struct ClientFlags {
  std::string endpoint;
  std::string cache;
  std::string device;
  bool offline = false;
  bool verify_full = false;
};

// --endpoint, --cache, --offline (and, with `with_device`, --device and --verify).
void add_client_flags(CLI::App& subcommand, ClientFlags& flags, bool with_device);

struct Client {
  settings::Environment env;
  fetch::Config config;
  host::HostInfo host;
  resolve::DeviceChoice device;
};

Result<Client> make_client(const ClientFlags& flags);

} // namespace kget::cli
