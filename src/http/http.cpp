#include "http/http.hpp"

#include "util/fs.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <curl/curl.h>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
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

// Everything curl calls back into during one transfer.
struct Transfer {
  Response response;
  size_t max_body = 0;
  bool body_too_long = false;
  BodySource body;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t length = size * count;
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
  char error_buffer[CURL_ERROR_SIZE] = {};
  ~State() { curl_easy_cleanup(handle); }

  // Options every request gets; curl_easy_reset before them keeps the connection cache.
  void set_common_options(const Request& request, Transfer& transfer) {
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
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
    curl_easy_setopt(handle, CURLOPT_MAXREDIRS, options.max_redirects);
    // The token is for the host it was given for; a redirect elsewhere goes without it.
    curl_easy_setopt(handle, CURLOPT_UNRESTRICTED_AUTH, 0L);
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

  Failure transfer_failure(const Request& request, const Transfer& transfer, CURLcode code) {
    if (transfer.body.failure) {
      return *transfer.body.failure;
    }
    if (transfer.body_too_long) {
      return {ErrorKind::network,
              fmt::format("{} {}: the response body exceeds {} bytes", request.method, request.url,
                          request.max_response_body)};
    }
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return {ErrorKind::network, fmt::format("{} {}: {}", request.method, request.url, detail)};
  }
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
  state->options = std::move(options);
  return Client(std::move(state));
}

Result<Response> Client::send(const Request& request) {
  Transfer transfer;
  transfer.max_body = request.max_response_body;
  if (!std::holds_alternative<std::monostate>(request.body)) {
    KGET_TRY(open_body(request.body, transfer.body));
  }
  HeaderList headers;
  for (const auto& [name, value] : request.headers) {
    if (!headers.append(name + ": " + value)) {
      return fail(ErrorKind::internal, "out of memory building the request headers");
    }
  }
  CURL* handle = m_state->handle;
  curl_easy_reset(handle);
  m_state->set_common_options(request, transfer);
  m_state->set_method_and_body(request, transfer);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.list);
  CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    return std::unexpected(m_state->transfer_failure(request, transfer, code));
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  const char* effective_url = nullptr;
  curl_easy_getinfo(handle, CURLINFO_EFFECTIVE_URL, &effective_url);
  transfer.response.url = effective_url != nullptr ? effective_url : request.url;
  return std::move(transfer.response);
}

} // namespace kget::http
