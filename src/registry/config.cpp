#include "registry/config.hpp"

#include "util/fs.hpp"
#include "util/strings.hpp"

#include <charconv>
#include <limits>

namespace kget::registry {

Result<uint64_t> parse_byte_size(std::string_view option, std::string_view text) {
  auto invalid = [&] {
    return fail(ErrorKind::invalid_setting,
                "{}: expected a size in bytes with an optional K, M or G suffix (e.g. 4G, "
                "512M, 1048576), got \"{}\"",
                option, text);
  };
  std::string_view value = util::trim(text);
  uint64_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end == value.data()) {
    return invalid();
  }
  std::string suffix = util::to_lower(value.substr(static_cast<size_t>(end - value.data())));
  unsigned shift = 0;
  if (!suffix.empty() &&
      (suffix[0] == 'k' || suffix[0] == 'm' || suffix[0] == 'g' || suffix[0] == 't')) {
    shift = suffix[0] == 'k' ? 10 : suffix[0] == 'm' ? 20 : suffix[0] == 'g' ? 30 : 40;
    suffix.erase(0, 1);
  }
  if (!suffix.empty() && suffix != "b" && suffix != "ib") {
    return invalid();
  }
  if (number > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return fail(ErrorKind::invalid_setting, "{}: \"{}\" is too large", option, text);
  }
  return number << shift;
}

Result<std::vector<std::string>> read_token_file(const std::filesystem::path& path) {
  auto text = util::read_file(path, 1u << 20);
  if (!text) {
    return fail(ErrorKind::invalid_setting, "--token-file: cannot read {}: {}", path.string(),
                text.error().message);
  }
  std::vector<std::string> tokens;
  for (std::string_view line : util::split(*text, '\n')) {
    line = util::trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return fail(ErrorKind::invalid_setting,
                "--token-file: {} holds no token; expected one token per line ('#' starts a "
                "comment)",
                path.string());
  }
  return tokens;
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return fail(ErrorKind::invalid_setting,
                "--listen: expected HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:0), got "
                "\"{}\": {}",
                text, why);
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return invalid("the port is missing");
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return invalid("write an IPv6 address in brackets");
  }
  if (host.empty()) {
    return invalid("the host is missing");
  }
  auto port = util::parse_uint(port_text);
  if (!port || *port > 65535) {
    return invalid("the port must be a number from 0 to 65535");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(*port)};
}

Result<EventLoop> parse_event_loop(std::string_view text) {
  if (text == "poll") {
    return EventLoop::poll;
  }
  if (text == "epoll") {
    return EventLoop::epoll;
  }
  return fail(ErrorKind::invalid_setting, "--event-loop: expected poll or epoll, got \"{}\"", text);
}

Result<std::string> parse_public_url(std::string_view text) {
  std::string url(util::trim(text));
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  size_t host_start = util::starts_with(url, "http://")    ? 7
                      : util::starts_with(url, "https://") ? 8
                                                           : 0;
  if (host_start == 0 || url.size() <= host_start ||
      url.find_first_of("?# ") != std::string::npos) {
    return fail(ErrorKind::invalid_setting,
                "--public-url: expected an absolute http:// or https:// URL without query, e.g. "
                "https://registry.example.com or http://10.0.0.5:8080/kget, got \"{}\"",
                text);
  }
  return url;
}

} // namespace kget::registry
