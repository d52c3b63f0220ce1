// Every rule applied to one header, in one place, for inspect() and extract() alike:
// type, name, mode, link target, where it lands in the tree, and the entry and size
// limits. inspect() reports all the refusals; extract() stops at the first.
#pragma once

#include <cstdint>
#include <vector>

#include "common/archive/archive.hpp"
#include "common/archive/entry_rules.hpp"
#include "common/archive/tree.hpp"

namespace pw::archive::detail {

struct Refusal {
  Errc code = Errc::invalid_argument;
  Violation violation;
};

struct CheckedEntry {
  bool listed = false;  // a type we accept, so it belongs in Report::entries
  Entry entry;
  CheckedPath path;
  Tree::Node* node = nullptr;         // where it lives in the tree (if it got there)
  Tree::Node* link_target = nullptr;  // a hardlink's target file
  std::vector<Refusal> refusals;      // every rule broken; empty: it may be written
  bool stop = false;                  // a limit was reached: read no further
};

class EntryChecker {
 public:
  explicit EntryChecker(const Limits& limits) : limits_(limits) {}

  CheckedEntry check(const RawHeader& header);

  // After the last header: symlinks that leave the tree through other symlinks.
  std::vector<Refusal> finish();

  Tree& tree() { return tree_; }

  std::uint64_t entries = 0, files = 0, directories = 0, symlinks = 0, hardlinks = 0;
  std::uint64_t total_bytes = 0;

 private:
  Limits limits_;
  Tree tree_;
};

}  // namespace pw::archive::detail
