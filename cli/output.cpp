#include "output.hpp"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <unistd.h>

namespace kget::cli {

namespace {

constexpr size_t bar_width = 24;

std::string short_path(const std::string& path) {
  constexpr size_t limit = 48;
  return path.size() <= limit ? path : "..." + path.substr(path.size() - (limit - 3));
}

} // namespace

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1024) {
    return fmt::format("{} B", bytes);
  }
  double value = static_cast<double>(bytes);
  const char* unit = "B";
  for (const char* next : {"KiB", "MiB", "GiB", "TiB"}) {
    value /= 1024.0;
    unit = next;
    if (value < 1024.0) {
      break;
    }
  }
  return fmt::format("{:.1f} {}", value, unit);
}

std::string human_rate(uint64_t bytes, std::chrono::steady_clock::duration elapsed) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  if (seconds <= 0) {
    return "-";
  }
  return human_bytes(static_cast<uint64_t>(static_cast<double>(bytes) / seconds)) + "/s";
}

ProgressDisplay::Style ProgressDisplay::style_for(bool quiet) {
  if (quiet) {
    return Style::quiet;
  }
  const char* term = std::getenv("TERM");
  bool dumb = term == nullptr || std::string_view(term) == "dumb";
  return ::isatty(STDERR_FILENO) && !dumb ? Style::bars : Style::lines;
}

ProgressDisplay::~ProgressDisplay() {
  std::lock_guard lock(m_mutex);
  clear_bars();
}

fetch::ProgressCallback ProgressDisplay::callback() {
  if (m_style == Style::quiet) {
    return {};
  }
  return [this](const fetch::FileProgress& progress) { update(progress); };
}

void ProgressDisplay::update(const fetch::FileProgress& progress) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(m_mutex);
  auto [it, added] = m_active.try_emplace(progress.path, File{0, 0, now});
  it->second.received = progress.received;
  it->second.total = progress.total;
  if (progress.done) {
    auto elapsed = now - it->second.started;
    clear_bars();
    std::fprintf(stderr, "downloaded %s (%s, %s)\n", progress.path.c_str(),
                 human_bytes(progress.received).c_str(),
                 human_rate(progress.received, elapsed).c_str());
    m_active.erase(it);
    if (m_style == Style::bars) {
      redraw(now);
    }
    return;
  }
  // A terminal is redrawn at most ten times a second, whatever the number of files.
  if (m_style == Style::bars && (added || now - m_last_draw > std::chrono::milliseconds(100))) {
    redraw(now);
  }
}

void ProgressDisplay::clear_bars() {
  if (m_style != Style::bars) {
    return;
  }
  for (size_t i = 0; i < m_drawn_lines; ++i) {
    std::fputs("\x1b[1A\x1b[2K", stderr);
  }
  m_drawn_lines = 0;
}

void ProgressDisplay::redraw(std::chrono::steady_clock::time_point now) {
  clear_bars();
  for (const auto& [path, file] : m_active) {
    double fraction =
        file.total ? static_cast<double>(file.received) / static_cast<double>(file.total) : 0.0;
    size_t filled = static_cast<size_t>(fraction * bar_width);
    auto elapsed = now - file.started;
    double seconds = std::chrono::duration<double>(elapsed).count();
    std::string eta = "-";
    if (file.received > 0 && file.total > file.received && seconds > 0) {
      double rate = static_cast<double>(file.received) / seconds;
      eta = fmt::format("{:.0f}s", static_cast<double>(file.total - file.received) / rate);
    }
    std::fprintf(stderr, "%-48s [%s%s] %s / %s %s ETA %s\n", short_path(path).c_str(),
                 std::string(filled, '#').c_str(), std::string(bar_width - filled, '.').c_str(),
                 human_bytes(file.received).c_str(), human_bytes(file.total).c_str(),
                 human_rate(file.received, elapsed).c_str(), eta.c_str());
    ++m_drawn_lines;
  }
  std::fflush(stderr);
  m_last_draw = now;
}

} // namespace kget::cli
