// Release authoring: the release engineer's side of the trust model. A repository
// directory holds
//   metadata/  what clients verify (N.root.json, root.json, timestamp.json,
//              snapshot.json, targets.json; N.snapshot.json / N.targets.json too with
//              consistent snapshots)
//   targets/   the artifacts, by target path
//   staged/    root.json / targets.json waiting for signatures (not read by clients)
// and is a git repository: each command commits what it changed, so the history says
// who added, signed and published what.
//
// Offline keys (root, targets) sign staged documents one person at a time with
// `sign`; `publish` checks every threshold, writes snapshot and timestamp with the
// online keys, verifies the result with the same client code the controller runs, and
// only then writes and commits it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/keys.hpp"
#include "common/errors/result.hpp"
#include "common/release_description/release_description.hpp"
#include "common/trust/metadata.hpp"

namespace pw::authoring {

// Reads a public key from a file: either a TUF key JSON (as `key generate` writes to
// NAME.pub) or a private key PEM (whose public half is taken; the file must be 0600).
Result<crypto::PublicKey> load_public_key(const std::string& path);

// Writes the TUF key JSON of `key` (as `key generate` does for NAME.pub), atomically.
Status save_public_key(const std::string& path, const crypto::PublicKey& key);

struct RoleSetup {
  std::vector<crypto::PublicKey> keys;
  std::uint64_t threshold = 1;
};

struct InitOptions {
  std::map<trust::Role, RoleSetup> roles;  // all four required
  bool consistent_snapshot = false;
  std::chrono::seconds root_expires_in{std::chrono::days{365}};
  std::chrono::seconds targets_expires_in{std::chrono::days{90}};
  trust::TimePoint now;
};

// Creates the repository (git work tree included) with a staged root version 1 and a
// staged, empty targets version 1, both unsigned. Refuses a directory that already
// holds metadata.
Status init_repository(const std::string& dir, const InitOptions& options);

struct AddOptions {
  std::string artifact;             // file to copy into targets/
  std::optional<std::string> name;  // target path; default APP/VERSION/BASENAME
  std::optional<release::ReleaseDescription> release;
  bool with_sha512 = false;  // sha256 is always listed; sha512 doubles the hashing cost
  // custom.archive_limits for this release (see common/archive/archive.hpp); null keeps
  // the agents' defaults.
  json::Value archive_limits;
  std::chrono::seconds expires_in{std::chrono::days{90}};
  trust::TimePoint now;
};

struct AddedTarget {
  std::string name;
  trust::TargetFile file;
  std::uint64_t targets_version = 0;  // of the staged targets.json
};

// Copies the artifact into targets/, hashes it (sha256, and sha512 if asked) and stages a new
// targets.json version that lists it (dropping any signatures already on the staged
// one, since its content changed). Refuses a target name that already exists.
Result<AddedTarget> add_target(const std::string& dir, const AddOptions& options);

struct SignedDocument {
  std::string document;  // "root version 2", "targets version 5"
  std::size_t valid = 0;
  std::uint64_t threshold = 0;
  std::string note;  // e.g. "also needs 1 more of the previous root's keys"
};

// Adds one signature with `key` to every staged document the key may sign (targets:
// a targets key of the root in effect; root: a root key of the staged root or of the
// current published root). Errc::permission if the key may sign none of them.
Result<std::vector<SignedDocument>> sign_staged(const std::string& dir,
                                                const crypto::PrivateKey& key);

struct PublishOptions {
  std::vector<crypto::PrivateKey> snapshot_keys;
  std::vector<crypto::PrivateKey> timestamp_keys;
  std::chrono::seconds snapshot_expires_in{std::chrono::days{7}};
  std::chrono::seconds timestamp_expires_in{std::chrono::days{1}};
  trust::TimePoint now;
  std::string message;  // extra line for the commit message
};

struct Published {
  std::uint64_t root_version = 0;
  std::uint64_t targets_version = 0;
  std::uint64_t snapshot_version = 0;
  std::uint64_t timestamp_version = 0;
  std::vector<std::string> new_targets;  // target paths added since the last publish
  std::string commit;                    // git commit id
};

// Publishes the staged documents (refusing any whose thresholds are not met), writes
// new snapshot and timestamp versions, verifies the whole repository from
// 1.root.json with the TUF client, then writes the files and commits.
Result<Published> publish(const std::string& dir, const PublishOptions& options);

struct RotateOptions {
  // Roles whose keys change; roles not given keep their keys and threshold.
  std::map<trust::Role, RoleSetup> roles;
  std::optional<bool> consistent_snapshot;
  std::chrono::seconds root_expires_in{std::chrono::days{365}};
  std::chrono::seconds targets_expires_in{std::chrono::days{90}};
  trust::TimePoint now;
};

// Stages root version N+1. It must then be signed by a threshold of the old root
// keys and of the new ones before `publish`. When the targets keys change, the current
// targets are staged again too, to be signed by the new targets keys.
Result<std::uint64_t> rotate_root(const std::string& dir, const RotateOptions& options);

struct CountersignOptions {
  // The target to countersign; without one, the one emergency release in the staged or
  // published targets.json that this key has not countersigned yet.
  std::optional<std::string> target;
  trust::TimePoint now;  // `issued` of a new document
};

struct CountersignedRelease {
  std::string target;
  std::string sha256;               // from targets.json
  std::string file;                 // "countersignatures/<target>.json"
  std::size_t signatures = 0;       // on the document now
  std::vector<std::string> keyids;  // of those signatures, in order
  std::string commit;               // git commit id
};

// Adds `key`'s signature to the emergency countersignature of a release (see
// orchestrator/approval/countersign.hpp), written atomically to
// DIR/countersignatures/<target>.json and committed. The target must be a release with
// urgency "emergency" in staged/targets.json or metadata/targets.json; its sha256 comes
// from there. Refuses an unknown target (Errc::not_found), a routine release or a plain
// target (Errc::invalid_argument), a key that already countersigned it (Errc::conflict),
// and, without options.target, no or several candidates (naming them).
Result<CountersignedRelease> countersign_release(const std::string& dir,
                                                 const crypto::PrivateKey& key,
                                                 const CountersignOptions& options);

}  // namespace pw::authoring
