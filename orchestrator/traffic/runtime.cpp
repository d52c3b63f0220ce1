// Runtime: HAProxy's runtime API on its admin socket (declared in haproxy.hpp).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "orchestrator/traffic/haproxy.hpp"

namespace pw::traffic {
namespace {

// Bytes of one command line of several ';'-separated commands: well inside HAProxy's
// buffer for a CLI request (bufsize, 16 KiB by default).
constexpr std::size_t kMaxBatch = 8000;

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos;
}

Status check_names(const std::string& backend, const std::string& server) {
  if (!valid_name(backend) || !valid_name(server)) {
    return make_error(Errc::invalid_argument,
                      "backend/server '" + backend + "/" + server + "': names are [A-Za-z0-9_.-]");
  }
  return Ok{};
}

Status check_address(const std::string& address) {
  if (address.empty() || address.find_first_of(" \t\r\n;") != std::string::npos) {
    return make_error(Errc::invalid_argument, "address '" + address + "'");
  }
  return Ok{};
}

Status check_weight(int weight) {
  if (weight < 0 || weight > 256) return make_error(Errc::invalid_argument, "weight: 0-256");
  return Ok{};
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Commands that answer nothing on success; anything else is HAProxy's error message.
Status expect_silence(Result<std::string> answer, const std::string& what) {
  if (!answer.ok()) return std::move(answer).error();
  std::string text = trimmed(*answer);
  if (!text.empty()) return make_error(Errc::io, what + ": HAProxy says: " + text);
  return Ok{};
}

Status no_backend(const std::string& backend) {
  return make_error(Errc::not_found, "HAProxy has no backend '" + backend + "'");
}

}  // namespace

Result<std::string> Runtime::command(const std::string& line) {
  if (line.find('\n') != std::string::npos) {
    return make_error(Errc::invalid_argument, "one runtime command at a time");
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Errc::io, "socket: " + std::string(std::strerror(errno)));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof address.sun_path) {
    ::close(fd);
    return make_error(Errc::invalid_argument, socket_ + ": path too long for a unix socket");
  }
  std::memcpy(address.sun_path, socket_.c_str(), socket_.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int saved = errno;
    ::close(fd);
    return make_error(Errc::io, "HAProxy runtime API at " + socket_ + ": " + std::strerror(saved));
  }
  std::string request = line + "\n";
  const char* data = request.data();
  std::size_t left = request.size();
  while (left > 0) {
    ssize_t n = ::send(fd, data, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      return make_error(Errc::io, "HAProxy runtime API: " + std::string(std::strerror(saved)));
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.size() > (16u << 20)) break;
  }
  ::close(fd);
  return answer;
}

Status Runtime::add_server(const std::string& backend, const std::string& name,
                           const std::string& address, int weight) {
  PW_TRY(check_names(backend, name));
  PW_TRY(check_address(address));
  PW_TRY(check_weight(weight));
  PW_TRY_ASSIGN(std::string answer, command("add server " + backend + "/" + name + " " + address +
                                            " weight " + std::to_string(weight)));
  if (answer.find("New server registered") == std::string::npos) {
    return make_error(Errc::io,
                      "add server " + backend + "/" + name + ": HAProxy says: " + trimmed(answer));
  }
  return set_state(backend, name, "ready");
}

Status Runtime::ensure_server(const std::string& backend, const std::string& name,
                              const std::string& address, int weight) {
  return ensure_servers(backend, {{name, address, weight}});
}

Status Runtime::ensure_servers(const std::string& backend, const std::vector<Target>& servers) {
  for (const auto& s : servers) {
    PW_TRY(check_names(backend, s.name));
    PW_TRY(check_address(s.address));
    PW_TRY(check_weight(s.weight));
  }
  PW_TRY_ASSIGN(StatTable table, show_stat());
  if (table.backends.count(backend) == 0) return no_backend(backend);
  std::vector<const Target*> settle;
  for (const auto& s : servers) {
    auto found = std::find_if(table.servers.begin(), table.servers.end(), [&](const auto& stat) {
      return stat.backend == backend && stat.server == s.name;
    });
    if (found == table.servers.end()) {
      PW_TRY(add_server(backend, s.name, s.address, s.weight));
      continue;
    }
    if (!found->address.empty() && found->address != s.address) {
      PW_TRY(remove_server(backend, s.name));
      PW_TRY(add_server(backend, s.name, s.address, s.weight));
      continue;
    }
    settle.push_back(&s);
  }
  // Servers HAProxy has already: their weight and state, in as few exchanges as the
  // command line allows (HAProxy runs ';'-separated commands in order). Both commands
  // answer nothing when they succeed; any answer sends them again one at a time, for an
  // error that names its server (they set absolute values: sending twice is harmless).
  std::string batch;
  std::vector<const Target*> pending;
  auto flush = [&]() -> Status {
    if (pending.empty()) return Ok{};
    auto answer = command(batch);
    bool quiet = answer.ok() && trimmed(*answer).empty();
    batch.clear();
    std::vector<const Target*> sent;
    sent.swap(pending);
    if (quiet) return Ok{};
    for (const Target* t : sent) {
      PW_TRY(set_weight(backend, t->name, t->weight));
      PW_TRY(set_state(backend, t->name, "ready"));
    }
    return Ok{};
  };
  for (const Target* t : settle) {
    std::string pair = "set server " + backend + "/" + t->name + " weight " +
                       std::to_string(t->weight) + "; set server " + backend + "/" + t->name +
                       " state ready";
    if (!batch.empty() && batch.size() + 2 + pair.size() > kMaxBatch) PW_TRY(flush());
    batch += (batch.empty() ? "" : "; ") + pair;
    pending.push_back(t);
  }
  return flush();
}

Status Runtime::set_weight(const std::string& backend, const std::string& name, int weight) {
  PW_TRY(check_names(backend, name));
  PW_TRY(check_weight(weight));
  return expect_silence(
      command("set server " + backend + "/" + name + " weight " + std::to_string(weight)),
      "set weight of " + backend + "/" + name);
}

Status Runtime::set_state(const std::string& backend, const std::string& name,
                          const std::string& state) {
  PW_TRY(check_names(backend, name));
  if (state != "ready" && state != "drain" && state != "maint") {
    return make_error(Errc::invalid_argument, "state '" + state + "': ready, drain or maint");
  }
  return expect_silence(command("set server " + backend + "/" + name + " state " + state),
                        "set state of " + backend + "/" + name);
}

Status Runtime::remove_server(const std::string& backend, const std::string& name) {
  return remove_servers(backend, {name});
}

Status Runtime::remove_servers(const std::string& backend, const std::vector<std::string>& names) {
  for (const auto& name : names) PW_TRY(check_names(backend, name));
  PW_TRY_ASSIGN(StatTable table, show_stat());
  if (table.backends.count(backend) == 0) return no_backend(backend);
  auto present = [&](const std::string& name) {
    return std::any_of(table.servers.begin(), table.servers.end(), [&](const auto& stat) {
      return stat.backend == backend && stat.server == name;
    });
  };
  // All in one exchange when it fits: maintenance, then deletion, server by server. Each
  // deletion answers "Server deleted." and each state change nothing; anything else (a
  // server still holding connections) and they are done one at a time, as they stand
  // now, for an error that names the server.
  std::string batch;
  std::size_t batched = 0;
  for (const auto& name : names) {
    if (!present(name)) continue;
    batch += (batch.empty() ? "" : "; ") + std::string("set server ") + backend + "/" + name +
             " state maint; del server " + backend + "/" + name;
    ++batched;
  }
  if (batched == 0) return Ok{};
  if (batch.size() <= kMaxBatch) {
    auto answer = command(batch);
    if (answer.ok()) {
      std::string rest = *answer;
      std::size_t deleted = 0;
      for (std::size_t at = rest.find("Server deleted."); at != std::string::npos;
           at = rest.find("Server deleted.")) {
        rest.erase(at, std::string_view("Server deleted.").size());
        ++deleted;
      }
      if (deleted == batched && trimmed(rest).empty()) return Ok{};
    }
    PW_TRY_ASSIGN(table, show_stat());
  }
  for (const auto& name : names) {
    if (!present(name)) continue;
    PW_TRY(set_state(backend, name, "maint"));
    PW_TRY_ASSIGN(std::string answer, command("del server " + backend + "/" + name));
    if (answer.find("Server deleted") == std::string::npos) {
      return make_error(
          Errc::io, "del server " + backend + "/" + name + ": HAProxy says: " + trimmed(answer));
    }
  }
  return Ok{};
}

Result<StatTable> Runtime::show_stat() {
  PW_TRY_ASSIGN(std::string csv, command("show stat"));
  return parse_stat(csv);
}

Result<std::vector<ServerStat>> Runtime::stats(const std::string& backend) {
  PW_TRY_ASSIGN(StatTable table, show_stat());
  std::vector<ServerStat> out;
  for (auto& stat : table.servers) {
    if (stat.backend == backend) out.push_back(std::move(stat));
  }
  return out;
}

Result<bool> Runtime::has_backend(const std::string& backend) {
  PW_TRY_ASSIGN(StatTable table, show_stat());
  return table.backends.count(backend) > 0;
}

}  // namespace pw::traffic
