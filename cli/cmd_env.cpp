// kget env: what kget sees on this host, and every setting with its value and origin.
#include "commands.hpp"
#include "host/host.hpp"
#include "settings/settings.hpp"

#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

namespace kget::cli {

namespace {

std::string gib(std::uint64_t bytes) {
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
}

std::string shown_value(const settings::Setting& setting, const settings::Value& value) {
  if (setting.secret && value.is_set) {
    return "(set, hidden)";
  }
  return value.value.empty() ? "-" : value.value;
}

std::string family_line(const host::VersionFamily& family) {
  if (family.highest.empty()) {
    return fmt::format("{} none", family.prefix);
  }
  return fmt::format("{} up to {}", family.prefix, util::format_dotted(family.highest));
}

void print_cuda(const host::CudaInfo& cuda) {
  if (!cuda.available) {
    fmt::print("CUDA:      none ({})\n", cuda.unavailable_reason);
  } else {
    fmt::print("CUDA:      driver for CUDA {}{}, {} device(s)  [{}]\n",
               util::to_string(cuda.driver_version),
               cuda.driver_release.empty() ? "" : " (release " + cuda.driver_release + ")",
               cuda.devices.size(), cuda.source);
  }
  for (const auto& device : cuda.devices) {
    fmt::print("  cuda:{}   {}, compute capability {}, {} SMs, {}{}\n", device.ordinal, device.name,
               util::to_string(device.capability), device.sm_count, gib(device.total_memory),
               device.uuid.empty() ? "" : ", " + device.uuid);
  }
}

void print_host(const host::HostInfo& host) {
  fmt::print("kget {}\n", kget::version());
  fmt::print("OS:        {}\n", host.os);
  fmt::print("CPU:       {}{}\n", host.cpu.arch,
             host.cpu.model.empty() ? "" : " (" + host.cpu.model + ")");
  fmt::print("  features {}  [{}]\n",
             host.cpu.features.empty() ? "none" : util::join(host.cpu.features, " "),
             host.cpu.features_source);
  fmt::print("glibc:     {}  [{}]\n",
             host.runtime.glibc_version.empty() ? "none" : host.runtime.glibc_version,
             host.runtime.libc_path.empty() ? host.runtime.source : host.runtime.libc_path);
  fmt::print("libstdc++: {}\n",
             host.runtime.libstdcxx_path.empty() ? "not found" : host.runtime.libstdcxx_path);
  fmt::print("  symbol versions: {}, {}, {}  [{}]\n", family_line(host.runtime.glibc),
             family_line(host.runtime.glibcxx), family_line(host.runtime.cxxabi),
             host.runtime.source);
  print_cuda(host.cuda);
  if (!host.overrides.empty()) {
    fmt::print("Overrides: {}\n", util::join(host.overrides, " "));
  }
}

void print_settings(const settings::Environment& env) {
  fmt::print("\nSettings:\n");
  for (const auto& setting : settings::all()) {
    auto value = settings::lookup(setting.id, env);
    fmt::print("  {:<27} {}  ({})\n", setting.name, shown_value(setting, value), value.source);
    fmt::print("  {:<27} {}\n", "", setting.description);
  }
}

nlohmann::json settings_json(const settings::Environment& env) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& setting : settings::all()) {
    auto value = settings::lookup(setting.id, env);
    nlohmann::json fallbacks = nlohmann::json::array();
    for (auto fallback : setting.fallbacks) {
      if (!fallback.empty()) {
        fallbacks.push_back(fallback);
      }
    }
    out.push_back({{"name", setting.name},
                   {"value", setting.secret && value.is_set ? nlohmann::json(nullptr)
                                                            : nlohmann::json(value.value)},
                   {"is_set", value.is_set},
                   {"source", value.source},
                   {"fallbacks", fallbacks},
                   {"description", setting.description}});
  }
  return out;
}

} // namespace

Command add_env_command(CLI::App& app) {
  auto* subcommand =
      app.add_subcommand("env", "Show what kget detects on this host and its settings");
  auto json = std::make_shared<bool>(false);
  subcommand->add_flag("--json", *json, "Print a stable JSON document");
  return {subcommand, [json]() -> Result<int> {
            auto env = settings::Environment::process();
            KGET_TRY_ASSIGN(auto host, host::detect(env));
            if (*json) {
              nlohmann::json document = {{"kget_version", kget::version()},
                                         {"host", host::to_json(host)},
                                         {"settings", settings_json(env)}};
              fmt::print("{}\n", document.dump(2));
              return 0;
            }
            print_host(host);
            print_settings(env);
            return 0;
          }};
}

} // namespace kget::cli
