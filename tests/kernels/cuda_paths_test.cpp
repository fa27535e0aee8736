// The kernels' run-time choice among CUDA code paths (kernels/common/cuda_paths.h): kget's
// compatibility rules, the caller's order of preference, the forced path of
// KGET_KERNEL_CUDA_PATH (passed explicitly: the variable is read once per process) and the
// messages of every refusal. Plain C++, no GPU or CUDA toolkit needed.
#include "common/cuda_paths.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <string>

namespace kget_kernels {
namespace {

constexpr ComputeCapability cc(int major, int minor) {
  return ComputeCapability{major, minor};
}

TEST(CudaTargets, PlainSassRunsOnLaterMinorsOfItsMajor) {
  EXPECT_TRUE(cuda_targets_cover("sm_80", cc(8, 0)));
  EXPECT_TRUE(cuda_targets_cover("sm_80", cc(8, 6)));
  EXPECT_TRUE(cuda_targets_cover("sm_86", cc(8, 9)));
  EXPECT_FALSE(cuda_targets_cover("sm_86", cc(8, 0)));
  EXPECT_FALSE(cuda_targets_cover("sm_80", cc(9, 0)));
  EXPECT_FALSE(cuda_targets_cover("sm_80", cc(7, 5)));
  EXPECT_TRUE(cuda_targets_cover("sm_120", cc(12, 1)));
}

TEST(CudaTargets, ArchSpecificSassRunsOnItsCapabilityOnly) {
  EXPECT_TRUE(cuda_targets_cover("sm_90a", cc(9, 0)));
  EXPECT_FALSE(cuda_targets_cover("sm_90a", cc(10, 0)));
  EXPECT_FALSE(cuda_targets_cover("sm_90a", cc(8, 9)));
  EXPECT_TRUE(cuda_targets_cover("sm_100a", cc(10, 0)));
  EXPECT_FALSE(cuda_targets_cover("sm_100a", cc(10, 3)));
}

TEST(CudaTargets, FamilySassRunsOnLaterMinorsOfItsMajor) {
  EXPECT_TRUE(cuda_targets_cover("sm_100f", cc(10, 0)));
  EXPECT_TRUE(cuda_targets_cover("sm_100f", cc(10, 3)));
  EXPECT_FALSE(cuda_targets_cover("sm_103f", cc(10, 0)));
  EXPECT_FALSE(cuda_targets_cover("sm_100f", cc(12, 0)));
}

TEST(CudaTargets, PtxRunsOnEveryLaterCapability) {
  EXPECT_TRUE(cuda_targets_cover("compute_80", cc(8, 0)));
  EXPECT_TRUE(cuda_targets_cover("compute_80", cc(9, 0)));
  EXPECT_TRUE(cuda_targets_cover("compute_80", cc(12, 0)));
  EXPECT_FALSE(cuda_targets_cover("compute_80", cc(7, 5)));
  EXPECT_FALSE(cuda_targets_cover("compute_86", cc(8, 0)));
}

TEST(CudaTargets, ArchSpecificPtxRunsOnItsCapabilityOnly) {
  EXPECT_TRUE(cuda_targets_cover("compute_90a", cc(9, 0)));
  EXPECT_FALSE(cuda_targets_cover("compute_90a", cc(10, 0)));
  EXPECT_FALSE(cuda_targets_cover("compute_90a", cc(12, 0)));
}

TEST(CudaTargets, FamilyPtxRunsOnLaterMinorsOfItsMajor) {
  EXPECT_TRUE(cuda_targets_cover("compute_100f", cc(10, 3)));
  EXPECT_FALSE(cuda_targets_cover("compute_100f", cc(11, 0)));
}

TEST(CudaTargets, AListCoversWhatAnyOfItsEntriesCovers) {
  EXPECT_TRUE(cuda_targets_cover("sm_80+compute_80", cc(8, 6)));
  EXPECT_TRUE(cuda_targets_cover("sm_80+compute_80", cc(9, 0)));
  EXPECT_TRUE(cuda_targets_cover("sm_75+sm_90a", cc(9, 0)));
  EXPECT_FALSE(cuda_targets_cover("sm_75+sm_90a", cc(8, 0)));
}

TEST(CudaTargets, MalformedListsAreInvalidAndCoverNothing) {
  for (const char* bad : {"", "sm_", "sm_9", "sm_1000", "sm_90x", "sm_090", "compute_",
                          "sm_80,compute_80", "sm_80+", "+sm_80", "90", "SM_90"}) {
    EXPECT_FALSE(cuda_targets_valid(bad)) << bad;
    EXPECT_FALSE(cuda_targets_cover(bad, cc(9, 0))) << bad;
  }
  EXPECT_FALSE(cuda_targets_valid(nullptr));
  EXPECT_FALSE(cuda_targets_cover(nullptr, cc(9, 0)));
  for (const char* good : {"sm_90a", "sm_80+compute_80", "sm_100f", "compute_121", "sm_121a"}) {
    EXPECT_TRUE(cuda_targets_valid(good)) << good;
  }
}

TEST(CudaTargets, TheStringizedDefineIsTheTargetList) {
  // As the builder passes it: -DKGET_CUDA_PATH_SM80=sm_80+compute_80 (no spaces).
  // clang-format off
#define KGET_TEST_PATH_SM80 sm_80+compute_80
  // clang-format on
  EXPECT_STREQ(KGET_CUDA_PATH_TARGETS(KGET_TEST_PATH_SM80), "sm_80+compute_80");
#undef KGET_TEST_PATH_SM80
  // Written by hand (and formatted) in a source, the tokens get spaces: still a valid list.
#define KGET_TEST_PATH_SM80 sm_80 + compute_80
  EXPECT_TRUE(cuda_targets_valid(KGET_CUDA_PATH_TARGETS(KGET_TEST_PATH_SM80)));
  EXPECT_TRUE(cuda_targets_cover(KGET_CUDA_PATH_TARGETS(KGET_TEST_PATH_SM80), cc(9, 0)));
#undef KGET_TEST_PATH_SM80
}

// ---------------------------------------------------------------------------------------------
// Choosing a path

const CudaPath kBoth[] = {{"sm90", "sm_90a"}, {"sm80", "sm_80+compute_80"}};
const CudaPath kNo90[] = {{"sm90", nullptr}, {"sm80", "sm_80+compute_80"}};

struct Choice {
  int status = -1;
  size_t index = 99;
  std::string message;
};

Choice choose(const CudaPath* paths, size_t count, const char* forced, ComputeCapability device) {
  Choice choice;
  kget_error error{};
  choice.status =
      choose_cuda_path_forced(paths, count, forced, "gemm", 0, device, &choice.index, &error);
  choice.message = error.message;
  return choice;
}

template <size_t N>
Choice choose(const CudaPath (&paths)[N], const char* forced, ComputeCapability device) {
  return choose(paths, N, forced, device);
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "\"" << part << "\" is not in: " << text;
}

TEST(CudaPathChoice, TheFirstPathThatCoversTheDeviceWins) {
  Choice choice = choose(kBoth, nullptr, cc(9, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_OK) << choice.message;
  EXPECT_EQ(choice.index, 0u);
  EXPECT_EQ(choice.message, "") << "success leaves the message alone";

  choice = choose(kBoth, nullptr, cc(8, 6));
  EXPECT_EQ(choice.status, KGET_KERNEL_OK) << choice.message;
  EXPECT_EQ(choice.index, 1u);

  // Only through the PTX: 10.0 cannot run sm_90a.
  choice = choose(kBoth, "", cc(10, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_OK) << choice.message;
  EXPECT_EQ(choice.index, 1u);

  // The caller's order, not the newest code, decides.
  const CudaPath reversed[] = {{"sm80", "sm_80+compute_80"}, {"sm90", "sm_90a"}};
  choice = choose(reversed, "auto", cc(9, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_OK) << choice.message;
  EXPECT_EQ(choice.index, 0u);
}

TEST(CudaPathChoice, APathLeftOutOfTheBuildIsSkipped) {
  const Choice choice = choose(kNo90, nullptr, cc(9, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_OK) << choice.message;
  EXPECT_EQ(choice.index, 1u);
}

TEST(CudaPathChoice, ADeviceNoPathCoversIsADeviceErrorThatSaysWhatRuns) {
  const Choice choice = choose(kBoth, nullptr, cc(7, 5));
  EXPECT_EQ(choice.status, KGET_KERNEL_ERROR_DEVICE);
  expect_contains(choice.message, "gemm on CUDA device 0 (compute capability 7.5): this variant "
                                  "has no code for it; it runs on compute capability 8.0 and "
                                  "newer (sm_80, compute_80) and 9.0 (sm_90a)");
  expect_contains(choice.message, "use a variant built for this GPU");
  expect_contains(choice.message, "or the CPU variant");
}

TEST(CudaPathChoice, TheNoCoverMessageDescribesEachKindOfTarget) {
  const CudaPath paths[] = {{"sm100", "sm_100f"}, {"sm90", "sm_90a+compute_90a"}};
  const Choice choice = choose(paths, nullptr, cc(8, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_ERROR_DEVICE);
  expect_contains(choice.message, "(compute capability 8.0)");
  expect_contains(choice.message, "it runs on compute capability 9.0 (sm_90a, compute_90a) and "
                                  "10.0 and newer 10.x (sm_100f);");
}

TEST(CudaPathChoice, ABuildWithoutPathsSaysSo) {
  const CudaPath none[] = {{"sm90", nullptr}};
  const Choice choice = choose(none, nullptr, cc(9, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_ERROR_DEVICE);
  expect_contains(choice.message, "built without any of its CUDA code paths");
}

TEST(CudaPathChoice, AForcedPathThatRunsIsChosenOverThePreferredOne) {
  const Choice choice = choose(kBoth, "sm80", cc(9, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_OK) << choice.message;
  EXPECT_EQ(choice.index, 1u);
}

TEST(CudaPathChoice, AnUnknownForcedPathIsRefusedWithTheNames) {
  const Choice choice = choose(kBoth, "sm70", cc(9, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_ERROR_INVALID_ARGUMENT);
  expect_contains(choice.message, "gemm on CUDA device 0: KGET_KERNEL_CUDA_PATH=sm70: expected "
                                  "auto, sm90 or sm80 (built into this variant: sm90 (sm_90a), "
                                  "sm80 (sm_80, compute_80))");
}

TEST(CudaPathChoice, AForcedPathLeftOutOfTheBuildIsRefused) {
  const Choice choice = choose(kNo90, "sm90", cc(9, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_ERROR_UNSUPPORTED);
  expect_contains(choice.message, "KGET_KERNEL_CUDA_PATH=sm90: this variant was built without "
                                  "the sm90 path (built: sm80 (sm_80, compute_80))");
}

TEST(CudaPathChoice, AForcedPathThatCannotRunOnTheDeviceIsRefused) {
  const Choice choice = choose(kBoth, "sm90", cc(8, 6));
  EXPECT_EQ(choice.status, KGET_KERNEL_ERROR_UNSUPPORTED);
  expect_contains(choice.message, "KGET_KERNEL_CUDA_PATH=sm90: the sm90 path has no code for "
                                  "compute capability 8.6: it runs on 9.0 (sm_90a) (built: sm90 "
                                  "(sm_90a), sm80 (sm_80, compute_80))");
}

TEST(CudaPathChoice, MalformedTargetsAreAnInternalError) {
  const CudaPath bad[] = {{"sm80", "sm_80,compute_80"}};
  const Choice choice = choose(bad, nullptr, cc(8, 0));
  EXPECT_EQ(choice.status, KGET_KERNEL_ERROR_INTERNAL);
  expect_contains(choice.message, "\"sm_80,compute_80\"");
}

TEST(CudaPathChoice, WithoutTheEnvironmentVariableNothingIsForced) {
  // ctest runs this binary without KGET_KERNEL_CUDA_PATH; a run with it set tests nothing here.
  if (std::getenv("KGET_KERNEL_CUDA_PATH")) {
    GTEST_SKIP() << "KGET_KERNEL_CUDA_PATH is set";
  }
  EXPECT_STREQ(forced_cuda_path(), "");
  size_t index = 99;
  kget_error error{};
  EXPECT_EQ(choose_cuda_path(kBoth, 2, "gemm", 0, cc(9, 0), &index, &error), KGET_KERNEL_OK);
  EXPECT_EQ(index, 0u);
}

} // namespace
} // namespace kget_kernels
