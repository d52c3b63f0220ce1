// patchwave ca init|issue-operator|issue-controller|token
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>

#include "common/crypto/secret_file.hpp"
#include "orchestrator/ca/ca.hpp"
#include "orchestrator/cli/cli.hpp"
#include "orchestrator/cli/store_args.hpp"

namespace pw::cli {
namespace {

struct CaArgs {
  std::string dir, name, role, out, server, ttl = "1h", validity = "90d";
  StoreArgs store;
  std::vector<std::string> dns, ips;
};

Status write_credential(const ca::Credential& credential, const std::string& out) {
  PW_TRY(crypto::write_secret_file(out + ".key", credential.private_key_pem));
  std::ofstream cert(out + ".crt", std::ios::binary);
  cert << credential.certificate_pem;
  cert.close();
  if (!cert) return make_error(Errc::io, out + ".crt: cannot write");
  return Ok{};
}

int run_init(const CaArgs& args) {
  auto made = ca::ControllerCa::init(args.dir, args.name);
  if (!made.ok()) return fail(made.error());
  std::printf("CA certificate: %s\nCA key:         %s/ca.key (mode 0600)\n",
              made->certificate_file().c_str(), args.dir.c_str());
  return kExitOk;
}

int run_issue_operator(const CaArgs& args) {
  auto validity = parse_duration(args.validity);
  if (!validity.ok()) return fail(validity.error().with_context("--validity"));
  auto authority = ca::ControllerCa::load(args.dir);
  if (!authority.ok()) return fail(authority.error());
  auto credential = authority->issue_operator(args.name, args.role, *validity);
  if (!credential.ok()) return fail(credential.error());
  if (auto written = write_credential(*credential, args.out); !written.ok()) {
    return fail(written.error());
  }
  std::printf("operator %s (%s): %s.crt, %s.key (mode 0600)\n", args.name.c_str(),
              args.role.c_str(), args.out.c_str(), args.out.c_str());
  return kExitOk;
}

int run_issue_controller(const CaArgs& args) {
  auto authority = ca::ControllerCa::load(args.dir);
  if (!authority.ok()) return fail(authority.error());
  auto credential = authority->issue_controller(args.name, args.dns, args.ips);
  if (!credential.ok()) return fail(credential.error());
  if (auto written = write_credential(*credential, args.out); !written.ok()) {
    return fail(written.error());
  }
  std::printf("controller %s: %s.crt, %s.key (mode 0600)\n", args.name.c_str(), args.out.c_str(),
              args.out.c_str());
  return kExitOk;
}

int run_token(const CaArgs& args) {
  auto ttl = parse_duration(args.ttl);
  if (!ttl.ok()) return fail(ttl.error().with_context("--ttl"));
  auto authority = ca::ControllerCa::load(args.dir);
  if (!authority.ok()) return fail(authority.error());
  auto store = open_store(args.store, true);
  if (!store.ok()) return fail(store.error());
  ca::Enrollment enrollment(**store, *authority);
  auto token = enrollment.create_token(args.server, *ttl, "operator:cli");
  if (!token.ok()) return fail(token.error());
  std::printf("%s\n", token->c_str());
  return kExitOk;
}

}  // namespace

void register_ca_commands(CLI::App& app, Action& action) {
  auto* group = app.add_subcommand(
      "ca", "The controller's certificate authority: its TLS identity, operators, agents.");
  group->require_subcommand(1);

  auto init_args = std::make_shared<CaArgs>();
  init_args->name = "Patchwave controller CA";
  auto* init = group->add_subcommand("init", "Create the CA (certificate and a 0600 key) in DIR.");
  init->add_option("--dir", init_args->dir, "CA directory")->required();
  init->add_option("--name", init_args->name, "The CA's common name");
  init->footer("Example:\n  patchwave ca init --dir /var/lib/patchwave/ca\n");
  init->callback([&action, init_args] { action = [init_args] { return run_init(*init_args); }; });

  auto op_args = std::make_shared<CaArgs>();
  auto* op = group->add_subcommand(
      "issue-operator",
      "Issue an operator's client certificate; the role is carried in the certificate\n"
      "(release-engineer, approver:REGION or viewer) and checked by the controller API.");
  op->add_option("--dir", op_args->dir, "CA directory")->required();
  op->add_option("--name", op_args->name, "The operator's name")->required();
  op->add_option("--role", op_args->role, "release-engineer | approver:REGION | viewer")
      ->required();
  op->add_option("--out", op_args->out, "Writes OUT.crt and OUT.key")->required();
  op->add_option("--validity", op_args->validity, "How long it is valid (default 90d)");
  op->footer(
      "Example:\n  patchwave ca issue-operator --dir ca --name alice --role approver:bw --out "
      "alice\n");
  op->callback([&action, op_args] { action = [op_args] { return run_issue_operator(*op_args); }; });

  auto ctl_args = std::make_shared<CaArgs>();
  ctl_args->name = "patchwave-controller";
  auto* ctl = group->add_subcommand(
      "issue-controller", "Issue the controller's own TLS certificate (server and client).");
  ctl->add_option("--dir", ctl_args->dir, "CA directory")->required();
  ctl->add_option("--name", ctl_args->name, "Its name (default patchwave-controller)");
  ctl->add_option("--dns", ctl_args->dns, "More DNS names");
  ctl->add_option("--ip", ctl_args->ips, "IP addresses");
  ctl->add_option("--out", ctl_args->out, "Writes OUT.crt and OUT.key")->required();
  ctl->footer(
      "Example:\n  patchwave ca issue-controller --dir ca --ip 127.0.0.1 --out controller\n");
  ctl->callback(
      [&action, ctl_args] { action = [ctl_args] { return run_issue_controller(*ctl_args); }; });

  auto token_args = std::make_shared<CaArgs>();
  auto* token = group->add_subcommand(
      "token",
      "Create a one-time enrollment token bound to SERVER (printed once; only its hash is\n"
      "stored). Providers normally do this for each fresh server.");
  token->add_option("--dir", token_args->dir, "CA directory")->required();
  add_store_options(token, token_args->store, true);
  token->add_option("--server", token_args->server, "The server it is for")->required();
  token->add_option("--ttl", token_args->ttl, "How long it stays valid (default 1h)");
  token->footer(
      "Example:\n  patchwave ca token --dir ca --db store.db --server bw-r1-0 --ttl 30m\n");
  token->callback(
      [&action, token_args] { action = [token_args] { return run_token(*token_args); }; });
}

}  // namespace pw::cli
