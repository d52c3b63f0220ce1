// Reads a git repository (work tree or bare) at a branch, tag or commit, through
// libgit2. Only the object database is read; the work tree's files are never looked at.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "orchestrator/source/git_handles.hpp"
#include "orchestrator/source/source.hpp"
#include "orchestrator/source/source_internal.hpp"

namespace pw::source {

namespace {

using detail::BlobPtr;
using detail::CommitPtr;
using detail::git_failure;
using detail::ObjectPtr;
using detail::OdbPtr;
using detail::quote;
using detail::RepositoryPtr;
using detail::TreeEntryPtr;
using detail::TreePtr;

class GitReader final : public RepositoryReader {
 public:
  GitReader(std::string location, std::string ref, RepositoryPtr repo, OdbPtr odb, TreePtr tree,
            std::string commit)
      : location_(std::move(location)),
        ref_(std::move(ref)),
        repo_(std::move(repo)),
        odb_(std::move(odb)),
        tree_(std::move(tree)),
        commit_(std::move(commit)) {}

  Result<std::string> read(const std::string& path, std::uint64_t max_bytes) override {
    PW_TRY_ASSIGN(BlobPtr blob, load_blob(path, max_bytes));
    const auto* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
    const auto size = static_cast<std::size_t>(git_blob_rawsize(blob.get()));
    return size == 0 ? std::string() : std::string(data, size);
  }

  Status stream(const std::string& path, std::uint64_t max_bytes,
                const std::function<Status(std::string_view chunk)>& sink) override {
    // The blob is in memory once loaded, and its size is known before anything is
    // handed out: an over-long file fails before the sink sees a byte.
    PW_TRY_ASSIGN(BlobPtr blob, load_blob(path, max_bytes));
    const auto* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
    const auto size = static_cast<std::size_t>(git_blob_rawsize(blob.get()));
    for (std::size_t offset = 0; offset < size; offset += detail::kChunkSize) {
      const std::size_t length = std::min(detail::kChunkSize, size - offset);
      PW_TRY(sink(std::string_view(data + offset, length)));
    }
    return Ok{};
  }

  std::string description() const override {
    return "git " + location_ + " at " + ref_ + " (commit " + commit_.substr(0, 12) + ")";
  }

  std::string revision() const override { return commit_; }

 private:
  std::string where(const std::string& path) const { return quote(path) + " in " + description(); }

  std::string limit_message(const std::string& path, std::uint64_t size,
                            std::uint64_t max_bytes) const {
    return where(path) + " is " + std::to_string(size) + " bytes, more than the limit of " +
           std::to_string(max_bytes) + " bytes";
  }

  Result<BlobPtr> load_blob(const std::string& path, std::uint64_t max_bytes) const {
    PW_TRY(check_relative_path(path));

    git_tree_entry* raw_entry = nullptr;
    int rc = git_tree_entry_bypath(&raw_entry, tree_.get(), path.c_str());
    TreeEntryPtr entry(raw_entry);
    if (rc == GIT_ENOTFOUND) return make_error(Errc::not_found, "no file " + where(path));
    if (rc < 0) return git_failure(rc, "looking up " + where(path));

    switch (git_tree_entry_type(entry.get())) {
      case GIT_OBJECT_BLOB:
        break;
      case GIT_OBJECT_TREE:
        return make_error(Errc::not_found, where(path) + " is a directory, not a file");
      case GIT_OBJECT_COMMIT:
        return make_error(Errc::not_found, where(path) + " is a submodule, not a file");
      default:
        return make_error(Errc::not_found, where(path) + " is not a file");
    }
    if (git_tree_entry_filemode(entry.get()) == GIT_FILEMODE_LINK) {
      // Its blob holds the link's target, not file content.
      return make_error(Errc::not_found, where(path) + " is a symbolic link, not a file");
    }
    const git_oid* id = git_tree_entry_id(entry.get());

    // Read only the object header first, so a huge blob is refused before it is
    // inflated into memory.
    std::size_t header_size = 0;
    git_object_t header_type = GIT_OBJECT_INVALID;
    rc = git_odb_read_header(&header_size, &header_type, odb_.get(), id);
    if (rc < 0) return git_failure(rc, "reading the object header of " + where(path));
    if (header_size > max_bytes) {
      return make_error(Errc::limit, limit_message(path, header_size, max_bytes));
    }

    git_blob* raw_blob = nullptr;
    rc = git_blob_lookup(&raw_blob, repo_.get(), id);
    BlobPtr blob(raw_blob);
    if (rc < 0) return git_failure(rc, "reading " + where(path));
    const git_object_size_t size = git_blob_rawsize(blob.get());
    if (size > max_bytes) return make_error(Errc::limit, limit_message(path, size, max_bytes));
    return blob;
  }

  std::string location_;  // path or URL as the caller gave it
  std::string ref_;       // as the caller gave it
  // Declaration order matters: objects are released before the repository.
  RepositoryPtr repo_;
  OdbPtr odb_;
  TreePtr tree_;
  std::string commit_;  // full hex id
};

}  // namespace

bool is_git_repository(const std::string& dir) {
  if (dir.empty() || !detail::ensure_libgit2().ok()) return false;
  return git_repository_open_ext(nullptr, dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) == 0;
}

Result<std::unique_ptr<RepositoryReader>> open_git(const std::string& path_or_url,
                                                   const std::string& ref_or_empty) {
  PW_TRY(detail::ensure_libgit2());
  if (path_or_url.empty()) return make_error(Errc::invalid_argument, "empty repository path");
  const std::string ref = ref_or_empty.empty() ? std::string("HEAD") : ref_or_empty;

  std::string path = path_or_url;
  if (!detail::url_scheme(path_or_url).empty()) {
    PW_TRY_ASSIGN(path, detail::local_path_from_url(path_or_url));
  }
  const std::string repo_name = "git repository " + quote(path_or_url);

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return make_error(Errc::not_found, "repository path does not exist: " + quote(path));
    }
    return make_error(Errc::io,
                      "cannot access repository path " + quote(path) + ": " + std::strerror(err));
  }

  RepositoryPtr repo;
  int rc = detail::open_repository_at(repo, path);
  if (rc == GIT_ENOTFOUND) {
    return make_error(Errc::invalid_argument, "not a git repository: " + quote(path));
  }
  if (rc < 0) return git_failure(rc, "opening " + repo_name);

  git_odb* raw_odb = nullptr;
  rc = git_repository_odb(&raw_odb, repo.get());
  OdbPtr odb(raw_odb);
  if (rc < 0) return git_failure(rc, "opening the object database of " + repo_name);

  const std::string what = "resolving ref " + quote(ref) + " in " + repo_name;
  git_object* raw_object = nullptr;
  rc = git_revparse_single(&raw_object, repo.get(), ref.c_str());
  ObjectPtr object(raw_object);
  if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
    return git_failure(rc, what, Errc::not_found);
  }
  if (rc == GIT_EAMBIGUOUS || rc == GIT_EINVALIDSPEC) {
    return git_failure(rc, what, Errc::invalid_argument);
  }
  if (rc < 0) return git_failure(rc, what);

  git_object* raw_peeled = nullptr;
  rc = git_object_peel(&raw_peeled, object.get(), GIT_OBJECT_COMMIT);
  ObjectPtr peeled(raw_peeled);
  if (rc < 0) {
    return git_failure(rc, "ref " + quote(ref) + " in " + repo_name + " does not name a commit",
                       Errc::invalid_argument);
  }
  const git_oid commit_id = *git_object_id(peeled.get());

  git_commit* raw_commit = nullptr;
  rc = git_commit_lookup(&raw_commit, repo.get(), &commit_id);
  CommitPtr commit(raw_commit);
  if (rc < 0) return git_failure(rc, "reading the commit of " + quote(ref) + " in " + repo_name);

  git_tree* raw_tree = nullptr;
  rc = git_commit_tree(&raw_tree, commit.get());
  TreePtr tree(raw_tree);
  if (rc < 0) return git_failure(rc, "reading the tree of " + quote(ref) + " in " + repo_name);

  std::unique_ptr<RepositoryReader> reader =
      std::make_unique<GitReader>(path_or_url, ref, std::move(repo), std::move(odb),
                                  std::move(tree), detail::oid_hex(commit_id));
  return reader;
}

}  // namespace pw::source
