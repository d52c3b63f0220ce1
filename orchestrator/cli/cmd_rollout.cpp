// `patchwave rollout plan|start|list|status|pause|resume|abort|rollback`: the rollout
// engine of a running controller (orchestrator/controller/rollouts.hpp).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

#include "orchestrator/cli/cli.hpp"
#include "orchestrator/cli/client.hpp"
#include "orchestrator/cli/rollout_watch.hpp"
#include "orchestrator/controller/ui/views.hpp"
#include "orchestrator/rollout/plan.hpp"

namespace pw::cli {
namespace {

struct RolloutArgs : ClientArgs {
  std::string release, id, region;
  std::vector<std::string> regions;
  bool watch = false;
  bool routine = false;
};

Result<json::Value> release_body(const RolloutArgs& args) {
  auto at = args.release.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == args.release.size()) {
    return make_error(Errc::invalid_argument,
                      "APP@VERSION: '" + args.release + "' must be like demo-service@1.0.1");
  }
  json::Value body = {{"app", args.release.substr(0, at)},
                      {"version", args.release.substr(at + 1)}};
  if (!args.regions.empty()) body["regions"] = args.regions;
  if (args.routine) body["routine"] = true;
  return body;
}

void print_json(const json::Value& value) { std::printf("%s\n", value.dump(2).c_str()); }

std::string step_of(const json::Value& region) {
  std::string state = region.value("state", "");
  std::string action = region.value("action", "");
  if (state == "shifting") {
    auto colon = action.find(':');
    if (colon != std::string::npos) return state + " " + action.substr(colon + 1) + "%";
  }
  return state;
}

std::string time_of(const json::Value& ms) {
  if (!ms.is_number() || ms.get<std::int64_t>() <= 0) return "";
  return trust::format_time(std::chrono::floor<std::chrono::seconds>(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms.get<std::int64_t>()))));
}

std::string short_keys(const json::Value& keys) {
  std::string out;
  for (const auto& key : keys) {
    out += (out.empty() ? "" : ", ") + key.get<std::string>().substr(0, 8);
  }
  return out.empty() ? "none" : out;
}

// The approval gate of a region waiting at it: what it waits for and until when.
void print_gate(const json::Value& region) {
  const json::Value& gate = region.value("gate", json::Value::object());
  if (region.value("state", "") != "awaiting_approval" || gate.empty()) return;
  std::string waiting = gate.value("waiting_for", "");
  if (waiting == "approvals") {
    std::printf("           gate: %zu of %d approvals (approved by %s; approvers %s), expires %s\n",
                gate["approved_by"].size(), gate.value("needed", 0),
                short_keys(gate["approved_by"]).c_str(), short_keys(gate["approvers"]).c_str(),
                time_of(gate["expires_at"]).c_str());
  } else if (waiting == "window") {
    std::printf("           gate: approved; waiting for its window (%s) until %s\n",
                gate.value("window", "").c_str(), time_of(gate["window_opens_at"]).c_str());
  }
}

// From the health gate until the region has finished: the new servers run and are checked.
bool checking_health(const std::string& state) {
  return state == "verifying" || state == "shifting" || state == "baking" ||
         state == "finalizing" || state == "rolling_back";
}

void print_status(const json::Value& r) {
  std::printf("rollout %s: %s %s (%s) - %s\n", r.value("id", "").c_str(),
              r.value("app", "").c_str(), r.value("version", "").c_str(),
              r.value("urgency", "").c_str(), r.value("state", "").c_str());
  const json::Value& emergency = r.value("emergency", json::Value());
  if (emergency.is_object()) {
    std::printf("  emergency: countersigned by %s (%d needed)\n",
                short_keys(emergency["countersigned_by"]).c_str(), emergency.value("threshold", 0));
  }
  for (const auto& region : r["regions"]) {
    std::printf("  wave %-2d %-10s %-18s %zu new, %zu old%s\n", region.value("wave", 0),
                region.value("region", "").c_str(), step_of(region).c_str(), region["fresh"].size(),
                region["previous"].size(), region.value("paused", false) ? "  [paused]" : "");
    if (checking_health(region.value("state", ""))) {
      const json::Value split = dashboard::traffic_split(region);
      const json::Value streaks = region.value("health_streak", json::Value::object());
      std::size_t passing = 0;
      for (const auto& [server, streak] : streaks.items()) {
        if (streak.is_number() && streak.get<int>() > 0) ++passing;
      }
      std::printf(
          "           traffic: %d%% old, %d%% new; health: %zu of %zu new servers passing\n",
          split["old"].get<int>(), split["new"].get<int>(), passing, region["fresh"].size());
    }
    if (!region.value("reason", "").empty()) {
      std::printf("           reason: %s\n", region.value("reason", "").c_str());
    }
    print_gate(region);
    for (const auto& shortcut : region["gate"].value("shortcuts", json::Value::array())) {
      std::printf("           emergency shortcut: %s\n", shortcut.get<std::string>().c_str());
    }
    const auto& analysis = region["analysis"];
    if (analysis.is_object() && analysis.contains("outcome")) {
      std::printf("           analysis: %s: %s\n", analysis.value("outcome", "").c_str(),
                  analysis.value("reason", "").c_str());
    }
  }
}

int plan(const RolloutArgs& args) {
  auto body = release_body(args);
  if (!body.ok()) return fail(body.error());
  auto answer = call_controller(args, "POST", "/v1/rollouts/plan", body->dump());
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    print_json(*answer);
  } else {
    std::printf("%s", rollout::render_plan(*answer).c_str());
  }
  return kExitOk;
}

int start(const RolloutArgs& args) {
  auto body = release_body(args);
  if (!body.ok()) return fail(body.error());
  auto answer = call_controller(args, "POST", "/v1/rollouts", body->dump());
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    print_json(*answer);
  } else {
    std::printf(
        "started rollout %s of %s %s to %zu regions\n  follow it: patchwave rollout "
        "status %s --watch\n",
        answer->value("id", "").c_str(), answer->value("app", "").c_str(),
        answer->value("version", "").c_str(), (*answer)["regions"].size(),
        answer->value("id", "").c_str());
  }
  return kExitOk;
}

int list(const RolloutArgs& args) {
  auto answer = call_controller(args, "GET", "/v1/rollouts");
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    print_json(*answer);
    return kExitOk;
  }
  for (const auto& r : (*answer)["rollouts"]) {
    std::string regions;
    for (auto it = r["regions"].begin(); it != r["regions"].end(); ++it) {
      regions += (regions.empty() ? "" : ", ") + it.key() + "=" + it.value().get<std::string>();
    }
    std::printf("%-10s %-16s %-10s %-10s %-16s %s\n", r.value("id", "").c_str(),
                r.value("app", "").c_str(), r.value("version", "").c_str(),
                r.value("urgency", "").c_str(), r.value("state", "").c_str(), regions.c_str());
  }
  return kExitOk;
}

bool finished(const json::Value& r) {
  std::string state = r.value("state", "");
  return state != "pending" && state != "running";
}

int status(RolloutArgs args) {
  if (args.id.empty()) {
    auto all = call_controller(args, "GET", "/v1/rollouts");
    if (!all.ok()) return fail(all.error());
    if ((*all)["rollouts"].empty()) return fail(make_error(Errc::not_found, "no rollouts yet"));
    args.id = (*all)["rollouts"].back().value("id", "");
  }
  // On a terminal: the live view; otherwise plain lines whenever something changed.
  if (args.watch && args.output != "json" && live_terminal()) return watch_live(args, args.id);
  std::string last_text;
  for (;;) {
    auto answer = call_controller(args, "GET", "/v1/rollouts/" + args.id);
    if (!answer.ok()) return fail(answer.error());
    bool done = finished(*answer);
    if (args.output == "json") {
      if (!args.watch || done) print_json(*answer);
    } else {
      std::string text = answer->dump();
      if (text != last_text) {
        if (args.watch) std::printf("--- %s\n", answer->value("state", "").c_str());
        print_status(*answer);
        std::fflush(stdout);
        last_text = text;
      }
    }
    if (!args.watch) return kExitOk;
    // Watching ends with the outcome: 0 when every region succeeded.
    if (done) return answer->value("state", "") == "succeeded" ? kExitOk : kExitFailed;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int command(const RolloutArgs& args, const std::string& verb) {
  json::Value body = json::Value::object();
  if (!args.region.empty()) body["region"] = args.region;
  auto answer = call_controller(args, "POST", "/v1/rollouts/" + args.id + "/" + verb, body.dump());
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    print_json(*answer);
  } else {
    std::printf("%s of rollout %s%s queued; the engine applies it on its next turn\n", verb.c_str(),
                args.id.c_str(),
                args.region.empty() ? "" : (" (region " + args.region + ")").c_str());
  }
  return kExitOk;
}

}  // namespace

void register_rollout_commands(CLI::App& app, Action& action) {
  auto* rollout =
      app.add_subcommand("rollout", "Roll a verified release out to the regions on fresh servers.");
  rollout->require_subcommand(1);

  auto p = std::make_shared<RolloutArgs>();
  auto* cplan = rollout->add_subcommand(
      "plan",
      "What a rollout would do: waves, servers to create and retire, gates, traffic\n"
      "steps and what happens on failure. Changes nothing (any operator role).");
  add_client_options(cplan, *p);
  cplan->add_option("APP@VERSION", p->release, "The verified release")->required();
  cplan->add_option("--regions", p->regions, "Only these regions")->delimiter(',');
  cplan->footer("Example:\n  patchwave rollout plan demo-service@1.0.1 --regions bw,by\n");
  cplan->callback([&action, p] { action = [p] { return plan(*p); }; });

  auto s = std::make_shared<RolloutArgs>();
  auto* cstart = rollout->add_subcommand(
      "start",
      "Start a rollout (release-engineer). An emergency release takes the fast path only\n"
      "with the security officers' countersignatures (patchwave release countersign).");
  add_client_options(cstart, *s);
  cstart->add_option("APP@VERSION", s->release, "The verified release")->required();
  cstart->add_option("--regions", s->regions, "Only these regions")->delimiter(',');
  cstart->add_flag("--routine", s->routine,
                   "Run an emergency release that is not countersigned on the routine path "
                   "(without it, such a release is refused)");
  cstart->footer("Example:\n  patchwave rollout start demo-service@1.0.1\n");
  cstart->callback([&action, s] { action = [s] { return start(*s); }; });

  auto l = std::make_shared<RolloutArgs>();
  auto* clist = rollout->add_subcommand("list", "Every rollout and its regions' states.");
  add_client_options(clist, *l);
  clist->callback([&action, l] { action = [l] { return list(*l); }; });

  auto st = std::make_shared<RolloutArgs>();
  auto* cstatus = rollout->add_subcommand(
      "status",
      "One rollout in detail (the latest without ID). With --watch, follows it to\n"
      "the end and exits 0 only if every region succeeded.");
  add_client_options(cstatus, *st);
  cstatus->add_option("ID", st->id, "The rollout");
  cstatus->add_flag("--watch", st->watch, "Follow until it finishes");
  cstatus->footer("Example:\n  patchwave rollout status r1a2b3c4d --watch\n");
  cstatus->callback([&action, st] { action = [st] { return status(*st); }; });

  const std::pair<const char*, const char*> verbs[] = {
      {"pause", "Hold the rollout (or one region) where it is."},
      {"resume", "Go on after a pause; a traffic step starts over."},
      {"abort", "Stop: traffic back to the old servers, the new ones decommissioned."},
      {"rollback",
       "After the traffic moved (shifting or baking, old servers still kept): back to them."}};
  for (const auto& [verb, help] : verbs) {
    auto a = std::make_shared<RolloutArgs>();
    auto* cmd = rollout->add_subcommand(verb, std::string(help) + " (release-engineer)");
    add_client_options(cmd, *a);
    cmd->add_option("ID", a->id, "The rollout")->required();
    cmd->add_option("--region", a->region, "Only this region");
    cmd->footer(std::string("Example:\n  patchwave rollout ") + verb + " r1a2b3c4d --region bw\n");
    std::string name = verb;
    cmd->callback([&action, a, name] { action = [a, name] { return command(*a, name); }; });
  }
}

}  // namespace pw::cli
