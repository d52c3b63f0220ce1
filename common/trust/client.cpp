#include "common/trust/client.hpp"

#include <utility>

#include "common/trust/hash_check.hpp"
#include "common/trust/verify.hpp"

namespace pw::trust {
namespace {

std::string root_path(std::uint64_t version) {
  return "metadata/" + std::to_string(version) + ".root.json";
}

std::string versioned(bool consistent, std::uint64_t version, const std::string& name) {
  return consistent ? std::to_string(version) + "." + name : name;
}

bool same_keys(const Root& a, const Root& b, Role role) {
  const RoleKeys& x = a.roles.at(role);
  const RoleKeys& y = b.roles.at(role);
  return x.threshold == y.threshold && x.keyids == y.keyids;
}

// A file longer than the length its parent signed is a mismatch, not just a limit.
Error fetch_error(Error error, const std::string& file, const MetaFile& expected,
                  const std::string& parent) {
  if (error.code == Errc::limit && expected.length) {
    return make_error(Errc::mismatch, "longer than the length of " +
                                          std::to_string(*expected.length) + " bytes given by " +
                                          parent)
        .with_context(file);
  }
  return std::move(error).with_context("fetching " + file);
}

}  // namespace

Result<Client> Client::create(std::string_view pinned_root, TrustedStore& store,
                              ClientOptions options) {
  Client client(store, options);
  PW_TRY_ASSIGN(Root pinned, parse_root(pinned_root, "pinned root"));
  PW_TRY(verify_threshold(pinned.envelope, pinned, Role::root, "itself"));
  client.root_ = std::move(pinned);

  PW_TRY_ASSIGN(auto stored_root, store.load("root"));
  if (stored_root) {
    auto root = parse_root(*stored_root, "trusted root.json");
    if (!root.ok()) return std::move(root).error().with_context("loading trusted state");
    auto self_signed = verify_threshold(root->envelope, *root, Role::root, "itself");
    if (!self_signed.ok())
      return std::move(self_signed).error().with_context("loading trusted state");
    if (root->envelope.version > client.root_->envelope.version) client.root_ = std::move(*root);
  }
  client.load_stored();
  return client;
}

void Client::load_stored() {
  // As the reference implementation does: stored metadata that no longer verifies
  // against the trusted root is not trusted, and simply not used.
  auto load = [&](const char* role) -> std::optional<std::string> {
    auto bytes = store_->load(role);
    if (!bytes.ok() || !*bytes) return std::nullopt;
    return **bytes;
  };
  if (auto bytes = load("timestamp")) {
    auto ts = parse_timestamp(*bytes, "trusted timestamp.json");
    if (ts.ok() && verify_threshold(ts->envelope, *root_, Role::timestamp).ok()) timestamp_ = *ts;
  }
  if (auto bytes = load("snapshot")) {
    auto snap = parse_snapshot(*bytes, "trusted snapshot.json");
    if (snap.ok() && verify_threshold(snap->envelope, *root_, Role::snapshot).ok()) {
      snapshot_ = *snap;
    }
  }
  if (auto bytes = load("targets")) {
    auto targets = parse_targets(*bytes, "trusted targets.json");
    if (targets.ok() && verify_threshold(targets->envelope, *root_, Role::targets).ok()) {
      targets_ = std::move(*targets);
    }
  }
}

Status Client::check_expiry(const Envelope& envelope) const {
  if (envelope.expires <= options_.now) {
    return make_error(Errc::expired, std::string(envelope.type) + " metadata version " +
                                         std::to_string(envelope.version) + " expired at " +
                                         format_time(envelope.expires))
        .with_context(envelope.file);
  }
  return Ok{};
}

Status Client::refresh(MetadataSource& source) {
  PW_TRY(update_root(source));
  PW_TRY(update_timestamp(source));
  PW_TRY(update_snapshot(source));
  PW_TRY(update_targets(source));
  return Ok{};
}

Status Client::update_root(MetadataSource& source) {
  const Root initial = *root_;
  for (std::uint64_t i = 0; i < options_.max_root_rotations; ++i) {
    std::uint64_t next = root_->envelope.version + 1;
    std::string path = root_path(next);
    auto bytes = source.read(path, kMaxRootBytes);
    if (!bytes.ok()) {
      if (bytes.error().code == Errc::not_found) break;
      return std::move(bytes).error().with_context("fetching " + path);
    }
    std::string file = std::to_string(next) + ".root.json";
    PW_TRY_ASSIGN(Root candidate, parse_root(*bytes, file));
    // Spec 5.3.4: signed by a threshold of the trusted root's keys, then of its own.
    PW_TRY(verify_threshold(candidate.envelope, *root_, Role::root,
                            "the trusted root version " + std::to_string(root_->envelope.version)));
    PW_TRY(verify_threshold(candidate.envelope, candidate, Role::root, "the new root itself"));
    if (candidate.envelope.version != next) {
      return make_error(Errc::mismatch, "declares version " +
                                            std::to_string(candidate.envelope.version) +
                                            ", expected " + std::to_string(next))
          .with_context(file);
    }
    root_ = std::move(candidate);
    rotated_roots_.push_back(next);
    PW_TRY(store_->save("root", *bytes));
  }
  PW_TRY(check_expiry(root_->envelope));
  // Spec 5.3.11: after a rotation of the timestamp or snapshot keys, forget the trusted
  // timestamp and snapshot so that a fast-forward attack can be recovered from.
  if (!same_keys(initial, *root_, Role::timestamp) || !same_keys(initial, *root_, Role::snapshot)) {
    timestamp_.reset();
    snapshot_.reset();
    PW_TRY(store_->remove("timestamp"));
    PW_TRY(store_->remove("snapshot"));
  }
  return Ok{};
}

Status Client::update_timestamp(MetadataSource& source) {
  auto bytes = source.read("metadata/timestamp.json", kMaxTimestampBytes);
  if (!bytes.ok()) return std::move(bytes).error().with_context("fetching timestamp.json");
  PW_TRY_ASSIGN(Timestamp ts, parse_timestamp(*bytes, "timestamp.json"));
  PW_TRY(verify_threshold(ts.envelope, *root_, Role::timestamp));
  if (timestamp_) {
    if (ts.envelope.version < timestamp_->envelope.version) {
      return make_error(Errc::rollback, "version " + std::to_string(ts.envelope.version) +
                                            " is older than the trusted version " +
                                            std::to_string(timestamp_->envelope.version))
          .with_context("timestamp.json");
    }
    if (ts.snapshot.version < timestamp_->snapshot.version) {
      return make_error(Errc::rollback, "it names snapshot version " +
                                            std::to_string(ts.snapshot.version) +
                                            ", older than the trusted snapshot version " +
                                            std::to_string(timestamp_->snapshot.version))
          .with_context("timestamp.json");
    }
  }
  PW_TRY(check_expiry(ts.envelope));
  timestamp_ = std::move(ts);
  return store_->save("timestamp", *bytes);
}

Status Client::update_snapshot(MetadataSource& source) {
  const MetaFile& expected = timestamp_->snapshot;
  std::string file = versioned(root_->consistent_snapshot, expected.version, "snapshot.json");
  auto bytes = source.read("metadata/" + file, expected.length.value_or(kMaxSnapshotBytes));
  if (!bytes.ok()) return fetch_error(std::move(bytes).error(), file, expected, "timestamp.json");
  PW_TRY(check_length_and_hashes(*bytes, expected.length, expected.hashes,
                                 file + " (as described by timestamp.json)"));
  PW_TRY_ASSIGN(Snapshot snap, parse_snapshot(*bytes, file));
  PW_TRY(verify_threshold(snap.envelope, *root_, Role::snapshot));
  if (snap.envelope.version != expected.version) {
    return make_error(Errc::mismatch, "version " + std::to_string(snap.envelope.version) +
                                          " differs from version " +
                                          std::to_string(expected.version) +
                                          " named by timestamp.json")
        .with_context(file);
  }
  if (snapshot_) {
    if (snap.envelope.version < snapshot_->envelope.version) {
      return make_error(Errc::rollback, "version " + std::to_string(snap.envelope.version) +
                                            " is older than the trusted version " +
                                            std::to_string(snapshot_->envelope.version))
          .with_context(file);
    }
    for (const auto& [name, old] : snapshot_->meta) {
      auto it = snap.meta.find(name);
      if (it == snap.meta.end()) {
        return make_error(Errc::rollback, name + " is missing, but the trusted snapshot lists it")
            .with_context(file);
      }
      if (it->second.version < old.version) {
        return make_error(Errc::rollback, name + " version " + std::to_string(it->second.version) +
                                              " is older than the trusted version " +
                                              std::to_string(old.version))
            .with_context(file);
      }
    }
  }
  PW_TRY(check_expiry(snap.envelope));
  snapshot_ = std::move(snap);
  return store_->save("snapshot", *bytes);
}

Status Client::update_targets(MetadataSource& source) {
  auto entry = snapshot_->meta.find("targets.json");
  if (entry == snapshot_->meta.end()) {
    return make_error(Errc::not_found, "no entry for targets.json")
        .with_context(snapshot_->envelope.file);
  }
  const MetaFile& expected = entry->second;
  std::string file = versioned(root_->consistent_snapshot, expected.version, "targets.json");
  auto bytes = source.read("metadata/" + file, expected.length.value_or(kMaxTargetsBytes));
  if (!bytes.ok()) return fetch_error(std::move(bytes).error(), file, expected, "snapshot.json");
  PW_TRY(check_length_and_hashes(*bytes, expected.length, expected.hashes,
                                 file + " (as described by snapshot.json)"));
  PW_TRY_ASSIGN(Targets targets, parse_targets(*bytes, file));
  PW_TRY(verify_threshold(targets.envelope, *root_, Role::targets));
  if (targets.envelope.version != expected.version) {
    return make_error(Errc::mismatch, "version " + std::to_string(targets.envelope.version) +
                                          " differs from version " +
                                          std::to_string(expected.version) +
                                          " named by snapshot.json")
        .with_context(file);
  }
  // Not implied by the snapshot check alone (go-tuf CVE-2022-29173): compare with the
  // trusted targets directly.
  if (targets_ && targets.envelope.version < targets_->envelope.version) {
    return make_error(Errc::rollback, "version " + std::to_string(targets.envelope.version) +
                                          " is older than the trusted version " +
                                          std::to_string(targets_->envelope.version))
        .with_context(file);
  }
  PW_TRY(check_expiry(targets.envelope));
  targets_ = std::move(targets);
  return store_->save("targets", *bytes);
}

Result<VerifiedTarget> Client::find_target(const std::string& path) const {
  if (!targets_) return make_error(Errc::not_found, "no trusted targets metadata (refresh first)");
  auto it = targets_->targets.find(path);
  if (it == targets_->targets.end()) {
    return make_error(Errc::not_found, "target '" + path +
                                           "' is not listed in targets.json (version " +
                                           std::to_string(targets_->envelope.version) + ")");
  }
  return VerifiedTarget{path, it->second};
}

Result<VerifiedTarget> Client::verify_target(MetadataSource& source, const std::string& path,
                                             const std::function<Status(std::string_view)>& sink) {
  PW_TRY_ASSIGN(VerifiedTarget target, find_target(path));
  std::string file_path = "targets/" + path;
  if (root_->consistent_snapshot) {
    auto sha = target.info.hashes.find("sha256");
    auto hash = sha != target.info.hashes.end() ? sha : target.info.hashes.begin();
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    file_path = "targets/" + dir + hash->second + "." + base;
  }
  std::string what = "target '" + path + "'";
  HashCheck check(target.info.length, target.info.hashes);
  if (!check.supported()) return check.finish(what).error();
  Status streamed = source.stream(file_path, target.info.length, [&](std::string_view chunk) {
    check.update(chunk);
    return sink ? sink(chunk) : Status{};
  });
  if (!streamed.ok()) {
    Error error = std::move(streamed).error();
    if (error.code == Errc::limit) {
      error = make_error(Errc::mismatch, "longer than the signed length of " +
                                             std::to_string(target.info.length) + " bytes");
    }
    return std::move(error).with_context(what);
  }
  PW_TRY(check.finish(what));
  return target;
}

}  // namespace pw::trust
