// loader::load and loader::call on real libraries: the example relu kernel, a test kernel built
// correctly, and one test kernel per flaw the loader must refuse (tests/loader/test_kernel.c,
// built by the loader block of tests/CMakeLists.txt).
#include "host/runtime.hpp"
#include "loader/loader.hpp"
#include "support/temp_dir.hpp"
#include "util/strings.hpp"

#include <array>
#include <cmath>
#include <dlfcn.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace kget::loader;
using kget::ErrorKind;
using kget::testing::TempDir;
using kget::testing::write_file;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_describe_schema =
    "describe(Tensor! out, Tensor? bias, int n, float scale, bool flag, str label, ScalarType "
    "dtype, Stream stream) -> ()";
constexpr const char* k_fail_with_schema = "fail_with(int status, bool with_message) -> ()";

kget::host::HostInfo this_host() {
  kget::host::HostInfo host;
  host.os = "linux";
  host.runtime = kget::host::detect_runtime();
  return host;
}

// metadata.json of the test kernel as the tests expect the library to declare it.
kget::metadata::VariantMetadata test_kernel_metadata() {
  kget::metadata::VariantMetadata meta;
  meta.name = "loadertest";
  meta.version = 3;
  meta.backend_type = "cpu";
  meta.kget.abi_major = 1;
  meta.kget.abi_minor = 0;
  meta.kget.library = "libloadertest.so";
  meta.kget.ops = {{"describe", k_describe_schema}, {"fail_with", k_fail_with_schema}};
  return meta;
}

// A variant directory holding a copy of `library` under $.kget.library. An existing file is kept:
// rewriting a library that is loaded would change the code under the running process.
LoadRequest request_for(const TempDir& dir, const std::string& library,
                        kget::metadata::VariantMetadata meta = test_kernel_metadata(),
                        const std::string& subdirectory = "kget1-cpu-x86_64-linux") {
  const fs::path variant_dir = dir.path() / subdirectory;
  fs::create_directories(variant_dir);
  fs::copy_file(library, variant_dir / meta.kget.library, fs::copy_options::skip_existing);
  return LoadRequest{variant_dir, subdirectory, std::move(meta)};
}

// The failure message of loading `library` with the test kernel's metadata (adjusted by `edit`).
template <class Edit>
kget::Failure load_failure(const std::string& library, Edit edit) {
  TempDir dir;
  auto meta = test_kernel_metadata();
  edit(meta);
  auto loaded = load(request_for(dir, library, meta), this_host());
  if (loaded) {
    ADD_FAILURE() << library << " loaded";
    return {ErrorKind::internal, ""};
  }
  return loaded.error();
}

kget::Failure load_failure(const std::string& library) {
  return load_failure(library, [](kget::metadata::VariantMetadata&) {});
}

#define EXPECT_CONTAINS(text, part)                                                                \
  EXPECT_NE(std::string(text).find(part), std::string::npos)                                       \
      << "\"" << (text) << "\"\nlacks \"" << (part) << "\""

const LoadedOp& op_named(const LoadedKernel& kernel, const std::string& name) {
  for (const auto& op : kernel.ops) {
    if (op.name == name) {
      return op;
    }
  }
  throw std::runtime_error("no op " + name);
}

DLTensor cpu_tensor(void* data, DLDataType dtype, int64_t* shape, int32_t ndim) {
  DLTensor tensor{};
  tensor.data = data;
  tensor.device = DLDevice{kDLCPU, 0};
  tensor.ndim = ndim;
  tensor.dtype = dtype;
  tensor.shape = shape;
  return tensor;
}

kget_arg tensor_arg(const DLTensor* tensor) {
  kget_arg arg{};
  arg.kind = KGET_ARG_TENSOR;
  arg.value.tensor = tensor;
  return arg;
}

TEST(Load, RunsTheReluExample) {
  TempDir dir;
  kget::metadata::VariantMetadata meta;
  meta.name = "relu";
  meta.version = 1;
  meta.kget.abi_major = 1;
  meta.kget.abi_minor = 0;
  meta.kget.library = "librelu.so";
  meta.kget.ops = {{"relu", "relu(Tensor! out, Tensor input) -> ()"}};
  auto loaded = load(request_for(dir, KGET_EXAMPLE_RELU, meta), this_host());
  ASSERT_TRUE(loaded) << loaded.error().message;
  const LoadedKernel& kernel = **loaded;
  EXPECT_EQ(kernel.descriptor->name, std::string("relu"));
  ASSERT_EQ(kernel.ops.size(), 1u);
  const LoadedOp& relu = kernel.ops[0];
  EXPECT_EQ(relu.name, "relu");
  EXPECT_EQ(relu.schema, "relu(Tensor! out, Tensor input) -> ()");
  ASSERT_EQ(relu.parsed.parameters.size(), 2u);
  EXPECT_TRUE(relu.parsed.parameters[0].written);

  std::array<float, 6> input{-2.0f, -0.0f, 0.5f, 3.0f, -1e-30f, std::nanf("")};
  std::array<float, 6> output{};
  output.fill(99.0f);
  int64_t shape[2] = {2, 3};
  DLTensor x = cpu_tensor(input.data(), DLDataType{kDLFloat, 32, 1}, shape, 2);
  DLTensor y = cpu_tensor(output.data(), DLDataType{kDLFloat, 32, 1}, shape, 2);
  std::array<kget_arg, 2> args{tensor_arg(&y), tensor_arg(&x)};
  auto called = call(relu, args.data(), args.size());
  ASSERT_TRUE(called) << called.error().message;
  EXPECT_EQ(output[0], 0.0f);
  EXPECT_EQ(output[1], 0.0f);
  EXPECT_EQ(output[2], 0.5f);
  EXPECT_EQ(output[3], 3.0f);
  EXPECT_EQ(output[4], 0.0f);
  EXPECT_TRUE(std::isnan(output[5]));

  // kget's own check, before the op runs.
  auto short_call = call(relu, args.data(), 1);
  ASSERT_FALSE(short_call);
  EXPECT_EQ(short_call.error().kind, ErrorKind::usage);
  EXPECT_EQ(short_call.error().message,
            "relu(Tensor! out, Tensor input): takes 2 arguments; got 1");

  // The op's own check (a dtype), reported as the caller's fault with the op's name.
  std::array<double, 6> wide{};
  DLTensor x64 = cpu_tensor(wide.data(), DLDataType{kDLFloat, 64, 1}, shape, 2);
  args[1] = tensor_arg(&x64);
  auto wrong_dtype = call(relu, args.data(), args.size());
  ASSERT_FALSE(wrong_dtype);
  EXPECT_EQ(wrong_dtype.error().kind, ErrorKind::usage);
  EXPECT_EQ(wrong_dtype.error().message,
            "relu: argument 1 (input): expected dtype float32, got float64 (code 2, bits 64, "
            "lanes 1)");
}

class TestKernel : public ::testing::Test {
protected:
  void SetUp() override {
    auto loaded = load(request_for(dir, KGET_LOADER_TEST_GOOD), this_host());
    ASSERT_TRUE(loaded) << loaded.error().message;
    kernel = *loaded;
  }

  kget::Result<void> fail_with(int64_t status, bool with_message) {
    std::array<kget_arg, 2> args{};
    args[0].kind = KGET_ARG_INT;
    args[0].value.i = status;
    args[1].kind = KGET_ARG_BOOL;
    args[1].value.b = with_message ? 1 : 0;
    return call(op_named(*kernel, "fail_with"), args.data(), args.size());
  }

  TempDir dir;
  std::shared_ptr<const LoadedKernel> kernel;
};

TEST_F(TestKernel, PassesEveryArgumentKind) {
  EXPECT_EQ(kernel->descriptor->version, std::string("3.1.4"));
  std::array<double, 6> out{};
  int64_t six = 6;
  DLTensor out_tensor = cpu_tensor(out.data(), DLDataType{kDLFloat, 64, 1}, &six, 1);
  double bias_value = 0.25;
  int64_t one = 1;
  DLTensor bias = cpu_tensor(&bias_value, DLDataType{kDLFloat, 64, 1}, &one, 1);
  std::array<kget_arg, 8> args{};
  args[0] = tensor_arg(&out_tensor);
  args[1] = tensor_arg(&bias);
  args[2].kind = KGET_ARG_INT;
  args[2].value.i = 7;
  args[3].kind = KGET_ARG_FLOAT;
  args[3].value.f = 0.5;
  args[4].kind = KGET_ARG_BOOL;
  args[4].value.b = 1;
  args[5].kind = KGET_ARG_STRING;
  args[5].value.s = "hello";
  args[6].kind = KGET_ARG_DTYPE;
  args[6].value.dtype = DLDataType{kDLBfloat, 16, 1};
  args[7].kind = KGET_ARG_STREAM;
  int stream_stand_in = 0;
  args[7].value.stream = &stream_stand_in;
  const LoadedOp& describe = op_named(*kernel, "describe");
  auto called = call(describe, args.data(), args.size());
  ASSERT_TRUE(called) << called.error().message;
  EXPECT_EQ(out, (std::array<double, 6>{3.5, 0.25, 1.0, 5.0, 4016.0, 1.0}));

  args[1] = kget_arg{}; // the optional bias, absent
  args[7].value.stream = nullptr;
  called = call(describe, args.data(), args.size());
  ASSERT_TRUE(called) << called.error().message;
  EXPECT_EQ(out, (std::array<double, 6>{3.5, -1.0, 1.0, 5.0, 4016.0, 0.0}));

  args[3].kind = KGET_ARG_INT;
  auto refused = call(describe, args.data(), args.size());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::usage);
  EXPECT_EQ(refused.error().message,
            "describe(Tensor! out, Tensor? bias, int n, float scale, bool flag, str label, "
            "ScalarType dtype, Stream stream): argument 4 \"scale\" must be a float; got an int");
}

TEST_F(TestKernel, MapsStatusesToErrorKinds) {
  EXPECT_TRUE(fail_with(0, true));

  auto unsupported = fail_with(KGET_KERNEL_ERROR_UNSUPPORTED, true);
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.error().kind, ErrorKind::kernel);
  EXPECT_EQ(unsupported.error().message,
            "fail_with: asked to fail with status 2 (KGET_KERNEL_ERROR_UNSUPPORTED)");

  auto invalid = fail_with(KGET_KERNEL_ERROR_INVALID_ARGUMENT, true);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, ErrorKind::usage);
  EXPECT_EQ(invalid.error().message, "fail_with: asked to fail with status 1");

  const std::vector<std::pair<int, std::string>> others{
      {KGET_KERNEL_ERROR_DEVICE, "KGET_KERNEL_ERROR_DEVICE"},
      {KGET_KERNEL_ERROR_OUT_OF_MEMORY, "KGET_KERNEL_ERROR_OUT_OF_MEMORY"},
      {KGET_KERNEL_ERROR_INTERNAL, "KGET_KERNEL_ERROR_INTERNAL"},
      {99, "status 99, counted as KGET_KERNEL_ERROR_INTERNAL"},
      {-3, "status -3, counted as KGET_KERNEL_ERROR_INTERNAL"},
  };
  for (const auto& [status, name] : others) {
    auto failed = fail_with(status, true);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().kind, ErrorKind::kernel);
    EXPECT_EQ(failed.error().message,
              fmt::format("fail_with: asked to fail with status {} ({})", status, name));
  }

  auto silent = fail_with(KGET_KERNEL_ERROR_DEVICE, false);
  ASSERT_FALSE(silent);
  EXPECT_EQ(silent.error().message,
            "fail_with: the op failed without a message (KGET_KERNEL_ERROR_DEVICE)");
}

TEST_F(TestKernel, SamePathGivesTheSameKernel) {
  auto again = load(request_for(dir, KGET_LOADER_TEST_GOOD), this_host());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->get(), kernel.get());

  // Another variant directory whose library is a symlink to the same file, as in the cache.
  const fs::path other = dir.path() / "snapshots" / "rev" / "build" / "kget1-cpu-x86_64-linux";
  fs::create_directories(other);
  fs::create_symlink(fs::path("../../../../kget1-cpu-x86_64-linux/libloadertest.so"),
                     other / "libloadertest.so");
  auto linked = load(LoadRequest{other, "linked", test_kernel_metadata()}, this_host());
  ASSERT_TRUE(linked) << linked.error().message;
  EXPECT_EQ(linked->get(), kernel.get());
  EXPECT_EQ(kernel->library_path,
            fs::canonical(dir.path() / "kget1-cpu-x86_64-linux" / "libloadertest.so"));

  // The metadata is checked on every load, also when the library is already loaded.
  auto meta = test_kernel_metadata();
  meta.name = "renamed";
  auto mismatched = load(request_for(dir, KGET_LOADER_TEST_GOOD, meta), this_host());
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.error().kind, ErrorKind::abi);
  auto still = load(request_for(dir, KGET_LOADER_TEST_GOOD), this_host());
  ASSERT_TRUE(still);
  EXPECT_EQ(still->get(), kernel.get());
}

TEST_F(TestKernel, ConcurrentLoadsOfOnePathShareOneKernel) {
  const LoadRequest request{dir.path() / "kget1-cpu-x86_64-linux", "v", test_kernel_metadata()};
  const auto host = this_host();
  std::vector<const LoadedKernel*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      auto loaded = load(request, host);
      seen[i] = loaded ? loaded->get() : nullptr;
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (const auto* each : seen) {
    EXPECT_EQ(each, kernel.get());
  }
}

TEST(Load, TwoCopiesLoadSideBySide) {
  // The same file at two paths: two objects in the process, each with its own descriptor.
  TempDir dir;
  auto first =
      load(request_for(dir, KGET_LOADER_TEST_GOOD, test_kernel_metadata(), "a"), this_host());
  auto second =
      load(request_for(dir, KGET_LOADER_TEST_GOOD, test_kernel_metadata(), "b"), this_host());
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->get(), second->get());
  EXPECT_NE((*first)->descriptor, (*second)->descriptor);
  EXPECT_NE((*first)->ops[0].call, (*second)->ops[0].call);
}

TEST(Load, TwoVersionsWithOneSonameLoadSideBySide) {
  // Both twins are "libkget_loader_twin.so" by SONAME; glibc matches an already loaded object by
  // its file (device and inode), not by SONAME, when dlopen is given a path, so each keeps its own
  // descriptor and code.
  TempDir dir;
  auto older =
      load(request_for(dir, KGET_LOADER_TEST_TWIN_A, test_kernel_metadata(), "a"), this_host());
  auto newer =
      load(request_for(dir, KGET_LOADER_TEST_TWIN_B, test_kernel_metadata(), "b"), this_host());
  ASSERT_TRUE(older) << older.error().message;
  ASSERT_TRUE(newer) << newer.error().message;
  EXPECT_EQ((*older)->descriptor->version, std::string("3.1.4"));
  EXPECT_EQ((*newer)->descriptor->version, std::string("3.2.0"));
  EXPECT_NE((*older)->ops[1].call, (*newer)->ops[1].call);
  // Both still answer through their own code.
  std::array<kget_arg, 2> args{};
  args[0].kind = KGET_ARG_INT;
  args[0].value.i = KGET_KERNEL_ERROR_UNSUPPORTED;
  args[1].kind = KGET_ARG_BOOL;
  args[1].value.b = 1;
  EXPECT_EQ(call((*older)->ops[1], args.data(), 2).error().kind, ErrorKind::kernel);
  EXPECT_EQ(call((*newer)->ops[1], args.data(), 2).error().kind, ErrorKind::kernel);
}

TEST(Load, RefusesAKernelThatCannotServeThisHost) {
  auto failure = load_failure(KGET_LOADER_TEST_INIT_NULL);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "libloadertest.so: kget_kernel_init(1, 0) returned NULL: the "
                                   "kernel cannot serve ABI 1.0");
}

TEST(Load, RefusesALibraryWithoutTheInitSymbol) {
  auto failure = load_failure(KGET_LOADER_TEST_NO_INIT);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "libloadertest.so: does not export kget_kernel_init");
}

TEST(Load, RefusesAnotherAbiMajor) {
  auto failure = load_failure(KGET_LOADER_TEST_ABI_MAJOR_2);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message,
                  "the descriptor says ABI 2.0; this kget speaks ABI 1.0 and loads only kernels "
                  "of major 1");
}

TEST(Load, ComparesTheAbiMinorWithTheMetadata) {
  auto failure = load_failure(KGET_LOADER_TEST_ABI_MINOR_1);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message,
                  "(variant kget1-cpu-x86_64-linux): the library was built for ABI 1.1; "
                  "metadata.json $.kget.abi says 1.0");
  // A kernel of a newer minor that chose to serve this host, declared as such: loads.
  TempDir dir;
  auto meta = test_kernel_metadata();
  meta.kget.abi_minor = 1;
  auto loaded = load(request_for(dir, KGET_LOADER_TEST_ABI_MINOR_1, meta), this_host());
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ((*loaded)->descriptor->abi_version_minor, 1u);
}

TEST(Load, RefusesAnotherName) {
  auto failure = load_failure(KGET_LOADER_TEST_NAME);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "the library's descriptor names the kernel \"othername\"; "
                                   "metadata.json $.name says \"loadertest\"");
}

TEST(Load, RefusesAnotherVersionMajor) {
  auto failure = load_failure(KGET_LOADER_TEST_VERSION);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "the library's descriptor says version \"4.0.0\" (major 4); "
                                   "metadata.json $.version says 3");
}

TEST(Load, RefusesAnotherSchema) {
  auto failure = load_failure(KGET_LOADER_TEST_SCHEMA_DIFFERS);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "op \"describe\" has the schema \"describe(Tensor! out, Tensor? "
                                   "bias, int n, float factor,");
  EXPECT_CONTAINS(failure.message, "in the library; metadata.json $.kget.ops[0].schema says "
                                   "\"describe(Tensor! out, Tensor? bias, int n, float scale,");
}

TEST(Load, RefusesAMissingOp) {
  auto failure = load_failure(KGET_LOADER_TEST_OP_MISSING);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "the library has 1 ops (describe); metadata.json $.kget.ops "
                                   "lists 2 (describe, fail_with)");
}

TEST(Load, RefusesOpsInAnotherOrder) {
  auto failure = load_failure(KGET_LOADER_TEST_GOOD, [](kget::metadata::VariantMetadata& meta) {
    std::swap(meta.kget.ops[0], meta.kget.ops[1]);
  });
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "op 0 of the library is \"describe\"; metadata.json "
                                   "$.kget.ops[0].name says \"fail_with\"");
}

TEST(Load, RefusesANullCall) {
  auto failure = load_failure(KGET_LOADER_TEST_NULL_CALL);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "libloadertest.so: op 1 \"fail_with\" has a NULL call");
}

TEST(Load, RefusesAnInvalidSchemaEvenWhenTheMetadataAgrees) {
  auto failure =
      load_failure(KGET_LOADER_TEST_BAD_SCHEMA, [](kget::metadata::VariantMetadata& meta) {
        meta.kget.ops[1].schema = "fail_with(int status, bool with_message)";
      });
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "op 1 \"fail_with\": invalid schema \"fail_with(int status, "
                                   "bool with_message)\": at position 40: expected \" -> ()\"");
}

TEST(Load, ReportsDlopenFailures) {
  auto failure = load_failure(KGET_LOADER_TEST_UNDEFINED_SYMBOL);
  EXPECT_EQ(failure.kind, ErrorKind::abi);
  EXPECT_CONTAINS(failure.message, "libloadertest.so: dlopen failed: ");
  EXPECT_CONTAINS(failure.message, "undefined symbol: kget_test_symbol_defined_nowhere");
}

TEST(Load, RefusesASymbolVersionThisHostLacksBeforeDlopen) {
  TempDir dir;
  LoadRequest request = request_for(dir, KGET_LOADER_TEST_NEEDS_HELPER);
  // Next to the helper library, dlopen itself would succeed: the refusal must come first.
  fs::copy_file(fs::path(KGET_LOADER_TEST_NEEDS_HELPER).parent_path() /
                    "libkget_loader_test_helper.so",
                request.variant_dir / "libkget_loader_test_helper.so");
  const auto host = this_host();
  auto loaded = load(request, host);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, ErrorKind::abi);
  EXPECT_CONTAINS(loaded.error().message,
                  fmt::format("libloadertest.so: needs GLIBCXX_99.0; this host's libstdc++ "
                              "provides up to GLIBCXX_{} ({})",
                              kget::util::format_dotted(host.runtime.glibcxx.highest),
                              host.runtime.libstdcxx_path));
  EXPECT_CONTAINS(loaded.error().message, "manylinux_2_28");
  const std::string path = (request.variant_dir / "libloadertest.so").string();
  EXPECT_EQ(::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD), nullptr) << "it was dlopened";
}

TEST(Load, ComparesGlibcNeedsWithTheHost) {
  TempDir dir;
  kget::host::HostInfo host = this_host();
  host.runtime.provided_versions = {"GLIBC_2.0"};
  host.runtime.glibc.highest = {2, 0};
  host.runtime.libc_path = "/lib/libc.so.6";
  kget::metadata::VariantMetadata meta;
  meta.name = "relu";
  meta.version = 1;
  meta.kget.abi_major = 1;
  meta.kget.library = "librelu.so";
  meta.kget.ops = {{"relu", "relu(Tensor! out, Tensor input) -> ()"}};
  auto loaded = load(request_for(dir, KGET_EXAMPLE_RELU, meta), host);
  ASSERT_FALSE(loaded);
  EXPECT_CONTAINS(loaded.error().message,
                  "needs GLIBC_2.2.5; this host's libc provides up to GLIBC_2.0 (/lib/libc.so.6)");

  host.runtime.source = "KGET_OVERRIDE_GLIBC";
  host.runtime.glibc.highest.clear();
  host.runtime.provided_versions.clear();
  loaded = load(request_for(dir, KGET_EXAMPLE_RELU, meta), host);
  ASSERT_FALSE(loaded);
  EXPECT_CONTAINS(loaded.error().message, "needs GLIBC_2.2.5; this host's libc provides no GLIBC "
                                          "versions (set by KGET_OVERRIDE_GLIBC)");

  // A version up to the family's highest counts even when libc.so.6's own table lacks it (libm
  // defines some GLIBC versions of its own).
  host.runtime.glibc.highest = {2, 36};
  EXPECT_TRUE(load(request_for(dir, KGET_EXAMPLE_RELU, meta), host));
}

TEST(Load, RefusesAFileThatIsNotElf) {
  TempDir dir;
  const fs::path variant_dir = dir.path() / "v";
  write_file(variant_dir / "libloadertest.so", "#!/bin/sh\necho this is a script, not a library\n");
  auto loaded = load(LoadRequest{variant_dir, "v", test_kernel_metadata()}, this_host());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, ErrorKind::abi);
  EXPECT_CONTAINS(loaded.error().message,
                  "libloadertest.so: not an ELF file (no ELF magic number)");
}

TEST(Load, TheLibraryPathStaysInsideTheVariantDirectory) {
  TempDir dir;
  const fs::path variant_dir = dir.path() / "v";
  fs::create_directories(variant_dir / "sub");
  fs::copy_file(KGET_LOADER_TEST_GOOD, dir.path() / "outside.so");
  for (const std::string library : {"../outside.so", "sub/../../outside.so", "", "/etc/passwd"}) {
    auto meta = test_kernel_metadata();
    meta.kget.library = library;
    auto loaded = load(LoadRequest{variant_dir, "v", meta}, this_host());
    ASSERT_FALSE(loaded) << library;
    EXPECT_EQ(loaded.error().kind, ErrorKind::abi);
    EXPECT_CONTAINS(loaded.error().message,
                    fmt::format("variant v: $.kget.library \"{}\" is not a relative path inside "
                                "the variant directory",
                                library));
  }

  // A symlink out of the directory is how the cache stores files (into its blobs): allowed.
  fs::create_directories(dir.path() / "blobs");
  fs::copy_file(KGET_LOADER_TEST_GOOD, dir.path() / "blobs" / "0123abcd");
  fs::create_symlink("../blobs/0123abcd", variant_dir / "libloadertest.so");
  auto linked = load(LoadRequest{variant_dir, "v", test_kernel_metadata()}, this_host());
  ASSERT_TRUE(linked) << linked.error().message;
  EXPECT_EQ((*linked)->library_path, fs::canonical(dir.path() / "blobs" / "0123abcd"));

  auto meta = test_kernel_metadata();
  meta.kget.library = "sub";
  auto directory = load(LoadRequest{variant_dir, "v", meta}, this_host());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().kind, ErrorKind::abi);
  EXPECT_CONTAINS(directory.error().message, "sub is not a regular file");

  meta.kget.library = "absent.so";
  auto absent = load(LoadRequest{variant_dir, "v", meta}, this_host());
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().kind, ErrorKind::io);
  EXPECT_CONTAINS(absent.error().message, "variant v: cannot read the kernel library");

  fs::create_symlink("../blobs/missing", variant_dir / "dangling.so");
  meta.kget.library = "dangling.so";
  auto dangling = load(LoadRequest{variant_dir, "v", meta}, this_host());
  ASSERT_FALSE(dangling);
  EXPECT_EQ(dangling.error().kind, ErrorKind::io);
}

TEST(Call, RefusesAnOpThatWasNotLoaded) {
  LoadedOp op;
  op.name = "ghost";
  auto called = call(op, nullptr, 0);
  ASSERT_FALSE(called);
  EXPECT_EQ(called.error().kind, ErrorKind::internal);
}

} // namespace
