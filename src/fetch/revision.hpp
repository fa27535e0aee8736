// How a kernel reference's spec becomes a commit (docs/references.md has the rules).
#pragma once

#include "cache/cache.hpp"
#include "fetch/fetch.hpp"
#include "ref/kernel_ref.hpp"
#include "remote/remote.hpp"

namespace kget::fetch {

// The spec applied to a repository's branches and tags; `where` ends the not_found message
// ("at http://…", "in the cache at …").
Result<Revision> revision_from_refs(const ref::KernelRef& kernel, const remote::Refs& refs,
                                    std::string_view where);

// One request (refs; repo info as the fallback for a fixed revision), none for a commit spec.
Result<Revision> resolve_online(const ref::KernelRef& kernel, remote::Remote& remote);

// From the cache's refs/ files; no request.
Result<Revision> resolve_offline(const ref::KernelRef& kernel, const cache::Cache& cache);

} // namespace kget::fetch
