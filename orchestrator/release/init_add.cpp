// repo init, release add, and reading key files.
#include <filesystem>

#include "common/archive/archive.hpp"
#include "orchestrator/release/authoring.hpp"
#include "orchestrator/release/workspace.hpp"
#include "orchestrator/source/source.hpp"

namespace pw::authoring {
namespace fs = std::filesystem;
using detail::join;

Result<crypto::PublicKey> load_public_key(const std::string& path) {
  PW_TRY_ASSIGN(auto bytes, detail::read_optional(path));
  if (!bytes) return make_error(Errc::not_found, path + ": no such key file");
  if (bytes->find("PRIVATE KEY-----") != std::string::npos) {
    PW_TRY_ASSIGN(crypto::PrivateKey key, crypto::PrivateKey::load(path));
    return key.public_key();
  }
  auto doc = json::parse(*bytes);
  if (!doc.ok()) return std::move(doc).error().with_context(path);
  auto key = crypto::PublicKey::from_json(*doc);
  if (!key.ok()) return std::move(key).error().with_context(path);
  if (!key->supported()) {
    return make_error(Errc::unsupported, path + ": key scheme '" + key->scheme() +
                                             "' is not one Patchwave can verify");
  }
  return key;
}

Status save_public_key(const std::string& path, const crypto::PublicKey& key) {
  return detail::write_atomic(path, key.to_json().dump(1, ' ') + "\n");
}

Status init_repository(const std::string& dir, const InitOptions& options) {
  if (fs::exists(join(dir, "metadata")) || fs::exists(join(dir, "staged"))) {
    return make_error(Errc::conflict, dir + " already holds a repository (metadata/ or staged/)");
  }
  std::map<trust::Role, detail::RoleEntry> roles;
  for (const auto& [role, setup] : options.roles) roles[role] = {setup.keys, setup.threshold};
  PW_TRY_ASSIGN(json::Value root, detail::root_signed(1, options.now + options.root_expires_in,
                                                      options.consistent_snapshot, roles));
  json::Value targets = {{"_type", "targets"},
                         {"spec_version", detail::kSpecVersion},
                         {"version", 1},
                         {"expires", trust::format_time(options.now + options.targets_expires_in)},
                         {"targets", json::Value::object()}};
  PW_TRY(source::init_git(dir));
  PW_TRY(detail::save_staged(dir, trust::Role::root, root, {}));
  PW_TRY(detail::save_staged(dir, trust::Role::targets, targets, {}));
  auto committed = detail::commit(dir, "repo init: root version 1 staged for signing");
  if (!committed.ok()) return std::move(committed).error();
  return Ok{};
}

namespace {

// Copies into a temp name in the destination directory, then renames.
Status copy_artifact(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (auto parent = fs::path(to).parent_path(); !parent.empty()) fs::create_directories(parent, ec);
  if (ec) return make_error(Errc::io, "cannot create the directory of " + to + ": " + ec.message());
  std::string temp = to + ".partial";
  fs::copy_file(from, temp, fs::copy_options::overwrite_existing, ec);
  if (ec) return make_error(Errc::io, "cannot copy " + from + " to " + temp + ": " + ec.message());
  fs::rename(temp, to, ec);
  if (ec) return make_error(Errc::io, "cannot rename " + temp + ": " + ec.message());
  return Ok{};
}

Result<std::string> default_target_name(const AddOptions& options) {
  std::string base = fs::path(options.artifact).filename().string();
  if (options.name) return *options.name;
  if (!options.release) {
    return make_error(Errc::invalid_argument,
                      "a target without a release description needs an explicit --name");
  }
  return options.release->app + "/" + options.release->version.text + "/" + base;
}

// Agents refuse archives that break the staging rules; refuse them before signing.
Status check_archive(const AddOptions& options) {
  json::Value custom = json::Value::object();
  if (!options.archive_limits.is_null()) custom["archive_limits"] = options.archive_limits;
  PW_TRY_ASSIGN(archive::Limits limits, archive::limits_from_custom(custom));
  PW_TRY_ASSIGN(archive::Report report, archive::inspect(options.artifact, limits));
  if (report.ok()) return Ok{};
  std::string message = "agents would refuse this archive:";
  std::size_t shown = 0;
  for (const auto& v : report.violations) {
    if (shown++ == 5) {
      message += " (and " + std::to_string(report.violations.size() - 5) + " more)";
      break;
    }
    message += (shown > 1 ? "; " : " ") + (v.entry.empty() ? std::string("archive") : v.entry) +
               ": " + v.rule;
  }
  return make_error(Errc::invalid_argument, message + "; see `patchwave release inspect`")
      .with_context(options.artifact);
}

}  // namespace

Result<AddedTarget> add_target(const std::string& dir, const AddOptions& options) {
  if (!fs::is_regular_file(options.artifact)) {
    return make_error(Errc::not_found, options.artifact + ": no such artifact file");
  }
  PW_TRY_ASSIGN(std::string name, default_target_name(options));
  if (options.release) PW_TRY(check_archive(options));
  auto path_ok = source::check_relative_path(name);
  if (!path_ok.ok()) return std::move(path_ok).error().with_context("target name");

  PW_TRY_ASSIGN(auto staged, detail::staged_targets(dir));
  json::Value signed_json;
  if (staged) {
    signed_json = staged->envelope.signed_json;
  } else {
    PW_TRY_ASSIGN(auto published, detail::published_targets(dir));
    if (!published) {
      return make_error(Errc::not_found,
                        dir + " has no targets metadata; run `patchwave repo init`");
    }
    signed_json = published->envelope.signed_json;
    signed_json["version"] = published->envelope.version + 1;
  }
  if (signed_json["targets"].contains(name)) {
    return make_error(Errc::conflict, "target '" + name +
                                          "' already exists; a published artifact never changes, "
                                          "release a new version instead");
  }
  // Two releases of one app and version would make `APP@VERSION` ambiguous.
  if (options.release) {
    for (const auto& [other, entry] : signed_json["targets"].items()) {
      const auto& r = entry.value("custom", json::Value::object()).value("release", json::Value());
      if (r.is_object() && r.value("app", "") == options.release->app &&
          r.value("version", "") == options.release->version.text) {
        return make_error(Errc::conflict, options.release->app + "@" +
                                              options.release->version.text +
                                              " is already released as target '" + other + "'");
      }
    }
  }

  std::string stored = join(dir, "targets/" + name);
  if (fs::exists(stored)) {
    return make_error(Errc::conflict, stored + " already exists but is not a listed target");
  }
  PW_TRY(copy_artifact(options.artifact, stored));
  auto digest = crypto::hash_file(stored, options.with_sha512);
  if (!digest.ok()) {
    fs::remove(stored);
    return std::move(digest).error();
  }
  trust::TargetFile file;
  file.length = digest->length;
  file.hashes = {{"sha256", digest->sha256_hex}};
  if (options.with_sha512) file.hashes["sha512"] = digest->sha512_hex;
  json::Value entry = {{"length", file.length}, {"hashes", file.hashes}};
  if (options.release) {
    file.custom = {{"release", release::to_json(*options.release)}};
    if (!options.archive_limits.is_null()) file.custom["archive_limits"] = options.archive_limits;
    entry["custom"] = file.custom;
  }
  signed_json["targets"][name] = entry;
  signed_json["expires"] = trust::format_time(options.now + options.expires_in);

  Status saved = detail::save_staged(dir, trust::Role::targets, signed_json, {});
  if (!saved.ok()) {
    fs::remove(stored);
    return saved.error();
  }
  std::string what =
      options.release ? options.release->app + " " + options.release->version.text : name;
  auto committed = detail::commit(
      dir, "release add: " + what + " as target " + name + "\n\nsha256 " + digest->sha256_hex);
  if (!committed.ok()) return std::move(committed).error();
  return AddedTarget{name, file, signed_json["version"].get<std::uint64_t>()};
}

}  // namespace pw::authoring
