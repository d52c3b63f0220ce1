// extract(): every entry is checked (checker.cpp) before a byte of it is written, and
// written by this file, not by archive_write_disk: through descriptors of the staging
// directory, with O_CREAT|O_EXCL|O_NOFOLLOW for files, mkdirat/symlinkat/linkat for the
// rest, and every directory reached with open_beneath (openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS). The checker refuses what could escape; the kernel flags make a
// bug in the checker fail instead of escaping. Directory modes and mtimes are applied
// last, children first. Durability: each file's writeback is started as soon as it is
// written (sync_file_range), then one syncfs() waits for the whole staging tree, data and
// directories (one call instead of an fsync per file and per directory), the staging
// directory is renamed into place with RENAME_NOREPLACE, and the parent is fsynced.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "common/archive/archive.hpp"
#include "common/archive/checker.hpp"
#include "common/archive/disk.hpp"
#include "common/archive/reader.hpp"

namespace pw::archive {
namespace {

using detail::CheckedEntry;
using detail::EntryChecker;
using detail::Fd;
using detail::io_error;
using detail::open_beneath;
using detail::RawHeader;
using detail::RawType;
using detail::Reader;
using Node = detail::Tree::Node;

Error entry_error(Errc code, const std::string& entry, const std::string& rule) {
  if (entry.empty()) return make_error(code, rule);
  return make_error(code, "entry '" + entry + "': " + rule);
}

Error entry_error(const detail::Refusal& refusal) {
  return entry_error(refusal.code, refusal.violation.entry, refusal.violation.rule);
}

struct timespec mtime_of(bool has_mtime, std::int64_t sec, long nsec) {
  struct timespec t {};
  if (!has_mtime) {
    t.tv_nsec = UTIME_OMIT;
  } else {
    t.tv_sec = static_cast<time_t>(sec);
    t.tv_nsec = nsec >= 0 && nsec < 1000000000L ? nsec : 0;
  }
  return t;
}

// Writes the checked entries of one archive below `root`.
class Extraction {
 public:
  Extraction(Reader& reader, const Limits& limits, int root)
      : reader_(reader), checker_(limits), root_(root) {}

  Status run() {
    while (true) {
      PW_TRY_ASSIGN(auto next, reader_.next());
      if (!next) break;
      const RawHeader& header = *next;
      CheckedEntry checked = checker_.check(header);
      if (!checked.refusals.empty()) return entry_error(checked.refusals.front());
      PW_TRY(write(header, checked));
    }
    auto refusals = checker_.finish();
    if (!refusals.empty()) return entry_error(refusals.front());
    return finish_directories();
  }

  std::uint64_t files = 0, bytes = 0;

 private:
  Status write(const RawHeader& header, CheckedEntry& checked) {
    Node& node = *checked.node;
    Status status = Ok{};
    switch (header.type) {
      case RawType::directory:
        status = ensure_dir(node);
        node.mode = checked.entry.mode;
        node.has_mtime = header.has_mtime;
        node.mtime_sec = header.mtime_sec;
        node.mtime_nsec = header.mtime_nsec;
        break;
      case RawType::file:
        status = write_file(header, checked);
        break;
      case RawType::symlink:
        status = write_symlink(header, node);
        break;
      case RawType::hardlink:
        status = write_hardlink(node, *checked.link_target);
        break;
      default:
        return make_error(Errc::internal, "unchecked entry type");
    }
    // Whatever data a non-file entry carries is read past here, so that the next
    // header's budget counts only header bytes.
    if (status.ok() && header.type != RawType::file) status = reader_.skip_data();
    if (!status.ok()) {
      Error error = std::move(status).error();
      return entry_error(error.code, detail::printable(header.name), error.message);
    }
    return Ok{};
  }

  // A descriptor (O_PATH) of a directory of the tree, created with its parents if needed.
  Result<int> dir_fd(Node& dir) {
    if (dir.parent == nullptr) return root_;
    if (&dir == cached_dir_) return cached_fd_.get();
    PW_TRY(ensure_dir(dir));
    int fd = open_beneath(root_, detail::Tree::path_of(dir), O_PATH | O_DIRECTORY);
    if (fd < 0) return io_error("opening directory " + detail::Tree::path_of(dir), errno);
    cached_fd_ = Fd(fd);
    cached_dir_ = &dir;
    return fd;
  }

  Status ensure_dir(Node& dir) {
    if (dir.on_disk) return Ok{};
    PW_TRY_ASSIGN(int parent, dir_fd(*dir.parent));
    if (::mkdirat(parent, dir.name.c_str(), 0700) != 0) return io_error("mkdir", errno);
    dir.on_disk = true;
    return Ok{};
  }

  Status write_file(const RawHeader& header, CheckedEntry& checked) {
    Node& node = *checked.node;
    PW_TRY_ASSIGN(int parent, dir_fd(*node.parent));
    Fd fd(::openat(parent, node.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   0600));
    if (!fd.valid()) return io_error("create", errno);
    std::uint64_t position = 0;
    while (true) {
      PW_TRY_ASSIGN(Reader::Block block, reader_.read_block());
      if (block.end) break;
      if (block.offset > header.size || block.size > header.size - block.offset) {
        return make_error(Errc::parse, "data beyond the entry's size");
      }
      if (block.offset != position) {  // a hole in a sparse file
        if (::lseek(fd.get(), static_cast<off_t>(block.offset), SEEK_SET) < 0) {
          return io_error("seek", errno);
        }
        position = block.offset;
      }
      PW_TRY(detail::write_all(fd.get(), block.data, block.size));
      position += block.size;
    }
    if (position < header.size && ::ftruncate(fd.get(), static_cast<off_t>(header.size)) != 0) {
      return io_error("truncate", errno);
    }
    if (::fchmod(fd.get(), checked.entry.mode) != 0) return io_error("chmod", errno);
    struct timespec times[2] = {mtime_of(false, 0, 0),
                                mtime_of(header.has_mtime, header.mtime_sec, header.mtime_nsec)};
    if (::futimens(fd.get(), times) != 0) return io_error("set mtime", errno);
    // Start writing this file back now, while the next ones are decompressed, so that the
    // final syncfs() has little left to wait for (measured: 1 GiB tar.gz onto ext4,
    // 9.4 s -> 6-7 s). Advisory: errors surface in syncfs().
    (void)::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
    PW_TRY(fd.close());
    ++files;
    bytes += header.size;
    return Ok{};
  }

  Status write_symlink(const RawHeader& header, Node& node) {
    PW_TRY_ASSIGN(int parent, dir_fd(*node.parent));
    if (::symlinkat(header.link_target.c_str(), parent, node.name.c_str()) != 0) {
      return io_error("symlink", errno);
    }
    struct timespec times[2] = {mtime_of(false, 0, 0),
                                mtime_of(header.has_mtime, header.mtime_sec, header.mtime_nsec)};
    if (::utimensat(parent, node.name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return io_error("set mtime", errno);
    }
    return Ok{};
  }

  Status write_hardlink(Node& node, Node& target) {
    // Two directories at once: the target's is opened apart from the cache.
    Fd target_dir;
    int target_parent = root_;
    if (target.parent->parent != nullptr) {
      target_dir =
          Fd(open_beneath(root_, detail::Tree::path_of(*target.parent), O_PATH | O_DIRECTORY));
      if (!target_dir.valid()) return io_error("opening the hardlink target's directory", errno);
      target_parent = target_dir.get();
    }
    PW_TRY_ASSIGN(int parent, dir_fd(*node.parent));
    if (::linkat(target_parent, target.name.c_str(), parent, node.name.c_str(), 0) != 0) {
      return io_error("link", errno);
    }
    return Ok{};
  }

  // Modes and mtimes of directories, children before parents (a read-only directory
  // must not stop its children, and writing into a directory changes its mtime).
  Status finish_directories() {
    cached_fd_.reset();
    cached_dir_ = nullptr;
    Status status = Ok{};
    checker_.tree().visit_directories_post_order([&](Node& dir) {
      if (!status.ok()) return;
      std::string path = detail::Tree::path_of(dir);
      Fd fd(open_beneath(root_, path, O_RDONLY | O_DIRECTORY));
      if (!fd.valid()) {
        status = io_error("opening directory " + path, errno);
        return;
      }
      if (::fchmod(fd.get(), dir.declared ? dir.mode : 0755) != 0) {
        status = io_error("chmod " + path, errno);
        return;
      }
      if (dir.declared && dir.has_mtime) {
        struct timespec times[2] = {mtime_of(false, 0, 0),
                                    mtime_of(true, dir.mtime_sec, dir.mtime_nsec)};
        if (::futimens(fd.get(), times) != 0) status = io_error("set mtime " + path, errno);
      }
    });
    PW_TRY(status);
    if (::fchmod(root_, 0755) != 0) return io_error("chmod", errno);
    return Ok{};
  }

  Reader& reader_;
  EntryChecker checker_;
  int root_;
  Node* cached_dir_ = nullptr;
  Fd cached_fd_;
};

// Removes the staging directory unless the extraction was committed.
class StagingGuard {
 public:
  StagingGuard(int parent, std::string name) : parent_(parent), name_(std::move(name)) {}
  ~StagingGuard() {
    if (!committed_) detail::remove_tree(parent_, name_);
  }
  StagingGuard(const StagingGuard&) = delete;
  StagingGuard& operator=(const StagingGuard&) = delete;
  void commit() { committed_ = true; }

 private:
  int parent_;
  std::string name_;
  bool committed_ = false;
};

struct Destination {
  std::string parent;  // real path
  std::string name;
};

Result<Destination> split_destination(const std::string& destination) {
  std::string path = destination;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto slash = path.rfind('/');
  Destination out;
  out.name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (out.name.empty() || out.name == "." || out.name == "..") {
    return make_error(Errc::invalid_argument,
                      "destination '" + destination + "' does not name a new directory");
  }
  char* real = ::realpath(parent.c_str(), nullptr);
  if (real == nullptr) {
    return make_error(Errc::not_found, "parent directory of the destination: " + parent + ": " +
                                           std::strerror(errno));
  }
  out.parent = real;
  ::free(real);
  return out;
}

Result<Extracted> extract_into(const std::string& archive_path, const std::string& destination,
                               const Limits& limits) {
  PW_TRY_ASSIGN(Destination dest, split_destination(destination));
  Fd parent(::open(dest.parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent.valid()) return io_error("opening " + dest.parent, errno);
  struct stat info {};
  if (::fstatat(parent.get(), dest.name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) {
    return make_error(Errc::conflict, "destination " + destination + " exists");
  }
  PW_TRY_ASSIGN(auto reader, Reader::open(archive_path, limits));

  std::string pattern = dest.parent + "/." + dest.name.substr(0, 200) + ".staging-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) return io_error("creating a staging directory", errno);
  std::string staging = buffer.data();
  std::string staging_name = staging.substr(dest.parent.size() + 1);
  StagingGuard guard(parent.get(), staging_name);
  Fd root(::openat(parent.get(), staging_name.c_str(),
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return io_error("opening " + staging, errno);

  Extraction extraction(*reader, limits, root.get());
  PW_TRY(extraction.run());
  if (::syncfs(root.get()) != 0) return io_error("syncfs " + staging, errno);
  PW_TRY(root.close());
  if (auto renamed = detail::rename_noreplace(parent.get(), staging_name, dest.name);
      !renamed.ok()) {
    if (renamed.error().code == Errc::conflict) {
      return make_error(Errc::conflict, "destination " + destination + " exists");
    }
    return std::move(renamed).error();
  }
  guard.commit();
  if (::fsync(parent.get()) != 0) return io_error("fsync " + dest.parent, errno);
  return Extracted{dest.parent + "/" + dest.name, extraction.files, extraction.bytes};
}

}  // namespace

Result<Extracted> extract(const std::string& archive_path, const std::string& destination,
                          const Limits& limits) {
  auto result = extract_into(archive_path, destination, limits);
  if (!result.ok()) return std::move(result).error().with_context("extracting " + archive_path);
  return result;
}

}  // namespace pw::archive
