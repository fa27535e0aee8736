#include "resolve/cuda_drivers.hpp"

#include <array>
#include <utility>

namespace kget::resolve {

namespace {

struct ToolkitRelease {
  util::MajorMinor toolkit;
  const char* release;
};

// "CUDA Toolkit and Corresponding Driver Versions", Linux x86_64, GA releases.
constexpr std::array k_toolkit_releases = {
    ToolkitRelease{{11, 8}, "520.61.05"}, ToolkitRelease{{12, 0}, "525.60.13"},
    ToolkitRelease{{12, 1}, "530.30.02"}, ToolkitRelease{{12, 2}, "535.54.03"},
    ToolkitRelease{{12, 3}, "545.23.06"}, ToolkitRelease{{12, 4}, "550.54.14"},
    ToolkitRelease{{12, 5}, "555.42.02"}, ToolkitRelease{{12, 6}, "560.28.03"},
    ToolkitRelease{{12, 8}, "570.26"},    ToolkitRelease{{12, 9}, "575.51.03"},
    ToolkitRelease{{13, 0}, "580.65.06"},
};

} // namespace

std::string minor_compat_min_release(util::MajorMinor toolkit) {
  switch (toolkit.major) {
  case 11:
    return "450.80.02";
  case 12:
    return "525.60.13";
  case 13:
    return "580.65.06";
  default:
    return "";
  }
}

std::string toolkit_driver_release(util::MajorMinor toolkit) {
  for (const auto& entry : k_toolkit_releases) {
    if (entry.toolkit == toolkit) {
      return entry.release;
    }
  }
  return "";
}

} // namespace kget::resolve
