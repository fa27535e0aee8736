// The certificate authorities of CURL_CA_BUNDLE, SSL_CERT_FILE and SSL_CERT_DIR, against a real TLS
// server (`openssl s_server -WWW`) whose self-signed certificate nothing else trusts.
#include "http/http.hpp"
#include "support/memory_sink.hpp"
#include "support/temp_dir.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <optional>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using kget::ErrorKind;
using kget::Result;
using kget::http::Client;
using kget::http::Request;
using kget::testing::MemorySink;
using kget::testing::TempDir;

namespace {

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

bool accepts_connections(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

// Sets an environment variable for the life of the object, then puts the old value back.
class ScopedVariable {
public:
  ScopedVariable(const char* name, const std::optional<std::string>& value) : m_name(name) {
    if (const char* old = std::getenv(name)) {
      m_old = old;
    }
    value ? ::setenv(name, value->c_str(), 1) : ::unsetenv(name);
  }
  ~ScopedVariable() { m_old ? ::setenv(m_name, m_old->c_str(), 1) : ::unsetenv(m_name); }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

private:
  const char* m_name;
  std::optional<std::string> m_old;
};

// openssl s_server serving `www` over TLS with a certificate for 127.0.0.1.
class TlsServer {
public:
  TlsServer(const fs::path& www, const fs::path& certificate, const fs::path& key)
      : m_port(free_port()) {
    m_pid = ::fork();
    if (m_pid == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      if (::chdir(www.c_str()) != 0) {
        ::_exit(127);
      }
      std::string port = std::to_string(m_port);
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-WWW", "-accept", port.c_str(), "-cert",
               certificate.c_str(), "-key", key.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !accepts_connections(m_port); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~TlsServer() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      ::waitpid(m_pid, nullptr, 0);
    }
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(m_port) + path;
  }

private:
  uint16_t m_port;
  pid_t m_pid = -1;
};

struct Tls {
  TempDir dir;
  fs::path certificate = dir.path() / "cert.pem";
  fs::path key = dir.path() / "key.pem";
  fs::path certificates = dir.path() / "certs"; // hashed, as SSL_CERT_DIR wants
  fs::path www = dir.path() / "www";
  bool ready = false;

  Tls() {
    fs::create_directories(certificates);
    fs::create_directories(www);
    kget::testing::write_file(www / "blob", "bytes over TLS");
    std::string make = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                       "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
                       key.string() + " -out " + certificate.string() + " >/dev/null 2>&1";
    ready =
        std::system(make.c_str()) == 0 &&
        fs::copy_file(certificate, certificates / "kget-test.pem", ignored) &&
        std::system(("openssl rehash " + certificates.string() + " >/dev/null 2>&1").c_str()) == 0;
  }

private:
  std::error_code ignored;
};

Result<std::string> fetch_with(const std::string& url) {
  kget::http::ClientOptions options;
  options.retry.max_attempts = 1;
  auto client = Client::create(std::move(options));
  if (!client) {
    return std::unexpected(client.error());
  }
  MemorySink sink;
  Request request;
  request.url = url;
  auto result = client->download(request, sink);
  if (!result) {
    return std::unexpected(result.error());
  }
  return sink.data;
}

TEST(HttpTls, TrustsTheAuthoritiesTheEnvironmentNames) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no openssl command to run a TLS server";
  }
  Tls tls;
  ASSERT_TRUE(tls.ready) << "cannot make a certificate with the openssl command";
  TlsServer server(tls.www, tls.certificate, tls.key);
  std::string url = server.url("/blob");
  ScopedVariable no_bundle("CURL_CA_BUNDLE", std::nullopt);
  ScopedVariable no_file("SSL_CERT_FILE", std::nullopt);
  ScopedVariable no_dir("SSL_CERT_DIR", std::nullopt);

  auto untrusted = fetch_with(url);
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().kind, ErrorKind::network);
  EXPECT_NE(untrusted.error().message.find(url), std::string::npos) << untrusted.error().message;

  for (const char* variable : {"CURL_CA_BUNDLE", "SSL_CERT_FILE"}) {
    ScopedVariable trusted(variable, tls.certificate.string());
    auto fetched = fetch_with(url);
    ASSERT_TRUE(fetched) << variable << ": " << fetched.error().message;
    EXPECT_EQ(*fetched, "bytes over TLS");
  }
  {
    ScopedVariable trusted("SSL_CERT_DIR", tls.certificates.string());
    auto fetched = fetch_with(url);
    ASSERT_TRUE(fetched) << "SSL_CERT_DIR: " << fetched.error().message;
    EXPECT_EQ(*fetched, "bytes over TLS");
  }
}

} // namespace
