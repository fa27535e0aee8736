#include "metadata/variant_name.hpp"

#include <gtest/gtest.h>

using namespace kget::metadata;

namespace {

TEST(VariantName, ParsesKgetNames) {
  struct Case {
    const char* name;
    int abi;
    BackendType type;
    int cuda_major;
    int cuda_minor;
    const char* cpu;
  };
  for (const Case& c : {
           Case{"kget1-cu130-x86_64-linux", 1, BackendType::cuda, 13, 0, "x86_64"},
           Case{"kget1-cu129-x86_64-linux", 1, BackendType::cuda, 12, 9, "x86_64"},
           Case{"kget1-cu118-aarch64-linux", 1, BackendType::cuda, 11, 8, "aarch64"},
           Case{"kget1-cpu-x86_64-linux", 1, BackendType::cpu, 0, 0, "x86_64"},
           Case{"kget2-cu92-x86_64-linux", 2, BackendType::cuda, 9, 2, "x86_64"},
       }) {
    auto parsed = parse_variant_name(c.name);
    auto* kget = std::get_if<KgetVariantName>(&parsed);
    ASSERT_NE(kget, nullptr) << c.name;
    EXPECT_EQ(kget->abi_major, c.abi);
    EXPECT_EQ(kget->backend.type, c.type);
    if (c.type == BackendType::cuda) {
      EXPECT_EQ(kget->backend.cuda_toolkit, (kget::util::MajorMinor{c.cuda_major, c.cuda_minor}));
    }
    EXPECT_EQ(kget->cpu, c.cpu);
    EXPECT_EQ(kget->os, "linux");
    EXPECT_EQ(format_variant_name(*kget), c.name);
  }
}

TEST(VariantName, RecognisesPythonGrammarsAsForeign) {
  struct Case {
    const char* name;
    const char* expected;
  };
  for (const Case& c : {
           Case{"torch28-cxx11-cu128-x86_64-linux",
                "PyTorch/Python (torch 2.8), CUDA 12.8, x86_64-linux"},
           Case{"torch212-cxx11-cu130-aarch64-linux", "torch 2.12"},
           Case{"torch27-cxx98-cu118-x86_64-linux", "torch 2.7"},
           Case{"torch212-metal-aarch64-darwin", "metal"},
           Case{"torch-stable-abi29-cu130-x86_64-linux", "torch stable ABI 2.9"},
           Case{"tvm-ffi01-cu128-x86_64-linux", "built for PyTorch/Python (TVM-FFI 0.1 module)"},
           Case{"torch-cuda", "noarch torch-cuda"},
           Case{"torch-cpu", "noarch torch-cpu"},
           Case{"torch-universal", "torch-universal"},
       }) {
    auto parsed = parse_variant_name(c.name);
    auto* foreign = std::get_if<ForeignVariantName>(&parsed);
    ASSERT_NE(foreign, nullptr) << c.name;
    EXPECT_NE(foreign->reason.find("not kget's C ABI"), std::string::npos) << foreign->reason;
    EXPECT_NE(foreign->reason.find(c.expected), std::string::npos)
        << c.name << ": " << foreign->reason;
  }
  auto torch = parse_variant_name("torch28-cxx11-cu128-x86_64-linux");
  EXPECT_NE(std::get<ForeignVariantName>(torch).reason.find("built for PyTorch/Python"),
            std::string::npos);
}

TEST(VariantName, RejectsUnknownAndUnsupported) {
  struct Case {
    const char* name;
    const char* expected;
  };
  for (const Case& c : {
           Case{"kget1-rocm63-x86_64-linux", "backend \"rocm63\" (ROCm 6.3) is not supported"},
           Case{"kget1-metal-aarch64-darwin", "backend \"metal\""},
           Case{"kget1-cu1-x86_64-linux", "backend \"cu1\""},
           Case{"kget-cu130-x86_64-linux", "no ABI major"},
           Case{"kget01-cu130-x86_64-linux", "no ABI major"},
           Case{"kget1-cu130-x86_64", "four '-'-separated parts"},
           Case{"kget1-cu130-x86_64-linux-extra", "four '-'-separated parts"},
           Case{"kget1-cu130-X86_64-linux", "lower-case tokens"},
           Case{"kget1-cu130--linux", "lower-case tokens"},
           Case{"jax04-cu130-x86_64-linux", "unknown framework prefix"},
           Case{"", "unknown framework prefix"},
       }) {
    auto parsed = parse_variant_name(c.name);
    auto* unknown = std::get_if<UnrecognisedVariantName>(&parsed);
    ASSERT_NE(unknown, nullptr) << c.name;
    EXPECT_NE(unknown->reason.find(c.expected), std::string::npos)
        << c.name << ": " << unknown->reason;
  }
}

} // namespace
