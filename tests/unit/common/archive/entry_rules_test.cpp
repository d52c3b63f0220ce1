// The pure rules (names, link targets, types, modes), the tree model and the limits
// parser, on strings: no archive, no file system.
#include "common/archive/entry_rules.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/archive/tree.hpp"

using pw::Errc;
using pw::archive::Limits;
using namespace pw::archive::detail;

namespace {

// The rule text check_name returns for `raw`, or "ok: <joined path>".
std::string name_rule(const std::string& raw, const Limits& limits = {}) {
  CheckedPath path;
  auto rule = check_name(raw, limits, path);
  return rule ? rule->text : "ok: " + path.joined();
}

std::string target_rule(const std::string& target, const std::vector<std::string>& dir) {
  auto rule = check_symlink_target(target, dir, Limits{});
  return rule ? rule->text : "ok";
}

CheckedPath path_of(const std::string& raw) {
  CheckedPath path;
  REQUIRE_FALSE(check_name(raw, Limits{}, path).has_value());
  return path;
}

// Adds an entry; returns its rule or "ok".
std::string add(Tree& tree, const std::string& raw, Tree::Kind kind,
                const std::string& target = "") {
  Tree::Node* node = nullptr;
  auto rule = tree.add(path_of(raw), kind, raw, node);
  if (rule) return rule->text;
  if (kind == Tree::Kind::symlink) {
    node->target = target;
    node->chain_check = true;
  }
  return "ok";
}

}  // namespace

TEST_CASE("UTF-8 validation is strict", "[archive][rules]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa6"));
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong '/'
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(valid_utf8("\xe2\x82"));          // truncated
  CHECK_FALSE(valid_utf8("a\x80"));             // lone continuation byte
}

TEST_CASE("printable escapes what a terminal or JSON should not see raw", "[archive][rules]") {
  CHECK(printable("caf\xc3\xa9/ok") == "caf\xc3\xa9/ok");
  CHECK(printable("bad\xff\xfe") == "bad\\xff\\xfe");
  CHECK(printable("esc\x1b[31m") == "esc\\x1b[31m");
  CHECK(printable("c1\xc2\x85") == "c1\\xc2\\x85");
  CHECK(printable("back\\slash") == "back\\\\slash");
  CHECK(valid_utf8(printable("\xc3\x28\xff")));
}

TEST_CASE("archive entry names", "[archive][rules]") {
  CHECK(name_rule("a/b") == "ok: a/b");
  CHECK(name_rule("./a/b/") == "ok: a/b");
  CHECK(name_rule("a/./b") == "ok: a/b");
  CHECK(name_rule("./") == "ok: .");
  CHECK(name_rule(".") == "ok: .");
  CHECK(name_rule("") == "empty name");
  CHECK(name_rule("/etc/passwd") == "absolute path");
  CHECK(name_rule("/") == "absolute path");
  CHECK(name_rule("../x") == "'..' component");
  CHECK(name_rule("a/../b") == "'..' component");
  CHECK(name_rule("a/..") == "'..' component");
  CHECK(name_rule("a//b") == "empty component");
  CHECK(name_rule("a/b//") == "empty component");
  CHECK(name_rule("x\xff") == "name is not valid UTF-8");
  CHECK(name_rule("....") == "ok: ....");

  Limits small;
  small.max_path_bytes = 10;
  small.max_component_bytes = 4;
  CheckedPath path;
  auto rule = check_name("abcde/f", small, path);
  REQUIRE(rule);
  CHECK(rule->code == Errc::limit);
  CHECK(rule->text == "a component is 5 bytes, longer than the limit of 4");
  rule = check_name("abc/abc/abc", small, path);
  REQUIRE(rule);
  CHECK(rule->code == Errc::limit);
  CHECK(rule->text == "path is 11 bytes, longer than the limit of 10");
  CHECK_FALSE(check_name("abcd/abcd/", small, path).has_value());
}

TEST_CASE("symlink targets are resolved lexically from the link's directory", "[archive][rules]") {
  CHECK(target_rule("sibling", {}) == "ok");
  CHECK(target_rule("../shared", {"app"}) == "ok");
  CHECK(target_rule("../../x", {"a", "b"}) == "ok");
  CHECK(target_rule("./.", {}) == "ok");
  CHECK(target_rule("a//b", {}) == "ok");
  CHECK(target_rule("a/../../x", {}) == "symlink leaves the release tree");
  CHECK(target_rule("..", {}) == "symlink leaves the release tree");
  CHECK(target_rule("../../x", {"a"}) == "symlink leaves the release tree");
  CHECK(target_rule("/etc", {"a"}) == "symlink leaves the release tree (absolute target)");
  CHECK(target_rule("", {}) == "empty symlink target");
  CHECK(target_rule("\xff", {}) == "symlink target is not valid UTF-8");
}

TEST_CASE("archive entry types and modes", "[archive][rules]") {
  CHECK_FALSE(check_type(RawType::file).has_value());
  CHECK_FALSE(check_type(RawType::hardlink).has_value());
  CHECK(check_type(RawType::char_device)->text == "device node (character device)");
  CHECK(check_type(RawType::block_device)->text == "device node (block device)");
  CHECK(check_type(RawType::fifo)->text == "FIFO");
  CHECK(check_type(RawType::socket)->text == "socket");
  CHECK(check_type(RawType::unknown)->text == "unsupported entry type");

  CHECK(check_mode(RawType::file, 04755)->text == "setuid bit");
  CHECK(check_mode(RawType::directory, 04755)->text == "setuid bit");
  CHECK(check_mode(RawType::file, 02755)->text == "setgid bit");
  CHECK_FALSE(check_mode(RawType::directory, 02775).has_value());  // cleared, not refused
  CHECK_FALSE(check_mode(RawType::file, 01777).has_value());       // sticky: cleared

  CHECK(clamp_mode(0777) == 0775);
  CHECK(clamp_mode(0666) == 0664);
  CHECK(clamp_mode(02775) == 0775);
  CHECK(clamp_mode(01777) == 0775);
  CHECK(clamp_mode(0600) == 0600);
}

TEST_CASE("the tree refuses duplicates and writes through links or files", "[archive][rules]") {
  using K = Tree::Kind;
  Tree tree;
  CHECK(add(tree, "a/b/file", K::file) == "ok");
  CHECK(add(tree, "a/", K::directory) == "ok");  // implied first, named later: fine
  CHECK(add(tree, "a/", K::directory) == "duplicate entry");
  CHECK(add(tree, "a/b/file", K::file) == "duplicate entry");
  CHECK(add(tree, "a/b/file", K::symlink, "x") ==
        "duplicate entry (a symlink replaces an earlier file)");
  CHECK(add(tree, "a/b", K::file) == "duplicate entry (a file replaces an earlier directory)");
  CHECK(add(tree, "a/b/file/x", K::file) == "path goes through file 'a/b/file'");
  CHECK(add(tree, "link", K::symlink, "a") == "ok");
  CHECK(add(tree, "link/x", K::file) == "writes through symlink 'link'");
  CHECK(add(tree, "./", K::directory) == "ok");
  CHECK(add(tree, ".", K::directory) == "duplicate entry");
  CHECK(add(tree, ".", K::file) == "names the release directory itself");

  Tree::Node* node = nullptr;
  CHECK_FALSE(tree.find_file(path_of("a/b/file"), node).has_value());
  CHECK(node != nullptr);
  CHECK(tree.find_file(path_of("a/b"), node)->text == "hardlink target is a directory, not a file");
  CHECK(tree.find_file(path_of("link/x"), node)->text ==
        "hardlink target goes through symlink 'link'");
  CHECK(tree.find_file(path_of("nope"), node)->text ==
        "hardlink target is not an earlier file of the archive");
  CHECK(Tree::path_of(*tree.root().find("a")->find("b")) == "a/b");
}

TEST_CASE("symlinks are followed through each other once the tree is known", "[archive][rules]") {
  using K = Tree::Kind;
  SECTION("a chain that climbs above the root through a deeper link") {
    Tree tree;
    add(tree, "a/b/up", K::symlink, "../..");  // the root: fine on its own
    add(tree, "escape", K::symlink, "a/b/up/..");
    auto refusals = tree.check_symlinks();
    REQUIRE(refusals.size() == 1);
    CHECK(refusals[0].first->entry == "escape");
    CHECK(refusals[0].second.text == "symlink leaves the release tree (through symlink 'a/b/up')");
  }
  SECTION("a later link changes what an earlier one means") {
    Tree tree;
    add(tree, "escape", K::symlink, "a/b/up/..");
    add(tree, "a/b/up", K::symlink, "../..");
    CHECK(tree.check_symlinks().size() == 1);
  }
  SECTION("loops are refused") {
    Tree tree;
    add(tree, "d/", K::directory);
    add(tree, "x", K::symlink, "d/../y");
    add(tree, "y", K::symlink, "d/../x");
    auto refusals = tree.check_symlinks();
    REQUIRE(refusals.size() == 2);
    CHECK(refusals[0].second.text == "symlink loop");
  }
  SECTION("ordinary release links are fine") {
    Tree tree;
    add(tree, "shared/data/", K::directory);
    add(tree, "app/current", K::symlink, "../shared");
    add(tree, "app/config", K::symlink, "current/data/../data");
    add(tree, "app/lib/libx.so", K::symlink, "../lib/./libx.so.1");
    add(tree, "app/lib/libx.so.1", K::symlink, "libx.so.1.2");
    add(tree, "missing", K::symlink, "nothing/here/../..");  // dangling, stays inside
    CHECK(tree.check_symlinks().empty());
  }
}

TEST_CASE("limits from a target's custom object", "[archive][limits]") {
  using pw::json::Value;
  auto defaults = pw::archive::limits_from_custom(Value());
  REQUIRE(defaults.ok());
  CHECK(defaults->max_entries == Limits{}.max_entries);
  CHECK(pw::archive::limits_from_custom(Value::object())->max_ratio == 200);

  Limits base;
  base.max_entries = 7;
  auto custom = pw::archive::limits_from_custom(
      Value{{"release", Value::object()},
            {"archive_limits", {{"max_total_bytes", 1000}, {"max_ratio", 50}}}},
      base);
  REQUIRE(custom.ok());
  CHECK(custom->max_total_bytes == 1000);
  CHECK(custom->max_ratio == 50);
  CHECK(custom->max_entries == 7);

  auto error_of = [](const Value& custom_value) {
    auto result = pw::archive::limits_from_custom(custom_value);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::parse);
    return result.error().message;
  };
  CHECK(
      error_of(Value{{"archive_limits", {{"max_entrys", 5}}}}).find("unknown field 'max_entrys'") !=
      std::string::npos);
  CHECK(error_of(Value{{"archive_limits", {{"max_entries", "5"}}}}).find("'max_entries'") !=
        std::string::npos);
  CHECK(error_of(Value{{"archive_limits", {{"max_entries", -1}}}}).find("'max_entries'") !=
        std::string::npos);
  CHECK(error_of(Value{{"archive_limits", {{"max_ratio", 0}}}}).find("'max_ratio'") !=
        std::string::npos);
  CHECK(error_of(Value{{"archive_limits", {{"max_component_bytes", 256}}}})
            .find("between 1 and 255") != std::string::npos);
  CHECK(error_of(Value{{"archive_limits", 5}}).find("'archive_limits'") != std::string::npos);
  CHECK(error_of(Value::array()).find("custom") != std::string::npos);
}

TEST_CASE("archive entry type names", "[archive]") {
  CHECK(std::string(pw::archive::entry_type_name(pw::archive::EntryType::hardlink)) == "hardlink");
  CHECK(std::string(pw::archive::entry_type_name(pw::archive::EntryType::directory)) ==
        "directory");
}
