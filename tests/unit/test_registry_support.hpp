// Test support for kget-registry: a store with a few published versions, the real server binary
// started on an ephemeral loopback port, and a small libcurl client.
#pragma once

#include "store/store.hpp"
#include "support/temp_dir.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kget::registry::test_support {

using kget::testing::read_file;
using kget::testing::TempDir;
using kget::testing::write_file;

// Deterministic pseudo-random bytes, so that a binary is not compressible by accident.
std::string random_bytes(size_t size, uint32_t seed);

// One published file of the fixture repository, with the bytes it holds.
struct FixtureFile {
  std::string path;
  std::string content;
};

// The store the read tests serve: acme/relu with versions 1.0.0, 1.1.0 and 2.0.0.
struct FixtureStore {
  std::filesystem::path root;
  std::map<std::string, std::string> contents; // path -> bytes, as of the highest version
  std::string commit_v1_0_0;
  std::string commit_v1_1_0;
  std::string commit_v2_0_0;
  std::string big_path;  // the >10 MiB binary (an LFS entry)
  std::string text_path; // a small metadata.json (not LFS)
  std::string readme_path;
};

// Builds the fixture store under `root` through the store API.
FixtureStore build_fixture_store(const std::filesystem::path& root,
                                 const std::filesystem::path& scratch);

// Publishes `files` as `version` of `repo`; fails the test on error.
store::PublishResult publish(const store::Store& store, const std::string& repo,
                             const std::string& version, const std::vector<FixtureFile>& files,
                             const std::filesystem::path& scratch);

// The kget-registry process.
class ServerProcess {
public:
  // Starts the binary with `arguments` (after the program name) and reads the port from its first
  // line of output. Its stderr goes to `stderr_path`.
  ServerProcess(std::vector<std::string> arguments, std::filesystem::path stderr_path);
  ~ServerProcess(); // kills it if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return m_port != 0; }
  uint16_t port() const { return m_port; }
  std::string url() const; // "http://127.0.0.1:PORT"
  const std::string& first_line() const { return m_first_line; }
  // Sends SIGTERM and waits; the exit status (or -signal) and the rest of stdout.
  int stop(std::string* rest_of_stdout = nullptr);

private:
  pid_t m_pid = -1;
  int m_stdout = -1;
  uint16_t m_port = 0;
  std::string m_first_line;
};

// Runs the binary to completion: exit status and stdout.
struct RunResult {
  int status = -1;
  std::string out;
};
RunResult run_registry(const std::vector<std::string>& arguments);

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers; // "Name: value"
  std::optional<std::string> body;
  bool chunked = false; // send the body with Transfer-Encoding: chunked
};

struct HttpResponse {
  int curl_code = 0; // CURLcode
  long status = 0;
  std::map<std::string, std::string> headers; // lower-case name -> last value
  std::vector<std::string> header_names;      // as received, in order
  std::string body;
  long new_connections = 0; // CURLINFO_NUM_CONNECTS

  std::string header(const std::string& lower_name) const;
  bool has_header(const std::string& lower_name) const { return headers.count(lower_name) > 0; }
};

// One libcurl easy handle, reused across requests so that keep-alive can be observed.
class HttpClient {
public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpResponse perform(const HttpRequest& request);
  HttpResponse get(const std::string& url, std::vector<std::string> headers = {});
  HttpResponse head(const std::string& url, std::vector<std::string> headers = {});

private:
  void* m_handle;
};

// Sends `raw` on a fresh TCP connection to 127.0.0.1:port and closes it without reading.
void send_raw_and_close(uint16_t port, const std::string& raw);

// Sends `pieces` on one TCP connection with `pause` between them, then closes it.
void send_slowly(uint16_t port, const std::vector<std::string>& pieces,
                 std::chrono::milliseconds pause);

// Waits (up to `limit`) until `predicate` holds; false if it never did.
template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = std::chrono::seconds(20));

std::string sha256_of(std::string_view data);

} // namespace kget::registry::test_support

#include <thread>

template <class Predicate>
bool kget::registry::test_support::eventually(Predicate predicate,
                                              std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}
