// kget::get_kernel as an application uses it: C++17, libkget.so and <kget/kget.hpp> only, against
// a real kget-registry and a file:// store that tests/api/with_registry.sh publishes the example
// relu kernel to (its KGET_TEST_* variables are read here).
#include <arpa/inet.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <kget/kget.hpp>
#include <mutex>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string test_setting(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) +
                             " is not set: run this test through tests/api/with_registry.sh");
  }
  return value;
}

std::string http_endpoint() {
  return test_setting("KGET_TEST_HTTP_ENDPOINT");
}
std::string file_endpoint() {
  return test_setting("KGET_TEST_FILE_ENDPOINT");
}
std::string variant() {
  return test_setting("KGET_TEST_VARIANT");
}

// A fresh directory under KGET_TEST_WORK (with_registry.sh removes it all).
fs::path fresh_dir(const std::string& stem) {
  static int counter = 0;
  fs::path dir =
      fs::path(test_setting("KGET_TEST_WORK")) / (stem + "-" + std::to_string(++counter));
  fs::create_directories(dir);
  return dir;
}

kget::Options options_for(const std::string& endpoint, const fs::path& cache) {
  kget::Options options;
  options.endpoint = endpoint;
  options.cache_dir = cache.string();
  return options;
}

// http://127.0.0.1:PORT where nothing listens: a port the kernel just gave us and took back.
std::string closed_endpoint() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot bind a loopback socket");
  }
  ::close(fd);
  return "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

// A contiguous float32 CPU tensor over `data`.
struct FloatTensor {
  explicit FloatTensor(std::vector<float>& data) : shape{static_cast<int64_t>(data.size())} {
    tensor.data = data.data();
    tensor.device = {kDLCPU, 0};
    tensor.ndim = 1;
    tensor.dtype = {kDLFloat, 32, 1};
    tensor.shape = shape;
  }
  int64_t shape[1];
  DLTensor tensor{};
};

// Runs `body`, which must throw kget::Error of `kind`; returns its message.
template <class Body>
std::string error_of(kget::ErrorKind kind, Body body) {
  try {
    body();
  } catch (const kget::Error& error) {
    EXPECT_EQ(kget::to_string(error.kind()), std::string(kget::to_string(kind))) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no kget::Error was thrown; expected " << kget::to_string(kind);
  return "";
}

// Records Options::progress calls, which come from download threads.
struct ProgressLog {
  std::mutex mutex;
  std::vector<kget::Progress> calls;

  std::function<void(const kget::Progress&)> callback() {
    return [this](const kget::Progress& progress) {
      std::lock_guard<std::mutex> lock(mutex);
      calls.push_back(progress);
    };
  }
};

class ScopedEnv {
public:
  ScopedEnv(const char* name, const std::string& value) : m_name(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() { ::unsetenv(m_name); }

private:
  const char* m_name;
};

void expect_relu_works(const kget::Kernel& kernel) {
  std::vector<float> input{-2.0f, -0.5f, 0.0f, 1.5f, 3.25f, -1e-30f};
  std::vector<float> output(input.size(), 42.0f);
  FloatTensor in(input);
  FloatTensor out(output);
  kernel.op("relu")(out.tensor, in.tensor);
  EXPECT_EQ(output, (std::vector<float>{0.0f, 0.0f, 0.0f, 1.5f, 3.25f, 0.0f}));
}

TEST(GetKernel, LoadsTheVariantFromTheRegistryAndSaysWhy) {
  fs::path cache = fresh_dir("cache");
  kget::Kernel kernel =
      kget::get_kernel("kernels-community/relu@1", options_for(http_endpoint(), cache));
  EXPECT_EQ(kernel.repo_id(), "kernels-community/relu");
  EXPECT_EQ(kernel.variant(), variant());
  EXPECT_EQ(kernel.reason(), "CPU variant: the fallback when no CUDA variant fits");
  EXPECT_EQ(kernel.commit().size(), 40u) << kernel.commit();
  EXPECT_EQ(kernel.commit().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(kernel.source(), http_endpoint());
  EXPECT_NE(kernel.revision().find("v1"), std::string::npos) << kernel.revision();
  fs::path expected_path = cache / "kernels--kernels-community--relu" / "snapshots" /
                           kernel.commit() / "build" / variant();
  EXPECT_EQ(fs::path(kernel.path()), expected_path);
  EXPECT_TRUE(fs::is_regular_file(kernel.library_path())) << kernel.library_path();
  EXPECT_NE(kernel.metadata_json().find("\"_relu_example\""), std::string::npos);
  EXPECT_TRUE(kernel.warnings().empty());
  ASSERT_EQ(kernel.ops().size(), 1u);
  EXPECT_EQ(kernel.ops()[0].name(), "relu");
  EXPECT_EQ(kernel.ops()[0].schema(), "relu(Tensor! out, Tensor input) -> ()");
  EXPECT_TRUE(kernel.has_op("relu"));
  EXPECT_FALSE(kernel.has_op("nope"));
}

TEST(GetKernel, RunsReluOnAFloatTensor) {
  kget::Kernel kernel = kget::get_kernel("kernels-community/relu@1",
                                         options_for(http_endpoint(), fresh_dir("cache")));
  expect_relu_works(kernel);
}

TEST(GetKernel, LoadsFromAFileStoreWithTheCpuAskedFor) {
  kget::Options options = options_for(file_endpoint(), fresh_dir("cache"));
  options.device = "cpu";
  kget::Kernel kernel = kget::get_kernel("kernels-community/relu@1.0.0", options);
  EXPECT_EQ(kernel.variant(), variant());
  EXPECT_EQ(kernel.reason(), "CPU variant, as asked");
  EXPECT_EQ(kernel.source(), file_endpoint());
  expect_relu_works(kernel);
}

TEST(GetKernel, AWrongArgumentIsUsageNamingTheParameter) {
  kget::Kernel kernel = kget::get_kernel("kernels-community/relu@1",
                                         options_for(file_endpoint(), fresh_dir("cache")));
  std::vector<float> output(4);
  FloatTensor out(output);
  std::string message =
      error_of(kget::ErrorKind::usage, [&] { kernel.op("relu")(out.tensor, 3.0); });
  EXPECT_NE(message.find("argument 2 \"input\" must be a tensor; got a float"), std::string::npos)
      << message;
  message = error_of(kget::ErrorKind::usage, [&] { kernel.op("relu")(out.tensor); });
  EXPECT_NE(message.find("takes 2 arguments; got 1"), std::string::npos) << message;

  // The kernel's own check: a dtype it does not take, reported by the kernel, still usage.
  std::vector<double> doubles(4);
  int64_t shape[1] = {4};
  DLTensor wrong_dtype{};
  wrong_dtype.data = doubles.data();
  wrong_dtype.device = {kDLCPU, 0};
  wrong_dtype.ndim = 1;
  wrong_dtype.dtype = {kDLFloat, 64, 1};
  wrong_dtype.shape = shape;
  message = error_of(kget::ErrorKind::usage, [&] { kernel.op("relu")(out.tensor, wrong_dtype); });
  EXPECT_NE(message.find("(input): expected dtype float32"), std::string::npos) << message;
}

TEST(GetKernel, AnUnknownOpIsNotFoundListingTheOps) {
  kget::Kernel kernel = kget::get_kernel("kernels-community/relu@1",
                                         options_for(file_endpoint(), fresh_dir("cache")));
  std::string message = error_of(kget::ErrorKind::not_found, [&] { kernel.op("nope"); });
  EXPECT_NE(message.find("has no op \"nope\"; its ops are: relu"), std::string::npos) << message;
}

TEST(GetKernel, AnUnknownKernelIsNotFound) {
  std::string message = error_of(kget::ErrorKind::not_found, [&] {
    kget::get_kernel("kernels-community/nope@1", options_for(http_endpoint(), fresh_dir("cache")));
  });
  EXPECT_NE(message.find("kernels-community/nope"), std::string::npos) << message;
  message = error_of(kget::ErrorKind::not_found, [&] {
    kget::get_kernel("kernels-community/nope@1", options_for(file_endpoint(), fresh_dir("cache")));
  });
  EXPECT_NE(message.find("kernels-community/nope"), std::string::npos) << message;
  message = error_of(kget::ErrorKind::not_found, [&] {
    kget::get_kernel("kernels-community/relu@7", options_for(http_endpoint(), fresh_dir("cache")));
  });
}

TEST(GetKernel, OfflineWithNothingCachedIsNotFound) {
  kget::Options options = options_for(http_endpoint(), fresh_dir("cache"));
  options.offline = true;
  std::string message = error_of(kget::ErrorKind::not_found,
                                 [&] { kget::get_kernel("kernels-community/relu@1", options); });
  EXPECT_NE(message.find("kget is offline"), std::string::npos) << message;
}

TEST(GetKernel, AClosedPortWithNothingCachedIsNetwork) {
  std::string endpoint = closed_endpoint();
  std::string message = error_of(kget::ErrorKind::network, [&] {
    kget::get_kernel("kernels-community/relu@1", options_for(endpoint, fresh_dir("cache")));
  });
  EXPECT_NE(message.find(endpoint.substr(7)), std::string::npos) << message;
}

TEST(GetKernel, ACudaDeviceFindsNoCompatibleVariant) {
  kget::Options options = options_for(http_endpoint(), fresh_dir("cache"));
  options.device = "cuda:0";
  std::string message = error_of(kget::ErrorKind::no_compatible_variant,
                                 [&] { kget::get_kernel("kernels-community/relu@1", options); });
  EXPECT_NE(message.find(variant()), std::string::npos) << message;
  EXPECT_NE(message.find("a CPU variant, but CUDA device 0 was asked for"), std::string::npos)
      << message;
}

TEST(GetKernel, AMalformedDeviceIsUsage) {
  kget::Options options = options_for(http_endpoint(), fresh_dir("cache"));
  options.device = "tpu";
  std::string message = error_of(kget::ErrorKind::usage,
                                 [&] { kget::get_kernel("kernels-community/relu@1", options); });
  EXPECT_NE(message.find("Options::device"), std::string::npos) << message;
}

TEST(GetKernel, AMalformedReferenceIsInvalidReference) {
  error_of(kget::ErrorKind::invalid_reference,
           [&] { kget::get_kernel("relu", options_for(http_endpoint(), fresh_dir("cache"))); });
}

TEST(GetKernel, AColdCacheReportsTheLibraryDone) {
  ProgressLog log;
  kget::Options options = options_for(http_endpoint(), fresh_dir("cache"));
  options.progress = log.callback();
  kget::Kernel kernel = kget::get_kernel("kernels-community/relu@1", options);
  const std::string library = "build/" + variant() + "/librelu.so";
  const auto size = static_cast<uint64_t>(fs::file_size(kernel.library_path()));
  bool library_done = false;
  for (const auto& call : log.calls) {
    EXPECT_LE(call.received, call.total) << call.file;
    if (call.file == library && call.done) {
      library_done = true;
      EXPECT_EQ(call.received, size);
      EXPECT_EQ(call.total, size);
    }
  }
  EXPECT_TRUE(library_done) << log.calls.size() << " progress calls, none with done for "
                            << library;
}

TEST(GetKernel, ASecondCallReusesTheCacheWithoutDownloading) {
  ProgressLog first_log;
  kget::Options options = options_for(http_endpoint(), fresh_dir("cache"));
  options.progress = first_log.callback();
  kget::Kernel first = kget::get_kernel("kernels-community/relu@1", options);
  EXPECT_FALSE(first_log.calls.empty());

  ProgressLog second_log;
  options.progress = second_log.callback();
  kget::Kernel second = kget::get_kernel("kernels-community/relu@1", options);
  EXPECT_TRUE(second_log.calls.empty()) << second_log.calls.front().file;
  EXPECT_EQ(second.library_path(), first.library_path());
  EXPECT_EQ(second.commit(), first.commit());
  expect_relu_works(second);

  // Offline, the cache alone is enough.
  options.offline = true;
  kget::Kernel offline = kget::get_kernel("kernels-community/relu@1", options);
  EXPECT_EQ(offline.library_path(), first.library_path());
  EXPECT_NE(offline.source().find("(offline)"), std::string::npos) << offline.source();
}

TEST(GetKernel, ATamperedCachedLibraryIsIntegrityWithFullVerification) {
  // The cache is filled by a load, then copied so that the library tampered with is one this
  // process never mapped.
  fs::path filled = fresh_dir("cache");
  kget::Kernel kernel =
      kget::get_kernel("kernels-community/relu@1", options_for(http_endpoint(), filled));
  fs::path tampered = fresh_dir("cache");
  fs::copy(filled, tampered, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::path link = tampered / fs::path(kernel.path()).lexically_relative(filled) / "librelu.so";
  fs::path blob = fs::canonical(link);
  ASSERT_EQ(blob.string().rfind(fs::canonical(tampered).string(), 0), 0u)
      << link << " must link inside the copied cache, not to " << blob;
  {
    std::fstream file(blob, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x7f');
    ASSERT_TRUE(file.good());
  }
  kget::Options options = options_for(http_endpoint(), tampered);
  options.verify_full = true;
  std::string message = error_of(kget::ErrorKind::integrity,
                                 [&] { kget::get_kernel("kernels-community/relu@1", options); });
  EXPECT_NE(message.find("librelu.so"), std::string::npos) << message;
}

TEST(GetKernel, LocalKernelsLoadWithoutAnyRegistry) {
  fs::path build = fs::path(test_setting("KGET_TEST_KERNEL_DIR")) / "build";
  ScopedEnv local("KGET_LOCAL_KERNELS", "kernels-community/relu=" + build.string());
  kget::Kernel kernel = kget::get_kernel("kernels-community/relu@1",
                                         options_for(closed_endpoint(), fresh_dir("cache")));
  EXPECT_EQ(kernel.variant(), variant());
  EXPECT_EQ(kernel.commit(), "");
  EXPECT_EQ(kernel.source(), build.string());
  EXPECT_EQ(kernel.revision(), "local build (KGET_LOCAL_KERNELS)");
  EXPECT_EQ(fs::path(kernel.path()), build / variant());
  expect_relu_works(kernel);
}

TEST(GetKernel, OptionsFallBackToTheEnvironment) {
  fs::path cache = fresh_dir("cache");
  ScopedEnv endpoint("KGET_ENDPOINT", http_endpoint());
  ScopedEnv cache_dir("KGET_CACHE", cache.string());
  kget::Kernel kernel = kget::get_kernel("kernels-community/relu@1");
  EXPECT_EQ(kernel.source(), http_endpoint());
  EXPECT_EQ(fs::path(kernel.path()).string().rfind(cache.string(), 0), 0u) << kernel.path();
}

} // namespace
