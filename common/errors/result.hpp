// Result<T>: the one error idiom of Patchwave. A function that can fail returns either
// its value or an Error; exceptions thrown by third-party libraries are caught in the
// module that adapts them and turned into an Error there.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace pw {

// What kind of rule was broken. Callers branch on the code; people read the message.
enum class Errc {
  invalid_argument,  // the caller passed something unusable
  io,                // reading or writing a file or stream failed
  parse,             // malformed input (JSON, PEM, hex, dates)
  limit,             // input larger or deeper than allowed
  unsupported,       // a key type, scheme or format we do not handle
  crypto,            // a crypto primitive failed (not a bad signature)
  signature,         // signature missing, invalid, or threshold not met
  expired,           // metadata past its expiry
  rollback,          // a version went down
  mismatch,          // a hash, length, version or type differs from what was signed
  not_found,         // a file, target, key or ref that should exist does not
  permission,        // file permissions unsafe (e.g. a private key readable by others)
  conflict,          // the operation clashes with existing state
  git,               // libgit2 reported an error
  internal,          // a bug: an invariant was broken
};

const char* errc_name(Errc code);

// An error says what rule failed (message) and, through context, what was being done
// and on which file, field or entry: "verifying targets.json: threshold not met".
struct Error {
  Errc code = Errc::internal;
  std::string message;
  std::vector<std::string> context;  // outermost last

  // Adds what the caller was doing; returns *this so it chains.
  Error& with_context(std::string what) & {
    context.push_back(std::move(what));
    return *this;
  }
  Error&& with_context(std::string what) && {
    context.push_back(std::move(what));
    return std::move(*this);
  }

  // "outer: inner: message"
  std::string to_string() const;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message), {}};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Error& error() & { return std::get<1>(data_); }
  const Error& error() const& { return std::get<1>(data_); }
  Error&& error() && { return std::get<1>(std::move(data_)); }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success carries nothing.
struct Ok {};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}                                                     // NOLINT
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  Error& error() & { return error_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace pw

// PW_TRY(expr): evaluate a Result; on error return it from the enclosing function.
#define PW_TRY(expr)                                                    \
  do {                                                                  \
    auto pw_try_result_ = (expr);                                       \
    if (!pw_try_result_.ok()) return std::move(pw_try_result_).error(); \
  } while (false)

#define PW_CONCAT_INNER(a, b) a##b
#define PW_CONCAT(a, b) PW_CONCAT_INNER(a, b)

// PW_TRY_ASSIGN(lhs, expr): lhs = value of expr, or return its error.
#define PW_TRY_ASSIGN(lhs, expr) PW_TRY_ASSIGN_IMPL(PW_CONCAT(pw_try_, __LINE__), lhs, expr)
#define PW_TRY_ASSIGN_IMPL(tmp, lhs, expr)      \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
