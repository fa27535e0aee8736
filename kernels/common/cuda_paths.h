// Run-time choice among a CUDA kernel's code paths: the architecture groups of its build.toml
// ([kernel.cuda.group.<name>], docs/build.md), each compiled for its own targets only.
//
// For every group that is built, the builder defines KGET_CUDA_PATH_<NAME>=<targets> for every
// source of the variant: the group's SASS and PTX targets joined by '+' and unquoted, e.g.
// -DKGET_CUDA_PATH_SM80=sm_80+compute_80 (nvcc splits -D values at commas, hence '+'). A group
// left out of a build (kget build --cuda-arch ...) has no define and no object, so a dispatcher
// lists it as
//
//   #ifdef KGET_CUDA_PATH_SM90
//   #define SM90_TARGETS KGET_CUDA_PATH_TARGETS(KGET_CUDA_PATH_SM90)
//   #else
//   #define SM90_TARGETS nullptr
//   #endif
//   const CudaPath paths[] = {{"sm90", SM90_TARGETS}, {"sm80", SM80_TARGETS}};
//
// and calls a group's functions only under its #ifdef.
//
// Plain C++17 without CUDA headers: ops glue compiled by the host compiler can use it, and it is
// unit-tested on machines without a GPU (tests/kernels/cuda_paths_test.cpp).
#pragma once

#include <cstddef>
#include <kget/kernel_abi.h>

// "sm_80+compute_80" from KGET_CUDA_PATH_SM80: two levels, so that the macro's value is
// stringized rather than its name.
#define KGET_CUDA_PATH_TARGETS_(value) #value
#define KGET_CUDA_PATH_TARGETS(value) KGET_CUDA_PATH_TARGETS_(value)

namespace kget_kernels {

struct ComputeCapability {
  int major = 0;
  int minor = 0;
};

// One code path: its group name ("sm90") and targets ("sm_90a", "sm_80+compute_80"), or
// nullptr targets for a group this build left out.
struct CudaPath {
  const char* name;
  const char* targets;
};

// True when every '+'-separated entry of `targets` is sm_<cc>, compute_<cc>, either optionally
// followed by 'a' or 'f', where <cc> is major and minor digits with the minor last ("90", "100",
// "121"), and there is at least one entry.
bool cuda_targets_valid(const char* targets);

// True when some entry of `targets` has code that compute capability `cc` runs: SASS sm_XY on
// major X with minor >= Y, sm_XYa only on X.Y, sm_XYf on major X with minor >= Y; PTX compute_XY
// on any capability >= X.Y (JIT-compiled by the driver), compute_XYa only on X.Y, compute_XYf on
// major X with minor >= Y. Malformed entries cover nothing.
bool cuda_targets_cover(const char* targets, ComputeCapability cc);

// The value of KGET_KERNEL_CUDA_PATH, read once per process on first use (like
// KGET_KERNEL_CPU_ISA): "" when unset, empty or "auto". Tests force a path with it so that a test
// of a path never passes on another one.
const char* forced_cuda_path();

// Chooses the path `op` runs on device `device` of capability `cc`: the first of `paths` (in the
// caller's order of preference) that is built and covers `cc`, or the path named by `forced`
// (nullptr, "" or "auto": none). Writes its index into *chosen and returns KGET_KERNEL_OK, or
// returns, with the message in `error`:
//   KGET_KERNEL_ERROR_DEVICE             no built path covers `cc` (names the capability, what
//                                        the built paths run on and what to do instead)
//   KGET_KERNEL_ERROR_INVALID_ARGUMENT   `forced` names no path of this kernel
//   KGET_KERNEL_ERROR_UNSUPPORTED        `forced` names a path this build left out, or one that
//                                        cannot run on `cc`
//   KGET_KERNEL_ERROR_INTERNAL           a built path's targets are malformed (a build bug)
int choose_cuda_path_forced(const CudaPath* paths, size_t count, const char* forced, const char* op,
                            int device, ComputeCapability cc, size_t* chosen, kget_error* error);

// choose_cuda_path_forced with forced_cuda_path().
int choose_cuda_path(const CudaPath* paths, size_t count, const char* op, int device,
                     ComputeCapability cc, size_t* chosen, kget_error* error);

} // namespace kget_kernels
