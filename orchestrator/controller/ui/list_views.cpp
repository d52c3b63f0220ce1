// The dashboard's list views: approval requests, servers, releases, the audit log.
#include <algorithm>
#include <map>

#include "orchestrator/controller/ui/fields.hpp"
#include "orchestrator/controller/ui/views.hpp"

namespace pw::dashboard {

using namespace fields;

json::Value approvals_view(const json::Value& pending, Millis now) {
  json::Value out = json::Value::array();
  for (const auto& request : array(pending, "pending")) {
    std::string rollout = text(request, "rollout"), region = text(request, "region");
    std::string base = " " + shell_quote(rollout) + " --region " + shell_quote(region) +
                       " --key YOUR_APPROVER_KEY --comment ";
    json::Value changes = json::Value::array();
    std::string from = text(request, "from_version");
    std::string release = text(request, "app") + " " + (from.empty() ? "" : from + " -> ") +
                          text(request, "version") + " (" + text(request, "urgency");
    for (const auto& cve : array(request, "cves")) release += ", " + cve.get<std::string>();
    changes.push_back("release: " + release + ")");
    changes.push_back("artifact: " + text(request, "target") + " sha256 " +
                      text(request, "sha256"));
    int create = member(request, "create").is_number() ? request["create"].get<int>() : 0;
    changes.push_back("create " + std::to_string(create) + " fresh server" +
                      (create == 1 ? "" : "s") + " in " + region);
    json::Value retire = array(request, "retire");
    changes.push_back(retire.empty() ? std::string("retire nothing (first deployment)")
                                     : "retire after the bake: " + joined(retire, ", "));
    std::string steps = joined(array(request, "traffic_steps"), "% -> ");
    changes.push_back("traffic: " + (steps.empty() ? std::string("100") : steps) +
                      "% on the new servers, each step judged against the old ones");
    if (!text(request, "window").empty()) {
      changes.push_back("maintenance window: " + text(request, "window"));
    }
    for (const auto& shortcut : array(request, "shortcuts")) {
      if (shortcut.is_string())
        changes.push_back("emergency shortcut: " + shortcut.get<std::string>());
    }
    Millis expires = parse_rfc3339_ms(text(request, "expires_at"));
    json::Value item = request;
    item["changes"] = changes;
    item["approve_command"] = "patchwave approve" + base + "'checked'";
    item["reject_command"] = "patchwave reject" + base + "'why not'";
    item["expires_in_ms"] = expires > now ? expires - now : 0;
    item["approved_by_short"] = joined(array(request, "approved_by"), ", ", true);
    item["approvers_short"] = joined(array(request, "approvers"), ", ", true);
    out.push_back(std::move(item));
  }
  return {{"pending", out}};
}

json::Value servers_view(const json::Value& servers, const json::Value& policy) {
  std::map<std::string, json::Value> regions;
  auto region_entry = [&](const std::string& name, const std::string& display) -> json::Value& {
    auto [it, added] = regions.try_emplace(name);
    if (added) {
      it->second = {{"region", name},
                    {"display_name", display.empty() ? name : display},
                    {"counts", json::Value::object()},
                    {"servers", json::Value::array()}};
    }
    return it->second;
  };
  for (const auto& region : array(policy, "regions")) {
    json::Value& entry = region_entry(text(region, "name"), text(region, "display_name"));
    entry["wanted"] = member(region, "servers");
    entry["provider"] = text(member(region, "provider"), "kind");
  }
  std::size_t total = 0;
  for (const auto& server : array(servers, "servers")) {
    json::Value& entry = region_entry(text(server, "region"), "");
    std::string state = text(server, "state");
    entry["counts"][state] = entry["counts"].value(state, 0) + 1;
    if (state == "decommissioned") continue;
    ++total;
    entry["servers"].push_back({{"name", text(server, "name")},
                                {"state", state},
                                {"address", text(server, "address")},
                                {"rollout", text(server, "rollout")},
                                {"updated_at", text(server, "updated_at")}});
  }
  json::Value out = json::Value::array();
  for (auto& [name, entry] : regions) out.push_back(std::move(entry));
  return {{"regions", out}, {"servers", total}};
}

json::Value releases_view(const json::Value& releases, const json::Value& rollouts) {
  json::Value out = json::Value::array();
  for (const auto& entry : array(releases, "releases")) {
    const json::Value& release = member(entry, "release");
    std::string target = text(entry, "target");
    json::Value used = json::Value::array();
    for (const auto& r : array(rollouts, "rollouts")) {
      if (text(r, "target") == target) {
        used.push_back({{"id", text(r, "id")}, {"state", text(r, "state")}});
      }
    }
    out.push_back({{"app", text(release, "app")},
                   {"version", text(release, "version")},
                   {"urgency", text(release, "urgency")},
                   {"cves", array(release, "cves")},
                   {"target", target},
                   {"sha256", text(member(entry, "hashes"), "sha256")},
                   {"length", member(entry, "length")},
                   {"countersigned", member(entry, "countersignature").is_string()},
                   {"rollouts", used}});
  }
  std::stable_sort(out.begin(), out.end(), [](const json::Value& a, const json::Value& b) {
    return a["app"] != b["app"] ? a["app"] < b["app"] : a["target"] > b["target"];
  });
  return {{"releases", out}};
}

json::Value audit_view(const json::Value& events, const json::Value& chain, std::size_t limit) {
  json::Value out = json::Value::array();
  const json::Value list = events.is_array() ? events : array(events, "events");
  std::size_t start = list.size() > limit ? list.size() - limit : 0;
  for (std::size_t i = list.size(); i > start; --i) {
    const json::Value& e = list[i - 1];
    out.push_back({{"seq", member(e, "seq")},
                   {"time", text(e, "time")},
                   {"actor", text(e, "actor")},
                   {"action", text(e, "action")},
                   {"outcome", text(e, "outcome")},
                   {"inputs", member(e, "inputs")},
                   {"hash", text(e, "hash")}});
  }
  json::Value status = {
      {"intact", member(chain, "intact").is_boolean() && chain["intact"].get<bool>()},
      {"events", member(chain, "events")},
      {"head", text(chain, "head")}};
  if (member(chain, "first_broken_event").is_number()) {
    status["first_broken_event"] = chain["first_broken_event"];
    status["reason"] = text(chain, "reason");
  }
  return {{"events", out}, {"chain", status}};
}

}  // namespace pw::dashboard
