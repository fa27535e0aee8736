// Request-target parsing and URL building. libmicrohttpd is told not to decode anything
// (server.cpp), because the Hub's clients send a revision or a tree sub-path as one segment with
// '/' encoded as %2F (huggingface_hub quotes them with safe=""); decoding before splitting would
// cut "refs%2Fpr%2F1" in three.
#pragma once

#include "util/result.hpp"
#include "util/url.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kget::registry {

using util::percent_decode;
using util::percent_encode;

struct Target {
  std::vector<std::string> segments;                      // decoded, leading empty one dropped
  std::vector<std::pair<std::string, std::string>> query; // decoded
};

// "/a/b%2Fc?x=1&y" -> {"a", "b/c"}, {{"x", "1"}, {"y", ""}}. The target must be in origin form
// (start with '/').
Result<Target> parse_target(std::string_view target);

// Query booleans as the Hub's clients send them: true/True/1 (httpx sends "true", requests-based
// clients sent "True"); anything else is false.
bool query_true(std::string_view value);

} // namespace kget::registry
