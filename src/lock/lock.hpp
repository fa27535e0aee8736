// kget.lock: each kernel pinned to a commit, with the digests of every file of every variant at
// that commit, so that a locked get_kernel or `kget pull --locked` resolves nothing (no request
// for refs) and accepts only the bytes that were locked, whichever variant the host then takes.
// Format and rules: docs/lock.md.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <map>
#include <string>

namespace kget::lock {

struct LockedVariant {
  std::string digest_algorithm;             // "sha256" or "sha512", as metadata.json says
  std::map<std::string, std::string> files; // path in the variant -> lower-case hex digest
};

struct LockedKernel {
  std::string repo;   // "org/name"
  std::string spec;   // as written after '@' when locked ("" for none)
  std::string commit; // 40 hex
  std::map<std::string, LockedVariant> variants;
};

struct LockFile {
  std::map<std::string, LockedKernel> kernels; // by repo
};

// A missing file is ErrorKind::not_found; malformed TOML or fields are invalid_metadata naming
// the file, the line and the key.
Result<LockFile> read_lock_file(const std::filesystem::path& path);
// Atomically replaces `path`.
Result<void> write_lock_file(const std::filesystem::path& path, const LockFile& lock);

// The locked entry for `repo`, checked against the spec a caller asks for now: a different spec
// is ErrorKind::conflict ("kget.lock pins org/name@1; asked for @2: run kget lock again").
Result<const LockedKernel*> find(const LockFile& lock, const std::filesystem::path& path,
                                 const std::string& repo, const std::string& spec);

} // namespace kget::lock
