#include "agents/daemon/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace pw::agent {

PipelinedWriter::PipelinedWriter(Consumer consumer, std::size_t buffers, std::size_t buffer_bytes)
    : PipelinedWriter(std::vector<Consumer>{std::move(consumer)}, buffers, buffer_bytes) {}

PipelinedWriter::PipelinedWriter(std::vector<Consumer> stages, std::size_t buffers,
                                 std::size_t buffer_bytes)
    : stages_(std::move(stages)),
      buffer_bytes_((std::max<std::size_t>(buffer_bytes, 1) + kAlignment - 1) / kAlignment *
                    kAlignment),
      waiting_(stages_.size()),
      busy_(stages_.size(), false) {
  for (std::size_t i = 0; i < std::max<std::size_t>(buffers, 1); ++i) {
    char* data = static_cast<char*>(std::aligned_alloc(kAlignment, buffer_bytes_));
    if (data == nullptr) throw std::bad_alloc();
    free_.push_back(Buffer{std::unique_ptr<char, Free>(data), 0});
  }
  for (std::size_t stage = 0; stage < stages_.size(); ++stage) {
    threads_.emplace_back([this, stage] { run(stage); });
  }
}

PipelinedWriter::~PipelinedWriter() {
  (void)finish();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& thread : threads_) thread.join();
}

Result<std::span<char>> PipelinedWriter::acquire() {
  std::unique_lock lock(mutex_);
  if (acquired_) return make_error(Errc::internal, "pipeline: a buffer is already acquired");
  changed_.wait(lock, [this] { return error_ || !free_.empty(); });
  if (error_) return *error_;
  acquired_ = std::move(free_.back());
  free_.pop_back();
  return std::span<char>(acquired_->data.get(), buffer_bytes_);
}

Status PipelinedWriter::commit(std::size_t filled) {
  {
    std::lock_guard lock(mutex_);
    if (!acquired_) return make_error(Errc::internal, "pipeline: commit without a buffer");
    Buffer buffer = std::move(*acquired_);
    acquired_.reset();
    buffer.size = std::min(filled, buffer_bytes_);
    if (buffer.size == 0 || stages_.empty()) {
      free_.push_back(std::move(buffer));
    } else {
      waiting_.front().push_back(std::move(buffer));
    }
    if (error_) return *error_;
  }
  changed_.notify_all();
  return Ok{};
}

Status PipelinedWriter::push(std::string_view chunk) {
  while (!chunk.empty()) {
    PW_TRY_ASSIGN(std::span<char> buffer, acquire());
    std::size_t take = std::min(chunk.size(), buffer.size());
    std::memcpy(buffer.data(), chunk.data(), take);
    chunk.remove_prefix(take);
    PW_TRY(commit(take));
  }
  return Ok{};
}

Status PipelinedWriter::finish() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] {
    if (error_) return true;
    for (std::size_t i = 0; i < stages_.size(); ++i) {
      if (busy_[i] || !waiting_[i].empty()) return false;
    }
    return true;
  });
  if (error_) return *error_;
  return Ok{};
}

void PipelinedWriter::run(std::size_t stage) {
  for (;;) {
    Buffer buffer;
    bool failed = false;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !waiting_[stage].empty(); });
      if (waiting_[stage].empty()) return;  // stopping, nothing left
      buffer = std::move(waiting_[stage].front());
      waiting_[stage].pop_front();
      busy_[stage] = true;
      failed = error_.has_value();
    }
    // After a failure the rest is dropped: nothing is written past a bad chunk.
    Status status =
        failed ? Status(Ok{}) : stages_[stage](std::string_view(buffer.data.get(), buffer.size));
    {
      std::lock_guard lock(mutex_);
      busy_[stage] = false;
      if (!status.ok() && !error_) error_ = std::move(status).error();
      if (stage + 1 < stages_.size()) {
        waiting_[stage + 1].push_back(std::move(buffer));
      } else {
        buffer.size = 0;
        free_.push_back(std::move(buffer));
      }
    }
    changed_.notify_all();
  }
}

}  // namespace pw::agent
