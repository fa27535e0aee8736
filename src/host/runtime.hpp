// The C and C++ runtime ABI of this process: which symbol versions its libc.so.6 and
// libstdc++.so.6 provide, read from the libraries actually loaded.
#pragma once

#include "host/host.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kget::host {

// Detected once per process: the loaded libraries cannot change under us.
const RuntimeAbi& detect_runtime();

// The highest numeric version among `versions` named PREFIX_X.Y[.Z], e.g. {2, 36} for "GLIBC";
// empty when there is none. Non-numeric names such as GLIBC_PRIVATE are ignored.
std::vector<int> highest_in_family(const std::vector<std::string>& versions,
                                   std::string_view prefix);

} // namespace kget::host
