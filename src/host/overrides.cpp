// KGET_OVERRIDE_*: replace detected host facts, so that a machine can resolve for another one
// (a CPU-only build box prefetching for GPU nodes). `none` means the fact is absent.
#include "host/cpu.hpp"
#include "host/host.hpp"
#include "settings/settings.hpp"
#include "util/strings.hpp"

#include <algorithm>

namespace kget::host {

namespace {

struct Override {
  std::string_view name; // the variable, for messages and HostInfo::overrides
  std::string value;     // as set
  std::string text;      // trimmed
  bool none = false;
};

std::optional<Override> find_override(settings::Id id, const settings::Environment& env) {
  settings::Value value = settings::lookup(id, env);
  if (!value.is_set) {
    return std::nullopt;
  }
  Override found{settings::describe(id).name, value.value, std::string(util::trim(value.value))};
  found.none = util::to_lower(found.text) == "none";
  return found;
}

void record(HostInfo& host, const Override& applied) {
  host.overrides.push_back(fmt::format("{}={}", applied.name, applied.value));
}

// MAJOR.MINOR with MAJOR in [1, max_major] and MINOR one digit, as CUDA versions and compute
// capabilities are written.
std::optional<util::MajorMinor> parse_cuda_version(std::string_view text, int max_major) {
  auto parts = util::split(text, '.');
  if (parts.size() != 2 || parts[1].size() != 1) {
    return std::nullopt;
  }
  auto version = util::parse_major_minor(text);
  if (!version || version->major < 1 || version->major > max_major) {
    return std::nullopt;
  }
  return version;
}

struct CudaOverrideState {
  std::vector<std::string> used;
  bool driver_replaced = false;
  bool driver_none = false;
  bool devices_replaced = false;
};

Result<void> override_cuda_driver(HostInfo& host, const settings::Environment& env,
                                  CudaOverrideState& state) {
  auto driver = find_override(settings::Id::override_cuda_driver, env);
  if (!driver) {
    return {};
  }
  if (driver->none) {
    // No driver means no visible GPU either.
    host.cuda = CudaInfo{};
    host.cuda.unavailable_reason = fmt::format("{}=none", driver->name);
    state.devices_replaced = true;
    state.driver_none = true;
  } else {
    auto version = parse_cuda_version(driver->text, 99);
    if (!version) {
      return fail(ErrorKind::invalid_setting,
                  "{}=\"{}\" is not a CUDA version: expected MAJOR.MINOR such as 12.8 or 13.0 "
                  "(major 1-99, minor 0-9), or none",
                  driver->name, driver->value);
    }
    host.cuda.available = true;
    host.cuda.unavailable_reason.clear();
    host.cuda.driver_version = *version;
    host.cuda.driver_release.clear(); // a pretended driver has no known release
  }
  state.driver_replaced = true;
  state.used.emplace_back(driver->name);
  record(host, *driver);
  return {};
}

Result<void> override_cuda_arch(HostInfo& host, const settings::Environment& env,
                                CudaOverrideState& state) {
  auto arch = find_override(settings::Id::override_cuda_arch, env);
  if (!arch) {
    return {};
  }
  std::vector<CudaDevice> devices;
  if (!arch->none && !arch->text.empty()) {
    for (auto item : util::split(arch->text, ',')) {
      auto capability = parse_cuda_version(util::trim(item), 99);
      if (!capability) {
        return fail(ErrorKind::invalid_setting,
                    "{}=\"{}\" is not a compute capability list (\"{}\" is not MAJOR.MINOR): "
                    "expected MAJOR.MINOR[,MAJOR.MINOR...] such as 9.0 or 8.0,9.0, or none",
                    arch->name, arch->value, util::trim(item));
      }
      CudaDevice device;
      device.ordinal = static_cast<int>(devices.size());
      device.name = "override";
      device.capability = *capability;
      devices.push_back(std::move(device));
    }
  }
  host.cuda.devices = std::move(devices);
  state.devices_replaced = true;
  state.used.emplace_back(arch->name);
  record(host, *arch);
  return {};
}

Result<void> override_cuda(HostInfo& host, const settings::Environment& env) {
  CudaOverrideState state;
  std::string detected_source = host.cuda.source;
  KGET_TRY(override_cuda_driver(host, env, state));
  KGET_TRY(override_cuda_arch(host, env, state));
  if (state.driver_none && !host.cuda.devices.empty()) {
    return fail(ErrorKind::invalid_setting,
                "KGET_OVERRIDE_CUDA_ARCH lists GPUs but KGET_OVERRIDE_CUDA_DRIVER=none says there "
                "is no driver to run them: set KGET_OVERRIDE_CUDA_DRIVER to a CUDA version such as "
                "13.0, or unset KGET_OVERRIDE_CUDA_ARCH");
  }
  if (state.used.empty()) {
    return {};
  }
  if (!(state.driver_replaced && state.devices_replaced) && !detected_source.empty()) {
    state.used.push_back(detected_source); // some facts still come from the driver
  }
  host.cuda.source = util::join(state.used, ", ");
  return {};
}

bool is_glibc_version_name(std::string_view name) {
  return util::starts_with(name, "GLIBC_");
}

Result<void> override_glibc(HostInfo& host, const settings::Environment& env) {
  auto glibc = find_override(settings::Id::override_glibc, env);
  if (!glibc) {
    return {};
  }
  auto& provided = host.runtime.provided_versions;
  if (glibc->none) {
    host.runtime.glibc_version.clear();
    host.runtime.glibc.highest.clear();
    std::erase_if(provided, [](const std::string& name) { return is_glibc_version_name(name); });
  } else {
    auto version = util::parse_major_minor(glibc->text);
    if (!version || version->major < 2 || version->major > 9 || version->minor > 999) {
      return fail(ErrorKind::invalid_setting,
                  "{}=\"{}\" is not a glibc version: expected MAJOR.MINOR such as 2.28 or 2.39, "
                  "or none",
                  glibc->name, glibc->value);
    }
    std::vector<int> highest{version->major, version->minor};
    host.runtime.glibc_version = util::format_dotted(highest);
    // Versions the real libc has beyond the pretended one must not satisfy a requirement.
    std::erase_if(provided, [&](const std::string& name) {
      if (!is_glibc_version_name(name)) {
        return false;
      }
      auto parsed = util::parse_dotted(std::string_view(name).substr(6));
      return parsed && *parsed > highest;
    });
    host.runtime.glibc.highest = std::move(highest);
  }
  host.runtime.source = std::string(glibc->name);
  record(host, *glibc);
  return {};
}

Result<void> override_cpu_features(HostInfo& host, const settings::Environment& env) {
  auto features = find_override(settings::Id::override_cpu_features, env);
  if (!features) {
    return {};
  }
  const auto& known = known_cpu_features(host.cpu.arch);
  std::vector<std::string> chosen;
  if (!features->none && !features->text.empty()) {
    for (auto item : util::split(features->text, ',')) {
      std::string name = util::to_lower(util::trim(item));
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return fail(ErrorKind::invalid_setting,
                    "{}=\"{}\" names an unknown CPU feature \"{}\": expected a comma-separated "
                    "list of {} (known for {}), or none",
                    features->name, features->value, name,
                    known.empty() ? std::string("nothing") : util::join(known, ", "),
                    host.cpu.arch.empty() ? std::string("this architecture") : host.cpu.arch);
      }
      chosen.push_back(std::move(name));
    }
  }
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  host.cpu.features = std::move(chosen);
  host.cpu.features_source = std::string(features->name);
  record(host, *features);
  return {};
}

} // namespace

Result<void> apply_overrides(HostInfo& host, const settings::Environment& env) {
  // All or nothing: a bad variable leaves `host` as detected.
  HostInfo updated = host;
  KGET_TRY(override_cuda(updated, env));
  KGET_TRY(override_glibc(updated, env));
  KGET_TRY(override_cpu_features(updated, env));
  host = std::move(updated);
  return {};
}

} // namespace kget::host
