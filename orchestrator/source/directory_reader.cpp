// Reads a repository that is a plain directory on the local file system.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "orchestrator/source/source.hpp"
#include "orchestrator/source/source_internal.hpp"

namespace pw::source {

namespace {

using detail::quote;

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileDescriptor& operator=(FileDescriptor&&) = delete;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }

 private:
  int fd_;
};

// realpath(3) into a std::string; errno is left set on failure.
bool real_path(const std::string& path, std::string& out) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (resolved == nullptr) return false;
  out = resolved.get();
  return true;
}

// True if `path` (absolute, canonical) is `root` or lies below it.
bool is_within(const std::string& root, const std::string& path) {
  if (root == "/") return !path.empty() && path.front() == '/';
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

class DirectoryReader final : public RepositoryReader {
 public:
  DirectoryReader(std::string display_path, std::string root)
      : display_path_(std::move(display_path)), root_(std::move(root)) {}

  Result<std::string> read(const std::string& path, std::uint64_t max_bytes) override {
    PW_TRY_ASSIGN(OpenFile file, open_file(path, max_bytes));
    std::string content;
    content.reserve(static_cast<std::size_t>(file.size));
    PW_TRY(read_chunks(file, path, max_bytes, [&content](std::string_view chunk) -> Status {
      content.append(chunk);
      return Ok{};
    }));
    return content;
  }

  Status stream(const std::string& path, std::uint64_t max_bytes,
                const std::function<Status(std::string_view chunk)>& sink) override {
    PW_TRY_ASSIGN(OpenFile file, open_file(path, max_bytes));
    return read_chunks(file, path, max_bytes, sink);
  }

  std::string description() const override { return "directory " + display_path_; }
  std::string revision() const override { return ""; }

 private:
  struct OpenFile {
    FileDescriptor fd;
    std::uint64_t size;  // at open time; the file may still change while it is read
  };

  std::string where(const std::string& path) const { return quote(path) + " in " + description(); }

  Result<OpenFile> open_file(const std::string& path, std::uint64_t max_bytes) const {
    PW_TRY(check_relative_path(path));
    const std::string joined = root_ + (root_ == "/" ? "" : "/") + path;

    // Symbolic links inside the directory are followed, but the file they lead to must
    // stay below the (canonical) root.
    std::string resolved;
    if (!real_path(joined, resolved)) {
      int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        return make_error(Errc::not_found, "no file " + where(path));
      }
      if (err == ELOOP) {
        return make_error(Errc::invalid_argument,
                          "too many symbolic links resolving " + where(path));
      }
      return make_error(Errc::io, "cannot resolve " + where(path) + ": " + std::strerror(err));
    }
    if (!is_within(root_, resolved)) {
      return make_error(Errc::invalid_argument,
                        "refusing " + where(path) +
                            ": it resolves outside the repository directory, to " +
                            quote(resolved));
    }

    // O_NOFOLLOW: the canonical path must not have become a symlink in the meantime;
    // O_NONBLOCK: opening a FIFO must not hang (it is refused below anyway).
    int raw = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (raw < 0) {
      int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        return make_error(Errc::not_found, "no file " + where(path));
      }
      if (err == ELOOP) {
        return make_error(Errc::invalid_argument,
                          "refusing " + where(path) + ": it changed into a symbolic link");
      }
      return make_error(Errc::io, "cannot open " + where(path) + ": " + std::strerror(err));
    }
    FileDescriptor fd(raw);

    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return make_error(Errc::io, "cannot stat " + where(path) + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      return make_error(Errc::not_found, where(path) + " is not a regular file");
    }

    // Re-check what was actually opened, in case a directory on the way was swapped
    // for a symlink between realpath() and open(). Skipped where /proc is missing.
    std::string opened;
    if (real_path("/proc/self/fd/" + std::to_string(fd.get()), opened) &&
        !is_within(root_, opened)) {
      return make_error(Errc::invalid_argument, "refusing " + where(path) +
                                                    ": the file opened lies outside the repository "
                                                    "directory, at " +
                                                    quote(opened));
    }

    // Regular files ignore O_NONBLOCK, but clear it so reads behave as usual.
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);

    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) {
      return make_error(Errc::limit, where(path) + " is " + std::to_string(size) +
                                         " bytes, more than the limit of " +
                                         std::to_string(max_bytes) + " bytes");
    }
    return OpenFile{std::move(fd), size};
  }

  // Reads to the end in chunks of at most detail::kChunkSize, never handing the sink
  // more than max_bytes in total: a file that grew past the limit ends in Errc::limit.
  Status read_chunks(const OpenFile& file, const std::string& path, std::uint64_t max_bytes,
                     const std::function<Status(std::string_view chunk)>& sink) const {
    const std::size_t buffer_size = static_cast<std::size_t>(
        std::clamp<std::uint64_t>(file.size + 1, 4096, detail::kChunkSize));
    std::vector<char> buffer(buffer_size);
    std::uint64_t total = 0;
    while (true) {
      const std::uint64_t remaining = max_bytes - total;
      // Ask for one byte more than allowed, to notice a file that is too long.
      const std::size_t want =
          remaining >= buffer_size ? buffer_size : static_cast<std::size_t>(remaining) + 1;
      ssize_t n = ::read(file.fd.get(), buffer.data(), want);
      if (n < 0) {
        if (errno == EINTR) continue;
        return make_error(Errc::io, "cannot read " + where(path) + ": " + std::strerror(errno));
      }
      if (n == 0) return Ok{};
      const auto got = static_cast<std::uint64_t>(n);
      if (got > remaining) {
        return make_error(Errc::limit, where(path) + " is longer than the limit of " +
                                           std::to_string(max_bytes) + " bytes");
      }
      total += got;
      PW_TRY(sink(std::string_view(buffer.data(), static_cast<std::size_t>(n))));
    }
  }

  std::string display_path_;  // as the caller gave it, for description()
  std::string root_;          // canonical absolute path
};

}  // namespace

Result<std::unique_ptr<RepositoryReader>> open_directory(const std::string& path) {
  if (path.empty()) return make_error(Errc::invalid_argument, "empty repository directory path");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return make_error(Errc::not_found, "repository directory does not exist: " + quote(path));
    }
    return make_error(
        Errc::io, "cannot access repository directory " + quote(path) + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(Errc::invalid_argument, "not a directory: " + quote(path));
  }
  std::string root;
  if (!real_path(path, root)) {
    return make_error(Errc::io, "cannot resolve repository directory " + quote(path) + ": " +
                                    std::strerror(errno));
  }
  std::unique_ptr<RepositoryReader> reader = std::make_unique<DirectoryReader>(path, root);
  return reader;
}

}  // namespace pw::source
