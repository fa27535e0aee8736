// A kernel reference, `org/name[@spec]`: which repository, and which revision of it the user
// asked for. Grammar, validation rules and what each spec resolves to: docs/references.md.
#pragma once

#include "ref/version.hpp"
#include "util/result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace kget::ref {

// No '@': the highest `vN` branch.
struct DefaultSpec {
  friend bool operator==(const DefaultSpec&, const DefaultSpec&) = default;
};

// "@1": the branch v1.
struct MajorSpec {
  int major = 0;
  friend bool operator==(const MajorSpec&, const MajorSpec&) = default;
};

// "@1.2.3": the tag v1.2.3.
struct TagSpec {
  Version version;
  friend bool operator==(const TagSpec&, const TagSpec&) = default;
};

// "@^1.2", "@~1.2", "@>=1.2,<2": the highest release tag in the range.
struct RangeSpec {
  VersionRange range;
  std::string text; // as written after '@'
  friend bool operator==(const RangeSpec&, const RangeSpec&) = default;
};

// "@" + 40 hex digits: that commit.
struct CommitSpec {
  std::string sha; // lower case
  friend bool operator==(const CommitSpec&, const CommitSpec&) = default;
};

// "@main", "@v1", "@release/2026-01": that branch or tag, whatever it is.
struct RevisionSpec {
  std::string name;
  friend bool operator==(const RevisionSpec&, const RevisionSpec&) = default;
};

using Spec = std::variant<DefaultSpec, MajorSpec, TagSpec, RangeSpec, CommitSpec, RevisionSpec>;

struct KernelRef {
  std::string org;
  std::string name;
  Spec spec;
  friend bool operator==(const KernelRef&, const KernelRef&) = default;
};

Result<KernelRef> parse_kernel_ref(std::string_view text);

// The reference as parse_kernel_ref reads it back: "org/name" or "org/name@spec".
std::string to_string(const KernelRef& ref);
// The text after '@'; empty for DefaultSpec.
std::string to_string(const Spec& spec);
// "org/name", the Hub's repository id.
std::string repo_id(const KernelRef& ref);
// For people: "branch v1", "tag v1.2.3", "highest release matching ^1.2", "commit 0123abc…",
// "revision main", "highest vN branch".
std::string describe(const Spec& spec);

// The revision to ask the registry for when the spec names one: "v1" for @1, "v1.2.3" for
// @1.2.3, the sha for a commit, the name for a revision. nullopt for DefaultSpec and RangeSpec,
// which need the repository's list of branches or tags first.
std::optional<std::string> fixed_revision(const Spec& spec);

// The Hub's rules (huggingface_hub validate_repo_id) for "org/name", and git's
// (git check-ref-format) for a branch or tag name; used by parse_kernel_ref.
Result<void> validate_repo_id(std::string_view repo_id);
Result<void> validate_revision_name(std::string_view name);

} // namespace kget::ref
