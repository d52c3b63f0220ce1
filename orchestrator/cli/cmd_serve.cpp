// patchwave serve
#include <CLI/CLI.hpp>

#include "orchestrator/cli/cli.hpp"
#include "orchestrator/controller/config.hpp"
#include "orchestrator/controller/controller.hpp"

namespace pw::cli {

void register_serve_command(CLI::App& app, Action& action) {
  struct Args {
    std::string config, log_format = "text";
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the controller: sync and verify the manifests repository on a timer, enroll\n"
      "agents (one-time tokens, its own CA), serve verified artifacts to agents and the\n"
      "operator API over mutual TLS, and checkpoint the audit log into its anchor\n"
      "repository. Stops on SIGTERM/SIGINT.");
  cmd->add_option("--config", args->config, "controller.yaml")->required();
  cmd->add_option("--log-format", args->log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->footer("Example:\n  patchwave serve --config /etc/patchwave/controller.yaml\n");
  cmd->callback([&action, args] {
    action = [args] {
      auto config = controller::load_config(args->config);
      if (!config.ok()) return fail(config.error());
      return controller::run_serve(*config, args->log_format);
    };
  });
}

}  // namespace pw::cli
