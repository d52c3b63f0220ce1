#include "agents/service/command.hpp"

#include "agents/service/child_setup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/start_dir.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>

namespace pw::agent {
namespace asio = boost::asio;
namespace bp = boost::process;
namespace fs = std::filesystem;

namespace spawn_detail {

Result<std::string> resolve_executable(const std::vector<std::string>& argv,
                                       const std::string& working_dir) {
  if (argv.empty()) return make_error(Errc::invalid_argument, "argv is empty: nothing to run");
  if (argv.front().empty()) return make_error(Errc::invalid_argument, "argv[0] is empty");
  for (const auto& arg : argv) {
    if (arg.find('\0') != std::string::npos) {
      return make_error(Errc::invalid_argument, "argv contains a NUL byte");
    }
  }
  struct stat info {};
  if (working_dir.empty() || ::stat(working_dir.c_str(), &info) != 0) {
    return make_error(Errc::not_found, "working directory " + working_dir + " does not exist");
  }
  if (!S_ISDIR(info.st_mode)) {
    return make_error(Errc::not_found, "working directory " + working_dir + " is not a directory");
  }
  std::error_code ec;
  fs::path base = fs::absolute(working_dir, ec);
  if (ec) return make_error(Errc::io, "working directory " + working_dir + ": " + ec.message());
  fs::path program(argv.front());
  if (program.is_relative()) program = base / program;
  std::string path = program.lexically_normal().string();
  if (::stat(path.c_str(), &info) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return make_error(Errc::not_found, path + ": no such file (argv[0])");
    }
    if (err == EACCES) return make_error(Errc::permission, path + ": " + std::strerror(err));
    return make_error(Errc::io, path + ": " + std::strerror(err));
  }
  if (!S_ISREG(info.st_mode)) {
    return make_error(Errc::permission, path + ": not a regular file (argv[0])");
  }
  if (::access(path.c_str(), X_OK) != 0) {
    return make_error(Errc::permission, path + ": not executable (argv[0])");
  }
  return path;
}

Result<std::vector<std::string>> environment_entries(
    const std::map<std::string, std::string>& env) {
  std::vector<std::string> entries;
  entries.reserve(env.size());
  for (const auto& [name, value] : env) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      return make_error(Errc::invalid_argument,
                        "environment variable name '" + name + "' is empty or contains '=' or NUL");
    }
    if (value.find('\0') != std::string::npos) {
      return make_error(Errc::invalid_argument,
                        "environment variable " + name + " contains a NUL byte");
    }
    entries.push_back(name + "=" + value);
  }
  return entries;
}

std::vector<char*> native_pointers(std::vector<std::string>& entries) {
  std::vector<char*> pointers;
  pointers.reserve(entries.size() + 1);
  for (auto& entry : entries) pointers.push_back(entry.data());
  pointers.push_back(nullptr);
  return pointers;
}

void ensure_sigchld_not_ignored() {
  struct sigaction current {};
  if (::sigaction(SIGCHLD, nullptr, &current) != 0) return;
  bool ignored = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_IGN;
  if (ignored) {
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    ::sigemptyset(&fallback.sa_mask);
    ::sigaction(SIGCHLD, &fallback, nullptr);
  } else if ((current.sa_flags & SA_NOCLDWAIT) != 0) {
    current.sa_flags &= ~SA_NOCLDWAIT;
    ::sigaction(SIGCHLD, &current, nullptr);
  }
}

void prepare_child() noexcept {
  (void)::setsid();  // a new session: its own process group, no controlling terminal
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  ::sigemptyset(&fallback.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &fallback, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Close-on-exec rather than close: Boost.Process's exec-error pipe must stay usable.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  struct rlimit limit {};
  int max = 65536;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536) {
    max = static_cast<int>(limit.rlim_cur);
  }
  for (int fd = 3; fd < max; ++fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

ExitInfo decode_wait_status(int status) {
  ExitInfo info;
  if (status < 0) return info;
  if (WIFEXITED(status)) {
    info.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    info.signal = WTERMSIG(status);
  }
  return info;
}

std::string exec_failure(const std::string& program, int error_number) {
  std::string message = "cannot execute " + program + ": " + std::strerror(error_number);
  if (error_number == ENOENT) message += " (its #! interpreter or loader is missing)";
  return message;
}

}  // namespace spawn_detail

namespace {

using spawn_detail::ChildSetup;
using spawn_detail::set_cloexec;

constexpr std::size_t kOutputCap = 4096;
// After the command exits, how long output may still arrive from its pipe.
constexpr std::chrono::milliseconds kDrainTime{250};

Result<CommandResult> run_spawned(const std::string& program, const std::vector<std::string>& argv,
                                  const std::string& working_dir, char** envp,
                                  std::chrono::milliseconds timeout) {
  asio::io_context io;
  bp::async_pipe pipe(io);
  set_cloexec(pipe.native_source());
  set_cloexec(pipe.native_sink());
  asio::steady_timer deadline(io);
  asio::steady_timer drain(io);
  CommandResult result;
  bool ended = false;
  bool pipe_open = true;
  int native = -1;
  pid_t pid = 0;
  std::array<char, 4096> buffer{};
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  std::optional<bp::child> child;
  auto started = std::chrono::steady_clock::now();
  std::error_code spawn_error;
  auto on_exit = [&](int, const std::error_code& error) {
    ended = true;
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (!error && child) native = child->native_exit_code();
    deadline.cancel();
    if (pid > 0) ::kill(-pid, SIGKILL);  // whatever it left behind in its process group
    if (!pipe_open) return;
    drain.expires_after(kDrainTime);
    drain.async_wait([&](const boost::system::error_code& cancelled) {
      boost::system::error_code ignored;
      if (!cancelled) pipe.close(ignored);
    });
  };
  child.emplace(bp::exe = program, bp::args = args, bp::start_dir = working_dir,
                (bp::std_in < bp::null), ((bp::std_out & bp::std_err) > pipe), io,
                bp::on_exit(on_exit), ChildSetup(envp), spawn_error);
  if (spawn_error) {
    return make_error(Errc::io, spawn_detail::exec_failure(program, spawn_error.value()));
  }
  pid = child->id();
  deadline.expires_after(timeout);
  deadline.async_wait([&](const boost::system::error_code& cancelled) {
    if (cancelled || ended) return;
    result.timed_out = true;
    if (pid > 0) ::kill(-pid, SIGKILL);
  });
  std::function<void()> read = [&] {
    pipe.async_read_some(
        asio::buffer(buffer), [&](const boost::system::error_code& error, std::size_t n) {
          if (n > 0 && result.output.size() < kOutputCap) {
            result.output.append(buffer.data(), std::min(n, kOutputCap - result.output.size()));
          }
          if (!error) return read();
          pipe_open = false;
          drain.cancel();
        });
  };
  read();
  io.run();  // until it was reaped, its output is read and the timers are done
  auto info = spawn_detail::decode_wait_status(native);
  result.exit_code = info.exit_code.value_or(-1);
  result.signal = info.signal;
  return result;
}

}  // namespace

Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                  const std::string& working_dir,
                                  const std::map<std::string, std::string>& env,
                                  std::chrono::milliseconds timeout) {
  PW_TRY_ASSIGN(std::string program, spawn_detail::resolve_executable(argv, working_dir));
  PW_TRY_ASSIGN(std::vector<std::string> entries, spawn_detail::environment_entries(env));
  std::vector<char*> envp = spawn_detail::native_pointers(entries);
  spawn_detail::ensure_sigchld_not_ignored();
  try {
    return run_spawned(program, argv, working_dir, envp.data(), timeout);
  } catch (const std::exception& e) {
    return make_error(Errc::io, "running " + program + ": " + e.what());
  }
}

}  // namespace pw::agent
