// SIGPIPE blocked in the calling thread for the guard's life; one raised meanwhile is
// consumed when it ends (the write that raised it failed with EPIPE, which its caller
// reports). For code that writes to pipes or sockets with write(2) (OpenSSL on a socket,
// an operator's script that exits without reading its input): such a write must fail,
// not kill the process.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace pw::posix {

class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pending;
    ::sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = ::sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    ::sigemptyset(&block);
    ::sigaddset(&block, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &block, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t only;
      ::sigemptyset(&only);
      ::sigaddset(&only, SIGPIPE);
      timespec zero{0, 0};
      while (::sigtimedwait(&only, nullptr, &zero) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_{};
  bool was_pending_ = false;
};

}  // namespace pw::posix
