#include "agents/daemon/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace pw::agent {

PipelinedWriter::PipelinedWriter(Consumer consumer, std::size_t buffers, std::size_t buffer_bytes)
    : consumer_(std::move(consumer)),
      buffer_bytes_((std::max<std::size_t>(buffer_bytes, 1) + kPageAlignment - 1) / kPageAlignment *
                    kPageAlignment) {
  for (std::size_t i = 0; i < std::max<std::size_t>(buffers, 1); ++i) {
    auto* memory = static_cast<char*>(std::aligned_alloc(kPageAlignment, buffer_bytes_));
    if (memory == nullptr) throw std::bad_alloc();
    free_.push_back(Buffer{std::unique_ptr<char, Free>(memory), 0});
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
    if (!filling_) {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return error_ || !free_.empty(); });
      if (error_) return *error_;
      filling_ = std::move(free_.back());
      free_.pop_back();
      filling_->size = 0;
    }
    std::size_t take = std::min(chunk.size(), buffer_bytes_ - filling_->size);
    std::memcpy(filling_->data.get() + filling_->size, chunk.data(), take);
    filling_->size += take;
    chunk.remove_prefix(take);
    if (filling_->size == buffer_bytes_) PW_TRY(hand_over());
  }
  return Ok{};
}

Status PipelinedWriter::hand_over() {
  if (!filling_) return Ok{};
  {
    std::lock_guard lock(mutex_);
    if (error_) return *error_;
    if (filling_->size > 0) {
      full_.push_back(std::move(*filling_));
    } else {
      free_.push_back(std::move(*filling_));
    }
  }
  filling_.reset();
  changed_.notify_all();
  return Ok{};
}

Status PipelinedWriter::finish() {
  Status handed = hand_over();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return error_ || (full_.empty() && !busy_); });
  if (error_) return *error_;
  return handed;
}

void PipelinedWriter::run() {
  for (;;) {
    Buffer buffer;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !full_.empty(); });
      if (full_.empty()) return;  // stopping, nothing left
      buffer = std::move(full_.front());
      full_.pop_front();
      busy_ = true;
    }
    Status status =
        error_ ? Status(Ok{}) : consumer_(std::string_view(buffer.data.get(), buffer.size));
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
      if (!status.ok() && !error_) error_ = std::move(status).error();
      buffer.size = 0;
      free_.push_back(std::move(buffer));
    }
    changed_.notify_all();
  }
}

}  // namespace pw::agent
