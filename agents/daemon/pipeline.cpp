#include "agents/daemon/pipeline.hpp"

#include <algorithm>

namespace pw::agent {

PipelinedWriter::PipelinedWriter(Consumer consumer, std::size_t buffers, std::size_t buffer_bytes)
    : consumer_(std::move(consumer)), buffer_bytes_(std::max<std::size_t>(buffer_bytes, 1)) {
  for (std::size_t i = 0; i < std::max<std::size_t>(buffers, 1); ++i) {
    free_.emplace_back();
    free_.back().reserve(buffer_bytes_);
  }
  thread_ = std::thread([this] { run(); });
}

PipelinedWriter::~PipelinedWriter() {
  (void)finish();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

Status PipelinedWriter::push(std::string_view chunk) {
  while (!chunk.empty()) {
    std::string buffer;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return error_ || !free_.empty(); });
      if (error_) return *error_;
      buffer = std::move(free_.back());
      free_.pop_back();
    }
    std::size_t take = std::min(chunk.size(), buffer_bytes_);
    buffer.assign(chunk.data(), take);
    chunk.remove_prefix(take);
    {
      std::lock_guard lock(mutex_);
      full_.push_back(std::move(buffer));
    }
    changed_.notify_all();
  }
  return Ok{};
}

Status PipelinedWriter::finish() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return error_ || (full_.empty() && !busy_); });
  if (error_) return *error_;
  return Ok{};
}

void PipelinedWriter::run() {
  for (;;) {
    std::string buffer;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !full_.empty(); });
      if (full_.empty()) return;  // stopping, nothing left
      buffer = std::move(full_.front());
      full_.pop_front();
      busy_ = true;
    }
    Status status = error_ ? Status(Ok{}) : consumer_(buffer);
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
      if (!status.ok() && !error_) error_ = std::move(status).error();
      buffer.clear();
      free_.push_back(std::move(buffer));
    }
    changed_.notify_all();
  }
}

}  // namespace pw::agent
