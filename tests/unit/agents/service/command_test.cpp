#include "agents/service/command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;
using pw::Errc;
using pw::agent::run_command;

namespace {

const std::map<std::string, std::string> kPath = {{"PATH", "/usr/bin:/bin"}};

void write_script(const pw::test::TempDir& dir, const std::string& name, const std::string& body) {
  pw::test::write_file(dir / name, "#!/bin/sh\n" + body);
  ::chmod((dir / name).c_str(), 0755);
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::string stat = contents("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

bool eventually_gone(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!process_gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool no_children_left() {
  errno = 0;
  return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

}  // namespace

TEST_CASE("run_command captures the output and the exit code of a command") {
  pw::test::TempDir dir;
  write_script(dir, "check.sh", "echo hello\necho oops >&2\nexit 7\n");
  auto ran = run_command({"check.sh"}, dir.path(), kPath, 5s);
  if (!ran.ok()) FAIL(ran.error().to_string());
  CHECK(ran->exit_code == 7);
  CHECK_FALSE(ran->signal.has_value());
  CHECK_FALSE(ran->timed_out);
  CHECK_THAT(ran->output, Catch::Contains("hello\n"));
  CHECK_THAT(ran->output, Catch::Contains("oops\n"));
  CHECK(ran->elapsed < 2s);
  CHECK(no_children_left());
}

TEST_CASE("run_command gives the command exactly the given environment and directory") {
  pw::test::TempDir dir;
  ::setenv("PW_COMMAND_TEST_LEAK", "1", 1);
  auto ran = run_command({"/usr/bin/env"}, dir.path(), {{"A", "1"}, {"B", "two words"}}, 5s);
  ::unsetenv("PW_COMMAND_TEST_LEAK");
  REQUIRE(ran.ok());
  CHECK(ran->exit_code == 0);
  CHECK(ran->output == "A=1\nB=two words\n");
  auto pwd = run_command({"/bin/pwd"}, dir.path(), {}, 5s);
  REQUIRE(pwd.ok());
  CHECK(pwd->output == dir.path() + "\n");

  auto bad = run_command({"/usr/bin/env"}, dir.path(), {{"A=B", "1"}}, 5s);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::invalid_argument);
}

TEST_CASE("run_command kills a command that runs past its timeout") {
  pw::test::TempDir dir;
  auto ran = run_command({"/bin/sleep", "30"}, dir.path(), kPath, 300ms);
  REQUIRE(ran.ok());
  CHECK(ran->timed_out);
  CHECK(ran->signal == SIGKILL);
  CHECK(ran->exit_code == -1);
  CHECK(ran->elapsed >= 300ms);
  CHECK(ran->elapsed < 2s);
  CHECK(no_children_left());
}

TEST_CASE("run_command kills the whole process group of a command that times out") {
  pw::test::TempDir dir;
  write_script(dir, "check.sh", "sleep 30 &\necho $! > bg.pid\nsleep 30\n");
  auto begin = std::chrono::steady_clock::now();
  auto ran = run_command({"check.sh"}, dir.path(), kPath, 300ms);
  CHECK(std::chrono::steady_clock::now() - begin < 2s);
  REQUIRE(ran.ok());
  CHECK(ran->timed_out);
  auto background = static_cast<pid_t>(std::stol(contents(dir / "bg.pid")));
  CHECK(eventually_gone(background));
  CHECK(no_children_left());
}

TEST_CASE("run_command returns when the command exits, killing what it left behind") {
  pw::test::TempDir dir;
  // The background sleep holds the output pipe open; the command itself is done.
  write_script(dir, "check.sh", "sleep 30 &\necho $! > bg.pid\necho ok\nexit 0\n");
  auto ran = run_command({"check.sh"}, dir.path(), kPath, 10s);
  REQUIRE(ran.ok());
  CHECK_FALSE(ran->timed_out);
  CHECK(ran->exit_code == 0);
  CHECK(ran->output == "ok\n");
  CHECK(ran->elapsed < 2s);
  CHECK(eventually_gone(static_cast<pid_t>(std::stol(contents(dir / "bg.pid")))));
  CHECK(no_children_left());
}

TEST_CASE("run_command keeps the first 4 KiB of a large output without blocking") {
  pw::test::TempDir dir;
  write_script(dir, "check.sh", "head -c 300000 /dev/zero | tr '\\0' x\nexit 0\n");
  auto ran = run_command({"check.sh"}, dir.path(), kPath, 10s);
  REQUIRE(ran.ok());
  CHECK_FALSE(ran->timed_out);
  CHECK(ran->exit_code == 0);
  CHECK(ran->output == std::string(4096, 'x'));
  CHECK(ran->elapsed < 5s);
}

TEST_CASE("run_command refuses a missing or non-executable program") {
  pw::test::TempDir dir;
  pw::test::write_file(dir / "data.sh", "#!/bin/sh\nexit 0\n");
  ::chmod((dir / "data.sh").c_str(), 0644);
  auto missing = run_command({"missing.sh"}, dir.path(), kPath, 1s);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains(dir / "missing.sh"));
  auto not_executable = run_command({"data.sh"}, dir.path(), kPath, 1s);
  REQUIRE_FALSE(not_executable.ok());
  CHECK(not_executable.error().code == Errc::permission);
  CHECK_THAT(not_executable.error().message, Catch::Contains(dir / "data.sh"));
  auto empty = run_command({}, dir.path(), kPath, 1s);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::invalid_argument);
  CHECK(no_children_left());
}

TEST_CASE("run_command does not leak the agent's descriptors into the command") {
  pw::test::TempDir dir;
  int plain = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(plain >= 0);
  int leaked = ::fcntl(plain, F_DUPFD, 200);
  REQUIRE(leaked >= 200);
  write_script(dir, "check.sh", "ls /proc/$$/fd\n");
  auto ran = run_command({"check.sh"}, dir.path(), kPath, 5s);
  ::close(leaked);
  ::close(plain);
  REQUIRE(ran.ok());
  std::istringstream fds(ran->output);
  std::string fd;
  bool saw_stdout = false;
  while (std::getline(fds, fd)) {
    CHECK(fd != std::to_string(leaked));
    saw_stdout = saw_stdout || fd == "1";
  }
  CHECK(saw_stdout);
}

TEST_CASE("run_command reports a program whose exec fails and leaves no zombie") {
  pw::test::TempDir dir;
  pw::test::write_file(dir / "check.sh", "#!/nonexistent/interpreter\n");
  ::chmod((dir / "check.sh").c_str(), 0755);
  auto ran = run_command({"check.sh"}, dir.path(), kPath, 1s);
  REQUIRE_FALSE(ran.ok());
  CHECK(ran.error().code == Errc::io);
  CHECK(no_children_left());
}
