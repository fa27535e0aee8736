// Shared code of the kernels' cuda/ backends (docs/kernels.md, "The CUDA variant"): element
// types with their float conversions, 16-byte packs, row offsets from a RowGrid, warp and block
// sums, the alignment test of the vectorized paths, the device guard and CUDA error messages.
//
// Included by .cu files only; everything here is inline or a template, and each library hides
// it (-fvisibility=hidden, version script).
#pragma once

#include "row_grid.h"
#include "storage_types.h"

#include <cstdint>
#include <cstring>
#include <cuda.h> // CUcontext and CUresult only; libcuda is never linked
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <kget/kernel_abi.h>
#include <type_traits>

namespace kget_kernels::cuda {

// ---------------------------------------------------------------------------------------------
// Element types. Storage is what memory holds (raw bits for the 16-bit types); arithmetic is
// float32. Conversions to the element type round to nearest even and keep NaN a NaN. The 16-bit
// types also convert pairs held in one 32-bit word: one instruction each way on sm_80 and newer
// (F2FP.PACK_AB), and half the registers of one 16-bit value per register.

struct Float32 {
  using Storage = float;
  __device__ __forceinline__ static float to_float(float value) { return value; }
  __device__ __forceinline__ static float from_float(float value) { return value; }
};

struct Float16 {
  using Storage = uint16_t;
  __device__ __forceinline__ static float to_float(uint16_t bits) {
    return __half2float(__ushort_as_half(bits));
  }
  __device__ __forceinline__ static uint16_t from_float(float value) {
    return __half_as_ushort(__float2half_rn(value));
  }
  __device__ __forceinline__ static float2 pair_to_float2(uint32_t word) {
    return make_float2(to_float(static_cast<uint16_t>(word)),
                       to_float(static_cast<uint16_t>(word >> 16)));
  }
  __device__ __forceinline__ static uint32_t pair_from_floats(float low, float high) {
    const __half2 pair = __floats2half2_rn(low, high);
    uint32_t word;
    memcpy(&word, &pair, sizeof word);
    return word;
  }
};

struct BFloat16 {
  using Storage = uint16_t;
  // Exact: a bfloat16 is the high half of a float32.
  __device__ __forceinline__ static float to_float(uint16_t bits) {
    return __uint_as_float(static_cast<uint32_t>(bits) << 16);
  }
  __device__ __forceinline__ static uint16_t from_float(float value) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(value));
  }
  __device__ __forceinline__ static float2 pair_to_float2(uint32_t word) {
    return make_float2(__uint_as_float(word << 16), __uint_as_float(word & 0xffff0000u));
  }
  __device__ __forceinline__ static uint32_t pair_from_floats(float low, float high) {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(low, high);
    uint32_t word;
    memcpy(&word, &pair, sizeof word);
    return word;
  }
};

// `kCount` consecutive elements, loaded and stored as one access: 16 bytes (LDG.E.128 /
// STG.E.128) on the vectorized paths, one element on the fallback paths. Held as words: pairs of
// 16-bit elements share a 32-bit word (16-bit values one per register made ptxas spill).
template <class E, int kCount>
struct alignas(kCount * sizeof(typename E::Storage)) Pack {
  using Storage = typename E::Storage;
  static constexpr bool kPaired = sizeof(Storage) == 2 && kCount % 2 == 0;
  using Word = std::conditional_t<kPaired, uint32_t, Storage>;
  static constexpr int kWords = kPaired ? kCount / 2 : kCount;
  Word word[kWords];
};

// One access per pack. 16-byte packs go through uint4, so that the access stays one LDG.E.128 /
// STG.E.128: copied as a struct, a pack whose words are used one by one was split into four
// 32-bit loads.
template <class E, int kCount>
__device__ __forceinline__ Pack<E, kCount> load(const Pack<E, kCount>* source) {
  if constexpr (sizeof(Pack<E, kCount>) == sizeof(uint4)) {
    const uint4 raw = *reinterpret_cast<const uint4*>(source);
    Pack<E, kCount> pack;
    memcpy(&pack, &raw, sizeof pack);
    return pack;
  } else {
    return *source;
  }
}

template <class E, int kCount>
__device__ __forceinline__ void store(Pack<E, kCount>* target, const Pack<E, kCount>& pack) {
  if constexpr (sizeof(Pack<E, kCount>) == sizeof(uint4)) {
    uint4 raw;
    memcpy(&raw, &pack, sizeof raw);
    *reinterpret_cast<uint4*>(target) = raw;
  } else {
    *target = pack;
  }
}

// The float32 values of a pack's elements.
template <class E, int kCount>
__device__ __forceinline__ void unpack(const Pack<E, kCount>& pack, float (&values)[kCount]) {
  if constexpr (Pack<E, kCount>::kPaired) {
#pragma unroll
    for (int w = 0; w < Pack<E, kCount>::kWords; ++w) {
      const float2 pair = E::pair_to_float2(pack.word[w]);
      values[2 * w] = pair.x;
      values[2 * w + 1] = pair.y;
    }
  } else {
#pragma unroll
    for (int j = 0; j < kCount; ++j) {
      values[j] = E::to_float(pack.word[j]);
    }
  }
}

// The pack of `values` rounded to the element type.
template <class E, int kCount>
__device__ __forceinline__ Pack<E, kCount> pack_of(const float (&values)[kCount]) {
  Pack<E, kCount> pack;
  if constexpr (Pack<E, kCount>::kPaired) {
#pragma unroll
    for (int w = 0; w < Pack<E, kCount>::kWords; ++w) {
      pack.word[w] = E::pair_from_floats(values[2 * w], values[2 * w + 1]);
    }
  } else {
#pragma unroll
    for (int j = 0; j < kCount; ++j) {
      pack.word[j] = E::from_float(values[j]);
    }
  }
  return pack;
}

// round_T of docs/kernels.md, in place: each value rounded to the element type, as float32.
template <class E, int kCount>
__device__ __forceinline__ void round_to_element(float (&values)[kCount]) {
  if constexpr (!std::is_same_v<E, Float32>) {
    unpack(pack_of<E>(values), values);
  }
}

// The packs of a row that starts `offset` elements past `base`.
template <class E, int kCount>
__device__ __forceinline__ Pack<E, kCount>* row_pointer(char* base, int64_t offset) {
  return reinterpret_cast<Pack<E, kCount>*>(reinterpret_cast<typename E::Storage*>(base) + offset);
}

template <class E, int kCount>
__device__ __forceinline__ const Pack<E, kCount>* row_pointer(const char* base, int64_t offset) {
  return reinterpret_cast<const Pack<E, kCount>*>(
      reinterpret_cast<const typename E::Storage*>(base) + offset);
}

constexpr int kVectorBytes = 16;

// Elements per 16-byte pack: 4 float32, 8 float16 or bfloat16.
template <class E>
constexpr int kVectorCount = kVectorBytes / static_cast<int>(sizeof(typename E::Storage));

// Calls fn(E{}) with the element type E of `dtype` (a C++17 generic lambda takes it as
// `auto element` and reads the type with decltype).
template <class Fn>
int with_element_type(DType dtype, Fn&& fn) {
  switch (dtype) {
  case DType::kFloat32:
    return fn(Float32{});
  case DType::kFloat16:
    return fn(Float16{});
  case DType::kBFloat16:
    return fn(BFloat16{});
  }
  return KGET_KERNEL_ERROR_INTERNAL;
}

// ---------------------------------------------------------------------------------------------
// Rows. The RowGrid travels by value as a kernel parameter; these read it with constant indices
// only (the loop is unrolled over kMaxRowDims), so it stays in the parameter bank instead of
// being copied to local memory.

// Element offsets of row `row` in grid tensors 0 and 1. Once per row, so the 64-bit divisions
// of the general case cost little; one merged dimension (the common case) needs none.
__device__ __forceinline__ void row_offsets(const RowGrid& grid, int64_t row, int64_t* first,
                                            int64_t* second) {
  if (grid.ndim <= 1) {
    *first = row * grid.stride[0][0];
    *second = row * grid.stride[1][0];
    return;
  }
  int64_t offset0 = 0;
  int64_t offset1 = 0;
#pragma unroll
  for (int d = kMaxRowDims - 1; d >= 0; --d) {
    if (d < grid.ndim) {
      const int64_t index = row % grid.extent[d];
      row /= grid.extent[d];
      offset0 += index * grid.stride[0][d];
      offset1 += index * grid.stride[1][d];
    }
  }
  *first = offset0;
  *second = offset1;
}

// True when every row of grid tensors 0 and 1 starts `kVectorBytes`-aligned given that the
// tensors' first elements do: each stride of a dimension with more than one index is a multiple
// of 16 bytes. (A dimension of extent 1 never moves the row, whatever its stride.)
inline bool row_strides_aligned(const RowGrid& grid, int64_t element_size) {
  for (int d = 0; d < grid.ndim; ++d) {
    if (grid.extent[d] <= 1) {
      continue;
    }
    for (int tensor = 0; tensor < 2; ++tensor) {
      if ((grid.stride[tensor][d] * element_size) % kVectorBytes != 0) {
        return false;
      }
    }
  }
  return true;
}

inline bool vector_aligned(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % kVectorBytes == 0;
}

// ---------------------------------------------------------------------------------------------
// Reductions (float32 sums).

constexpr int kWarpSize = 32;
constexpr int kMaxBlockThreads = 1024;

__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
  for (int lane_mask = kWarpSize / 2; lane_mask > 0; lane_mask /= 2) {
    value += __shfl_xor_sync(0xffffffffu, value, lane_mask);
  }
  return value;
}

// The sum of `value` over a 1-D block whose size is a multiple of 32; every thread gets it.
// Every thread of the block must call it (it synchronizes twice). Calling it again right away is
// safe: the partial sums are read before the second barrier, the total is rewritten only after
// the next call's first one.
__device__ __forceinline__ float block_sum(float value) {
  __shared__ float warp_sums[kMaxBlockThreads / kWarpSize];
  __shared__ float total;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  value = warp_sum(value);
  if (lane == 0) {
    warp_sums[warp] = value;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarpSize;
    value = warp_sum(lane < warps ? warp_sums[lane] : 0.0f);
    if (lane == 0) {
      total = value;
    }
  }
  __syncthreads();
  return total;
}

// ---------------------------------------------------------------------------------------------
// Errors. Every CUDA failure becomes KGET_KERNEL_ERROR_DEVICE (OUT_OF_MEMORY for allocation
// failures, INTERNAL for launch configurations the kernel should never make) with a message that
// names the op, the step, the CUDA error and what to do about it.

#define KGET_CUDA_STRINGIFY_(x) #x
#define KGET_CUDA_STRINGIFY(x) KGET_CUDA_STRINGIFY_(x)
// "CUDA 13.0" when compiled by nvcc 13.0, whose static runtime the variant links.
#define KGET_CUDA_RUNTIME_VERSION_TEXT                                                             \
  "CUDA " KGET_CUDA_STRINGIFY(__CUDACC_VER_MAJOR__) "." KGET_CUDA_STRINGIFY(__CUDACC_VER_MINOR__)

inline const char* cuda_error_advice(cudaError_t status) {
  switch (status) {
  case cudaErrorInsufficientDriver:
  case cudaErrorCallRequiresNewerDriver:
    // The runtime reports a missing libcuda.so.1 this way too.
    return "no NVIDIA driver was found (libcuda.so.1), or it is older than this variant's CUDA "
           "toolkit (" KGET_CUDA_RUNTIME_VERSION_TEXT ") needs: install or update the driver, or "
           "use a variant built with an older CUDA toolkit (kget chooses by driver version)";
  case cudaErrorNoDevice:
    return "no CUDA device is visible to this process: check that the NVIDIA driver is loaded "
           "(nvidia-smi) and CUDA_VISIBLE_DEVICES";
  case cudaErrorStubLibrary:
  case cudaErrorInitializationError:
  case cudaErrorSystemDriverMismatch:
  case cudaErrorCompatNotSupportedOnDevice:
    return "the CUDA driver could not be initialized: check the NVIDIA driver installation "
           "(nvidia-smi; libcuda.so.1 must be the real driver matching the kernel module, not the "
           "toolkit's stub)";
  case cudaErrorInvalidDevice:
    return "the tensors' device_id is not a visible CUDA device: check the DLTensor's device "
           "and CUDA_VISIBLE_DEVICES";
  case cudaErrorDevicesUnavailable:
    return "the GPU is unavailable (exclusive-process compute mode and in use elsewhere?): check "
           "nvidia-smi";
  case cudaErrorNoKernelImageForDevice:
  case cudaErrorInvalidKernelImage:
  case cudaErrorInvalidPtx:
  case cudaErrorUnsupportedPtxVersion:
  case cudaErrorJitCompilerNotFound:
  case cudaErrorSharedObjectInitFailed:
  case cudaErrorInvalidDeviceFunction:
    return "this variant has no code this GPU can run (no SASS for its compute capability, and "
           "the driver cannot compile the PTX): use a variant built for this GPU, or update the "
           "driver";
  case cudaErrorInvalidResourceHandle:
    return "the stream argument is not a valid CUDA stream: pass a stream created on the "
           "tensors' device, or NULL for the default stream";
  case cudaErrorMemoryAllocation:
    return "the device is out of memory";
  case cudaErrorIllegalAddress:
  case cudaErrorMisalignedAddress:
  case cudaErrorIllegalInstruction:
  case cudaErrorLaunchFailure:
    return "a kernel faulted (possibly an earlier one on this device: such errors are sticky); "
           "check that every tensor's data is memory of the device its DLTensor names. The "
           "process must be restarted to use this GPU again";
  case cudaErrorLaunchOutOfResources:
  case cudaErrorInvalidConfiguration:
    return "the kernel asked for a launch configuration this GPU cannot run: a bug in the "
           "kernel, please report it with the GPU model and tensor shapes";
  default:
    return "see the CUDA runtime documentation of this error";
  }
}

inline int cuda_error_status(cudaError_t status) {
  switch (status) {
  case cudaErrorMemoryAllocation:
    return KGET_KERNEL_ERROR_OUT_OF_MEMORY;
  case cudaErrorLaunchOutOfResources:
  case cudaErrorInvalidConfiguration:
    return KGET_KERNEL_ERROR_INTERNAL;
  default:
    return KGET_KERNEL_ERROR_DEVICE;
  }
}

// "<op> on CUDA device <device>: <step> failed: <cudaErrorName> (<description>); <advice>".
// Also takes the error off the runtime's per-thread last-error slot, where a failed
// cudaGetDevice/cudaSetDevice leaves it, so that the next call's launch check does not report
// this call's failure (sticky device errors stay, as they must).
inline int set_cuda_error(kget_error* error, cudaError_t status, const char* op, int device,
                          const char* step) {
  (void)cudaGetLastError();
  return kget_set_error(
      error, cuda_error_status(status), "%s on CUDA device %d: %s failed: %s (%s); %s", op, device,
      step, cudaGetErrorName(status), cudaGetErrorString(status), cuda_error_advice(status));
}

// After a launch: the launch's own error (bad configuration, no kernel image, bad stream), or a
// sticky error of the device.
inline int check_launch(kget_error* error, const char* op, int device) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    return set_cuda_error(error, status, op, device, "launching the kernel");
  }
  return KGET_KERNEL_OK;
}

// The driver's cuCtxGetCurrent/cuCtxSetCurrent, reached through the runtime (no link to
// libcuda): the runtime API cannot say whether a thread has a current context at all, and
// cudaSetDevice would create and leave one. Null members where the driver is missing or older
// than the entry-point query (CUDA 12.5).
struct ContextCalls {
  CUresult (*get_current)(CUcontext*) = nullptr;
  CUresult (*set_current)(CUcontext) = nullptr;
};

inline const ContextCalls& context_calls() {
  static const ContextCalls calls = [] {
    ContextCalls found;
    void* get = nullptr;
    void* set = nullptr;
    cudaDriverEntryPointQueryResult get_status = cudaDriverEntryPointSymbolNotFound;
    cudaDriverEntryPointQueryResult set_status = cudaDriverEntryPointSymbolNotFound;
    // Version 4000: the signatures these functions have had since CUDA 4.0.
    if (cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &get, 4000, cudaEnableDefault,
                                         &get_status) == cudaSuccess &&
        cudaGetDriverEntryPointByVersion("cuCtxSetCurrent", &set, 4000, cudaEnableDefault,
                                         &set_status) == cudaSuccess &&
        get_status == cudaDriverEntryPointSuccess && set_status == cudaDriverEntryPointSuccess) {
      found.get_current = reinterpret_cast<CUresult (*)(CUcontext*)>(get);
      found.set_current = reinterpret_cast<CUresult (*)(CUcontext)>(set);
    }
    (void)cudaGetLastError(); // a failed query is not the next op's error
    return found;
  }();
  return calls;
}

// Makes the tensors' device current for the launch and puts the calling thread's CUDA context
// back afterwards, exactly: the caller's own context, or none on a thread that had none (rather
// than the primary context of device 0 that cudaGetDevice/cudaSetDevice would leave), so that an
// op never changes the calling thread's CUDA state.
class DeviceGuard {
public:
  DeviceGuard() = default;
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
  ~DeviceGuard() {
    if (!switched_) {
      return;
    }
    // Nothing to report to: the op's result is already decided. A failed restore must not
    // become the next call's launch error.
    const ContextCalls& calls = context_calls();
    if (saved_context_known_) {
      (void)calls.set_current(saved_context_);
    } else if (cudaSetDevice(previous_) != cudaSuccess) {
      (void)cudaGetLastError();
    }
  }

  int enter(int device, const char* op, kget_error* error) {
    const ContextCalls& calls = context_calls();
    saved_context_known_ =
        calls.get_current != nullptr && calls.get_current(&saved_context_) == CUDA_SUCCESS;
    cudaError_t status = cudaGetDevice(&previous_);
    if (status != cudaSuccess) {
      return set_cuda_error(error, status, op, device, "cudaGetDevice");
    }
    // The caller's current context is on the tensors' device: launch into it, whichever it is.
    if (previous_ == device && (!saved_context_known_ || saved_context_ != nullptr)) {
      return KGET_KERNEL_OK;
    }
    status = cudaSetDevice(device);
    if (status != cudaSuccess) {
      return set_cuda_error(error, status, op, device, "cudaSetDevice");
    }
    switched_ = true;
    return KGET_KERNEL_OK;
  }

private:
  int previous_ = 0;
  CUcontext saved_context_ = nullptr;
  bool saved_context_known_ = false;
  bool switched_ = false;
};

// ---------------------------------------------------------------------------------------------
// Launch shapes.

// Grids are capped: blocks loop over the rows (and columns) beyond the cap, so any row count,
// past 2^31 included, runs. 2^16 blocks of >= 128 threads fill every current GPU many times.
constexpr int64_t kMaxGridBlocks = int64_t{1} << 16;
constexpr int64_t kMaxGridY = 65535; // gridDim.y and gridDim.z are 16-bit

inline int64_t ceil_div(int64_t value, int64_t divisor) {
  return (value + divisor - 1) / divisor;
}

inline int64_t round_up(int64_t value, int64_t multiple) {
  return ceil_div(value, multiple) * multiple;
}

} // namespace kget_kernels::cuda
