#include "agents/agent_cli.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "agents/daemon/config.hpp"
#include "agents/daemon/daemon.hpp"
#include "common/staging/staging.hpp"
#include "common/trust/bundle.hpp"

namespace pw::agent {
namespace {

struct UnpackArgs {
  std::string artifact, into, sha256, metadata, target, root, output = "text";
};

int fail(const Error& error) {
  std::fprintf(stderr, "patchwave-agent: error: %s\n", error.to_string().c_str());
  return 1;
}

Result<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, path + ": cannot open");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (bytes.str().size() > trust::kMaxRootBytes) {
    return make_error(Errc::limit, path + ": larger than a root may be");
  }
  return bytes.str();
}

// The expected length and hashes: from signed metadata (verified against the pinned
// root) or from a sha256 the operator typed.
Result<staging::Expected> expected_from(const UnpackArgs& args, archive::Limits& limits) {
  staging::Expected expected;
  if (!args.sha256.empty()) {
    expected.hashes["sha256"] = args.sha256;
    return expected;
  }
  PW_TRY_ASSIGN(std::string pinned, read_small_file(args.root));
  PW_TRY_ASSIGN(trust::MetadataBundle bundle, trust::MetadataBundle::from_directory(args.metadata));
  auto store = trust::memory_store();
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  PW_TRY_ASSIGN(trust::Client client, trust::Client::create(pinned, *store, {now}));
  PW_TRY(client.refresh(bundle));
  PW_TRY_ASSIGN(auto target, client.find_target(args.target));
  PW_TRY_ASSIGN(limits, archive::limits_from_custom(target.info.custom, limits));
  expected.length = target.info.length;
  expected.hashes = target.info.hashes;
  return expected;
}

int unpack(const UnpackArgs& args) {
  bool by_hash = !args.sha256.empty();
  bool by_metadata = !args.metadata.empty();
  if (by_hash == by_metadata) {
    return fail(
        make_error(Errc::invalid_argument,
                   "give either --sha256 HEX or --metadata REPO --target NAME --root ROOT"));
  }
  if (by_metadata && (args.target.empty() || args.root.empty())) {
    return fail(make_error(Errc::invalid_argument, "--metadata needs --target and --root"));
  }
  archive::Limits limits;
  auto expected = expected_from(args, limits);
  if (!expected.ok()) return fail(expected.error().with_context("unpack " + args.artifact));
  auto staged = staging::stage_file(args.artifact, *expected, args.into, limits);
  if (!staged.ok()) return fail(staged.error().with_context("unpack " + args.artifact));
  if (args.output == "json") {
    json::Value out = {{"path", staged->path},
                       {"sha256", staged->sha256},
                       {"already_staged", staged->already_staged},
                       {"files", staged->files},
                       {"bytes", staged->bytes}};
    std::printf("%s\n", out.dump().c_str());
  } else if (staged->already_staged) {
    std::printf("already staged: %s\n", staged->path.c_str());
  } else {
    std::printf("staged %s (%llu files, %llu bytes)\n", staged->path.c_str(),
                static_cast<unsigned long long>(staged->files),
                static_cast<unsigned long long>(staged->bytes));
  }
  return 0;
}

struct RunArgs {
  std::string config;
  std::map<std::string, std::string> overrides;  // setting -> value, from flags
};

int run(const RunArgs& args) {
  auto config = load_config(args.config, [](const char* name) { return std::getenv(name); });
  if (!config.ok()) return fail(config.error());
  for (const auto& [key, value] : args.overrides) {
    if (auto status = set_config_value(*config, key, value); !status.ok()) {
      return fail(status.error().with_context("--" + key));
    }
  }
  if (auto valid = validate(*config); !valid.ok()) {
    return fail(valid.error().with_context(args.config.empty() ? "configuration" : args.config));
  }
  return run_daemon(*config);
}

void add_run_command(CLI::App& app, RunArgs& args, int& code) {
  auto* cmd = app.add_subcommand(
      "run",
      "Run the agent: enroll with the controller on the first start (a key made here, a\n"
      "certificate from the controller's CA for a one-time token), then serve the agent API\n"
      "over mutual TLS: stage verified releases, start/stop the service, report health.");
  cmd->add_option("--config", args.config, "JSON configuration file");
  static const char* const flags[][2] = {
      {"name", "Agent name (its certificate's common name)"},
      {"state-dir", "State directory: key, certificate, trusted metadata, releases, logs"},
      {"listen", "ADDRESS:PORT of the agent API"},
      {"controller-url", "https://HOST:PORT of the controller"},
      {"controller-ca", "PEM file of the controller's CA"},
      {"controller-name", "Name in the controller's client certificate"},
      {"pinned-root", "root.json to trust (shipped with the agent)"},
      {"enrollment-token-file", "File holding the one-time enrollment token"},
      {"log-format", "text or json"},
  };
  for (const auto& flag : flags) {
    std::string key = flag[0];
    for (auto& c : key) c = c == '-' ? '_' : c;
    cmd->add_option_function<std::string>(
        std::string("--") + flag[0],
        [&args, key](const std::string& value) { args.overrides[key] = value; }, flag[1]);
  }
  cmd->footer(
      "Settings come from the file, then PATCHWAVE_AGENT_<SETTING> environment variables\n"
      "(e.g. PATCHWAVE_AGENT_ENROLLMENT_TOKEN), then these flags. Stops on SIGTERM/SIGINT.\n"
      "Example:\n"
      "  patchwave-agent run --config /etc/patchwave/agent.json\n");
  cmd->callback([&] { code = run(args); });
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"patchwave-agent: stages verified releases on a server and runs them.",
               "patchwave-agent"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 success, 1 the operation failed or verification refused, 2 bad usage.");
  auto args = std::make_shared<UnpackArgs>();
  auto* cmd = app.add_subcommand(
      "unpack",
      "Verify ARTIFACT (length and hashes from signed metadata checked against the pinned root,\n"
      "or a sha256 you give) and only then extract it, refusing anything a hostile archive\n"
      "could do, into DIR/<sha256>/ atomically. The agent's own staging code path.");
  cmd->add_option("ARTIFACT", args->artifact, "The release tarball")->required();
  cmd->add_option("--into", args->into, "Releases directory")->required();
  cmd->add_option("--sha256", args->sha256, "Expected sha256 (hex) of ARTIFACT");
  cmd->add_option("--metadata", args->metadata,
                  "Repository directory with metadata/ to verify against");
  cmd->add_option("--target", args->target, "Target name in that metadata");
  cmd->add_option("--root", args->root, "Pinned root.json");
  cmd->add_option("--output", args->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->footer(
      "Examples:\n"
      "  patchwave-agent unpack demo-1.0.1.tar.gz --into /srv/releases --sha256 5891b5b5...\n"
      "  patchwave-agent unpack demo-1.0.1.tar.gz --into /srv/releases --metadata manifests \\\n"
      "    --target demo-service/1.0.1/demo-1.0.1.tar.gz --root root.json\n");
  int code = 0;
  cmd->callback([&] { code = unpack(*args); });
  RunArgs run_args;
  add_run_command(app, run_args, code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int exit = app.exit(e);
    return exit == 0 ? 0 : 2;
  }
  return code;
}

}  // namespace pw::agent
