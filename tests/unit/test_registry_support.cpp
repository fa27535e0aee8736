#include "test_registry_support.hpp"

#include "digest/digest.hpp"
#include "ref/version.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <curl/curl.h>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace kget::registry::test_support {

namespace fs = std::filesystem;

std::string random_bytes(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t state = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    out[i] = static_cast<char>(state & 0xff);
  }
  out[0] = '\0'; // binary by git's heuristic whatever the seed
  return out;
}

std::string sha256_of(std::string_view data) {
  return digest::sha256_hex(data);
}

store::PublishResult publish(const store::Store& store, const std::string& repo,
                             const std::string& version, const std::vector<FixtureFile>& files,
                             const fs::path& scratch) {
  store::PublishRequest request;
  request.repo = repo;
  request.version = ref::parse_version(version).value();
  request.message = "version " + version;
  for (const auto& file : files) {
    fs::path source = scratch / sha256_of(file.content);
    if (!fs::exists(source)) {
      write_file(source, file.content);
    }
    auto added = store.add_blob_from_file(source);
    EXPECT_TRUE(added) << added.error().message;
    request.files.push_back({file.path, added.value_or(""), file.content.size()});
  }
  auto published = store.publish(request);
  EXPECT_TRUE(published) << published.error().message;
  return published.value_or(store::PublishResult{});
}

FixtureStore build_fixture_store(const fs::path& root, const fs::path& scratch) {
  FixtureStore fixture;
  fixture.root = root;
  auto store = store::Store::open_or_create(root).value();
  const std::string cpu = "build/kget1-cpu-x86_64-linux/";
  const std::string cuda = "build/kget1-cu130-x86_64-linux/";
  fixture.big_path = cpu + "librelu.so";
  fixture.text_path = cpu + "metadata.json";
  fixture.readme_path = "README.md";
  std::string big = random_bytes((10u << 20) + 12345, 1);
  std::string readme = "# relu\n\nA kernel for tests.\n";
  auto metadata = [](const std::string& version) {
    return "{\"name\": \"relu\", \"version\": \"" + version + "\"}\n";
  };

  fixture.commit_v1_0_0 = publish(store, "acme/relu", "1.0.0",
                                  {{fixture.readme_path, readme},
                                   {fixture.text_path, metadata("1.0.0")},
                                   {fixture.big_path, big}},
                                  scratch)
                              .commit;
  fixture.commit_v1_1_0 = publish(store, "acme/relu", "1.1.0",
                                  {{fixture.readme_path, readme},
                                   {fixture.text_path, metadata("1.1.0")},
                                   {fixture.big_path, big}},
                                  scratch)
                              .commit;
  std::vector<FixtureFile> v2 = {{fixture.readme_path, readme},
                                 {fixture.text_path, metadata("2.0.0")},
                                 {fixture.big_path, big},
                                 {cuda + "metadata.json", metadata("2.0.0")},
                                 {cuda + "librelu.so", random_bytes(4096, 2)},
                                 {cuda + "include/relu.h", "int relu(void);\n"}};
  fixture.commit_v2_0_0 = publish(store, "acme/relu", "2.0.0", v2, scratch).commit;
  for (const auto& file : v2) {
    fixture.contents[file.path] = file.content;
  }
  // A second repository in another organization, for the overview route.
  publish(store, "other/thing", "0.1.0", {{"README.md", "other\n"}}, scratch);
  return fixture;
}

// --- the server process ---------------------------------------------------------------------

namespace {

std::vector<char*> argv_of(std::vector<std::string>& arguments) {
  std::vector<char*> argv;
  for (auto& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);
  return argv;
}

std::string read_line(int fd, std::chrono::milliseconds limit) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return line;
    }
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) {
      return line;
    }
    if (c == '\n') {
      return line;
    }
    line += c;
  }
}

std::string read_rest(int fd) {
  std::string out;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) {
      return out;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

int exit_status(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return WIFSIGNALED(status) ? -WTERMSIG(status) : -1000;
}

} // namespace

ServerProcess::ServerProcess(std::vector<std::string> arguments, fs::path stderr_path) {
  arguments.insert(arguments.begin(), KGET_REGISTRY_BINARY);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  auto argv = argv_of(arguments);
  int error = posix_spawn(&m_pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  m_stdout = out[0];
  if (error != 0) {
    m_pid = -1;
    return;
  }
  m_first_line = read_line(m_stdout, std::chrono::seconds(30));
  const std::string marker = "listening on http://127.0.0.1:";
  size_t at = m_first_line.find(marker);
  if (at != std::string::npos) {
    m_port = static_cast<uint16_t>(std::stoi(m_first_line.substr(at + marker.size())));
  }
}

ServerProcess::~ServerProcess() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
  }
  if (m_stdout >= 0) {
    ::close(m_stdout);
  }
}

std::string ServerProcess::url() const {
  return "http://127.0.0.1:" + std::to_string(m_port);
}

int ServerProcess::stop(std::string* rest_of_stdout) {
  if (m_pid <= 0) {
    return -1000;
  }
  ::kill(m_pid, SIGTERM);
  int status = 0;
  ::waitpid(m_pid, &status, 0);
  m_pid = -1;
  std::string rest = read_rest(m_stdout);
  if (rest_of_stdout != nullptr) {
    *rest_of_stdout = rest;
  }
  return exit_status(status);
}

RunResult run_registry(const std::vector<std::string>& arguments_in) {
  std::vector<std::string> arguments = arguments_in;
  arguments.insert(arguments.begin(), KGET_REGISTRY_BINARY);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  auto argv = argv_of(arguments);
  pid_t pid = -1;
  int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  RunResult result;
  if (error == 0) {
    result.out = read_rest(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.status = exit_status(status);
  }
  ::close(out[0]);
  return result;
}

// --- the HTTP client ------------------------------------------------------------------------

namespace {

struct Exchange {
  const std::string* upload = nullptr;
  size_t upload_offset = 0;
  HttpResponse* response = nullptr;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::string line(data, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.pop_back();
  }
  if (line.rfind("HTTP/", 0) == 0) { // a new status line (after a 100 Continue): start over
    exchange->response->headers.clear();
    exchange->response->header_names.clear();
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.erase(0, 1);
    }
    exchange->response->header_names.push_back(name);
    for (auto& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    exchange->response->headers[name] = value;
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<Exchange*>(user)->response->body.append(data, size * count);
  return size * count;
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  size_t left = exchange->upload->size() - exchange->upload_offset;
  size_t n = std::min(left, size * count);
  std::memcpy(buffer, exchange->upload->data() + exchange->upload_offset, n);
  exchange->upload_offset += n;
  return n;
}

struct GlobalCurl {
  GlobalCurl() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

} // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient() {
  static GlobalCurl global;
  m_handle = curl_easy_init();
}

HttpClient::~HttpClient() {
  curl_easy_cleanup(static_cast<CURL*>(m_handle));
}

HttpResponse HttpClient::perform(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(m_handle);
  curl_easy_reset(curl);
  HttpResponse response;
  Exchange exchange;
  exchange.response = &response;
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L); // send "..", "%2e%2e" as written
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_slist* headers = nullptr;
  for (const auto& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.body) {
    exchange.upload = &*request.body;
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &exchange);
    if (request.chunked) {
      headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    } else {
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body->size()));
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  response.curl_code = static_cast<int>(curl_easy_perform(curl));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &response.new_connections);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  return response;
}

HttpResponse HttpClient::get(const std::string& url, std::vector<std::string> headers) {
  return perform(HttpRequest{"GET", url, std::move(headers), std::nullopt, false});
}

HttpResponse HttpClient::head(const std::string& url, std::vector<std::string> headers) {
  return perform(HttpRequest{"HEAD", url, std::move(headers), std::nullopt, false});
}

void send_slowly(uint16_t port, const std::vector<std::string>& pieces,
                 std::chrono::milliseconds pause) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i > 0) {
        std::this_thread::sleep_for(pause);
      }
      size_t sent = 0;
      while (sent < pieces[i].size()) {
        ssize_t n = ::send(fd, pieces[i].data() + sent, pieces[i].size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
          break;
        }
        sent += static_cast<size_t>(n);
      }
    }
  }
  ::close(fd);
}

void send_raw_and_close(uint16_t port, const std::string& raw) {
  send_slowly(port, {raw}, std::chrono::milliseconds(0));
}

} // namespace kget::registry::test_support
