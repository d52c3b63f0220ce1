// patchwave key generate
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "common/crypto/keys.hpp"
#include "orchestrator/cli/cli.hpp"
#include "orchestrator/release/authoring.hpp"

namespace pw::cli {
namespace {

struct GenerateArgs {
  std::string out;
  std::string type = "ed25519";
  std::string output = "text";
};

int generate(const GenerateArgs& args) {
  auto type = crypto::parse_key_type(args.type);
  if (!type.ok()) return fail(type.error());
  std::string pub_path = args.out + ".pub";
  if (std::filesystem::exists(args.out) || std::filesystem::exists(pub_path)) {
    return fail(make_error(Errc::conflict, args.out + " or " + pub_path +
                                               " already exists; refusing to overwrite a key"));
  }
  // A new key directory is private to its owner.
  auto parent = std::filesystem::path(args.out).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent)) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (!ec) {
      std::filesystem::permissions(parent, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    }
    if (ec)
      return fail(make_error(Errc::io, "cannot create " + parent.string() + ": " + ec.message()));
  }
  auto key = crypto::PrivateKey::generate(*type);
  if (!key.ok()) return fail(key.error());
  auto saved = key->save(args.out);
  if (!saved.ok()) return fail(saved.error());
  auto pub = key->public_key();
  auto written = authoring::save_public_key(pub_path, pub);
  if (!written.ok()) return fail(written.error());
  if (args.output == "json") {
    json::Value out = {{"keyid", pub.keyid()},
                       {"private_key", args.out},
                       {"public_key", pub_path},
                       {"scheme", pub.scheme()}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s\n", pub.keyid().c_str());
    std::fprintf(stderr, "private key: %s (mode 0600)\npublic key:  %s\n", args.out.c_str(),
                 pub_path.c_str());
  }
  return kExitOk;
}

}  // namespace

void register_key_commands(CLI::App& app, Action& action) {
  auto* key = app.add_subcommand("key", "Manage signing keys");
  key->require_subcommand(1);
  auto args = std::make_shared<GenerateArgs>();
  auto* gen = key->add_subcommand(
      "generate",
      "Create a signing key pair: NAME (private, PKCS#8 PEM, mode 0600) and NAME.pub (the\n"
      "public key in TUF's format). Prints the key id.");
  gen->add_option("--out", args->out, "Path of the private key; the public key goes to NAME.pub")
      ->required();
  gen->add_option("--type", args->type, "ed25519 (default) or ecdsa (P-256)")
      ->check(CLI::IsMember({"ed25519", "ecdsa"}));
  gen->add_option("--output", args->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  gen->footer("Example:\n  patchwave key generate --out keys/release-alice\n");
  gen->callback([&action, args] { action = [args] { return generate(*args); }; });
}

}  // namespace pw::cli
