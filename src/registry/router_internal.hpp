// Shared by the route implementations (router.cpp, hub_routes.cpp, push_routes.cpp); not part
// of the module's interface.
#pragma once

#include "registry/message.hpp"
#include "registry/router.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kget::registry {

struct Router::RepoAt {
  std::string repo;
  std::shared_ptr<const store::Commit> commit;
};

// 405 with the Allow header.
Response method_not_allowed(std::string_view allowed);
// 404 NotFound for a path that is no route.
Response route_not_found(const Request& request);

// Hub-style JSON: keys in the order written, bytes that are not UTF-8 replaced rather than
// thrown on (a path in the store need not be UTF-8).
template <class Json>
std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

} // namespace kget::registry
