// The agents' answers as the controller reads them. Fields of the wrong type used to
// reach nlohmann::json::value(), which throws: an agent (on a server facing the world)
// could end the controller's engine thread with `{"state": 1}` or a JSON array.
#include <catch2/catch.hpp>

#include "orchestrator/agent_client/replies.hpp"

namespace ac = pw::agent_client;

namespace {
ac::AgentReply reply(int status, const char* body) {
  auto parsed = ac::parse_reply(status, body, "GET /v1/x");
  REQUIRE(parsed.ok());
  return *parsed;
}
}  // namespace

TEST_CASE("an answer that is not JSON is an error naming the call", "[agent_client]") {
  auto bad = ac::parse_reply(502, "<html>bad gateway</html>", "GET https://a/v1/health");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == pw::Errc::parse);
  CHECK(bad.error().message == "GET https://a/v1/health: the agent answered HTTP 502 with no JSON");
}

TEST_CASE("jobs, health and errors as the agent sends them", "[agent_client]") {
  auto staged = ac::job_of(reply(200, R"({"state":"staged"})"));
  CHECK(staged.state == "staged");
  auto failed =
      ac::job_of(reply(200, R"({"state":"failed","error":{"code":"mismatch","message":"m"}})"));
  CHECK(failed.state == "failed");
  CHECK(failed.error == "m");
  CHECK(ac::job_of(reply(200, R"({"state":"failed"})")).error == "failed");
  auto healthy = ac::health_of(reply(200, R"({"healthy":true,"detail":"HTTP 200"})"));
  CHECK(healthy.healthy);
  CHECK(healthy.detail == "HTTP 200");
  CHECK(ac::message_of(reply(409, R"({"error":{"code":"conflict","message":"busy"}})")) == "busy");
  CHECK(ac::message_of(reply(500, "{}")) == "HTTP 500");
}

TEST_CASE("fields of the wrong type read as absent, never throw", "[agent_client]") {
  for (const char* body :
       {R"({"state":1,"error":"x","healthy":"true","detail":[1]})", R"(["state","staged"])",
        R"("staged")", "null", R"({"error":{"message":5}})", R"({"error":[{"message":"m"}]})"}) {
    INFO(body);
    auto r = reply(200, body);
    auto job = ac::job_of(r);
    CHECK(job.state.empty());
    CHECK(job.error == "failed");
    CHECK_FALSE(ac::health_of(r).healthy);
    CHECK(ac::health_of(r).detail.empty());
    CHECK(ac::message_of(r) == "HTTP 200");
  }
  // Only `true` is healthy.
  CHECK_FALSE(ac::health_of(reply(200, R"({"healthy":1})")).healthy);
}
