// The only file of pw_fleet that sees yaml-cpp. The document is read through yaml-cpp's
// event parser into a plain tree, so the rest of the module never meets a yaml-cpp node
// (whose operator[] inserts, and whose conversions throw) and so that aliases, tags,
// duplicate keys and extra documents are refused here, with their position.
#include <exception>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "orchestrator/fleet/internal.hpp"

namespace pw::fleet::detail {
namespace {

Mark convert(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return {};
  return Mark{mark.line + 1, mark.column + 1};
}

class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string_view source) : source_(source) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) fail(convert(mark), "a fleet policy is one YAML document, not several");
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    Node node;
    node.mark = convert(mark);
    add(std::move(node));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    fail(convert(mark), "aliases (*name) are not supported in a fleet policy; write the value out");
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t /*anchor*/,
                const std::string& value) override {
    if (!tag_allowed(tag, mark)) return;
    Node node;
    node.kind = Node::Kind::scalar;
    node.mark = convert(mark);
    node.scalar = value;
    node.plain = tag == "?";
    add(std::move(node));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t /*anchor*/,
                       YAML::EmitterStyle::value /*style*/) override {
    open(Node::Kind::sequence, mark, tag);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    open(Node::Kind::map, mark, tag);
  }
  void OnMapEnd() override { close(); }

  bool failed() const { return error_.has_value(); }
  Error take_error() { return std::move(*error_); }
  Node take_root() { return std::move(root_); }

 private:
  struct Frame {
    Node* node = nullptr;
    bool has_key = false;
    std::string key;
    Mark key_mark;
    std::set<std::string> seen;
  };

  void fail(Mark mark, std::string message) {
    if (!error_) error_ = located_error(Errc::parse, source_, mark, std::move(message));
  }

  bool tag_allowed(const std::string& tag, const YAML::Mark& mark) {
    // "?": no tag (plain scalar or collection), "!": a quoted scalar.
    if (tag.empty() || tag == "?" || tag == "!") return true;
    fail(convert(mark), "explicit tags (" + tag + ") are not supported in a fleet policy");
    return false;
  }

  bool awaiting_key() const {
    return !stack_.empty() && stack_.back().node->kind == Node::Kind::map && !stack_.back().has_key;
  }

  // Stores a finished node (or the start of a collection) where it belongs; returns where
  // it went, nullptr when it was a mapping key or refused.
  Node* add(Node node) {
    if (failed()) return nullptr;
    if (stack_.empty()) {
      root_ = std::move(node);
      return &root_;
    }
    Frame& top = stack_.back();
    if (top.node->kind == Node::Kind::sequence) {
      top.node->items.push_back(std::move(node));
      return &top.node->items.back();
    }
    if (!top.has_key) {
      if (node.kind != Node::Kind::scalar) {
        fail(node.mark, "mapping keys must be strings");
        return nullptr;
      }
      if (!top.seen.insert(node.scalar).second) {
        fail(node.mark, "duplicate key '" + node.scalar + "'");
        return nullptr;
      }
      top.has_key = true;
      top.key = std::move(node.scalar);
      top.key_mark = node.mark;
      return nullptr;
    }
    top.has_key = false;
    top.node->entries.push_back(Node::Entry{std::move(top.key), top.key_mark, std::move(node)});
    return &top.node->entries.back().value;
  }

  void open(Node::Kind kind, const YAML::Mark& mark, const std::string& tag) {
    if (failed() || !tag_allowed(tag, mark)) return;
    if (awaiting_key()) return fail(convert(mark), "mapping keys must be strings");
    if (stack_.size() >= kMaxDepth) {
      return fail(convert(mark), "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    Node node;
    node.kind = kind;
    node.mark = convert(mark);
    Node* where = add(std::move(node));
    if (where != nullptr) stack_.push_back(Frame{where, false, {}, {}, {}});
  }

  void close() {
    if (!failed() && !stack_.empty()) stack_.pop_back();
  }

  std::string_view source_;
  int documents_ = 0;
  Node root_;
  std::vector<Frame> stack_;
  std::optional<Error> error_;
};

}  // namespace

Error located_error(Errc code, std::string_view source, Mark mark, std::string message) {
  std::string where(source);
  if (mark.line > 0) {
    where += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  }
  return make_error(code, std::move(message)).with_context(std::move(where));
}

Result<Node> load_yaml(std::string_view text, std::string_view source) {
  if (text.size() > kMaxDocumentBytes) {
    return located_error(
        Errc::limit, source, {},
        "the fleet policy is larger than " + std::to_string(kMaxDocumentBytes / 1024) + " KiB");
  }
  TreeBuilder builder(source);
  try {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    while (!builder.failed() && parser.HandleNextDocument(builder)) {
    }
    if (builder.failed()) return builder.take_error();
    return builder.take_root();
  } catch (const YAML::Exception& e) {
    // yaml-cpp reads a whole document before it returns: an error the builder found
    // first (e.g. the nesting limit) is the one to report.
    if (builder.failed()) return builder.take_error();
    return located_error(Errc::parse, source, convert(e.mark), e.msg);
  } catch (const std::exception& e) {
    return located_error(Errc::parse, source, {}, std::string("cannot read YAML: ") + e.what());
  } catch (...) {
    return located_error(Errc::parse, source, {}, "cannot read YAML");
  }
}

}  // namespace pw::fleet::detail
