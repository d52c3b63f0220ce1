// patchwave audit verify|export|checkpoint|note
#include <CLI/CLI.hpp>

#include <cstdio>

#include "common/crypto/keys.hpp"
#include "orchestrator/audit/checkpoint.hpp"
#include "orchestrator/cli/cli.hpp"
#include "orchestrator/cli/client.hpp"
#include "orchestrator/cli/store_args.hpp"
#include "orchestrator/store/store.hpp"

namespace pw::cli {
namespace {

struct AuditArgs {
  StoreArgs store;  // without --db or --config: ask the controller
  std::string anchor, anchor_key, key, actor, message, output = "text";
  ClientArgs client;
};

// `audit verify` and `audit export` against a running controller.
int verify_remote(const AuditArgs& args) {
  auto answer = call_controller(args.client, "GET", "/v1/audit/verify");
  // 409 means a broken chain: the answer still says where.
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
  } else {
    std::printf("events:  %lld, head %s\nchain:   intact\n",
                static_cast<long long>((*answer)["events"].get<std::int64_t>()),
                (*answer)["head"].get<std::string>().c_str());
  }
  return kExitOk;
}

int export_remote(const AuditArgs& args) {
  json::Value all = json::Value::array();
  for (std::int64_t from = 1;;) {
    auto answer =
        call_controller(args.client, "GET", "/v1/audit/events?from=" + std::to_string(from));
    if (!answer.ok()) return fail(answer.error());
    const auto& events = (*answer)["events"];
    if (events.empty()) break;
    for (const auto& event : events) all.push_back(event);
    from = events.back()["seq"].get<std::int64_t>() + 1;
  }
  if (args.output == "jsonl") {
    for (const auto& event : all) std::printf("%s\n", event.dump().c_str());
  } else {
    std::printf("%s\n", all.dump(2).c_str());
  }
  return kExitOk;
}

Result<crypto::PublicKey> load_public_key(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return make_error(Errc::not_found, path + ": cannot open the public key");
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0 && text.size() < 65536) {
    text.append(buffer, n);
  }
  std::fclose(f);
  auto parsed = json::parse(text);
  if (!parsed.ok()) return std::move(parsed).error().with_context(path);
  auto key = crypto::PublicKey::from_json(*parsed);
  if (!key.ok()) return std::move(key).error().with_context(path);
  if (!key->supported()) return make_error(Errc::unsupported, path + ": unsupported key type");
  return key;
}

int run_verify(const AuditArgs& args) {
  if (!args.store.given()) {
    if (!args.anchor.empty()) {
      return fail(make_error(Errc::invalid_argument,
                             "--anchor needs --db or --config: anchors are checked against the "
                             "store itself"));
    }
    return verify_remote(args);
  }
  auto store = open_store(args.store, false);
  if (!store.ok()) return fail(store.error());
  auto chain = (*store)->audit().verify();
  if (!chain.ok()) return fail(chain.error());
  json::Value report = {
      {"events", chain->events}, {"head", chain->head_hash}, {"chain_intact", chain->intact}};
  if (!chain->intact) {
    report["first_broken_event"] = *chain->first_broken;
    report["reason"] = chain->reason;
  }
  bool ok = chain->intact;
  if (!args.anchor.empty()) {
    if (args.anchor_key.empty()) {
      return fail(make_error(Errc::invalid_argument, "--anchor needs --anchor-key"));
    }
    auto key = load_public_key(args.anchor_key);
    if (!key.ok()) return fail(key.error());
    auto anchors = audit::verify_anchors(**store, args.anchor, *key);
    if (!anchors.ok())
      return fail(anchors.error().with_context("verifying against " + args.anchor));
    report["anchors"] = {{"checkpoints", anchors->checkpoints},
                         {"last_anchored_event", anchors->last_seq},
                         {"intact", anchors->intact}};
    if (!anchors->intact) {
      report["anchors"]["first_broken_event"] = *anchors->first_broken;
      report["anchors"]["reason"] = anchors->reason;
    }
    ok = ok && anchors->intact;
  }
  report["ok"] = ok;
  if (args.output == "json") {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf("events:  %lld, head %s\n", static_cast<long long>(chain->events),
                chain->head_hash.c_str());
    std::printf("chain:   %s\n", chain->intact
                                     ? "intact"
                                     : ("BROKEN at event " + std::to_string(*chain->first_broken) +
                                        ": " + chain->reason)
                                           .c_str());
    if (report.contains("anchors")) {
      const auto& a = report["anchors"];
      std::printf(
          "anchors: %zu checkpoints up to event %lld: %s\n", a["checkpoints"].get<std::size_t>(),
          static_cast<long long>(a["last_anchored_event"].get<std::int64_t>()),
          a["intact"].get<bool>() ? "match"
                                  : ("MISMATCH at event " +
                                     std::to_string(a["first_broken_event"].get<std::int64_t>()) +
                                     ": " + a["reason"].get<std::string>())
                                        .c_str());
    }
  }
  if (!ok) {
    std::fprintf(stderr, "patchwave: audit verification failed: %s\n",
                 !chain->intact ? chain->reason.c_str()
                                : report["anchors"]["reason"].get<std::string>().c_str());
    return kExitFailed;
  }
  return kExitOk;
}

int run_export(const AuditArgs& args) {
  if (!args.store.given()) return export_remote(args);
  auto store = open_store(args.store, false);
  if (!store.ok()) return fail(store.error());
  auto events = (*store)->audit().read();
  if (!events.ok()) return fail(events.error());
  if (args.output == "jsonl") {
    for (const auto& event : *events) std::printf("%s\n", event.to_json().dump().c_str());
  } else {
    json::Value all = json::Value::array();
    for (const auto& event : *events) all.push_back(event.to_json());
    std::printf("%s\n", all.dump(2).c_str());
  }
  return kExitOk;
}

int run_checkpoint(const AuditArgs& args) {
  auto store = open_store(args.store, false);
  if (!store.ok()) return fail(store.error());
  auto key = crypto::PrivateKey::load(args.key);
  if (!key.ok()) return fail(key.error());
  auto made = audit::checkpoint(**store, *key, args.anchor);
  if (!made.ok()) return fail(made.error().with_context("audit checkpoint"));
  if (args.output == "json") {
    std::printf("%s\n", json::Value({{"seq", made->seq},
                                     {"head", made->head_hash},
                                     {"anchor_commit", made->anchor_commit},
                                     {"already_anchored", made->already_anchored}})
                            .dump(2)
                            .c_str());
  } else {
    std::printf("%s event %lld (head %s) in %s, commit %s\n",
                made->already_anchored ? "already anchored:" : "anchored:",
                static_cast<long long>(made->seq), made->head_hash.substr(0, 16).c_str(),
                args.anchor.c_str(), made->anchor_commit.substr(0, 12).c_str());
  }
  return kExitOk;
}

int run_note(const AuditArgs& args) {
  auto store = open_store(args.store, true);
  if (!store.ok()) return fail(store.error());
  auto event = (*store)->audit().append(
      {"operator:" + args.actor, "note", {{"message", args.message}}, "recorded"});
  if (!event.ok()) return fail(event.error());
  std::printf("event %lld: %s\n", static_cast<long long>(event->seq), event->hash.c_str());
  return kExitOk;
}

}  // namespace

void register_audit_commands(CLI::App& app, Action& action) {
  auto args = std::make_shared<AuditArgs>();
  auto* audit = app.add_subcommand("audit", "The tamper-evident audit log of the controller.");
  audit->require_subcommand(1);

  auto* verify = audit->add_subcommand(
      "verify",
      "Check the whole hash chain of the audit log and name the first broken event; with\n"
      "--anchor, also check the database against the signed checkpoints anchored in a git\n"
      "repository, so that a history rewritten wholesale is caught. Exit 1 on any break.");
  add_store_options(verify, args->store, false, "; without either, ask the controller");
  add_client_options(verify, args->client, false);
  verify->add_option("--anchor", args->anchor, "Anchor repository: PATH, file:///PATH[@REF]");
  verify->add_option("--anchor-key", args->anchor_key,
                     "The controller's public key (JSON) that signs checkpoints");
  verify->add_option("--output", args->output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  verify->footer(
      "Example:\n"
      "  patchwave audit verify --db /var/lib/patchwave/store.db \\\n"
      "    --anchor file:///srv/audit-anchor --anchor-key controller.pub.json\n");
  verify->callback([&action, args] { action = [args] { return run_verify(*args); }; });

  auto export_args = std::make_shared<AuditArgs>();
  export_args->output = "json";
  auto* exp = audit->add_subcommand("export", "Print every audit event, for archiving.");
  add_store_options(exp, export_args->store, false, "; without either, ask the controller");
  add_client_options(exp, export_args->client, false);
  exp->add_option("--output", export_args->output,
                  "json (an array, the default) or jsonl (one event per line)")
      ->check(CLI::IsMember({"json", "jsonl"}));
  exp->footer("Example:\n  patchwave audit export --db store.db --output jsonl > audit.jsonl\n");
  exp->callback(
      [&action, export_args] { action = [export_args] { return run_export(*export_args); }; });

  auto* cp = audit->add_subcommand(
      "checkpoint",
      "Sign the current head of the audit chain with the controller key and commit it to\n"
      "the anchor git repository (created if missing). The controller does this on its own\n"
      "timer; this command does it now.");
  add_store_options(cp, args->store, true);
  cp->add_option("--key", args->key, "The controller's private key (0600)")->required();
  cp->add_option("--anchor", args->anchor, "Anchor repository directory")->required();
  cp->add_option("--output", args->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cp->footer(
      "Example:\n  patchwave audit checkpoint --db store.db --key controller.key --anchor "
      "/srv/audit-anchor\n");
  cp->callback([&action, args] { action = [args] { return run_checkpoint(*args); }; });

  auto* note = audit->add_subcommand(
      "note", "Record an operator's note in the audit log (e.g. an incident declared).");
  add_store_options(note, args->store, true);
  note->add_option("--actor", args->actor, "Who writes the note")->required();
  note->add_option("--message", args->message, "The note")->required();
  note->footer(
      "Example:\n  patchwave audit note --db store.db --actor alice --message 'CVE-2026-1234 "
      "declared'\n");
  note->callback([&action, args] { action = [args] { return run_note(*args); }; });
}

}  // namespace pw::cli
