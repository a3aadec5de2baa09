// ipcc/deadline.h: the single time limit every blocking operation takes.
//
// All timed forms of an operation (blocking, try-once, for a duration, until a
// time point, Python's `timeout=` seconds) are normalised into one `Deadline`
// before they reach an adapter, so an adapter implements one hook per
// operation. The rules, written once for the whole contract:
//   - `Deadline::never()` blocks without limit (Python `timeout=None`).
//   - A zero or negative duration, or a time point in the past, means "try
//     once, do not wait" (Python: a negative timeout equals zero).
//   - Time is measured on std::chrono::steady_clock (CLOCK_MONOTONIC), never on
//     a wall clock, so clock steps do not shorten or stretch a wait.
//   - Returning before the deadline with `timeout` is a conformance failure;
//     returning somewhat after it is allowed.
#ifndef IPCC_DEADLINE_H_
#define IPCC_DEADLINE_H_

#include <chrono>
#include <optional>

namespace ipcc {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  static constexpr Deadline never() noexcept { return Deadline(Clock::time_point::max()); }
  static Deadline now() noexcept { return Deadline(Clock::now()); }
  static Deadline at(Clock::time_point when) noexcept { return Deadline(when); }
  static Deadline after(Clock::duration delay) noexcept {
    if (delay <= Clock::duration::zero()) return now();
    auto start = Clock::now();
    if (delay >= Clock::time_point::max() - start) return never();
    return Deadline(start + delay);
  }
  // Python-style seconds: nullopt blocks forever; <= 0 tries once.
  static Deadline from_seconds(std::optional<double> seconds) noexcept {
    if (!seconds) return never();
    if (*seconds >= 1e9) return never();
    return after(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(*seconds)));
  }

  bool is_never() const noexcept { return when_ == Clock::time_point::max(); }
  bool expired() const noexcept { return !is_never() && Clock::now() >= when_; }
  Clock::time_point when() const noexcept { return when_; }

  // Time left, clamped at zero; Clock::duration::max() for never().
  Clock::duration remaining() const noexcept {
    if (is_never()) return Clock::duration::max();
    auto left = when_ - Clock::now();
    return left > Clock::duration::zero() ? left : Clock::duration::zero();
  }

 private:
  constexpr explicit Deadline(Clock::time_point when) noexcept : when_(when) {}
  Clock::time_point when_;
};

}  // namespace ipcc

#endif  // IPCC_DEADLINE_H_
