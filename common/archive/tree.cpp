#include "common/archive/tree.hpp"

#include <algorithm>
#include <cstddef>
#include <deque>

namespace pw::archive::detail {
namespace {

// The kernel follows at most 40 symlinks in one lookup; past that it fails with ELOOP.
constexpr int kMaxHops = 40;
// Bounds the work of following one symlink (components looked at, across its hops).
constexpr std::size_t kMaxSteps = 4096;

Rule refused(std::string text) { return Rule{Errc::invalid_argument, std::move(text)}; }

}  // namespace

const char* kind_name(Tree::Kind kind) {
  switch (kind) {
    case Tree::Kind::directory:
      return "directory";
    case Tree::Kind::file:
      return "file";
    case Tree::Kind::symlink:
      return "symlink";
  }
  return "entry";
}

Tree::Node* Tree::Node::find(std::string_view component) const {
  auto it = children.find(component);
  return it == children.end() ? nullptr : it->second.get();
}

Tree::Tree() : root_(std::make_unique<Node>()) {
  root_->on_disk = true;
  root_->name = ".";
}

std::optional<Rule> Tree::add(const CheckedPath& path, Kind kind, const std::string& entry,
                              Node*& node) {
  node = nullptr;
  const auto& components = path.components;
  if (components.empty()) {
    if (kind != Kind::directory) return refused("names the release directory itself");
    if (root_->declared) return refused("duplicate entry");
    root_->declared = true;
    root_->entry = entry;
    node = root_.get();
    return std::nullopt;
  }
  // Walk what exists; refusals can only come from existing nodes, so nothing is created
  // for a refused entry.
  Node* current = root_.get();
  std::size_t i = 0;
  for (; i < components.size(); ++i) {
    Node* child = current->find(components[i]);
    if (child == nullptr) break;
    bool last = i + 1 == components.size();
    if (last) {
      if (kind == Kind::directory && child->kind == Kind::directory && !child->declared) {
        child->declared = true;  // named after a deeper entry implied it
        child->entry = entry;
        node = child;
        return std::nullopt;
      }
      std::string rule = "duplicate entry";
      if (child->kind != kind) {
        rule += std::string(" (a ") + kind_name(kind) + " replaces an earlier " +
                kind_name(child->kind) + ")";
      }
      return refused(rule);
    }
    if (child->kind == Kind::symlink) {
      return refused("writes through symlink '" + child->entry + "'");
    }
    if (child->kind == Kind::file) return refused("path goes through file '" + child->entry + "'");
    current = child;
  }
  for (; i < components.size(); ++i) {
    auto child = std::make_unique<Node>();
    child->name = components[i];
    child->parent = current;
    Node* raw = child.get();
    current->children.emplace(components[i], std::move(child));
    current = raw;
  }
  current->kind = kind;
  current->declared = true;
  current->entry = entry;
  if (kind == Kind::symlink) symlinks_.push_back(current);
  node = current;
  return std::nullopt;
}

std::optional<Rule> Tree::find_file(const CheckedPath& path, Node*& node) {
  node = nullptr;
  Node* current = root_.get();
  for (std::size_t i = 0; i < path.components.size(); ++i) {
    Node* child = current->find(path.components[i]);
    if (child == nullptr) break;
    if (i + 1 == path.components.size()) {
      if (child->kind != Kind::file) {
        return refused(std::string("hardlink target is a ") + kind_name(child->kind) +
                       ", not a file");
      }
      node = child;
      return std::nullopt;
    }
    if (child->kind == Kind::symlink) {
      return refused("hardlink target goes through symlink '" + child->entry + "'");
    }
    current = child;
  }
  return refused("hardlink target is not an earlier file of the archive");
}

std::optional<Rule> Tree::follow(const Node& link) const {
  // The directories from the root down to where the walk stands; nullptr where the
  // archive has nothing (the kernel would stop there with ENOENT; '..' is then taken
  // lexically, which is the cautious reading).
  std::vector<const Node*> position;
  for (const Node* n = link.parent; n != nullptr && n != root_.get(); n = n->parent) {
    position.push_back(n);
  }
  std::reverse(position.begin(), position.end());
  std::deque<std::string> pending;
  for (auto& part : split_path(link.target)) pending.push_back(std::move(part));
  const Node* via = nullptr;
  int hops = 0;
  std::size_t steps = 0;
  auto escape = [&] {
    std::string rule = "symlink leaves the release tree";
    if (via != nullptr && via != &link) rule += " (through symlink '" + via->entry + "')";
    return refused(rule);
  };
  while (!pending.empty()) {
    if (++steps > kMaxSteps) return refused("symlink chain too long to follow");
    std::string component = std::move(pending.front());
    pending.pop_front();
    if (component.empty() || component == ".") continue;
    if (component == "..") {
      if (position.empty()) return escape();
      position.pop_back();
      continue;
    }
    const Node* dir = position.empty() ? root_.get() : position.back();
    const Node* child = dir != nullptr ? dir->find(component) : nullptr;
    if (child != nullptr && child->kind == Kind::symlink) {
      if (++hops > kMaxHops) return refused("symlink loop");
      via = child;
      if (child->target.empty() || child->target.front() == '/') return escape();
      auto parts = split_path(child->target);
      pending.insert(pending.begin(), parts.begin(), parts.end());
      continue;
    }
    position.push_back(child);
  }
  return std::nullopt;
}

std::vector<std::pair<const Tree::Node*, Rule>> Tree::check_symlinks() const {
  std::vector<std::pair<const Node*, Rule>> out;
  for (const Node* link : symlinks_) {
    if (!link->chain_check) continue;
    if (auto rule = follow(*link)) out.emplace_back(link, std::move(*rule));
  }
  return out;
}

std::string Tree::path_of(const Node& node) {
  std::vector<const std::string*> names;
  for (const Node* n = &node; n != nullptr && n->parent != nullptr; n = n->parent) {
    names.push_back(&n->name);
  }
  if (names.empty()) return ".";
  std::string out;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!out.empty()) out += '/';
    out += **it;
  }
  return out;
}

namespace {
void post_order(Tree::Node& node, const std::function<void(Tree::Node&)>& visit) {
  for (auto& [name, child] : node.children) {
    if (child->kind == Tree::Kind::directory) post_order(*child, visit);
  }
  if (node.parent != nullptr) visit(node);
}
}  // namespace

void Tree::visit_directories_post_order(const std::function<void(Node&)>& visit) {
  post_order(*root_, visit);
}

}  // namespace pw::archive::detail
