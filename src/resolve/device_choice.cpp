#include "resolve/device_choice.hpp"

#include "settings/settings.hpp"
#include "util/strings.hpp"

namespace kget::resolve {

Result<DeviceChoice> parse_device_choice(std::string_view text) {
  text = util::trim(text);
  if (text.empty()) {
    return DeviceChoice{};
  }
  if (text == "cpu") {
    return DeviceChoice{DeviceChoice::Kind::cpu, 0};
  }
  if (text == "cuda") {
    return DeviceChoice{DeviceChoice::Kind::cuda, 0};
  }
  std::string_view number = util::starts_with(text, "cuda:") ? text.substr(5) : text;
  auto ordinal = util::parse_uint(number);
  if (!ordinal || *ordinal > 1023) {
    return fail(ErrorKind::invalid_setting,
                "device \"{}\" is not a device: expected N or cuda:N (a CUDA device ordinal), "
                "cuda (device 0) or cpu",
                text);
  }
  return DeviceChoice{DeviceChoice::Kind::cuda, *ordinal};
}

Result<DeviceChoice> device_choice_from(const settings::Environment& env) {
  auto value = settings::lookup(settings::Id::device, env);
  if (!value.is_set) {
    return DeviceChoice{};
  }
  auto choice = parse_device_choice(value.value);
  if (!choice) {
    return fail(ErrorKind::invalid_setting, "{}: {}", value.source, choice.error().message);
  }
  return choice;
}

std::string to_string(const DeviceChoice& choice) {
  switch (choice.kind) {
  case DeviceChoice::Kind::automatic:
    return fmt::format("cuda:{} or cpu", choice.ordinal);
  case DeviceChoice::Kind::cuda:
    return fmt::format("cuda:{}", choice.ordinal);
  case DeviceChoice::Kind::cpu:
    return "cpu";
  }
  return "?";
}

} // namespace kget::resolve
