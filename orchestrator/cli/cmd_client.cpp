// The operator commands that talk to a running controller: `patchwave releases list`,
// `fleet show`, `servers list|status|provision|decommission`, `sync`, `replicas`. The controller's
// address and the operator's credentials come from flags or PATCHWAVE_CONTROLLER, PATCHWAVE_CA,
// PATCHWAVE_CERT, PATCHWAVE_KEY.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "common/json/json.hpp"
#include "common/net/http.hpp"
#include "orchestrator/cli/cli.hpp"
#include "orchestrator/cli/client.hpp"

namespace pw::cli {
namespace {
Status apply_client_config(ClientArgs& args);
}  // namespace

void add_client_options(CLI::App* cmd, ClientArgs& args, bool with_output,
                        const std::string& key_flag) {
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
  };
  args.controller = env("PATCHWAVE_CONTROLLER");
  args.ca = env("PATCHWAVE_CA");
  args.cert = env("PATCHWAVE_CERT");
  args.key = env("PATCHWAVE_KEY");
  args.config = env("PATCHWAVE_CLIENT_CONFIG");
  cmd->add_option("--controller", args.controller, "https://HOST:PORT (PATCHWAVE_CONTROLLER)");
  cmd->add_option("--ca", args.ca, "The controller's CA certificate (PATCHWAVE_CA)");
  cmd->add_option("--cert", args.cert, "Your operator certificate (PATCHWAVE_CERT)");
  cmd->add_option(key_flag, args.key, "Your operator key (PATCHWAVE_KEY)");
  cmd->add_option("--client-config", args.config,
                  "JSON file with controller, ca, cert and key, for what flags and variables "
                  "leave unset (PATCHWAVE_CLIENT_CONFIG)");
  if (with_output) {
    cmd->add_option("--output", args.output, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
  }
}

namespace {
// Fills what flags and environment left empty from the client configuration file.
Status apply_client_config(ClientArgs& args) {
  if (args.config.empty()) return Ok{};
  std::FILE* f = std::fopen(args.config.c_str(), "rb");
  if (f == nullptr) return make_error(Errc::not_found, args.config + ": cannot open");
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0 && text.size() < 65536)
    text.append(buffer, n);
  std::fclose(f);
  PW_TRY_ASSIGN(json::Value doc, json::parse(text));
  if (!doc.is_object())
    return make_error(Errc::invalid_argument, args.config + ": must be a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    std::string* field = it.key() == "controller" ? &args.controller
                         : it.key() == "ca"       ? &args.ca
                         : it.key() == "cert"     ? &args.cert
                         : it.key() == "key"      ? &args.key
                                                  : nullptr;
    if (field == nullptr) {
      return make_error(Errc::invalid_argument, args.config + ": unknown key '" + it.key() + "'");
    }
    if (!it.value().is_string()) {
      return make_error(Errc::invalid_argument,
                        args.config + ": '" + it.key() + "' must be a string");
    }
    if (field->empty()) *field = it.value().get<std::string>();
  }
  return Ok{};
}

// Calls the API; the parsed answer, or an error with the controller's message.
}  // namespace

Status resolve_client_args(ClientArgs& args) { return apply_client_config(args); }

Result<json::Value> call_controller(const ClientArgs& given, const std::string& method,
                                    const std::string& path, const std::string& request_body) {
  ClientArgs args = given;
  PW_TRY(apply_client_config(args));
  for (const auto& [name, value] :
       {std::pair{"--controller", &args.controller}, std::pair{"--ca", &args.ca},
        std::pair{"--cert", &args.cert}, std::pair{"--key", &args.key}}) {
    if (value->empty()) {
      return make_error(Errc::invalid_argument,
                        std::string(name) + " is required (or its PATCHWAVE_ variable)");
    }
  }
  net::Client client({args.ca, args.cert, args.key}, std::chrono::seconds(120));
  std::string base = args.controller;
  while (!base.empty() && base.back() == '/') base.pop_back();
  PW_TRY_ASSIGN(auto response,
                client.request(method, base + path, request_body, "application/json", 64u << 20));
  json::ParseLimits limits;
  limits.max_bytes = 64u << 20;
  limits.allow_floats = true;
  auto body = json::parse(response.body, limits);
  if (response.status / 100 != 2) {
    std::string message = body.ok() && body->contains("error")
                              ? (*body)["error"].value("message", response.body)
                              : response.body;
    return make_error(
        response.status == 403 || response.status == 401 ? Errc::permission : Errc::io,
        method + " " + path + ": HTTP " + std::to_string(response.status) + ": " + message);
  }
  if (!body.ok()) return std::move(body).error().with_context(path);
  return body;
}

namespace {

Result<json::Value> call(const ClientArgs& args, const std::string& method, const std::string& path,
                         const std::string& body = "") {
  return call_controller(args, method, path, body);
}

int releases_list(const ClientArgs& args) {
  auto answer = call(args, "GET", "/v1/releases");
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
    return kExitOk;
  }
  for (const auto& entry : (*answer)["releases"]) {
    const auto& release = entry["release"];
    std::string cves;
    for (const auto& cve : release["cves"])
      cves += (cves.empty() ? "" : ",") + cve.get<std::string>();
    std::printf("%-20s %-12s %-9s %-24s %s\n", release["app"].get<std::string>().c_str(),
                release["version"].get<std::string>().c_str(),
                release["urgency"].get<std::string>().c_str(), cves.empty() ? "-" : cves.c_str(),
                entry["target"].get<std::string>().c_str());
  }
  return kExitOk;
}

int fleet_show(const ClientArgs& args) {
  auto answer = call(args, "GET", "/v1/fleet");
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
    return kExitOk;
  }
  std::printf("fleet policy at %s\n", (*answer)["revision"].get<std::string>().c_str());
  for (const auto& region : (*answer)["policy"]["regions"]) {
    std::printf("  wave %-3s %-10s %-32s %s servers, %s of %zu approvers\n",
                region["wave"].dump().c_str(), region["name"].get<std::string>().c_str(),
                region.value("display_name", std::string()).c_str(),
                region["servers"].dump().c_str(), region["approvers"]["threshold"].dump().c_str(),
                region["approvers"]["keys"].size());
  }
  return kExitOk;
}

int sync_now(const ClientArgs& args) {
  auto answer = call(args, "POST", "/v1/sync");
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
  } else {
    std::printf("synced %s: %s targets, %s releases\n",
                (*answer)["revision"].get<std::string>().c_str(),
                (*answer)["targets"].dump().c_str(), (*answer)["releases"].dump().c_str());
  }
  return kExitOk;
}

int replicas_show(const ClientArgs& args) {
  auto answer = call(args, "GET", "/v1/replicas");
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
    return kExitOk;
  }
  std::printf("replicas (lease %s ms):\n", (*answer)["lease_ms"].dump().c_str());
  for (const auto& r : (*answer)["replicas"]) {
    std::printf("  %-40s %-5s seen %6s ms ago  %s%s\n", r.value("id", "").c_str(),
                r.value("live", false) ? "live" : "gone", r["seen_ms_ago"].dump().c_str(),
                r.value("url", "").c_str(), r.value("self", false) ? "  (this one)" : "");
  }
  const auto& leases = (*answer)["leases"];
  if (leases.empty()) std::printf("no region is being driven\n");
  for (const auto& l : leases) {
    std::string region = l.value("region", "");
    std::printf("  %-12s %-12s %-40s epoch %-4s %s\n", l.value("rollout", "").c_str(),
                region.empty() ? "(rollout)" : region.c_str(), l.value("holder", "").c_str(),
                l["epoch"].dump().c_str(),
                l.value("expires_in_ms", std::int64_t{0}) > 0 ? "held" : "expired");
  }
  return kExitOk;
}

struct ServerArgs : ClientArgs {
  std::string region, rollout = "manual", name;
  int count = 1;
};

int servers_list(const ServerArgs& args) {
  auto answer =
      call(args, "GET", "/v1/servers" + (args.region.empty() ? "" : "?region=" + args.region));
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
    return kExitOk;
  }
  for (const auto& server : (*answer)["servers"]) {
    std::printf(
        "%-28s %-6s %-20s %-15s %s\n", server["name"].get<std::string>().c_str(),
        server["region"].get<std::string>().c_str(), server["address"].get<std::string>().c_str(),
        server["state"].get<std::string>().c_str(), server["provider"].get<std::string>().c_str());
  }
  return kExitOk;
}

int servers_provision(const ServerArgs& args) {
  json::Value body = {{"region", args.region}, {"count", args.count}, {"rollout", args.rollout}};
  auto answer = call(args, "POST", "/v1/servers/provision", body.dump());
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
  } else {
    for (const auto& server : (*answer)["servers"]) {
      std::printf("provisioned %s at %s\n", server["name"].get<std::string>().c_str(),
                  server["address"].get<std::string>().c_str());
    }
  }
  return kExitOk;
}

int servers_status(const ServerArgs& args) {
  auto answer = call(args, "GET", "/v1/servers/" + args.name + "/agent");
  if (!answer.ok()) return fail(answer.error());
  if (args.output == "json") {
    std::printf("%s\n", answer->dump(2).c_str());
    return kExitOk;
  }
  const auto& agent = (*answer)["agent"];
  const auto& service = agent["service"];
  std::printf("%s at %s\n  certificate %s\n  releases: %zu staged, %zu jobs\n  service: %s",
              args.name.c_str(), (*answer)["address"].get<std::string>().c_str(),
              agent["agent"].value("certificate_sha256", std::string("?")).substr(0, 16).c_str(),
              agent["releases"].size(), agent["jobs"].size(),
              service.value("state", std::string("?")).c_str());
  if (service.value("state", std::string()) == "running") {
    std::printf(" (pid %s)", service["pid"].dump().c_str());
  }
  std::printf("\n");
  return kExitOk;
}

int servers_decommission(const ServerArgs& args) {
  json::Value body = {{"name", args.name}};
  auto answer = call(args, "POST", "/v1/servers/decommission", body.dump());
  if (!answer.ok()) return fail(answer.error());
  std::printf("decommissioned %s\n", args.name.c_str());
  return kExitOk;
}

}  // namespace

void register_client_commands(CLI::App& app, Action& action) {
  auto releases = app.add_subcommand("releases", "Releases the controller has verified.");
  releases->require_subcommand(1);
  auto list_args = std::make_shared<ClientArgs>();
  auto* list = releases->add_subcommand("list", "List the verified releases (any operator role).");
  add_client_options(list, *list_args);
  list->footer(
      "Example:\n  patchwave releases list --controller https://ctl:8443 --ca ca.pem --cert "
      "alice.crt --key alice.key\n");
  list->callback(
      [&action, list_args] { action = [list_args] { return releases_list(*list_args); }; });

  auto fleet = app.add_subcommand("fleet", "The fleet policy (a signed target of the manifests).");
  fleet->require_subcommand(1);
  auto show_args = std::make_shared<ClientArgs>();
  auto* show =
      fleet->add_subcommand("show", "Print the verified fleet policy (any operator role).");
  add_client_options(show, *show_args);
  show->footer(
      "Example:\n  PATCHWAVE_CONTROLLER=https://ctl:8443 patchwave fleet show --output json\n");
  show->callback([&action, show_args] { action = [show_args] { return fleet_show(*show_args); }; });

  auto servers = app.add_subcommand("servers", "Servers the controller provisioned.");
  servers->require_subcommand(1);
  auto sl = std::make_shared<ServerArgs>();
  auto* slist =
      servers->add_subcommand("list", "List servers and their state (any operator role).");
  add_client_options(slist, *sl);
  slist->add_option("--region", sl->region, "Only this region");
  slist->footer("Example:\n  patchwave servers list --region bw\n");
  slist->callback([&action, sl] { action = [sl] { return servers_list(*sl); }; });
  auto sp = std::make_shared<ServerArgs>();
  auto* sprov = servers->add_subcommand(
      "provision",
      "Provision fresh servers in REGION through the provider its fleet policy names; each\n"
      "gets a one-time enrollment token (release-engineer).");
  add_client_options(sprov, *sp);
  sprov->add_option("--region", sp->region, "The region")->required();
  sprov->add_option("--count", sp->count, "How many (1-100)")->required();
  sprov->add_option("--rollout", sp->rollout, "The rollout they are for (names them)");
  sprov->footer("Example:\n  patchwave servers provision --region bw --count 3\n");
  sprov->callback([&action, sp] { action = [sp] { return servers_provision(*sp); }; });
  auto ss = std::make_shared<ServerArgs>();
  auto* sstat = servers->add_subcommand(
      "status", "Ask a server's agent for its status, through the controller (any operator role).");
  add_client_options(sstat, *ss);
  sstat->add_option("NAME", ss->name, "The server")->required();
  sstat->footer("Example:\n  patchwave servers status bw-r1-0 --output json\n");
  sstat->callback([&action, ss] { action = [ss] { return servers_status(*ss); }; });
  auto sd = std::make_shared<ServerArgs>();
  auto* sdec = servers->add_subcommand(
      "decommission", "Stop a server and remove it through its provider (release-engineer).");
  add_client_options(sdec, *sd);
  sdec->add_option("NAME", sd->name, "The server")->required();
  sdec->footer("Example:\n  patchwave servers decommission bw-manual-0\n");
  sdec->callback([&action, sd] { action = [sd] { return servers_decommission(*sd); }; });

  auto sync_args = std::make_shared<ClientArgs>();
  auto* sync = app.add_subcommand(
      "sync", "Ask the controller to sync and verify the manifests now (release-engineer).");
  add_client_options(sync, *sync_args);
  sync->footer(
      "Example:\n  patchwave sync --controller https://ctl:8443 --ca ca.pem --cert rita.crt --key "
      "rita.key\n");
  sync->callback([&action, sync_args] { action = [sync_args] { return sync_now(*sync_args); }; });

  auto replicas_args = std::make_shared<ClientArgs>();
  auto* replicas = app.add_subcommand(
      "replicas",
      "The controller replicas sharing this store, and which one drives each region of each\n"
      "unfinished rollout (any operator role).");
  add_client_options(replicas, *replicas_args);
  replicas->footer("Example:\n  patchwave replicas --output json\n");
  replicas->callback([&action, replicas_args] {
    action = [replicas_args] { return replicas_show(*replicas_args); };
  });
}

}  // namespace pw::cli
