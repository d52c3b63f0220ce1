#include "orchestrator/providers/local_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agents/service/command.hpp"

namespace pw::providers::local_detail {
namespace {

namespace fs = std::filesystem;
namespace spawn = pw::agent::spawn_detail;

// What the forked processes report to the parent through the status pipe.
struct Message {
  char tag;   // 'P' pid of the agent, 'F' fork failed, 'S' setup failed, 'E' exec failed
  int value;  // pid or errno
};

void send_message(int fd, char tag, int value) noexcept {
  Message message{tag, value};
  (void)!::write(fd, &message, sizeof message);
}

// Async-signal-safe: writes "<pid>\n" to fd.
void write_own_pid(int fd) noexcept {
  char digits[24];
  int count = 0;
  long value = ::getpid();
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && count < 22);
  char text[24];
  int length = 0;
  while (count > 0) text[length++] = digits[--count];
  text[length++] = '\n';
  (void)!::write(fd, text, static_cast<std::size_t>(length));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Error errno_error(const std::string& what) {
  return make_error(Errc::io, what + ": " + std::strerror(errno));
}

std::vector<std::string> proc_cmdline(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  if (!in) return args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

// The process group of pid, or 0.
long process_group(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 1));
  std::string state;
  long parent = 0;
  long group = 0;
  fields >> state >> parent >> group;
  return fields ? group : 0;
}

// Waits until the process ends: through its pidfd, or by polling /proc without one.
bool wait_gone(int pidfd, long pid, const std::string& config_path,
               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (pidfd >= 0) {
      pollfd entry{pidfd, POLLIN, 0};
      int ready = ::poll(&entry, 1, static_cast<int>(std::max<long>(left.count(), 0)));
      if (ready > 0) return true;
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return !agent_alive(pid, config_path);
    } else if (!agent_alive(pid, config_path)) {
      return true;
    }
    if (left.count() <= 0) return false;
    if (pidfd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

Result<long> spawn_detached(const std::vector<std::string>& argv, const std::string& working_dir,
                            const std::map<std::string, std::string>& env,
                            const std::string& log_file, const std::string& pid_file) {
  PW_TRY_ASSIGN(std::string program, spawn::resolve_executable(argv, working_dir));
  PW_TRY_ASSIGN(std::vector<std::string> entries, spawn::environment_entries(env));
  std::vector<char*> envp = spawn::native_pointers(entries);
  std::vector<std::string> args = argv;
  std::vector<char*> argp = spawn::native_pointers(args);
  std::string pid_tmp = pid_file + ".tmp";

  Fd log(::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (log.get() < 0) return errno_error(log_file);
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null.get() < 0) return errno_error("/dev/null");
  Fd pid_out(::open(pid_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (pid_out.get() < 0) return errno_error(pid_tmp);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe");
  Fd status_in(fds[0]);
  Fd status_out(fds[1]);
  spawn::ensure_sigchld_not_ignored();

  pid_t middle = ::fork();
  if (middle < 0) return errno_error("fork");
  if (middle == 0) {
    // The intermediate process: forks the agent and exits, so the agent is reparented
    // away from the controller and never becomes its zombie.
    pid_t agent = ::fork();
    if (agent < 0) {
      send_message(status_out.get(), 'F', errno);
      ::_exit(1);
    }
    if (agent > 0) {
      send_message(status_out.get(), 'P', agent);
      ::_exit(0);
    }
    if (::dup2(null.get(), 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0 ||
        ::chdir(working_dir.c_str()) != 0) {
      send_message(status_out.get(), 'S', errno);
      ::_exit(127);
    }
    write_own_pid(pid_out.get());
    if (::fsync(pid_out.get()) != 0 || ::rename(pid_tmp.c_str(), pid_file.c_str()) != 0) {
      send_message(status_out.get(), 'S', errno);
      ::_exit(127);
    }
    spawn::prepare_child();  // own session, default signals, descriptors closed on exec
    ::execve(program.c_str(), argp.data(), envp.data());
    send_message(status_out.get(), 'E', errno);
    ::_exit(127);
  }
  status_out.reset();
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  // EOF comes when the intermediate has exited and the agent has exec'd (or failed).
  std::string bytes;
  char buffer[64];
  while (true) {
    ssize_t n = ::read(status_in.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  long pid = 0;
  for (std::size_t at = 0; at + sizeof(Message) <= bytes.size(); at += sizeof(Message)) {
    Message message{};
    std::memcpy(&message, bytes.data() + at, sizeof message);
    if (message.tag == 'P') {
      pid = message.value;
    } else if (message.tag == 'E') {
      return make_error(Errc::io, spawn::exec_failure(program, message.value));
    } else {
      return make_error(Errc::io, std::string("starting ") + program + ": " +
                                      (message.tag == 'F' ? "fork" : "setup") +
                                      " failed: " + std::strerror(message.value));
    }
  }
  if (pid <= 0) return make_error(Errc::io, "starting " + program + ": no pid reported");
  return pid;
}

long read_pid(const std::string& pid_file) {
  std::ifstream in(pid_file);
  std::string text;
  if (!in || !std::getline(in, text)) return 0;
  long pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || end != text.data() + text.size() || pid <= 1) return 0;
  return pid;
}

bool agent_alive(long pid, const std::string& config_path) {
  if (pid <= 1) return false;
  bool named = false;
  bool configured = false;
  for (const auto& arg : proc_cmdline(pid)) {  // empty for a zombie
    if (fs::path(arg).filename().string().find("patchwave-agent") != std::string::npos) {
      named = true;
    }
    if (arg == config_path) configured = true;
  }
  return named && configured;
}

Status stop_agent(long pid, const std::string& config_path, std::chrono::milliseconds grace) {
  if (pid <= 1) return Ok{};
  // Hold the process first, verify second: the pidfd keeps meaning this process.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)));
  if (pidfd.get() < 0 && errno == ESRCH) return Ok{};
  if (!agent_alive(pid, config_path)) return Ok{};
  bool leads_group = process_group(pid) == pid;
  auto signal = [&](int sig) {
    if (leads_group) ::kill(-static_cast<pid_t>(pid), sig);
    if (pidfd.get() >= 0) {
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0);
    } else {
      ::kill(static_cast<pid_t>(pid), sig);
    }
  };
  signal(SIGTERM);
  if (wait_gone(pidfd.get(), pid, config_path, grace)) return Ok{};
  signal(SIGKILL);
  if (wait_gone(pidfd.get(), pid, config_path, std::chrono::seconds(5))) return Ok{};
  return make_error(Errc::io, "agent pid " + std::to_string(pid) + " (" + config_path +
                                  ") did not end after SIGKILL");
}

namespace {

// Pids of the processes working in `dir` or below (not this process).
std::vector<pid_t> working_in(const fs::path& dir) {
  std::vector<pid_t> out;
  std::error_code ec;
  std::string prefix = dir.string() + "/";
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    auto [end, bad] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (bad != std::errc() || end != name.data() + name.size() || pid == ::getpid()) continue;
    std::error_code link_ec;
    std::string cwd = fs::read_symlink(entry.path() / "cwd", link_ec).string();
    if (link_ec) continue;  // gone meanwhile, or a kernel thread
    if (cwd == dir.string() || cwd.rfind(prefix, 0) == 0) out.push_back(pid);
  }
  return out;
}

}  // namespace

Status kill_left_behind(const std::string& dir) {
  std::error_code ec;
  fs::path base = fs::weakly_canonical(dir, ec);
  if (ec || base.empty() || base == "/") return Ok{};
  std::vector<pid_t> left;
  for (int i = 0; i < 100; ++i) {
    left = working_in(base);
    if (left.empty()) return Ok{};
    for (pid_t pid : left) {
      if (::getpgid(pid) == pid) ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return make_error(Errc::io, std::to_string(left.size()) + " process(es) in " + base.string() +
                                  " still run after SIGKILL (first: pid " +
                                  std::to_string(left.front()) + ")");
}

}  // namespace pw::providers::local_detail
