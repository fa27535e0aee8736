#include "registry/server.hpp"

#include "registry/url.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace kget::registry {

namespace {

using Clock = std::chrono::steady_clock;

// One request, from its request line (libmicrohttpd's URI callback) to its end (the completion
// callback). libmicrohttpd keeps the pointer for us as the request's context.
struct Exchange {
  Clock::time_point start = Clock::now();
  std::string target; // raw, as received
  std::string method;
  std::string version;
  std::string client;
  bool begun = false;
  std::unique_ptr<BodyReader> reader;
  std::optional<Response> pending; // decided from the head, sent once the request is complete
  unsigned status = 0;
  uint64_t bytes = 0;
  std::string aborted; // set when the server itself drops the connection
};

std::string client_address(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) {
    return "-";
  }
  char host[NI_MAXHOST] = {};
  socklen_t length =
      info->client_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::getnameinfo(info->client_addr, length, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) !=
      0) {
    return "-";
  }
  return host;
}

MHD_Result collect_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(cls);
  if (key != nullptr) {
    headers->emplace(util::to_lower(key), value != nullptr ? value : "");
  }
  return MHD_YES;
}

// The raw path and query go to the routes undecoded: see url.hpp for why.
size_t keep_escaped(void*, MHD_Connection*, char* text) {
  return std::strlen(text);
}

void log_library_message(void*, const char* format, va_list arguments) {
  std::string message = "kget-registry: libmicrohttpd: ";
  char buffer[1024];
  std::vsnprintf(buffer, sizeof(buffer), format, arguments);
  message += buffer;
  if (message.back() != '\n') {
    message += '\n';
  }
  std::fputs(message.c_str(), stderr);
}

bool has_body(const Request& request) {
  auto length = request.content_length();
  return (length && *length > 0) || request.header("transfer-encoding");
}

bool awaits_continue(const Request& request) {
  auto expect = request.header("expect");
  return expect && util::to_lower(util::trim(*expect)) == "100-continue";
}

bool drainable(const Request& request) {
  auto length = request.content_length();
  return !length || *length <= k_max_drain; // a chunked body is drained up to the limit
}

// A body read and thrown away, then an answer decided before it.
class DrainThenAnswer : public BodyReader {
public:
  explicit DrainThenAnswer(Response response) : m_response(std::move(response)) {}
  bool consume(std::string_view data) override {
    m_drained += data.size();
    return m_drained <= k_max_drain;
  }
  Response finish() override { return std::move(m_response); }

private:
  Response m_response;
  uint64_t m_drained = 0;
};

std::string termination_reason(MHD_RequestTerminationCode code) {
  switch (code) {
  case MHD_REQUEST_TERMINATED_COMPLETED_OK:
    return "";
  case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
    return "idle-timeout";
  case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
    return "shutdown";
  case MHD_REQUEST_TERMINATED_READ_ERROR:
  case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    return "client";
  default:
    return "error";
  }
}

MHD_Response* to_library_response(Response& response) {
  MHD_Response* library = nullptr;
  if (response.file) {
    FileBody& file = *response.file;
    library = MHD_create_response_from_fd_at_offset64(file.length, file.fd.get(),
                                                      static_cast<int64_t>(file.offset));
    if (library != nullptr) {
      file.fd.release(); // closed by libmicrohttpd with the response
    }
  } else if (response.body.empty()) {
    library = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
  } else {
    auto* body = new std::string(std::move(response.body));
    library = MHD_create_response_from_buffer_with_free_callback_cls(
        body->size(), body->data(), [](void* cls) { delete static_cast<std::string*>(cls); }, body);
    if (library == nullptr) {
      delete body;
    }
  }
  if (library == nullptr) {
    return nullptr;
  }
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(library, name.c_str(), value.c_str());
  }
  return library;
}

struct BoundSocket {
  int fd = -1;
  uint16_t port = 0;
  std::string url;
  bool ipv6 = false;
};

// The listening socket is bound here rather than by libmicrohttpd so that port 0 works (the
// real port comes from getsockname) and any host name getaddrinfo knows can be given.
Result<BoundSocket> bind_listen_socket(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  if (int error = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); error != 0) {
    return fail(ErrorKind::invalid_setting, "--listen: cannot resolve {}: {}", address.host,
                ::gai_strerror(error));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    util::FileDescriptor fd(
        ::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd.get(), candidate->ai_addr, candidate->ai_addrlen) != 0 ||
        ::listen(fd.get(), SOMAXCONN) != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    char host[NI_MAXHOST] = {};
    char service[NI_MAXSERV] = {};
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0 ||
        ::getnameinfo(reinterpret_cast<sockaddr*>(&bound), length, host, sizeof(host), service,
                      sizeof(service), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    BoundSocket socket;
    socket.ipv6 = bound.ss_family == AF_INET6;
    socket.port = static_cast<uint16_t>(std::stoi(service));
    socket.url = socket.ipv6 ? fmt::format("http://[{}]:{}", host, service)
                             : fmt::format("http://{}:{}", host, service);
    socket.fd = fd.release();
    return socket;
  }
  return fail(ErrorKind::io, "--listen: cannot listen on {}:{}: {}", address.host, address.port,
              last_error);
}

} // namespace

struct Server::Callbacks {
  static void* request_started(void* cls, const char* uri, MHD_Connection* connection) {
    auto* server = static_cast<Server*>(cls);
    server->m_in_flight.fetch_add(1);
    auto* exchange = new Exchange;
    exchange->target = uri != nullptr ? uri : "";
    exchange->client = client_address(connection);
    return exchange;
  }

  static void request_completed(void* cls, MHD_Connection*, void** context,
                                MHD_RequestTerminationCode code) {
    auto* server = static_cast<Server*>(cls);
    std::unique_ptr<Exchange> exchange(static_cast<Exchange*>(*context));
    *context = nullptr;
    if (exchange == nullptr) {
      return;
    }
    // First the body reader: one still holding a partial upload removes its temporary file.
    exchange->reader.reset();
    exchange->pending.reset();
    if (server->m_log != nullptr) {
      AccessEntry entry;
      entry.client = exchange->client;
      entry.method = exchange->method;
      entry.target = exchange->target;
      entry.version = exchange->version;
      entry.status = exchange->status;
      entry.bytes = exchange->bytes;
      entry.duration = Clock::now() - exchange->start;
      entry.aborted = !exchange->aborted.empty() ? exchange->aborted : termination_reason(code);
      server->m_log->write(entry);
    }
    exchange.reset();
    server->m_in_flight.fetch_sub(1);
  }

  static MHD_Result queue(MHD_Connection* connection, Exchange& exchange, Response response) {
    exchange.status = response.status;
    bool bodiless = exchange.method == "HEAD" || response.status == 304;
    exchange.bytes = bodiless ? 0 : response.content_length();
    MHD_Response* library = to_library_response(response);
    if (library == nullptr) {
      exchange.aborted = "error";
      return MHD_NO;
    }
    MHD_Result queued = MHD_queue_response(connection, response.status, library);
    MHD_destroy_response(library);
    return queued;
  }

  static MHD_Result begin(Server& server, MHD_Connection* connection, Exchange& exchange) {
    exchange.begun = true;
    Request request;
    request.method = exchange.method;
    request.target = exchange.target;
    request.version = exchange.version;
    request.client_address = exchange.client;
    MHD_get_connection_values(connection, MHD_HEADER_KIND, &collect_header, &request.headers);
    auto target = parse_target(exchange.target);
    if (!target) {
      return queue(connection, exchange, error_response(400, "BadRequest", target.error().message));
    }
    request.segments = std::move(target->segments);
    request.query = std::move(target->query);
    Dispatch dispatch = server.m_router->begin(request);
    if (auto* response = std::get_if<Response>(&dispatch)) {
      // libmicrohttpd 0.9.75 closes the connection after a response queued from this first call
      // (it will not read a body it was told to skip). So a request without a body is answered
      // on the next call, keeping the connection; a refused body the client has not sent yet
      // (Expect: 100-continue) or that is too large to read is refused now, closing it; any other
      // refused body is read and thrown away first, so that the client, which is sending it, gets
      // the answer instead of a connection reset.
      if (!has_body(request)) {
        exchange.pending.emplace(std::move(*response));
        return MHD_YES;
      }
      if (awaits_continue(request) || !drainable(request)) {
        return queue(connection, exchange, std::move(*response));
      }
      exchange.reader = std::make_unique<DrainThenAnswer>(std::move(*response));
      return MHD_YES;
    }
    exchange.reader = std::move(std::get<std::unique_ptr<BodyReader>>(dispatch));
    return MHD_YES;
  }

  static MHD_Result handle(void* cls, MHD_Connection* connection, const char*, const char* method,
                           const char* version, const char* upload_data, size_t* upload_data_size,
                           void** context) {
    auto* server = static_cast<Server*>(cls);
    auto* exchange = static_cast<Exchange*>(*context);
    if (exchange == nullptr) { // not expected: the URI callback runs first
      return MHD_NO;
    }
    if (!exchange->begun) {
      exchange->method = method != nullptr ? method : "";
      exchange->version = version != nullptr ? version : "";
      return begin(*server, connection, *exchange);
    }
    if (*upload_data_size > 0 && !exchange->reader) {
      *upload_data_size = 0; // not expected: a request with a body and no reader is answered early
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      // The idle timeout bounds a silent client; this bounds a slow one.
      if (Clock::now() - exchange->start > server->m_request_timeout) {
        exchange->aborted = "request-timeout";
        return MHD_NO;
      }
      bool keep = exchange->reader->consume(std::string_view(upload_data, *upload_data_size));
      *upload_data_size = 0;
      if (!keep) {
        exchange->aborted = "body-too-large";
        return MHD_NO;
      }
      return MHD_YES;
    }
    if (exchange->pending) {
      Response response = std::move(*exchange->pending);
      exchange->pending.reset();
      return queue(connection, *exchange, std::move(response));
    }
    if (!exchange->reader) {
      return MHD_NO;
    }
    Response response = exchange->reader->finish();
    exchange->reader.reset();
    return queue(connection, *exchange, std::move(response));
  }
};

Result<std::unique_ptr<Server>> Server::start(Config config, store::Store store, AccessLog* log) {
  KGET_TRY_ASSIGN(auto address, parse_listen_address(config.listen));
  KGET_TRY_ASSIGN(auto socket, bind_listen_socket(address));
  std::unique_ptr<Server> server(new Server);
  server->m_listen_fd = socket.fd;
  server->m_port = socket.port;
  server->m_url = socket.url;
  server->m_log = log;
  server->m_request_timeout = std::chrono::seconds(config.request_timeout_s);
  unsigned threads = config.threads == 0 ? 1 : config.threads;
  unsigned max_connections = config.max_connections;
  unsigned idle_timeout = config.idle_timeout_s;
  size_t memory = config.connection_memory;
  EventLoop event_loop = config.event_loop;
  server->m_router = std::make_unique<Router>(std::move(config), std::move(store), socket.url);

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  flags |= event_loop == EventLoop::epoll ? MHD_USE_EPOLL : MHD_USE_POLL;
  if (socket.ipv6) {
    flags |= MHD_USE_IPv6;
  }
  MHD_OptionItem options[] = {
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&log_library_message), nullptr},
      {MHD_OPTION_LISTEN_SOCKET, socket.fd, nullptr},
      {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(threads), nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(max_connections), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(idle_timeout), nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(memory), nullptr},
      {MHD_OPTION_UNESCAPE_CALLBACK, reinterpret_cast<intptr_t>(&keep_escaped), nullptr},
      {MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(&Callbacks::request_started),
       server.get()},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Callbacks::request_completed),
       server.get()},
      {MHD_OPTION_END, 0, nullptr},
  };
  server->m_daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Callbacks::handle, server.get(),
                                      MHD_OPTION_ARRAY, options, MHD_OPTION_END);
  if (server->m_daemon == nullptr) {
    ::close(socket.fd);
    server->m_listen_fd = -1;
    return fail(ErrorKind::io,
                "libmicrohttpd could not start on {} (threads {}, max connections {}); see the "
                "messages above",
                socket.url, threads, max_connections);
  }
  return server;
}

Server::~Server() {
  stop();
}

void Server::quiesce() {
  if (m_daemon == nullptr || m_quiesced) {
    return;
  }
  MHD_socket fd = MHD_quiesce_daemon(m_daemon);
  m_quiesced = true;
  if (fd != MHD_INVALID_SOCKET) {
    ::close(fd); // after quiescing, the listening socket is ours again
  }
  m_listen_fd = -1;
}

bool Server::wait_idle(std::chrono::milliseconds grace) const {
  auto deadline = Clock::now() + grace;
  while (m_in_flight.load() > 0) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void Server::stop() {
  if (m_daemon != nullptr) {
    MHD_stop_daemon(m_daemon); // closes the listening socket unless quiesced
    m_daemon = nullptr;
    m_listen_fd = -1;
  }
}

} // namespace kget::registry
