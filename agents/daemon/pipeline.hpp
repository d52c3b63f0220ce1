// Overlaps the network with the disk while an artifact downloads: the downloading thread
// copies each chunk into one of a few buffers and goes back to reading the socket, while
// a second thread hashes and writes the previous chunks. Without it, the socket is
// not read while a chunk is written, the sender stalls on a full window, and the
// transfer runs at the sum of network, disk and hashing time instead of the slowest.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/errors/result.hpp"

namespace pw::agent {

class PipelinedWriter {
 public:
  using Consumer = std::function<Status(std::string_view)>;
  // `consumer` runs on the writer thread, in order, one chunk at a time.
  explicit PipelinedWriter(Consumer consumer, std::size_t buffers = 8,
                           std::size_t buffer_bytes = 1u << 20);
  ~PipelinedWriter();  // waits for what was pushed, like finish()
  PipelinedWriter(const PipelinedWriter&) = delete;
  PipelinedWriter& operator=(const PipelinedWriter&) = delete;

  // Copies `chunk` (split into buffer-sized pieces); blocks while every buffer is in
  // flight. Returns the consumer's first error once it has failed.
  Status push(std::string_view chunk);
  // Waits until everything pushed was consumed; the consumer's first error, if any.
  Status finish();

 private:
  void run();

  Consumer consumer_;
  std::size_t buffer_bytes_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> free_;
  std::deque<std::string> full_;
  bool busy_ = false;
  bool stopping_ = false;
  std::optional<Error> error_;
  std::thread thread_;
};

}  // namespace pw::agent
