#include "agents/service/supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "agents/service/command.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using pw::Errc;
using pw::agent::ServiceSpec;
using pw::agent::ServiceStatus;
using pw::agent::Supervisor;
using State = ServiceStatus::State;
namespace fs = std::filesystem;

namespace {

std::string write_script(const pw::test::TempDir& dir, const std::string& name,
                         const std::string& body) {
  std::string path = dir / name;
  pw::test::write_file(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
  return path;
}

ServiceSpec spec_for(const pw::test::TempDir& dir, const std::string& script) {
  ServiceSpec spec;
  spec.name = "demo-release";
  spec.working_dir = dir.path();
  spec.argv = {script};  // relative to working_dir
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  spec.log_dir = dir / "state/logs/demo-release";
  return spec;
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 3s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Gone: no such process, or a zombie that another parent (an init that does not reap
// orphans, as in some containers) holds.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::string stat = contents("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// Neither a running child nor a zombie is left in this test process.
bool no_children_left() {
  errno = 0;
  return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

pid_t read_pid(const std::string& path) {
  REQUIRE(eventually([&] { return contents(path).find('\n') != std::string::npos; }));
  return static_cast<pid_t>(std::stol(contents(path)));
}

ServiceStatus start_ok(Supervisor& supervisor, const ServiceSpec& spec,
                       std::chrono::milliseconds window = 200ms) {
  auto started = supervisor.start(spec, window);
  if (!started.ok()) FAIL(started.error().to_string());
  return *started;
}

}  // namespace

TEST_CASE("a started service runs with a pid that exists until it is stopped") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "exec sleep 30\n");
  Supervisor supervisor;
  CHECK(supervisor.status().state == State::never_started);
  auto started = start_ok(supervisor, spec_for(dir, "run.sh"));
  CHECK(started.state == State::running);
  CHECK(std::string(pw::agent::state_name(started.state)) == "running");
  CHECK(started.name == "demo-release");
  CHECK(started.starts == 1);
  CHECK(started.since_unix_ms > 0);
  REQUIRE(started.pid > 0);
  auto pid = static_cast<pid_t>(started.pid);
  CHECK(::kill(pid, 0) == 0);
  CHECK(::getpgid(pid) == pid);  // its own process group (and session)
  CHECK(::getsid(pid) == pid);
  CHECK(supervisor.status().state == State::running);

  auto stopped = supervisor.stop(1s);
  REQUIRE(stopped.ok());
  CHECK(stopped->state == State::stopped);
  CHECK(stopped->signal == SIGTERM);
  CHECK_FALSE(stopped->exit_code.has_value());
  CHECK(supervisor.status().state == State::stopped);
  CHECK(process_gone(pid));
  CHECK(no_children_left());
  struct stat info {};
  REQUIRE(::stat((dir / "state/logs/demo-release").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);
}

TEST_CASE("the service gets exactly the given environment and runs in its working directory") {
  pw::test::TempDir dir;
  ::setenv("PW_SUPERVISOR_TEST_LEAK", "1", 1);
  write_script(dir, "run.sh",
               "pwd > cwd.out\n"
               "tr '\\0' '\\n' < /proc/$$/environ > env.part && mv env.part env.out\n"
               "exec sleep 30\n");
  auto spec = spec_for(dir, "run.sh");
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"A", "1"}, {"SPACED", "two words"}, {"EMPTY", ""}};
  Supervisor supervisor;
  start_ok(supervisor, spec);
  REQUIRE(eventually([&] { return fs::exists(dir / "env.out"); }));
  CHECK(contents(dir / "env.out") == "A=1\nEMPTY=\nPATH=/usr/bin:/bin\nSPACED=two words\n");
  CHECK(fs::canonical(contents(dir / "cwd.out").substr(0, contents(dir / "cwd.out").size() - 1)) ==
        fs::canonical(dir.path()));
  REQUIRE(supervisor.stop(1s).ok());
  ::unsetenv("PW_SUPERVISOR_TEST_LEAK");
}

TEST_CASE("stdout and stderr of the service land in their log files") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "echo to-stdout\necho to-stderr >&2\nexec sleep 30\n");
  Supervisor supervisor;
  CHECK(supervisor.log_tail("stdout", 100).empty());
  start_ok(supervisor, spec_for(dir, "run.sh"));
  CHECK(eventually([&] { return supervisor.log_tail("stdout", 100) == "to-stdout\n"; }));
  CHECK(eventually([&] { return supervisor.log_tail("stderr", 100) == "to-stderr\n"; }));
  CHECK(supervisor.log_tail("stderr", 3) == "rr\n");
  CHECK(supervisor.log_tail("other", 100).empty());
  CHECK(contents(dir / "state/logs/demo-release/stdout.log") == "to-stdout\n");
  CHECK(contents(dir / "state/logs/demo-release/stderr.log") == "to-stderr\n");
  REQUIRE(supervisor.stop(1s).ok());
}

TEST_CASE("a service that exits at once fails to start with its exit code and stderr") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "echo 'bad config: no port' >&2\nexit 3\n");
  Supervisor supervisor;
  auto begin = std::chrono::steady_clock::now();
  auto started = supervisor.start(spec_for(dir, "run.sh"), 3s);
  CHECK(std::chrono::steady_clock::now() - begin < 2s);  // not the whole window
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().code == Errc::io);
  CHECK_THAT(started.error().message, Catch::Contains("exited at once with code 3"));
  CHECK_THAT(started.error().message, Catch::Contains("bad config: no port"));
  auto status = supervisor.status();
  CHECK(status.state == State::exited);
  CHECK(status.exit_code == 3);
  CHECK_FALSE(status.signal.has_value());
  CHECK(no_children_left());
}

TEST_CASE(
    "a service killed by a signal after the window shows exited with it and is not restarted") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "sleep 1000 &\necho $! > grandchild.pid\nwait\n");
  Supervisor supervisor;
  auto started = start_ok(supervisor, spec_for(dir, "run.sh"));
  pid_t grandchild = read_pid(dir / "grandchild.pid");
  REQUIRE(::kill(static_cast<pid_t>(started.pid), SIGKILL) == 0);
  REQUIRE(eventually([&] { return supervisor.status().state == State::exited; }));
  auto status = supervisor.status();
  CHECK(status.signal == SIGKILL);
  CHECK_FALSE(status.exit_code.has_value());
  // What it left in its process group goes with it.
  CHECK(eventually([&] { return process_gone(grandchild); }));
  std::this_thread::sleep_for(300ms);
  status = supervisor.status();
  CHECK(status.state == State::exited);
  CHECK(status.starts == 1);
  CHECK(status.pid == started.pid);
  CHECK(no_children_left());
  auto stopped = supervisor.stop(1s);  // nothing to stop
  REQUIRE(stopped.ok());
  CHECK(stopped->state == State::exited);
}

TEST_CASE("stop ends the whole process group, grandchildren included, and leaves no zombie") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "sleep 1000 &\necho $! > grandchild.pid\nwait\n");
  Supervisor supervisor;
  auto started = start_ok(supervisor, spec_for(dir, "run.sh"));
  pid_t grandchild = read_pid(dir / "grandchild.pid");
  auto stopped = supervisor.stop(500ms);
  REQUIRE(stopped.ok());
  CHECK(stopped->state == State::stopped);
  CHECK(eventually([&] { return process_gone(grandchild); }));
  CHECK(process_gone(static_cast<pid_t>(started.pid)));
  CHECK(no_children_left());
}

TEST_CASE("a service that ignores SIGTERM gets SIGKILL after the grace period") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh",
               "trap '' TERM\necho ready > ready\nwhile true; do sleep 0.05; done\n");
  Supervisor supervisor;
  start_ok(supervisor, spec_for(dir, "run.sh"));
  REQUIRE(eventually([&] { return fs::exists(dir / "ready"); }));
  auto begin = std::chrono::steady_clock::now();
  auto stopped = supervisor.stop(300ms);
  auto took = std::chrono::steady_clock::now() - begin;
  REQUIRE(stopped.ok());
  CHECK(took >= 300ms);
  CHECK(took < 2s);
  CHECK(stopped->state == State::stopped);
  CHECK(stopped->signal == SIGKILL);
  CHECK(no_children_left());
}

TEST_CASE("starting while a service runs is a conflict and after stop it starts again") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "exec sleep 30\n");
  Supervisor supervisor;
  auto first = start_ok(supervisor, spec_for(dir, "run.sh"));
  auto again = supervisor.start(spec_for(dir, "run.sh"), 100ms);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::conflict);
  CHECK(supervisor.status().pid == first.pid);
  REQUIRE(supervisor.stop(1s).ok());
  auto second = start_ok(supervisor, spec_for(dir, "run.sh"), 100ms);
  CHECK(second.starts == 2);
  CHECK(second.pid != first.pid);
  REQUIRE(supervisor.stop(1s).ok());
  CHECK(no_children_left());
}

TEST_CASE("a missing or non-executable program is refused before anything is spawned") {
  pw::test::TempDir dir;
  pw::test::write_file(dir / "data.sh", "#!/bin/sh\nexit 0\n");
  ::chmod((dir / "data.sh").c_str(), 0644);
  fs::create_directories(dir / "bin");
  Supervisor supervisor;
  auto spec = spec_for(dir, "bin/missing");
  auto missing = supervisor.start(spec, 100ms);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains(dir / "bin/missing"));

  spec.argv = {"data.sh"};
  auto not_executable = supervisor.start(spec, 100ms);
  REQUIRE_FALSE(not_executable.ok());
  CHECK(not_executable.error().code == Errc::permission);
  CHECK_THAT(not_executable.error().message, Catch::Contains(dir / "data.sh"));

  spec.argv = {"bin"};
  auto directory = supervisor.start(spec, 100ms);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code == Errc::permission);

  spec.argv.clear();
  auto empty = supervisor.start(spec, 100ms);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::invalid_argument);

  spec = spec_for(dir, "data.sh");
  spec.working_dir = dir / "nowhere";
  auto no_dir = supervisor.start(spec, 100ms);
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().code == Errc::not_found);

  CHECK(supervisor.status().state == State::never_started);
  CHECK(no_children_left());
}

TEST_CASE("a log that would pass its cap is rotated to .1 and stays within the cap") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh",
               "i=0\n"
               "while [ $i -lt 300 ]; do echo \"line $i of the log rotation test ....\"; "
               "i=$((i+1)); done\n"
               "echo done\n"
               "exec sleep 30\n");
  auto spec = spec_for(dir, "run.sh");
  spec.log_cap_bytes = 4096;  // the script writes about three times as much
  Supervisor supervisor;
  start_ok(supervisor, spec);
  REQUIRE(eventually([&] {
    auto tail = supervisor.log_tail("stdout", 5);
    return tail == "done\n";
  }));
  std::string logs = dir / "state/logs/demo-release";
  REQUIRE(fs::exists(logs + "/stdout.log.1"));
  CHECK(fs::file_size(logs + "/stdout.log") <= 4096);
  CHECK(fs::file_size(logs + "/stdout.log.1") <= 4096);
  CHECK_FALSE(fs::exists(logs + "/stdout.log.2"));
  auto both = supervisor.log_tail("stdout", 100000);
  CHECK(both.size() == fs::file_size(logs + "/stdout.log") + fs::file_size(logs + "/stdout.log.1"));
  CHECK_THAT(both, Catch::EndsWith("line 299 of the log rotation test ....\ndone\n"));
  REQUIRE(supervisor.stop(1s).ok());
}

TEST_CASE("descriptors of the agent do not leak into the service") {
  pw::test::TempDir dir;
  int plain = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(plain >= 0);
  int leaked = ::fcntl(plain, F_DUPFD, 200);
  REQUIRE(leaked >= 200);
  write_script(dir, "run.sh", "ls /proc/$$/fd > fds.part && mv fds.part fds.out\nexec sleep 30\n");
  Supervisor supervisor;
  start_ok(supervisor, spec_for(dir, "run.sh"));
  REQUIRE(eventually([&] { return fs::exists(dir / "fds.out"); }));
  std::istringstream fds(contents(dir / "fds.out"));
  std::string fd;
  while (std::getline(fds, fd)) CHECK(fd != std::to_string(leaked));
  REQUIRE(supervisor.stop(1s).ok());
  ::close(leaked);
  ::close(plain);
}

TEST_CASE("destroying the supervisor stops its running service") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "exec sleep 30\n");
  pid_t pid = 0;
  {
    Supervisor supervisor;
    pid = static_cast<pid_t>(start_ok(supervisor, spec_for(dir, "run.sh")).pid);
    REQUIRE(::kill(pid, 0) == 0);
  }
  CHECK(process_gone(pid));
  CHECK(no_children_left());
}

TEST_CASE("a program whose exec fails is reported and leaves no zombie") {
  pw::test::TempDir dir;
  pw::test::write_file(dir / "run.sh", "#!/nonexistent/interpreter\n");
  ::chmod((dir / "run.sh").c_str(), 0755);
  Supervisor supervisor;
  auto started = supervisor.start(spec_for(dir, "run.sh"), 100ms);
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().code == Errc::io);
  CHECK_THAT(started.error().message, Catch::Contains("run.sh"));
  CHECK(supervisor.status().state == State::never_started);
  CHECK(no_children_left());
}

TEST_CASE("a command run while the service runs does not disturb its supervision") {
  pw::test::TempDir dir;
  write_script(dir, "run.sh", "sleep 0.3\nexit 5\n");
  write_script(dir, "check.sh", "sleep 0.6\necho checked\n");
  Supervisor supervisor;
  start_ok(supervisor, spec_for(dir, "run.sh"), 100ms);
  auto ran = pw::agent::run_command({"check.sh"}, dir.path(), {{"PATH", "/usr/bin:/bin"}}, 5s);
  REQUIRE(ran.ok());
  CHECK(ran->exit_code == 0);
  CHECK(ran->output == "checked\n");
  // The service ended while the command ran; both were reaped by their own owner.
  REQUIRE(eventually([&] { return supervisor.status().state == State::exited; }));
  CHECK(supervisor.status().exit_code == 5);
  CHECK(no_children_left());
}
