#include <catch2/catch.hpp>

#include <string>

#include "common/json/json.hpp"

using pw::Errc;
namespace json = pw::json;

TEST_CASE("canonical JSON sorts keys and drops whitespace", "[json]") {
  auto v = json::parse(
      R"({ "b": 1, "a": [true, null, "x"], "c": {"z": -3, "y": 18446744073709551615} })");
  REQUIRE(v.ok());
  auto c = json::canonical(*v);
  REQUIRE(c.ok());
  CHECK(*c == R"({"a":[true,null,"x"],"b":1,"c":{"y":18446744073709551615,"z":-3}})");
}

TEST_CASE("canonical JSON escapes only quote and backslash", "[json]") {
  json::Value v = json::Value::object();
  v["k"] = std::string("a\"b\\c\nd\te\x01 \xc3\xa9");
  auto c = json::canonical(v);
  REQUIRE(c.ok());
  CHECK(*c == std::string("{\"k\":\"a\\\"b\\\\c\nd\te\x01 \xc3\xa9\"}"));
}

TEST_CASE("canonical JSON sorts keys by bytes", "[json]") {
  auto v = json::parse(R"({"b":1,"B":2,"_type":3,"\u00e9":4,"a":5})");
  REQUIRE(v.ok());
  CHECK(*json::canonical(*v) == "{\"B\":2,\"_type\":3,\"a\":5,\"b\":1,\"\xc3\xa9\":4}");
}

TEST_CASE("canonical JSON refuses floats", "[json]") {
  json::Value v = {{"x", 1.5}};
  auto c = json::canonical(v);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message.find("floating-point") != std::string::npos);
}

TEST_CASE("reader refuses duplicate keys, naming the key", "[json]") {
  auto v = json::parse(R"({"signed": {"version": 1, "version": 2}})");
  REQUIRE_FALSE(v.ok());
  CHECK(v.error().code == Errc::parse);
  CHECK(v.error().message == "duplicate key \"version\"");
  // The same key in sibling objects is fine.
  CHECK(json::parse(R"({"a": {"k": 1}, "b": {"k": 2}})").ok());
}

TEST_CASE("reader refuses floats unless allowed", "[json]") {
  auto v = json::parse(R"({"version": 1.0})");
  REQUIRE_FALSE(v.ok());
  CHECK(v.error().message.find("1.0") != std::string::npos);
  CHECK_FALSE(json::parse("[1e3]").ok());
  json::ParseLimits lax;
  lax.allow_floats = true;
  CHECK(json::parse(R"({"version": 1.0})", lax).ok());
}

TEST_CASE("reader enforces depth and size limits", "[json]") {
  json::ParseLimits limits;
  limits.max_depth = 4;
  CHECK(json::parse("[[[[1]]]]", limits).ok());
  auto deep = json::parse("[[[[[1]]]]]", limits);
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.error().code == Errc::limit);

  // The default depth limit holds against a hostile 100k-deep document.
  auto hostile = json::parse(std::string(100000, '[') + std::string(100000, ']'));
  REQUIRE_FALSE(hostile.ok());
  CHECK(hostile.error().code == Errc::limit);

  limits.max_bytes = 10;
  auto big = json::parse(R"({"abcdefghij": 1})", limits);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == Errc::limit);
}

TEST_CASE("reader reports malformed JSON with a position", "[json]") {
  for (const char* text :
       {"", "{", "{\"a\":}", "[1,]", "{\"a\":1} trailing", "nul", "\"\xff\xfe\"", "{'a':1}"}) {
    auto v = json::parse(text);
    INFO(text);
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().code == Errc::parse);
    CHECK(v.error().message.rfind("malformed JSON at byte", 0) == 0);
  }
}

TEST_CASE("typed field access names the field and the rule", "[json]") {
  auto v = json::parse(R"({"version": -1, "name": "x", "flag": true, "list": [], "obj": {}})");
  REQUIRE(v.ok());
  CHECK(*json::get_string(*v, "name", "root.json") == "x");
  CHECK(*json::get_bool(*v, "flag", "root.json"));
  CHECK(json::get_array(*v, "list", "root.json").ok());
  CHECK(json::get_object(*v, "obj", "root.json").ok());

  auto neg = json::get_uint(*v, "version", "root.json");
  REQUIRE_FALSE(neg.ok());
  CHECK(neg.error().message ==
        "root.json: field 'version': expected a non-negative integer, found an integer");
  auto missing = json::get_string(*v, "expires", "signed");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "signed: field 'expires': missing");
  auto wrong = json::get_object(*v, "name", "signed");
  CHECK(wrong.error().message == "signed: field 'name': expected an object, found a string");
}

TEST_CASE("parse then canonical round-trips canonical input byte for byte", "[json]") {
  const std::string text =
      R"({"signatures":[{"keyid":"ab","sig":"cd"}],"signed":{"_type":"root","version":12}})";
  auto v = json::parse(text);
  REQUIRE(v.ok());
  CHECK(*json::canonical(*v) == text);
}
