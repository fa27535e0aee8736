#include "host/cuda.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <cstddef>
#include <dlfcn.h>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

namespace kget::host {

namespace {

// The few Driver API types and constants used, declared here so that kget needs no cuda.h.
using CuResult = int;
using CuDevice = int;
struct CuUuid {
  unsigned char bytes[16];
};
constexpr CuResult k_cuda_success = 0;
constexpr int k_attribute_multiprocessor_count = 16;
constexpr int k_attribute_compute_capability_major = 75;
constexpr int k_attribute_compute_capability_minor = 76;
// More devices than any machine has; bounds the loop against a driver answering nonsense.
constexpr int k_max_devices = 1024;

using CuInit = CuResult (*)(unsigned int);
using CuDriverGetVersion = CuResult (*)(int*);
using CuDeviceGetCount = CuResult (*)(int*);
using CuDeviceGet = CuResult (*)(CuDevice*, int);
using CuDeviceGetName = CuResult (*)(char*, int, CuDevice);
using CuDeviceGetUuid = CuResult (*)(CuUuid*, CuDevice);
using CuDeviceTotalMem = CuResult (*)(std::size_t*, CuDevice);
using CuDeviceGetAttribute = CuResult (*)(int*, int, CuDevice);
using CuGetErrorName = CuResult (*)(CuResult, const char**);

struct DriverApi {
  // Required: without these there is no version or device list to report.
  CuInit init = nullptr;
  CuDriverGetVersion driver_get_version = nullptr;
  CuDeviceGetCount device_get_count = nullptr;
  CuDeviceGet device_get = nullptr;
  CuDeviceGetAttribute device_get_attribute = nullptr;
  // Optional: older or partial drivers lack some; the fields stay empty.
  CuDeviceGetName device_get_name = nullptr;
  CuDeviceGetUuid device_get_uuid = nullptr;
  CuDeviceTotalMem device_total_mem = nullptr;
  CuGetErrorName get_error_name = nullptr;
};

class SharedLibrary {
public:
  explicit SharedLibrary(void* handle) : m_handle(handle) {}
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  ~SharedLibrary() {
    if (m_handle != nullptr) {
      ::dlclose(m_handle);
    }
  }
  void* get() const { return m_handle; }
  // Once cuInit has succeeded the driver may own threads and handlers in the library, and the
  // kernels about to run need it anyway: keep it loaded for the life of the process.
  void keep_loaded() { m_handle = nullptr; }

private:
  void* m_handle;
};

template <class Function>
Function find_symbol(void* handle, const char* name, std::vector<std::string>* missing) {
  void* address = ::dlsym(handle, name);
  if (address == nullptr && missing != nullptr) {
    missing->emplace_back(name);
  }
  return reinterpret_cast<Function>(address);
}

DriverApi resolve_api(void* handle, std::vector<std::string>& missing) {
  DriverApi api;
  api.init = find_symbol<CuInit>(handle, "cuInit", &missing);
  api.driver_get_version = find_symbol<CuDriverGetVersion>(handle, "cuDriverGetVersion", &missing);
  api.device_get_count = find_symbol<CuDeviceGetCount>(handle, "cuDeviceGetCount", &missing);
  api.device_get = find_symbol<CuDeviceGet>(handle, "cuDeviceGet", &missing);
  api.device_get_attribute =
      find_symbol<CuDeviceGetAttribute>(handle, "cuDeviceGetAttribute", &missing);
  api.device_get_name = find_symbol<CuDeviceGetName>(handle, "cuDeviceGetName", nullptr);
  api.device_get_uuid = find_symbol<CuDeviceGetUuid>(handle, "cuDeviceGetUuid_v2", nullptr);
  if (api.device_get_uuid == nullptr) {
    api.device_get_uuid = find_symbol<CuDeviceGetUuid>(handle, "cuDeviceGetUuid", nullptr);
  }
  api.device_total_mem = find_symbol<CuDeviceTotalMem>(handle, "cuDeviceTotalMem_v2", nullptr);
  api.get_error_name = find_symbol<CuGetErrorName>(handle, "cuGetErrorName", nullptr);
  return api;
}

// Names of the codes cuInit and device queries commonly return (values from cuda.h). Needed
// because the toolkit's stub library fails cuGetErrorName too, and old drivers lack it.
const char* known_error_name(CuResult code) {
  switch (code) {
  case 1:
    return "CUDA_ERROR_INVALID_VALUE";
  case 2:
    return "CUDA_ERROR_OUT_OF_MEMORY";
  case 3:
    return "CUDA_ERROR_NOT_INITIALIZED";
  case 4:
    return "CUDA_ERROR_DEINITIALIZED";
  case 34:
    return "CUDA_ERROR_STUB_LIBRARY";
  case 46:
    return "CUDA_ERROR_DEVICE_UNAVAILABLE";
  case 100:
    return "CUDA_ERROR_NO_DEVICE";
  case 101:
    return "CUDA_ERROR_INVALID_DEVICE";
  case 102:
    return "CUDA_ERROR_DEVICE_NOT_LICENSED";
  case 304:
    return "CUDA_ERROR_OPERATING_SYSTEM";
  case 800:
    return "CUDA_ERROR_NOT_PERMITTED";
  case 801:
    return "CUDA_ERROR_NOT_SUPPORTED";
  case 802:
    return "CUDA_ERROR_SYSTEM_NOT_READY";
  case 803:
    return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
  case 804:
    return "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE";
  case 999:
    return "CUDA_ERROR_UNKNOWN";
  default:
    return nullptr;
  }
}

std::string describe_error(const DriverApi& api, CuResult code) {
  const char* name = nullptr;
  if (api.get_error_name == nullptr || api.get_error_name(code, &name) != k_cuda_success) {
    name = nullptr;
  }
  if (name == nullptr) {
    name = known_error_name(code);
  }
  if (name != nullptr) {
    return fmt::format("{} ({})", name, code);
  }
  return fmt::format("CUDA error {}", code);
}

std::string load_failure_reason(const std::string& library) {
  const char* error = ::dlerror();
  std::string message = error != nullptr ? error : "";
  if (message.empty() || message.find("No such file") != std::string::npos) {
    return fmt::format("{} not found", library);
  }
  return fmt::format("{} could not be loaded: {}", library, message);
}

std::optional<CudaDevice> describe_device(const DriverApi& api, int ordinal) {
  CuDevice device = 0;
  int major = 0;
  int minor = 0;
  // A device whose capability cannot be read cannot be matched against any variant.
  if (api.device_get(&device, ordinal) != k_cuda_success ||
      api.device_get_attribute(&major, k_attribute_compute_capability_major, device) !=
          k_cuda_success ||
      api.device_get_attribute(&minor, k_attribute_compute_capability_minor, device) !=
          k_cuda_success) {
    return std::nullopt;
  }
  CudaDevice out;
  out.ordinal = ordinal;
  out.capability = {major, minor};
  int sm_count = 0;
  if (api.device_get_attribute(&sm_count, k_attribute_multiprocessor_count, device) ==
      k_cuda_success) {
    out.sm_count = sm_count;
  }
  if (api.device_get_name != nullptr) {
    std::array<char, 256> name{};
    if (api.device_get_name(name.data(), static_cast<int>(name.size()), device) == k_cuda_success) {
      name.back() = '\0';
      out.name = name.data();
    }
  }
  if (api.device_get_uuid != nullptr) {
    CuUuid uuid{};
    if (api.device_get_uuid(&uuid, device) == k_cuda_success) {
      std::array<unsigned char, 16> bytes{};
      std::copy(std::begin(uuid.bytes), std::end(uuid.bytes), bytes.begin());
      out.uuid = format_gpu_uuid(bytes);
    }
  }
  if (api.device_total_mem != nullptr) {
    std::size_t bytes = 0;
    if (api.device_total_mem(&bytes, device) == k_cuda_success) {
      out.total_memory = bytes;
    }
  }
  return out;
}

std::vector<CudaDevice> list_devices(const DriverApi& api) {
  int count = 0;
  if (api.device_get_count(&count) != k_cuda_success) {
    return {};
  }
  std::vector<CudaDevice> devices;
  for (int ordinal = 0; ordinal < std::min(count, k_max_devices); ++ordinal) {
    if (auto device = describe_device(api, ordinal)) {
      devices.push_back(std::move(*device));
    }
  }
  return devices;
}

// Talks to a loaded driver; returns false with `cuda.unavailable_reason` set when it does not
// answer.
bool query_driver(const DriverApi& api, CudaInfo& cuda) {
  CuResult result = api.init(0);
  if (result != k_cuda_success) {
    cuda.unavailable_reason = fmt::format("cuInit failed: {}", describe_error(api, result));
    return false;
  }
  int version = 0;
  result = api.driver_get_version(&version);
  if (result != k_cuda_success) {
    cuda.unavailable_reason =
        fmt::format("cuDriverGetVersion failed: {}", describe_error(api, result));
    return false;
  }
  cuda.driver_version = {version / 1000, (version % 1000) / 10};
  cuda.devices = list_devices(api);
  return true;
}

std::string read_small_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return "";
  }
  std::string text(4096, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(file.gcount()));
  return text;
}

bool is_release_number(std::string_view text) {
  return !text.empty() && text.find('.') != std::string_view::npos &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

} // namespace

CudaInfo detect_cuda(const std::string& library) {
  CudaInfo cuda;
  cuda.source = library;
  cuda.driver_release = read_driver_release();
  if (library.empty()) {
    // dlopen("") would return the main program, whose symbols are not a driver.
    cuda.unavailable_reason = "no CUDA driver library named (KGET_CUDA_DRIVER_LIBRARY is empty)";
    return cuda;
  }
  ::dlerror(); // clear a stale message so that a failure below reports its own
  SharedLibrary handle(::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (handle.get() == nullptr) {
    cuda.unavailable_reason = load_failure_reason(library);
    return cuda;
  }
  std::vector<std::string> missing;
  DriverApi api = resolve_api(handle.get(), missing);
  if (!missing.empty()) {
    cuda.unavailable_reason =
        fmt::format("{}: missing symbols {}", library, util::join(missing, ", "));
    return cuda;
  }
  if (query_driver(api, cuda)) {
    cuda.available = true;
    handle.keep_loaded();
  }
  return cuda;
}

std::string read_driver_release(const std::string& sys_path, const std::string& proc_path) {
  std::string sys_text = read_small_file(sys_path);
  std::string_view from_sys = util::trim(sys_text);
  if (is_release_number(from_sys)) {
    return std::string(from_sys);
  }
  return parse_proc_driver_version(read_small_file(proc_path));
}

std::string parse_proc_driver_version(std::string_view text) {
  constexpr std::string_view k_marker = "Kernel Module";
  std::string line(text.substr(0, text.find('\n')));
  std::replace(line.begin(), line.end(), '\t', ' ');
  auto marker = line.find(k_marker);
  if (marker == std::string_view::npos) {
    return "";
  }
  // "... Kernel Module  580.65.06  Sun Jul ..." or "... Open Kernel Module for x86_64  580.65.06
  // ..."
  for (auto word : util::split(std::string_view(line).substr(marker + k_marker.size()), ' ')) {
    if (is_release_number(word)) {
      return std::string(word);
    }
  }
  return "";
}

std::string format_gpu_uuid(const std::array<unsigned char, 16>& bytes) {
  std::string out = "GPU-";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    out += fmt::format("{:02x}", bytes[i]);
  }
  return out;
}

} // namespace kget::host
