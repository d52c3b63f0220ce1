#include "common/archive/disk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "common/archive/entry_rules.hpp"

namespace pw::archive::detail {

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status Fd::close() {
  int fd = release();
  if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) return io_error("close", errno);
  return Ok{};
}

Error io_error(const std::string& what, int error_number) {
  return make_error(Errc::io, what + ": " + std::strerror(error_number));
}

namespace {

std::atomic<bool> g_no_openat2{false};

int open_walk(int dirfd, const std::string& relative, int flags, mode_t mode) {
  auto components = split_path(relative);
  Fd current;
  int at = dirfd;
  for (std::size_t i = 0; i + 1 < components.size(); ++i) {
    if (components[i].empty() || components[i] == ".") continue;
    if (components[i] == "..") {
      errno = EXDEV;
      return -1;
    }
    int next = ::openat(at, components[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return -1;
    current = Fd(next);
    at = current.get();
  }
  const std::string& last = components.back();
  if (last == "..") {
    errno = EXDEV;
    return -1;
  }
  return ::openat(at, last.empty() ? "." : last.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

}  // namespace

int open_beneath(int dirfd, const std::string& relative, int flags, mode_t mode) {
  if (!g_no_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<__u64>(static_cast<unsigned int>(flags | O_CLOEXEC));
    how.mode = (flags & O_CREAT) != 0 ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    long fd = ::syscall(SYS_openat2, dirfd, relative.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    // ENOSYS: a kernel before 5.6; EPERM: a seccomp filter that does not know openat2
    // (older container runtimes). If the walk then works, openat2 is not used again.
    if (errno != ENOSYS && errno != EPERM) return -1;
    int walked = open_walk(dirfd, relative, flags, mode);
    if (walked >= 0) g_no_openat2.store(true, std::memory_order_relaxed);
    return walked;
  }
  return open_walk(dirfd, relative, flags, mode);
}

Status write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return Ok{};
}

void remove_tree(int dirfd, const std::string& name) {
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    // Not a directory (or a symlink, or already gone): unlink the name itself.
    ::unlinkat(dirfd, name.c_str(), 0);
    return;
  }
  (void)::fchmod(fd, 0700);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  std::vector<std::pair<std::string, bool>> children;  // name, maybe a directory
  while (struct dirent* entry = ::readdir(dir)) {
    std::string child = entry->d_name;
    if (child == "." || child == "..") continue;
    children.emplace_back(std::move(child), entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN);
  }
  for (const auto& [child, maybe_dir] : children) {
    if (maybe_dir) {
      remove_tree(::dirfd(dir), child);
    } else {
      ::unlinkat(::dirfd(dir), child.c_str(), 0);
    }
  }
  ::closedir(dir);
  ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR);
}

Status rename_noreplace(int dirfd, const std::string& from, const std::string& to) {
  if (::renameat2(dirfd, from.c_str(), dirfd, to.c_str(), RENAME_NOREPLACE) == 0) return Ok{};
  if (errno == EEXIST) return make_error(Errc::conflict, "destination exists");
  if (errno != EINVAL && errno != ENOSYS) return io_error("rename", errno);
  struct stat info {};
  if (::fstatat(dirfd, to.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) {
    return make_error(Errc::conflict, "destination exists");
  }
  if (::renameat(dirfd, from.c_str(), dirfd, to.c_str()) != 0) return io_error("rename", errno);
  return Ok{};
}

}  // namespace pw::archive::detail
