// The `patchwave` command tree. Each command group registers its subcommands on the
// CLI11 app and returns the action to run once parsing succeeded.
//
// Exit codes: 0 success; 1 the operation failed or verification refused something
// (the message says what and why); 2 the command line was wrong.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/archive/archive.hpp"
#include "common/errors/result.hpp"
#include "common/trust/metadata.hpp"

namespace CLI {
class App;
}

namespace pw::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// An action runs after parsing and returns an exit code.
using Action = std::function<int()>;
// Registers subcommands; sets `action` when one of them is chosen.
using Registrar = std::function<void(CLI::App& app, Action& action)>;

void register_key_commands(CLI::App& app, Action& action);
void register_repo_commands(CLI::App& app, Action& action);
void register_release_commands(CLI::App& app, Action& action);
void register_verify_command(CLI::App& app, Action& action);
void register_audit_commands(CLI::App& app, Action& action);
void register_ca_commands(CLI::App& app, Action& action);
void register_serve_command(CLI::App& app, Action& action);
void register_client_commands(CLI::App& app, Action& action);
void register_rollout_commands(CLI::App& app, Action& action);
void register_approval_commands(CLI::App& app, Action& action);
void register_login_command(CLI::App& app, Action& action);
void register_inspect_command(CLI::App& release, Action& action);  // under `release`

int run(int argc, char** argv);

// Shared helpers for commands.
int fail(const Error& error);  // prints "patchwave: error: ..." to stderr, returns 1
Result<std::chrono::seconds> parse_duration(const std::string& text);  // "90d", "12h", "30m", "45s"
trust::TimePoint now();
// "--archive-limit NAME=NUMBER" options -> limits (defaults for the rest).
Result<archive::Limits> parse_archive_limits(const std::vector<std::string>& pairs);

}  // namespace pw::cli
