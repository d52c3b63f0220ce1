// patchwave release add | sign | publish | countersign
#include <CLI/CLI.hpp>

#include <cstdio>
#include <sstream>

#include "orchestrator/cli/cli.hpp"
#include "orchestrator/release/authoring.hpp"

namespace pw::cli {
namespace {

struct AddArgs {
  std::string dir, artifact, name, app, version, urgency = "routine", run, health;
  std::vector<std::string> cves, env, archive_limits;
  std::string health_interval = "1s", health_timeout = "1s", expires = "90d";
  std::uint64_t health_successes = 3;
  bool sha512 = false;
  std::string output = "text";
};

struct SignArgs {
  std::string dir, key;
};

struct CountersignArgs {
  std::string dir, key, target;
  std::string output = "text";
};

struct PublishArgs {
  std::string dir, message;
  std::vector<std::string> snapshot_keys, timestamp_keys;
  std::string snapshot_expires = "7d", timestamp_expires = "1d";
  std::string output = "text";
};

Result<std::vector<std::string>> parse_argv(const std::string& text) {
  if (!text.empty() && text[0] == '[') {
    PW_TRY_ASSIGN(json::Value v, json::parse(text));
    std::vector<std::string> argv;
    for (const auto& item : v) {
      if (!item.is_string())
        return make_error(Errc::parse, "--run: expected a JSON array of strings");
      argv.push_back(item.get<std::string>());
    }
    return argv;
  }
  std::istringstream words(text);
  std::vector<std::string> argv;
  for (std::string word; words >> word;) argv.push_back(word);
  return argv;
}

Result<std::uint64_t> millis(const std::string& text, const char* option) {
  auto d = parse_duration(text);
  if (!d.ok()) return std::move(d).error().with_context(option);
  return static_cast<std::uint64_t>(d->count()) * 1000;
}

Result<release::ReleaseDescription> describe(const AddArgs& args) {
  release::ReleaseDescription r;
  json::Value doc = {
      {"app", args.app}, {"version", args.version}, {"cves", args.cves}, {"urgency", args.urgency}};
  PW_TRY_ASSIGN(auto argv, parse_argv(args.run));
  json::Value env = json::Value::object();
  for (const auto& pair : args.env) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(Errc::invalid_argument, "--env '" + pair + "' is not NAME=VALUE");
    }
    env[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  doc["run"] = {{"argv", argv}, {"env", env}};
  PW_TRY_ASSIGN(auto health, release::parse_health_shorthand(args.health));
  PW_TRY_ASSIGN(health.interval_ms, millis(args.health_interval, "--health-interval"));
  PW_TRY_ASSIGN(health.timeout_ms, millis(args.health_timeout, "--health-timeout"));
  health.successes = args.health_successes;
  // Round-trip through the validating reader, so the CLI enforces the same rules a
  // verifier does.
  r.health = health;
  doc["health"] = release::to_json(r)["health"];
  return release::from_json(doc, "release description");
}

int add(const AddArgs& args) {
  authoring::AddOptions options;
  options.artifact = args.artifact;
  options.with_sha512 = args.sha512;
  if (!args.archive_limits.empty()) {
    auto limits = parse_archive_limits(args.archive_limits);  // validates names and values
    if (!limits.ok()) return fail(limits.error());
    options.archive_limits = json::Value::object();
    for (const auto& pair : args.archive_limits) {
      auto eq = pair.find('=');
      options.archive_limits[pair.substr(0, eq)] = std::stoull(pair.substr(eq + 1));
    }
  }
  if (!args.name.empty()) options.name = args.name;
  bool is_release = !args.app.empty() || !args.version.empty();
  if (is_release) {
    auto r = describe(args);
    if (!r.ok()) return fail(r.error());
    options.release = *r;
  }
  auto expires = parse_duration(args.expires);
  if (!expires.ok()) return fail(expires.error().with_context("--expires"));
  options.expires_in = *expires;
  options.now = now();
  auto added = authoring::add_target(args.dir, options);
  if (!added.ok()) return fail(added.error().with_context("release add"));
  if (args.output == "json") {
    json::Value out = {{"target", added->name},
                       {"length", added->file.length},
                       {"hashes", added->file.hashes},
                       {"targets_version", added->targets_version}};
    if (options.release) out["release"] = release::to_json(*options.release);
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("added target %s (%llu bytes, sha256 %s) to staged targets version %llu\n",
                added->name.c_str(), static_cast<unsigned long long>(added->file.length),
                added->file.hashes.at("sha256").c_str(),
                static_cast<unsigned long long>(added->targets_version));
    std::printf("next: targets key holders run `patchwave release sign %s --key KEY`\n",
                args.dir.c_str());
  }
  return kExitOk;
}

int sign(const SignArgs& args) {
  auto key = crypto::PrivateKey::load(args.key);
  if (!key.ok()) return fail(key.error());
  auto signed_docs = authoring::sign_staged(args.dir, *key);
  if (!signed_docs.ok()) return fail(signed_docs.error().with_context("release sign"));
  for (const auto& doc : *signed_docs) {
    std::printf("signed %s with key %s: %zu of %llu signatures", doc.document.c_str(),
                key->public_key().keyid().substr(0, 16).c_str(), doc.valid,
                static_cast<unsigned long long>(doc.threshold));
    if (!doc.note.empty()) std::printf(" (%s)", doc.note.c_str());
    std::printf("\n");
  }
  return kExitOk;
}

Result<std::vector<crypto::PrivateKey>> load_keys(const std::vector<std::string>& paths) {
  std::vector<crypto::PrivateKey> keys;
  for (const auto& path : paths) {
    PW_TRY_ASSIGN(auto key, crypto::PrivateKey::load(path));
    keys.push_back(std::move(key));
  }
  return keys;
}

int publish(const PublishArgs& args) {
  authoring::PublishOptions options;
  auto snapshot_keys = load_keys(args.snapshot_keys);
  if (!snapshot_keys.ok()) return fail(snapshot_keys.error().with_context("--snapshot-key"));
  auto timestamp_keys = load_keys(args.timestamp_keys);
  if (!timestamp_keys.ok()) return fail(timestamp_keys.error().with_context("--timestamp-key"));
  options.snapshot_keys = *snapshot_keys;
  options.timestamp_keys = *timestamp_keys;
  auto snapshot_expires = parse_duration(args.snapshot_expires);
  if (!snapshot_expires.ok())
    return fail(snapshot_expires.error().with_context("--snapshot-expires"));
  auto timestamp_expires = parse_duration(args.timestamp_expires);
  if (!timestamp_expires.ok()) {
    return fail(timestamp_expires.error().with_context("--timestamp-expires"));
  }
  options.snapshot_expires_in = *snapshot_expires;
  options.timestamp_expires_in = *timestamp_expires;
  options.message = args.message;
  options.now = now();
  auto published = authoring::publish(args.dir, options);
  if (!published.ok()) return fail(published.error().with_context("release publish"));
  if (args.output == "json") {
    json::Value out = {{"root_version", published->root_version},
                       {"targets_version", published->targets_version},
                       {"snapshot_version", published->snapshot_version},
                       {"timestamp_version", published->timestamp_version},
                       {"new_targets", published->new_targets},
                       {"commit", published->commit}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "published root v%llu, targets v%llu, snapshot v%llu, timestamp v%llu as commit %s\n",
        static_cast<unsigned long long>(published->root_version),
        static_cast<unsigned long long>(published->targets_version),
        static_cast<unsigned long long>(published->snapshot_version),
        static_cast<unsigned long long>(published->timestamp_version), published->commit.c_str());
    for (const auto& name : published->new_targets) std::printf("  new target: %s\n", name.c_str());
  }
  return kExitOk;
}

int countersign(const CountersignArgs& args) {
  auto key = crypto::PrivateKey::load(args.key);
  if (!key.ok()) return fail(key.error().with_context("--key"));
  authoring::CountersignOptions options;
  if (!args.target.empty()) options.target = args.target;
  options.now = now();
  auto done = authoring::countersign_release(args.dir, *key, options);
  if (!done.ok()) return fail(done.error().with_context("release countersign"));
  if (args.output == "json") {
    json::Value out = {{"target", done->target}, {"sha256", done->sha256},
                       {"file", done->file},     {"signatures", done->signatures},
                       {"keyids", done->keyids}, {"commit", done->commit}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("countersigned emergency release %s (sha256 %s) with key %s\n",
                done->target.c_str(), done->sha256.c_str(),
                key->public_key().keyid().substr(0, 16).c_str());
    std::printf("%s now has %zu signature%s; committed as %s\n", done->file.c_str(),
                done->signatures, done->signatures == 1 ? "" : "s", done->commit.c_str());
  }
  return kExitOk;
}

}  // namespace

void register_release_commands(CLI::App& app, Action& action) {
  auto* rel = app.add_subcommand("release", "Describe, sign and publish releases");
  rel->require_subcommand(1);

  auto a = std::make_shared<AddArgs>();
  auto* add_cmd = rel->add_subcommand(
      "add",
      "Copy ARTIFACT into the repository as a target (length, sha256) with its release\n"
      "description, and stage a new targets version for signing. Without --app/--version the\n"
      "target is a plain TUF target (it needs --name) that cannot be rolled out.");
  add_cmd->add_option("DIR", a->dir, "Repository directory")->required();
  add_cmd->add_option("ARTIFACT", a->artifact, "The release tarball")->required();
  add_cmd->add_option("--app", a->app, "Application name ([a-z0-9][a-z0-9._-]*)");
  add_cmd->add_option("--version", a->version, "Semantic version, e.g. 1.0.1");
  add_cmd->add_option("--cve", a->cves, "CVE fixed by this release; repeat for each");
  add_cmd->add_option("--urgency", a->urgency, "routine (default) or emergency")
      ->check(CLI::IsMember({"routine", "emergency"}));
  add_cmd->add_option("--run", a->run,
                      "How to start the service: 'bin/app --port 8080' or a JSON array");
  add_cmd->add_option("--env", a->env, "Environment of the service, NAME=VALUE; repeat");
  add_cmd->add_option("--health", a->health, "http:PORT/PATH, tcp:PORT or command:ARGV");
  add_cmd->add_option("--health-interval", a->health_interval, "Between checks (default 1s)");
  add_cmd->add_option("--health-timeout", a->health_timeout, "Per check (default 1s)");
  add_cmd->add_option("--health-successes", a->health_successes,
                      "Passes in a row before healthy (default 3)");
  add_cmd->add_option("--archive-limit", a->archive_limits,
                      "Per-release unpack limit agents apply, NAME=NUMBER (see `release inspect`)");
  add_cmd->add_flag("--sha512", a->sha512, "Also list a sha512 hash (sha256 is always listed)");
  add_cmd->add_option("--name", a->name, "Target path (default APP/VERSION/FILENAME)");
  add_cmd->add_option("--expires", a->expires, "Lifetime of the targets metadata (default 90d)");
  add_cmd->add_option("--output", a->output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  add_cmd->footer(
      "Example:\n"
      "  patchwave release add manifests dist/demo-service-1.0.1.tar.gz --app demo-service \\\n"
      "    --version 1.0.1 --cve CVE-2026-12345 --urgency emergency \\\n"
      "    --run 'bin/demo-service --port 8080' --health http:8080/healthz\n");
  add_cmd->callback([&action, a] {
    action = [a] {
      bool is_release = !a->app.empty() || !a->version.empty();
      if (is_release &&
          (a->app.empty() || a->version.empty() || a->run.empty() || a->health.empty())) {
        return fail(make_error(Errc::invalid_argument,
                               "a release needs --app, --version, --run and --health"));
      }
      return add(*a);
    };
  });

  register_inspect_command(*rel, action);

  auto s = std::make_shared<SignArgs>();
  auto* sign_cmd = rel->add_subcommand(
      "sign",
      "Add one signature with KEY to every staged document that key may sign (targets, and a\n"
      "staged root). A 2-of-3 threshold is met when two key holders each run this.");
  sign_cmd->add_option("DIR", s->dir, "Repository directory")->required();
  sign_cmd->add_option("--key", s->key, "Private key file (mode 0600)")->required();
  sign_cmd->footer("Example:\n  patchwave release sign manifests --key keys/release-alice\n");
  sign_cmd->callback([&action, s] { action = [s] { return sign(*s); }; });

  auto c = std::make_shared<CountersignArgs>();
  auto* cs_cmd = rel->add_subcommand(
      "countersign",
      "Countersign an emergency release as a security officer: add KEY's signature to\n"
      "DIR/countersignatures/TARGET.json (started by the first officer) and commit it. The\n"
      "controller lets a release take the emergency path only with the security officers'\n"
      "threshold of valid countersignatures for exactly its target name and sha256; each\n"
      "officer runs this once. The target must be a release with urgency emergency in the\n"
      "staged or published targets.json, which also gives its sha256. See\n"
      "manifests/approvals.md.");
  cs_cmd->add_option("DIR", c->dir, "Repository directory")->required();
  cs_cmd->add_option("--key", c->key, "Your private key file (mode 0600)")->required();
  cs_cmd->add_option("--target", c->target,
                     "Target name (default: the one emergency release KEY has not countersigned)");
  cs_cmd->add_option("--output", c->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cs_cmd->footer(
      "Example:\n"
      "  patchwave release countersign manifests --key keys/officer-dana \\\n"
      "    --target demo-service/1.0.1/demo-service-1.0.1.tar.gz\n");
  cs_cmd->callback([&action, c] { action = [c] { return countersign(*c); }; });

  auto p = std::make_shared<PublishArgs>();
  auto* pub_cmd = rel->add_subcommand(
      "publish",
      "Check that every staged document has its signatures, write new snapshot and timestamp\n"
      "versions signed with the online keys, verify the result as a client would, and commit\n"
      "it to the repository's git history.");
  pub_cmd->add_option("DIR", p->dir, "Repository directory")->required();
  pub_cmd->add_option("--snapshot-key", p->snapshot_keys, "Snapshot private key; repeat")
      ->required();
  pub_cmd->add_option("--timestamp-key", p->timestamp_keys, "Timestamp private key; repeat")
      ->required();
  pub_cmd->add_option("--snapshot-expires", p->snapshot_expires, "Default 7d");
  pub_cmd->add_option("--timestamp-expires", p->timestamp_expires, "Default 1d");
  pub_cmd->add_option("-m,--message", p->message, "Extra text for the commit message");
  pub_cmd->add_option("--output", p->output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  pub_cmd->footer(
      "Example:\n"
      "  patchwave release publish manifests --snapshot-key keys/online --timestamp-key "
      "keys/online\n");
  pub_cmd->callback([&action, p] { action = [p] { return publish(*p); }; });
}

}  // namespace pw::cli
