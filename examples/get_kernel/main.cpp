// kget-example: fetch a kernel with kget::get_kernel, say what was chosen and why, and run its ops
// on the CPU against a float64 reference computed here. An application's use of kget in one file;
// copy what you need. C++17, linked with libkget only.
//
//   kget-example kernels-community/relu@1
//
// Settings come from the environment (KGET_ENDPOINT, KGET_CACHE, KGET_OFFLINE, KGET_DEVICE...;
// `kget env` lists them). Exit status: 0 when every op it ran matched, 1 when one did not, and
// the kget::ErrorKind's number when kget failed (5 not_found, 6 no_compatible_variant...).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <kget/kget.hpp>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

// A float32 CPU tensor that owns its data, and the DLTensor describing it. DLPack wants a
// DLTensor per call site; this one stays valid as long as the HostTensor does not move.
class HostTensor {
public:
  explicit HostTensor(std::vector<int64_t> shape) : m_shape(std::move(shape)) {
    size_t count = 1;
    for (int64_t extent : m_shape) {
      count *= static_cast<size_t>(extent);
    }
    m_data.assign(count, 0.0f);
    m_tensor.data = m_data.data();
    m_tensor.device = {kDLCPU, 0};
    m_tensor.ndim = static_cast<int32_t>(m_shape.size());
    m_tensor.dtype = {kDLFloat, 32, 1};
    m_tensor.shape = m_shape.data();
    m_tensor.strides = nullptr; // compact row-major
    m_tensor.byte_offset = 0;
  }
  HostTensor(const HostTensor&) = delete;
  HostTensor& operator=(const HostTensor&) = delete;

  std::vector<float>& values() { return m_data; }
  const DLTensor& dl() const { return m_tensor; }

private:
  std::vector<int64_t> m_shape;
  std::vector<float> m_data;
  DLTensor m_tensor{};
};

void fill_uniform(std::vector<float>& values, std::mt19937& random, float low, float high) {
  std::uniform_real_distribution<float> distribution(low, high);
  for (float& value : values) {
    value = distribution(random);
  }
}

// Compares a result with its float64 reference: |got - want| <= atol + rtol |want| everywhere.
bool report(const std::string& op, const std::vector<float>& got, const std::vector<double>& want,
            double atol, double rtol) {
  double max_error = 0.0;
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i) {
    double error = std::fabs(static_cast<double>(got[i]) - want[i]);
    max_error = std::fmax(max_error, error);
    if (!(error <= atol + rtol * std::fabs(want[i]))) { // NaN fails too
      ok = false;
    }
  }
  char allowed[64] = "must be exact";
  if (atol != 0.0 || rtol != 0.0) {
    std::snprintf(allowed, sizeof allowed, "allowed %g + %g |x|", atol, rtol);
  }
  std::printf("%-10s %zu values, max abs error %.3g (%s): %s\n", op.c_str(), got.size(), max_error,
              allowed, ok ? "PASS" : "FAIL");
  return ok;
}

// relu(Tensor! out, Tensor input) -> (): max(x, 0), exact.
bool check_relu(const kget::Op& relu, std::mt19937& random) {
  HostTensor input({4, 1000});
  HostTensor out({4, 1000});
  fill_uniform(input.values(), random, -4.0f, 4.0f);
  relu(out.dl(), input.dl());
  std::vector<double> want;
  for (float x : input.values()) {
    want.push_back(x > 0.0f ? static_cast<double>(x) : 0.0);
  }
  return report("relu", out.values(), want, 0.0, 0.0);
}

// rms_norm(Tensor! out, Tensor input, Tensor weight, float eps, Stream stream) -> ():
// out = x / sqrt(mean(x^2) + eps) * weight, per row of the last dimension.
bool check_rms_norm(const kget::Op& rms_norm, std::mt19937& random) {
  const int64_t rows = 8;
  const int64_t hidden = 1024;
  const double eps = 1e-6;
  HostTensor input({rows, hidden});
  HostTensor weight({hidden});
  HostTensor out({rows, hidden});
  fill_uniform(input.values(), random, -4.0f, 4.0f);
  fill_uniform(weight.values(), random, 0.5f, 1.5f);
  rms_norm(out.dl(), input.dl(), weight.dl(), eps, kget::Stream{});
  std::vector<double> want;
  for (int64_t row = 0; row < rows; ++row) {
    const float* x = input.values().data() + row * hidden;
    double sum_of_squares = 0.0;
    for (int64_t i = 0; i < hidden; ++i) {
      sum_of_squares += static_cast<double>(x[i]) * x[i];
    }
    double inv_rms = 1.0 / std::sqrt(sum_of_squares / static_cast<double>(hidden) + eps);
    for (int64_t i = 0; i < hidden; ++i) {
      want.push_back(static_cast<double>(x[i]) * inv_rms * weight.values()[i]);
    }
  }
  return report("rms_norm", out.values(), want, 1e-6, 1e-5);
}

// gelu_fast(Tensor! out, Tensor input, Stream stream) -> ():
// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise.
bool check_gelu_fast(const kget::Op& gelu_fast, std::mt19937& random) {
  HostTensor input({4, 1000});
  HostTensor out({4, 1000});
  fill_uniform(input.values(), random, -6.0f, 6.0f);
  gelu_fast(out.dl(), input.dl(), kget::Stream{});
  const double sqrt_2_over_pi = std::sqrt(2.0 / 3.14159265358979323846);
  std::vector<double> want;
  for (float value : input.values()) {
    double x = value;
    want.push_back(0.5 * x * (1.0 + std::tanh(sqrt_2_over_pi * (x + 0.044715 * x * x * x))));
  }
  return report("gelu_fast", out.values(), want, 1e-6, 1e-5);
}

void describe(const kget::Kernel& kernel) {
  std::printf("kernel     %s\n", kernel.repo_id().c_str());
  std::printf("variant    %s\n", kernel.variant().c_str());
  std::printf("why        %s\n", kernel.reason().c_str());
  if (!kernel.commit().empty()) {
    std::printf("commit     %s (%s)\n", kernel.commit().c_str(), kernel.revision().c_str());
  } else {
    std::printf("revision   %s\n", kernel.revision().c_str());
  }
  std::printf("from       %s\n", kernel.source().c_str());
  std::printf("library    %s\n", kernel.library_path().c_str());
  for (const auto& warning : kernel.warnings()) {
    std::printf("warning    %s\n", warning.c_str());
  }
  const auto ops = kernel.ops();
  std::printf("ops        %zu\n", ops.size());
  for (const auto& op : ops) {
    std::printf("  %s\n", op.schema().c_str());
  }
}

// Runs each op this example knows that the kernel has; false when one gave a wrong result.
bool run_known_ops(const kget::Kernel& kernel) {
  using Check = bool (*)(const kget::Op&, std::mt19937&);
  const std::pair<const char*, Check> known[] = {
      {"relu", &check_relu}, {"rms_norm", &check_rms_norm}, {"gelu_fast", &check_gelu_fast}};
  std::mt19937 random(20240611); // fixed: the same data on every run
  bool all_ok = true;
  bool any = false;
  for (const auto& [name, check] : known) {
    if (kernel.has_op(name)) {
      any = true;
      all_ok = check(kernel.op(name), random) && all_ok;
    }
  }
  if (!any) {
    std::printf("this example runs relu, rms_norm and gelu_fast; %s has none of them\n",
                kernel.repo_id().c_str());
  }
  return all_ok;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ORG/NAME@SPEC   (e.g. kernels-community/relu@1)\n", argv[0]);
    return static_cast<int>(kget::ErrorKind::usage);
  }
  try {
    kget::Options options; // every setting from the environment
    std::mutex print_mutex;
    options.progress = [&print_mutex](const kget::Progress& progress) {
      if (progress.done) { // downloads run in parallel: one line per finished file
        std::lock_guard<std::mutex> lock(print_mutex);
        std::printf("downloaded %s (%llu bytes)\n", progress.file.c_str(),
                    static_cast<unsigned long long>(progress.total));
      }
    };
    std::printf("kget %s: get_kernel(\"%s\")\n", kget::version(), argv[1]);
    kget::Kernel kernel = kget::get_kernel(argv[1], options);
    describe(kernel);
    return run_known_ops(kernel) ? 0 : 1;
  } catch (const kget::Error& error) {
    std::fprintf(stderr, "kget-example: %s error: %s\n", kget::to_string(error.kind()),
                 error.what());
    return static_cast<int>(error.kind());
  }
}
