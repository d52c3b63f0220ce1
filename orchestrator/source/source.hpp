// The manifests repository: where signed metadata and release artifacts are read from
// and published to. Two kinds:
//  - a git repository (libgit2), read at a branch, tag or commit from a local path or a
//    file:// URL (libgit2 clones remote URLs into a scratch directory first);
//  - a plain directory, read from the file system.
// Readers only hand out bytes; every byte is verified by the trust module afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::source {

class RepositoryReader {
 public:
  virtual ~RepositoryReader() = default;

  // The whole file at a repository-relative path ("metadata/1.root.json").
  // Errc::not_found if there is no such file, Errc::limit if it is larger than
  // max_bytes, Errc::invalid_argument for an unsafe path (absolute, "..", empty
  // component, backslash, NUL).
  virtual Result<std::string> read(const std::string& path, std::uint64_t max_bytes) = 0;

  // Streams the file to `sink` in chunks. Stops with Errc::limit once more than
  // max_bytes have been seen, so a caller that expects N bytes passes N and learns of
  // an over-long file without reading it all. An error returned by the sink stops the
  // stream and is returned.
  virtual Status stream(const std::string& path, std::uint64_t max_bytes,
                        const std::function<Status(std::string_view chunk)>& sink) = 0;

  // For people and the audit log: "git /srv/manifests at main (commit 3f2a...)".
  virtual std::string description() const = 0;

  // The git commit id that was read, or "" for a plain directory.
  virtual std::string revision() const = 0;
};

// Opens "PATH", "PATH@REF", "file:///abs/path" or "file:///abs/path@REF".
// A PATH that is a git repository (work tree or bare) is read through git at REF
// (default HEAD); a plain directory is read from disk and cannot take a REF.
Result<std::unique_ptr<RepositoryReader>> open_reader(const std::string& spec);

Result<std::unique_ptr<RepositoryReader>> open_git(const std::string& path_or_url,
                                                   const std::string& ref);
Result<std::unique_ptr<RepositoryReader>> open_directory(const std::string& path);

// Checks a repository-relative path: non-empty, relative, no "." or ".." or empty
// components, no backslash or NUL.
Status check_relative_path(std::string_view path);

// Writing side, used by `patchwave repo init` and `release publish`.
// Initialises a git repository with a work tree at `dir` (creating `dir`), unless one
// is already there.
Status init_git(const std::string& dir);
bool is_git_repository(const std::string& dir);

// Stages every file under the given repository-relative directories (additions,
// changes and deletions) and commits them on the current branch of the work tree at
// `dir`. Returns the new commit id (hex). Refuses (Errc::conflict) when nothing
// changed. Author and committer: the git configuration's user if set, otherwise
// "patchwave <patchwave@localhost>".
Result<std::string> commit_paths(const std::string& dir, const std::vector<std::string>& subdirs,
                                 const std::string& message);

}  // namespace pw::source
