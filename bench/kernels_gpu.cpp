// CUDA kernels against the GPU's measured memory bandwidth (docs/kernels.md, "Performance").
//
// In one process: a device-to-device cuMemcpy of the same size as the kernels' traffic (the
// peer, what the memory system gives a plain copy), then RMSNorm, fused add + RMSNorm, GELU-fast
// and SiLU-and-mul through the CUDA variant libraries that `kget build` made (dlopen,
// kget_kernel_init, the op's C entry point, device tensors, a non-default stream). Each reports
// GB/s = (bytes read + bytes written) / time, counting each byte once, timed with CUDA events
// around the call; "copy%" compares with the copy's GB/s. Where no driver or GPU is present it says
// so and exits 0 without measuring.
//
//   export KGET_RMSNORM_CUDA_LIBRARY=.../build/kget1-cu130-x86_64-linux/librmsnorm.so
//   export KGET_ACTIVATION_CUDA_LIBRARY=.../build/kget1-cu130-x86_64-linux/libactivation.so
//   bench_kernels_gpu [--benchmark_repetitions=5]
#include "../tests/kernels/cuda_driver.h"
#include "../tests/kernels/kernel_test_support.h"

#include <benchmark/benchmark.h>
#include <cstdio>
#include <cstdlib>
#include <kget/kernel_abi.h>
#include <string>
#include <vector>

namespace {

namespace cuda = kget_kernel_tests::cuda;
using kget_kernel_tests::float_arg;
using kget_kernel_tests::KernelLibrary;
using kget_kernel_tests::stream_arg;
using kget_kernel_tests::tensor_arg;

// bfloat16 (kDLBfloat, 16 bits): what RMSNorm and the activations mostly see in LLM inference.
constexpr DLDataType k_bf16 = {kDLBfloat, 16, 1};
constexpr DLDataType k_fp32 = {kDLFloat, 32, 1};

size_t element_size(DLDataType dtype) {
  return dtype.bits / 8;
}

void fail(const std::string& what) {
  std::fprintf(stderr, "bench_kernels_gpu: %s\n", what.c_str());
  std::exit(1);
}

void check(const std::string& result) {
  if (!result.empty()) {
    fail(result);
  }
}

// The CUDA variant library named by `variable`, loaded as kget loads it.
const KernelLibrary& load_library(const char* variable) {
  const char* path = std::getenv(variable);
  if (path == nullptr || *path == '\0') {
    fail(std::string(variable) + " is not set: point it at the CUDA variant's library "
                                 "(kget build kernels/<name> writes build/kget1-cu130-*/lib*.so)");
  }
  const auto* library = new KernelLibrary(path); // kept for the process, like kget's
  if (!library->load_error().empty()) {
    fail(std::string(path) + ": " + library->load_error());
  }
  return *library;
}

// A contiguous device tensor, filled with small values so that no op overflows.
struct DeviceTensor {
  DeviceTensor(std::vector<int64_t> shape_in, DLDataType dtype) : shape(std::move(shape_in)) {
    size_t count = 1;
    for (int64_t extent : shape) {
      count *= static_cast<size_t>(extent);
    }
    bytes = count * element_size(dtype);
    check(buffer.allocate(bytes));
    check(buffer.fill(0x3c)); // 0x3c3c: about 0.0115 in bf16, 0.0115 in fp32 words too
    dl.data = reinterpret_cast<void*>(static_cast<uintptr_t>(buffer.address()));
    dl.device = {kDLCUDA, 0};
    dl.ndim = static_cast<int32_t>(shape.size());
    dl.dtype = dtype;
    dl.shape = shape.data();
  }
  std::vector<int64_t> shape;
  size_t bytes = 0;
  cuda::DeviceBuffer buffer;
  DLTensor dl{};
};

// GB/s of the largest device-to-device copy so far (the copy runs first): the 100% of "copy%".
double g_copy_gbps = 0;

// Times `launch` with events on `stream`; reports GB/s of `bytes` moved per call.
template <class Launch>
void run_timed(benchmark::State& state, cuda::CUstream stream, size_t bytes, Launch launch) {
  const cuda::DriverApi& api = cuda::Driver::instance().api();
  cuda::CUevent start = nullptr;
  cuda::CUevent stop = nullptr;
  api.cuEventCreate(&start, 0);
  api.cuEventCreate(&stop, 0);
  launch(); // warm up: module load, first-launch costs
  api.cuStreamSynchronize(stream);
  double seconds = 0;
  for (auto _ : state) {
    api.cuEventRecord(start, stream);
    launch();
    api.cuEventRecord(stop, stream);
    api.cuEventSynchronize(stop);
    float milliseconds = 0;
    api.cuEventElapsedTime(&milliseconds, start, stop);
    state.SetIterationTime(milliseconds / 1e3);
    seconds += milliseconds / 1e3;
  }
  api.cuEventDestroy(start);
  api.cuEventDestroy(stop);
  // Computed here from the event times, whichever clock the library would divide a rate by.
  double gbps = static_cast<double>(bytes) * state.iterations() / seconds / 1e9;
  state.counters["GB/s"] = gbps;
  if (g_copy_gbps > 0) {
    state.counters["copy%"] = 100.0 * gbps / g_copy_gbps;
  }
}

cuda::CUstream bench_stream() {
  static cuda::Stream stream;
  static bool created = false;
  if (!created) {
    check(stream.create());
    created = true;
  }
  return stream.handle();
}

void call_or_die(const KernelLibrary& library, const char* op, const std::vector<kget_arg>& args) {
  std::string message;
  if (kget_kernel_tests::call(library.op(op), args, &message) != KGET_KERNEL_OK) {
    fail(std::string(op) + " failed: " + message);
  }
}

// The peer: a device-to-device copy moving `bytes` (half read, half written).
void BM_DeviceCopy(benchmark::State& state) {
  size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  cuda::DeviceBuffer source;
  cuda::DeviceBuffer destination;
  check(source.allocate(bytes / 2));
  check(destination.allocate(bytes / 2));
  cuda::CUstream stream = bench_stream();
  const cuda::DriverApi& api = cuda::Driver::instance().api();
  run_timed(state, stream, bytes, [&] {
    api.cuMemcpyDtoDAsync(destination.address(), source.address(), bytes / 2, stream);
  });
  g_copy_gbps = state.counters["GB/s"];
}

void BM_RmsNorm(benchmark::State& state, DLDataType dtype) {
  static const KernelLibrary& library = load_library("KGET_RMSNORM_CUDA_LIBRARY");
  int64_t rows = state.range(0);
  int64_t hidden = state.range(1);
  DeviceTensor out({rows, hidden}, dtype);
  DeviceTensor input({rows, hidden}, dtype);
  DeviceTensor weight({hidden}, dtype);
  cuda::CUstream stream = bench_stream();
  std::vector<kget_arg> args = {tensor_arg(&out.dl), tensor_arg(&input.dl), tensor_arg(&weight.dl),
                                float_arg(1e-6), stream_arg(stream)};
  run_timed(state, stream, out.bytes + input.bytes + weight.bytes,
            [&] { call_or_die(library, "rms_norm", args); });
}

void BM_FusedAddRmsNorm(benchmark::State& state, DLDataType dtype) {
  static const KernelLibrary& library = load_library("KGET_RMSNORM_CUDA_LIBRARY");
  int64_t rows = state.range(0);
  int64_t hidden = state.range(1);
  DeviceTensor input({rows, hidden}, dtype);
  DeviceTensor residual({rows, hidden}, dtype);
  DeviceTensor weight({hidden}, dtype);
  cuda::CUstream stream = bench_stream();
  std::vector<kget_arg> args = {tensor_arg(&input.dl), tensor_arg(&residual.dl),
                                tensor_arg(&weight.dl), float_arg(1e-6), stream_arg(stream)};
  // Reads input and residual, writes both.
  run_timed(state, stream, 2 * (input.bytes + residual.bytes) + weight.bytes,
            [&] { call_or_die(library, "fused_add_rms_norm", args); });
}

void BM_GeluFast(benchmark::State& state, DLDataType dtype) {
  static const KernelLibrary& library = load_library("KGET_ACTIVATION_CUDA_LIBRARY");
  int64_t count = state.range(0) << 20;
  DeviceTensor out({count}, dtype);
  DeviceTensor input({count}, dtype);
  cuda::CUstream stream = bench_stream();
  std::vector<kget_arg> args = {tensor_arg(&out.dl), tensor_arg(&input.dl), stream_arg(stream)};
  run_timed(state, stream, out.bytes + input.bytes,
            [&] { call_or_die(library, "gelu_fast", args); });
}

void BM_SiluAndMul(benchmark::State& state, DLDataType dtype) {
  static const KernelLibrary& library = load_library("KGET_ACTIVATION_CUDA_LIBRARY");
  int64_t rows = state.range(0);
  int64_t d = state.range(1);
  DeviceTensor out({rows, d}, dtype);
  DeviceTensor input({rows, 2 * d}, dtype);
  cuda::CUstream stream = bench_stream();
  std::vector<kget_arg> args = {tensor_arg(&out.dl), tensor_arg(&input.dl), stream_arg(stream)};
  run_timed(state, stream, out.bytes + input.bytes,
            [&] { call_or_die(library, "silu_and_mul", args); });
}

void register_benchmarks() {
  // 256 MiB and 1 GiB of traffic: far beyond the 50-60 MiB L2 of an H100/H200.
  benchmark::RegisterBenchmark("copy/device_to_device", BM_DeviceCopy)
      ->Arg(256)
      ->Arg(1024)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  for (auto [name, dtype] : {std::pair{"bf16", k_bf16}, std::pair{"fp32", k_fp32}}) {
    benchmark::RegisterBenchmark((std::string("rms_norm/") + name).c_str(), BM_RmsNorm, dtype)
        ->Args({16384, 4096})
        ->Args({4096, 8192})
        ->Args({65536, 1024})
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("fused_add_rms_norm/") + name).c_str(),
                                 BM_FusedAddRmsNorm, dtype)
        ->Args({16384, 4096})
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("gelu_fast/") + name).c_str(), BM_GeluFast, dtype)
        ->Arg(64)
        ->Arg(256)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("silu_and_mul/") + name).c_str(), BM_SiluAndMul,
                                 dtype)
        ->Args({16384, 11008})
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

} // namespace

int main(int argc, char** argv) {
  const cuda::Driver& driver = cuda::Driver::instance();
  if (!driver.usable()) {
    std::printf("bench_kernels_gpu: skipped, %s\n", driver.unusable_reason().c_str());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
