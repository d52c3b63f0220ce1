// /metrics: the text exposition format (escaping, HELP/TYPE, histograms), the audit
// history it counts from, and the whole page for a rollout in progress.
#include <catch2/catch.hpp>

#include "orchestrator/controller/ui/history.hpp"
#include "orchestrator/controller/ui/metrics.hpp"
#include "orchestrator/controller/ui/metrics_text.hpp"

using namespace pw::dashboard;
using pw::json::Value;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

Value event(std::int64_t seq, const std::string& time, const std::string& action,
            const Value& inputs, const std::string& outcome = "ok") {
  return {{"seq", seq},       {"time", time},     {"actor", "controller"},
          {"action", action}, {"inputs", inputs}, {"outcome", outcome}};
}

}  // namespace

TEST_CASE("metrics: label values escape backslash, double quote and line feed") {
  CHECK(escape_label_value(R"(a\b)") == R"(a\\b)");
  CHECK(escape_label_value(R"(say "hi")") == R"(say \"hi\")");
  CHECK(escape_label_value("two\nlines") == R"(two\nlines)");
  CHECK(escape_label_value("plain: 10% ok") == "plain: 10% ok");
  Exposition out;
  out.family("patchwave_x", "gauge", "X.");
  out.sample({{"reason", "analysis at 10%: \"5xx\"\\n\nmore"}}, 1);
  CHECK(has_line(out.text(), R"(patchwave_x{reason="analysis at 10%: \"5xx\"\\n\nmore"} 1)"));
}

TEST_CASE("metrics: every family has one HELP and one TYPE line before its samples") {
  Exposition out;
  out.family("patchwave_rollouts", "gauge", "Rollouts by state.\nA second line with a \\.");
  out.sample({{"state", "running"}}, 2);
  out.sample({{"state", "succeeded"}, {"region", "east"}}, 0);
  out.family("patchwave_syncs_total", "counter", "Syncs.");
  out.sample({}, 3);
  std::string expected =
      "# HELP patchwave_rollouts Rollouts by state.\\nA second line with a \\\\.\n"
      "# TYPE patchwave_rollouts gauge\n"
      "patchwave_rollouts{state=\"running\"} 2\n"
      "patchwave_rollouts{state=\"succeeded\",region=\"east\"} 0\n"
      "# HELP patchwave_syncs_total Syncs.\n"
      "# TYPE patchwave_syncs_total counter\n"
      "patchwave_syncs_total 3\n";
  CHECK(out.text() == expected);
}

TEST_CASE("metrics: names the format does not allow never reach the page") {
  CHECK(valid_metric_name("patchwave_x:rate5m"));
  CHECK_FALSE(valid_metric_name("9lives"));
  CHECK_FALSE(valid_metric_name("with-dash"));
  CHECK(valid_label_name("region"));
  CHECK_FALSE(valid_label_name("__reserved"));
  CHECK_FALSE(valid_label_name("a:b"));
  Exposition out;
  out.family("bad name", "gauge", "x");
  out.sample({{"bad-label", "v"}}, 1);
  CHECK(out.text().find("invalid_name{invalid_label=\"v\"} 1") != std::string::npos);
}

TEST_CASE("metrics: values are integers, shortest decimals, +Inf, -Inf and NaN") {
  CHECK(format_value(3) == "3");
  CHECK(format_value(-2) == "-2");
  CHECK(format_value(0.25) == "0.25");
  CHECK(format_value(1.0 / 3.0) == "0.3333333333333333");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
}

TEST_CASE("metrics: histograms have cumulative buckets, +Inf, _sum and _count") {
  Histogram h({1, 5, 10});
  for (double v : {0.5, 1.0, 3.0, 7.0, 12.0}) h.observe(v);
  Exposition out;
  out.family("patchwave_d_seconds", "histogram", "D.");
  out.histogram({{"phase", "baking"}}, h);
  const std::string& text = out.text();
  CHECK(has_line(text, R"(patchwave_d_seconds_bucket{phase="baking",le="1"} 2)"));  // 0.5, 1 (le)
  CHECK(has_line(text, R"(patchwave_d_seconds_bucket{phase="baking",le="5"} 3)"));
  CHECK(has_line(text, R"(patchwave_d_seconds_bucket{phase="baking",le="10"} 4)"));
  CHECK(has_line(text, R"(patchwave_d_seconds_bucket{phase="baking",le="+Inf"} 5)"));
  CHECK(has_line(text, R"(patchwave_d_seconds_sum{phase="baking"} 23.5)"));
  CHECK(has_line(text, R"(patchwave_d_seconds_count{phase="baking"} 5)"));
}

TEST_CASE("metrics: rollback reasons fall into a few label values") {
  CHECK(rollback_reason_class("analysis at 10%: new servers: 100.0% failed requests") ==
        "analysis");
  CHECK(rollback_reason_class("step 10% timed out: analysis inconclusive: 3 requests") ==
        "analysis_timeout");
  CHECK(rollback_reason_class("health gate: not 2 passing checks in a row within 20s") == "health");
  CHECK(rollback_reason_class("bw-r1-0 failed its health check after passing: agent: 500") ==
        "health");
  CHECK(rollback_reason_class("provisioning failed: provider exited 1") == "provisioning");
  CHECK(rollback_reason_class("1 of 2 servers did not enroll within 60s") == "provisioning");
  CHECK(rollback_reason_class("bw-r1-0: staging failed: sha256 mismatch") == "staging");
  CHECK(rollback_reason_class("bw-r1-0: the service did not start: exit 1") == "start");
  CHECK(rollback_reason_class("traffic: haproxy socket gone") == "traffic");
  CHECK(rollback_reason_class("aborted by operator:rita") == "operator");
  CHECK(rollback_reason_class("rollback requested by operator:rita") == "operator");
  CHECK(rollback_reason_class("the region left the fleet policy") == "policy");
  CHECK(rollback_reason_class("something new") == "other");
}

TEST_CASE("metrics: the history counts phases, time to patch and rollbacks from audit events") {
  History h;
  CHECK(parse_rfc3339_ms("2026-11-29T10:00:00Z") == 1795946400000);
  CHECK(parse_rfc3339_ms("yesterday") == 0);
  Value regions = Value::array({"east", "south"});
  h.add(event(1, "2026-11-29T10:00:00Z", "rollout.create",
              {{"rollout", "r1"}, {"urgency", "emergency"}, {"regions", regions}}));
  h.add(event(2, "2026-11-29T10:00:01Z", "approval.requested",
              {{"rollout", "r1"}, {"region", "east"}}));
  auto move = [&](std::int64_t seq, const std::string& time, const std::string& region,
                  const std::string& from, const std::string& to,
                  const std::string& detail = "ok") {
    h.add(event(seq, time, "rollout.region",
                {{"rollout", "r1"}, {"region", region}, {"from", from}, {"to", to}, {"step", 0}},
                detail));
  };
  move(3, "2026-11-29T10:00:03Z", "east", "awaiting_approval", "provisioning");
  move(4, "2026-11-29T10:00:08Z", "east", "provisioning", "staging");
  move(5, "2026-11-29T10:00:10Z", "east", "staging", "verifying");
  move(6, "2026-11-29T10:00:12Z", "east", "verifying", "shifting", "health gate passed");
  move(7, "2026-11-29T10:00:15Z", "east", "shifting", "baking", "analysis at 100%: pass");
  move(8, "2026-11-29T10:00:17Z", "east", "baking", "finalizing");
  move(9, "2026-11-29T10:00:18Z", "east", "finalizing", "succeeded");
  h.add(event(10, "2026-11-29T10:00:18Z", "approval.requested",
              {{"rollout", "r1"}, {"region", "south"}}));
  move(11, "2026-11-29T10:00:19Z", "south", "awaiting_approval", "provisioning");
  move(12, "2026-11-29T10:00:29Z", "south", "provisioning", "rolling_back",
       "provisioning failed: provider exited 1");
  h.add(event(
      13, "2026-11-29T10:00:29Z", "rollout.traffic_restored",
      {{"rollout", "r1"}, {"region", "south"}, {"decided_at_ms", 1000}, {"restored_at_ms", 1250}}));
  move(14, "2026-11-29T10:00:30Z", "south", "rolling_back", "rolled_back");
  h.add(event(15, "2026-11-29T10:01:00Z", "sync", {}, "refused: sync x: signature"));
  h.add(event(16, "2026-11-29T10:02:00Z", "sync", {}, "ok"));
  h.add(event(16, "2026-11-29T10:02:00Z", "sync", {}, "ok"));  // seen already: ignored
  h.add(event(17, "2026-11-29T10:02:01Z", "ui.refused", {{"path", "/ui/api/x"}}, "refused: x"));
  h.add(event(18, "2026-11-29T10:02:02Z", "api.refused", {{"path", "/v1/rollouts"}}, "refused"));

  CHECK(h.last_seq() == 18);
  CHECK(h.full_traffic_at("r1", "east") == parse_rfc3339_ms("2026-11-29T10:00:15Z"));
  CHECK(h.full_traffic_at("r1", "south") == 0);
  Exposition out;
  h.render(out);
  const std::string& text = out.text();
  INFO(text);
  CHECK(has_line(text, R"(patchwave_region_phase_duration_seconds_count{phase="provisioning"} 2)"));
  CHECK(has_line(text, R"(patchwave_region_phase_duration_seconds_sum{phase="provisioning"} 15)"));
  CHECK(has_line(text, R"(patchwave_region_phase_duration_seconds_sum{phase="pending"} 19)"));
  CHECK(has_line(text, R"(patchwave_region_phase_duration_seconds_sum{phase="shifting"} 3)"));
  CHECK(has_line(text, R"(patchwave_time_to_patch_seconds_count{urgency="emergency"} 1)"));
  CHECK(has_line(text, R"(patchwave_time_to_patch_seconds_sum{urgency="emergency"} 15)"));
  CHECK(has_line(text, R"(patchwave_time_to_patch_seconds_count{urgency="routine"} 0)"));
  CHECK(has_line(text, R"(patchwave_health_gate_results_total{result="passed"} 1)"));
  CHECK(has_line(text, R"(patchwave_canary_analyses_total{result="passed"} 1)"));
  CHECK(has_line(text, R"(patchwave_rollbacks_total{reason="provisioning"} 1)"));
  CHECK(has_line(text, R"(patchwave_rollbacks_total{reason="analysis"} 0)"));
  CHECK(has_line(text, R"(patchwave_rollback_restore_seconds_sum 0.25)"));
  CHECK(has_line(text, R"(patchwave_regions_finished_total{state="succeeded"} 1)"));
  CHECK(has_line(text, R"(patchwave_regions_finished_total{state="rolled_back"} 1)"));
  CHECK(has_line(text, R"(patchwave_syncs_total{result="ok"} 1)"));
  CHECK(has_line(text, R"(patchwave_syncs_total{result="refused"} 1)"));
  CHECK(has_line(text, "patchwave_last_sync_success_timestamp_seconds 1795946520"));
  CHECK(has_line(text, R"(patchwave_refused_requests_total{surface="ui"} 1)"));
  CHECK(has_line(text, R"(patchwave_refused_requests_total{surface="api"} 1)"));
}

TEST_CASE("metrics: an event's at_ms places it to the millisecond") {
  History h;
  h.add(event(1, "2026-11-29T10:00:00Z", "rollout.create",
              {{"rollout", "r2"}, {"regions", Value::array({"east"})}, {"at_ms", 1795946400100}}));
  h.add(event(2, "2026-11-29T10:00:00Z", "rollout.region",
              {{"rollout", "r2"},
               {"region", "east"},
               {"from", "pending"},
               {"to", "baking"},
               {"at_ms", 1795946400850}}));
  CHECK(h.full_traffic_at("r2", "east") == 1795946400850);
  Exposition out;
  h.render(out);
  CHECK(has_line(out.text(), R"(patchwave_time_to_patch_seconds_sum{urgency="routine"} 0.75)"));
}

TEST_CASE("metrics: the page for a rollout in progress") {
  MetricsInput in;
  in.controller = "ctl \"one\"";
  in.now = 100'000;
  in.rollouts = {
      {"rollouts", {{{"id", "r1"}, {"state", "succeeded"}}, {{"id", "r2"}, {"state", "running"}}}}};
  Value fresh = Value::array({{{"name", "east-r2-0"}}, {{"name", "east-r2-1"}}});
  Value previous = Value::array({{{"name", "east-r1-0"}}});
  in.details.push_back({{"id", "r2"},
                        {"urgency", "routine"},
                        {"created_at", 40'000},
                        {"regions",
                         {{{"region", "east"},
                           {"state", "shifting"},
                           {"action", "analyse:10"},
                           {"state_since", 90'000},
                           {"fresh", fresh},
                           {"previous", previous},
                           {"health_streak", {{"east-r2-0", 3}, {"east-r2-1", 0}}}},
                          {{"region", "south"},
                           {"state", "awaiting_approval"},
                           {"state_since", 50'000},
                           {"gate",
                            {{"needed", 2},
                             {"approved_by", Value::array({"k1"})},
                             {"waiting_for", "approvals"}}}}}}});
  in.approvals = {{"pending",
                   {{{"rollout", "r2"},
                     {"region", "south"},
                     {"needed", 2},
                     {"approved_by", Value::array({"k1"})},
                     {"waiting_for", "approvals"}}}}};
  in.servers = {{"servers",
                 {{{"region", "east"}, {"state", "serving"}},
                  {{"region", "east"}, {"state", "enrolled"}},
                  {{"region", "east"}, {"state", "enrolled"}}}}};
  in.status = {{"audit_head", {{"seq", 42}}}};
  History history;
  std::string text = render_metrics(in, history);
  INFO(text);
  CHECK(has_line(text, R"(patchwave_build_info{controller="ctl \"one\"",version="0.1.0"} 1)"));
  CHECK(has_line(text, R"(patchwave_rollouts{state="running"} 1)"));
  CHECK(has_line(text, R"(patchwave_rollouts{state="succeeded"} 1)"));
  CHECK(has_line(text, R"(patchwave_rollouts{state="aborted"} 0)"));
  CHECK(has_line(text, R"(patchwave_region_state{rollout="r2",region="east",state="shifting"} 1)"));
  CHECK(has_line(
      text, R"(patchwave_region_traffic_percent{rollout="r2",region="east",servers="new"} 10)"));
  CHECK(has_line(
      text, R"(patchwave_region_traffic_percent{rollout="r2",region="east",servers="old"} 90)"));
  CHECK(has_line(
      text,
      R"(patchwave_region_time_in_state_seconds{rollout="r2",region="east",state="shifting"} 10)"));
  CHECK(has_line(
      text, R"(patchwave_server_health_streak{rollout="r2",region="east",server="east-r2-0"} 3)"));
  CHECK(has_line(
      text, R"(patchwave_server_health_streak{rollout="r2",region="east",server="east-r2-1"} 0)"));
  CHECK(has_line(text, R"(patchwave_approvals_waiting{rollout="r2",region="south"} 1)"));
  CHECK(has_line(text, R"(patchwave_approval_requests_open{waiting_for="approvals"} 1)"));
  CHECK(has_line(text, R"(patchwave_servers{region="east",state="enrolled"} 2)"));
  CHECK(has_line(text, R"(patchwave_servers{region="east",state="decommissioned"} 0)"));
  CHECK(has_line(text, "patchwave_audit_events 42"));
  CHECK(text.find("# TYPE patchwave_region_phase_duration_seconds histogram\n") !=
        std::string::npos);
  // One TYPE line per family.
  std::size_t types = 0;
  for (std::size_t at = text.find("# TYPE patchwave_rollouts "); at != std::string::npos;
       at = text.find("# TYPE patchwave_rollouts ", at + 1)) {
    ++types;
  }
  CHECK(types == 1);
}
