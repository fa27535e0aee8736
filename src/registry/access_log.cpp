#include "registry/access_log.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace kget::registry {

namespace {

// One token that cannot break the line or the quoting.
std::string escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

std::string or_dash(std::string_view text) {
  return text.empty() ? std::string("-") : escaped(text);
}

} // namespace

std::string format_access_line(const AccessEntry& entry) {
  double milliseconds = std::chrono::duration<double, std::milli>(entry.duration).count();
  std::string status = entry.status == 0 ? std::string("-") : std::to_string(entry.status);
  std::string line =
      fmt::format("{} \"{} {} {}\" {} {} {:.1f}ms", or_dash(entry.client), or_dash(entry.method),
                  or_dash(entry.target), or_dash(entry.version), status, entry.bytes, milliseconds);
  if (!entry.aborted.empty()) {
    line += " aborted:" + entry.aborted;
  }
  return line;
}

Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string& destination) {
  if (destination.empty()) {
    return std::unique_ptr<AccessLog>(new AccessLog(stderr, false));
  }
  if (destination == "-") {
    return std::unique_ptr<AccessLog>(new AccessLog(stdout, false));
  }
  std::FILE* file = std::fopen(destination.c_str(), "ae");
  if (file == nullptr) {
    return fail(ErrorKind::invalid_setting, "--access-log: cannot open {} for appending: {}",
                destination, std::strerror(errno));
  }
  return std::unique_ptr<AccessLog>(new AccessLog(file, true));
}

AccessLog::~AccessLog() {
  if (m_owned) {
    std::fclose(m_file);
  }
}

void AccessLog::write(const AccessEntry& entry) {
  std::string line = format_access_line(entry) + "\n";
  std::lock_guard lock(m_mutex);
  std::fwrite(line.data(), 1, line.size(), m_file);
  std::fflush(m_file);
}

} // namespace kget::registry
