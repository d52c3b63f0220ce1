// The tree an archive builds, as a trie of path components, kept while the archive is
// read. It answers the questions that one header alone cannot: was this path seen
// before, does a later entry write through an earlier symlink or file, is a hardlink
// target an earlier file, and (once every entry is known) does any symlink, followed
// the way the kernel follows it through the other symlinks, leave the release tree.
// Extraction also keeps per-directory state here (created yet, final mode and mtime).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/archive/entry_rules.hpp"

namespace pw::archive::detail {

class Tree {
 public:
  enum class Kind { directory, file, symlink };  // a hardlink is a file

  struct Node {
    Kind kind = Kind::directory;
    bool declared = false;  // named by an entry (directories can also be implied by a deeper path)
    std::string name;       // the last component
    Node* parent = nullptr;
    std::map<std::string, std::unique_ptr<Node>, std::less<>> children;
    std::string target;        // symlink target as written
    std::string entry;         // printable name of the entry that declared it
    bool chain_check = false;  // a symlink whose target is checked through other symlinks
    // Extraction state.
    bool on_disk = false;
    std::uint32_t mode = 0755;
    bool has_mtime = false;
    std::int64_t mtime_sec = 0;
    long mtime_nsec = 0;

    Node* find(std::string_view component) const;
  };

  Tree();

  Node& root() { return *root_; }

  // Places an entry of `kind` at `path`, creating the directories it implies. Refused:
  // a path seen before (a directory may be named once after a deeper entry implied it),
  // a path through an earlier symlink or file, a non-directory naming the root.
  std::optional<Rule> add(const CheckedPath& path, Kind kind, const std::string& entry,
                          Node*& node);

  // A hardlink target must name an earlier file (or hardlink), not through a symlink.
  std::optional<Rule> find_file(const CheckedPath& path, Node*& node);

  // After the last entry: every symlink marked chain_check is followed as the kernel
  // would, through the other symlinks of the tree (at most 40 hops); climbing above the
  // root on the way is refused. Returns (symlink, rule) in archive order.
  std::vector<std::pair<const Node*, Rule>> check_symlinks() const;

  static std::string path_of(const Node& node);

  // Directories below the root, children before their parent.
  void visit_directories_post_order(const std::function<void(Node&)>& visit);

 private:
  std::optional<Rule> follow(const Node& link) const;

  std::unique_ptr<Node> root_;
  std::vector<const Node*> symlinks_;
};

const char* kind_name(Tree::Kind kind);

}  // namespace pw::archive::detail
