// File-system primitives for extraction, all relative to directory descriptors and none
// following a symlink: the staging tree is written through its own descriptors, never
// through path names an entry could redirect.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "common/errors/result.hpp"

namespace pw::archive::detail {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();
  // close(2) with its error (a delayed write error shows here).
  Status close();

 private:
  int fd_ = -1;
};

// "what: strerror(errno)" as an Errc::io error.
Error io_error(const std::string& what, int error_number);

// Opens `relative` below `dirfd`, following no symlink on the way and never leaving
// `dirfd`: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel has it
// (Linux 5.6+), else a walk component by component with O_NOFOLLOW. -1 and errno on error.
int open_beneath(int dirfd, const std::string& relative, int flags, mode_t mode = 0);

Status write_all(int fd, const char* data, std::size_t size);

// Removes `name` below `dirfd` and everything under it, following no symlink; makes
// directories writable first (their final modes may have been applied). Best effort.
void remove_tree(int dirfd, const std::string& name);

// Renames without replacing: renameat2(RENAME_NOREPLACE), or, where the file system
// cannot, a check that `to` does not exist and then renameat (which would replace an
// empty directory created in between; the check narrows that window, it cannot close it).
// Errc::conflict when `to` exists.
Status rename_noreplace(int dirfd, const std::string& from, const std::string& to);

}  // namespace pw::archive::detail
