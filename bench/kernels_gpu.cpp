// CUDA kernels against the GPU's measured memory bandwidth (docs/kernels.md, "Performance").
//
// In one process: a device-to-device cuMemcpy (the peer, what the memory system gives a plain
// copy), then RMSNorm, fused add + RMSNorm, GELU-fast and SiLU-and-mul through the CUDA variant
// libraries that `kget build` made (dlopen, kget_kernel_init, the op's C entry point, device
// tensors of random values, a non-blocking stream). Each reports GB/s = (bytes read + bytes
// written) / time, counting each byte once, timed with CUDA events around each call, and "copy%",
// its share of the copy's GB/s. The copy reference is measured first, outside the benchmarks (a
// 1 GiB copy), so that every benchmark has it whatever --benchmark_filter selects. At the end it
// prints one summary line per benchmark: its GB/s and copy% (median over repetitions).
//
//   bench_kernels_gpu [--require-gpu] [--rmsnorm-library=PATH] [--activation-library=PATH]
//                     [Google Benchmark flags: --benchmark_repetitions=5,
//                      --benchmark_format=json, --benchmark_out=FILE --benchmark_out_format=json]
//
//   --rmsnorm-library=PATH      the CUDA variant of rmsnorm, else $KGET_RMSNORM_CUDA_LIBRARY
//   --activation-library=PATH   the CUDA variant of activation, else $KGET_ACTIVATION_CUDA_LIBRARY
//                               (kget build kernels/<name> writes build/kget1-cu130-*/lib<name>.so)
//   --require-gpu               exit 1, saying why, when there is no CUDA driver or device;
//                               without it that prints "bench_kernels_gpu: skipped, <why>" and
//                               exits 0. Either way a library that is not given, does not load,
//                               or whose ops fail on device 0 exits 1 before anything is measured.
//
// JSON: Google Benchmark's own (--benchmark_format=json on stdout, or --benchmark_out=FILE with
// --benchmark_out_format=json), with GB/s and copy% as counters and the device, driver and copy
// reference in "context". With --benchmark_format=json or csv the summary lines go to stderr, so
// that stdout stays one document. Every benchmark runs a fixed number of iterations (so that the
// summary sees exactly one run per repetition), which --benchmark_min_time does not change.
#include "../tests/kernels/cuda_driver.h"
#include "../tests/kernels/kernel_test_support.h"

#include <algorithm>
#include <benchmark/benchmark.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <kget/kernel_abi.h>
#include <map>
#include <random>
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

// Timed calls per benchmark run. Each moves 256 MiB to 2.2 GB, 0.06 to 0.5 ms on an H100/H200,
// so a run takes well under a second after its tensors are filled.
constexpr int64_t kIterations = 200;

size_t element_size(DLDataType dtype) {
  return dtype.bits / 8;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_kernels_gpu: %s\n", what.c_str());
  std::exit(1);
}

void check(const std::string& result) {
  if (!result.empty()) {
    fail(result);
  }
}

void check_driver(const char* call, cuda::CUresult result) {
  if (result != cuda::CUDA_SUCCESS) {
    fail(cuda::Driver::instance().describe(call, result));
  }
}

// --------------------------------------------------------------------------------------------
// Options

struct Options {
  bool require_gpu = false;
  std::string rmsnorm_library;    // from the command line, else the environment; "" if neither
  std::string activation_library; //
  bool machine_readable = false;  // --benchmark_format=json or csv: the summary goes to stderr
};

void print_usage() {
  std::printf(
      "usage: bench_kernels_gpu [--require-gpu] [--rmsnorm-library=PATH]\n"
      "                         [--activation-library=PATH] [Google Benchmark flags]\n"
      "  --rmsnorm-library=PATH     CUDA variant of rmsnorm (default $KGET_RMSNORM_CUDA_LIBRARY)\n"
      "  --activation-library=PATH  CUDA variant of activation (default "
      "$KGET_ACTIVATION_CUDA_LIBRARY)\n"
      "  --require-gpu              exit 1 instead of skipping without a CUDA driver or device\n"
      "Google Benchmark's flags follow (--benchmark_format=json, --benchmark_out=FILE, ...).\n");
}

// Takes this benchmark's own flags out of argv (Google Benchmark refuses flags it does not know).
Options parse_options(int* argc, char** argv) {
  Options options;
  options.rmsnorm_library = kget_kernel_tests::library_path("KGET_RMSNORM_CUDA_LIBRARY", "").path;
  options.activation_library =
      kget_kernel_tests::library_path("KGET_ACTIVATION_CUDA_LIBRARY", "").path;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string argument = argv[i];
    // The text after `flag` when the argument starts with it, else nullptr.
    const auto value_of = [&](const char* flag) -> const char* {
      const size_t length = std::strlen(flag);
      return argument.compare(0, length, flag) == 0 ? argv[i] + length : nullptr;
    };
    if (argument == "--require-gpu") {
      options.require_gpu = true;
    } else if (const char* rmsnorm = value_of("--rmsnorm-library=")) {
      options.rmsnorm_library = rmsnorm;
    } else if (const char* activation = value_of("--activation-library=")) {
      options.activation_library = activation;
    } else {
      if (argument == "--help") {
        print_usage(); // Google Benchmark's own usage follows
      }
      if (argument == "--benchmark_format=json" || argument == "--benchmark_format=csv") {
        options.machine_readable = true;
      }
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  return options;
}

// --------------------------------------------------------------------------------------------
// Libraries and tensors

// The CUDA variant at `path`, loaded as kget loads it, kept for the process; `flag` and
// `variable` name where it comes from, for the message when it is missing.
const KernelLibrary& load_library(const std::string& path, const char* flag, const char* variable) {
  if (path.empty()) {
    fail(std::string("no CUDA variant given: pass ") + flag + "=PATH or set " + variable +
         " (kget build kernels/<name> writes build/kget1-cu130-*/lib<name>.so)");
  }
  const auto* library = new KernelLibrary(path.c_str());
  if (!library->load_error().empty()) {
    fail(path + ": " + library->load_error());
  }
  return *library;
}

const KernelLibrary* g_rmsnorm = nullptr;
const KernelLibrary* g_activation = nullptr;

// Normally distributed values (sd 1, finite) of `dtype`, generated once per dtype: 16 Mi
// elements, from which tensors are filled (uploading is far cheaper than generating a GB).
const std::vector<unsigned char>& random_pool(DLDataType dtype) {
  static std::map<int, std::vector<unsigned char>> pools;
  std::vector<unsigned char>& pool = pools[dtype.code * 256 + dtype.bits];
  if (pool.empty()) {
    constexpr size_t kCount = size_t{1} << 24;
    pool.resize(kCount * element_size(dtype));
    std::mt19937_64 engine(0x6b676574u + dtype.code * 256 + dtype.bits);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (size_t i = 0; i < kCount; ++i) {
      const float value = normal(engine);
      if (dtype.bits == 32) {
        std::memcpy(&pool[4 * i], &value, 4);
      } else {
        const uint16_t bits = dtype.code == kDLBfloat ? kget_kernels::f32_to_bf16(value)
                                                      : kget_kernels::f32_to_f16(value);
        std::memcpy(&pool[2 * i], &bits, 2);
      }
    }
  }
  return pool;
}

// A contiguous device tensor of random values: the pool from a start that differs per tensor,
// wrapping around, so that no two tensors of a benchmark hold the same data.
struct DeviceTensor {
  DeviceTensor(std::vector<int64_t> shape_in, DLDataType dtype) : shape(std::move(shape_in)) {
    static size_t tensors = 0;
    size_t count = 1;
    for (int64_t extent : shape) {
      count *= static_cast<size_t>(extent);
    }
    bytes = count * element_size(dtype);
    check(buffer.allocate(bytes));
    const std::vector<unsigned char>& pool = random_pool(dtype);
    size_t source = (++tensors * 7919 * element_size(dtype)) % pool.size();
    for (size_t offset = 0; offset < bytes;) {
      const size_t chunk = std::min(bytes - offset, pool.size() - source);
      check(buffer.upload(offset, pool.data() + source, chunk));
      offset += chunk;
      source = (source + chunk) % pool.size();
    }
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

// --------------------------------------------------------------------------------------------
// Timing

// GB/s of a 1 GiB device-to-device copy, measured before the benchmarks: the 100% of "copy%".
double g_copy_gbps = 0;

// GB/s per run of each benchmark (one run per repetition), for the summary.
std::map<std::string, std::vector<double>>& results() {
  static std::map<std::string, std::vector<double>> by_label;
  return by_label;
}
std::vector<std::string>& result_order() {
  static std::vector<std::string> labels;
  return labels;
}

// Times calls on one stream with a pair of CUDA events around each.
class EventTimer {
public:
  explicit EventTimer(cuda::CUstream stream) : stream_(stream) {
    check_driver("cuEventCreate", api().cuEventCreate(&start_, 0));
    check_driver("cuEventCreate", api().cuEventCreate(&stop_, 0));
  }
  ~EventTimer() {
    api().cuEventDestroy(start_);
    api().cuEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Everything on the device done, then `launch` once untimed (module load, first-launch costs).
  // The tensors' uploads come from pageable memory, whose DMA may still be running when
  // cuMemcpyHtoD returns.
  template <class Launch>
  void warm_up(Launch launch) {
    check_driver("cuCtxSynchronize", api().cuCtxSynchronize());
    launch();
    check_driver("cuStreamSynchronize", api().cuStreamSynchronize(stream_));
  }

  // Seconds `launch` took on the stream.
  template <class Launch>
  double time(Launch launch) {
    api().cuEventRecord(start_, stream_);
    launch();
    api().cuEventRecord(stop_, stream_);
    check_driver("cuEventSynchronize", api().cuEventSynchronize(stop_));
    float milliseconds = 0;
    check_driver("cuEventElapsedTime", api().cuEventElapsedTime(&milliseconds, start_, stop_));
    return milliseconds / 1e3;
  }

private:
  static const cuda::DriverApi& api() { return cuda::Driver::instance().api(); }

  cuda::CUstream stream_;
  cuda::CUevent start_ = nullptr;
  cuda::CUevent stop_ = nullptr;
};

// Times `launch` in the benchmark loop; reports GB/s of `bytes` moved per call, and keeps it for
// the summary under `label`.
template <class Launch>
void run_timed(benchmark::State& state, const std::string& label, size_t bytes, Launch launch) {
  EventTimer timer(bench_stream());
  timer.warm_up(launch);
  double seconds = 0;
  for (auto _ : state) {
    const double call = timer.time(launch);
    state.SetIterationTime(call);
    seconds += call;
  }
  // Computed here from the event times, whichever clock the library would divide a rate by.
  const double gbps =
      static_cast<double>(bytes) * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["GB/s"] = gbps;
  state.counters["copy%"] = 100.0 * gbps / g_copy_gbps;
  if (results().find(label) == results().end()) {
    result_order().push_back(label);
  }
  results()[label].push_back(gbps);
}

// The reference: GB/s of a device-to-device copy of `bytes` of traffic (half read, half
// written), the mean over 50 copies.
double measure_copy_gbps(size_t bytes) {
  cuda::DeviceBuffer source;
  cuda::DeviceBuffer destination;
  check(source.allocate(bytes / 2));
  check(destination.allocate(bytes / 2));
  cuda::CUstream stream = bench_stream();
  const cuda::DriverApi& api = cuda::Driver::instance().api();
  const auto copy = [&] {
    check_driver("cuMemcpyDtoDAsync_v2",
                 api.cuMemcpyDtoDAsync(destination.address(), source.address(), bytes / 2, stream));
  };
  EventTimer timer(stream);
  timer.warm_up(copy);
  constexpr int kCopies = 50;
  double seconds = 0;
  for (int i = 0; i < kCopies; ++i) {
    seconds += timer.time(copy);
  }
  return static_cast<double>(bytes) * kCopies / seconds / 1e9;
}

std::string shape_label(const std::string& name, const std::vector<int64_t>& extents) {
  std::string label = name + "/";
  for (size_t i = 0; i < extents.size(); ++i) {
    label += (i ? "x" : "") + std::to_string(extents[i]);
  }
  return label;
}

// --------------------------------------------------------------------------------------------
// Benchmarks

// The peer at other sizes: a device-to-device copy moving `bytes` (half read, half written).
void BM_DeviceCopy(benchmark::State& state, const std::string& name) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  cuda::DeviceBuffer source;
  cuda::DeviceBuffer destination;
  check(source.allocate(bytes / 2));
  check(destination.allocate(bytes / 2));
  cuda::CUstream stream = bench_stream();
  const cuda::DriverApi& api = cuda::Driver::instance().api();
  run_timed(state, shape_label(name, {state.range(0)}) + "MiB", bytes, [&] {
    api.cuMemcpyDtoDAsync(destination.address(), source.address(), bytes / 2, stream);
  });
}

void BM_RmsNorm(benchmark::State& state, const std::string& name, DLDataType dtype) {
  const int64_t rows = state.range(0);
  const int64_t hidden = state.range(1);
  DeviceTensor out({rows, hidden}, dtype);
  DeviceTensor input({rows, hidden}, dtype);
  DeviceTensor weight({hidden}, dtype);
  const std::vector<kget_arg> args = {tensor_arg(&out.dl), tensor_arg(&input.dl),
                                      tensor_arg(&weight.dl), float_arg(1e-6),
                                      stream_arg(bench_stream())};
  run_timed(state, shape_label(name, {rows, hidden}), out.bytes + input.bytes + weight.bytes,
            [&] { call_or_die(*g_rmsnorm, "rms_norm", args); });
}

void BM_FusedAddRmsNorm(benchmark::State& state, const std::string& name, DLDataType dtype) {
  const int64_t rows = state.range(0);
  const int64_t hidden = state.range(1);
  DeviceTensor input({rows, hidden}, dtype);
  DeviceTensor residual({rows, hidden}, dtype);
  DeviceTensor weight({hidden}, dtype);
  const std::vector<kget_arg> args = {tensor_arg(&input.dl), tensor_arg(&residual.dl),
                                      tensor_arg(&weight.dl), float_arg(1e-6),
                                      stream_arg(bench_stream())};
  // Reads input and residual, writes both. In place, call after call: the residual grows about
  // like the square root of the calls, far from overflowing in either dtype.
  run_timed(state, shape_label(name, {rows, hidden}),
            2 * (input.bytes + residual.bytes) + weight.bytes,
            [&] { call_or_die(*g_rmsnorm, "fused_add_rms_norm", args); });
}

void BM_GeluFast(benchmark::State& state, const std::string& name, DLDataType dtype) {
  const int64_t count = state.range(0) << 20;
  DeviceTensor out({count}, dtype);
  DeviceTensor input({count}, dtype);
  const std::vector<kget_arg> args = {tensor_arg(&out.dl), tensor_arg(&input.dl),
                                      stream_arg(bench_stream())};
  run_timed(state, shape_label(name, {state.range(0)}) + "Mi", out.bytes + input.bytes,
            [&] { call_or_die(*g_activation, "gelu_fast", args); });
}

void BM_SiluAndMul(benchmark::State& state, const std::string& name, DLDataType dtype) {
  const int64_t rows = state.range(0);
  const int64_t d = state.range(1);
  DeviceTensor out({rows, d}, dtype);
  DeviceTensor input({rows, 2 * d}, dtype);
  const std::vector<kget_arg> args = {tensor_arg(&out.dl), tensor_arg(&input.dl),
                                      stream_arg(bench_stream())};
  run_timed(state, shape_label(name, {rows, d}), out.bytes + input.bytes,
            [&] { call_or_die(*g_activation, "silu_and_mul", args); });
}

// Registers `function(state, name, extra...)` under `name`, timed by the events.
template <class Function, class... Extra>
benchmark::internal::Benchmark* add(const std::string& name, Function function, Extra... extra) {
  return benchmark::RegisterBenchmark(
             name.c_str(), [=](benchmark::State& state) { function(state, name, extra...); })
      ->UseManualTime()
      ->Iterations(kIterations)
      ->Unit(benchmark::kMicrosecond);
}

void register_benchmarks() {
  // 256 MiB and 1 GiB of traffic: far beyond the 50-60 MiB L2 of an H100/H200.
  add("copy/device_to_device", BM_DeviceCopy)->Arg(256)->Arg(1024);
  for (auto [dtype_name, dtype] : {std::pair{"bf16", k_bf16}, std::pair{"fp32", k_fp32}}) {
    const std::string suffix = std::string("/") + dtype_name;
    add("rms_norm" + suffix, BM_RmsNorm, dtype)
        ->Args({16384, 4096})
        ->Args({4096, 8192})
        ->Args({65536, 1024});
    add("fused_add_rms_norm" + suffix, BM_FusedAddRmsNorm, dtype)->Args({16384, 4096});
    add("gelu_fast" + suffix, BM_GeluFast, dtype)->Arg(64)->Arg(256);
    add("silu_and_mul" + suffix, BM_SiluAndMul, dtype)->Args({16384, 11008});
  }
}

// One small call of an op of each library and a synchronization: the variant can run on this
// GPU (it has code for it, the driver is new enough), before anything is measured.
void probe_variants() {
  DeviceTensor input({4, 64}, k_bf16);
  DeviceTensor out({4, 64}, k_bf16);
  DeviceTensor weight({64}, k_bf16);
  call_or_die(*g_rmsnorm, "rms_norm",
              {tensor_arg(&out.dl), tensor_arg(&input.dl), tensor_arg(&weight.dl), float_arg(1e-6),
               stream_arg(bench_stream())});
  call_or_die(*g_activation, "gelu_fast",
              {tensor_arg(&out.dl), tensor_arg(&input.dl), stream_arg(bench_stream())});
  const cuda::CUresult synchronized = cuda::Driver::instance().api().cuCtxSynchronize();
  if (synchronized != cuda::CUDA_SUCCESS) {
    fail("the CUDA variants' kernels failed on device 0: " +
         cuda::Driver::instance().describe("cuCtxSynchronize", synchronized));
  }
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

void print_summary(FILE* to, const std::string& device) {
  // "summary " first on every line, so that a log mixed with JSON can be grepped for them.
  std::fprintf(to, "summary device %s: device-to-device copy %.1f GB/s (1 GiB)\n", device.c_str(),
               g_copy_gbps);
  for (const std::string& label : result_order()) {
    const std::vector<double>& runs = results()[label];
    const double gbps = median(runs);
    std::fprintf(to, "summary %-36s %8.1f GB/s %6.1f%% of copy (median of %zu runs)\n",
                 label.c_str(), gbps, 100.0 * gbps / g_copy_gbps, runs.size());
  }
}

} // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(&argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  const cuda::Driver& driver = cuda::Driver::instance();
  if (!driver.usable()) {
    if (options.require_gpu) {
      fail("--require-gpu: " + driver.unusable_reason());
    }
    std::printf("bench_kernels_gpu: skipped, %s\n", driver.unusable_reason().c_str());
    return 0;
  }
  g_rmsnorm =
      &load_library(options.rmsnorm_library, "--rmsnorm-library", "KGET_RMSNORM_CUDA_LIBRARY");
  g_activation = &load_library(options.activation_library, "--activation-library",
                               "KGET_ACTIVATION_CUDA_LIBRARY");
  probe_variants();

  char name[256] = "unknown GPU";
  cuda::CUdevice device = 0;
  if (driver.api().cuDeviceGet(&device, 0) != cuda::CUDA_SUCCESS ||
      driver.api().cuDeviceGetName(name, sizeof name, device) != cuda::CUDA_SUCCESS) {
    std::snprintf(name, sizeof name, "unknown GPU");
  }
  const std::string device_text = std::string(name) + " (sm_" +
                                  std::to_string(driver.compute_capability()) + ", driver CUDA " +
                                  std::to_string(driver.version() / 1000) + "." +
                                  std::to_string(driver.version() % 1000 / 10) + ")";
  g_copy_gbps = measure_copy_gbps(size_t{1} << 30);
  benchmark::AddCustomContext("device", device_text);
  benchmark::AddCustomContext("copy_reference_gbps", std::to_string(g_copy_gbps));
  benchmark::AddCustomContext("rmsnorm_library", options.rmsnorm_library);
  benchmark::AddCustomContext("activation_library", options.activation_library);

  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary(options.machine_readable ? stderr : stdout, device_text);
  return 0;
}
