// `patchwave login`: a dashboard session for your operator certificate. The controller
// signs a short-lived token bound to the certificate and its role (dashboard.hpp); the
// printed link exchanges it for a cookie in the browser. The dashboard is read-only.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "orchestrator/cli/cli.hpp"
#include "orchestrator/cli/client.hpp"

namespace pw::cli {
namespace {

struct LoginArgs : ClientArgs {
  std::string ttl = "8h";
};

int login(LoginArgs args) {
  auto ttl = parse_duration(args.ttl);
  if (!ttl.ok() || ttl->count() < 1 || ttl->count() > 24 * 3600) {
    std::fprintf(stderr, "patchwave: error: --ttl '%s': must be a duration from 1s to 24h\n",
                 args.ttl.c_str());
    return kExitUsage;
  }
  json::Value body = {{"ttl_seconds", ttl->count()}};
  auto answer = call_controller(args, "POST", "/v1/session", body.dump());
  if (!answer.ok()) return fail(answer.error());
  auto resolved = resolve_client_args(args);
  std::string base = resolved.ok() ? args.controller : std::string();
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + answer->value("login_path", "");
  if (args.output == "json") {
    json::Value out = {{"operator", (*answer)["operator"]},
                       {"role", (*answer)["role"]},
                       {"expires_at", (*answer)["expires_at"]},
                       {"token", (*answer)["token"]},
                       {"url", url}};
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf(
      "Dashboard session for %s (%s), read-only, until %s.\n"
      "Open this link in your browser (it signs you in; keep it to yourself):\n  %s\n",
      answer->value("operator", "").c_str(), answer->value("role", "").c_str(),
      answer->value("expires_at", "").c_str(), url.c_str());
  return kExitOk;
}

}  // namespace

void register_login_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<LoginArgs>();
  auto* cmd = app.add_subcommand(
      "login",
      "A dashboard session: a link that signs your browser in to the controller's\n"
      "read-only dashboard (/ui/) as the operator of your certificate, for --ttl.");
  add_client_options(cmd, *args);
  cmd->add_option("--ttl", args->ttl, "How long the session lasts: 1s to 24h (default 8h)");
  cmd->footer(
      "The session never outlives your certificate. Signing out (or the expiry) ends it\n"
      "in that browser; deleting <state>/keys/ui-session and restarting the controller\n"
      "ends every session.\n"
      "Example:\n  patchwave login --ttl 2h\n");
  cmd->callback([&action, args] { action = [args] { return login(*args); }; });
}

}  // namespace pw::cli
