// What the CLI prints besides JSON: sizes, rates, and download progress (bars on a terminal,
// one line per finished file otherwise, nothing with --quiet).
#pragma once

#include "fetch/fetch.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace kget::cli {

// "512 B", "1.5 KiB", "2.0 GiB"
std::string human_bytes(uint64_t bytes);
// "12.3 MiB/s"
std::string human_rate(uint64_t bytes, std::chrono::steady_clock::duration elapsed);

class ProgressDisplay {
public:
  enum class Style { bars, lines, quiet };
  // bars when stderr is a terminal and TERM is not "dumb", lines otherwise; quiet when asked.
  static Style style_for(bool quiet);

  explicit ProgressDisplay(Style style) : m_style(style) {}
  ~ProgressDisplay();
  // Thread-safe: download threads report here at once.
  void update(const fetch::FileProgress& progress);
  fetch::ProgressCallback callback();

private:
  struct File {
    uint64_t received = 0;
    uint64_t total = 0;
    std::chrono::steady_clock::time_point started;
  };
  void redraw(std::chrono::steady_clock::time_point now);
  void clear_bars();

  Style m_style;
  std::mutex m_mutex;
  std::map<std::string, File> m_active;
  size_t m_drawn_lines = 0;
  std::chrono::steady_clock::time_point m_last_draw{};
};

} // namespace kget::cli
