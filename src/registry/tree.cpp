#include "registry/tree.hpp"

#include "digest/digest.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace kget::registry {

namespace {

struct Folder {
  std::map<std::string, std::unique_ptr<Folder>> folders;
  std::map<std::string, const store::FileEntry*> files;
  std::string oid;
};

std::string hex_to_bytes(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return 0; // the store writes lower-case hex only
  };
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  }
  return bytes;
}

void add_file(Folder& root, const store::FileEntry& file) {
  Folder* folder = &root;
  auto parts = util::split(file.path, '/');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto& child = folder->folders[std::string(parts[i])];
    if (!child) {
      child = std::make_unique<Folder>();
    }
    folder = child.get();
  }
  folder->files[std::string(parts.back())] = &file;
}

// git's tree object: entries sorted by name, a folder's name compared as if it ended in '/'.
void compute_oids(Folder& folder) {
  std::vector<std::pair<std::string, std::string>> entries; // sort key, encoded entry
  for (auto& [name, child] : folder.folders) {
    compute_oids(*child);
    entries.emplace_back(name + "/",
                         "40000 " + name + std::string(1, '\0') + hex_to_bytes(child->oid));
  }
  for (const auto& [name, file] : folder.files) {
    entries.emplace_back(name,
                         "100644 " + name + std::string(1, '\0') + hex_to_bytes(file->git_oid));
  }
  std::sort(entries.begin(), entries.end());
  std::string content;
  for (const auto& entry : entries) {
    content += entry.second;
  }
  folder.oid =
      digest::sha1_hex("tree " + std::to_string(content.size()) + std::string(1, '\0') + content);
}

std::string join_path(std::string_view parent, std::string_view name) {
  return parent.empty() ? std::string(name) : std::string(parent) + "/" + std::string(name);
}

void list_folder(const Folder& folder, const std::string& path, bool recursive,
                 std::vector<TreeItem>& out) {
  for (const auto& [name, child] : folder.folders) {
    std::string child_path = join_path(path, name);
    out.push_back(TreeItem{true, child_path, child->oid, nullptr});
    if (recursive) {
      list_folder(*child, child_path, recursive, out);
    }
  }
  for (const auto& [name, file] : folder.files) {
    out.push_back(TreeItem{false, file->path, file->git_oid, file});
  }
}

} // namespace

Result<std::vector<TreeItem>> list_tree(const store::Commit& commit, std::string_view directory,
                                        bool recursive) {
  Folder root;
  for (const auto& file : commit.files) {
    add_file(root, file);
  }
  compute_oids(root);

  const Folder* folder = &root;
  if (!directory.empty()) {
    auto parts = util::split(directory, '/');
    for (size_t i = 0; i < parts.size(); ++i) {
      auto child = folder->folders.find(std::string(parts[i]));
      if (child == folder->folders.end()) {
        if (i + 1 == parts.size()) {
          if (auto file = folder->files.find(std::string(parts[i])); file != folder->files.end()) {
            return std::vector<TreeItem>{
                TreeItem{false, file->second->path, file->second->git_oid, file->second}};
          }
        }
        return fail(ErrorKind::not_found, "{} has no file or folder {}", commit.id, directory);
      }
      folder = child->second.get();
    }
  }
  std::vector<TreeItem> items;
  list_folder(*folder, std::string(directory), recursive, items);
  return items;
}

} // namespace kget::registry
