#include "common/json/json.hpp"

#include <set>
#include <string>
#include <vector>

namespace pw::json {
namespace {

// Builds a Value while enforcing the limits nlohmann's own parser does not: depth,
// duplicate keys and floats. Returning false from a callback stops the parse.
class LimitedBuilder {
 public:
  using number_integer_t = Value::number_integer_t;
  using number_unsigned_t = Value::number_unsigned_t;
  using number_float_t = Value::number_float_t;
  using string_t = Value::string_t;
  using binary_t = Value::binary_t;

  explicit LimitedBuilder(const ParseLimits& limits) : limits_(limits) {}

  bool null() { return put(Value(nullptr)); }
  bool boolean(bool v) { return put(Value(v)); }
  bool number_integer(number_integer_t v) { return put(Value(v)); }
  bool number_unsigned(number_unsigned_t v) { return put(Value(v)); }
  bool number_float(number_float_t v, const string_t& text) {
    if (!limits_.allow_floats) {
      return fail(Errc::parse, "floating-point number " + text + " is not allowed");
    }
    return put(Value(v));
  }
  bool string(string_t& v) { return put(Value(std::move(v))); }
  bool binary(binary_t& /*unused*/) { return fail(Errc::parse, "binary values are not JSON"); }

  bool start_object(std::size_t /*unused*/) { return open(Value::object()); }
  bool key(string_t& k) {
    auto& keys = key_sets_.back();
    if (!keys.insert(k).second) return fail(Errc::parse, "duplicate key \"" + k + "\"");
    pending_key_ = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*unused*/) { return open(Value::array()); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    if (!error_) {
      std::string what = ex.what();
      // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, ...".
      auto colon = what.find("] ");
      if (colon != std::string::npos) what = what.substr(colon + 2);
      error_ = make_error(Errc::parse,
                          "malformed JSON at byte " + std::to_string(position) + ": " + what);
    }
    return false;
  }

  Result<Value> take() {
    if (error_) return *error_;
    return std::move(root_);
  }

 private:
  bool fail(Errc code, std::string message) {
    if (!error_) error_ = make_error(code, std::move(message));
    return false;
  }

  // Places a finished value into the current container (or as the root).
  Value* place(Value&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Value& parent = *stack_.back();
    if (parent.is_object()) {
      Value& slot = parent[pending_key_];
      slot = std::move(v);
      return &slot;
    }
    parent.push_back(std::move(v));
    return &parent.back();
  }

  bool put(Value&& v) {
    place(std::move(v));
    return true;
  }

  bool open(Value&& container) {
    if (stack_.size() >= limits_.max_depth) {
      return fail(Errc::limit,
                  "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    bool is_object = container.is_object();
    stack_.push_back(place(std::move(container)));
    if (is_object) key_sets_.emplace_back();
    return true;
  }

  bool close() {
    if (stack_.back()->is_object()) key_sets_.pop_back();
    stack_.pop_back();
    return true;
  }

  const ParseLimits& limits_;
  Value root_;
  std::vector<Value*> stack_;
  std::vector<std::set<std::string>> key_sets_;
  std::string pending_key_;
  std::optional<Error> error_;
};

void write_canonical_string(const std::string& s, std::string& out) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

Status write_canonical(const Value& v, std::string& out) {
  switch (v.type()) {
    case Value::value_t::null:
      out += "null";
      return Ok{};
    case Value::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return Ok{};
    case Value::value_t::number_integer:
      out += std::to_string(v.get<Value::number_integer_t>());
      return Ok{};
    case Value::value_t::number_unsigned:
      out += std::to_string(v.get<Value::number_unsigned_t>());
      return Ok{};
    case Value::value_t::string:
      write_canonical_string(v.get_ref<const std::string&>(), out);
      return Ok{};
    case Value::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += ',';
        first = false;
        PW_TRY(write_canonical(item, out));
      }
      out += ']';
      return Ok{};
    }
    case Value::value_t::object: {
      // nlohmann's object_t is a std::map<std::string, ...>: byte-ordered keys.
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out += ',';
        first = false;
        write_canonical_string(key, out);
        out += ':';
        PW_TRY(write_canonical(item, out));
      }
      out += '}';
      return Ok{};
    }
    case Value::value_t::number_float:
      return make_error(Errc::invalid_argument,
                        "canonical JSON cannot hold floating-point numbers");
    case Value::value_t::binary:
    case Value::value_t::discarded:
      break;
  }
  return make_error(Errc::invalid_argument, "value has no JSON form");
}

const char* type_name(const Value& v) {
  switch (v.type()) {
    case Value::value_t::null:
      return "null";
    case Value::value_t::boolean:
      return "a boolean";
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
      return "an integer";
    case Value::value_t::number_float:
      return "a float";
    case Value::value_t::string:
      return "a string";
    case Value::value_t::array:
      return "an array";
    case Value::value_t::object:
      return "an object";
    default:
      return "an unknown value";
  }
}

Error field_error(std::string_view where, std::string_view name, const std::string& rule) {
  std::string message = "field '" + std::string(name) + "'";
  if (!where.empty()) message = std::string(where) + ": " + message;
  return make_error(Errc::parse, message + ": " + rule);
}

}  // namespace

Result<Value> parse(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return make_error(Errc::limit, "document is " + std::to_string(text.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(limits.max_bytes));
  }
  LimitedBuilder builder(limits);
  Value::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json,
                   /*strict=*/true, /*ignore_comments=*/false);
  return builder.take();
}

Result<std::string> canonical(const Value& value) {
  std::string out;
  PW_TRY(write_canonical(value, out));
  return out;
}

Result<const Value*> field(const Value& object, std::string_view name, std::string_view where) {
  if (!object.is_object()) {
    return field_error(where, name,
                       std::string("parent is ") + type_name(object) + ", not an object");
  }
  auto it = object.find(name);
  if (it == object.end()) return field_error(where, name, "missing");
  return &*it;
}

Result<std::string> get_string(const Value& object, std::string_view name, std::string_view where) {
  PW_TRY_ASSIGN(const Value* v, field(object, name, where));
  if (!v->is_string()) {
    return field_error(where, name, std::string("expected a string, found ") + type_name(*v));
  }
  return v->get<std::string>();
}

Result<std::uint64_t> get_uint(const Value& object, std::string_view name, std::string_view where) {
  PW_TRY_ASSIGN(const Value* v, field(object, name, where));
  if (v->is_number_unsigned()) return v->get<std::uint64_t>();
  if (v->is_number_integer() && v->get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(v->get<std::int64_t>());
  }
  return field_error(where, name,
                     std::string("expected a non-negative integer, found ") + type_name(*v));
}

Result<bool> get_bool(const Value& object, std::string_view name, std::string_view where) {
  PW_TRY_ASSIGN(const Value* v, field(object, name, where));
  if (!v->is_boolean()) {
    return field_error(where, name, std::string("expected a boolean, found ") + type_name(*v));
  }
  return v->get<bool>();
}

Result<const Value*> get_object(const Value& object, std::string_view name,
                                std::string_view where) {
  PW_TRY_ASSIGN(const Value* v, field(object, name, where));
  if (!v->is_object()) {
    return field_error(where, name, std::string("expected an object, found ") + type_name(*v));
  }
  return v;
}

Result<const Value*> get_array(const Value& object, std::string_view name, std::string_view where) {
  PW_TRY_ASSIGN(const Value* v, field(object, name, where));
  if (!v->is_array()) {
    return field_error(where, name, std::string("expected an array, found ") + type_name(*v));
  }
  return v;
}

}  // namespace pw::json
