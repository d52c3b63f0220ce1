// Overlaps the network with the disk while an artifact downloads: the downloading thread
// fills one of a few buffers and goes back to reading the socket, while a second thread
// hashes and writes the previous chunks. Without it, the socket is not read while a
// chunk is written, the sender stalls on a full window, and the transfer runs at the
// sum of network, disk and hashing time instead of the slowest.
//
// The network reads straight into the pipeline's buffers (acquire, fill, commit): no
// copy per byte on a machine where the agent shares its cores with the sender. Buffers
// are aligned to kAlignment so that a consumer may write them with O_DIRECT. Several
// consumers make several stages, each on its own thread (hashing one chunk while the
// previous one is written: an O_DIRECT write waits for the device).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::agent {

class PipelinedWriter {
 public:
  static constexpr std::size_t kAlignment = 4096;
  using Consumer = std::function<Status(std::string_view)>;
  // Each consumer runs on its own thread and sees every chunk, in order, after the
  // consumers before it. `buffer_bytes` is rounded up to a multiple of kAlignment.
  explicit PipelinedWriter(Consumer consumer, std::size_t buffers = 8,
                           std::size_t buffer_bytes = 1u << 20);
  explicit PipelinedWriter(std::vector<Consumer> stages, std::size_t buffers = 8,
                           std::size_t buffer_bytes = 1u << 20);
  ~PipelinedWriter();  // waits for what was committed, like finish()
  PipelinedWriter(const PipelinedWriter&) = delete;
  PipelinedWriter& operator=(const PipelinedWriter&) = delete;

  // A free buffer to fill in place (aligned to kAlignment, buffer_bytes() long); blocks
  // while every buffer is in flight. One at a time: acquire again only after commit.
  // Returns the consumer's first error once it has failed.
  Result<std::span<char>> acquire();
  // Hands the first `filled` bytes of the acquired buffer to the consumer (0: gives the
  // buffer back unused).
  Status commit(std::size_t filled);
  // Copies `chunk` (split into buffer-sized pieces): acquire + copy + commit.
  Status push(std::string_view chunk);
  // Waits until everything committed was consumed; the consumer's first error, if any.
  Status finish();
  std::size_t buffer_bytes() const { return buffer_bytes_; }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<char, Free> data;
    std::size_t size = 0;  // bytes filled
  };
  void run(std::size_t stage);

  std::vector<Consumer> stages_;
  std::size_t buffer_bytes_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Buffer> free_;
  std::vector<std::deque<Buffer>> waiting_;  // per stage, in order
  std::vector<bool> busy_;                   // per stage
  std::optional<Buffer> acquired_;           // owned by the producer between acquire and commit
  bool stopping_ = false;
  std::optional<Error> error_;
  std::vector<std::thread> threads_;
};

}  // namespace pw::agent
