#include "cuda_paths.h"

#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kget_kernels {
namespace {

// The kernel-side copy of kget's compatibility rules (DESIGN.md "Choosing a variant";
// src/resolve/compatibility.cpp, sass_match and ptx_match): kernel libraries cannot link
// libkget, yet must agree with the resolver on what runs where, or kget would pick a variant
// whose ops then refuse the device. Change both together.
//
// A target covers the capabilities from `low` to `high` (inclusive, ordered by major, then
// minor): sm_XY, sm_XYf and compute_XYf up to the last minor of major X, sm_XYa and compute_XYa
// X.Y only, compute_XY everything from X.Y on.
struct TargetRange {
  ComputeCapability low;
  ComputeCapability high;
};

constexpr int kUnbounded = INT_MAX;

bool at_most(ComputeCapability a, ComputeCapability b) {
  return a.major < b.major || (a.major == b.major && a.minor <= b.minor);
}

void trim(const char** begin, const char** end) {
  while (*begin != *end && **begin == ' ') {
    ++*begin;
  }
  while (*end != *begin && (*end)[-1] == ' ') {
    --*end;
  }
}

// One entry, [begin, end) of the target list, e.g. "sm_90a". Spaces around it are allowed: a
// define written by hand in a source and formatted becomes "sm_80 + compute_80" when stringized.
bool parse_target(const char* begin, const char* end, TargetRange* range) {
  trim(&begin, &end);
  bool ptx = false;
  const size_t length = static_cast<size_t>(end - begin);
  if (length > 3 && std::strncmp(begin, "sm_", 3) == 0) {
    begin += 3;
  } else if (length > 8 && std::strncmp(begin, "compute_", 8) == 0) {
    begin += 8;
    ptx = true;
  } else {
    return false;
  }
  char suffix = '\0';
  if (end - begin > 0 && (end[-1] == 'a' || end[-1] == 'f')) {
    suffix = end[-1];
    --end;
  }
  // Two or three digits: a major of one or two, then the minor. More would overflow nothing
  // real and is rejected as a typo.
  const long digits = end - begin;
  if (digits < 2 || digits > 3 || *begin == '0') {
    return false;
  }
  int value = 0;
  for (const char* c = begin; c != end; ++c) {
    if (*c < '0' || *c > '9') {
      return false;
    }
    value = value * 10 + (*c - '0');
  }
  const ComputeCapability cc{value / 10, value % 10};
  range->low = cc;
  if (suffix == 'a') {
    range->high = cc;
  } else if (suffix == 'f' || !ptx) {
    range->high = {cc.major, kUnbounded};
  } else {
    range->high = {kUnbounded, kUnbounded};
  }
  return true;
}

// Calls fn(begin, end) for each '+'-separated entry; false as soon as fn does.
template <class Fn>
bool for_each_target(const char* targets, Fn&& fn) {
  const char* begin = targets;
  while (true) {
    const char* end = std::strchr(begin, '+');
    if (!end) {
      end = begin + std::strlen(begin);
    }
    if (!fn(begin, end)) {
      return false;
    }
    if (*end == '\0') {
      return true;
    }
    begin = end + 1;
  }
}

bool range_covers(const TargetRange& range, ComputeCapability cc) {
  return at_most(range.low, cc) && at_most(cc, range.high);
}

bool range_contains(const TargetRange& outer, const TargetRange& inner) {
  return at_most(outer.low, inner.low) && at_most(inner.high, outer.high);
}

bool is_built(const CudaPath& path) {
  return path.targets != nullptr;
}

// A message assembled piece by piece into a fixed buffer, truncating like kget_set_error.
class Text {
public:
  __attribute__((format(printf, 2, 3))) void append(const char* format, ...) {
    if (used_ >= sizeof buffer_) {
      return;
    }
    va_list args;
    va_start(args, format);
    const int written = std::vsnprintf(buffer_ + used_, sizeof buffer_ - used_, format, args);
    va_end(args);
    if (written > 0) {
      used_ += static_cast<size_t>(written);
    }
  }
  const char* c_str() const { return buffer_; }

private:
  char buffer_[KGET_KERNEL_ERROR_MESSAGE_SIZE] = {};
  size_t used_ = 0;
};

void append_capability(Text* text, ComputeCapability cc) {
  text->append("%d.%d", cc.major, cc.minor);
}

// "9.0", "8.6 and newer 8.x", "8.0 and newer".
void append_range(Text* text, const TargetRange& range) {
  append_capability(text, range.low);
  if (range.high.major == kUnbounded) {
    text->append(" and newer");
  } else if (range.high.minor == kUnbounded) {
    text->append(" and newer %d.x", range.low.major);
  }
}

// "sm_80, compute_80" from "sm_80+compute_80".
void append_targets(Text* text, const char* targets) {
  bool first = true;
  for_each_target(targets, [&](const char* begin, const char* end) {
    trim(&begin, &end);
    text->append("%s%.*s", first ? "" : ", ", static_cast<int>(end - begin), begin);
    first = false;
    return true;
  });
}

// What a path runs on: its targets' ranges, leaving out those another target of the path
// already covers (sm_80 next to compute_80), then the targets, e.g.
// "8.0 and newer (sm_80, compute_80)".
void append_path_coverage(Text* text, const CudaPath& path) {
  TargetRange ranges[16];
  int count = 0;
  for_each_target(path.targets, [&](const char* begin, const char* end) {
    if (count < 16 && parse_target(begin, end, &ranges[count])) {
      ++count;
    }
    return true;
  });
  bool first = true;
  for (int i = 0; i < count; ++i) {
    bool redundant = false;
    for (int j = 0; j < count && !redundant; ++j) {
      // Of two equal ranges, the first is kept.
      redundant = j != i && range_contains(ranges[j], ranges[i]) &&
                  (!range_contains(ranges[i], ranges[j]) || j < i);
    }
    if (!redundant) {
      text->append("%s", first ? "" : ", ");
      append_range(text, ranges[i]);
      first = false;
    }
  }
  text->append(" (");
  append_targets(text, path.targets);
  text->append(")");
}

// The lowest capability a path runs on, to list paths from the oldest GPU to the newest.
ComputeCapability lowest_capability(const CudaPath& path) {
  ComputeCapability lowest{kUnbounded, kUnbounded};
  for_each_target(path.targets, [&](const char* begin, const char* end) {
    TargetRange range;
    if (parse_target(begin, end, &range) && at_most(range.low, lowest)) {
      lowest = range.low;
    }
    return true;
  });
  return lowest;
}

// "8.0 and newer (sm_80, compute_80) and 9.0 (sm_90a)": every built path, oldest first.
void append_supported(Text* text, const CudaPath* paths, size_t count) {
  size_t order[32];
  size_t built = 0;
  for (size_t i = 0; i < count && built < 32; ++i) {
    if (is_built(paths[i])) {
      order[built++] = i;
    }
  }
  for (size_t i = 1; i < built; ++i) { // insertion sort: a handful of paths
    for (size_t j = i; j > 0 && !at_most(lowest_capability(paths[order[j - 1]]),
                                         lowest_capability(paths[order[j]]));
         --j) {
      const size_t swap = order[j];
      order[j] = order[j - 1];
      order[j - 1] = swap;
    }
  }
  for (size_t i = 0; i < built; ++i) {
    text->append("%s", i == 0 ? "" : i + 1 == built ? " and " : ", ");
    append_path_coverage(text, paths[order[i]]);
  }
}

// "sm90 (sm_90a), sm80 (sm_80, compute_80)", or "none".
void append_built(Text* text, const CudaPath* paths, size_t count) {
  bool first = true;
  for (size_t i = 0; i < count; ++i) {
    if (is_built(paths[i])) {
      text->append("%s%s (", first ? "" : ", ", paths[i].name);
      append_targets(text, paths[i].targets);
      text->append(")");
      first = false;
    }
  }
  if (first) {
    text->append("none");
  }
}

int no_path_error(const CudaPath* paths, size_t count, const char* op, int device,
                  ComputeCapability cc, kget_error* error) {
  Text text;
  text.append("%s on CUDA device %d (compute capability ", op, device);
  append_capability(&text, cc);
  bool any_built = false;
  for (size_t i = 0; i < count; ++i) {
    any_built = any_built || is_built(paths[i]);
  }
  if (any_built) {
    text.append("): this variant has no code for it; it runs on compute capability ");
    append_supported(&text, paths, count);
  } else {
    text.append("): this variant was built without any of its CUDA code paths");
  }
  text.append("; use a variant built for this GPU (kget chooses one by compute capability when "
              "the repository has it), or the CPU variant");
  return kget_set_error(error, KGET_KERNEL_ERROR_DEVICE, "%s", text.c_str());
}

int forced_path(const CudaPath* paths, size_t count, const char* forced, const char* op, int device,
                ComputeCapability cc, size_t* chosen, kget_error* error) {
  size_t index = 0;
  while (index < count && std::strcmp(paths[index].name, forced) != 0) {
    ++index;
  }
  Text text;
  text.append("%s on CUDA device %d: KGET_KERNEL_CUDA_PATH=%.40s: ", op, device, forced);
  if (index == count) {
    text.append("expected auto");
    for (size_t i = 0; i < count; ++i) {
      text.append("%s%s", i + 1 == count ? " or " : ", ", paths[i].name);
    }
    text.append(" (built into this variant: ");
    append_built(&text, paths, count);
    text.append(")");
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT, "%s", text.c_str());
  }
  const CudaPath& path = paths[index];
  if (!is_built(path)) {
    text.append("this variant was built without the %s path (built: ", path.name);
    append_built(&text, paths, count);
    text.append(")");
    return kget_set_error(error, KGET_KERNEL_ERROR_UNSUPPORTED, "%s", text.c_str());
  }
  if (!cuda_targets_cover(path.targets, cc)) {
    text.append("the %s path has no code for compute capability ", path.name);
    append_capability(&text, cc);
    text.append(": it runs on ");
    append_path_coverage(&text, path);
    text.append(" (built: ");
    append_built(&text, paths, count);
    text.append(")");
    return kget_set_error(error, KGET_KERNEL_ERROR_UNSUPPORTED, "%s", text.c_str());
  }
  *chosen = index;
  return KGET_KERNEL_OK;
}

} // namespace

bool cuda_targets_valid(const char* targets) {
  if (!targets || !*targets) {
    return false;
  }
  return for_each_target(targets, [](const char* begin, const char* end) {
    TargetRange range;
    return parse_target(begin, end, &range);
  });
}

bool cuda_targets_cover(const char* targets, ComputeCapability cc) {
  if (!targets) {
    return false;
  }
  bool covered = false;
  for_each_target(targets, [&](const char* begin, const char* end) {
    TargetRange range;
    covered = parse_target(begin, end, &range) && range_covers(range, cc);
    return !covered;
  });
  return covered;
}

const char* forced_cuda_path() {
  // Read once (a function-local static), so the ops never race a getenv; the process must not
  // setenv it concurrently with the first call.
  static const std::string forced = [] {
    const char* value = std::getenv("KGET_KERNEL_CUDA_PATH");
    if (!value || std::strcmp(value, "auto") == 0) {
      return std::string();
    }
    return std::string(value);
  }();
  return forced.c_str();
}

int choose_cuda_path_forced(const CudaPath* paths, size_t count, const char* forced, const char* op,
                            int device, ComputeCapability cc, size_t* chosen, kget_error* error) {
  for (size_t i = 0; i < count; ++i) {
    if (is_built(paths[i]) && !cuda_targets_valid(paths[i].targets)) {
      return kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL,
                            "%s: the %s path was built with the malformed target list \"%.80s\" "
                            "(expected e.g. sm_80+compute_80): a bug in the kernel's build, "
                            "please report it",
                            op, paths[i].name, paths[i].targets);
    }
  }
  if (forced && *forced && std::strcmp(forced, "auto") != 0) {
    return forced_path(paths, count, forced, op, device, cc, chosen, error);
  }
  for (size_t i = 0; i < count; ++i) {
    if (cuda_targets_cover(paths[i].targets, cc)) {
      *chosen = i;
      return KGET_KERNEL_OK;
    }
  }
  return no_path_error(paths, count, op, device, cc, error);
}

int choose_cuda_path(const CudaPath* paths, size_t count, const char* op, int device,
                     ComputeCapability cc, size_t* chosen, kget_error* error) {
  return choose_cuda_path_forced(paths, count, forced_cuda_path(), op, device, cc, chosen, error);
}

} // namespace kget_kernels
