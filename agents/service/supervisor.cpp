#include "agents/service/supervisor.hpp"

#include "agents/service/child_setup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/start_dir.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "agents/service/command.hpp"

namespace pw::agent {
namespace asio = boost::asio;
namespace bp = boost::process;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* state_name(ServiceStatus::State state) {
  static constexpr const char* kNames[] = {"never_started", "running", "stopped", "exited"};
  auto index = static_cast<std::size_t>(state);
  return index < std::size(kNames) ? kNames[index] : "unknown";
}

namespace {

constexpr std::size_t kStderrTail = 1024;
// After the process ended, how long its output may take to reach the logs.
constexpr auto kDrainTime = 500ms;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using spawn_detail::ChildSetup;
using spawn_detail::set_cloexec;

bool group_alive(pid_t pgid) { return pgid > 0 && (::kill(-pgid, 0) == 0 || errno == EPERM); }

// Missing directories are made 0700; existing ones are left as they are.
Status make_log_dir(const std::string& dir) {
  std::error_code ec;
  fs::path path = fs::absolute(dir, ec);
  if (ec) return make_error(Errc::io, "log directory " + dir + ": " + ec.message());
  fs::path partial;
  for (const auto& part : path) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return make_error(Errc::io,
                        "creating log directory " + partial.string() + ": " + std::strerror(errno));
    }
  }
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return make_error(Errc::io, "log directory " + dir + " is not a directory");
  }
  return Ok{};
}

// A log file that starts over (keeping one old generation, NAME.log.1) rather than pass
// its cap. Used on the io thread only.
class CappedLog {
 public:
  CappedLog() = default;
  CappedLog(const CappedLog&) = delete;
  CappedLog& operator=(const CappedLog&) = delete;
  ~CappedLog() { close(); }

  Status open(const std::string& path, std::uint64_t cap) {
    path_ = path;
    cap_ = cap;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) return make_error(Errc::io, "opening " + path + ": " + std::strerror(errno));
    struct stat info {};
    size_ = ::fstat(fd_, &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
    return Ok{};
  }

  void write(const char* data, std::size_t size) {
    while (size > 0 && fd_ >= 0) {
      if (size_ > 0 && size_ + size > cap_) rotate();
      if (fd_ < 0) return;
      auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(size, cap_ - size_));
      ssize_t n = ::write(fd_, data, piece);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // disk full or similar: the output is dropped, the service runs on
      data += n;
      size -= static_cast<std::size_t>(n);
      size_ += static_cast<std::uint64_t>(n);
    }
  }

 private:
  void rotate() {
    close();
    ::rename(path_.c_str(), (path_ + ".1").c_str());
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                 0600);
    size_ = 0;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  std::string path_;
  std::uint64_t cap_ = 0, size_ = 0;
  int fd_ = -1;
};

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  struct stat info {};
  if (::fstat(fd, &info) == 0 && info.st_size > 0) {
    auto size = static_cast<std::size_t>(info.st_size);
    std::size_t take = std::min(size, max_bytes);
    out.resize(take);
    ssize_t n = ::pread(fd, out.data(), take, static_cast<off_t>(size - take));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  ::close(fd);
  return out;
}

// One started process: its pipes and logs, and what is known about how it ended.
struct Run {
  explicit Run(asio::io_context& io) : out(io), err(io) {}
  bp::async_pipe out, err;     // read on the io thread
  CappedLog out_log, err_log;  // written on the io thread
  std::array<char, 16384> out_buffer{}, err_buffer{};
  std::unique_ptr<bp::child> child;  // set under the mutex before on_exit can run
  pid_t pid = 0;                     // also the process group id
  // Under Impl::mutex:
  bool exited = false;
  bool stop_requested = false;
  int open_streams = 2;
  std::string err_tail;  // the last kStderrTail bytes of this run's stderr
  ServiceStatus ended;   // its status, final once exited
};

}  // namespace

struct Supervisor::Impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread;

  mutable std::mutex mutex;
  std::condition_variable changed;
  ServiceStatus status;
  std::string log_dir;
  std::shared_ptr<Run> current;
  bool io_done = false;

  Impl() {
    thread = std::thread([this] {
      io.run();
      std::lock_guard lock(mutex);
      io_done = true;
      changed.notify_all();
    });
  }

  // On the io thread.
  void read(const std::shared_ptr<Run>& run, bool is_err) {
    auto& pipe = is_err ? run->err : run->out;
    auto& buffer = is_err ? run->err_buffer : run->out_buffer;
    pipe.async_read_some(asio::buffer(buffer),
                         [this, run, is_err](const boost::system::error_code& ec, std::size_t n) {
                           if (n > 0) deliver(*run, is_err, n);
                           if (!ec) return read(run, is_err);
                           std::lock_guard lock(mutex);
                           --run->open_streams;
                           changed.notify_all();
                         });
  }

  void deliver(Run& run, bool is_err, std::size_t n) {
    const char* data = is_err ? run.err_buffer.data() : run.out_buffer.data();
    (is_err ? run.err_log : run.out_log).write(data, n);
    if (!is_err) return;
    std::lock_guard lock(mutex);
    run.err_tail.append(data, n);
    if (run.err_tail.size() > kStderrTail) {
      run.err_tail.erase(0, run.err_tail.size() - kStderrTail);
    }
  }

  // On the io thread, once Boost.Process's SIGCHLD service has reaped the process.
  void on_exited(const std::shared_ptr<Run>& run, const std::error_code& ec) {
    std::lock_guard lock(mutex);
    int native = !ec && run->child ? run->child->native_exit_code() : -1;
    auto info = spawn_detail::decode_wait_status(native);
    run->exited = true;
    if (run->child) run->child->detach();
    // Died on its own: what it left in its group must not linger (and hold its port).
    if (!run->stop_requested && run->pid > 0) ::kill(-run->pid, SIGKILL);
    run->ended.state =
        run->stop_requested ? ServiceStatus::State::stopped : ServiceStatus::State::exited;
    run->ended.exit_code = info.exit_code;
    run->ended.signal = info.signal;
    run->ended.since_unix_ms = now_ms();
    if (run == current) status = run->ended;
    changed.notify_all();
  }

  // Under the mutex: stops reading pipes a process group that escaped may still hold.
  void close_pipes_later(const std::shared_ptr<Run>& run) {
    if (!run || run->open_streams == 0) return;
    asio::post(io, [run] {
      boost::system::error_code ignored;
      run->out.close(ignored);
      run->err.close(ignored);
    });
  }

  Result<ServiceStatus> spawn(std::unique_lock<std::mutex>& lock, const ServiceSpec& spec,
                              const std::string& program, std::vector<char*>& envp,
                              std::chrono::milliseconds startup_window);
};

Result<ServiceStatus> Supervisor::Impl::spawn(std::unique_lock<std::mutex>& lock,
                                              const ServiceSpec& spec, const std::string& program,
                                              std::vector<char*>& envp,
                                              std::chrono::milliseconds startup_window) {
  auto run = std::make_shared<Run>(io);
  for (int fd : {run->out.native_source(), run->out.native_sink(), run->err.native_source(),
                 run->err.native_sink()}) {
    set_cloexec(fd);
  }
  PW_TRY(run->out_log.open(spec.log_dir + "/stdout.log", spec.log_cap_bytes));
  PW_TRY(run->err_log.open(spec.log_dir + "/stderr.log", spec.log_cap_bytes));
  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  std::error_code ec;
  // The mutex is held: on_exit cannot look at run->child before it is assigned.
  run->child = std::make_unique<bp::child>(
      bp::exe = program, bp::args = args, bp::start_dir = spec.working_dir, (bp::std_in < bp::null),
      (bp::std_out > run->out), (bp::std_err > run->err), io,
      bp::on_exit([this, run](int, const std::error_code& error) { on_exited(run, error); }),
      ChildSetup(envp.data()), ec);
  if (ec) return make_error(Errc::io, spawn_detail::exec_failure(program, ec.value()));
  run->pid = run->child->id();
  close_pipes_later(current);
  current = run;
  log_dir = spec.log_dir;
  status.state = ServiceStatus::State::running;
  status.name = spec.name;
  status.pid = run->pid;
  status.since_unix_ms = now_ms();
  status.starts += 1;
  status.exit_code.reset();
  status.signal.reset();
  run->ended = status;
  asio::post(io, [this, run] {
    read(run, false);
    read(run, true);
  });
  if (!changed.wait_for(lock, startup_window, [&] { return run->exited; })) return status;
  // Ended within the window: a failed start. Let its last output arrive first.
  changed.wait_for(lock, kDrainTime, [&] { return run->open_streams == 0; });
  close_pipes_later(run);
  std::string message = "service exited at once";
  if (run->ended.signal) {
    message += ": killed by signal " + std::to_string(*run->ended.signal);
  } else if (run->ended.exit_code) {
    message += " with code " + std::to_string(*run->ended.exit_code);
  }
  std::string tail = run->err_tail;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  if (!tail.empty()) message += "; stderr: " + tail;
  return make_error(Errc::io, message);
}

Supervisor::Supervisor() : impl_(std::make_unique<Impl>()) {}

Supervisor::~Supervisor() {
  (void)stop(2s);
  Impl& impl = *impl_;
  std::unique_lock lock(impl.mutex);
  impl.close_pipes_later(impl.current);
  impl.guard.reset();
  // Normally run() returns at once; a process that could not be reaped keeps it waiting.
  if (!impl.changed.wait_for(lock, 2s, [&] { return impl.io_done; })) impl.io.stop();
  lock.unlock();
  impl.thread.join();
}

Result<ServiceStatus> Supervisor::start(const ServiceSpec& spec,
                                        std::chrono::milliseconds startup_window) {
  PW_TRY_ASSIGN(std::string program, spawn_detail::resolve_executable(spec.argv, spec.working_dir));
  PW_TRY_ASSIGN(std::vector<std::string> entries, spawn_detail::environment_entries(spec.env));
  if (spec.log_dir.empty()) return make_error(Errc::invalid_argument, "log_dir is empty");
  if (spec.log_cap_bytes == 0) {
    return make_error(Errc::invalid_argument, "log_cap_bytes must be greater than 0");
  }
  std::vector<char*> envp = spawn_detail::native_pointers(entries);
  Impl& impl = *impl_;
  std::unique_lock lock(impl.mutex);
  if (impl.current && !impl.current->exited) {
    return make_error(Errc::conflict, "service " + impl.status.name + " is already running (pid " +
                                          std::to_string(impl.current->pid) + "); stop it first");
  }
  PW_TRY(make_log_dir(spec.log_dir));
  spawn_detail::ensure_sigchld_not_ignored();
  try {
    return impl.spawn(lock, spec, program, envp, startup_window);
  } catch (const std::exception& e) {
    return make_error(Errc::io, "starting " + program + ": " + e.what());
  }
}

Result<ServiceStatus> Supervisor::stop(std::chrono::milliseconds grace) {
  Impl& impl = *impl_;
  std::unique_lock lock(impl.mutex);
  auto run = impl.current;
  if (!run || run->exited || run->pid <= 0) return impl.status;
  const pid_t pgid = run->pid;
  run->stop_requested = true;
  ::kill(-pgid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  impl.changed.wait_until(lock, deadline, [&] { return run->exited; });
  // The rest of the group gets the rest of the grace period.
  while (run->exited && group_alive(pgid) && std::chrono::steady_clock::now() < deadline) {
    impl.changed.wait_for(lock, 20ms);
  }
  if (!run->exited || group_alive(pgid)) ::kill(-pgid, SIGKILL);
  if (!impl.changed.wait_for(lock, 10s, [&] { return run->exited; })) {
    return make_error(Errc::io, "service " + run->ended.name + " (pid " + std::to_string(pgid) +
                                    ") did not end after SIGKILL");
  }
  impl.changed.wait_for(lock, kDrainTime, [&] { return run->open_streams == 0; });
  impl.close_pipes_later(run);
  return run->ended;
}

ServiceStatus Supervisor::status() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->status;
}

std::string Supervisor::log_tail(const std::string& stream, std::size_t max_bytes) const {
  std::string dir;
  {
    std::lock_guard lock(impl_->mutex);
    dir = impl_->log_dir;
  }
  if (dir.empty() || (stream != "stdout" && stream != "stderr") || max_bytes == 0) return {};
  std::string path = dir + "/" + stream + ".log";
  std::string tail = read_tail(path, max_bytes);
  if (tail.size() < max_bytes) tail = read_tail(path + ".1", max_bytes - tail.size()) + tail;
  return tail;
}

}  // namespace pw::agent
