#include <catch2/catch.hpp>

#include "common/net/http.hpp"

using pw::net::parse_url;

TEST_CASE("URLs of the controller and of artifacts are split into their parts") {
  auto url = parse_url("https://controller.example:8443/artifacts/app.tar.gz?x=1");
  REQUIRE(url.ok());
  CHECK(url->scheme == "https");
  CHECK(url->host == "controller.example");
  CHECK(url->port == 8443);
  CHECK(url->target == "/artifacts/app.tar.gz?x=1");

  auto plain = parse_url("https://127.0.0.1");
  REQUIRE(plain.ok());
  CHECK(plain->port == 443);
  CHECK(plain->target == "/");

  auto v6 = parse_url("http://[::1]:9000/healthz");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9000);
}

TEST_CASE("URLs that could mislead are refused with the rule they break") {
  auto error_of = [](const char* text) {
    auto url = parse_url(text);
    return url.ok() ? std::string("accepted") : url.error().to_string();
  };
  CHECK_THAT(error_of("ftp://host/x"), Catch::Contains("only http and https"));
  CHECK_THAT(error_of("host/x"), Catch::Contains("expected http:// or https://"));
  CHECK_THAT(error_of("https://user@host/x"), Catch::Contains("user information"));
  CHECK_THAT(error_of("https://host/x#frag"), Catch::Contains("fragments"));
  CHECK_THAT(error_of("https://host:0/x"), Catch::Contains("bad port"));
  CHECK_THAT(error_of("https://host:70000/x"), Catch::Contains("bad port"));
  CHECK_THAT(error_of("https://host:12ab/x"), Catch::Contains("bad port"));
  CHECK_THAT(error_of("https://:443/x"), Catch::Contains("no host"));
  CHECK_THAT(error_of("https://host/a b"), Catch::Contains("control or space"));
  CHECK_THAT(error_of("https://[::1/x"), Catch::Contains("unclosed ["));
}
