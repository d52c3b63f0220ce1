// Boost.Process glue shared by the files that spawn processes (agents/service/*.cpp and
// orchestrator/providers/script.cpp); include it only where Boost.Process already is.
// A handler that gives the child exactly the given environment, prepares it before exec
// (spawn_detail::prepare_child: own session, signals reset, descriptors closed), and
// leaves no zombie when the exec fails.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
// clang-format off
#include <memory>  // before Boost.Process 1.74, whose handles.hpp lacks it
#include <boost/process/extend.hpp>
// clang-format on

#include "agents/service/command.hpp"

namespace pw::agent::spawn_detail {

struct ChildSetup : boost::process::extend::handler {
  explicit ChildSetup(char** environment) : envp(environment) {}
  char** envp;
  template <class Executor>
  void on_setup(Executor& exec) const {
    exec.env = envp;
  }
  template <class Executor>
  void on_exec_setup(Executor&) const {
    prepare_child();
  }
  template <class Executor>
  void on_error(Executor& exec, const std::error_code&) const {
    if (exec.pid <= 0) return;
    ::kill(exec.pid, SIGKILL);
    while (::waitpid(exec.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
};

inline void set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

}  // namespace pw::agent::spawn_detail
