// The process environment as a value, so that code reading settings can be tested without setenv.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kget::settings {

class Environment {
public:
  // Reads the real environment on each lookup.
  static Environment process();
  // A fixed set of variables; nothing else is set.
  static Environment from_map(std::map<std::string, std::string, std::less<>> variables);

  // The value of `name`, or nullopt when unset. An empty value counts as set.
  std::optional<std::string> get(std::string_view name) const;

private:
  bool m_use_process = false;
  std::map<std::string, std::string, std::less<>> m_variables;
};

} // namespace kget::settings
