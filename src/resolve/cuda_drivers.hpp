// What each CUDA toolkit needs from the NVIDIA driver (Linux), from NVIDIA's release notes.
#pragma once

#include "util/strings.hpp"

#include <string>

namespace kget::resolve {

// The lowest driver release that runs a build of `toolkit` through minor-version compatibility:
// 450.80.02 for 11.x, 525.60.13 for 12.x, 580.65.06 for 13.x; "" for a major kget does not know.
std::string minor_compat_min_release(util::MajorMinor toolkit);

// The driver release that shipped with `toolkit` (needed for PTX of that toolkit and for features
// new in it), e.g. 570.26 for 12.8; "" when not in the table.
std::string toolkit_driver_release(util::MajorMinor toolkit);

} // namespace kget::resolve
