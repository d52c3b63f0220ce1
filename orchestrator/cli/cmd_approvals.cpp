// `patchwave approve|reject ROLLOUT --region R --key K` and `patchwave approvals
// pending|submit`: a regional approver signs a decision about one region of one rollout
// with their own key (orchestrator/approval); the controller counts it only for that
// rollout, release and region (orchestrator/controller/approvals.cpp).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/crypto/keys.hpp"
#include "orchestrator/approval/approval.hpp"
#include "orchestrator/cli/cli.hpp"
#include "orchestrator/cli/client.hpp"

namespace pw::cli {
namespace {

struct ApprovalArgs : ClientArgs {
  std::string rollout, region, signing_key, comment, expires = "24h", out, request, file;
};

void print_json(const json::Value& value) { std::printf("%s\n", value.dump(2).c_str()); }

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (4u << 20)) return make_error(Errc::limit, path + ": too large");
  return text.str();
}

Status write_text(const std::string& path, const std::string& text) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return make_error(Errc::io, temp + ": cannot write");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return make_error(Errc::io, path + ": cannot write");
  }
  return Ok{};
}

// What is being decided: the rollout's release and the region, from the controller or,
// for an approver without access to it, from a file (`approvals pending --output json`
// or `rollout status ID --output json` saved elsewhere).
Result<json::Value> find_subject(const ApprovalArgs& args) {
  json::Value source;
  std::string where;
  if (!args.request.empty()) {
    PW_TRY_ASSIGN(std::string text, read_text(args.request));
    auto parsed = json::parse(text);
    if (!parsed.ok()) return std::move(parsed).error().with_context(args.request);
    source = *parsed;
    where = args.request;
  } else {
    PW_TRY_ASSIGN(source, call_controller(args, "GET", "/v1/rollouts/" + args.rollout));
    where = "the controller";
  }
  if (source.contains("pending") && source["pending"].is_array()) {
    for (const auto& request : source["pending"]) {
      if (request.value("rollout", "") == args.rollout &&
          request.value("region", "") == args.region) {
        return request;
      }
    }
  } else if (source.value("id", "") == args.rollout && source.contains("regions")) {
    for (const auto& run : source["regions"]) {
      if (run.value("region", "") != args.region) continue;
      return json::Value{{"rollout", args.rollout},
                         {"region", args.region},
                         {"app", source.value("app", "")},
                         {"version", source.value("version", "")},
                         {"target", source.value("target", "")},
                         {"sha256", source.value("sha256", "")},
                         {"urgency", source.value("urgency", "")},
                         {"cves", source["release"].value("cves", json::Value::array())},
                         {"state", run.value("state", "")}};
    }
  }
  return make_error(Errc::not_found, where + ": no region " + args.region + " in rollout " +
                                         args.rollout + " to decide on");
}

std::string cve_text(const json::Value& subject) {
  std::string out;
  for (const auto& cve : subject.value("cves", json::Value::array())) {
    out += ", " + cve.get<std::string>();
  }
  return out;
}

int decide(const ApprovalArgs& args, const std::string& decision) {
  auto subject = find_subject(args);
  if (!subject.ok()) return fail(subject.error());
  auto lifetime = parse_duration(args.expires);
  if (!lifetime.ok()) return fail(lifetime.error().with_context("--expires"));
  auto key = crypto::PrivateKey::load(args.signing_key);
  if (!key.ok()) return fail(key.error());
  approval::Approval fields;
  fields.rollout = args.rollout;
  fields.region = args.region;
  fields.target = subject->value("target", "");
  fields.sha256 = subject->value("sha256", "");
  fields.decision = decision;
  fields.comment = args.comment;
  fields.issued = now();
  fields.expires = fields.issued + *lifetime;
  auto document = approval::sign_approval(fields, *key);
  if (!document.ok()) return fail(document.error());
  std::fprintf(stderr, "%s %s %s (%s%s) in region %s, rollout %s\n  target %s\n  sha256 %s\n",
               decision == "approve" ? "approving" : "rejecting", subject->value("app", "").c_str(),
               subject->value("version", "").c_str(), subject->value("urgency", "").c_str(),
               cve_text(*subject).c_str(), args.region.c_str(), args.rollout.c_str(),
               fields.target.c_str(), fields.sha256.c_str());
  if (!args.out.empty()) {
    if (auto written = write_text(args.out, *document); !written.ok()) return fail(written.error());
    std::printf(
        "wrote the signed %s to %s (valid until %s)\n  submit it: patchwave approvals "
        "submit %s\n",
        decision.c_str(), args.out.c_str(), trust::format_time(fields.expires).c_str(),
        args.out.c_str());
    return kExitOk;
  }
  auto answer = call_controller(args, "POST", "/v1/approvals", *document);
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    print_json(*answer);
  } else if (decision == "approve") {
    std::printf("approval accepted for region %s of rollout %s: %s counted", args.region.c_str(),
                args.rollout.c_str(), std::to_string(answer->value("approvals", 0)).c_str());
    if (answer->contains("needed") && (*answer)["needed"].is_number()) {
      std::printf(" of %s needed", std::to_string((*answer)["needed"].get<int>()).c_str());
    }
    std::printf("\n");
  } else {
    std::printf("rejection accepted: region %s of rollout %s stops\n", args.region.c_str(),
                args.rollout.c_str());
  }
  return kExitOk;
}

int submit(const ApprovalArgs& args) {
  auto document = read_text(args.file);
  if (!document.ok()) return fail(document.error());
  // The controller judges it (and audits a refusal), even a malformed document.
  auto answer = call_controller(args, "POST", "/v1/approvals", *document);
  if (!answer.ok()) return fail(answer.error().with_context(args.file));
  if (args.output == "json") {
    print_json(*answer);
  } else {
    std::printf("%s by key %s accepted for region %s of rollout %s\n",
                answer->value("decision", "").c_str(),
                answer->value("keyid", "").substr(0, 8).c_str(),
                answer->value("region", "").c_str(), answer->value("rollout", "").c_str());
  }
  return kExitOk;
}

std::string keys_text(const json::Value& keys) {
  std::string out;
  for (const auto& key : keys)
    out += (out.empty() ? "" : ", ") + key.get<std::string>().substr(0, 8);
  return out.empty() ? "none" : out;
}

void print_request(const json::Value& r) {
  std::string from = r["from_version"].is_string() ? r["from_version"].get<std::string>() : "none";
  std::printf("rollout %s, region %s (%s): %s %s -> %s (%s%s)\n", r.value("rollout", "").c_str(),
              r.value("region", "").c_str(), r.value("display_name", "").c_str(),
              r.value("app", "").c_str(), from.c_str(), r.value("version", "").c_str(),
              r.value("urgency", "").c_str(), cve_text(r).c_str());
  std::string steps;
  for (const auto& step : r["traffic_steps"]) {
    steps += (steps.empty() ? "" : " -> ") + std::to_string(step.get<int>()) + "%";
  }
  std::string retire;
  for (const auto& name : r["retire"])
    retire += (retire.empty() ? "" : ", ") + name.get<std::string>();
  std::printf("  servers: create %d, retire %zu%s; traffic %s\n", r.value("create", 0),
              r["retire"].size(), retire.empty() ? "" : (" (" + retire + ")").c_str(),
              steps.c_str());
  std::string window = r.value("window", "");
  std::string opens = r.value("window_opens_at", "");
  std::printf("  window: %s%s\n", window.c_str(),
              opens.empty() ? "" : (", opens " + opens).c_str());
  std::printf("  approvals: %zu of %d (approved by %s); approvers: %s\n", r["approved_by"].size(),
              r.value("needed", 0), keys_text(r["approved_by"]).c_str(),
              keys_text(r["approvers"]).c_str());
  std::printf("  waiting for: %s; expires %s\n", r.value("waiting_for", "").c_str(),
              r.value("expires_at", "").c_str());
  for (const auto& shortcut : r.value("shortcuts", json::Value::array())) {
    std::printf("  emergency shortcut: %s\n", shortcut.get<std::string>().c_str());
  }
  std::printf("  approve: patchwave approve %s --region %s --key KEYFILE\n",
              r.value("rollout", "").c_str(), r.value("region", "").c_str());
}

int pending(const ApprovalArgs& args) {
  std::string path = "/v1/approvals";
  std::string sep = "?";
  if (!args.region.empty()) path += sep + "region=" + args.region, sep = "&";
  if (!args.rollout.empty()) path += sep + "rollout=" + args.rollout;
  auto answer = call_controller(args, "GET", path);
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    print_json(*answer);
    return kExitOk;
  }
  if ((*answer)["pending"].empty()) std::printf("no approval requests are open\n");
  for (const auto& request : (*answer)["pending"]) print_request(request);
  return kExitOk;
}

void add_decision(CLI::App& app, Action& action, const std::string& decision) {
  auto a = std::make_shared<ApprovalArgs>();
  bool approve = decision == "approve";
  auto* cmd = app.add_subcommand(
      decision, approve ? "Sign and submit your approval of one region of a rollout."
                        : "Sign and submit a rejection: the region stops (and whatever its\n"
                          "failure policy says happens elsewhere).");
  add_client_options(cmd, *a, true, "--cert-key");
  cmd->add_option("ROLLOUT", a->rollout, "The rollout id")->required();
  cmd->add_option("--region", a->region, "The region you approve for")->required();
  cmd->add_option("--key", a->signing_key,
                  "Your approver's private key (PEM, 0600) from `patchwave key generate`")
      ->required();
  cmd->add_option("--comment", a->comment, "Why (kept in the signed document and the audit log)");
  cmd->add_option("--expires", a->expires, "How long the decision stays valid (default 24h)");
  cmd->add_option("--out", a->out,
                  "Write the signed document to FILE instead of submitting it (air-gapped "
                  "approvers: `patchwave approvals submit FILE` elsewhere)");
  cmd->add_option("--request", a->request,
                  "Take the rollout's release from FILE (the JSON of `approvals pending` or "
                  "`rollout status`) instead of asking the controller");
  cmd->footer(
      "The document binds the rollout, the release (target and sha256) and the region;\n"
      "it counts only if your key is one of the region's approvers in the fleet policy.\n"
      "Your operator certificate's key, unless in PATCHWAVE_KEY: --cert-key.\n"
      "Example:\n  patchwave " +
      decision + " r1a2b3c4d --region bw --key keys/bw-anna --comment \"" +
      (approve ? "tested in staging" : "clashes with the billing run") + "\"\n");
  cmd->callback(
      [&action, a, decision] { action = [a, decision] { return decide(*a, decision); }; });
}

}  // namespace

void register_approval_commands(CLI::App& app, Action& action) {
  add_decision(app, action, "approve");
  add_decision(app, action, "reject");

  auto* group = app.add_subcommand("approvals", "Regional approval requests.");
  group->require_subcommand(1);
  auto p = std::make_shared<ApprovalArgs>();
  auto* cpending = group->add_subcommand(
      "pending",
      "Open approval requests: what each would change, who may approve, how many are\n"
      "needed, the window and when the request expires.");
  add_client_options(cpending, *p);
  cpending->add_option("--region", p->region, "Only this region");
  cpending->add_option("--rollout", p->rollout, "Only this rollout");
  cpending->callback([&action, p] { action = [p] { return pending(*p); }; });

  auto s = std::make_shared<ApprovalArgs>();
  auto* csubmit =
      group->add_subcommand("submit", "Submit a signed approval or rejection written with --out.");
  add_client_options(csubmit, *s);
  csubmit->add_option("FILE", s->file, "The signed document")->required()->check(CLI::ExistingFile);
  csubmit->footer("Example:\n  patchwave approvals submit approval-bw.json\n");
  csubmit->callback([&action, s] { action = [s] { return submit(*s); }; });
}

}  // namespace pw::cli
