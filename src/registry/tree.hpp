// The folder view of a commit's flat file list, for the Hub's tree route: which entries a
// directory holds, and the oid of each folder, computed the way git names a tree object
// (sha1 over the sorted entries' modes, names and ids) so that it is deterministic and changes
// exactly when something below the folder changes.
#pragma once

#include "store/store.hpp"
#include "util/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kget::registry {

struct TreeItem {
  bool directory = false;
  std::string path;
  std::string oid;                        // git blob id (file) or git tree id (directory)
  const store::FileEntry* file = nullptr; // files only; points into the commit listed
};

// The entries below `directory` ("" for the root) of `commit`: its children, or with `recursive`
// every descendant; at each level the folders first, then the files, each sorted by name, and a
// folder's contents right after it. A `directory` naming a file lists that file alone; one that
// names nothing fails with ErrorKind::not_found.
Result<std::vector<TreeItem>> list_tree(const store::Commit& commit, std::string_view directory,
                                        bool recursive);

} // namespace kget::registry
