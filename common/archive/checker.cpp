#include "common/archive/checker.hpp"

#include <optional>
#include <string>
#include <utility>

namespace pw::archive::detail {
namespace {

bool has_dotdot(std::string_view target) {
  for (const auto& component : split_path(target)) {
    if (component == "..") return true;
  }
  return false;
}

}  // namespace

CheckedEntry EntryChecker::check(const RawHeader& header) {
  CheckedEntry out;
  const std::string name = printable(header.name);
  auto refuse = [&](Errc code, std::string rule) {
    out.refusals.push_back(Refusal{code, Violation{name, std::move(rule)}});
  };
  auto refuse_rule = [&](const Rule& rule) { refuse(rule.code, rule.text); };

  if (++entries > limits_.max_entries) {
    refuse(Errc::limit, "more than " + std::to_string(limits_.max_entries) + " entries");
    out.stop = true;
    return out;
  }
  // libarchive warns when a name is not in the expected charset (our own UTF-8 check
  // decides that) and when a header is malformed (refused: it may be read differently
  // by other tools).
  if (!header.warning.empty() && header.warning.find("can't be converted") == std::string::npos) {
    refuse(Errc::parse, "malformed header: " + header.warning);
  }

  if (auto rule = check_type(header.type)) refuse_rule(*rule);
  out.listed = !check_type(header.type).has_value();
  Tree::Kind kind = Tree::Kind::file;
  switch (header.type) {
    case RawType::directory:
      ++directories;
      out.entry.type = EntryType::directory;
      kind = Tree::Kind::directory;
      break;
    case RawType::symlink:
      ++symlinks;
      out.entry.type = EntryType::symlink;
      kind = Tree::Kind::symlink;
      break;
    case RawType::hardlink:
      ++hardlinks;
      out.entry.type = EntryType::hardlink;
      break;
    case RawType::file:
      ++files;
      out.entry.type = EntryType::file;
      break;
    default:
      break;
  }

  auto name_rule = check_name(header.name, limits_, out.path);
  if (name_rule) refuse_rule(*name_rule);
  out.entry.path = name_rule ? name : out.path.joined();
  if (auto rule = check_mode(header.type, header.permissions)) refuse_rule(*rule);
  out.entry.mode = clamp_mode(header.permissions);

  bool target_ok = true;
  CheckedPath target_path;
  if (header.type == RawType::symlink || header.type == RawType::hardlink) {
    out.entry.link_target = printable(header.link_target);
  }
  if (header.type == RawType::symlink && !name_rule) {
    std::vector<std::string> link_dir = out.path.components;
    if (!link_dir.empty()) link_dir.pop_back();
    if (auto rule = check_symlink_target(header.link_target, link_dir, limits_)) {
      refuse_rule(*rule);
      target_ok = false;
    }
  } else if (header.type == RawType::hardlink) {
    if (auto rule = check_name(header.link_target, limits_, target_path)) {
      target_ok = false;
      if (rule->text == "absolute path" || rule->text == "'..' component") {
        refuse(Errc::invalid_argument, "hardlink leaves the release tree (" + rule->text + ")");
      } else {
        refuse(rule->code, "hardlink target: " + rule->text);
      }
    }
    if (header.size > 0) refuse(Errc::invalid_argument, "hardlink carries data");
  }

  if (header.type == RawType::file) {
    out.entry.size = header.size;
    total_bytes += header.size;
    if (total_bytes > limits_.max_total_bytes || total_bytes < header.size) {
      refuse(Errc::limit,
             "files total more than " + std::to_string(limits_.max_total_bytes) + " bytes");
      out.stop = true;
    }
  }

  // A hardlink's target is looked up before the link itself is placed, so a link to
  // itself is "not an earlier file".
  if (header.type == RawType::hardlink && target_ok) {
    if (auto rule = tree_.find_file(target_path, out.link_target)) refuse_rule(*rule);
  }
  if (!name_rule && out.listed) {
    Tree::Node* node = nullptr;
    if (auto rule = tree_.add(out.path, kind, name, node)) {
      refuse_rule(*rule);
    } else {
      out.node = node;
      if (header.type == RawType::symlink) {
        node->target = header.link_target;
        node->chain_check = target_ok && has_dotdot(header.link_target);
      }
    }
  }
  return out;
}

std::vector<Refusal> EntryChecker::finish() {
  std::vector<Refusal> out;
  for (auto& [node, rule] : tree_.check_symlinks()) {
    out.push_back(Refusal{rule.code, Violation{node->entry, rule.text}});
  }
  return out;
}

}  // namespace pw::archive::detail
