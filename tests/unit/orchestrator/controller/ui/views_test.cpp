// The dashboard's JSON views (what a region, an approval request, the servers, the
// releases and the audit log look like to an operator) and its session tokens.
#include <catch2/catch.hpp>

#include "common/crypto/keys.hpp"
#include "orchestrator/controller/ui/assets.hpp"
#include "orchestrator/controller/ui/session.hpp"
#include "orchestrator/controller/ui/views.hpp"
#include "tests/support/temp_dir.hpp"

using namespace pw::dashboard;
using pw::json::Value;

namespace {

Value policy() {
  return {{"regions",
           {{{"name", "east"},
             {"display_name", "East coast"},
             {"servers", 2},
             {"provider", {{"kind", "local"}}},
             {"timing",
              {{"canary_steps", {10, 50, 100}},
               {"health_successes", 2},
               {"step_wait_seconds", 30},
               {"bake_time_seconds", 60}}},
             {"emergency",
              {{"canary_steps", {50, 100}}, {"step_wait_seconds", 5}, {"bake_time_seconds", 5}}}},
            {{"name", "south"}, {"servers", 1}, {"provider", {{"kind", "script"}}}}}}};
}

Value servers(const std::string& region, const std::string& rollout, int n) {
  Value out = Value::array();
  for (int i = 0; i < n; ++i)
    out.push_back({{"name", region + "-" + rollout + "-" + std::to_string(i)}});
  return out;
}

Value rollout(const std::string& urgency, Value regions) {
  return {{"id", "r2"},
          {"app", "demo-service"},
          {"version", "1.0.1"},
          {"target", "demo-service/1.0.1/demo.tar.gz"},
          {"sha256", std::string(64, 'a')},
          {"urgency", urgency},
          {"state", "running"},
          {"created_at", 1'000'000},
          {"release", {{"cves", {"CVE-2026-31337"}}, {"health", {{"successes", 3}}}}},
          {"regions", std::move(regions)}};
}

}  // namespace

TEST_CASE("dashboard: a shifting region shows its step, split, health and what it waits for") {
  Value run = {{"region", "east"},
               {"wave", 1},
               {"state", "shifting"},
               {"action", "analyse:50"},
               {"step", 1},
               {"state_since", 1'060'000},
               {"step_since", 1'070'000},
               {"fresh", servers("east", "r2", 2)},
               {"previous", servers("east", "r1", 2)},
               {"health_streak", {{"east-r2-0", 4}, {"east-r2-1", 0}}},
               {"analysis", Value::object()}};
  Value r = rollout("routine", Value::array({run}));
  Value view = region_view(r, run, {policy(), 1'080'000, {}, {}});
  CHECK(view["display_name"] == "East coast");
  CHECK(view["state_label"] == "shifting step 2 of 3");
  CHECK(view["steps"] == Value({10, 50, 100}));
  CHECK(view["traffic"] == Value({{"new", 50}, {"old", 50}}));
  CHECK(view["progress"] == 67);
  CHECK(view["health"]["servers"] == 2);
  CHECK(view["health"]["passing"] == 1);
  CHECK(view["time_in_state_ms"] == 20'000);
  CHECK(view["time_to_patch_ms"].is_null());
  CHECK(view["waits_for"] == "the analysis of the 50% step in 20s");
  CHECK(view["fresh"] == Value({"east-r2-0", "east-r2-1"}));
  CHECK_FALSE(view["terminal"].get<bool>());
}

TEST_CASE("dashboard: an emergency uses the region's emergency steps") {
  Value run = {{"region", "east"},
               {"state", "shifting"},
               {"action", "shift:50"},
               {"previous", servers("east", "r1", 1)}};
  Value view = region_view(rollout("emergency", Value::array({run})), run, {policy(), 0, {}, {}});
  CHECK(view["steps"] == Value({50, 100}));
  CHECK(view["state_label"] == "shifting step 1 of 2");
}

TEST_CASE("dashboard: traffic splits along a region's path") {
  auto split = [](Value run) { return traffic_split(run); };
  Value old_servers = servers("east", "r1", 2);
  CHECK(split({{"state", "staging"}, {"previous", old_servers}}) ==
        Value({{"new", 0}, {"old", 100}}));
  CHECK(split({{"state", "shifting"}, {"action", "shift:10"}, {"previous", old_servers}}) ==
        Value({{"new", 10}, {"old", 90}}));
  // Between two steps the last step's weights are in place.
  CHECK(split({{"state", "shifting"},
               {"action", ""},
               {"analysis", {{"percent", 10}}},
               {"previous", old_servers}}) == Value({{"new", 10}, {"old", 90}}));
  CHECK(split({{"state", "baking"}, {"previous", old_servers}}) ==
        Value({{"new", 100}, {"old", 0}}));
  CHECK(split({{"state", "rolled_back"}, {"previous", old_servers}}) ==
        Value({{"new", 0}, {"old", 100}}));
  // A first deployment has no old servers: nothing is served before its shift.
  CHECK(split({{"state", "verifying"}, {"fresh", servers("east", "r2", 2)}}) ==
        Value({{"new", 0}, {"old", 0}}));
  CHECK(split({{"state", "provisioning"}, {"action", "enroll"}}) ==
        Value({{"new", 0}, {"old", 0}}));
  // Before provisioning a region has not recorded what it replaces: what serves now.
  CHECK(traffic_split({{"state", "awaiting_approval"}}, 2) == Value({{"new", 0}, {"old", 100}}));
  CHECK(traffic_split({{"state", "pending"}}, 0) == Value({{"new", 0}, {"old", 0}}));
  CHECK(traffic_split({{"state", "rejected"}}, 3) == Value({{"new", 0}, {"old", 100}}));
  CHECK(traffic_split({{"state", "succeeded"}, {"fresh", servers("east", "r2", 2)}}, 2) ==
        Value({{"new", 100}, {"old", 0}}));
  CHECK(progress_percent({{"state", "succeeded"}}) == 100);
  CHECK(progress_percent({{"state", "rolled_back"}}) == 0);
}

TEST_CASE("dashboard: time to patch, from the rollout's start to all traffic on the new release") {
  Value baking = {{"region", "east"},
                  {"state", "baking"},
                  {"state_since", 1'015'500},
                  {"first_deployment", true}};
  Value done = {{"region", "south"}, {"state", "succeeded"}, {"state_since", 1'030'000}};
  Value r = rollout("routine", Value::array({baking, done}));
  Value view = rollout_view(r, {policy(), 1'040'000, {{"south", 1'021'000}}, {}});
  CHECK(view["regions"][0]["time_to_patch_ms"] == 15'500);  // baking: since it started baking
  CHECK(view["regions"][1]["time_to_patch_ms"] == 21'000);  // from the audit history
  CHECK(view["time_to_patch_ms"] == 21'000);                // the slowest region
  CHECK(view["cves"] == Value({"CVE-2026-31337"}));
  CHECK(view["age_ms"] == 40'000);
  CHECK(view["regions"][0]["waits_for"] ==
        "the bake time to pass; the old servers are kept for a fast rollback");
  Value waiting = {{"region", "east"}, {"state", "verifying"}};
  Value pending = rollout_view(rollout("routine", Value::array({waiting})), {policy(), 0, {}, {}});
  CHECK(pending["time_to_patch_ms"].is_null());
  CHECK(pending["regions"][0]["waits_for"] ==
        "health checks to pass 3 times in a row on each new server");
}

TEST_CASE("dashboard: a region at its gate says how many approvals it still needs") {
  Value run = {{"region", "south"},
               {"state", "awaiting_approval"},
               {"gate",
                {{"needed", 2},
                 {"approved_by", {"k1"}},
                 {"waiting_for", "approvals"},
                 {"expires_at", 1'000'000 + 3'600'000}}}};
  Value view =
      region_view(rollout("routine", Value::array({run})), run, {policy(), 1'000'000, {}, {}});
  CHECK(view["waits_for"] == "1 more signed approval (1 of 2), request expires in 1h 00m");
  run["paused"] = true;
  view = region_view(rollout("routine", Value::array({run})), run, {policy(), 1'000'000, {}, {}});
  CHECK(view["waits_for"] == "an operator to resume it (paused: patchwave rollout resume r2)");
}

TEST_CASE("dashboard: an approval request lists what it changes and the command to sign it") {
  Value pending = {{"pending",
                    {{{"rollout", "r2"},
                      {"region", "south"},
                      {"display_name", "South"},
                      {"app", "demo-service"},
                      {"from_version", "1.0.0"},
                      {"version", "1.0.1"},
                      {"urgency", "routine"},
                      {"cves", {"CVE-1"}},
                      {"target", "t.tar.gz"},
                      {"sha256", "abc"},
                      {"create", 2},
                      {"retire", {"south-r1-0", "south-r1-1"}},
                      {"traffic_steps", {10, 50, 100}},
                      {"window", ""},
                      {"needed", 1},
                      {"approved_by", Value::array()},
                      {"approvers", {"0123456789abcdef"}},
                      {"expires_at", "1970-01-01T00:16:40Z"}}}}};
  Value view = approvals_view(pending, 400'000);
  const Value& a = view["pending"][0];
  CHECK(a["approve_command"] ==
        "patchwave approve r2 --region south --key YOUR_APPROVER_KEY --comment 'checked'");
  CHECK(a["reject_command"] ==
        "patchwave reject r2 --region south --key YOUR_APPROVER_KEY --comment 'why not'");
  CHECK(a["changes"] == Value({"release: demo-service 1.0.0 -> 1.0.1 (routine, CVE-1)",
                               "artifact: t.tar.gz sha256 abc", "create 2 fresh servers in south",
                               "retire after the bake: south-r1-0, south-r1-1",
                               "traffic: 10% -> 50% -> 100% on the new servers, each step judged "
                               "against the old ones"}));
  CHECK(a["expires_in_ms"] == 600'000);
  CHECK(a["approvers_short"] == "01234567");
  CHECK(a["approved_by_short"] == "");
}

TEST_CASE("dashboard: names with shell characters are quoted in commands") {
  CHECK(shell_quote("r1a2b3c4") == "r1a2b3c4");
  CHECK(shell_quote("bad region") == "'bad region'");
  CHECK(shell_quote("it's; rm -rf /") == "'it'\\''s; rm -rf /'");
  CHECK(shell_quote("") == "''");
}

TEST_CASE("dashboard: servers by region, releases with their rollouts, the audit log") {
  Value list = {{"servers",
                 {{{"name", "east-r1-0"}, {"region", "east"}, {"state", "serving"}},
                  {{"name", "east-r0-0"}, {"region", "east"}, {"state", "decommissioned"}},
                  {{"name", "west-m-0"}, {"region", "west"}, {"state", "enrolled"}}}}};
  Value view = servers_view(list, policy());
  CHECK(view["servers"] == 2);
  REQUIRE(view["regions"].size() == 3);  // east, south (no servers), west (not in the policy)
  CHECK(view["regions"][0]["region"] == "east");
  CHECK(view["regions"][0]["counts"] == Value({{"serving", 1}, {"decommissioned", 1}}));
  CHECK(view["regions"][0]["servers"].size() == 1);
  CHECK(view["regions"][0]["wanted"] == 2);
  CHECK(view["regions"][1]["servers"].empty());

  Value releases = {
      {"releases",
       {{{"target", "b-1.0.1"},
         {"hashes", {{"sha256", "s1"}}},
         {"length", 10},
         {"countersignature", "{...}"},
         {"release",
          {{"app", "demo"}, {"version", "1.0.1"}, {"urgency", "emergency"}, {"cves", {"CVE-1"}}}}},
        {{"target", "a-1.0.0"},
         {"hashes", {{"sha256", "s0"}}},
         {"release", {{"app", "demo"}, {"version", "1.0.0"}, {"urgency", "routine"}}}}}}};
  Value rollouts = {{"rollouts", {{{"id", "r1"}, {"target", "b-1.0.1"}, {"state", "succeeded"}}}}};
  Value rv = releases_view(releases, rollouts);
  CHECK(rv["releases"][0]["version"] == "1.0.1");
  CHECK(rv["releases"][0]["countersigned"] == true);
  CHECK(rv["releases"][0]["cves"] == Value({"CVE-1"}));
  CHECK(rv["releases"][0]["rollouts"] == Value({{{"id", "r1"}, {"state", "succeeded"}}}));
  CHECK(rv["releases"][1]["rollouts"].empty());

  Value events = Value::array();
  for (int i = 1; i <= 5; ++i) events.push_back({{"seq", i}, {"action", "a" + std::to_string(i)}});
  Value av = audit_view(
      {{"events", events}},
      {{"intact", false}, {"events", 5}, {"first_broken_event", 3}, {"reason", "hash"}}, 2);
  CHECK(av["events"].size() == 2);
  CHECK(av["events"][0]["seq"] == 5);  // newest first
  CHECK(av["chain"]["intact"] == false);
  CHECK(av["chain"]["first_broken_event"] == 3);
}

TEST_CASE("dashboard: durations read like a clock") {
  CHECK(format_duration(999) == "0s");
  CHECK(format_duration(59'000) == "59s");
  CHECK(format_duration(61'000) == "1m 01s");
  CHECK(format_duration(3'720'000) == "1h 02m");
  CHECK(format_duration(90'000'000) == "1d 1h");
  CHECK(format_duration(-5) == "0s");
}

TEST_CASE("dashboard: session tokens verify, expire and refuse tampering") {
  pw::test::TempDir dir;
  auto keys = SessionKeys::open(dir / "ui-session");
  REQUIRE(keys.ok());
  Session session{"vera", "viewer", "fp", 1000, 2000, ""};
  auto token = keys->issue(session);
  REQUIRE(token.ok());
  CHECK(session.id.size() == 24);
  auto back = keys->verify(*token, 1500);
  REQUIRE(back.ok());
  CHECK(back->operator_name == "vera");
  CHECK(back->role == "viewer");
  CHECK(back->expires == 2000);
  CHECK(keys->verify(*token, 2000).error().code == pw::Errc::expired);
  // Reopening loads the same key.
  auto again = SessionKeys::open(dir / "ui-session");
  REQUIRE(again.ok());
  CHECK(again->verify(*token, 1500).ok());
  // Another controller's key, an altered payload (role viewer -> release-engineer), junk.
  auto other = SessionKeys(*pw::crypto::PrivateKey::generate(pw::crypto::KeyType::ed25519));
  CHECK(other.verify(*token, 1500).error().code == pw::Errc::signature);
  std::string forged = *token;
  auto at = forged.find("766965776572");  // hex of "viewer"
  REQUIRE(at != std::string::npos);
  forged.replace(at, 12, "726f6f742121");
  CHECK(keys->verify(forged, 1500).error().code == pw::Errc::signature);
  CHECK(keys->verify("pws1.zz.00", 1500).error().code == pw::Errc::parse);
  CHECK(keys->verify("", 1500).error().code == pw::Errc::parse);
  CHECK(keys->verify(std::string(5000, 'a'), 1500).error().code == pw::Errc::parse);
}

TEST_CASE("dashboard: cookies and form values") {
  CHECK(cookie_value("a=1; pw_session=pws1.ab.cd; b=2", "pw_session") == "pws1.ab.cd");
  CHECK(cookie_value("pw_session_x=1; pw_session=\"q\"", "pw_session") == "q");
  CHECK(cookie_value("a=1", "pw_session") == "");
  CHECK(form_value("token=pws1.a%2Eb&x=1", "token") == "pws1.a.b");
  CHECK(form_value("x=a+b&token=", "x") == "a b");
  CHECK(form_value("x=1", "token") == "");
}

TEST_CASE("dashboard: the page's files are embedded with their content types") {
  const Asset* index = find_asset("index.html");
  REQUIRE(index != nullptr);
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(index->body.find("/ui/app.js") != std::string_view::npos);
  REQUIRE(find_asset("app.js") != nullptr);
  CHECK(find_asset("app.js")->content_type == "text/javascript; charset=utf-8");
  CHECK(find_asset("style.css") != nullptr);
  CHECK(find_asset("login.html")->body.find("{{message}}") != std::string_view::npos);
  CHECK(find_asset("../controller.cpp") == nullptr);
  // No framework, nothing fetched from elsewhere: every script and style is our own.
  for (const char* name : {"index.html", "login.html"}) {
    CHECK(find_asset(name)->body.find("http://") == std::string_view::npos);
    CHECK(find_asset(name)->body.find("https://") == std::string_view::npos);
  }
  CHECK(find_asset("app.js")->body.find("innerHTML") == std::string_view::npos);
}
