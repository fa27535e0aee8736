// The compute capability of the device an op runs on, for choosing its code path
// (cuda_paths.h). Included by .cu files only, like cuda_common.cuh.
#pragma once

#include "cuda_common.cuh"
#include "cuda_paths.h"

#include <atomic>
#include <cuda_runtime.h>
#include <kget/kernel_abi.h>

namespace kget_kernels::cuda {

// Devices whose capability is remembered; a process seeing more asks the runtime each time.
constexpr int kCachedDevices = 64;

// 0: not asked yet; else 1000 * major + minor + 1 (a capability never changes while the process
// runs). Relaxed atomics suffice: the value is the whole state, and two threads asking at once
// store the same one. Namespace-scope and inline, so every translation unit of a library shares
// one table, and zero-initialized: no constructor runs at load time.
inline std::atomic<int> cached_capabilities[kCachedDevices];

// The compute capability of CUDA device `device` (a runtime ordinal, as in DLDevice::device_id),
// or KGET_KERNEL_ERROR_DEVICE with set_cuda_error's message when the runtime cannot tell
// (no driver, no such device).
inline int device_capability(int device, const char* op, ComputeCapability* capability,
                             kget_error* error) {
  const bool cacheable = device >= 0 && device < kCachedDevices;
  if (cacheable) {
    const int cached = cached_capabilities[device].load(std::memory_order_relaxed);
    if (cached != 0) {
      capability->major = (cached - 1) / 1000;
      capability->minor = (cached - 1) % 1000;
      return KGET_KERNEL_OK;
    }
  }
  int major = 0;
  int minor = 0;
  cudaError_t status = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (status == cudaSuccess) {
    status = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  }
  if (status != cudaSuccess) {
    return set_cuda_error(error, status, op, device, "cudaDeviceGetAttribute (compute capability)");
  }
  if (cacheable) {
    cached_capabilities[device].store(1000 * major + minor + 1, std::memory_order_relaxed);
  }
  capability->major = major;
  capability->minor = minor;
  return KGET_KERNEL_OK;
}

} // namespace kget_kernels::cuda
