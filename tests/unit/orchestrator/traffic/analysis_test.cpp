// Canary analysis: one table of steps (show stat at the start and at the end), each
// with the verdict and a part of the reason people will read.
#include <catch2/catch.hpp>

#include "orchestrator/traffic/analysis.hpp"

using pw::traffic::analyze;
using pw::traffic::Outcome;
using pw::traffic::ServerStat;
using pw::traffic::Thresholds;

namespace {

struct Counters {
  std::uint64_t requests = 0, http_5xx = 0, connect_errors = 0, response_errors = 0,
                server_aborts = 0, rtime = 0, retries = 0;
};

ServerStat server(const std::string& name, const Counters& counters) {
  ServerStat stat;
  stat.backend = "app_bw";
  stat.server = name;
  stat.status = "UP";
  stat.sessions_total = counters.requests;
  stat.responses_2xx = counters.requests - counters.http_5xx;
  stat.responses_5xx = counters.http_5xx;
  stat.connection_errors = counters.connect_errors;
  stat.response_errors = counters.response_errors;
  stat.server_aborts = counters.server_aborts;
  stat.response_time_ms = counters.rtime;
  stat.retries = counters.retries;
  return stat;
}

struct Case {
  const char* name;
  std::vector<ServerStat> baseline, current;
  Outcome outcome;
  const char* reason;  // a part of the reason
};

}  // namespace

TEST_CASE("canary analysis judges the new servers against the old ones over one step") {
  // "old" served 1000 requests before the step; "canary" is new in this step.
  const ServerStat old_before = server("old", {1000, 0, 0, 0, 0, 10});
  const std::vector<Case> cases = {
      {"pass: no errors, similar latency",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {40, 0, 0, 0, 0, 12})},
       Outcome::pass,
       "new servers: 0.0% failed requests (0 of 40), old: 0.0% (0 of 200)"},
      {"fail: 5xx on the new servers",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {40, 3, 0, 0, 0, 12})},
       Outcome::fail,
       "new servers: 7.5% failed requests (3 of 40), old: 0.0% (0 of 200), limit +1.0 points"},
      {"pass: the old servers fail as much (relative to old)",
       {server("old", {1000, 50, 0, 0, 0, 10})},
       {server("old", {1200, 64, 0, 0, 0, 10}), server("canary", {40, 3, 0, 0, 0, 12})},
       Outcome::pass,
       "new servers: 7.5% failed requests (3 of 40), old: 7.0% (14 of 200)"},
      {"inconclusive: too few requests on the new servers",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {12, 12, 0, 0, 0, 900})},
       Outcome::inconclusive,
       "12 requests on the new servers, at least 20 needed"},
      {"inconclusive: a counter went backwards (HAProxy restarted)",
       {old_before, server("canary", {500, 0, 0, 0, 0, 10})},
       {server("old", {30, 0, 0, 0, 0, 10}), server("canary", {40, 0, 0, 0, 0, 10})},
       Outcome::inconclusive,
       "stot of old went from 1000 to 30"},
      {"fail: the new servers are slower than twice the old ones",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 40}), server("canary", {40, 0, 0, 0, 0, 180})},
       Outcome::fail,
       "average response time 180 ms, old: 40 ms, limit 80 ms"},
      {"pass: slower than twice the old ones but under the floor",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {40, 0, 0, 0, 0, 45})},
       Outcome::pass,
       "limit 50 ms"},
      {"pass: no old servers, latency not compared",
       {},
       {server("canary", {40, 0, 0, 0, 0, 900})},
       Outcome::pass,
       "no old servers (taken as 0.0%)"},
      {"fail: no old servers, errors judged against 0%",
       {},
       {server("canary", {40, 1, 0, 0, 0, 10})},
       Outcome::fail,
       "2.5% failed requests (1 of 40), no old servers"},
      {"pass: too few requests on the old servers, latency not compared",
       {old_before},
       {server("old", {1005, 0, 0, 0, 0, 10}), server("canary", {40, 0, 0, 0, 0, 900})},
       Outcome::pass,
       "old: 5 requests, too few to compare"},
      {"fail: connection and response errors count",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {40, 0, 2, 1, 0, 12})},
       Outcome::fail,
       "7.5% failed requests (3 of 40)"},
      {"fail: server aborts count",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {40, 0, 0, 0, 2, 12})},
       Outcome::fail,
       "5.0% failed requests (2 of 40)"},
      // With HAProxy's layer-7 retries a canary's 5xx answers reach no client: they are
      // counted in wretr, not hrsp_5xx, and must fail the step all the same.
      {"fail: failed attempts HAProxy retried elsewhere count",
       {old_before},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {40, 0, 0, 0, 0, 12, 40})},
       Outcome::fail,
       "100.0% failed requests (40 of 40)"},
      {"inconclusive: the retry counter went backwards",
       {old_before, server("canary", {10, 0, 0, 0, 0, 10, 5})},
       {server("old", {1200, 0, 0, 0, 0, 10}), server("canary", {40, 0, 0, 0, 0, 10, 0})},
       Outcome::inconclusive,
       "wretr of canary went from 5 to 0"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto verdict = analyze(c.baseline, c.current, {"canary"}, Thresholds{});
      INFO(verdict.reason);
      CHECK(verdict.outcome == c.outcome);
      CHECK_THAT(verdict.reason, Catch::Contains(c.reason));
      // The figures go into the audit log: canonical JSON, so no floats.
      CHECK(pw::json::canonical(verdict.figures).ok());
    }
  }
}

TEST_CASE("canary figures: requests, errors, rate and latency weighted by requests") {
  std::vector<ServerStat> baseline = {server("a", {100, 0, 0, 0, 0, 0}),
                                      server("b", {100, 0, 0, 0, 0, 0})};
  std::vector<ServerStat> current = {
      server("a", {130, 0, 0, 0, 0, 20}), server("b", {110, 0, 0, 0, 0, 60}),
      server("new1", {30, 1, 0, 0, 0, 10}), server("new2", {10, 0, 1, 0, 0, 50})};
  auto verdict = analyze(baseline, current, {"new1", "new2"}, Thresholds{});
  CHECK(verdict.outcome == Outcome::fail);
  const auto& fresh = verdict.figures["new"];
  CHECK(fresh["requests"] == 40);
  CHECK(fresh["errors"] == 2);
  CHECK(fresh["error_rate"] == "5.00");
  CHECK(fresh["latency_ms"] == 20);  // (30 x 10 + 10 x 50) / 40
  const auto& old = verdict.figures["old"];
  CHECK(old["requests"] == 40);
  CHECK(old["errors"] == 0);
  CHECK(old["error_rate"] == "0.00");
  CHECK(old["latency_ms"] == 30);  // (30 x 20 + 10 x 60) / 40

  // Errors never exceed requests (retries count an error per attempt).
  verdict = analyze({}, {server("new1", {20, 0, 30, 0, 0, 10})}, {"new1"}, Thresholds{});
  CHECK(verdict.figures["new"]["errors"] == 20);
  CHECK(verdict.figures["new"]["error_rate"] == "100.00");
  // No requests: no latency.
  verdict = analyze({}, {server("new1", {0, 0, 0, 0, 0, 0})}, {"new1"}, Thresholds{});
  CHECK(verdict.figures["new"]["latency_ms"].is_null());
  CHECK(verdict.outcome == Outcome::inconclusive);
}

TEST_CASE("thresholds are the caller's") {
  std::vector<ServerStat> current = {server("old", {100, 0, 0, 0, 0, 10}),
                                     server("canary", {10, 1, 0, 0, 0, 10})};
  Thresholds strict;
  strict.min_requests = 5;
  CHECK(analyze({}, current, {"canary"}, strict).outcome == Outcome::fail);
  Thresholds lenient = strict;
  lenient.max_error_rate = 15.0;
  CHECK(analyze({}, current, {"canary"}, lenient).outcome == Outcome::pass);
  CHECK(std::string(pw::traffic::outcome_name(Outcome::pass)) == "pass");
  CHECK(std::string(pw::traffic::outcome_name(Outcome::fail)) == "fail");
  CHECK(std::string(pw::traffic::outcome_name(Outcome::inconclusive)) == "inconclusive");
}
