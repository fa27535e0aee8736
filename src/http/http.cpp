#include "http/http.hpp"

#include "util/fs.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <curl/curl.h>
#include <fcntl.h>
#include <mutex>
#include <random>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace kget::http {

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// curl_global_init is not thread-safe and must run once before any handle exists.
Result<void> initialise_curl_once() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return fail(ErrorKind::internal, "libcurl cannot initialise: {}", curl_easy_strerror(code));
  }
  return {};
}

struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }
  bool append(const std::string& line) {
    curl_slist* grown = curl_slist_append(list, line.c_str());
    if (grown == nullptr) {
      return false;
    }
    list = grown;
    return true;
  }
};

// The bytes of a request body as curl pulls them, from memory or from a file by offset (pread),
// so that curl can rewind it (a redirect, a retried authentication) through seek().
struct BodySource {
  std::string_view memory;
  util::FileDescriptor file{-1};
  std::filesystem::path file_path;
  uint64_t size = 0;
  uint64_t offset = 0;
  std::optional<Failure> failure;

  size_t read(char* buffer, size_t capacity) {
    size_t wanted = static_cast<size_t>(std::min<uint64_t>(capacity, size - offset));
    if (wanted == 0) {
      return 0;
    }
    if (file.get() < 0) {
      std::memcpy(buffer, memory.data() + offset, wanted);
      offset += wanted;
      return wanted;
    }
    ssize_t got;
    do {
      got = ::pread(file.get(), buffer, wanted, static_cast<off_t>(offset));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      failure = got < 0
                    ? Failure{ErrorKind::io, fmt::format("cannot read {}: {}", file_path.string(),
                                                         std::strerror(errno))}
                    : Failure{ErrorKind::io, fmt::format("{} ended after {} of the {} bytes "
                                                         "announced; it changed while sent",
                                                         file_path.string(), offset, size)};
      return CURL_READFUNC_ABORT;
    }
    offset += static_cast<uint64_t>(got);
    return static_cast<size_t>(got);
  }
};

Result<void> open_body(const Body& body, BodySource& source) {
  if (const auto* text = std::get_if<std::string>(&body)) {
    source.memory = *text;
    source.size = text->size();
    return {};
  }
  const auto& file = std::get<FileBody>(body);
  source.file_path = file.path;
  source.file = util::FileDescriptor(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (source.file.get() < 0) {
    return fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io, "cannot open {}: {}",
                file.path.string(), std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(source.file.get(), &info) != 0) {
    return fail(ErrorKind::io, "cannot stat {}: {}", file.path.string(), std::strerror(errno));
  }
  if (static_cast<uint64_t>(info.st_size) != file.size) {
    return fail(ErrorKind::io, "{} has {} bytes, {} were expected; it changed since it was read",
                file.path.string(), info.st_size, file.size);
  }
  source.size = file.size;
  return {};
}

bool is_success(long status) {
  return status >= 200 && status < 300;
}

// Statuses that say "not now" rather than "no": the same request may succeed later.
bool is_retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

// Only requests that change nothing on the server are sent twice without the caller knowing.
bool is_retryable_method(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

// Transfers that broke on the way (the server or the network went away, or was too slow), as
// opposed to ones that can never succeed (a bad URL, a certificate that does not verify).
bool is_broken_transfer(CURLcode code) {
  switch (code) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR:
    return true;
  default:
    return false;
  }
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// The status code of a status line, "HTTP/1.1 206 Partial Content" or "HTTP/2 200".
long parse_status_line(std::string_view line) {
  size_t space = line.find(' ');
  if (space == std::string_view::npos || line.size() < space + 4) {
    return 0;
  }
  return static_cast<long>(parse_decimal(line.substr(space + 1, 3)).value_or(0));
}

// "bytes <first>-<last>/<total or *>" (RFC 9110 §14.4).
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  std::optional<uint64_t> total;
};

std::optional<ContentRange> parse_content_range(std::optional<std::string_view> field) {
  if (!field) {
    return std::nullopt;
  }
  std::string_view text = util::trim(*field);
  if (!text.starts_with("bytes ")) {
    return std::nullopt;
  }
  text = util::trim(text.substr(6));
  size_t dash = text.find('-');
  size_t slash = text.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return std::nullopt;
  }
  auto first = parse_decimal(text.substr(0, dash));
  auto last = parse_decimal(text.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) {
    return std::nullopt;
  }
  ContentRange range{*first, *last, std::nullopt};
  if (text.substr(slash + 1) != "*") {
    range.total = parse_decimal(text.substr(slash + 1));
    if (!range.total) {
      return std::nullopt;
    }
  }
  return range;
}

// The wait a Retry-After field asks for, as delta-seconds or as an HTTP-date (RFC 9110 §10.2.3);
// nullopt when there is none or it cannot be read.
std::optional<std::chrono::seconds> retry_after(const Headers& headers) {
  auto field = headers.get("Retry-After");
  if (!field) {
    return std::nullopt;
  }
  std::string_view text = util::trim(*field);
  constexpr uint64_t k_forever = uint64_t{1} << 40;
  uint64_t seconds = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (end == text.data() + text.size() && !text.empty()) {
    if (error == std::errc::result_out_of_range) {
      return std::chrono::seconds(k_forever);
    }
    if (error == std::errc{}) {
      return std::chrono::seconds(std::min(seconds, k_forever));
    }
  }
  std::string date(text);
  time_t when = curl_getdate(date.c_str(), nullptr);
  if (when < 0) {
    return std::nullopt;
  }
  return std::chrono::seconds(std::max<time_t>(0, when - std::time(nullptr)));
}

// A failed attempt, and whether trying again may succeed.
struct AttemptFailure {
  Failure failure;
  bool transient = false;
};

Failure after_attempts(Failure failure, int attempts) {
  if (attempts > 1) {
    failure.message += fmt::format(" (gave up after {} attempts)", attempts);
  }
  return failure;
}

// Where a download's body goes during one attempt: into the sink once the answer is known to be
// the body (a 2xx), from the right offset. Error bodies are dropped.
struct DownloadAttempt {
  DownloadAttempt(util::ByteSink& to, const ProgressCallback& report)
      : sink(to), progress(report) {}

  util::ByteSink& sink;
  const ProgressCallback& progress;
  bool began = false;
  // A 206 for other bytes than those after sink.size(): the sink is restarted and the whole
  // body asked for again.
  bool range_mismatch = false;
  std::optional<Failure> sink_failure;
  uint64_t expected_end = 0; // the sink's size once the body is whole; 0 when not announced
  uint64_t total = 0;        // of the whole resource, for progress; 0 when unknown

  // Decides, at the first byte of a 2xx body (or after an empty one), how it joins the sink.
  bool begin(long status, const Headers& headers) {
    began = true;
    if (status == 206) {
      auto range = parse_content_range(headers.get("Content-Range"));
      if (!range || range->first != sink.size()) {
        range_mismatch = true;
        return false;
      }
      expected_end = range->last + 1;
      total = range->total.value_or(expected_end);
      return true;
    }
    // The whole body, whatever was asked: what the sink holds is superseded.
    if (sink.size() > 0) {
      if (auto restarted = sink.restart(); !restarted) {
        sink_failure = std::move(restarted).error();
        return false;
      }
    }
    if (auto length = headers.get("Content-Length")) {
      expected_end = total = parse_decimal(util::trim(*length)).value_or(0);
    }
    return true;
  }

  size_t receive(const Response& response, std::string_view data) {
    if (!is_success(response.status)) {
      return data.size();
    }
    if (!began && !begin(response.status, response.headers)) {
      return 0; // makes curl stop with CURLE_WRITE_ERROR
    }
    if (auto written = sink.write(data); !written) {
      sink_failure = std::move(written).error();
      return 0;
    }
    if (progress) {
      progress(sink.size(), total);
    }
    return data.size();
  }
};

// Everything curl calls back into during one transfer.
struct Transfer {
  Response response;
  size_t max_body = 0;
  bool body_too_long = false;
  BodySource body;
  DownloadAttempt* download = nullptr; // set when the body goes to a sink
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t length = size * count;
  if (transfer->download != nullptr) {
    return transfer->download->receive(transfer->response, std::string_view(data, length));
  }
  if (transfer->response.body.size() + length > transfer->max_body) {
    transfer->body_too_long = true;
    return 0; // makes curl stop with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, length);
  return length;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t length = size * count;
  std::string_view line(data, length);
  // Each response (an interim 100 Continue, each hop of a redirect) starts with its status line;
  // only the last response's fields are kept.
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();
    transfer->response.status = parse_status_line(line);
    return length;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->response.headers.add(std::string(util::trim(line.substr(0, colon))),
                                   std::string(util::trim(line.substr(colon + 1))));
  }
  return length;
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  return static_cast<BodySource*>(user)->read(buffer, size * count);
}

int on_seek(void* user, curl_off_t offset, int origin) {
  auto* source = static_cast<BodySource*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > source->size) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  source->offset = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::string default_user_agent() {
  return std::string("kget/") + KGET_VERSION_STRING;
}

// Certificate authorities other than the system's, as curl and OpenSSL name them.
struct TrustStore {
  std::string ca_file; // CURL_CA_BUNDLE, else SSL_CERT_FILE
  std::string ca_dir;  // SSL_CERT_DIR
};

TrustStore trust_store_from_environment() {
  auto variable = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value != nullptr ? value : "");
  };
  TrustStore store{variable("CURL_CA_BUNDLE"), variable("SSL_CERT_DIR")};
  if (store.ca_file.empty()) {
    store.ca_file = variable("SSL_CERT_FILE");
  }
  return store;
}

bool append_request_headers(const Request& request, HeaderList& headers, bool without_range) {
  for (const auto& [name, value] : request.headers) {
    if (without_range && equal_ignoring_case(name, "Range")) {
      continue;
    }
    if (!headers.append(name + ": " + value)) {
      return false;
    }
  }
  return true;
}

} // namespace

void Headers::add(std::string name, std::string value) {
  m_fields.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [field, value] : m_fields) {
    if (equal_ignoring_case(field, name)) {
      return value;
    }
  }
  return std::nullopt;
}

struct Client::State {
  CURL* handle = nullptr;
  ClientOptions options;
  TrustStore trust;
  std::minstd_rand random{std::random_device{}()};
  char error_buffer[CURL_ERROR_SIZE] = {};
  ~State() { curl_easy_cleanup(handle); }

  // Options every request gets; curl_easy_reset before them keeps the connection cache.
  void set_common_options(const Request& request, Transfer& transfer, bool follow_redirects) {
    error_buffer[0] = '\0';
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count() * 1000));
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options.low_speed_time.count()));
    curl_easy_setopt(handle, CURLOPT_USERAGENT, options.user_agent.c_str());
    if (!trust.ca_file.empty()) {
      curl_easy_setopt(handle, CURLOPT_CAINFO, trust.ca_file.c_str());
    }
    if (!trust.ca_dir.empty()) {
      curl_easy_setopt(handle, CURLOPT_CAPATH, trust.ca_dir.c_str());
    }
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, follow_redirects ? 1L : 0L);
    curl_easy_setopt(handle, CURLOPT_MAXREDIRS, options.max_redirects);
    // The token is for the host it was given for; a redirect elsewhere goes without it.
    curl_easy_setopt(handle, CURLOPT_UNRESTRICTED_AUTH, 0L);
    // libcurl's 16 KiB default means four system calls per 16 KiB of a large file.
    curl_easy_setopt(handle, CURLOPT_BUFFERSIZE, 512L * 1024L);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    if (!request.bearer_token.empty()) {
      curl_easy_setopt(handle, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
      curl_easy_setopt(handle, CURLOPT_XOAUTH2_BEARER, request.bearer_token.c_str());
    }
  }

  void set_method_and_body(const Request& request, Transfer& transfer) {
    const std::string& method = request.method;
    if (std::holds_alternative<std::monostate>(request.body)) {
      if (method == "HEAD") {
        curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
      } else if (method == "POST") {
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
      } else if (method != "GET") {
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
      }
      return;
    }
    curl_easy_setopt(handle, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(handle, CURLOPT_READDATA, &transfer.body);
    curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(handle, CURLOPT_SEEKDATA, &transfer.body);
    auto size = static_cast<curl_off_t>(transfer.body.size);
    if (method == "POST") {
      curl_easy_setopt(handle, CURLOPT_POST, 1L);
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, size);
      return;
    }
    curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L); // a PUT, renamed below for other methods
    curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE, size);
    if (method != "PUT") {
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
  }

  AttemptFailure transfer_failure(std::string_view method, const Request& request,
                                  const Transfer& transfer, CURLcode code) {
    if (transfer.body.failure) {
      return {*transfer.body.failure, false};
    }
    if (transfer.body_too_long) {
      return {{ErrorKind::network, fmt::format("{} {}: the response body exceeds {} bytes", method,
                                               request.url, request.max_response_body)},
              false};
    }
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return {{ErrorKind::network, fmt::format("{} {}: {}", method, request.url, detail)},
            is_broken_transfer(code)};
  }

  // Runs the transfer set up on the handle; fills in the status and the URL that answered.
  std::expected<void, AttemptFailure> perform(std::string_view method, const Request& request,
                                              Transfer& transfer) {
    CURLcode code = curl_easy_perform(handle);
    if (code != CURLE_OK) {
      return std::unexpected(transfer_failure(method, request, transfer, code));
    }
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &transfer.response.status);
    const char* effective_url = nullptr;
    curl_easy_getinfo(handle, CURLINFO_EFFECTIVE_URL, &effective_url);
    transfer.response.url = effective_url != nullptr ? effective_url : request.url;
    return {};
  }

  std::expected<Response, AttemptFailure> send_once(const Request& request) {
    Transfer transfer;
    transfer.max_body = request.max_response_body;
    if (!std::holds_alternative<std::monostate>(request.body)) {
      if (auto opened = open_body(request.body, transfer.body); !opened) {
        return std::unexpected(AttemptFailure{std::move(opened).error(), false});
      }
    }
    HeaderList headers;
    if (!append_request_headers(request, headers, false)) {
      return std::unexpected(AttemptFailure{
          {ErrorKind::internal, "out of memory building the request headers"}, false});
    }
    curl_easy_reset(handle);
    set_common_options(request, transfer, request.follow_redirects);
    set_method_and_body(request, transfer);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.list);
    if (auto performed = perform(request.method, request, transfer); !performed) {
      return std::unexpected(std::move(performed).error());
    }
    return std::move(transfer.response);
  }

  // One GET of a download, asking for the bytes after those the sink holds. The caller looks at
  // `attempt` first: a sink failure or a range mismatch outranks what this returns.
  std::expected<Response, AttemptFailure> download_once(const Request& request,
                                                        DownloadAttempt& attempt) {
    Transfer transfer;
    transfer.download = &attempt;
    HeaderList headers;
    bool headers_built = append_request_headers(request, headers, true);
    if (headers_built && attempt.sink.size() > 0) {
      headers_built = headers.append(fmt::format("Range: bytes={}-", attempt.sink.size()));
    }
    if (!headers_built) {
      return std::unexpected(AttemptFailure{
          {ErrorKind::internal, "out of memory building the request headers"}, false});
    }
    curl_easy_reset(handle);
    set_common_options(request, transfer, true);
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.list);
    if (auto performed = perform("GET", request, transfer); !performed) {
      return std::unexpected(std::move(performed).error());
    }
    Response& response = transfer.response;
    if (!is_success(response.status)) {
      return std::move(response);
    }
    if (!attempt.began && !attempt.begin(response.status, response.headers)) {
      return std::move(response); // the caller sees the mismatch or the sink's failure
    }
    if (attempt.expected_end != 0 && attempt.sink.size() < attempt.expected_end) {
      return std::unexpected(
          AttemptFailure{{ErrorKind::network,
                          fmt::format("GET {}: the body ended after {} of the {} bytes announced",
                                      request.url, attempt.sink.size(), attempt.expected_end)},
                         true});
    }
    return std::move(response);
  }

  // The wait before the attempt after `attempt`: doubling from initial_backoff, drawn from the
  // upper half of that so that clients that failed together do not retry together.
  std::chrono::milliseconds backoff(int attempt) {
    const RetryPolicy& policy = options.retry;
    auto ceiling = std::max(policy.initial_backoff, std::chrono::milliseconds(0));
    for (int i = 1; i < attempt && ceiling < policy.max_backoff; ++i) {
      ceiling *= 2;
    }
    ceiling = std::min(ceiling, policy.max_backoff);
    auto floor = ceiling / 2;
    std::uniform_int_distribution<int64_t> draw(floor.count(), ceiling.count());
    return std::chrono::milliseconds(draw(random));
  }

  // The wait a retryable answer asks for: its Retry-After, else the backoff; nullopt when the
  // server asks for more than the policy waits.
  std::optional<std::chrono::milliseconds> wait_after(int attempt, const Headers& headers) {
    if (auto asked = retry_after(headers)) {
      if (*asked > options.retry.max_retry_after) {
        return std::nullopt;
      }
      return std::chrono::duration_cast<std::chrono::milliseconds>(*asked);
    }
    return backoff(attempt);
  }

  int max_attempts() const { return std::max(1, options.retry.max_attempts); }
};

Client::Client(std::unique_ptr<State> state) : m_state(std::move(state)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::create(ClientOptions options) {
  KGET_TRY(initialise_curl_once());
  auto state = std::make_unique<State>();
  state->handle = curl_easy_init();
  if (state->handle == nullptr) {
    return fail(ErrorKind::internal, "libcurl cannot create a handle");
  }
  if (options.user_agent.empty()) {
    options.user_agent = default_user_agent();
  }
  if (!options.sleep) {
    options.sleep = [](std::chrono::milliseconds delay) { std::this_thread::sleep_for(delay); };
  }
  state->options = std::move(options);
  state->trust = trust_store_from_environment();
  return Client(std::move(state));
}

Result<Response> Client::send(const Request& request) {
  State& state = *m_state;
  int max_attempts = is_retryable_method(request.method) ? state.max_attempts() : 1;
  for (int attempt = 1;; ++attempt) {
    auto response = state.send_once(request);
    bool last = attempt >= max_attempts;
    if (response) {
      if (last || !is_retryable_status(response->status)) {
        return std::move(*response);
      }
      auto wait = state.wait_after(attempt, response->headers);
      if (!wait) {
        return std::move(*response); // the caller sees the status and its Retry-After
      }
      state.options.sleep(*wait);
      continue;
    }
    if (last || !response.error().transient) {
      return std::unexpected(after_attempts(std::move(response).error().failure, attempt));
    }
    state.options.sleep(state.backoff(attempt));
  }
}

namespace {

// The failure a final non-2xx answer to a download stands for.
Failure refusal(const Request& request, const Response& response) {
  std::string status = std::to_string(response.status);
  if (auto code = response.headers.get("X-Error-Code"); code && !code->empty()) {
    status += fmt::format(" {}", *code);
  }
  std::string message = fmt::format("GET {}: the server answered {}", request.url, status);
  if (auto text = response.headers.get("X-Error-Message"); text && !text->empty()) {
    message += fmt::format(": {}", *text);
  }
  if (response.url != request.url) {
    message += fmt::format(" (at {})", response.url);
  }
  ErrorKind kind = response.status == 404                             ? ErrorKind::not_found
                   : response.status == 401 || response.status == 403 ? ErrorKind::permission
                                                                      : ErrorKind::network;
  return {kind, std::move(message)};
}

} // namespace

Result<DownloadResult> Client::download(const Request& request, util::ByteSink& sink,
                                        const ProgressCallback& progress) {
  State& state = *m_state;
  int max_attempts = state.max_attempts();
  bool restarted_after_416 = false;
  for (int attempt = 1;; ++attempt) {
    DownloadAttempt current{sink, progress};
    auto response = state.download_once(request, current);
    bool last = attempt >= max_attempts;
    if (current.sink_failure) {
      return std::unexpected(std::move(*current.sink_failure));
    }
    if (current.range_mismatch) {
      // The server did not give the bytes asked for: start over without a Range.
      KGET_TRY(sink.restart());
      if (last) {
        return fail(ErrorKind::network,
                    "GET {}: the server answered a Range request with other bytes than those "
                    "asked for (gave up after {} attempts)",
                    request.url, attempt);
      }
      continue;
    }
    if (!response) {
      if (last || !response.error().transient) {
        return std::unexpected(after_attempts(std::move(response).error().failure, attempt));
      }
      state.options.sleep(state.backoff(attempt));
      continue;
    }
    if (is_success(response->status)) {
      return DownloadResult{response->status, std::move(response->headers),
                            std::move(response->url), attempt, sink.size()};
    }
    if (response->status == 416 && !restarted_after_416 && !last) {
      // The sink holds bytes the server does not have (the file changed or shrank): start over.
      restarted_after_416 = true;
      KGET_TRY(sink.restart());
      continue;
    }
    Failure refused = refusal(request, *response);
    if (!is_retryable_status(response->status) || last) {
      return std::unexpected(after_attempts(std::move(refused), attempt));
    }
    auto wait = state.wait_after(attempt, response->headers);
    if (!wait) {
      refused.message += fmt::format(" and asks to retry after {}, longer than the {} s kget waits",
                                     *response->headers.get("Retry-After"),
                                     state.options.retry.max_retry_after.count());
      return std::unexpected(after_attempts(std::move(refused), attempt));
    }
    state.options.sleep(*wait);
  }
}

} // namespace kget::http
