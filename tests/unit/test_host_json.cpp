// The `kget env --json` host document (docs/host.md): field names, types and null conventions.
#include "host/host.hpp"

#include <gtest/gtest.h>

using namespace kget::host;
using kget::settings::Environment;
using nlohmann::json;

namespace {

HostInfo sample_host() {
  HostInfo host;
  host.os = "linux";
  host.cpu = {"x86_64", "AMD EPYC 9654 96-Core Processor", {"avx", "avx2"}, "cpuid"};
  host.runtime.glibc_version = "2.36";
  host.runtime.libc_path = "/lib/x86_64-linux-gnu/libc.so.6";
  host.runtime.libstdcxx_path = "/lib/x86_64-linux-gnu/libstdc++.so.6";
  host.runtime.provided_versions = {"CXXABI_1.3.13", "GLIBCXX_3.4.30", "GLIBC_2.36"};
  host.runtime.glibc.highest = {2, 36};
  host.runtime.glibcxx.highest = {3, 4, 30};
  host.runtime.cxxabi.highest = {1, 3, 13};
  host.runtime.source = "ELF version definitions";
  host.cuda.available = true;
  host.cuda.driver_version = {13, 0};
  host.cuda.driver_release = "580.65.06";
  host.cuda.source = "libcuda.so.1";
  host.cuda.devices = {{0,
                        "NVIDIA H100 80GB HBM3",
                        "GPU-6f1e2a00-ff10-4299-abcd-0123456789ef",
                        {9, 0},
                        132,
                        85520809984ULL},
                       {1, "NVIDIA B200", "", {10, 0}, 148, 0}};
  return host;
}

} // namespace

TEST(HostJson, AvailableCuda) {
  json doc = to_json(sample_host());
  json expected = json::parse(R"({
    "os": "linux",
    "cpu": {"arch": "x86_64", "model": "AMD EPYC 9654 96-Core Processor",
            "features": ["avx", "avx2"], "features_source": "cpuid"},
    "runtime": {"glibc": "2.36", "libc_path": "/lib/x86_64-linux-gnu/libc.so.6",
                "libstdcxx_path": "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "highest": {"GLIBC": "2.36", "GLIBCXX": "3.4.30", "CXXABI": "1.3.13"},
                "provided_versions": ["CXXABI_1.3.13", "GLIBCXX_3.4.30", "GLIBC_2.36"],
                "source": "ELF version definitions"},
    "cuda": {"available": true, "reason": null, "driver_version": "13.0",
             "driver_release": "580.65.06",
             "devices": [{"ordinal": 0, "name": "NVIDIA H100 80GB HBM3",
                          "uuid": "GPU-6f1e2a00-ff10-4299-abcd-0123456789ef",
                          "capability": "9.0", "sm_count": 132, "total_memory": 85520809984},
                         {"ordinal": 1, "name": "NVIDIA B200", "uuid": "",
                          "capability": "10.0", "sm_count": 148, "total_memory": 0}],
             "source": "libcuda.so.1"},
    "overrides": []
  })");
  EXPECT_EQ(doc, expected) << doc.dump(2);
  EXPECT_TRUE(doc["cuda"]["devices"][0]["total_memory"].is_number_unsigned());
}

TEST(HostJson, UnavailableCudaAndMissingFamilies) {
  HostInfo host = sample_host();
  host.cuda = CudaInfo{};
  host.cuda.unavailable_reason = "libcuda.so.1 not found";
  host.cuda.source = "libcuda.so.1";
  host.runtime.libstdcxx_path = "";
  host.runtime.glibcxx.highest.clear();
  host.runtime.cxxabi.highest.clear();
  host.overrides = {"KGET_OVERRIDE_GLIBC=2.28"};
  json doc = to_json(host);
  EXPECT_EQ(doc["cuda"]["available"], false);
  EXPECT_EQ(doc["cuda"]["reason"], "libcuda.so.1 not found");
  EXPECT_TRUE(doc["cuda"]["driver_version"].is_null());
  EXPECT_EQ(doc["cuda"]["driver_release"], "");
  EXPECT_EQ(doc["cuda"]["devices"], json::array());
  EXPECT_EQ(doc["runtime"]["highest"]["GLIBC"], "2.36");
  EXPECT_TRUE(doc["runtime"]["highest"]["GLIBCXX"].is_null());
  EXPECT_TRUE(doc["runtime"]["highest"]["CXXABI"].is_null());
  EXPECT_EQ(doc["runtime"]["libstdcxx_path"], "");
  EXPECT_EQ(doc["overrides"], json::array({"KGET_OVERRIDE_GLIBC=2.28"}));
}

TEST(HostJson, DetectedHostHasEveryField) {
  auto host = detect(Environment::from_map(
      {{"KGET_CUDA_DRIVER_LIBRARY", "libcuda_kget_none.so"}, {"KGET_OVERRIDE_GLIBC", "2.28"}}));
  ASSERT_TRUE(host.has_value()) << host.error().message;
  json doc = json::parse(to_json(*host).dump());
  EXPECT_EQ(doc["os"], "linux");
  for (const char* key : {"arch", "model", "features", "features_source"}) {
    EXPECT_TRUE(doc["cpu"].contains(key)) << key;
  }
  for (const char* key :
       {"glibc", "libc_path", "libstdcxx_path", "highest", "provided_versions", "source"}) {
    EXPECT_TRUE(doc["runtime"].contains(key)) << key;
  }
  for (const char* key :
       {"available", "reason", "driver_version", "driver_release", "devices", "source"}) {
    EXPECT_TRUE(doc["cuda"].contains(key)) << key;
  }
  EXPECT_EQ(doc["runtime"]["glibc"], "2.28");
  EXPECT_EQ(doc["runtime"]["highest"]["GLIBC"], "2.28");
  EXPECT_EQ(doc["runtime"]["source"], "KGET_OVERRIDE_GLIBC");
  EXPECT_EQ(doc["cuda"]["available"], false);
  EXPECT_EQ(doc["cuda"]["reason"], "libcuda_kget_none.so not found");
  EXPECT_EQ(doc["overrides"], json::array({"KGET_OVERRIDE_GLIBC=2.28"}));
  EXPECT_TRUE(doc["cpu"]["features"].is_array());
  EXPECT_EQ(doc.size(), 5u);
}
