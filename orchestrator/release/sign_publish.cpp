// release sign and release publish.
#include <filesystem>
#include <set>

#include "common/crypto/hash.hpp"
#include "common/trust/client.hpp"
#include "common/trust/verify.hpp"
#include "orchestrator/release/authoring.hpp"
#include "orchestrator/release/workspace.hpp"
#include "orchestrator/source/source.hpp"
#include "orchestrator/source/trust_source.hpp"

namespace pw::authoring {
namespace fs = std::filesystem;
using detail::join;

namespace {

std::string describe(const trust::Envelope& envelope) {
  return envelope.type + " version " + std::to_string(envelope.version);
}

// The root that governs the targets about to be published: the staged one, if any.
Result<trust::Root> root_in_effect(const std::optional<trust::Root>& staged,
                                   const std::optional<trust::Root>& published) {
  if (staged) return *staged;
  if (published) return *published;
  return make_error(Errc::not_found, "no root metadata; run `patchwave repo init`");
}

std::string file_text(const trust::Envelope& envelope) {
  return detail::envelope_text(envelope.signed_json, envelope.signatures);
}

trust::MetaFile describe_file(std::uint64_t version, const std::string& bytes) {
  trust::MetaFile meta;
  meta.version = version;
  meta.length = bytes.size();
  meta.hashes = {{"sha256", crypto::sha256_hex(bytes)}};
  return meta;
}

// Signs an online role's document with every given key the root lists for it.
Result<std::string> sign_online(const json::Value& signed_json, const trust::Root& root,
                                trust::Role role, const std::vector<crypto::PrivateKey>& keys,
                                const std::string& file) {
  trust::Envelope envelope;
  envelope.file = file;
  PW_TRY_ASSIGN(envelope.canonical, json::canonical(signed_json));
  for (const auto& key : keys) {
    auto keyid = detail::listed_keyid(root, role, key.public_key());
    if (!keyid) {
      return make_error(Errc::permission, "key " + key.public_key().keyid() + " is not a " +
                                              trust::role_name(role) + " key of root version " +
                                              std::to_string(root.envelope.version))
          .with_context(file);
    }
    PW_TRY(detail::add_signature(envelope, key, *keyid, envelope.signatures));
  }
  PW_TRY(trust::verify_threshold(envelope, root, role));
  return detail::envelope_text(signed_json, envelope.signatures);
}

std::string release_summary(const trust::TargetFile& file, const std::string& name) {
  const auto& r =
      file.custom.is_object() ? file.custom.value("release", json::Value()) : json::Value();
  if (!r.is_object()) return name;
  std::string text =
      r.value("app", "?") + " " + r.value("version", "?") + " (" + r.value("urgency", "routine");
  for (const auto& cve : r.value("cves", json::Value::array()))
    text += ", " + cve.get<std::string>();
  return text + ")";
}

}  // namespace

Result<std::vector<SignedDocument>> sign_staged(const std::string& dir,
                                                const crypto::PrivateKey& key) {
  const crypto::PublicKey pub = key.public_key();
  PW_TRY_ASSIGN(auto published, detail::published_root(dir));
  PW_TRY_ASSIGN(auto root, detail::staged_root(dir));
  PW_TRY_ASSIGN(auto targets, detail::staged_targets(dir));
  if (!root && !targets) {
    return make_error(Errc::not_found, "nothing is staged in " + dir + "/staged to sign");
  }
  std::vector<SignedDocument> signed_docs;
  std::vector<std::string> changes;

  if (root) {
    auto new_id = detail::listed_keyid(*root, trust::Role::root, pub);
    auto old_id = published ? detail::listed_keyid(*published, trust::Role::root, pub)
                            : std::optional<std::string>{};
    // A key in both roots under different ids signs under both, so each root counts it.
    std::set<std::string> ids;
    if (new_id) ids.insert(*new_id);
    if (old_id) ids.insert(*old_id);
    for (const auto& id : ids) {
      PW_TRY(detail::add_signature(root->envelope, key, id, root->envelope.signatures));
    }
    if (!ids.empty()) {
      PW_TRY(detail::save_staged(dir, trust::Role::root, root->envelope.signed_json,
                                 root->envelope.signatures));
      SignedDocument doc{describe(root->envelope),
                         trust::count_signatures(root->envelope, *root, trust::Role::root).valid,
                         root->roles.at(trust::Role::root).threshold, ""};
      if (published) {
        auto old = trust::count_signatures(root->envelope, *published, trust::Role::root);
        auto need = published->roles.at(trust::Role::root).threshold;
        doc.note = "previous root version " + std::to_string(published->envelope.version) + ": " +
                   std::to_string(old.valid) + " of " + std::to_string(need);
      }
      signed_docs.push_back(doc);
      changes.push_back(describe(root->envelope));
    }
  }
  if (targets) {
    PW_TRY_ASSIGN(trust::Root governing, root_in_effect(root, published));
    if (auto id = detail::listed_keyid(governing, trust::Role::targets, pub)) {
      PW_TRY(detail::add_signature(targets->envelope, key, *id, targets->envelope.signatures));
      PW_TRY(detail::save_staged(dir, trust::Role::targets, targets->envelope.signed_json,
                                 targets->envelope.signatures));
      signed_docs.push_back(
          {describe(targets->envelope),
           trust::count_signatures(targets->envelope, governing, trust::Role::targets).valid,
           governing.roles.at(trust::Role::targets).threshold, ""});
      changes.push_back(describe(targets->envelope));
    }
  }
  if (signed_docs.empty()) {
    return make_error(Errc::permission, "key " + pub.keyid() +
                                            " may not sign anything staged here (it is neither a "
                                            "root key nor a targets key of the root in effect)");
  }
  std::string message = "release sign: key " + pub.keyid().substr(0, 16) + " signed";
  for (std::size_t i = 0; i < changes.size(); ++i) message += (i ? ", " : " ") + changes[i];
  auto committed = detail::commit(dir, message);
  if (!committed.ok()) return std::move(committed).error();
  return signed_docs;
}

Result<Published> publish(const std::string& dir, const PublishOptions& options) {
  PW_TRY_ASSIGN(auto old_root, detail::published_root(dir));
  PW_TRY_ASSIGN(auto new_root, detail::staged_root(dir));
  PW_TRY_ASSIGN(auto old_targets, detail::published_targets(dir));
  PW_TRY_ASSIGN(auto new_targets, detail::staged_targets(dir));
  PW_TRY_ASSIGN(auto old_snapshot, detail::published_snapshot(dir));
  PW_TRY_ASSIGN(auto old_timestamp, detail::published_timestamp(dir));
  PW_TRY_ASSIGN(trust::Root root, root_in_effect(new_root, old_root));

  std::map<std::string, std::string> files;  // repository path -> content
  Published result;
  result.root_version = root.envelope.version;

  if (new_root) {
    std::uint64_t expected = old_root ? old_root->envelope.version + 1 : 1;
    if (new_root->envelope.version != expected) {
      return make_error(Errc::conflict, "staged root has version " +
                                            std::to_string(new_root->envelope.version) +
                                            ", expected " + std::to_string(expected));
    }
    PW_TRY(trust::verify_threshold(new_root->envelope, *new_root, trust::Role::root,
                                   "the staged root itself"));
    if (old_root) {
      PW_TRY(trust::verify_threshold(
          new_root->envelope, *old_root, trust::Role::root,
          "the current root version " + std::to_string(old_root->envelope.version)));
    }
    std::string text = file_text(new_root->envelope);
    files["metadata/" + std::to_string(expected) + ".root.json"] = text;
    files["metadata/root.json"] = text;
  }

  std::string targets_text;
  const trust::Targets* targets = nullptr;
  if (new_targets) {
    std::uint64_t expected = old_targets ? old_targets->envelope.version + 1 : 1;
    if (new_targets->envelope.version != expected) {
      return make_error(Errc::conflict, "staged targets has version " +
                                            std::to_string(new_targets->envelope.version) +
                                            ", expected " + std::to_string(expected));
    }
    PW_TRY(trust::verify_threshold(new_targets->envelope, root, trust::Role::targets));
    targets_text = file_text(new_targets->envelope);
    files["metadata/targets.json"] = targets_text;
    targets = &*new_targets;
    for (const auto& [name, file] : new_targets->targets) {
      if (!old_targets || old_targets->targets.count(name) == 0) result.new_targets.push_back(name);
    }
  } else if (old_targets) {
    PW_TRY_ASSIGN(auto bytes, detail::read_optional(join(dir, "metadata/targets.json")));
    targets_text = *bytes;
    targets = &*old_targets;
  } else {
    return make_error(Errc::not_found, "no targets metadata to publish");
  }
  result.targets_version = targets->envelope.version;

  std::uint64_t snapshot_version = old_snapshot ? old_snapshot->envelope.version + 1 : 1;
  json::Value snapshot_signed = {
      {"_type", "snapshot"},
      {"spec_version", detail::kSpecVersion},
      {"version", snapshot_version},
      {"expires", trust::format_time(options.now + options.snapshot_expires_in)},
      {"meta",
       {{"targets.json",
         trust::meta_file_json(describe_file(result.targets_version, targets_text))}}}};
  PW_TRY_ASSIGN(std::string snapshot_text, sign_online(snapshot_signed, root, trust::Role::snapshot,
                                                       options.snapshot_keys, "snapshot.json"));
  files["metadata/snapshot.json"] = snapshot_text;
  result.snapshot_version = snapshot_version;

  std::uint64_t timestamp_version = old_timestamp ? old_timestamp->envelope.version + 1 : 1;
  json::Value timestamp_signed = {
      {"_type", "timestamp"},
      {"spec_version", detail::kSpecVersion},
      {"version", timestamp_version},
      {"expires", trust::format_time(options.now + options.timestamp_expires_in)},
      {"meta",
       {{"snapshot.json", trust::meta_file_json(describe_file(snapshot_version, snapshot_text))}}}};
  PW_TRY_ASSIGN(std::string timestamp_text,
                sign_online(timestamp_signed, root, trust::Role::timestamp, options.timestamp_keys,
                            "timestamp.json"));
  files["metadata/timestamp.json"] = timestamp_text;
  result.timestamp_version = timestamp_version;

  if (root.consistent_snapshot) {
    files["metadata/" + std::to_string(result.targets_version) + ".targets.json"] = targets_text;
    files["metadata/" + std::to_string(snapshot_version) + ".snapshot.json"] = snapshot_text;
  }

  // Verify what would be published exactly as a client will, from the first root.
  PW_TRY_ASSIGN(auto reader, source::open_directory(dir));
  source::TrustSource overlay(*reader);
  for (const auto& [path, content] : files) overlay.overlay(path, content);
  std::string first_root_path = "metadata/1.root.json";
  auto first_root = overlay.read(first_root_path, trust::kMaxRootBytes);
  if (!first_root.ok()) return std::move(first_root).error().with_context("self-check");
  auto store = trust::memory_store();
  PW_TRY_ASSIGN(trust::Client client, trust::Client::create(*first_root, *store, {options.now}));
  auto refreshed = client.refresh(overlay);
  if (!refreshed.ok()) {
    return std::move(refreshed).error().with_context("self-check before publishing");
  }
  for (const auto& name : result.new_targets) {
    if (root.consistent_snapshot) {
      const auto& file = targets->targets.at(name);
      auto slash = name.rfind('/');
      std::string prefix = slash == std::string::npos ? "" : name.substr(0, slash + 1);
      std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
      std::string hashed = "targets/" + prefix + file.hashes.at("sha256") + "." + base;
      std::error_code ec;
      if (!fs::exists(join(dir, hashed)))
        fs::create_hard_link(join(dir, "targets/" + name), join(dir, hashed), ec);
      if (ec) return make_error(Errc::io, "cannot link " + hashed + ": " + ec.message());
    }
    auto verified = client.verify_target(overlay, name);
    if (!verified.ok()) return std::move(verified).error().with_context("self-check");
  }

  // Timestamp last, so that a reader of the directory never sees a timestamp that
  // points at a snapshot not yet written.
  for (const auto& [path, content] : files) {
    if (path != "metadata/timestamp.json") PW_TRY(detail::write_atomic(join(dir, path), content));
  }
  PW_TRY(
      detail::write_atomic(join(dir, "metadata/timestamp.json"), files["metadata/timestamp.json"]));
  std::error_code ec;
  fs::remove(join(dir, "staged/root.json"), ec);
  fs::remove(join(dir, "staged/targets.json"), ec);

  std::string title = "release publish";
  if (!result.new_targets.empty()) {
    title += ":";
    for (std::size_t i = 0; i < result.new_targets.size(); ++i) {
      const auto& name = result.new_targets[i];
      title += (i ? "; " : " ") + release_summary(targets->targets.at(name), name);
    }
  } else if (new_root) {
    title += ": root version " + std::to_string(root.envelope.version);
  } else {
    title += ": refreshed snapshot and timestamp";
  }
  std::string body = "root v" + std::to_string(result.root_version) + ", targets v" +
                     std::to_string(result.targets_version) + ", snapshot v" +
                     std::to_string(snapshot_version) + ", timestamp v" +
                     std::to_string(timestamp_version);
  if (!options.message.empty()) body += "\n\n" + options.message;
  PW_TRY_ASSIGN(result.commit, detail::commit(dir, title + "\n\n" + body));
  return result;
}

}  // namespace pw::authoring
