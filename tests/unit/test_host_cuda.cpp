// CUDA detection through the real dlopen/dlsym path, against the fake driver built beside the
// tests (unit/fake_libcuda.c), the toolkit's stub library, and libraries that do not exist.
#include "host/cuda.hpp"
#include "host/host.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace kget::host;
using kget::settings::Environment;

namespace {

// Sets the fake driver's own variables for one test and restores them afterwards.
class FakeDriverEnvironment {
public:
  explicit FakeDriverEnvironment(
      std::initializer_list<std::pair<std::string, std::string>> values) {
    for (const char* name : {"KGET_FAKE_CUDA_INIT", "KGET_FAKE_CUDA_VERSION",
                             "KGET_FAKE_CUDA_DEVICES", "KGET_FAKE_CUDA_TRACE"}) {
      ::unsetenv(name);
    }
    for (const auto& [name, value] : values) {
      ::setenv(name.c_str(), value.c_str(), 1);
      m_names.push_back(name);
    }
  }
  FakeDriverEnvironment(const FakeDriverEnvironment&) = delete;
  FakeDriverEnvironment& operator=(const FakeDriverEnvironment&) = delete;
  ~FakeDriverEnvironment() {
    for (const auto& name : m_names) {
      ::unsetenv(name.c_str());
    }
  }

private:
  std::vector<std::string> m_names;
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("kget-host-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream out;
  out << file.rdbuf();
  return out.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

const char* const k_two_devices = "NVIDIA H100 80GB HBM3:9.0:132:85520809984;"
                                  "NVIDIA A100-SXM4-40GB:8.0:108:42298834944";

} // namespace

TEST(HostCuda, MissingLibraryIsNotFound) {
  CudaInfo cuda = detect_cuda("libcuda_kget_does_not_exist.so.1");
  EXPECT_FALSE(cuda.available);
  EXPECT_EQ(cuda.unavailable_reason, "libcuda_kget_does_not_exist.so.1 not found");
  EXPECT_EQ(cuda.source, "libcuda_kget_does_not_exist.so.1");
  EXPECT_TRUE(cuda.devices.empty());

  CudaInfo by_path = detect_cuda("/nonexistent/dir/libcuda.so.1");
  EXPECT_FALSE(by_path.available);
  EXPECT_EQ(by_path.unavailable_reason, "/nonexistent/dir/libcuda.so.1 not found");
}

TEST(HostCuda, UnloadableLibrarySaysWhy) {
  std::string path = temp_path("not-a-library.so");
  write_text(path, "this is not an ELF file\n");
  CudaInfo cuda = detect_cuda(path);
  std::filesystem::remove(path);
  EXPECT_FALSE(cuda.available);
  EXPECT_TRUE(cuda.unavailable_reason.starts_with(path + " could not be loaded: "))
      << cuda.unavailable_reason;
}

TEST(HostCuda, EmptyLibraryNameIsUnavailable) {
  CudaInfo cuda = detect_cuda("");
  EXPECT_FALSE(cuda.available);
  EXPECT_NE(cuda.unavailable_reason.find("KGET_CUDA_DRIVER_LIBRARY is empty"), std::string::npos);
}

TEST(HostCuda, FakeDriverWithTwoDevices) {
  FakeDriverEnvironment fake(
      {{"KGET_FAKE_CUDA_VERSION", "12080"}, {"KGET_FAKE_CUDA_DEVICES", k_two_devices}});
  CudaInfo cuda = detect_cuda(KGET_FAKE_LIBCUDA);
  ASSERT_TRUE(cuda.available) << cuda.unavailable_reason;
  EXPECT_EQ(cuda.unavailable_reason, "");
  EXPECT_EQ(cuda.source, KGET_FAKE_LIBCUDA);
  EXPECT_EQ(cuda.driver_version, (kget::util::MajorMinor{12, 8}));
  ASSERT_EQ(cuda.devices.size(), 2u);

  const CudaDevice& h100 = cuda.devices[0];
  EXPECT_EQ(h100.ordinal, 0);
  EXPECT_EQ(h100.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(h100.capability, (kget::util::MajorMinor{9, 0}));
  EXPECT_EQ(h100.sm_count, 132);
  EXPECT_EQ(h100.total_memory, 85520809984u);
  // From cuDeviceGetUuid_v2, which the fake answers differently from cuDeviceGetUuid.
  EXPECT_EQ(h100.uuid, "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f");

  const CudaDevice& a100 = cuda.devices[1];
  EXPECT_EQ(a100.ordinal, 1);
  EXPECT_EQ(a100.name, "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(a100.capability, (kget::util::MajorMinor{8, 0}));
  EXPECT_EQ(a100.sm_count, 108);
  EXPECT_EQ(a100.total_memory, 42298834944u);
  EXPECT_EQ(a100.uuid, "GPU-10111213-1415-1617-1819-1a1b1c1d1e1f");
}

TEST(HostCuda, DriverVersionEncoding) {
  const std::vector<std::pair<std::string, kget::util::MajorMinor>> cases{
      {"13000", {13, 0}}, {"12090", {12, 9}}, {"11040", {11, 4}}, {"12020", {12, 2}}};
  for (const auto& [encoded, expected] : cases) {
    SCOPED_TRACE(encoded);
    FakeDriverEnvironment fake({{"KGET_FAKE_CUDA_VERSION", encoded}});
    CudaInfo cuda = detect_cuda(KGET_FAKE_LIBCUDA);
    ASSERT_TRUE(cuda.available) << cuda.unavailable_reason;
    EXPECT_EQ(cuda.driver_version, expected);
    EXPECT_TRUE(cuda.devices.empty());
  }
}

TEST(HostCuda, DriverWithoutDevicesIsAvailable) {
  FakeDriverEnvironment fake({{"KGET_FAKE_CUDA_VERSION", "13000"}});
  CudaInfo cuda = detect_cuda(KGET_FAKE_LIBCUDA);
  EXPECT_TRUE(cuda.available);
  EXPECT_TRUE(cuda.devices.empty());
}

TEST(HostCuda, CuInitFailureIsNamed) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"100", "cuInit failed: CUDA_ERROR_NO_DEVICE (100)"},
      {"34", "cuInit failed: CUDA_ERROR_STUB_LIBRARY (34)"},
      {"3", "cuInit failed: CUDA_ERROR_NOT_INITIALIZED (3)"},
      // Not known to the fake's cuGetErrorName, but to kget's own table.
      {"803", "cuInit failed: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803)"},
      {"4242", "cuInit failed: CUDA error 4242"},
  };
  for (const auto& [code, reason] : cases) {
    SCOPED_TRACE(code);
    FakeDriverEnvironment fake(
        {{"KGET_FAKE_CUDA_INIT", code}, {"KGET_FAKE_CUDA_DEVICES", k_two_devices}});
    CudaInfo cuda = detect_cuda(KGET_FAKE_LIBCUDA);
    EXPECT_FALSE(cuda.available);
    EXPECT_EQ(cuda.unavailable_reason, reason);
    EXPECT_TRUE(cuda.devices.empty());
  }
}

TEST(HostCuda, OptionalEntryPointsMayBeMissing) {
  FakeDriverEnvironment fake({{"KGET_FAKE_CUDA_DEVICES", k_two_devices}});
  CudaInfo cuda = detect_cuda(KGET_FAKE_LIBCUDA_MINIMAL);
  ASSERT_TRUE(cuda.available) << cuda.unavailable_reason;
  ASSERT_EQ(cuda.devices.size(), 2u);
  EXPECT_EQ(cuda.devices[1].capability, (kget::util::MajorMinor{8, 0}));
  EXPECT_EQ(cuda.devices[1].sm_count, 108);
  EXPECT_EQ(cuda.devices[1].name, "");
  EXPECT_EQ(cuda.devices[1].total_memory, 0u);
  // Falls back to cuDeviceGetUuid.
  EXPECT_EQ(cuda.devices[0].uuid, "GPU-a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
}

TEST(HostCuda, WithoutCuGetErrorNameTheCodeIsStillReported) {
  FakeDriverEnvironment fake({{"KGET_FAKE_CUDA_INIT", "4242"}});
  CudaInfo cuda = detect_cuda(KGET_FAKE_LIBCUDA_MINIMAL);
  EXPECT_EQ(cuda.unavailable_reason, "cuInit failed: CUDA error 4242");
  FakeDriverEnvironment stub({{"KGET_FAKE_CUDA_INIT", "34"}});
  EXPECT_EQ(detect_cuda(KGET_FAKE_LIBCUDA_MINIMAL).unavailable_reason,
            "cuInit failed: CUDA_ERROR_STUB_LIBRARY (34)");
}

TEST(HostCuda, MissingRequiredSymbolsAreNamedAndNothingIsCalled) {
  std::string trace = temp_path("trace.txt");
  std::filesystem::remove(trace);
  FakeDriverEnvironment fake({{"KGET_FAKE_CUDA_TRACE", trace}});
  CudaInfo cuda = detect_cuda(KGET_FAKE_LIBCUDA_BROKEN);
  EXPECT_FALSE(cuda.available);
  EXPECT_EQ(cuda.unavailable_reason, std::string(KGET_FAKE_LIBCUDA_BROKEN) +
                                         ": missing symbols cuDriverGetVersion, cuDeviceGetCount");
  EXPECT_EQ(read_text(trace), "") << "cuInit must not run when the API is incomplete";
  std::filesystem::remove(trace);
}

TEST(HostCuda, TraceShowsTheCallsMade) {
  std::string trace = temp_path("trace-full.txt");
  std::filesystem::remove(trace);
  FakeDriverEnvironment fake(
      {{"KGET_FAKE_CUDA_TRACE", trace}, {"KGET_FAKE_CUDA_DEVICES", "GPU:9.0:1:1"}});
  ASSERT_TRUE(detect_cuda(KGET_FAKE_LIBCUDA).available);
  std::string calls = read_text(trace);
  EXPECT_TRUE(calls.starts_with("cuInit\ncuDriverGetVersion\ncuDeviceGetCount\n")) << calls;
  EXPECT_NE(calls.find("cuDeviceGetUuid_v2\n"), std::string::npos);
  EXPECT_EQ(calls.find("cuDeviceGetUuid\n"), std::string::npos);
  std::filesystem::remove(trace);
}

TEST(HostCuda, ToolkitStubLibrary) {
  const char* stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (!std::filesystem::exists(stub)) {
    GTEST_SKIP() << stub << " not installed";
  }
  CudaInfo cuda = detect_cuda(stub);
  EXPECT_FALSE(cuda.available);
  // The stub fails cuGetErrorName as well, so the name comes from kget's own table.
  EXPECT_EQ(cuda.unavailable_reason, "cuInit failed: CUDA_ERROR_STUB_LIBRARY (34)");
  EXPECT_TRUE(cuda.devices.empty());
}

TEST(HostCuda, DetectUsesTheLibrarySetting) {
  FakeDriverEnvironment fake(
      {{"KGET_FAKE_CUDA_VERSION", "13000"}, {"KGET_FAKE_CUDA_DEVICES", k_two_devices}});
  auto host = detect(Environment::from_map({{"KGET_CUDA_DRIVER_LIBRARY", KGET_FAKE_LIBCUDA}}));
  ASSERT_TRUE(host.has_value()) << host.error().message;
  EXPECT_TRUE(host->cuda.available);
  EXPECT_EQ(host->cuda.driver_version, (kget::util::MajorMinor{13, 0}));
  EXPECT_EQ(host->cuda.devices.size(), 2u);
  EXPECT_TRUE(host->overrides.empty());

  auto missing =
      detect(Environment::from_map({{"KGET_CUDA_DRIVER_LIBRARY", "libcuda_kget_missing.so.7"}}));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->cuda.unavailable_reason, "libcuda_kget_missing.so.7 not found");
}

TEST(HostCuda, DefaultLibraryNeverCrashes) {
  HostInfo host = detect_without_overrides(Environment::from_map({}));
  EXPECT_EQ(host.cuda.source, "libcuda.so.1");
  if (!host.cuda.available) {
    EXPECT_FALSE(host.cuda.unavailable_reason.empty());
    EXPECT_TRUE(host.cuda.devices.empty());
  } else {
    // A real driver: it reports a CUDA version and sane devices with ordinals in range.
    EXPECT_GE(host.cuda.driver_version.major, 10);
    for (const auto& device : host.cuda.devices) {
      EXPECT_GE(device.capability.major, 3) << device.name;
      EXPECT_GT(device.sm_count, 0) << device.name;
      EXPECT_GT(device.total_memory, 0u) << device.name;
    }
  }
}

TEST(HostCuda, ParseProcDriverVersion) {
  EXPECT_EQ(parse_proc_driver_version(
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 07:09:12 "
                "UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"),
            "580.65.06");
  EXPECT_EQ(parse_proc_driver_version("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
                                      "570.133.20  Release Build  (dvs-builder@U16)\n"),
            "570.133.20");
  EXPECT_EQ(parse_proc_driver_version("NVRM version: NVIDIA UNIX aarch64 Kernel Module\t"
                                      "550.54.15\tTue Mar  5 ...\n"),
            "550.54.15");
  EXPECT_EQ(parse_proc_driver_version(""), "");
  EXPECT_EQ(parse_proc_driver_version("something else entirely\n"), "");
  EXPECT_EQ(parse_proc_driver_version("NVRM version: Kernel Module\n"), "");
  EXPECT_EQ(parse_proc_driver_version("first line\nNVIDIA Kernel Module 1.2\n"), "");
}

TEST(HostCuda, ReadDriverReleasePrefersSysfs) {
  std::string sys = temp_path("sys-version");
  std::string proc = temp_path("proc-version");
  write_text(sys, "580.65.06\n");
  write_text(proc, "NVRM version: NVIDIA UNIX x86_64 Kernel Module  575.51.03  Date\n");
  EXPECT_EQ(read_driver_release(sys, proc), "580.65.06");
  write_text(sys, "garbage\n");
  EXPECT_EQ(read_driver_release(sys, proc), "575.51.03");
  std::filesystem::remove(sys);
  EXPECT_EQ(read_driver_release(sys, proc), "575.51.03");
  std::filesystem::remove(proc);
  EXPECT_EQ(read_driver_release(sys, proc), "");
}

TEST(HostCuda, FormatGpuUuid) {
  std::array<unsigned char, 16> bytes{0x6f, 0x1e, 0x2a, 0x00, 0xff, 0x10, 0x42, 0x99,
                                      0xab, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xef};
  EXPECT_EQ(format_gpu_uuid(bytes), "GPU-6f1e2a00-ff10-4299-abcd-0123456789ef");
}
