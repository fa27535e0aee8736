// Spec -> commit: through the registry's refs (one request), through repo info where a mirror
// serves no refs, or offline through the cache's refs/ files.
#include "fetch/revision.hpp"

#include "digest/digest.hpp"

namespace kget::fetch {

namespace {

std::optional<std::string> find_ref(const remote::Refs& refs, const std::string& name) {
  if (auto branch = refs.branches.find(name); branch != refs.branches.end()) {
    return branch->second;
  }
  if (auto tag = refs.tags.find(name); tag != refs.tags.end()) {
    return tag->second;
  }
  return std::nullopt;
}

std::string known_versions(const remote::Refs& refs) {
  std::vector<std::string> names;
  for (const auto& [name, commit] : refs.branches) {
    if (ref::parse_major_branch(name)) {
      names.push_back(name);
    }
  }
  for (const auto& [name, commit] : refs.tags) {
    if (ref::parse_tag(name)) {
      names.push_back(name);
    }
  }
  if (names.empty()) {
    return "it has no vN branch and no vX.Y.Z tag";
  }
  return "it has " + util::join(names, ", ");
}

} // namespace

Result<Revision> revision_from_refs(const ref::KernelRef& kernel, const remote::Refs& refs,
                                    std::string_view where) {
  std::string repo = ref::repo_id(kernel);
  if (auto* commit = std::get_if<ref::CommitSpec>(&kernel.spec)) {
    return Revision{commit->sha, "", "commit " + commit->sha};
  }
  if (std::holds_alternative<ref::DefaultSpec>(kernel.spec)) {
    std::optional<int> highest;
    for (const auto& [name, commit] : refs.branches) {
      if (auto major = ref::parse_major_branch(name); major && (!highest || *major > *highest)) {
        highest = major;
      }
    }
    if (!highest) {
      return fail(ErrorKind::not_found,
                  "{} has no version branch (v1, v2, ...) {}; ask for a revision explicitly, "
                  "e.g. {}@main",
                  repo, where, repo);
    }
    std::string branch = ref::branch_name(*highest);
    return Revision{refs.branches.at(branch), branch,
                    fmt::format("highest version branch: {}", branch)};
  }
  if (auto* range = std::get_if<ref::RangeSpec>(&kernel.spec)) {
    std::vector<ref::Version> versions;
    for (const auto& [name, commit] : refs.tags) {
      if (auto version = ref::parse_tag(name)) {
        versions.push_back(*version);
      }
    }
    auto best = range->range.highest_match(versions);
    if (!best) {
      return fail(ErrorKind::not_found, "no release of {} matches {} {}; {}", repo, range->text,
                  where, known_versions(refs));
    }
    std::string tag = ref::tag_name(*best);
    return Revision{refs.tags.at(tag), tag,
                    fmt::format("highest release matching {}: {}", range->text, tag)};
  }
  std::string name = *ref::fixed_revision(kernel.spec);
  auto commit = find_ref(refs, name);
  if (!commit) {
    return fail(ErrorKind::not_found, "{} has no {} {}; {}", repo, ref::describe(kernel.spec),
                where, known_versions(refs));
  }
  return Revision{*commit, name, ref::describe(kernel.spec)};
}

Result<Revision> resolve_online(const ref::KernelRef& kernel, remote::Remote& remote) {
  if (auto* commit = std::get_if<ref::CommitSpec>(&kernel.spec)) {
    return Revision{commit->sha, "", "commit " + commit->sha};
  }
  std::string repo = ref::repo_id(kernel);
  auto refs = remote.list_refs(repo);
  if (refs) {
    return revision_from_refs(kernel, *refs, "at " + remote.endpoint());
  }
  // Some mirrors proxy repo info but not refs; a fixed revision still resolves through it.
  auto fixed = ref::fixed_revision(kernel.spec);
  if (!fixed || refs.error().kind != ErrorKind::not_found) {
    return std::unexpected(refs.error());
  }
  auto commit = remote.resolve_revision(repo, *fixed);
  if (!commit) {
    return std::unexpected(refs.error());
  }
  return Revision{*commit, *fixed, ref::describe(kernel.spec)};
}

Result<Revision> resolve_offline(const ref::KernelRef& kernel, const cache::Cache& cache) {
  remote::Refs refs;
  std::string repo = ref::repo_id(kernel);
  for (auto& [name, commit] : cache.list_refs(repo)) {
    // The cache does not say whether a ref was a branch or a tag; vN names are branches.
    if (ref::parse_tag(name)) {
      refs.tags.emplace(name, commit);
    } else {
      refs.branches.emplace(name, commit);
    }
  }
  return revision_from_refs(kernel, refs,
                            fmt::format("in the cache at {}", cache.repo_dir(repo).string()));
}

} // namespace kget::fetch
