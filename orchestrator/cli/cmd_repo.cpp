// patchwave repo init, patchwave root rotate
#include <CLI/CLI.hpp>

#include <cstdio>

#include "orchestrator/cli/cli.hpp"
#include "orchestrator/release/authoring.hpp"

namespace pw::cli {
namespace {

struct RoleArgs {
  std::vector<std::string> keys;
  std::uint64_t threshold = 0;  // 0: not given
};

struct RepoArgs {
  std::string dir;
  std::map<trust::Role, RoleArgs> roles;
  bool consistent_snapshot = false;
  std::string root_expires = "365d";
  std::string targets_expires = "90d";
};

const trust::Role kRoles[] = {trust::Role::root, trust::Role::targets, trust::Role::snapshot,
                              trust::Role::timestamp};

void add_role_options(CLI::App* cmd, RepoArgs& args) {
  for (trust::Role role : kRoles) {
    std::string name = trust::role_name(role);
    auto& role_args = args.roles[role];
    cmd->add_option("--" + name + "-key", role_args.keys,
                    "Public key file (NAME.pub) of a " + name + " key; repeat for each key");
    cmd->add_option("--" + name + "-threshold", role_args.threshold,
                    "Signatures of distinct " + name + " keys required (default 1)");
  }
}

// Loads the key files of the roles that were given on the command line.
Result<std::map<trust::Role, authoring::RoleSetup>> load_roles(const RepoArgs& args,
                                                               bool all_required) {
  std::map<trust::Role, authoring::RoleSetup> roles;
  for (const auto& [role, role_args] : args.roles) {
    std::string option = std::string("--") + trust::role_name(role) + "-key";
    if (role_args.keys.empty()) {
      if (role_args.threshold != 0) {
        return make_error(Errc::invalid_argument, std::string("--") + trust::role_name(role) +
                                                      "-threshold needs " + option);
      }
      if (all_required) return make_error(Errc::invalid_argument, option + " is required");
      continue;
    }
    authoring::RoleSetup setup;
    setup.threshold = role_args.threshold == 0 ? 1 : role_args.threshold;
    for (const auto& path : role_args.keys) {
      PW_TRY_ASSIGN(auto key, authoring::load_public_key(path));
      setup.keys.push_back(std::move(key));
    }
    roles[role] = std::move(setup);
  }
  return roles;
}

int init(const RepoArgs& args) {
  authoring::InitOptions options;
  auto roles = load_roles(args, true);
  if (!roles.ok()) return fail(roles.error());
  options.roles = *roles;
  options.consistent_snapshot = args.consistent_snapshot;
  auto root_expires = parse_duration(args.root_expires);
  if (!root_expires.ok()) return fail(root_expires.error().with_context("--root-expires"));
  auto targets_expires = parse_duration(args.targets_expires);
  if (!targets_expires.ok()) return fail(targets_expires.error().with_context("--targets-expires"));
  options.root_expires_in = *root_expires;
  options.targets_expires_in = *targets_expires;
  options.now = now();
  auto status = authoring::init_repository(args.dir, options);
  if (!status.ok()) return fail(status.error().with_context("repo init " + args.dir));
  std::printf("initialised %s: root version 1 and targets version 1 are staged.\n",
              args.dir.c_str());
  std::printf(
      "next: each root and targets key holder runs `patchwave release sign %s --key KEY`,\n"
      "then `patchwave release publish %s --snapshot-key K --timestamp-key K`.\n",
      args.dir.c_str(), args.dir.c_str());
  return kExitOk;
}

int rotate(const RepoArgs& args) {
  authoring::RotateOptions options;
  auto roles = load_roles(args, false);
  if (!roles.ok()) return fail(roles.error());
  if (roles->empty()) {
    return fail(make_error(Errc::invalid_argument,
                           "give the new keys of at least one role (e.g. --root-key)"));
  }
  options.roles = *roles;
  auto root_expires = parse_duration(args.root_expires);
  if (!root_expires.ok()) return fail(root_expires.error().with_context("--root-expires"));
  options.root_expires_in = *root_expires;
  auto targets_expires = parse_duration(args.targets_expires);
  if (!targets_expires.ok()) return fail(targets_expires.error().with_context("--targets-expires"));
  options.targets_expires_in = *targets_expires;
  options.now = now();
  auto version = authoring::rotate_root(args.dir, options);
  if (!version.ok()) return fail(version.error().with_context("root rotate " + args.dir));
  std::printf(
      "root version %llu staged. It needs the signatures of a threshold of the current\n"
      "root keys and of the new root keys (`patchwave release sign %s --key KEY`),\n"
      "then `patchwave release publish`.\n",
      static_cast<unsigned long long>(*version), args.dir.c_str());
  return kExitOk;
}

}  // namespace

void register_repo_commands(CLI::App& app, Action& action) {
  auto* repo = app.add_subcommand("repo", "Create a signed manifests repository");
  repo->require_subcommand(1);
  auto init_args = std::make_shared<RepoArgs>();
  auto* init_cmd = repo->add_subcommand(
      "init",
      "Create a manifests repository (a git work tree) in DIR with root version 1 naming the\n"
      "keys and thresholds of the roles root, targets, snapshot and timestamp. Root and an\n"
      "empty targets are staged for signing; nothing is published until `release publish`.");
  init_cmd->add_option("DIR", init_args->dir, "Repository directory (created if missing)")
      ->required();
  add_role_options(init_cmd, *init_args);
  init_cmd->add_flag("--consistent-snapshot", init_args->consistent_snapshot,
                     "Publish version-prefixed metadata and hash-prefixed targets");
  init_cmd->add_option("--root-expires", init_args->root_expires, "Root lifetime (default 365d)");
  init_cmd->add_option("--targets-expires", init_args->targets_expires,
                       "Targets lifetime (default 90d)");
  init_cmd->footer(
      "Example (2-of-3 release keys):\n"
      "  patchwave repo init manifests --root-key keys/root.pub \\\n"
      "    --targets-key keys/alice.pub --targets-key keys/bob.pub --targets-key keys/carol.pub "
      "\\\n"
      "    --targets-threshold 2 --snapshot-key keys/online.pub --timestamp-key keys/online.pub\n");
  init_cmd->callback([&action, init_args] { action = [init_args] { return init(*init_args); }; });

  auto root = app.add_subcommand("root", "Manage the root of trust");
  root->require_subcommand(1);
  auto rotate_args = std::make_shared<RepoArgs>();
  auto* rotate_cmd = root->add_subcommand(
      "rotate",
      "Stage root version N+1 with new keys for the roles given (others keep theirs). It must\n"
      "be signed by a threshold of the current root keys and of the new ones, then published;\n"
      "clients holding any older root follow the chain N -> N+1.");
  rotate_cmd->add_option("DIR", rotate_args->dir, "Repository directory")->required();
  add_role_options(rotate_cmd, *rotate_args);
  rotate_cmd->add_option("--root-expires", rotate_args->root_expires,
                         "Root lifetime (default 365d)");
  rotate_cmd->add_option("--targets-expires", rotate_args->targets_expires,
                         "Lifetime of re-staged targets when targets keys change (default 90d)");
  rotate_cmd->footer(
      "Example (replace the root key):\n"
      "  patchwave root rotate manifests --root-key keys/root2.pub\n"
      "  patchwave release sign manifests --key keys/root     # old root key\n"
      "  patchwave release sign manifests --key keys/root2    # new root key\n"
      "  patchwave release publish manifests --snapshot-key keys/online --timestamp-key "
      "keys/online\n");
  rotate_cmd->callback(
      [&action, rotate_args] { action = [rotate_args] { return rotate(*rotate_args); }; });
}

}  // namespace pw::cli
