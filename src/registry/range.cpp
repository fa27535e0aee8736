#include "registry/range.hpp"

#include "util/strings.hpp"

#include <charconv>

namespace kget::registry {

namespace {

std::optional<uint64_t> parse_position(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

RangeChoice whole() {
  return {};
}

RangeChoice unsatisfiable() {
  return {RangeChoice::Kind::unsatisfiable, 0, 0};
}

RangeChoice partial(uint64_t first, uint64_t last) {
  return {RangeChoice::Kind::partial, first, last - first + 1};
}

} // namespace

RangeChoice choose_range(std::optional<std::string_view> header, uint64_t size) {
  if (!header) {
    return whole();
  }
  std::string_view value = util::trim(*header);
  constexpr std::string_view unit = "bytes=";
  if (util::to_lower(value.substr(0, unit.size())) != unit) {
    return whole(); // another unit, or garbage: ignored
  }
  value = util::trim(value.substr(unit.size()));
  if (value.find(',') != std::string_view::npos) {
    return whole(); // several ranges: the whole file is a valid answer (RFC 9110 §14.2)
  }
  size_t dash = value.find('-');
  if (dash == std::string_view::npos) {
    return whole();
  }
  std::string_view first_text = util::trim(value.substr(0, dash));
  std::string_view last_text = util::trim(value.substr(dash + 1));
  if (first_text.empty()) { // "-n": the last n bytes
    auto suffix = parse_position(last_text);
    if (!suffix) {
      return whole();
    }
    if (*suffix == 0 || size == 0) {
      return unsatisfiable();
    }
    uint64_t length = *suffix < size ? *suffix : size;
    return partial(size - length, size - 1);
  }
  auto first = parse_position(first_text);
  if (!first) {
    return whole();
  }
  std::optional<uint64_t> last;
  if (!last_text.empty()) {
    last = parse_position(last_text);
    if (!last || *last < *first) {
      return whole(); // syntactically invalid: ignored
    }
  }
  if (*first >= size) {
    return unsatisfiable();
  }
  uint64_t end = last && *last < size ? *last : size - 1;
  return partial(*first, end);
}

} // namespace kget::registry
