// Overlaps the network with the disk while an artifact downloads: the downloading thread
// hashes each chunk, copies it into one of a few buffers and goes back to reading the
// socket, while a second thread writes the previous chunks. Without it, the socket is
// not read while a chunk is written, the sender stalls on a full window, and the
// transfer runs at the sum of network, disk and hashing time instead of the slowest.
//
// Buffers are page-aligned and handed over full (every chunk but the last has exactly
// buffer_bytes), so the consumer can write them with O_DIRECT (releases.cpp).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::agent {

inline constexpr std::size_t kPageAlignment = 4096;

class PipelinedWriter {
 public:
  using Consumer = std::function<Status(std::string_view)>;
  // `consumer` runs on the writer thread, in order, one chunk at a time. `buffer_bytes`
  // is rounded up to a multiple of kPageAlignment.
  explicit PipelinedWriter(Consumer consumer, std::size_t buffers = 8,
                           std::size_t buffer_bytes = 1u << 20);
  ~PipelinedWriter();  // waits for what was pushed, like finish()
  PipelinedWriter(const PipelinedWriter&) = delete;
  PipelinedWriter& operator=(const PipelinedWriter&) = delete;

  // Copies `chunk` into the buffer being filled; a full buffer goes to the writer
  // thread. Blocks while every buffer is in flight. Returns the consumer's first error
  // once it has failed.
  Status push(std::string_view chunk);
  // Hands over the partly filled buffer and waits until everything pushed was consumed;
  // the consumer's first error, if any.
  Status finish();

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<char, Free> data;
    std::size_t size = 0;
  };
  Status hand_over();  // queues filling_ (if it holds anything)
  void run();

  Consumer consumer_;
  std::size_t buffer_bytes_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Buffer> free_;
  std::deque<Buffer> full_;
  std::optional<Buffer> filling_;  // owned by the pushing thread
  bool busy_ = false;
  bool stopping_ = false;
  std::optional<Error> error_;
  std::thread thread_;
};

}  // namespace pw::agent
