#include "settings/environment.hpp"

#include <cstdlib>

namespace kget::settings {

Environment Environment::process() {
  Environment env;
  env.m_use_process = true;
  return env;
}

Environment Environment::from_map(std::map<std::string, std::string, std::less<>> variables) {
  Environment env;
  env.m_variables = std::move(variables);
  return env;
}

std::optional<std::string> Environment::get(std::string_view name) const {
  if (m_use_process) {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  }
  auto it = m_variables.find(name);
  if (it == m_variables.end()) {
    return std::nullopt;
  }
  return it->second;
}

} // namespace kget::settings
