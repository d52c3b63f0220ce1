#include "orchestrator/traffic/haproxy.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

extern char** environ;

namespace pw::traffic {

std::string backend_name(const RegionFrontend& region) {
  return region.backend.empty() ? "region_" + region.region : region.backend;
}

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
         "  option redispatch\n"
         // Layer-7 retries: a request that fails on one server (no connection, no answer,
         // or a 5xx) is sent to another one, so a broken canary costs the clients nothing
         // while the analysis still counts the failure (wretr). Only idempotent requests
         // (GET, HEAD) are retried after they reached a server.
         "  retry-on conn-failure empty-response response-timeout 500 502 503 504\n";
  for (const auto& region : regions) {
    out << "frontend fe_" << region.region << "\n"
        << "  bind " << region.bind << "\n"
        << "  default_backend " << backend_name(region) << "\n"
        << "backend " << backend_name(region) << "\n"
        << "  balance roundrobin\n"
        << "  http-request disable-l7-retry if !METH_GET\n";
  }
  return out.str();
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
  // Nothing else of the controller's: HAProxy outlives a controller killed with -9, and
  // must not keep its listening socket or its database open.
  posix_spawn_file_actions_addclosefrom_np(&files, 3);
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

namespace {

// Is `pid` haproxy started with `-f config_path`? (Its /proc command line.)
bool runs_config(long pid, const std::string& config_path) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (std::size_t start = 0; start < cmdline.size();) {
    auto end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    args.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  bool is_haproxy = !args.empty() && args[0].find("haproxy") != std::string::npos;
  for (std::size_t i = 0; is_haproxy && i + 1 < args.size(); ++i) {
    if (args[i] == "-f" && args[i + 1] == config_path) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<Haproxy> Haproxy::adopt(long pid, const std::string& config_path) {
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0 || !runs_config(pid, config_path)) {
    return nullptr;
  }
  std::unique_ptr<Haproxy> haproxy(new Haproxy());
  haproxy->pid_ = pid;
  haproxy->adopted_ = true;
  return haproxy;
}

bool Haproxy::running() {
  if (pid_ <= 0) return false;
  auto pid = static_cast<pid_t>(pid_);
  if (adopted_) {
    if (::kill(pid, 0) == 0) return true;
    pid_ = 0;
    return false;
  }
  pid_t rc = ::waitpid(pid, nullptr, WNOHANG);
  if (rc == 0) return true;
  if (rc < 0 && errno == EINTR) return true;
  pid_ = 0;  // exited and reaped (or not our child): never signal that pid again
  return false;
}

Haproxy::~Haproxy() {
  if (pid_ <= 0) return;
  auto pid = static_cast<pid_t>(pid_);
  ::kill(pid, SIGTERM);
  if (adopted_) {  // not our child: it is reaped by init
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
    return;
  }
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace pw::traffic
