// The few CUDA Driver API calls the GPU tests of the kernels need, resolved at run time from
// libcuda.so.1 with dlopen. The types are declared here, so the tests build on hosts without the
// CUDA toolkit and run (and skip) on hosts without the driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

// Fails the GoogleTest test with the text when a step (a Driver call, or any function returning
// the reason it failed) returned one; "" is success.
#define ASSERT_STEP(expr)                                                                          \
  do {                                                                                             \
    const std::string step_failure_ = (expr);                                                      \
    ASSERT_TRUE(step_failure_.empty()) << step_failure_;                                           \
  } while (0)

namespace kget_kernel_tests::cuda {

// Driver API types, as cuda.h declares them (ABI-stable since CUDA 3.2).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;
using CUstream = struct CUstream_st*;
using CUhostFn = void (*)(void* user_data);
using CUevent = struct CUevent_st*;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr unsigned CU_STREAM_NON_BLOCKING = 0x1;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

// The entry points, from libcuda.so.1. The _v2 names are the 64-bit ones every driver since
// CUDA 4.0 exports; cuda.h maps the plain names onto them.
struct DriverApi {
  CUresult (*cuInit)(unsigned flags) = nullptr;
  CUresult (*cuGetErrorName)(CUresult error, const char** name) = nullptr;
  CUresult (*cuDeviceGetCount)(int* count) = nullptr;
  CUresult (*cuDriverGetVersion)(int* version) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice* device, int ordinal) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int* value, int attribute, CUdevice device) = nullptr;
  CUresult (*cuDeviceGetName)(char* name, int length, CUdevice device) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext* context, CUdevice device) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext context) = nullptr;
  CUresult (*cuCtxGetCurrent)(CUcontext* context) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr* pointer, size_t bytes) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr pointer) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr destination, const void* source, size_t bytes) = nullptr;
  CUresult (*cuMemcpyDtoH)(void* destination, CUdeviceptr source, size_t bytes) = nullptr;
  CUresult (*cuMemsetD8)(CUdeviceptr destination, unsigned char value, size_t bytes) = nullptr;
  CUresult (*cuStreamCreate)(CUstream* stream, unsigned flags) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream stream) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream stream) = nullptr;
  CUresult (*cuLaunchHostFunc)(CUstream stream, CUhostFn function, void* user_data) = nullptr;
  // For bench/kernels_gpu.cpp: copies and event timing.
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr destination, CUdeviceptr source, size_t bytes,
                                CUstream stream) = nullptr;
  CUresult (*cuEventCreate)(CUevent* event, unsigned flags) = nullptr;
  CUresult (*cuEventRecord)(CUevent event, CUstream stream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent event) = nullptr;
  CUresult (*cuEventElapsedTime)(float* milliseconds, CUevent start, CUevent end) = nullptr;
  CUresult (*cuEventDestroy)(CUevent event) = nullptr;
};

// The driver as this process sees it: loaded once, on first use, with device 0's primary context
// made current on the loading thread (the context the kernels' CUDA runtime uses too).
class Driver {
public:
  static const Driver& instance();

  // True when libcuda.so.1 loaded, cuInit succeeded and device 0 has a current context.
  bool usable() const { return unusable_reason_.empty(); }
  // Why not usable: "no CUDA driver (libcuda.so.1 not found)", "no CUDA device", or the failing
  // call; empty when usable.
  const std::string& unusable_reason() const { return unusable_reason_; }
  // True when libcuda.so.1 could be loaded at all (the device may still be missing).
  bool library_loaded() const { return library_loaded_; }
  const DriverApi& api() const { return api_; }
  // The CUDA version the driver supports, as 1000 * major + 10 * minor (13000 for CUDA 13.0).
  int version() const { return version_; }
  // Device 0's compute capability, as 10 * major + minor (90 for sm_90).
  int compute_capability() const { return compute_capability_; }

  // "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)", for assertion messages.
  std::string describe(const char* call, CUresult result) const;

  // Makes device 0's primary context current on the calling thread (each thread that calls the
  // driver needs it). Returns "" or what failed.
  std::string make_context_current() const;

private:
  Driver();
  std::string load();

  DriverApi api_;
  bool library_loaded_ = false;
  int version_ = 0;
  int compute_capability_ = 0;
  std::string unusable_reason_;
};

// Device memory, freed on destruction. Every method returns "" or what failed.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  std::string allocate(size_t bytes);
  CUdeviceptr address() const { return address_; }
  size_t bytes() const { return bytes_; }
  std::string upload(size_t offset, const void* source, size_t bytes) const;
  std::string download(void* destination, size_t offset, size_t bytes) const;
  std::string fill(unsigned char value) const;

private:
  CUdeviceptr address_ = 0;
  size_t bytes_ = 0;
};

// A stream created with CU_STREAM_NON_BLOCKING (no implicit ordering with the legacy default
// stream), destroyed with the object.
class Stream {
public:
  Stream() = default;
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  std::string create();
  CUstream handle() const { return handle_; }

private:
  CUstream handle_ = nullptr;
};

} // namespace kget_kernel_tests::cuda
