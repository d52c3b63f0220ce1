#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "orchestrator/cli/cli.hpp"

namespace pw::cli {

int fail(const Error& error) {
  std::fprintf(stderr, "patchwave: error: %s\n", error.to_string().c_str());
  return kExitFailed;
}

Result<std::chrono::seconds> parse_duration(const std::string& text) {
  auto bad = [&] {
    return make_error(
        Errc::invalid_argument,
        "duration '" + text + "' is not a number followed by d, h, m or s (e.g. 90d)");
  };
  if (text.size() < 2) return bad();
  std::string number = text.substr(0, text.size() - 1);
  for (char c : number) {
    if (c < '0' || c > '9') return bad();
  }
  if (number.size() > 9) return bad();
  long long n = std::stoll(number);
  switch (text.back()) {
    case 'd':
      return std::chrono::seconds{n * 86400};
    case 'h':
      return std::chrono::seconds{n * 3600};
    case 'm':
      return std::chrono::seconds{n * 60};
    case 's':
      return std::chrono::seconds{n};
    default:
      return bad();
  }
}

trust::TimePoint now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

int run(int argc, char** argv) {
  CLI::App app{
      "patchwave: signed patch rollouts.\n"
      "Release engineers sign releases (TUF metadata with a threshold of keys) and publish\n"
      "them to a git repository of manifests; everything Patchwave deploys is verified\n"
      "against a pinned root of trust first.",
      "patchwave"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 success, 1 the operation failed or verification refused, 2 bad usage.\n"
      "Run `patchwave COMMAND --help` for each command.");
  app.set_version_flag("--version", "patchwave 0.1.0");

  Action action;
  register_key_commands(app, action);
  register_repo_commands(app, action);
  register_release_commands(app, action);
  register_verify_command(app, action);
  register_audit_commands(app, action);
  register_ca_commands(app, action);
  register_serve_command(app, action);
  register_client_commands(app, action);
  register_rollout_commands(app, action);
  register_approval_commands(app, action);
  register_login_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!action) {
    std::cerr << app.help();
    return kExitUsage;
  }
  return action();
}

}  // namespace pw::cli
