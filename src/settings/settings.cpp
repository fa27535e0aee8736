#include "settings/settings.hpp"

#include <cstdlib>

namespace kget::settings {

namespace {

std::vector<Setting> make_table() {
  return {
      {Id::endpoint,
       "KGET_ENDPOINT",
       {"HF_ENDPOINT"},
       "https://huggingface.co",
       "Registry URL (a Hugging Face Hub-compatible server) or file:///path of a store."},
      {Id::mirrors,
       "KGET_MIRRORS",
       {},
       "",
       "Comma-separated endpoints tried in order when the first fails or lacks the kernel."},
      {Id::offline,
       "KGET_OFFLINE",
       {"HF_HUB_OFFLINE"},
       "0",
       "1 = never open a socket; resolve from the cache and lock file only."},
      {Id::cache,
       "KGET_CACHE",
       {"KERNELS_CACHE", "HF_HUB_CACHE"},
       "",
       "Cache root in the Hugging Face hub layout (else $HF_HOME/hub, ~/.cache/huggingface/hub)."},
      {Id::token,
       "KGET_TOKEN",
       {"HF_TOKEN"},
       "",
       "Bearer token for the registry (else the Hugging Face token file).",
       true},
      {Id::local_kernels,
       "KGET_LOCAL_KERNELS",
       {"LOCAL_KERNELS"},
       "",
       "org/name=path:... load these local builds instead of fetching."},
      {Id::lock_file,
       "KGET_LOCK_FILE",
       {},
       "",
       "kget.lock to honour in get_kernel: kernels resolve to their locked commits, with no "
       "request for refs, and only the locked digests are accepted."},
      {Id::device,
       "KGET_DEVICE",
       {},
       "",
       "Device the kernel will run on: N or cuda:N (a CUDA device, no CPU fallback when set), "
       "or cpu. Unset: CUDA device 0, falling back to the CPU variant."},
      {Id::override_cuda_driver,
       "KGET_OVERRIDE_CUDA_DRIVER",
       {},
       "",
       "Pretend the CUDA driver supports this CUDA version (e.g. 12.8), or none for no driver."},
      {Id::override_cuda_arch,
       "KGET_OVERRIDE_CUDA_ARCH",
       {},
       "",
       "Pretend the GPUs have these compute capabilities (e.g. 9.0 or 8.0,9.0), or none."},
      {Id::override_glibc,
       "KGET_OVERRIDE_GLIBC",
       {},
       "",
       "Pretend the host's glibc is this version (e.g. 2.28): GLIBC_* symbol versions up to it."},
      {Id::override_cpu_features,
       "KGET_OVERRIDE_CPU_FEATURES",
       {},
       "",
       "Pretend the CPU has exactly these features (e.g. avx2,fma), or none."},
      {Id::cuda_driver_library,
       "KGET_CUDA_DRIVER_LIBRARY",
       {},
       "libcuda.so.1",
       "The CUDA driver library that host detection dlopens."},
      {Id::trusted_keys,
       "KGET_TRUSTED_KEYS",
       {},
       "",
       "Colon-separated minisign public key files whose signatures are trusted."},
      {Id::require_signature,
       "KGET_REQUIRE_SIGNATURE",
       {},
       "0",
       "1 = refuse variants without a trusted signature, checked again before dlopen."},
      {Id::log, "KGET_LOG", {}, "warn", "Log level: error, warn, info, debug or trace."},
  };
}

} // namespace

const std::vector<Setting>& all() {
  static const std::vector<Setting> table = make_table();
  return table;
}

const Setting& describe(Id id) {
  for (const auto& setting : all()) {
    if (setting.id == id) {
      return setting;
    }
  }
  std::abort(); // every Id has a row; a missing one is caught by the settings test
}

Value lookup(Id id, const Environment& env) {
  const Setting& setting = describe(id);
  if (auto value = env.get(setting.name)) {
    return {*value, std::string(setting.name), true};
  }
  for (auto fallback : setting.fallbacks) {
    if (fallback.empty()) {
      continue;
    }
    if (auto value = env.get(fallback)) {
      return {*value, std::string(fallback), true};
    }
  }
  if (!setting.default_text.empty()) {
    return {std::string(setting.default_text), "default", false};
  }
  return {"", "unset", false};
}

} // namespace kget::settings
