// Client::download and the retries of Client::send against a server that misbehaves on cue.
#include "http/http.hpp"
#include "loopback_server.hpp"
#include "support/fault_server.hpp"
#include "support/memory_sink.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using kget::ErrorKind;
using kget::Result;
using kget::http::Client;
using kget::http::ClientOptions;
using kget::http::Request;
using kget::testing::CannedResponse;
using kget::testing::Fault;
using kget::testing::FaultServer;
using kget::testing::LoopbackServer;
using kget::testing::MemorySink;
using kget::testing::ReceivedRequest;
using std::chrono::milliseconds;

namespace {

// A client whose waits between attempts are recorded instead of slept.
struct RecordingClient {
  std::vector<milliseconds> sleeps;
  Client client;

  explicit RecordingClient(ClientOptions options = {}) : client(create(std::move(options))) {}

private:
  Client create(ClientOptions options) {
    options.sleep = [this](milliseconds delay) { sleeps.push_back(delay); };
    auto created = Client::create(std::move(options));
    if (!created) {
      throw std::runtime_error(created.error().message);
    }
    return std::move(*created);
  }
};

std::string pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>((i * 131 + i / 997) % 251);
  }
  return bytes;
}

Request get(std::string url, std::string token = "") {
  Request request;
  request.url = std::move(url);
  request.bearer_token = std::move(token);
  return request;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string k_blob = pattern(300000);

struct Progress {
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  kget::http::ProgressCallback callback() {
    return [this](uint64_t received, uint64_t total) { calls.emplace_back(received, total); };
  }
};

TEST(HttpDownload, StreamsTheBodyIntoTheSinkWithProgress) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  RecordingClient http;
  MemorySink sink;
  Progress progress;
  auto result = http.client.download(get(server.url("/blob")), sink, progress.callback());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->attempts, 1);
  EXPECT_EQ(result->bytes, k_blob.size());
  EXPECT_EQ(result->url, server.url("/blob"));
  EXPECT_EQ(result->headers.get("ETag"), FaultServer::etag_of(k_blob));
  EXPECT_TRUE(sink.data == k_blob);
  ASSERT_FALSE(progress.calls.empty());
  uint64_t previous = 0;
  for (auto [received, total] : progress.calls) {
    EXPECT_GT(received, previous);
    EXPECT_EQ(total, k_blob.size()); // from Content-Length
    previous = received;
  }
  EXPECT_EQ(progress.calls.back().first, k_blob.size());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_FALSE(requests[0].has_header("range"));
  EXPECT_TRUE(http.sleeps.empty());
}

TEST(HttpDownload, ADroppedConnectionResumesFromWhatTheSinkHolds) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::drop_after(100000).on_request(1));
  RecordingClient http;
  MemorySink sink;
  Progress progress;
  auto result = http.client.download(get(server.url("/blob")), sink, progress.callback());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(result->status, 206);
  EXPECT_EQ(result->bytes, k_blob.size());
  EXPECT_TRUE(sink.data == k_blob);
  EXPECT_EQ(sink.restarts, 0);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_FALSE(requests[0].has_header("range"));
  EXPECT_EQ(requests[1].header("range"), "bytes=100000-");
  EXPECT_EQ(http.sleeps.size(), 1u);
  // Progress counts the resumed bytes too and knows the whole size from Content-Range.
  EXPECT_EQ(progress.calls.back(), std::make_pair(uint64_t{k_blob.size()}, k_blob.size()));
}

TEST(HttpDownload, ATruncatedBodyResumes) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::truncate_after(5000).on_request(1));
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_TRUE(sink.data == k_blob);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].header("range"), "bytes=5000-");
}

TEST(HttpDownload, AServerIgnoringRangeHasTheSinkRestarted) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::truncate_after(70000).on_request(1));
  server.add_fault(Fault::ignore_range().on_request(2));
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(sink.restarts, 1);
  EXPECT_TRUE(sink.data == k_blob);
  EXPECT_EQ(server.requests().at(1).header("range"), "bytes=70000-");
}

TEST(HttpDownload, ACorruptedByteArrivesAsServed) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::corrupt_at(12345));
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->bytes, k_blob.size());
  ASSERT_EQ(sink.data.size(), k_blob.size());
  EXPECT_EQ(sink.data[12345], static_cast<char>(k_blob[12345] ^ 0xff));
  EXPECT_EQ(sink.data.substr(0, 12345), k_blob.substr(0, 12345));
}

TEST(HttpDownload, RetryAfterInSecondsIsWaitedFor) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::answer(503, "1").on_request(1));
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(http.sleeps, std::vector<milliseconds>{milliseconds(1000)});
  EXPECT_TRUE(sink.data == k_blob);
  EXPECT_EQ(sink.restarts, 0); // the 503's body never reached the sink
}

TEST(HttpDownload, RetryAfterAsAnHttpDateIsWaitedFor) {
  std::time_t later = std::time(nullptr) + 30;
  std::tm parts{};
  ::gmtime_r(&later, &parts);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::answer(429, date).on_request(1));
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(http.sleeps.size(), 1u);
  EXPECT_GE(http.sleeps[0], milliseconds(20000)) << date;
  EXPECT_LE(http.sleeps[0], milliseconds(30000)) << date;
}

TEST(HttpDownload, ARetryAfterBeyondTheLimitFailsAtOnce) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::answer(429, "120").always());
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::network);
  const std::string& message = result.error().message;
  EXPECT_TRUE(contains(message, "GET " + server.url("/blob"))) << message;
  EXPECT_TRUE(contains(message, "429")) << message;
  EXPECT_TRUE(contains(message, "retry after 120")) << message;
  EXPECT_TRUE(http.sleeps.empty());
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpDownload, GivesUpAfterMaxAttemptsWithBackoffBetween) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::answer(500).always());
  ClientOptions options;
  options.retry.initial_backoff = milliseconds(100);
  options.retry.max_backoff = milliseconds(300);
  RecordingClient http(options);
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::network);
  EXPECT_TRUE(contains(result.error().message, "answered 500")) << result.error().message;
  EXPECT_TRUE(contains(result.error().message, "5 attempts")) << result.error().message;
  EXPECT_EQ(server.requests().size(), 5u);
  // Doubling from 100 ms up to the 300 ms cap, each drawn from the upper half.
  ASSERT_EQ(http.sleeps.size(), 4u);
  const int ceilings[] = {100, 200, 300, 300};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_GE(http.sleeps[i].count(), ceilings[i] / 2) << i;
    EXPECT_LE(http.sleeps[i].count(), ceilings[i]) << i;
  }
  EXPECT_TRUE(sink.data.empty());
}

TEST(HttpDownload, NotFoundCarriesTheServersMessage) {
  FaultServer server;
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/missing")), sink);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::not_found);
  const std::string& message = result.error().message;
  EXPECT_TRUE(contains(message, "GET " + server.url("/missing"))) << message;
  EXPECT_TRUE(contains(message, "404 EntryNotFound")) << message;
  EXPECT_TRUE(contains(message, "/missing is not served here")) << message;
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_TRUE(sink.data.empty()); // the error body is not the blob
}

TEST(HttpDownload, UnauthorizedAndForbiddenArePermissionFailures) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(
      Fault::answer(401).with_header("X-Error-Message", "Invalid credentials").on_request(1));
  server.add_fault(Fault::answer(403).on_request(2));
  RecordingClient http;
  for (const char* status : {"401", "403"}) {
    MemorySink sink;
    auto result = http.client.download(get(server.url("/blob"), "tok"), sink);
    ASSERT_FALSE(result) << status;
    EXPECT_EQ(result.error().kind, ErrorKind::permission);
    EXPECT_TRUE(contains(result.error().message, status)) << result.error().message;
  }
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_TRUE(http.sleeps.empty());
}

TEST(HttpDownload, FollowsARedirectToAnotherHostWithoutTheToken) {
  FaultServer storage("127.0.0.2");
  storage.serve_file("/blobs/abc", k_blob);
  storage.add_fault(Fault::drop_after(1000).on_request(1));
  FaultServer front;
  front.add_fault(Fault::redirect_to(storage.base_url()).always());
  RecordingClient http;
  MemorySink sink;
  Request request = get(front.url("/blobs/abc"), "s3cret");
  request.follow_redirects = false; // a download follows redirects regardless
  auto result = http.client.download(request, sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(result->url, storage.url("/blobs/abc"));
  EXPECT_TRUE(sink.data == k_blob);
  auto at_front = front.requests();
  ASSERT_EQ(at_front.size(), 2u);
  for (const auto& received : at_front) {
    EXPECT_EQ(received.header("authorization"), "Bearer s3cret");
  }
  auto at_storage = storage.requests();
  ASSERT_EQ(at_storage.size(), 2u);
  for (const auto& received : at_storage) {
    EXPECT_FALSE(received.has_header("authorization"));
  }
  EXPECT_EQ(at_front[1].header("range"), "bytes=1000-"); // the resume goes through the redirect
  EXPECT_EQ(at_storage[1].header("range"), "bytes=1000-");
}

TEST(HttpDownload, AStalledTransferIsAbandonedAndResumed) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::stall(milliseconds(5000), 50000).on_request(1));
  ClientOptions options;
  options.low_speed_time = std::chrono::seconds(1);
  options.low_speed_bytes = 1L << 30;
  RecordingClient http(options);
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_TRUE(sink.data == k_blob);
  EXPECT_EQ(server.requests().at(1).header("range"), "bytes=50000-");
}

TEST(HttpDownload, ASinkFailureIsReturnedUnchangedAndNotRetried) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  RecordingClient http;
  MemorySink sink;
  sink.fail_beyond = 1000;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::io);
  EXPECT_EQ(result.error().message, "cannot write blob.part: No space left on device");
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_TRUE(http.sleeps.empty());
}

TEST(HttpDownload, ASinkHoldingMoreThanTheFileIsRestartedAfter416) {
  FaultServer server;
  server.serve_file("/small", "0123456789");
  RecordingClient http;
  MemorySink sink;
  sink.data = "bytes of an older, longer version";
  auto result = http.client.download(get(server.url("/small")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(sink.data, "0123456789");
  EXPECT_EQ(sink.restarts, 1);
  EXPECT_EQ(result->attempts, 2);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].header("range"), "bytes=33-");
  EXPECT_FALSE(requests[1].has_header("range"));
  EXPECT_TRUE(http.sleeps.empty()); // nothing to wait for: the server answered
}

TEST(HttpDownload, A206ForOtherBytesHasTheBodyFetchedWhole) {
  const std::string body = "0123456789";
  LoopbackServer server([&](const ReceivedRequest& request) {
    if (!request.header("range").empty()) {
      return CannedResponse{206, {{"Content-Range", "bytes 0-9/10"}}, body};
    }
    return CannedResponse{200, {}, body};
  });
  RecordingClient http;
  MemorySink sink;
  sink.data = "0123";
  auto result = http.client.download(get(server.url("/f")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(sink.data, body);
  EXPECT_EQ(sink.restarts, 1);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].header("range"), "bytes=4-");
  EXPECT_EQ(requests[1].header("range"), "");
}

TEST(HttpDownload, ABodyShorterThanItsContentRangeIsResumed) {
  const std::string body = pattern(100);
  int calls = 0;
  LoopbackServer server([&](const ReceivedRequest& request) {
    if (++calls == 1) { // announces bytes 0-99 and sends 50 of them, a well-formed message
      return CannedResponse{206, {{"Content-Range", "bytes 0-99/100"}}, body.substr(0, 50)};
    }
    EXPECT_EQ(request.header("range"), "bytes=50-");
    return CannedResponse{206, {{"Content-Range", "bytes 50-99/100"}}, body.substr(50)};
  });
  RecordingClient http;
  MemorySink sink;
  auto result = http.client.download(get(server.url("/f")), sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(sink.data, body);
}

TEST(HttpDownload, BrokenTransfersGiveUpNamingTheAttemptsAndTheLastError) {
  FaultServer server;
  server.serve_file("/blob", k_blob);
  server.add_fault(Fault::truncate_after(10).always());
  ClientOptions options;
  options.retry.max_attempts = 3;
  RecordingClient http(options);
  MemorySink sink;
  auto result = http.client.download(get(server.url("/blob")), sink);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::network);
  EXPECT_TRUE(contains(result.error().message, "3 attempts")) << result.error().message;
  EXPECT_TRUE(contains(result.error().message, "GET " + server.url("/blob")))
      << result.error().message;
  EXPECT_EQ(sink.data.size(), 30u); // each attempt added the 10 bytes it got
  EXPECT_EQ(http.sleeps.size(), 2u);
}

// --- send() ---

TEST(HttpSendRetries, GetIsRetriedOn503AndOnADroppedConnection) {
  FaultServer server;
  server.serve_file("/api/info", "{\"ok\":true}");
  server.add_fault(Fault::answer(503).on_request(1));
  server.add_fault(Fault::drop_after(3).on_request(2));
  RecordingClient http;
  auto response = http.client.send(get(server.url("/api/info")));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{\"ok\":true}");
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(http.sleeps.size(), 2u);
  for (const auto& received : server.requests()) {
    EXPECT_FALSE(received.has_header("range")); // send() starts over
  }
}

TEST(HttpSendRetries, HeadIsRetriedToo) {
  FaultServer server;
  server.serve_file("/f", "abc");
  server.add_fault(Fault::answer(502).on_request(1));
  RecordingClient http;
  Request request = get(server.url("/f"));
  request.method = "HEAD";
  auto response = http.client.send(request);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->headers.get("Content-Length"), "3");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(HttpSendRetries, PostIsNeverRetried) {
  FaultServer server;
  server.add_fault(Fault::answer(503).always());
  RecordingClient http;
  Request request = get(server.url("/api/x"));
  request.method = "POST";
  request.body = std::string("{}");
  auto response = http.client.send(request);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_TRUE(http.sleeps.empty());
}

TEST(HttpSendRetries, TheLastResponseIsReturnedWhenAttemptsRunOut) {
  FaultServer server;
  server.add_fault(Fault::answer(504).always());
  ClientOptions options;
  options.retry.max_attempts = 3;
  RecordingClient http(options);
  auto response = http.client.send(get(server.url("/api/x")));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 504);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(http.sleeps.size(), 2u);
}

TEST(HttpSendRetries, ARetryAfterBeyondTheLimitReturnsTheResponse) {
  FaultServer server;
  server.add_fault(Fault::answer(429, "3600").always());
  RecordingClient http;
  auto response = http.client.send(get(server.url("/api/x")));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->headers.get("Retry-After"), "3600");
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_TRUE(http.sleeps.empty());
}

TEST(HttpSendRetries, ARefusedConnectionFailsNamingTheAttempts) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x";
  RecordingClient http;
  auto response = http.client.send(get(url));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::network);
  EXPECT_TRUE(contains(response.error().message, "GET " + url)) << response.error().message;
  EXPECT_TRUE(contains(response.error().message, "onnect")) << response.error().message;
  EXPECT_TRUE(contains(response.error().message, "gave up after 5 attempts"))
      << response.error().message;
  EXPECT_EQ(http.sleeps.size(), 4u);
}

// --- certificate authorities from the environment ---

// The variable is read when the client is created; a file that does not exist makes every
// https request fail naming it, before anything is sent.
void expect_tls_setup_fails_naming(const char* variable, const std::string& path) {
  FaultServer server; // accepts the connection; the handshake never starts
  ::setenv(variable, path.c_str(), 1);
  RecordingClient http;
  ::unsetenv(variable);
  MemorySink sink;
  std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/blob";
  auto result = http.client.download(get(url), sink);
  ASSERT_FALSE(result) << variable;
  EXPECT_TRUE(contains(result.error().message, path)) << variable << ": " << result.error().message;
  EXPECT_TRUE(http.sleeps.empty()) << "a trust store that cannot be read is not retried";
}

TEST(HttpTrustStore, CaVariablesReachLibcurl) {
  expect_tls_setup_fails_naming("CURL_CA_BUNDLE", "/nonexistent/kget-test/bundle.pem");
  expect_tls_setup_fails_naming("SSL_CERT_FILE", "/nonexistent/kget-test/cert.pem");
}

} // namespace
