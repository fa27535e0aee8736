// CPU kernels against the machine's memory bandwidth (docs/kernels.md, "Performance").
//
// In one process and one harness: STREAM copy (c = a) and triad (a = b + q c) on arrays far
// larger than the last-level cache, with as many threads as the kernels use; then RMSNorm,
// fused add + RMSNorm and the activations through the real libraries (dlopen,
// kget_kernel_init, the op's C entry point), and plain scalar loops as a naive baseline. Each
// reports GB/s = (bytes read + bytes written) / time, counting every byte once, as STREAM does
// (neither counts the write-allocate reads of the output); "copy%" and "triad%" compare with the
// STREAM copy and triad runs interleaved with that benchmark's own iterations (the machine this
// was written on shares its cores, and its bandwidth moves by a third within an hour). The table
// at the end has the best iteration (STREAM's convention, the least disturbed by neighbours) and
// the median run.
//
//   bench_kernels_cpu [--benchmark_repetitions=3]          # the best path of this CPU
//   KGET_KERNEL_CPU_ISA=scalar bench_kernels_cpu           # the portable path
#include "common/dtype.h"

#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <kget/kernel_abi.h>
#include <map>
#include <mutex>
#include <sched.h>
#include <string>
#include <thread>
#include <vector>

namespace {

using kget_kernels::DType;

// ---------------------------------------------------------------------------------------------
// A team of threads for STREAM: thread i always gets slice i, as OpenMP's static schedule in
// STREAM does, and the team sleeps (not spins) between runs so it does not slow the kernels.

int thread_count() {
  if (const char* text = std::getenv("KGET_KERNEL_CPU_THREADS")) {
    return std::max(1, std::atoi(text));
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

class Team {
public:
  explicit Team(int size) : size_(size) {
    for (int i = 1; i < size; ++i) {
      workers_.emplace_back([this, i] { loop(i); });
    }
  }
  ~Team() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) {
      worker.join();
    }
  }
  int size() const { return size_; }

  // Calls body(index) on every member, index 0 on this thread; returns when all are done.
  void run(const std::function<void(int)>& body) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      pending_ = size_ - 1;
      ++generation_;
    }
    wake_.notify_all();
    body(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

private:
  void loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* body = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) {
          return;
        }
        body = body_;
      }
      (*body)(index);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) {
        done_.notify_one();
      }
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* body_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

Team& team() {
  static Team instance(thread_count());
  return instance;
}

// [begin, end) of slice `index` of `count` items.
std::pair<size_t, size_t> slice(size_t count, int index, int parts) {
  const size_t begin = count * static_cast<size_t>(index) / static_cast<size_t>(parts);
  const size_t end = count * static_cast<size_t>(index + 1) / static_cast<size_t>(parts);
  return {begin, end};
}

// ---------------------------------------------------------------------------------------------
// Results, for the summary table.

struct Results {
  // By benchmark name: GB/s of every timed iteration (best = STREAM's "best of N") and of every
  // run (mean over its iterations).
  std::map<std::string, std::vector<double>> iterations;
  std::map<std::string, std::vector<double>> runs;
  std::map<std::string, double> copy_best;  // best paired STREAM copy, GB/s
  std::map<std::string, double> triad_best; // best paired STREAM triad, GB/s
  std::vector<std::string> order;

  void add(const std::string& name, const std::vector<double>& iteration_rates, double run_rate,
           double copy, double triad) {
    if (!runs.count(name)) {
      order.push_back(name);
    }
    copy_best[name] = std::max(copy_best[name], copy);
    triad_best[name] = std::max(triad_best[name], triad);
    iterations[name].insert(iterations[name].end(), iteration_rates.begin(), iteration_rates.end());
    runs[name].push_back(run_rate);
  }
  static double median_of(std::vector<double> values) {
    if (values.empty()) {
      return 0.0;
    }
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  }
  double median(const std::string& name) const {
    auto it = runs.find(name);
    return it == runs.end() ? 0.0 : median_of(it->second);
  }
  double best(const std::string& name) const {
    auto it = iterations.find(name);
    return it == iterations.end() || it->second.empty()
               ? 0.0
               : *std::max_element(it->second.begin(), it->second.end());
  }
};

Results& results() {
  static Results instance;
  return instance;
}

// ---------------------------------------------------------------------------------------------
// STREAM copy and triad.

constexpr size_t kStreamElements = size_t{1} << 25; // 32 Mi doubles = 256 MiB per array
constexpr double kCopyBytes = 16.0 * kStreamElements;
constexpr double kTriadBytes = 24.0 * kStreamElements;

struct StreamArrays {
  std::vector<double> a, b, c;
  StreamArrays() : a(kStreamElements), b(kStreamElements), c(kStreamElements) {
    // First touch by the thread that will use each slice.
    team().run([this](int index) {
      const auto [begin, end] = slice(kStreamElements, index, team().size());
      for (size_t i = begin; i < end; ++i) {
        a[i] = 1.0;
        b[i] = 2.0;
        c[i] = 0.0;
      }
    });
  }
};

StreamArrays& stream_arrays() {
  static StreamArrays arrays;
  return arrays;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One STREAM copy (c = a) over all threads; returns its time.
double stream_copy() {
  StreamArrays& s = stream_arrays();
  const auto start = std::chrono::steady_clock::now();
  team().run([&](int index) {
    const auto [begin, end] = slice(kStreamElements, index, team().size());
    double* __restrict c = s.c.data();
    const double* __restrict a = s.a.data();
    for (size_t i = begin; i < end; ++i) {
      c[i] = a[i];
    }
  });
  benchmark::ClobberMemory();
  return seconds_since(start);
}

// One STREAM triad (a = b + q c) over all threads; returns its time.
double stream_triad() {
  StreamArrays& s = stream_arrays();
  const auto start = std::chrono::steady_clock::now();
  team().run([&](int index) {
    const auto [begin, end] = slice(kStreamElements, index, team().size());
    double* __restrict a = s.a.data();
    const double* __restrict b = s.b.data();
    const double* __restrict c = s.c.data();
    const double q = 3.0;
    for (size_t i = begin; i < end; ++i) {
      a[i] = b[i] + q * c[i];
    }
  });
  benchmark::ClobberMemory();
  return seconds_since(start);
}

// Runs the benchmark loop and records GB/s = bytes / time per iteration. With `paired`, every
// iteration is followed by a STREAM copy or triad (alternately), so that the kernel is compared
// with the bandwidth of the same minutes: on a shared machine that bandwidth moves by a third
// within an hour. Counters: GB/s of this run (mean), and the best kernel iteration as a
// percentage of the best paired copy and triad.
template <class Body>
void measure(benchmark::State& state, const std::string& name, double bytes_per_iteration,
             bool paired, Body&& body) {
  std::vector<double> rates;
  double copy_best = 0.0;
  double triad_best = 0.0;
  double seconds = 0.0;
  for (auto _ : state) {
    const double elapsed = body();
    state.SetIterationTime(elapsed);
    rates.push_back(bytes_per_iteration / elapsed / 1e9);
    seconds += elapsed;
    if (paired) {
      if (rates.size() % 2 == 1) {
        copy_best = std::max(copy_best, kCopyBytes / stream_copy() / 1e9);
      } else {
        triad_best = std::max(triad_best, kTriadBytes / stream_triad() / 1e9);
      }
    }
  }
  if (paired && triad_best == 0.0) {
    triad_best = kTriadBytes / stream_triad() / 1e9;
  }
  const double rate = bytes_per_iteration * static_cast<double>(rates.size()) / seconds / 1e9;
  results().add(name, rates, rate, copy_best, triad_best);
  state.counters["GB/s"] = rate;
  if (paired) {
    const double best = *std::max_element(rates.begin(), rates.end());
    state.counters["copy%"] = 100.0 * best / copy_best;
    state.counters["triad%"] = 100.0 * best / triad_best;
  }
  state.counters["threads"] = team().size();
}

void BM_StreamCopy(benchmark::State& state) {
  measure(state, "STREAM copy", kCopyBytes, false, stream_copy);
}

void BM_StreamTriad(benchmark::State& state) {
  measure(state, "STREAM triad", kTriadBytes, false, stream_triad);
}

// ---------------------------------------------------------------------------------------------
// The kernels through their libraries.

kget_op_fn load_op(const char* library, const char* name) {
  void* handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "dlopen %s: %s\n", library, dlerror());
    std::exit(1);
  }
  auto init = reinterpret_cast<kget_kernel_init_fn>(dlsym(handle, KGET_KERNEL_INIT_SYMBOL));
  const kget_kernel_descriptor* descriptor = init ? init(1, 0) : nullptr;
  for (size_t i = 0; descriptor && i < descriptor->num_ops; ++i) {
    if (std::strcmp(descriptor->ops[i].name, name) == 0) {
      return descriptor->ops[i].call;
    }
  }
  std::fprintf(stderr, "%s: no op %s\n", library, name);
  std::exit(1);
}

int64_t element_size(DType dtype) {
  return dtype == DType::kFloat32 ? 4 : 2;
}

// A contiguous CPU tensor over storage filled with values in about [-3, 3] (in parallel, so the
// pages are spread like the data the kernels will see).
struct Buffer {
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint64_t> storage;
  DLTensor dl{};

  Buffer(DType type, std::vector<int64_t> dims) : dtype(type), shape(std::move(dims)) {
    int64_t count = 1;
    for (int64_t extent : shape) {
      count *= extent;
    }
    storage.resize(static_cast<size_t>((count * element_size(dtype) + 7) / 8));
    char* bytes = reinterpret_cast<char*>(storage.data());
    team().run([&](int index) {
      const auto [begin, end] = slice(static_cast<size_t>(count), index, team().size());
      for (size_t i = begin; i < end; ++i) {
        const float value = static_cast<float>(static_cast<int>(i % 6001) - 3000) / 1000.0f;
        if (dtype == DType::kFloat32) {
          std::memcpy(bytes + 4 * i, &value, 4);
        } else {
          const uint16_t bits = dtype == DType::kFloat16 ? kget_kernels::f32_to_f16(value)
                                                         : kget_kernels::f32_to_bf16(value);
          std::memcpy(bytes + 2 * i, &bits, 2);
        }
      }
    });
    dl.data = storage.data();
    dl.device = {kDLCPU, 0};
    dl.ndim = static_cast<int32_t>(shape.size());
    dl.dtype = {static_cast<uint8_t>(dtype == DType::kBFloat16 ? kDLBfloat : kDLFloat),
                static_cast<uint8_t>(8 * element_size(dtype)), 1};
    dl.shape = shape.data();
  }
  int64_t bytes() const {
    int64_t count = element_size(dtype);
    for (int64_t extent : shape) {
      count *= extent;
    }
    return count;
  }
};

kget_arg tensor(const Buffer& buffer) {
  kget_arg arg{};
  arg.kind = KGET_ARG_TENSOR;
  arg.value.tensor = &buffer.dl;
  return arg;
}

kget_arg number(double value) {
  kget_arg arg{};
  arg.kind = KGET_ARG_FLOAT;
  arg.value.f = value;
  return arg;
}

kget_arg stream() {
  kget_arg arg{};
  arg.kind = KGET_ARG_STREAM;
  return arg;
}

// Calls the op once; returns its time.
double run_op(benchmark::State& state, kget_op_fn op, const std::vector<kget_arg>& args) {
  kget_error error;
  error.message[0] = '\0';
  const auto start = std::chrono::steady_clock::now();
  const int status = op(args.data(), args.size(), &error);
  const double elapsed = seconds_since(start);
  if (status != KGET_KERNEL_OK) {
    state.SkipWithError(error.message);
  }
  return elapsed;
}

std::string label(const char* what, DType dtype) {
  return std::string(what) + " " + kget_kernels::dtype_name(dtype);
}

constexpr int64_t kRows = 8192;
constexpr int64_t kHidden = 8192;
constexpr int64_t kElements = int64_t{1} << 26; // 64 Mi elements for the elementwise ops

void BM_RmsNorm(benchmark::State& state, DType dtype, int64_t rows) {
  static const kget_op_fn op = load_op(KGET_RMSNORM_LIBRARY, "rms_norm");
  Buffer out(dtype, {rows, kHidden});
  Buffer input(dtype, {rows, kHidden});
  Buffer weight(dtype, {kHidden});
  const std::vector<kget_arg> args = {tensor(out), tensor(input), tensor(weight), number(1e-6),
                                      stream()};
  measure(state,
          label("rms_norm", dtype) + (rows < kRows ? " " + std::to_string(rows) + " rows" : ""),
          static_cast<double>(out.bytes() + input.bytes() + weight.bytes()),
          rows == kRows, // decode sizes take microseconds: no STREAM run after each call
          [&] { return run_op(state, op, args); });
}

void BM_FusedAddRmsNorm(benchmark::State& state, DType dtype) {
  static const kget_op_fn op = load_op(KGET_RMSNORM_LIBRARY, "fused_add_rms_norm");
  Buffer input(dtype, {kRows, kHidden});
  Buffer residual(dtype, {kRows, kHidden});
  Buffer weight(dtype, {kHidden});
  const std::vector<kget_arg> args = {tensor(input), tensor(residual), tensor(weight), number(1e-6),
                                      stream()};
  // Reads input and residual, writes both.
  measure(state, label("fused_add_rms_norm", dtype),
          static_cast<double>(2 * input.bytes() + 2 * residual.bytes() + weight.bytes()), true,
          [&] { return run_op(state, op, args); });
}

void BM_Unary(benchmark::State& state, const char* name, DType dtype) {
  const kget_op_fn op = load_op(KGET_ACTIVATION_LIBRARY, name);
  Buffer out(dtype, {kElements});
  Buffer input(dtype, {kElements});
  const std::vector<kget_arg> args = {tensor(out), tensor(input), stream()};
  measure(state, label(name, dtype), static_cast<double>(out.bytes() + input.bytes()), true,
          [&] { return run_op(state, op, args); });
}

void BM_Gated(benchmark::State& state, const char* name, DType dtype) {
  const kget_op_fn op = load_op(KGET_ACTIVATION_LIBRARY, name);
  Buffer out(dtype, {kElements / 4096, 4096});
  Buffer input(dtype, {kElements / 4096, 8192});
  const std::vector<kget_arg> args = {tensor(out), tensor(input), stream()};
  measure(state, label(name, dtype), static_cast<double>(out.bytes() + input.bytes()), true,
          [&] { return run_op(state, op, args); });
}

// ---------------------------------------------------------------------------------------------
// Plain scalar loops: what one writes without vectorizing or threading (one thread, float32
// math, libm's tanhf), compiled like the rest of this file.

float load_value(const char* bytes, int64_t i, DType dtype) {
  if (dtype == DType::kFloat32) {
    float value;
    std::memcpy(&value, bytes + 4 * i, 4);
    return value;
  }
  uint16_t bits;
  std::memcpy(&bits, bytes + 2 * i, 2);
  return dtype == DType::kFloat16 ? kget_kernels::f16_to_f32(bits)
                                  : kget_kernels::bf16_to_f32(bits);
}

void store_value(char* bytes, int64_t i, DType dtype, float value) {
  if (dtype == DType::kFloat32) {
    std::memcpy(bytes + 4 * i, &value, 4);
    return;
  }
  const uint16_t bits =
      dtype == DType::kFloat16 ? kget_kernels::f32_to_f16(value) : kget_kernels::f32_to_bf16(value);
  std::memcpy(bytes + 2 * i, &bits, 2);
}

void BM_ScalarLoopRmsNorm(benchmark::State& state, DType dtype) {
  Buffer out(dtype, {kRows, kHidden});
  Buffer input(dtype, {kRows, kHidden});
  Buffer weight(dtype, {kHidden});
  const char* x = reinterpret_cast<const char*>(input.storage.data());
  const char* w = reinterpret_cast<const char*>(weight.storage.data());
  char* y = reinterpret_cast<char*>(out.storage.data());
  measure(state, label("scalar loop rms_norm", dtype),
          static_cast<double>(out.bytes() + input.bytes() + weight.bytes()), true, [&] {
            const auto start = std::chrono::steady_clock::now();
            for (int64_t row = 0; row < kRows; ++row) {
              float sum = 0.0f;
              for (int64_t i = 0; i < kHidden; ++i) {
                const float value = load_value(x, row * kHidden + i, dtype);
                sum += value * value;
              }
              const float inverse = 1.0f / std::sqrt(sum / kHidden + 1e-6f);
              for (int64_t i = 0; i < kHidden; ++i) {
                store_value(y, row * kHidden + i, dtype,
                            load_value(x, row * kHidden + i, dtype) * inverse *
                                load_value(w, i, dtype));
              }
            }
            benchmark::ClobberMemory();
            return seconds_since(start);
          });
}

void BM_ScalarLoopGeluFast(benchmark::State& state, DType dtype) {
  Buffer out(dtype, {kElements});
  Buffer input(dtype, {kElements});
  const char* x = reinterpret_cast<const char*>(input.storage.data());
  char* y = reinterpret_cast<char*>(out.storage.data());
  measure(state, label("scalar loop gelu_fast", dtype),
          static_cast<double>(out.bytes() + input.bytes()), true, [&] {
            const auto start = std::chrono::steady_clock::now();
            for (int64_t i = 0; i < kElements; ++i) {
              const float v = load_value(x, i, dtype);
              store_value(y, i, dtype,
                          0.5f * v *
                              (1.0f + std::tanh(0.7978845608f * v * (1.0f + 0.044715f * v * v))));
            }
            benchmark::ClobberMemory();
            return seconds_since(start);
          });
}

void register_all() {
  auto configure = [](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);
  };
  configure(benchmark::RegisterBenchmark("stream/copy", BM_StreamCopy));
  configure(benchmark::RegisterBenchmark("stream/triad", BM_StreamTriad));
  const DType dtypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};
  for (DType dtype : dtypes) {
    const std::string suffix = kget_kernels::dtype_name(dtype);
    configure(
        benchmark::RegisterBenchmark(("rms_norm/" + suffix).c_str(), BM_RmsNorm, dtype, kRows));
    configure(benchmark::RegisterBenchmark(("fused_add_rms_norm/" + suffix).c_str(),
                                           BM_FusedAddRmsNorm, dtype));
    configure(benchmark::RegisterBenchmark(("gelu_fast/" + suffix).c_str(), BM_Unary, "gelu_fast",
                                           dtype));
  }
  for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
    const std::string suffix = kget_kernels::dtype_name(dtype);
    configure(benchmark::RegisterBenchmark(("gelu/" + suffix).c_str(), BM_Unary, "gelu", dtype));
    configure(benchmark::RegisterBenchmark(("silu_and_mul/" + suffix).c_str(), BM_Gated,
                                           "silu_and_mul", dtype));
    configure(benchmark::RegisterBenchmark(("gelu_tanh_and_mul/" + suffix).c_str(), BM_Gated,
                                           "gelu_tanh_and_mul", dtype));
  }
  // Decode-sized calls: latency, not bandwidth (one thread; below the pool's threshold).
  benchmark::RegisterBenchmark("rms_norm/bfloat16/1x8192", BM_RmsNorm, DType::kBFloat16, int64_t{1})
      ->Unit(benchmark::kMicrosecond)
      ->UseManualTime();
  benchmark::RegisterBenchmark("rms_norm/bfloat16/32x8192", BM_RmsNorm, DType::kBFloat16,
                               int64_t{32})
      ->Unit(benchmark::kMicrosecond)
      ->UseManualTime();
  for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
    const std::string suffix = kget_kernels::dtype_name(dtype);
    configure(benchmark::RegisterBenchmark(("scalar_loop/rms_norm/" + suffix).c_str(),
                                           BM_ScalarLoopRmsNorm, dtype));
    configure(benchmark::RegisterBenchmark(("scalar_loop/gelu_fast/" + suffix).c_str(),
                                           BM_ScalarLoopGeluFast, dtype));
  }
}

// Best iteration (as STREAM reports) and median of the runs' means as GB/s, and the best as a
// percentage of the best STREAM copy and triad paired with it (same minutes).
void print_summary() {
  const Results& r = results();
  const char* isa = std::getenv("KGET_KERNEL_CPU_ISA");
  std::printf("\n%d threads; CPU path %s; GB/s = (bytes read + bytes written) / time; copy%% and "
              "triad%% against the STREAM runs interleaved with each benchmark\n",
              team().size(), isa && *isa ? isa : "auto");
  std::printf("%-34s %9s %12s %7s %7s %11s %11s\n", "", "best GB/s", "median GB/s", "copy%",
              "triad%", "copy GB/s", "triad GB/s");
  for (const std::string& name : r.order) {
    const double best = r.best(name);
    const double copy = r.copy_best.at(name);
    const double triad = r.triad_best.at(name);
    if (copy > 0) {
      std::printf("%-34s %9.2f %12.2f %6.0f%% %6.0f%% %11.2f %11.2f\n", name.c_str(), best,
                  r.median(name), 100 * best / copy, 100 * best / triad, copy, triad);
    } else {
      std::printf("%-34s %9.2f %12.2f\n", name.c_str(), best, r.median(name));
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
