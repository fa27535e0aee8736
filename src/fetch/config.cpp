// The settings a pull reads, with the Hugging Face fallbacks of DESIGN.md.
#include "fetch/fetch.hpp"
#include "settings/settings.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace kget::fetch {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> non_empty(const settings::Environment& env, std::string_view name) {
  auto value = env.get(name);
  if (value && !value->empty()) {
    return value;
  }
  return std::nullopt;
}

fs::path hf_home(const settings::Environment& env) {
  if (auto home = non_empty(env, "HF_HOME")) {
    return *home;
  }
  if (auto xdg = non_empty(env, "XDG_CACHE_HOME")) {
    return fs::path(*xdg) / "huggingface";
  }
  return fs::path(non_empty(env, "HOME").value_or("/")) / ".cache" / "huggingface";
}

Result<std::vector<std::string>> endpoints_from(const settings::Environment& env) {
  std::vector<std::string> endpoints;
  endpoints.push_back(settings::lookup(settings::Id::endpoint, env).value);
  // Named, so that the views split returns outlive the loop's first step.
  auto mirrors = settings::lookup(settings::Id::mirrors, env);
  for (auto mirror : util::split(mirrors.value, ',')) {
    mirror = util::trim(mirror);
    if (!mirror.empty()) {
      endpoints.emplace_back(mirror);
    }
  }
  for (auto& endpoint : endpoints) {
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://") &&
        !endpoint.starts_with("file://")) {
      return fail(ErrorKind::invalid_setting,
                  "KGET_ENDPOINT/KGET_MIRRORS: \"{}\" is not an endpoint; write http(s)://host "
                  "or file:///path/to/store",
                  endpoint);
    }
    while (endpoint.size() > 1 && endpoint.back() == '/' && !endpoint.ends_with("://")) {
      endpoint.pop_back();
    }
  }
  return endpoints;
}

// KGET_TOKEN, HF_TOKEN, then the token file huggingface_hub writes (`hf auth login`).
std::string token_from(const settings::Environment& env) {
  auto value = settings::lookup(settings::Id::token, env);
  if (value.is_set) {
    return std::string(util::trim(value.value));
  }
  fs::path file = non_empty(env, "HF_TOKEN_PATH").value_or((hf_home(env) / "token").string());
  auto text = util::read_file(file, 64 * 1024);
  return text ? std::string(util::trim(*text)) : "";
}

Result<bool> offline_from(const settings::Environment& env) {
  auto value = settings::lookup(settings::Id::offline, env);
  std::string text = util::to_lower(util::trim(value.value));
  if (text.empty() || text == "0" || text == "false" || text == "no" || text == "off") {
    return false;
  }
  if (text == "1" || text == "true" || text == "yes" || text == "on") {
    return true;
  }
  return fail(ErrorKind::invalid_setting, "{}=\"{}\": expected 1 or 0 (true/false, yes/no, on/off)",
              value.source, value.value);
}

// "org/name=path:org/name=path", the form of the `kernels` library's LOCAL_KERNELS.
Result<std::map<std::string, fs::path>> local_kernels_from(const settings::Environment& env) {
  auto value = settings::lookup(settings::Id::local_kernels, env);
  std::map<std::string, fs::path> kernels;
  for (auto entry : util::split(value.value, ':')) {
    entry = util::trim(entry);
    if (entry.empty()) {
      continue;
    }
    size_t equals = entry.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == entry.size()) {
      return fail(ErrorKind::invalid_setting,
                  "{}: \"{}\" is not org/name=/path/to/build; entries are separated by ':'",
                  value.source, entry);
    }
    kernels.emplace(std::string(util::trim(entry.substr(0, equals))),
                    fs::path(util::trim(entry.substr(equals + 1))));
  }
  return kernels;
}

} // namespace

fs::path default_cache_root(const settings::Environment& env) {
  auto value = settings::lookup(settings::Id::cache, env);
  if (value.is_set && !value.value.empty()) {
    return value.value;
  }
  return hf_home(env) / "hub";
}

Result<Config> config_from(const settings::Environment& env) {
  Config config;
  KGET_TRY_ASSIGN(config.endpoints, endpoints_from(env));
  config.token = token_from(env);
  KGET_TRY_ASSIGN(config.offline, offline_from(env));
  config.cache_root = default_cache_root(env);
  KGET_TRY_ASSIGN(config.local_kernels, local_kernels_from(env));
  return config;
}

} // namespace kget::fetch
