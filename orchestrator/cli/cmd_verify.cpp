// patchwave verify
#include <CLI/CLI.hpp>

#include <cstdio>

#include "common/crypto/hash.hpp"
#include "common/release_description/release_description.hpp"
#include "common/trust/client.hpp"
#include "orchestrator/cli/cli.hpp"
#include "orchestrator/source/source.hpp"
#include "orchestrator/source/trust_source.hpp"

namespace pw::cli {
namespace {

struct VerifyArgs {
  std::string repo, root, target, state, output = "text";
};

json::Value role_json(const trust::Envelope& envelope) {
  return {{"version", envelope.version}, {"expires", trust::format_time(envelope.expires)}};
}

Result<std::string> read_root(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return make_error(Errc::not_found, path + ": cannot open the trusted root");
  std::string bytes;
  char buffer[65536];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    bytes.append(buffer, n);
    if (bytes.size() > trust::kMaxRootBytes) {
      std::fclose(f);
      return make_error(Errc::limit,
                        path + ": larger than " + std::to_string(trust::kMaxRootBytes) + " bytes");
    }
  }
  std::fclose(f);
  return bytes;
}

// Runs the whole workflow; fills `report` as far as it got.
Status verify(const VerifyArgs& args, json::Value& report) {
  PW_TRY_ASSIGN(std::string pinned, read_root(args.root));
  PW_TRY_ASSIGN(auto reader, source::open_reader(args.repo));
  report["repository"] = reader->description();
  if (!reader->revision().empty()) report["commit"] = reader->revision();
  auto store = args.state.empty() ? trust::memory_store() : trust::directory_store(args.state);
  PW_TRY_ASSIGN(trust::Client client, trust::Client::create(pinned, *store, {now()}));
  source::TrustSource source(*reader);
  Status refreshed = client.refresh(source);
  report["root"] = role_json(client.root().envelope);
  report["root"]["rotated_through"] = client.rotated_roots();
  if (!refreshed.ok()) return refreshed;
  report["timestamp"] = role_json(client.timestamp()->envelope);
  report["snapshot"] = role_json(client.snapshot()->envelope);
  report["targets"] = role_json(client.targets()->envelope);
  report["targets"]["count"] = client.targets()->targets.size();
  if (client.targets()->has_delegations) {
    report["warnings"].push_back("delegated targets roles are not followed");
  }
  if (!args.target.empty()) {
    PW_TRY_ASSIGN(auto target, client.verify_target(source, args.target));
    json::Value t = {
        {"name", target.path}, {"length", target.info.length}, {"hashes", target.info.hashes}};
    PW_TRY_ASSIGN(auto release, release::from_custom(target.info.custom, target.path));
    if (release) t["release"] = release::to_json(*release);
    report["target"] = t;
  }
  return Ok{};
}

void print_text(const json::Value& r) {
  std::printf("repository: %s\n", r.value("repository", "?").c_str());
  if (r.contains("root")) {
    std::printf("root:       version %llu, expires %s",
                static_cast<unsigned long long>(r["root"]["version"].get<std::uint64_t>()),
                r["root"]["expires"].get<std::string>().c_str());
    if (!r["root"]["rotated_through"].empty()) {
      std::printf(" (rotated through %s)", r["root"]["rotated_through"].dump().c_str());
    }
    std::printf("\n");
  }
  for (const char* role : {"timestamp", "snapshot", "targets"}) {
    if (!r.contains(role)) continue;
    std::printf("%-11s version %llu, expires %s\n", (std::string(role) + ":").c_str(),
                static_cast<unsigned long long>(r[role]["version"].get<std::uint64_t>()),
                r[role]["expires"].get<std::string>().c_str());
  }
  if (r.contains("target")) {
    const auto& t = r["target"];
    std::printf("target:     %s, %llu bytes, sha256 %s\n", t["name"].get<std::string>().c_str(),
                static_cast<unsigned long long>(t["length"].get<std::uint64_t>()),
                t["hashes"].value("sha256", "-").c_str());
    if (t.contains("release")) {
      const auto& rel = t["release"];
      std::printf("release:    %s %s, %s", rel["app"].get<std::string>().c_str(),
                  rel["version"].get<std::string>().c_str(),
                  rel["urgency"].get<std::string>().c_str());
      for (const auto& cve : rel["cves"]) std::printf(", %s", cve.get<std::string>().c_str());
      std::printf("\n");
    }
  }
  if (r.value("ok", false)) std::printf("verified: OK\n");
}

int run_verify(const VerifyArgs& args) {
  json::Value report = json::Value::object();
  Status status = verify(args, report);
  report["ok"] = status.ok();
  if (!status.ok()) {
    report["error"] = {{"code", errc_name(status.error().code)},
                       {"message", status.error().to_string()}};
  }
  if (args.output == "json") {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    print_text(report);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "patchwave: verification failed: %s\n",
                 status.error().to_string().c_str());
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

void register_verify_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand(
      "verify",
      "Run the TUF client workflow against a manifests repository: follow the root chain from\n"
      "the trusted root, then verify timestamp, snapshot and targets (signature thresholds,\n"
      "versions, expiry, lengths and hashes), and optionally one target file. Exit 0 only\n"
      "when everything verifies.");
  cmd->add_option("--repo", args->repo,
                  "PATH, PATH@REF, file:///PATH or file:///PATH@REF (REF: branch, tag or commit)")
      ->required();
  cmd->add_option("--root", args->root, "The initially trusted root.json")->required();
  cmd->add_option("--target", args->target, "Also verify this target file");
  cmd->add_option("--state", args->state,
                  "Keep verified metadata here; later runs then refuse older metadata");
  cmd->add_option("--output", args->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->footer(
      "Example:\n"
      "  patchwave verify --repo file:///srv/manifests@main --root root.json \\\n"
      "    --target demo-service/1.0.1/demo-service-1.0.1.tar.gz --state /var/lib/patchwave/tuf\n");
  cmd->callback([&action, args] { action = [args] { return run_verify(*args); }; });
}

}  // namespace pw::cli
