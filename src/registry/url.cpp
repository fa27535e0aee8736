#include "registry/url.hpp"

#include "util/strings.hpp"
#include "util/url.hpp"

namespace kget::registry {

Result<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return fail(ErrorKind::usage, "the request target \"{}\" is not a path starting with '/'",
                target);
  }
  std::string_view path = target;
  std::string_view query;
  if (size_t mark = target.find('?'); mark != std::string_view::npos) {
    path = target.substr(0, mark);
    query = target.substr(mark + 1);
  }
  Target parsed;
  for (std::string_view segment : util::split(path.substr(1), '/')) {
    KGET_TRY_ASSIGN(auto decoded, percent_decode(segment));
    parsed.segments.push_back(std::move(decoded));
  }
  if (!query.empty()) {
    for (std::string_view pair : util::split(query, '&')) {
      if (pair.empty()) {
        continue;
      }
      size_t equals = pair.find('=');
      std::string_view key = pair.substr(0, equals);
      std::string_view value =
          equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
      KGET_TRY_ASSIGN(auto decoded_key, percent_decode(key, true));
      KGET_TRY_ASSIGN(auto decoded_value, percent_decode(value, true));
      parsed.query.emplace_back(std::move(decoded_key), std::move(decoded_value));
    }
  }
  return parsed;
}

bool query_true(std::string_view value) {
  std::string lower = util::to_lower(util::trim(value));
  return lower == "true" || lower == "1";
}

} // namespace kget::registry
