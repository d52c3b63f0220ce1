// read_certificate's memory (x509.cpp): decoded certificates by their PEM text, the
// oldest forgotten first past kMax. Internal to common/crypto.
#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/crypto/x509.hpp"

namespace pw::crypto::x509::detail {

// Decoded certificates by their PEM text: the controller reads the peer certificate of
// every API request (the same few agents and operators, again and again), and OpenSSL 3
// takes most of a millisecond to decode one. The same text always reads the same.
class CertCache {
 public:
  std::optional<CertInfo> find(std::string_view pem) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(std::string(pem));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void add(std::string_view pem, const CertInfo& info) {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= kMax) {  // oldest first
      entries_.erase(order_.front());
      order_.pop_front();
    }
    if (entries_.emplace(std::string(pem), info).second) order_.emplace_back(pem);
  }

 private:
  static constexpr std::size_t kMax = 256;
  std::mutex mutex_;
  std::unordered_map<std::string, CertInfo> entries_;
  std::deque<std::string> order_;
};

}  // namespace pw::crypto::x509::detail
