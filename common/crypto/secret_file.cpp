// Files that hold secrets: read only when no one but the owner can read or write them,
// written 0600 through a temporary file and renamed into place without replacing.
#include "common/crypto/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/crypto/hash.hpp"

namespace pw::crypto {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::string octal_mode(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

// Closes a file descriptor on scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Reads an entire (small) file descriptor.
Result<std::string> read_all(int fd, const std::string& path, std::size_t limit) {
  std::string out;
  std::array<char, 4096> buffer{};
  for (;;) {
    ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      OPENSSL_cleanse(out.data(), out.size());
      return make_error(Errc::io, path + ": read failed: " + errno_text(error));
    }
    if (got == 0) break;
    out.append(buffer.data(), static_cast<std::size_t>(got));
    if (out.size() > limit) {
      OPENSSL_cleanse(out.data(), out.size());
      OPENSSL_cleanse(buffer.data(), buffer.size());
      return make_error(Errc::limit, path + ": private key file is larger than " +
                                         std::to_string(limit) + " bytes");
    }
  }
  OPENSSL_cleanse(buffer.data(), buffer.size());
  return out;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t wrote = ::write(fd, data.data(), data.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::io, path + ": write failed: " + errno_text(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(wrote));
  }
  return Ok{};
}

std::string parent_dir(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string random_suffix() {
  std::array<unsigned char, 8> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return std::to_string(::getpid());
  }
  return to_hex(Bytes(random.begin(), random.end()));
}

}  // namespace

Result<std::string> read_secret_file(const std::string& path, std::size_t limit) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    int error = errno;
    return make_error(error == ENOENT ? Errc::not_found : Errc::io,
                      path + ": cannot open private key: " + errno_text(error));
  }
  // fstat on the opened descriptor: the mode checked is that of the file read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(Errc::io, path + ": cannot stat private key: " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(Errc::invalid_argument, path + ": private key is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return make_error(Errc::permission,
                      path +
                          ": private key file is readable or writable by group or others "
                          "(mode " +
                          octal_mode(st.st_mode) + "); run chmod 600 " + path);
  }
  return read_all(fd.get(), path, limit);
}

Status write_secret_file(const std::string& path, std::string_view content) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return make_error(Errc::conflict, path + ": already exists; refusing to overwrite a key");
  }
  if (errno != ENOENT) {
    return make_error(Errc::io, path + ": cannot stat: " + errno_text(errno));
  }

  std::string dir = parent_dir(path);
  std::string base = path.substr(path.find_last_of('/') + 1);  // npos + 1 == 0
  std::string temp;
  Fd fd(-1);
  for (int attempt = 0; attempt < 16 && fd.get() < 0; ++attempt) {
    temp = dir + "/." + base + ".tmp-" + random_suffix();
    fd.reset(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0 && errno != EEXIST) {
      return make_error(Errc::io, temp + ": cannot create: " + errno_text(errno));
    }
  }
  if (fd.get() < 0) return make_error(Errc::io, path + ": cannot create a temporary file");

  auto fail = [&](Error error) -> Status {
    ::close(fd.release());
    ::unlink(temp.c_str());
    return error;
  };

  Status written = write_all(fd.get(), content, temp);
  if (!written.ok()) return fail(std::move(written).error());
  if (::fsync(fd.get()) != 0) {
    return fail(make_error(Errc::io, temp + ": fsync failed: " + errno_text(errno)));
  }
  if (::close(fd.release()) != 0) {
    ::unlink(temp.c_str());
    return make_error(Errc::io, temp + ": close failed: " + errno_text(errno));
  }

  // RENAME_NOREPLACE closes the race with a file created since the check above; fall
  // back to a plain rename on file systems that do not support it.
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    int error = errno;
    if (error == EINVAL || error == ENOSYS || error == ENOTSUP) {
      if (::rename(temp.c_str(), path.c_str()) == 0)
        error = 0;
      else
        error = errno;
    }
    if (error != 0) {
      ::unlink(temp.c_str());
      if (error == EEXIST) {
        return make_error(Errc::conflict, path + ": already exists; refusing to overwrite a key");
      }
      return make_error(Errc::io, path + ": cannot rename into place: " + errno_text(error));
    }
  }

  // Make the new directory entry durable too.
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) (void)::fsync(dir_fd.get());
  return Ok{};
}

}  // namespace pw::crypto
