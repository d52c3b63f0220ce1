// Talking to a running controller from the `patchwave` command: the address and the
// operator's credentials come from flags, PATCHWAVE_CONTROLLER/CA/CERT/KEY, or a client
// configuration file (--client-config / PATCHWAVE_CLIENT_CONFIG), in that order.
#pragma once

#include <string>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace CLI {
class App;
}

namespace pw::cli {

struct ClientArgs {
  std::string controller, ca, cert, key, config, output = "text";
};

// Adds --controller, --ca, --cert, --key, --client-config (and --output unless the
// command has its own). Commands whose --key is a signing key name the operator key's
// flag otherwise (`key_flag`, e.g. --cert-key).
void add_client_options(CLI::App* cmd, ClientArgs& args, bool with_output = true,
                        const std::string& key_flag = "--key");

// Fills in what flags and variables left empty from the client configuration file.
Status resolve_client_args(ClientArgs& args);

// Calls the API; the parsed answer, or an error with the controller's message
// (Errc::permission for 401/403).
Result<json::Value> call_controller(const ClientArgs& args, const std::string& method,
                                    const std::string& path, const std::string& body = "");

}  // namespace pw::cli
