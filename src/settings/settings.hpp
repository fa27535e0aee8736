// Every setting kget reads from the environment, declared once, with its description. `kget env`
// prints this table; code reads a setting only through lookup().
#pragma once

#include "settings/environment.hpp"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace kget::settings {

enum class Id {
  endpoint,
  mirrors,
  offline,
  cache,
  token,
  local_kernels,
  lock_file,
  device,
  override_cuda_driver,
  override_cuda_arch,
  override_glibc,
  override_cpu_features,
  cuda_driver_library,
  trusted_keys,
  require_signature,
  log,
};

struct Setting {
  Id id;
  std::string_view name;                     // the KGET_* variable
  std::array<std::string_view, 3> fallbacks; // other variables read in order when `name` is unset
  std::string_view default_text;             // shown when nothing is set ("" = unset)
  std::string_view description;
  bool secret = false; // the value is never printed
};

// All settings, in the order `kget env` prints them.
const std::vector<Setting>& all();
const Setting& describe(Id id);

struct Value {
  std::string value;   // empty when unset
  std::string source;  // the variable it came from, "default", or "unset"
  bool is_set = false; // true when some variable provided it
};

// The value of a setting: its own variable, then its fallbacks, then its default.
Value lookup(Id id, const Environment& env);

} // namespace kget::settings
