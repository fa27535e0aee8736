// Which device the kernel is for: KGET_DEVICE or the caller's option.
#pragma once

#include "settings/environment.hpp"
#include "util/result.hpp"

#include <string>

namespace kget::resolve {

struct DeviceChoice {
  enum class Kind {
    automatic, // CUDA device `ordinal` when a CUDA variant fits it, else the CPU variant
    cuda,      // CUDA device `ordinal` only: the caller asked for it, so no CPU fallback
    cpu,       // the CPU variant only
  };
  Kind kind = Kind::automatic;
  int ordinal = 0;
};

// "" or unset -> automatic 0; "N", "cuda", "cuda:N" -> cuda N; "cpu" -> cpu.
Result<DeviceChoice> parse_device_choice(std::string_view text);
Result<DeviceChoice> device_choice_from(const settings::Environment& env);
std::string to_string(const DeviceChoice& choice);

} // namespace kget::resolve
