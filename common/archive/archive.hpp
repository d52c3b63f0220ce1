// Safe, streaming extraction of release tarballs (tar, tar.gz, tar.xz, tar.zst) with
// libarchive. The archive reader is the widest door an attacker has into a server, so
// every entry is checked before a byte of it is written:
//  - allowed: regular files, directories, symlinks whose target resolves inside the
//    release directory, hardlinks to an earlier entry inside it;
//  - refused (the error names the entry and the rule): absolute paths; ".." components
//    (in names, GNU long names, PAX path overrides, link targets); links that leave the
//    tree, including writing through an earlier symlink; devices, FIFOs, sockets;
//    setuid/setgid bits; duplicate entries (including a later entry that replaces a file
//    or directory with a symlink); names that are not valid UTF-8, empty or overlong
//    components; truncated or corrupt archives; inputs that are not archives;
//  - owners are ignored; modes are clamped (no world-writable bit, no special bits);
//  - limits stop decompression bombs early with bounded disk and memory use.
// The caller must have verified the artifact (length and hashes against signed
// metadata) first: this module trusts nothing, but it is not the signature check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/errors/result.hpp"
#include "common/json/json.hpp"

namespace pw::archive {

struct Limits {
  std::uint64_t max_total_bytes = 8ull << 30;  // sum of regular file sizes
  std::uint64_t max_entries = 100000;
  std::uint64_t max_path_bytes = 1024;      // whole entry path
  std::uint64_t max_component_bytes = 255;  // one path component
  std::uint64_t max_ratio = 200;            // unpacked bytes / compressed bytes
  std::uint64_t xz_memory_limit = 256ull << 20;
};

// Per-release overrides from the target's custom object:
//   "custom": {"archive_limits": {"max_total_bytes": N, "max_entries": N,
//              "max_path_bytes": N, "max_component_bytes": N, "max_ratio": N}}
// Absent fields keep `defaults`. Malformed values are errors naming the field.
Result<Limits> limits_from_custom(const json::Value& custom, const Limits& defaults = {});

enum class EntryType { file, directory, symlink, hardlink };
const char* entry_type_name(EntryType type);

struct Entry {
  std::string path;  // normalized, relative, without a leading "./"
  EntryType type = EntryType::file;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;   // after clamping
  std::string link_target;  // symlink or hardlink target as written in the archive
};

struct Violation {
  std::string entry;  // the entry's name as written in the archive ("" for the archive itself)
  std::string rule;   // "absolute path", "'..' component", "symlink leaves the release tree", ...
};

struct Report {
  std::string format;       // e.g. "GNU tar format", as libarchive names it
  std::string compression;  // "none", "gzip", "xz", "zstd"
  std::vector<Entry> entries;
  std::uint64_t total_bytes = 0;
  std::uint64_t compressed_bytes = 0;
  std::uint64_t files = 0, directories = 0, symlinks = 0, hardlinks = 0;
  std::vector<Violation> violations;  // every rule broken, in archive order
  bool ok() const { return violations.empty(); }
};

// Reads the whole archive without writing anything and reports every entry and every
// rule broken (for `patchwave release inspect` and `release add`). Errors only when
// the file cannot be read at all; a corrupt or truncated archive is a violation.
Result<Report> inspect(const std::string& archive_path, const Limits& limits = {});

struct Extracted {
  std::string path;  // the final directory
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// Extracts into `destination` (which must not exist) through a fresh staging directory
// next to it; on success everything is fsynced and the staging directory renamed to
// `destination` atomically. On any error the staging directory is removed and nothing
// else has changed. Errc::conflict if `destination` exists; the first violation is
// returned as an error (Errc::invalid_argument for hostile entries, Errc::parse for
// corrupt archives, Errc::limit for limits) naming the entry and the rule.
Result<Extracted> extract(const std::string& archive_path, const std::string& destination,
                          const Limits& limits = {});

}  // namespace pw::archive
