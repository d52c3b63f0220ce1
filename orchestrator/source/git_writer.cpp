// Writing side of a git manifests repository: `patchwave repo init` and
// `release publish` stage and commit their output through libgit2.
#include <string>
#include <vector>

#include "orchestrator/source/git_handles.hpp"
#include "orchestrator/source/source.hpp"
#include "orchestrator/source/source_internal.hpp"

namespace pw::source {

namespace {

using detail::CommitPtr;
using detail::git_failure;
using detail::IndexPtr;
using detail::quote;
using detail::RepositoryPtr;
using detail::SignaturePtr;
using detail::TreePtr;

// Subdirectories become libgit2 pathspecs ("subdir/*"), so besides being safe relative
// paths they must not contain pattern characters ('*', '?', '[', a leading '!', ...).
// Only a conservative set of characters is accepted.
Status check_subdir(const std::string& subdir) {
  PW_TRY(check_relative_path(subdir));
  for (char c : subdir) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' || c == '-' ||
                         c == '+' || c == '@' || c == '=' || c == ',' || c == '~';
    if (!allowed) {
      return make_error(Errc::invalid_argument,
                        "cannot commit directory " + quote(subdir) +
                            ": only letters, digits and / . _ - + @ = , ~ are allowed in it");
    }
  }
  return Ok{};
}

}  // namespace

Status init_git(const std::string& dir) {
  PW_TRY(detail::ensure_libgit2());
  if (dir.empty()) return make_error(Errc::invalid_argument, "empty repository directory");
  if (is_git_repository(dir)) return Ok{};

  git_repository_init_options options;
  int rc = git_repository_init_options_init(&options, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
  if (rc < 0) return git_failure(rc, "initialising git repository " + quote(dir));
  options.flags = GIT_REPOSITORY_INIT_MKPATH;
  options.initial_head = "main";

  git_repository* raw = nullptr;
  rc = git_repository_init_ext(&raw, dir.c_str(), &options);
  RepositoryPtr repo(raw);
  if (rc < 0) return git_failure(rc, "initialising git repository " + quote(dir));
  return Ok{};
}

Result<std::string> commit_paths(const std::string& dir, const std::vector<std::string>& subdirs,
                                 const std::string& message) {
  PW_TRY(detail::ensure_libgit2());
  const std::string repo_name = "git repository " + quote(dir);
  if (subdirs.empty()) {
    return make_error(Errc::invalid_argument,
                      "committing in " + repo_name + ": no directories to commit");
  }
  for (const std::string& subdir : subdirs) PW_TRY(check_subdir(subdir));
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return make_error(Errc::invalid_argument, "committing in " + repo_name + ": empty message");
  }

  RepositoryPtr repo;
  int rc = detail::open_repository_at(repo, dir);
  if (rc == GIT_ENOTFOUND) {
    return make_error(Errc::not_found, "not a git repository: " + quote(dir));
  }
  if (rc < 0) return git_failure(rc, "opening " + repo_name);
  if (git_repository_is_bare(repo.get()) != 0) {
    return make_error(Errc::invalid_argument,
                      "cannot commit files in " + repo_name + ": it is a bare repository");
  }

  git_index* raw_index = nullptr;
  rc = git_repository_index(&raw_index, repo.get());
  IndexPtr index(raw_index);
  if (rc < 0) return git_failure(rc, "opening the index of " + repo_name);

  // "subdir/*": wildmatch without FNM_PATHNAME, so '*' also matches nested files.
  std::vector<std::string> patterns;
  patterns.reserve(subdirs.size());
  for (const std::string& subdir : subdirs) patterns.push_back(subdir + "/*");
  std::vector<char*> pattern_ptrs;
  pattern_ptrs.reserve(patterns.size());
  for (std::string& pattern : patterns) pattern_ptrs.push_back(pattern.data());
  const git_strarray pathspec{pattern_ptrs.data(), pattern_ptrs.size()};

  std::string dirs_text;
  for (const std::string& subdir : subdirs) {
    dirs_text += (dirs_text.empty() ? "" : ", ") + subdir;
  }
  const std::string staging = "staging " + dirs_text + " in " + repo_name;

  // FORCE: every file is published, even one a .gitignore would skip.
  rc = git_index_add_all(index.get(), &pathspec, GIT_INDEX_ADD_FORCE, nullptr, nullptr);
  if (rc < 0) return git_failure(rc, staging);
  // Tracked files that were changed or deleted in the work tree.
  rc = git_index_update_all(index.get(), &pathspec, nullptr, nullptr);
  if (rc < 0) return git_failure(rc, staging);
  rc = git_index_write(index.get());
  if (rc < 0) return git_failure(rc, "writing the index of " + repo_name);

  git_oid tree_id;
  rc = git_index_write_tree(&tree_id, index.get());
  if (rc < 0) return git_failure(rc, "writing the tree for " + repo_name);

  CommitPtr parent;
  git_oid parent_id;
  rc = git_reference_name_to_id(&parent_id, repo.get(), "HEAD");
  if (rc == 0) {
    git_commit* raw_parent = nullptr;
    rc = git_commit_lookup(&raw_parent, repo.get(), &parent_id);
    parent.reset(raw_parent);
    if (rc < 0) return git_failure(rc, "reading the HEAD commit of " + repo_name);
  } else if (rc != GIT_ENOTFOUND && rc != GIT_EUNBORNBRANCH) {
    return git_failure(rc, "resolving HEAD in " + repo_name);
  }

  const bool unchanged = parent != nullptr
                             ? git_oid_equal(git_commit_tree_id(parent.get()), &tree_id) != 0
                             : git_index_entrycount(index.get()) == 0;
  if (unchanged) {
    return make_error(Errc::conflict, "nothing to commit in " + repo_name + " under " + dirs_text);
  }

  git_tree* raw_tree = nullptr;
  rc = git_tree_lookup(&raw_tree, repo.get(), &tree_id);
  TreePtr tree(raw_tree);
  if (rc < 0) return git_failure(rc, "reading the new tree of " + repo_name);

  git_signature* raw_signature = nullptr;
  rc = git_signature_default(&raw_signature, repo.get());
  SignaturePtr signature(raw_signature);
  if (rc == GIT_ENOTFOUND) {
    raw_signature = nullptr;
    rc = git_signature_now(&raw_signature, "patchwave", "patchwave@localhost");
    signature.reset(raw_signature);
  }
  if (rc < 0) return git_failure(rc, "making the commit signature for " + repo_name);

  const std::string full_message = message.back() == '\n' ? message : message + "\n";
  const git_commit* parents[] = {parent.get()};
  git_oid commit_id;
  rc = git_commit_create(&commit_id, repo.get(), "HEAD", signature.get(), signature.get(), nullptr,
                         full_message.c_str(), tree.get(), parent != nullptr ? 1 : 0, parents);
  if (rc < 0) return git_failure(rc, "committing in " + repo_name);
  return detail::oid_hex(commit_id);
}

}  // namespace pw::source
