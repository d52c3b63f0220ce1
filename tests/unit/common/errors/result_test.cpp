#include <catch2/catch.hpp>

#include "common/errors/result.hpp"

namespace {

pw::Result<int> parse_positive(int v) {
  if (v <= 0) return pw::make_error(pw::Errc::invalid_argument, "must be positive");
  return v;
}

pw::Result<int> doubled(int v) {
  PW_TRY_ASSIGN(int x, parse_positive(v));
  return 2 * x;
}

pw::Status check(int v) {
  PW_TRY(parse_positive(v));
  return pw::Ok{};
}

}  // namespace

TEST_CASE("Result carries a value or an error", "[errors]") {
  auto good = doubled(4);
  REQUIRE(good.ok());
  CHECK(*good == 8);

  auto bad = doubled(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == pw::Errc::invalid_argument);
  CHECK(bad.error().message == "must be positive");
}

TEST_CASE("Status propagates errors through PW_TRY", "[errors]") {
  CHECK(check(1).ok());
  auto st = check(0);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == pw::Errc::invalid_argument);
}

TEST_CASE("Error context reads outermost first", "[errors]") {
  auto e = pw::make_error(pw::Errc::signature, "threshold not met (1 of 2)");
  e.with_context("role targets").with_context("verifying targets.json");
  CHECK(e.to_string() == "verifying targets.json: role targets: threshold not met (1 of 2)");
  CHECK(std::string(pw::errc_name(e.code)) == "signature");
}
