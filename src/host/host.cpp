#include "host/host.hpp"

#include "host/cpu.hpp"
#include "host/cuda.hpp"
#include "host/runtime.hpp"
#include "settings/settings.hpp"

namespace kget::host {

namespace {

nlohmann::json version_or_null(const std::vector<int>& version) {
  return version.empty() ? nlohmann::json(nullptr) : nlohmann::json(util::format_dotted(version));
}

nlohmann::json cpu_to_json(const CpuInfo& cpu) {
  return {{"arch", cpu.arch},
          {"model", cpu.model},
          {"features", cpu.features},
          {"features_source", cpu.features_source}};
}

nlohmann::json runtime_to_json(const RuntimeAbi& runtime) {
  nlohmann::json highest = nlohmann::json::object();
  for (const VersionFamily* family : {&runtime.glibc, &runtime.glibcxx, &runtime.cxxabi}) {
    highest[family->prefix] = version_or_null(family->highest);
  }
  return {{"glibc", runtime.glibc_version},
          {"libc_path", runtime.libc_path},
          {"libstdcxx_path", runtime.libstdcxx_path},
          {"highest", highest},
          {"provided_versions", runtime.provided_versions},
          {"source", runtime.source}};
}

nlohmann::json cuda_to_json(const CudaInfo& cuda) {
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& device : cuda.devices) {
    devices.push_back({{"ordinal", device.ordinal},
                       {"name", device.name},
                       {"uuid", device.uuid},
                       {"capability", util::to_string(device.capability)},
                       {"sm_count", device.sm_count},
                       {"total_memory", device.total_memory}});
  }
  return {{"available", cuda.available},
          {"reason",
           cuda.available ? nlohmann::json(nullptr) : nlohmann::json(cuda.unavailable_reason)},
          {"driver_version", cuda.available ? nlohmann::json(util::to_string(cuda.driver_version))
                                            : nlohmann::json(nullptr)},
          {"driver_release", cuda.driver_release},
          {"devices", devices},
          {"source", cuda.source}};
}

} // namespace

HostInfo detect_without_overrides(const settings::Environment& env) {
  HostInfo host;
  host.os = "linux";
  host.cpu = detect_cpu();
  host.runtime = detect_runtime();
  host.cuda = detect_cuda(settings::lookup(settings::Id::cuda_driver_library, env).value);
  return host;
}

Result<HostInfo> detect(const settings::Environment& env) {
  HostInfo host = detect_without_overrides(env);
  KGET_TRY(apply_overrides(host, env));
  return host;
}

nlohmann::json to_json(const HostInfo& host) {
  return {{"os", host.os},
          {"cpu", cpu_to_json(host.cpu)},
          {"runtime", runtime_to_json(host.runtime)},
          {"cuda", cuda_to_json(host.cuda)},
          {"overrides", host.overrides}};
}

} // namespace kget::host
