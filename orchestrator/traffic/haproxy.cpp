#include "orchestrator/traffic/haproxy.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

extern char** environ;

namespace pw::traffic {
namespace {

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

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, separator)) out.push_back(field);
  if (!line.empty() && line.back() == separator) out.emplace_back();
  return out;
}

}  // namespace

std::string managed_config(const std::string& socket_path,
                           const std::vector<RegionFrontend>& regions) {
  std::ostringstream out;
  out << "# Written by patchwave: one frontend and one backend per region; servers are\n"
         "# added, weighted, drained and removed through the runtime API.\n"
         "global\n"
         "  stats socket "
      << socket_path
      << " mode 600 level admin\n"
         "  stats timeout 30s\n"
         "defaults\n"
         "  mode http\n"
         "  timeout connect 2s\n"
         "  timeout client 30s\n"
         "  timeout server 30s\n"
         "  retries 2\n"
         "  option redispatch\n";
  for (const auto& region : regions) {
    out << "frontend fe_" << region.region << "\n"
        << "  bind " << region.bind << "\n"
        << "  default_backend region_" << region.region << "\n"
        << "backend region_" << region.region << "\n"
        << "  balance roundrobin\n";
  }
  return out.str();
}

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

namespace {
// Commands that answer nothing on success; anything else is HAProxy's error message.
Status expect_silence(Result<std::string> answer, const std::string& what) {
  if (!answer.ok()) return std::move(answer).error();
  std::string text = *answer;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) return make_error(Errc::io, what + ": HAProxy says: " + text);
  return Ok{};
}
}  // namespace

Status Runtime::add_server(const std::string& backend, const std::string& name,
                           const std::string& address, int weight) {
  PW_TRY(check_names(backend, name));
  if (address.find_first_of(" \n") != std::string::npos) {
    return make_error(Errc::invalid_argument, "address '" + address + "'");
  }
  PW_TRY_ASSIGN(std::string answer, command("add server " + backend + "/" + name + " " + address +
                                            " weight " + std::to_string(weight)));
  if (answer.find("New server registered") == std::string::npos) {
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    return make_error(Errc::io, "add server " + backend + "/" + name + ": HAProxy says: " + answer);
  }
  return set_state(backend, name, "ready");
}

Status Runtime::set_weight(const std::string& backend, const std::string& name, int weight) {
  PW_TRY(check_names(backend, name));
  if (weight < 0 || weight > 256) return make_error(Errc::invalid_argument, "weight: 0-256");
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
  PW_TRY(set_state(backend, name, "maint"));
  PW_TRY_ASSIGN(std::string answer, command("del server " + backend + "/" + name));
  if (answer.find("Server deleted") == std::string::npos) {
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    return make_error(Errc::io, "del server " + backend + "/" + name + ": HAProxy says: " + answer);
  }
  return Ok{};
}

Result<std::vector<ServerStat>> Runtime::stats(const std::string& backend) {
  PW_TRY_ASSIGN(std::string csv, command("show stat"));
  std::istringstream lines(csv);
  std::string line;
  std::vector<std::string> header;
  std::vector<ServerStat> out;
  auto column = [&](const std::vector<std::string>& fields, const std::string& name) {
    for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i) {
      if (header[i] == name) return fields[i];
    }
    return std::string();
  };
  auto number = [&](const std::vector<std::string>& fields, const std::string& name) {
    std::string text = column(fields, name);
    return text.empty() ? std::uint64_t{0} : std::stoull(text);
  };
  while (std::getline(lines, line)) {
    if (line.rfind("# ", 0) == 0) {
      header = split(line.substr(2), ',');
      continue;
    }
    auto fields = split(line, ',');
    if (header.empty() || fields.size() < 2 || fields[0] != backend) continue;
    if (fields[1] == "BACKEND" || fields[1] == "FRONTEND") continue;
    ServerStat stat;
    stat.backend = fields[0];
    stat.server = fields[1];
    stat.status = column(fields, "status");
    stat.weight = number(fields, "weight");
    stat.sessions_total = number(fields, "stot");
    stat.responses_5xx = number(fields, "hrsp_5xx");
    stat.connection_errors = number(fields, "econ");
    stat.response_errors = number(fields, "eresp");
    out.push_back(stat);
  }
  if (header.empty())
    return make_error(Errc::parse, "show stat: no CSV header in HAProxy's answer");
  return out;
}

Result<std::unique_ptr<Haproxy>> Haproxy::start(const std::string& config_path,
                                                const std::string& socket_path) {
  std::string binary = "haproxy";
  std::vector<std::string> args = {binary, "-db", "-f", config_path};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Its output goes to CONFIG.log, not to the controller's terminal.
  std::string log_path = config_path + ".log";
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, binary.c_str(), &files, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0)
    return make_error(Errc::io, "cannot start haproxy: " + std::string(std::strerror(rc)));
  std::unique_ptr<Haproxy> haproxy(new Haproxy());
  haproxy->pid_ = pid;
  Runtime runtime(socket_path);
  for (int i = 0; i < 100; ++i) {
    if (runtime.command("show info").ok()) return haproxy;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      haproxy->pid_ = 0;
      return make_error(Errc::io, "haproxy exited at once; see " + log_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return make_error(Errc::io, "haproxy did not open its runtime socket " + socket_path);
}

Haproxy::~Haproxy() {
  if (pid_ <= 0) return;
  auto pid = static_cast<pid_t>(pid_);
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace pw::traffic
