#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/trust/client.hpp"

namespace pw::trust {
namespace {

Error io_error(const std::string& what, const std::string& path) {
  return make_error(Errc::io, what + " " + path + ": " + std::strerror(errno));
}

class DirectoryStore final : public TrustedStore {
 public:
  explicit DirectoryStore(std::string dir) : dir_(std::move(dir)) {}

  Result<std::optional<std::string>> load(const std::string& role) override {
    std::string path = file(role);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (!std::filesystem::exists(path)) return std::optional<std::string>{};
      return io_error("cannot read", path);
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return std::optional<std::string>{buffer.str()};
  }

  Status save(const std::string& role, std::string_view bytes) override {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return make_error(Errc::io, "cannot create " + dir_ + ": " + ec.message());
    std::string path = file(role);
    std::string temp = path + ".tmp";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot create", temp);
    const char* data = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(fd, data, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        Error error = io_error("cannot write", temp);
        ::close(fd);
        return error;
      }
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) return io_error("cannot flush", temp);
    if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("cannot rename into", path);
    int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return Ok{};
  }

  Status remove(const std::string& role) override {
    std::string path = file(role);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
    return Ok{};
  }

 private:
  std::string file(const std::string& role) const { return dir_ + "/" + role + ".json"; }
  std::string dir_;
};

class MemoryStore final : public TrustedStore {
 public:
  Result<std::optional<std::string>> load(const std::string& role) override {
    auto it = files_.find(role);
    if (it == files_.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  Status save(const std::string& role, std::string_view bytes) override {
    files_[role] = std::string(bytes);
    return Ok{};
  }
  Status remove(const std::string& role) override {
    files_.erase(role);
    return Ok{};
  }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace

std::unique_ptr<TrustedStore> directory_store(const std::string& dir) {
  return std::make_unique<DirectoryStore>(dir);
}

std::unique_ptr<TrustedStore> memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace pw::trust
