// Warm kget::get_kernel to a callable op, as an application calls it: libkget.so and
// <kget/kget.hpp> only. Set-up publishes the example relu kernel (examples/minimal_kernel) with
// the kget CLI to a file:// store and to a kget-registry started here on a loopback port, and
// pulls it once from each; every benchmark then asks again for a kernel that is in the cache.
//
//   build-bench/bench/bench_get_kernel [--benchmark_min_time=2]
//
// Each iteration is timed on its own (UseManualTime); the counters median_us and p99_us are over
// the iterations of the last run, and requests counts the registry's access-log lines per call.
// Peers in the same run: one libcurl GET of the same refs route on a new connection (what an
// online @1 must at least pay), and the op itself on 4096 floats. Results: docs/benchmarks.md.
#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <curl/curl.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <kget/kget.hpp>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace fs = std::filesystem;

namespace {

constexpr const char* repo = "kernels-community/relu";
constexpr const char* push_token = "bench-token";

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_get_kernel: %s\n", message.c_str());
  std::exit(1);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) {
    die("cannot write " + path.string());
  }
}

// The first line a shell command prints; the command must succeed. Only for set-up, whose paths
// come from mkdtemp and the build and hold no quotes.
std::string shell_line(const std::string& command) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    die("cannot run: " + command);
  }
  char buffer[512] = {};
  std::string line = std::fgets(buffer, sizeof buffer, pipe) != nullptr ? buffer : "";
  if (::pclose(pipe) != 0) {
    die("failed: " + command);
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.pop_back();
  }
  return line;
}

void run_shell(const std::string& command) {
  if (std::system(command.c_str()) != 0) {
    die("failed: " + command);
  }
}

size_t count_lines(const fs::path& path) {
  std::string text = read_text(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Per-iteration times, reported as the median and the 99th percentile in microseconds.
class Samples {
public:
  explicit Samples(benchmark::State& state) : m_state(state) {
    m_ns.reserve(static_cast<size_t>(state.max_iterations));
  }
  Samples(const Samples&) = delete;
  Samples& operator=(const Samples&) = delete;

  template <class Body>
  void time(Body&& body) {
    auto start = std::chrono::steady_clock::now();
    body();
    auto elapsed = std::chrono::steady_clock::now() - start;
    double ns = std::chrono::duration<double, std::nano>(elapsed).count();
    m_ns.push_back(ns);
    m_state.SetIterationTime(ns * 1e-9);
  }

  ~Samples() {
    if (m_ns.empty()) {
      return;
    }
    std::sort(m_ns.begin(), m_ns.end());
    auto at = [&](double quantile) {
      return m_ns[std::min(m_ns.size() - 1, static_cast<size_t>(quantile * m_ns.size()))] / 1e3;
    };
    m_state.counters["median_us"] = at(0.5);
    m_state.counters["p99_us"] = at(0.99);
  }

private:
  benchmark::State& m_state;
  std::vector<double> m_ns;
};

// The kernel published and pulled once into two caches, and the registry serving it.
struct World {
  fs::path work;
  fs::path access_log;
  std::string http_endpoint;
  std::string file_endpoint;
  fs::path http_cache; // filled from kget-registry
  fs::path file_cache; // filled from the file:// store
  std::string http_commit;
  std::string file_commit;
  pid_t registry = -1;

  void set_up();
  void start_registry();
  void tear_down();
  kget::Options options(const std::string& endpoint, const fs::path& cache) const {
    kget::Options result;
    result.endpoint = endpoint;
    result.cache_dir = cache.string();
    result.offline = false;
    return result;
  }
};

World world;

void World::start_registry() {
  write_text(work / "tokens", std::string(push_token) + "\n");
  fs::path out = work / "registry.out";
  std::string store = (work / "registry-store").string();
  std::string tokens = (work / "tokens").string();
  std::string log = access_log.string();
  std::vector<std::string> args = {
      KGET_REGISTRY_BINARY, "--root", store,          "--listen", "127.0.0.1:0",
      "--token-file",       tokens,   "--access-log", log};
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (::posix_spawn(&registry, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    die(std::string("cannot start ") + KGET_REGISTRY_BINARY);
  }
  posix_spawn_file_actions_destroy(&actions);
  const std::string marker = "listening on ";
  for (int attempt = 0; attempt < 100 && http_endpoint.empty(); ++attempt) {
    std::string text = read_text(out);
    if (size_t at = text.find(marker); at != std::string::npos) {
      size_t end = text.find(' ', at + marker.size());
      http_endpoint = text.substr(at + marker.size(), end - at - marker.size());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (http_endpoint.empty()) {
    die("kget-registry did not start: " + read_text(out));
  }
}

void World::set_up() {
  // TMPDIR picks the filesystem of the caches: a warm pull may write there (refs/<name>).
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                        "/kget-bench-get-kernel-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    die("mkdtemp failed in " + pattern);
  }
  work = pattern;
  access_log = work / "access.log";
  // Nothing from the caller's settings reaches the caches or the registry measured here.
  for (const char* name : {"KGET_ENDPOINT", "HF_ENDPOINT", "KGET_MIRRORS", "KGET_TOKEN", "HF_TOKEN",
                           "KGET_OFFLINE", "HF_HUB_OFFLINE", "KGET_CACHE", "KERNELS_CACHE",
                           "HF_HUB_CACHE", "KGET_LOCAL_KERNELS", "LOCAL_KERNELS", "KGET_DEVICE"}) {
    ::unsetenv(name);
  }
  ::setenv("HF_HOME", (work / "hf-home").c_str(), 1);

  // The kernel as `kget build` lays it out: build/<variant>/ with the library and its digest.
  std::string variant = "kget1-cpu-" + shell_line("uname -m") + "-linux";
  fs::path variant_dir = work / "relu" / "build" / variant;
  fs::create_directories(variant_dir);
  fs::copy_file(KGET_RELU_LIBRARY, variant_dir / "librelu.so");
  std::string digest = shell_line("openssl dgst -sha256 -binary " +
                                  (variant_dir / "librelu.so").string() + " | base64");
  write_text(variant_dir / "metadata.json", R"json({
  "name": "relu", "id": "_relu_example", "version": 1, "license": "Apache-2.0",
  "backend": {"type": "cpu"},
  "digest": {"algorithm": "sha256", "files": {"librelu.so": ")json" +
                                                digest + R"json("}},
  "kget": {"abi": {"major": 1, "minor": 0}, "library": "librelu.so",
           "ops": [{"name": "relu", "schema": "relu(Tensor! out, Tensor input) -> ()"}]}
}
)json");

  start_registry();
  file_endpoint = "file://" + (work / "file-store").string();
  std::string push = std::string(KGET_CLI_BINARY) + " push " + (work / "relu").string() +
                     " --repo " + repo + " --version 1.0.0 --to ";
  std::string quietly = " >>" + (work / "push.out").string();
  run_shell(push + file_endpoint + quietly);
  run_shell("KGET_TOKEN=" + std::string(push_token) + " " + push + http_endpoint + quietly);

  http_cache = work / "cache-http";
  file_cache = work / "cache-file";
  std::string at_major = std::string(repo) + "@1";
  http_commit = kget::get_kernel(at_major, options(http_endpoint, http_cache)).commit();
  file_commit = kget::get_kernel(at_major, options(file_endpoint, file_cache)).commit();
}

void World::tear_down() {
  if (registry > 0) {
    ::kill(registry, SIGTERM);
    ::waitpid(registry, nullptr, 0);
  }
  std::error_code ignored;
  fs::remove_all(work, ignored);
}

// Warm get_kernel through to a callable Op; `requests` counts the registry's access-log lines.
void measure_get_kernel(benchmark::State& state, const std::string& reference,
                        const kget::Options& options) {
  size_t requests_before = count_lines(world.access_log);
  {
    Samples samples(state);
    for (auto _ : state) {
      samples.time([&] {
        kget::Op op = kget::get_kernel(reference, options).op("relu");
        benchmark::DoNotOptimize(op);
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // the log line follows the answer
  double requests = static_cast<double>(count_lines(world.access_log) - requests_before);
  state.counters["requests"] = requests / static_cast<double>(state.iterations());
}

void BM_get_kernel_commit_offline(benchmark::State& state) {
  kget::Options options = world.options(world.http_endpoint, world.http_cache);
  options.offline = true;
  measure_get_kernel(state, std::string(repo) + "@" + world.http_commit, options);
}

void BM_get_kernel_commit_file(benchmark::State& state) {
  measure_get_kernel(state, std::string(repo) + "@" + world.file_commit,
                     world.options(world.file_endpoint, world.file_cache));
}

void BM_get_kernel_major_http(benchmark::State& state) {
  measure_get_kernel(state, std::string(repo) + "@1",
                     world.options(world.http_endpoint, world.http_cache));
}

size_t discard_body(char*, size_t size, size_t count, void*) {
  return size * count;
}

// Peer: the one request an online @1 makes (the refs), by libcurl on a new connection each time.
void BM_peer_curl_refs(benchmark::State& state) {
  std::string url = world.http_endpoint + "/api/kernels/" + repo + "/refs";
  Samples samples(state);
  for (auto _ : state) {
    samples.time([&] {
      CURL* curl = curl_easy_init();
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
      CURLcode code = curl_easy_perform(curl);
      curl_easy_cleanup(curl);
      if (code != CURLE_OK) {
        state.SkipWithError(curl_easy_strerror(code));
      }
    });
  }
}

// Reference: the op itself, relu on 4096 floats in and out of L1/L2.
void BM_relu_op_4096(benchmark::State& state) {
  kget::Op relu = kget::get_kernel(std::string(repo) + "@" + world.http_commit,
                                   world.options(world.http_endpoint, world.http_cache))
                      .op("relu");
  std::vector<float> input(4096);
  std::vector<float> output(4096);
  for (size_t i = 0; i < input.size(); ++i) {
    input[i] = static_cast<float>(i % 17) - 8.0f;
  }
  int64_t shape[1] = {4096};
  DLTensor in{};
  in.data = input.data();
  in.device = {kDLCPU, 0};
  in.ndim = 1;
  in.dtype = {kDLFloat, 32, 1};
  in.shape = shape;
  DLTensor out = in;
  out.data = output.data();
  Samples samples(state);
  for (auto _ : state) {
    samples.time([&] { relu(out, in); });
    benchmark::DoNotOptimize(output.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * 4096 * static_cast<int64_t>(sizeof(float)));
}

BENCHMARK(BM_get_kernel_commit_offline)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_get_kernel_commit_file)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_get_kernel_major_http)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_peer_curl_refs)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_relu_op_4096)->UseManualTime()->Unit(benchmark::kMicrosecond);

} // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int status = 0;
  try {
    world.set_up();
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_get_kernel: %s\n", error.what());
    status = 1;
  }
  world.tear_down();
  benchmark::Shutdown();
  curl_global_cleanup();
  return status;
}
