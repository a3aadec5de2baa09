// ipcc/result.h: `Result<T>`, a value or an `ipcc::Error`.
//
// The contract's operations return `Result<T>` instead of throwing: the
// conformance harness records every outcome in a history, and an outcome the
// spec calls normal (eof, timeout, full, ...) must not become control flow.
// Shaped like C++23 `std::expected` so it can be replaced by it later:
//   Result<Bytes> r = conn.recv_bytes();
//   if (!r) return r.error().code == errc::eof ? ... : ...;
//   use(*r);
#ifndef IPCC_RESULT_H_
#define IPCC_RESULT_H_

#include <cassert>
#include <utility>
#include <variant>

#include "ipcc/error.h"

namespace ipcc {

// Tag wrapper for building a failed Result: `return fail(errc::closed);`.
struct Failure {
  Error error;
};

inline Failure fail(errc code, int native = 0, std::string detail = {}) {
  return Failure{Error(code, native, std::move(detail))};
}
inline Failure fail(Error error) { return Failure{std::move(error)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Failure failure) : state_(std::in_place_index<1>, std::move(failure.error)) {}

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  // Requires: has_value() (this is checked by assert only).
  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Requires: !has_value().
  const Error& error() const& { assert(!has_value()); return std::get<1>(state_); }
  Error&& error() && { assert(!has_value()); return std::get<1>(std::move(state_)); }

  // errc::ok when a value is held, else the error's code.
  errc code() const noexcept { return has_value() ? errc::ok : std::get<1>(state_).code; }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Failure failure) : error_(std::move(failure.error)), failed_(true) {}

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  const Error& error() const& { assert(failed_); return error_; }
  Error&& error() && { assert(failed_); return std::move(error_); }
  errc code() const noexcept { return failed_ ? error_.code : errc::ok; }

 private:
  Error error_;
  bool failed_ = false;
};

inline Result<void> ok() { return {}; }

}  // namespace ipcc

#endif  // IPCC_RESULT_H_
