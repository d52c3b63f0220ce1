// Private to the source module: RAII owners for libgit2 handles, one-time library
// initialisation, and conversion of libgit2 errors into pw::Error.
#pragma once

#include <git2.h>

#include <memory>
#include <string>

#include "common/errors/result.hpp"

namespace pw::source::detail {

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* handle) const noexcept { Free(handle); }
};

template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepositoryPtr = GitPtr<git_repository, git_repository_free>;
using OdbPtr = GitPtr<git_odb, git_odb_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using IndexPtr = GitPtr<git_index, git_index_free>;
using SignaturePtr = GitPtr<git_signature, git_signature_free>;

// Initialises libgit2 once per process (never shut down: handles may outlive main's
// locals, and the library's global state is harmless at exit).
inline Status ensure_libgit2() {
  static const int init_result = git_libgit2_init();
  if (init_result < 0) {
    const git_error* err = git_error_last();
    return make_error(Errc::git, std::string("initialising libgit2: ") +
                                     (err != nullptr && err->message != nullptr ? err->message
                                                                                : "unknown error"));
  }
  return Ok{};
}

// "<what>: <libgit2's message>", with `code` (Errc::git unless the caller knows better).
inline Error git_failure(int rc, const std::string& what, Errc code = Errc::git) {
  const git_error* err = git_error_last();
  std::string detail = err != nullptr && err->message != nullptr
                           ? std::string(err->message)
                           : "libgit2 error " + std::to_string(rc);
  return make_error(code, what + ": " + detail);
}

inline std::string oid_hex(const git_oid& oid) {
  char buffer[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(buffer, sizeof buffer, &oid);
  return std::string(buffer);
}

// Opens the repository at exactly `path` (a work tree or a bare repository), without
// searching parent directories.
inline int open_repository_at(RepositoryPtr& out, const std::string& path) {
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
  out.reset(raw);
  return rc;
}

}  // namespace pw::source::detail
