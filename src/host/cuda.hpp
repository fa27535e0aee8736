// CUDA driver detection through dlopen and the Driver API, never by linking libcuda, so that kget
// runs on machines without a driver and can report why CUDA is unavailable.
#pragma once

#include "host/host.hpp"

#include <array>
#include <string>
#include <string_view>

namespace kget::host {

// Loads `library` (a soname searched as dlopen does, or a path), initialises the driver and
// lists its devices. Never fails: what goes wrong becomes `unavailable_reason`.
CudaInfo detect_cuda(const std::string& library);

// The NVIDIA kernel module's release, e.g. "580.65.06", from `sys_path`, else from the
// "Kernel Module" line of `proc_path`; "" when neither says.
std::string read_driver_release(const std::string& sys_path = "/sys/module/nvidia/version",
                                const std::string& proc_path = "/proc/driver/nvidia/version");

// The release in the text of /proc/driver/nvidia/version, "" when absent.
std::string parse_proc_driver_version(std::string_view text);

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi prints it.
std::string format_gpu_uuid(const std::array<unsigned char, 16>& bytes);

} // namespace kget::host
