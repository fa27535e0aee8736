// get_kernel: settings and options -> fetch::pull -> loader::load -> a Kernel with its ops.
#include "api/kernel_state.hpp"
#include "fetch/fetch.hpp"
#include "host/host.hpp"
#include "ref/kernel_ref.hpp"
#include "settings/settings.hpp"

#include <mutex>

namespace kget {

namespace {

// The host does not change while a process runs, and detecting it opens libc, libstdc++ and the
// CUDA driver (cuInit alone can take a large part of a second), so a warm get_kernel must not
// repeat it. Overrides are applied on each call: they come from the environment, which may.
const host::HostInfo& detected_host() {
  static std::once_flag once;
  static host::HostInfo host;
  std::call_once(once,
                 [] { host = host::detect_without_overrides(settings::Environment::process()); });
  return host;
}

Result<fetch::Config> config_for(const Options& options, const settings::Environment& env) {
  KGET_TRY_ASSIGN(auto config, fetch::config_from(env));
  if (!options.endpoint.empty()) {
    config.endpoints = {options.endpoint};
  }
  if (!options.mirrors.empty()) {
    config.endpoints.resize(1);
    config.endpoints.insert(config.endpoints.end(), options.mirrors.begin(), options.mirrors.end());
  }
  if (!options.cache_dir.empty()) {
    config.cache_root = options.cache_dir;
  }
  if (!options.token.empty()) {
    config.token = options.token;
  }
  if (options.offline) {
    config.offline = *options.offline;
  }
  if (options.verify_full) {
    config.verify = cache::VerifyMode::full;
  }
  return config;
}

Result<std::shared_ptr<const detail::KernelState>> load_kernel(const std::string& reference,
                                                               const Options& options) {
  auto env = settings::Environment::process();
  KGET_TRY_ASSIGN(auto kernel_ref, ref::parse_kernel_ref(reference));
  KGET_TRY_ASSIGN(auto config, config_for(options, env));
  host::HostInfo host = detected_host();
  KGET_TRY(host::apply_overrides(host, env));
  fetch::PullRequest request;
  request.ref = std::move(kernel_ref);
  request.host = &host;
  if (options.device.empty()) {
    KGET_TRY_ASSIGN(request.device, resolve::device_choice_from(env));
  } else {
    auto device = resolve::parse_device_choice(options.device);
    if (!device) {
      return fail(ErrorKind::usage, "Options::device: {}", device.error().message);
    }
    request.device = *device;
  }
  if (options.progress) {
    request.progress = [&options](const fetch::FileProgress& progress) {
      options.progress({progress.path, progress.received, progress.total, progress.done});
    };
  }
  std::string lock_path = options.lock_file.empty()
                              ? settings::lookup(settings::Id::lock_file, env).value
                              : options.lock_file;
  lock::LockFile lock;
  if (!lock_path.empty()) {
    KGET_TRY_ASSIGN(lock, lock::read_lock_file(lock_path));
    KGET_TRY_ASSIGN(request.locked, lock::find(lock, lock_path, ref::repo_id(request.ref),
                                               ref::to_string(request.ref.spec)));
  }
  KGET_TRY_ASSIGN(auto pulled, fetch::pull(request, config));
  KGET_TRY_ASSIGN(auto loaded,
                  loader::load({pulled.variant_dir, pulled.variant, pulled.metadata}, host));
  auto state = std::make_shared<detail::KernelState>();
  state->repo_id = pulled.repo_id;
  state->commit = pulled.revision.commit;
  state->revision = pulled.revision.how;
  state->variant = pulled.variant;
  if (const auto* chosen = pulled.resolution.chosen()) {
    state->reason = chosen->reason;
  }
  state->source = pulled.source;
  state->path = pulled.variant_dir.string();
  state->library_path = loaded->library_path.string();
  state->metadata_json = std::move(pulled.metadata_json);
  state->warnings = std::move(pulled.warnings);
  state->loaded = std::move(loaded);
  return state;
}

} // namespace

Kernel get_kernel(const std::string& reference, const Options& options) {
  try {
    return Kernel(value_or_throw(load_kernel(reference, options)));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    throw Error(ErrorKind::internal, std::string("get_kernel: ") + error.what());
  }
}

} // namespace kget
