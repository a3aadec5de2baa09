// The faulty Lock, RLock, Semaphore and BoundedSemaphore variants: one
// wrapper around the reference Lock and one around the reference Semaphore,
// each departing from spec/lock.md or spec/semaphore.md in exactly one way,
// chosen by `SyncDefect`. The defects are the ones real implementations have
// (several are CPython's own: a racy BoundedSemaphore check, an RLock owner
// identity a forked child inherits, a lock nobody can take over from a dead
// owner).
//
// What a variant keeps per process (its own acquires and releases, the units
// it holds, a process-local lock) is reset in a process that did not make it:
// a forked child starts with nothing of its parent's. What must be shared
// between processes (the holder, a recursion count, a banked unit, a flag)
// lives in a MAP_SHARED memfd made with the lock; it survives fork, and
// export_handle() appends its descriptor to the reference's token so an
// imported copy maps the same memory. The RLock variants whose defect is in
// the ownership rules (rlock-any-release, rlock-fork-owner) are built the way
// such implementations are: a plain Lock (the reference's, so a dead owner is
// still taken over) plus an owner and a count in that shared memory.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "faulty_support.h"
#include "faulty_sync.h"
#include "ipcc/reference/pipe.h"
#include "ipcc/reference/sync.h"

namespace ipcc::faulty {
namespace {

enum class SyncDefect {
  // Lock and RLock.
  lock_created_held,        // a new Lock/RLock starts held by nobody in particular
  process_local_lock,       // each process's copy is a lock of its own
  lock_recursive,           // a Lock lets its holder re-enter
  acquire_timeout_early,    // a timed acquire gives up after a quarter of its time
  release_no_wake,          // release never wakes a sleeping acquirer
  lock_owner_only_release,  // a Lock refuses (not_owner) a release by another process
  over_release_accepted,    // releasing an unlocked Lock succeeds and banks a unit
  rlock_count_ignored,      // an RLock's first release frees it whatever the count
  rlock_any_release,        // an RLock accepts a release by a non-owner
  rlock_fork_owner,         // the RLock owner identity is inherited by a forked child
  dead_owner_wedges,        // declares reported_to_next; a dead owner's lock stays held
  dead_owner_not_reported,  // declares reported_to_next; a dead owner's lock is freed silently
  // Semaphore and BoundedSemaphore.
  semaphore_admits_extra,        // Semaphore(n) admits n + 1 holders
  semaphore_invalid_accepted,    // bad initial values clamped instead of invalid_argument
  semaphore_timeout_early,       // a timed acquire gives up after a quarter of its time
  semaphore_release_no_wake,     // release never wakes a sleeping acquirer
  semaphore_owner_only_release,  // a Semaphore refuses releases from a process holding no unit
  bounded_over_release_accepted,  // a BoundedSemaphore is a plain Semaphore
  bounded_racy_check,            // check-then-increment: concurrent releases pass the bound
  semaphore_max_wraps,           // a release at the maximum value reports ok
  get_value_own_view,            // get_value from this process's own acquires and releases
};

constexpr std::string_view kLockTokenPrefix = "ipcc.faulty.lock/1:";
constexpr std::string_view kSemaphoreTokenPrefix = "ipcc.faulty.semaphore/1:";

// bounded_racy_check: the pause between the bound check and the increment
// that widens CPython's race so racing releases meet in it every time.
constexpr auto kRacePause = std::chrono::milliseconds(20);
// How often a wait on the wrapper's own shared state looks again.
constexpr auto kPollSlice = std::chrono::milliseconds(2);

bool is_lock_defect(SyncDefect defect) { return defect <= SyncDefect::dead_owner_not_reported; }

// The RLock variants built on a plain Lock plus a shared owner and count.
bool emulates_rlock(SyncDefect defect) {
  return defect == SyncDefect::rlock_any_release || defect == SyncDefect::rlock_fork_owner;
}

bool lock_needs_shared(SyncDefect defect, LockKind kind) {
  switch (defect) {
    case SyncDefect::lock_created_held:
    case SyncDefect::dead_owner_wedges:
      return true;
    case SyncDefect::lock_recursive:
    case SyncDefect::lock_owner_only_release:
    case SyncDefect::over_release_accepted:
      return kind == LockKind::lock;
    case SyncDefect::rlock_any_release:
    case SyncDefect::rlock_fork_owner:
      return kind == LockKind::rlock;
    default:
      return false;
  }
}

// Sleeps through to `deadline` (steady_clock is CLOCK_MONOTONIC on Linux),
// whatever happens meanwhile; forever for Deadline::never().
void sleep_through(Deadline deadline) {
  if (deadline.is_never()) {
    for (;;) nap(std::chrono::seconds(1));
  }
  const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.when().time_since_epoch()).count();
  const timespec until{static_cast<time_t>(since / 1'000'000'000), static_cast<long>(since % 1'000'000'000)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
  }
}

// Polls `done` until it holds (true) or `deadline` passed (false).
template <typename Predicate>
bool poll_until(Predicate done, Deadline deadline) {
  for (;;) {
    if (done()) return true;
    if (deadline.expired()) return false;
    nap(std::min<std::chrono::nanoseconds>(deadline.remaining(), kPollSlice));
  }
}

// The timed-acquire defects shared by locks and semaphores. `acquire` is the
// reference's acquire(Deadline).
//
// A lost wake-up: a try, then a sleep nobody interrupts until the deadline,
// then one last try (forever without a deadline).
template <typename Acquire>
auto acquire_without_wakeup(Acquire acquire, Deadline deadline) {
  auto got = acquire(Deadline::now());
  if (got || got.code() != errc::timeout || deadline.expired()) return got;
  sleep_through(deadline);
  return acquire(Deadline::now());
}

// This process's identity as a lock holder.
std::int64_t process_identity() { return ::getpid(); }

// rlock_fork_owner: an identity cached at first use and never refreshed (no
// atfork handler), so a forked child keeps its parent's; an exec'd process
// starts afresh.
std::int64_t cached_identity() {
  static const std::int64_t cached = ::getpid();
  return cached;
}

// State every process's copy of one lock shares.
struct LockShared {
  std::atomic<std::int64_t> owner;   // identity of the holder, 0 when none (or unknown)
  std::atomic<std::int64_t> depth;   // the holder's recursion count
  std::atomic<std::int64_t> banked;  // over_release_accepted: units added by refused releases
  std::atomic<std::uint32_t> held;   // lock_created_held: held from birth; dead_owner_wedges: held by the dead
};

using LockRegion = SharedRegion<LockShared>;

Failure timeout_error() { return fail(errc::timeout, 0, "lock not acquired before the deadline"); }
Failure not_owner_error() { return fail(errc::not_owner, 0, "cannot release un-acquired lock"); }

class FaultyLock final : public Lock {
 public:
  FaultyLock(SyncDefect defect, LockKind kind, std::unique_ptr<Lock> inner, std::unique_ptr<LockRegion> shared)
      : defect_(defect), kind_(kind), inner_(std::move(inner)), shared_(std::move(shared)), pid_(::getpid()) {}

  Result<Acquired> acquire(Deadline deadline) override {
    refresh();
    if (emulated()) return emulated_acquire(deadline);
    switch (defect_) {
      case SyncDefect::lock_created_held:
        // Made with its one unit already taken, by nobody: only a release
        // (allowed for a Lock, refused for an unowned RLock) gives it out.
        if (!poll_until([this] { return state().held.load() == 0; }, deadline)) return timeout_error();
        return inner_->acquire(deadline);
      case SyncDefect::process_local_lock:
        return local_acquire(deadline);
      case SyncDefect::acquire_timeout_early:
        return inner_->acquire(quarter_of(deadline));
      case SyncDefect::release_no_wake:
        return acquire_without_wakeup([this](Deadline d) { return inner_->acquire(d); }, deadline);
      case SyncDefect::dead_owner_wedges:
        return acquire_never_taking_over(deadline);
      case SyncDefect::dead_owner_not_reported: {
        auto got = inner_->acquire(deadline);
        if (got) got->previous_owner_died = false;
        return got;
      }
      default:
        break;
    }
    if (kind_ != LockKind::lock) return inner_->acquire(deadline);
    switch (defect_) {
      case SyncDefect::lock_recursive: {
        // "Am I the holder?" answered for a Lock as for an RLock.
        auto& shared = state();
        if (shared.owner.load() == process_identity()) {
          shared.depth.fetch_add(1);
          return Acquired{};
        }
        auto got = inner_->acquire(deadline);
        if (got) {
          shared.depth.store(1);
          shared.owner.store(process_identity());
        }
        return got;
      }
      case SyncDefect::lock_owner_only_release: {
        auto got = inner_->acquire(deadline);
        if (got) state().owner.store(process_identity());
        return got;
      }
      case SyncDefect::over_release_accepted:
        return acquire_or_take_banked(deadline);
      default:
        return inner_->acquire(deadline);
    }
  }

  Result<void> release() override {
    refresh();
    if (emulated()) return emulated_release();
    switch (defect_) {
      case SyncDefect::lock_created_held:
        if (state().held.load() != 0) {
          if (kind_ == LockKind::rlock) return not_owner_error();
          std::uint32_t held = 1;
          if (state().held.compare_exchange_strong(held, 0)) return ok();
        }
        return inner_->release();
      case SyncDefect::process_local_lock:
        return local_release();
      case SyncDefect::dead_owner_wedges:
        if (state().held.load() != 0) {
          // Held by a dead owner: an RLock has no owner here to release it;
          // any process may release a Lock, which frees what this wrapper
          // kept taken on the dead owner's behalf.
          if (kind_ == LockKind::rlock) return not_owner_error();
          std::uint32_t held = 1;
          if (state().held.compare_exchange_strong(held, 0)) return inner_->release();
        }
        return inner_->release();
      case SyncDefect::rlock_count_ignored: {
        auto released = inner_->release();
        if (!released || kind_ != LockKind::rlock) return released;
        // One release frees it: the rest of the owner's count is dropped.
        while (inner_->release()) {
        }
        return released;
      }
      default:
        break;
    }
    if (kind_ != LockKind::lock) return inner_->release();
    switch (defect_) {
      case SyncDefect::lock_recursive: {
        auto& shared = state();
        std::int64_t owner = shared.owner.load();
        if (owner == process_identity() && shared.depth.load() > 1) {
          shared.depth.fetch_sub(1);
          return ok();
        }
        shared.owner.compare_exchange_strong(owner, 0);
        return inner_->release();
      }
      case SyncDefect::lock_owner_only_release: {
        auto& shared = state();
        std::int64_t owner = shared.owner.load();
        // Treats a Lock like an RLock: only its acquirer may release it.
        if (owner != 0 && owner != process_identity()) return not_owner_error();
        shared.owner.compare_exchange_strong(owner, 0);
        return inner_->release();
      }
      case SyncDefect::over_release_accepted: {
        auto released = inner_->release();
        if (released || released.code() != errc::released_too_many_times) return released;
        // A counting semaphore's release, with no check against the bound 1.
        state().banked.fetch_add(1);
        return ok();
      }
      default:
        return inner_->release();
    }
  }

  LockKind kind() const override { return kind_; }

  Result<HandleToken> export_handle() override {
    auto token = inner_->export_handle();
    if (!token) return token;
    return wrap_token(std::move(*token), kLockTokenPrefix, to_string(kind_), shared_ ? shared_->fd() : -1);
  }

 private:
  LockShared& state() { return shared_->state(); }
  bool emulated() const { return emulates_rlock(defect_) && kind_ == LockKind::rlock; }

  std::int64_t identity() const {
    return defect_ == SyncDefect::rlock_fork_owner ? cached_identity() : process_identity();
  }

  // rlock_any_release, rlock_fork_owner: an RLock made of a plain Lock plus
  // an owner and a count beside it.
  Result<Acquired> emulated_acquire(Deadline deadline) {
    auto& shared = state();
    const std::int64_t me = identity();
    if (shared.owner.load() == me) {
      shared.depth.fetch_add(1);
      return Acquired{};
    }
    auto got = inner_->acquire(deadline);
    if (got) {
      shared.depth.store(1);
      shared.owner.store(me);
    }
    return got;
  }

  Result<void> emulated_release() {
    auto& shared = state();
    std::int64_t owner = shared.owner.load();
    if (owner == identity()) {
      if (shared.depth.fetch_sub(1) > 1) return ok();
      shared.owner.store(0);
      return inner_->release();
    }
    // rlock_any_release: the owner check is missing; a held RLock is freed
    // by whoever releases it.
    if (defect_ == SyncDefect::rlock_any_release && owner != 0 && shared.owner.compare_exchange_strong(owner, 0)) {
      shared.depth.store(0);
      return inner_->release();
    }
    return not_owner_error();
  }

  // process_local_lock: an ordinary in-process lock (std::mutex /
  // std::recursive_mutex), which each process has a copy of.
  Result<Acquired> local_acquire(Deadline deadline) {
    if (kind_ == LockKind::rlock) {
      ++local_depth_;  // the only thread of this process owns it
      return Acquired{};
    }
    if (local_depth_ == 0) {
      local_depth_ = 1;
      return Acquired{};
    }
    // Held by this process's only thread: nobody here can release it.
    if (!deadline.expired()) sleep_through(deadline);
    return timeout_error();
  }

  Result<void> local_release() {
    if (local_depth_ == 0) {
      if (kind_ == LockKind::rlock) return not_owner_error();
      return fail(errc::released_too_many_times, 0, "release unlocked lock");
    }
    --local_depth_;
    return ok();
  }

  // over_release_accepted: the lock's own unit first, then a banked one.
  Result<Acquired> acquire_or_take_banked(Deadline deadline) {
    auto& banked = state().banked;
    for (;;) {
      auto got = inner_->acquire(Deadline::now());
      if (got || got.code() != errc::timeout) return got;
      for (std::int64_t units = banked.load(); units > 0;) {
        if (banked.compare_exchange_weak(units, units - 1)) return Acquired{};
      }
      if (deadline.expired()) return got;
      // Waits for the lock in short slices, looking at the bank between them.
      got = inner_->acquire(Deadline::at(std::min(deadline.when(), Deadline::Clock::now() + kPollSlice * 5)));
      if (got || got.code() != errc::timeout) return got;
    }
  }

  // dead_owner_wedges: a lock taken over from a dead owner is considered
  // still held by it (as a non-robust lock would be): the takeover is kept
  // taken on the dead owner's behalf and the acquirer waits on to its deadline.
  Result<Acquired> acquire_never_taking_over(Deadline deadline) {
    auto& held = state().held;
    for (;;) {
      if (!poll_until([&held] { return held.load() == 0; }, deadline)) return timeout_error();
      auto got = inner_->acquire(deadline);
      if (!got || !got->previous_owner_died) return got;
      held.store(1);
    }
  }

  // A process other than the one that made this copy starts afresh.
  void refresh() {
    const pid_t now = ::getpid();
    if (now == pid_) return;
    pid_ = now;
    local_depth_ = 0;
  }

  SyncDefect defect_;
  LockKind kind_;  // as made; emulated RLocks wrap a reference Lock
  std::unique_ptr<Lock> inner_;
  std::unique_ptr<LockRegion> shared_;
  pid_t pid_;
  std::int64_t local_depth_ = 0;  // process_local_lock: this process's own lock
};

class FaultySemaphore final : public Semaphore {
 public:
  FaultySemaphore(SyncDefect defect, SemaphoreKind kind, std::int64_t value, std::unique_ptr<Semaphore> inner)
      : defect_(defect), kind_(kind), value_(value), inner_(std::move(inner)), pid_(::getpid()) {}

  Result<void> acquire(Deadline deadline) override {
    refresh();
    Result<void> got = ok();
    switch (defect_) {
      case SyncDefect::semaphore_timeout_early:
        got = inner_->acquire(quarter_of(deadline));
        break;
      case SyncDefect::semaphore_release_no_wake:
        got = acquire_without_wakeup([this](Deadline d) { return inner_->acquire(d); }, deadline);
        break;
      default:
        got = inner_->acquire(deadline);
        break;
    }
    if (got) ++acquired_;
    return got;
  }

  Result<void> release() override {
    refresh();
    Result<void> released = ok();
    switch (defect_) {
      case SyncDefect::semaphore_owner_only_release:
        // Treats units like a lock's: only a process holding one gives one back.
        if (kind_ == SemaphoreKind::semaphore && acquired_ <= released_) {
          return fail(errc::released_too_many_times, 0, "semaphore released by a process that holds none");
        }
        released = inner_->release();
        break;
      case SyncDefect::bounded_racy_check:
        if (kind_ == SemaphoreKind::bounded_semaphore) {
          // CPython's check: read the value, compare, then post, with
          // nothing holding the value still in between.
          auto value = inner_->get_value();
          if (!value) return fail(std::move(value).error());
          if (*value >= value_) return fail(errc::released_too_many_times, 0, "semaphore or lock released too many times");
          nap(kRacePause);
        }
        released = inner_->release();
        break;
      case SyncDefect::semaphore_max_wraps:
        released = inner_->release();
        // The increment saturates at the maximum instead of being refused.
        if (!released && released.code() == errc::released_too_many_times && kind_ == SemaphoreKind::semaphore) {
          released = ok();
        }
        break;
      default:
        released = inner_->release();
        break;
    }
    if (released) ++released_;
    return released;
  }

  Result<std::int64_t> get_value() override {
    refresh();
    if (defect_ == SyncDefect::get_value_own_view) {
      auto value = inner_->get_value();
      if (!value) return value;
      return std::max<std::int64_t>(value_ + released_ - acquired_, 0);
    }
    return inner_->get_value();
  }

  SemaphoreKind kind() const override { return kind_; }

  Result<HandleToken> export_handle() override {
    auto token = inner_->export_handle();
    if (!token) return token;
    return wrap_token(std::move(*token), kSemaphoreTokenPrefix, std::string(to_string(kind_)) + "," + std::to_string(value_),
                      -1);
  }

 private:
  // A process other than the one that made this copy starts afresh: it has
  // acquired and released nothing.
  void refresh() {
    const pid_t now = ::getpid();
    if (now == pid_) return;
    pid_ = now;
    acquired_ = released_ = 0;
  }

  SyncDefect defect_;
  SemaphoreKind kind_;  // as made; bounded variants may wrap a plain Semaphore
  std::int64_t value_;  // the initial value it was made with (the bound of a bounded one)
  std::unique_ptr<Semaphore> inner_;
  pid_t pid_;
  std::int64_t acquired_ = 0;  // successful acquires in this process
  std::int64_t released_ = 0;  // successful releases in this process
};

bool parse_lock_kind(std::string_view text, LockKind& kind) {
  for (auto candidate : {LockKind::lock, LockKind::rlock}) {
    if (text == to_string(candidate)) {
      kind = candidate;
      return true;
    }
  }
  return false;
}

bool parse_semaphore_kind(std::string_view text, SemaphoreKind& kind) {
  for (auto candidate : {SemaphoreKind::semaphore, SemaphoreKind::bounded_semaphore}) {
    if (text == to_string(candidate)) {
      kind = candidate;
      return true;
    }
  }
  return false;
}

class FaultySyncBackend final : public Backend {
 public:
  FaultySyncBackend(std::string name, SyncDefect defect)
      : name_(std::move(name)), defect_(defect), inner_(reference::make_backend()) {}

  std::string name() const override { return name_; }
  // Every variant declares what the reference declares: dead_owner_wedges
  // and dead_owner_not_reported break its reported_to_next.
  Capabilities capabilities() const override { return inner_->capabilities(); }

  Result<PipeEnds> make_pipe(bool duplex) override { return inner_->make_pipe(duplex); }
  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    return inner_->import_connection(token);
  }
  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override { return inner_->make_queue(options); }
  Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) override { return inner_->import_queue(token); }
  Result<std::unique_ptr<Event>> make_event() override { return inner_->make_event(); }
  Result<std::unique_ptr<Event>> import_event(const HandleToken& token) override { return inner_->import_event(token); }
  Result<std::unique_ptr<Condition>> make_condition(const ConditionOptions& options) override {
    return inner_->make_condition(options);
  }
  Result<std::unique_ptr<Condition>> import_condition(const HandleToken& token) override {
    return inner_->import_condition(token);
  }
  Result<std::unique_ptr<Barrier>> make_barrier(const BarrierOptions& options) override {
    return inner_->make_barrier(options);
  }
  Result<std::unique_ptr<Barrier>> import_barrier(const HandleToken& token) override {
    return inner_->import_barrier(token);
  }

  Result<std::unique_ptr<Lock>> make_lock(LockKind kind) override {
    if (!is_lock_defect(defect_)) return inner_->make_lock(kind);
    const bool emulated = emulates_rlock(defect_) && kind == LockKind::rlock;
    auto made = inner_->make_lock(emulated ? LockKind::lock : kind);
    if (!made) return made;
    std::unique_ptr<LockRegion> shared;
    if (lock_needs_shared(defect_, kind)) {
      auto region = LockRegion::create("ipcc-faulty-lock");
      if (!region) return fail(std::move(region).error());
      shared = std::move(*region);
      // Its one unit taken from birth, by nobody.
      if (defect_ == SyncDefect::lock_created_held) shared->state().held.store(1);
    }
    return std::unique_ptr<Lock>(std::make_unique<FaultyLock>(defect_, kind, std::move(*made), std::move(shared)));
  }

  Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) override {
    if (!is_lock_defect(defect_)) return inner_->import_lock(token);
    LockKind kind{};
    auto unwrapped = unwrap_token(token, kLockTokenPrefix, "lock",
                                  [&kind](std::string_view header) { return parse_lock_kind(header, kind); });
    if (!unwrapped) return fail(std::move(unwrapped).error());
    HandleToken& inner = unwrapped->inner;
    std::unique_ptr<LockRegion> shared;
    if (lock_needs_shared(defect_, kind)) {
      auto fd = take_shared_fd(inner, "lock");
      if (!fd) return fail(std::move(fd).error());
      auto region = LockRegion::attach(*fd, "lock");
      if (!region) return fail(std::move(region).error());
      shared = std::move(*region);
    }
    auto imported = inner_->import_lock(inner);
    if (!imported) return imported;  // the token's descriptors stay the caller's
    if (shared) shared->keep_fd();
    return std::unique_ptr<Lock>(std::make_unique<FaultyLock>(defect_, kind, std::move(*imported), std::move(shared)));
  }

  Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) override {
    if (is_lock_defect(defect_)) return inner_->make_semaphore(options);
    const std::int64_t max = inner_->capabilities().sync.max_semaphore_value;
    SemaphoreOptions inner_options = options;
    switch (defect_) {
      case SyncDefect::semaphore_admits_extra:
        // One unit too many at creation (an off-by-one in the initial count).
        if (options.value >= 0 && options.value < max) inner_options.value = options.value + 1;
        break;
      case SyncDefect::semaphore_invalid_accepted:
        inner_options.value = std::clamp<std::int64_t>(options.value, 0, max);
        break;
      case SyncDefect::bounded_over_release_accepted:
      case SyncDefect::bounded_racy_check:
        // The bound is not the semaphore's own: none, or the wrapper's check.
        inner_options.kind = SemaphoreKind::semaphore;
        break;
      default:
        break;
    }
    auto made = inner_->make_semaphore(inner_options);
    if (!made) return made;
    return std::unique_ptr<Semaphore>(
        std::make_unique<FaultySemaphore>(defect_, options.kind, inner_options.value, std::move(*made)));
  }

  Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) override {
    if (is_lock_defect(defect_)) return inner_->import_semaphore(token);
    SemaphoreKind kind{};
    std::int64_t value = 0;
    auto unwrapped = unwrap_token(token, kSemaphoreTokenPrefix, "semaphore", [&](std::string_view header) {
      const auto comma = header.find(',');
      return comma != std::string_view::npos && parse_semaphore_kind(header.substr(0, comma), kind) &&
             std::from_chars(header.data() + comma + 1, header.data() + header.size(), value).ec == std::errc{};
    });
    if (!unwrapped) return fail(std::move(unwrapped).error());
    const HandleToken& inner = unwrapped->inner;
    auto imported = inner_->import_semaphore(inner);
    if (!imported) return imported;
    return std::unique_ptr<Semaphore>(std::make_unique<FaultySemaphore>(defect_, kind, value, std::move(*imported)));
  }

 private:
  std::string name_;
  SyncDefect defect_;
  std::unique_ptr<Backend> inner_;
};

struct Entry {
  const char* name;
  SyncDefect defect;
  const char* text;
};

constexpr Entry kEntries[] = {
    {"lock-created-held", SyncDefect::lock_created_held,
     "a new Lock or RLock starts held by nobody in particular (its one unit already taken)"},
    {"process-local-lock", SyncDefect::process_local_lock,
     "a Lock or RLock is an ordinary in-process lock: each process's copy is its own"},
    {"lock-recursive", SyncDefect::lock_recursive, "a Lock lets the process holding it acquire it again at once"},
    {"acquire-timeout-early", SyncDefect::acquire_timeout_early,
     "a timed acquire of a held Lock or RLock reports timeout after a quarter of its time"},
    {"release-no-wake", SyncDefect::release_no_wake,
     "release never wakes a sleeping acquirer: it looks again only at its deadline, or never without one"},
    {"lock-owner-only-release", SyncDefect::lock_owner_only_release,
     "a Lock released by a process other than its acquirer reports not_owner"},
    {"over-release-accepted", SyncDefect::over_release_accepted,
     "releasing an unlocked Lock succeeds and banks a unit: the next two acquires both succeed"},
    {"rlock-count-ignored", SyncDefect::rlock_count_ignored, "an RLock's first release frees it, whatever its count"},
    {"rlock-any-release", SyncDefect::rlock_any_release,
     "an RLock released by a process that does not own it is freed (the owner check is missing)"},
    {"rlock-fork-owner", SyncDefect::rlock_fork_owner,
     "the RLock owner identity is cached per process and a forked child inherits it (no atfork refresh)"},
    {"dead-owner-wedges", SyncDefect::dead_owner_wedges,
     "declares reported_to_next, but a lock whose owner ended holding it stays held: acquirers time out"},
    {"dead-owner-not-reported", SyncDefect::dead_owner_not_reported,
     "declares reported_to_next, but a dead owner's lock is taken over with previous_owner_died false"},
    {"semaphore-admits-extra", SyncDefect::semaphore_admits_extra,
     "Semaphore(n) and BoundedSemaphore(n) start with n + 1 units"},
    {"semaphore-invalid-accepted", SyncDefect::semaphore_invalid_accepted,
     "a negative initial value is clamped to 0 and one above max_semaphore_value to the maximum"},
    {"semaphore-timeout-early", SyncDefect::semaphore_timeout_early,
     "a timed acquire of a Semaphore at 0 reports timeout after a quarter of its time"},
    {"semaphore-release-no-wake", SyncDefect::semaphore_release_no_wake,
     "a Semaphore release never wakes a sleeping acquirer: it looks again only at its deadline, or never without one"},
    {"semaphore-owner-only-release", SyncDefect::semaphore_owner_only_release,
     "a Semaphore refuses (released_too_many_times) a release by a process that holds none of its units"},
    {"bounded-over-release-accepted", SyncDefect::bounded_over_release_accepted,
     "a BoundedSemaphore is a plain Semaphore: releases past its bound succeed"},
    {"bounded-racy-check", SyncDefect::bounded_racy_check,
     "a BoundedSemaphore release checks value < bound, pauses, then increments: racing releases pass the bound"},
    {"semaphore-max-wraps", SyncDefect::semaphore_max_wraps,
     "a Semaphore release at max_semaphore_value reports ok (the value saturates)"},
    {"get-value-own-view", SyncDefect::get_value_own_view,
     "get_value is the initial value plus this process's own releases minus its own acquires"},
};

}  // namespace

std::vector<Variant> lock_variants() {
  std::vector<Variant> list;
  for (const auto& entry : kEntries) {
    std::string name = std::string("faulty.") + entry.name;
    SyncDefect defect = entry.defect;
    list.push_back({name, entry.text, [name, defect] { return std::make_unique<FaultySyncBackend>(name, defect); }});
  }
  return list;
}

}  // namespace ipcc::faulty
