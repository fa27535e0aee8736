#include "cuda_driver.h"

#include <dlfcn.h>

namespace kget_kernel_tests::cuda {
namespace {

// Resolves `name` into `slot`; false when the driver lacks it.
template <class Function>
bool resolve(void* library, const char* name, Function* slot) {
  void* symbol = dlsym(library, name);
  *slot = reinterpret_cast<Function>(symbol);
  return symbol != nullptr;
}

} // namespace

const Driver& Driver::instance() {
  static const Driver driver;
  return driver;
}

Driver::Driver() {
  unusable_reason_ = load();
}

std::string Driver::load() {
  // Never closed: the kernels' static CUDA runtime keeps using the same driver.
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    return "no CUDA driver (libcuda.so.1 not found)";
  }
  library_loaded_ = true;
  struct Entry {
    const char* name;
    bool found;
  };
  const Entry entries[] = {
      {"cuInit", resolve(library, "cuInit", &api_.cuInit)},
      {"cuGetErrorName", resolve(library, "cuGetErrorName", &api_.cuGetErrorName)},
      {"cuDeviceGetCount", resolve(library, "cuDeviceGetCount", &api_.cuDeviceGetCount)},
      {"cuDriverGetVersion", resolve(library, "cuDriverGetVersion", &api_.cuDriverGetVersion)},
      {"cuDeviceGet", resolve(library, "cuDeviceGet", &api_.cuDeviceGet)},
      {"cuDeviceGetAttribute",
       resolve(library, "cuDeviceGetAttribute", &api_.cuDeviceGetAttribute)},
      {"cuDeviceGetName", resolve(library, "cuDeviceGetName", &api_.cuDeviceGetName)},
      {"cuDevicePrimaryCtxRetain",
       resolve(library, "cuDevicePrimaryCtxRetain", &api_.cuDevicePrimaryCtxRetain)},
      {"cuCtxSetCurrent", resolve(library, "cuCtxSetCurrent", &api_.cuCtxSetCurrent)},
      {"cuCtxGetCurrent", resolve(library, "cuCtxGetCurrent", &api_.cuCtxGetCurrent)},
      {"cuCtxSynchronize", resolve(library, "cuCtxSynchronize", &api_.cuCtxSynchronize)},
      {"cuMemAlloc_v2", resolve(library, "cuMemAlloc_v2", &api_.cuMemAlloc)},
      {"cuMemFree_v2", resolve(library, "cuMemFree_v2", &api_.cuMemFree)},
      {"cuMemcpyHtoD_v2", resolve(library, "cuMemcpyHtoD_v2", &api_.cuMemcpyHtoD)},
      {"cuMemcpyDtoH_v2", resolve(library, "cuMemcpyDtoH_v2", &api_.cuMemcpyDtoH)},
      {"cuMemsetD8_v2", resolve(library, "cuMemsetD8_v2", &api_.cuMemsetD8)},
      {"cuStreamCreate", resolve(library, "cuStreamCreate", &api_.cuStreamCreate)},
      {"cuStreamDestroy_v2", resolve(library, "cuStreamDestroy_v2", &api_.cuStreamDestroy)},
      {"cuStreamSynchronize", resolve(library, "cuStreamSynchronize", &api_.cuStreamSynchronize)},
      {"cuLaunchHostFunc", resolve(library, "cuLaunchHostFunc", &api_.cuLaunchHostFunc)},
      {"cuMemcpyDtoDAsync_v2", resolve(library, "cuMemcpyDtoDAsync_v2", &api_.cuMemcpyDtoDAsync)},
      {"cuEventCreate", resolve(library, "cuEventCreate", &api_.cuEventCreate)},
      {"cuEventRecord", resolve(library, "cuEventRecord", &api_.cuEventRecord)},
      {"cuEventSynchronize", resolve(library, "cuEventSynchronize", &api_.cuEventSynchronize)},
      {"cuEventElapsedTime", resolve(library, "cuEventElapsedTime", &api_.cuEventElapsedTime)},
      {"cuEventDestroy_v2", resolve(library, "cuEventDestroy_v2", &api_.cuEventDestroy)},
  };
  for (const Entry& entry : entries) {
    if (!entry.found) {
      return std::string("CUDA driver too old: libcuda.so.1 has no ") + entry.name;
    }
  }
  const CUresult init = api_.cuInit(0);
  if (init == CUDA_ERROR_NO_DEVICE) {
    return "no CUDA device";
  }
  if (init != CUDA_SUCCESS) {
    return describe("cuInit", init);
  }
  int count = 0;
  const CUresult counted = api_.cuDeviceGetCount(&count);
  if (counted != CUDA_SUCCESS) {
    return describe("cuDeviceGetCount", counted);
  }
  if (count == 0) {
    return "no CUDA device";
  }
  const CUresult versioned = api_.cuDriverGetVersion(&version_);
  if (versioned != CUDA_SUCCESS) {
    return describe("cuDriverGetVersion", versioned);
  }
  CUdevice device = 0;
  int major = 0;
  int minor = 0;
  CUresult result = api_.cuDeviceGet(&device, 0);
  if (result == CUDA_SUCCESS) {
    result =
        api_.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  }
  if (result == CUDA_SUCCESS) {
    result =
        api_.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  }
  if (result != CUDA_SUCCESS) {
    return describe("cuDeviceGetAttribute (compute capability of device 0)", result);
  }
  compute_capability_ = 10 * major + minor;
  return make_context_current();
}

std::string Driver::describe(const char* call, CUresult result) const {
  const char* name = nullptr;
  if (!api_.cuGetErrorName || api_.cuGetErrorName(result, &name) != CUDA_SUCCESS || !name) {
    name = "unknown CUresult";
  }
  return std::string(call) + " failed: " + name + " (" + std::to_string(result) + ")";
}

std::string Driver::make_context_current() const {
  const DriverApi& api = api_;
  CUdevice device = 0;
  const CUresult got = api.cuDeviceGet(&device, 0);
  if (got != CUDA_SUCCESS) {
    return describe("cuDeviceGet(0)", got);
  }
  CUcontext context = nullptr;
  const CUresult retained = api.cuDevicePrimaryCtxRetain(&context, device);
  if (retained != CUDA_SUCCESS) {
    return describe("cuDevicePrimaryCtxRetain", retained);
  }
  const CUresult set = api.cuCtxSetCurrent(context);
  if (set != CUDA_SUCCESS) {
    return describe("cuCtxSetCurrent", set);
  }
  return "";
}

DeviceBuffer::~DeviceBuffer() {
  if (address_) {
    Driver::instance().api().cuMemFree(address_);
  }
}

std::string DeviceBuffer::allocate(size_t bytes) {
  const Driver& driver = Driver::instance();
  // cuMemAlloc refuses 0 bytes; one byte keeps a valid, distinct address for empty tensors.
  const CUresult result = driver.api().cuMemAlloc(&address_, bytes > 0 ? bytes : 1);
  if (result != CUDA_SUCCESS) {
    address_ = 0;
    return driver.describe("cuMemAlloc_v2", result) + " for " + std::to_string(bytes) + " bytes";
  }
  bytes_ = bytes;
  return "";
}

std::string DeviceBuffer::upload(size_t offset, const void* source, size_t bytes) const {
  if (bytes == 0) {
    return "";
  }
  const Driver& driver = Driver::instance();
  const CUresult result = driver.api().cuMemcpyHtoD(address_ + offset, source, bytes);
  return result == CUDA_SUCCESS ? "" : driver.describe("cuMemcpyHtoD_v2", result);
}

std::string DeviceBuffer::download(void* destination, size_t offset, size_t bytes) const {
  if (bytes == 0) {
    return "";
  }
  const Driver& driver = Driver::instance();
  const CUresult result = driver.api().cuMemcpyDtoH(destination, address_ + offset, bytes);
  return result == CUDA_SUCCESS ? "" : driver.describe("cuMemcpyDtoH_v2", result);
}

std::string DeviceBuffer::fill(unsigned char value) const {
  const Driver& driver = Driver::instance();
  const CUresult result = driver.api().cuMemsetD8(address_, value, bytes_ > 0 ? bytes_ : 1);
  return result == CUDA_SUCCESS ? "" : driver.describe("cuMemsetD8_v2", result);
}

Stream::~Stream() {
  if (handle_) {
    Driver::instance().api().cuStreamDestroy(handle_);
  }
}

std::string Stream::create() {
  const Driver& driver = Driver::instance();
  const CUresult result = driver.api().cuStreamCreate(&handle_, CU_STREAM_NON_BLOCKING);
  if (result != CUDA_SUCCESS) {
    handle_ = nullptr;
    return driver.describe("cuStreamCreate", result);
  }
  return "";
}

} // namespace kget_kernel_tests::cuda
