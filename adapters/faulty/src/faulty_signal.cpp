// The faulty Event, Condition and Barrier variants: one wrapper around the
// reference primitive whose behaviour departs from spec/event.md,
// spec/condition.md or spec/barrier.md in exactly one way, chosen by
// `SignalDefect`. Each defect is written the way real implementations get it
// wrong (a FUTEX_WAKE of 1 instead of all, a check-then-sleep race that
// loses a set(), a semaphore-based Condition that banks notifies, a barrier
// count that is never reset, ...); the other primitives of the Backend are
// the reference's.
//
// What a variant keeps per process (event-set-local's cached flag) is reset
// in a process that did not make the copy. What must be shared between
// processes (a futex word bumped by set(), waiter and arrival counts, banked
// notifies) lives in a MAP_SHARED memfd made with the primitive; it survives
// fork, and export_handle() appends its descriptor to the reference's token
// so an imported copy maps the same memory.
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <ctime>
#include <future>
#include <memory>
#include <string_view>
#include <thread>

#include "faulty_support.h"
#include "faulty_sync.h"
#include "ipcc/reference/pipe.h"
#include "ipcc/reference/sync.h"

namespace ipcc::faulty {
namespace {

enum class SignalDefect {
  event_created_set,             // a new Event starts set
  event_set_local,               // is_set()/wait(now) read a per-process cached flag
  event_wait_timeout_early,      // a timed wait gives up after a quarter of its time
  event_wait_ignores_flag,       // a timed wait on a set Event waits for the next set()
  event_set_wakes_one,           // set() wakes one sleeper; the others sleep to their deadline
  event_lost_wakeup,             // a set() between a wait's flag check and its sleep is lost
  event_rereads_flag,            // a woken waiter returns the flag as it reads it again (CPython)
  condition_wait_unowned,        // wait/notify without the lock proceed instead of not_owner
  condition_timeout_early,       // a timed wait gives up after a quarter of its time
  condition_notify_wakes_all,    // notify(n), n >= 0, wakes every waiter
  condition_wait_no_reacquire,   // wait returns without taking the lock back
  condition_notify_remembered,   // a notify with nobody waiting wakes the next waiter at once
  barrier_parties_unchecked,     // parties < 1 is accepted as 1
  barrier_release_early,         // waiters are released when parties - 1 have arrived
  barrier_single_use,            // after the first generation every wait reports broken
  barrier_timeout_not_breaking,  // an expired wait reports broken without breaking the barrier
  barrier_abort_ignored,         // abort() reports ok and does nothing
  barrier_reset_stays_broken,    // reset() does not clear the broken state
};

constexpr std::string_view kTokenPrefix = "ipcc.faulty.signal/1:";
// event-lost-wakeup: how long a waiter spends between checking the flag and
// going to sleep (a preemption, a page fault: widened so that the generated
// interleavings land a set() in it).
constexpr std::chrono::milliseconds kCheckToSleep{5};

bool needs_shared(SignalDefect defect) {
  switch (defect) {
    case SignalDefect::event_wait_ignores_flag:
    case SignalDefect::event_set_wakes_one:
    case SignalDefect::event_lost_wakeup:
    case SignalDefect::event_rereads_flag:
    case SignalDefect::condition_notify_remembered:
    case SignalDefect::barrier_release_early:
    case SignalDefect::barrier_single_use:
      return true;
    default:
      return false;
  }
}

enum class Slept { woken, changed, timed_out, interrupted };

// Sleeps on `word` (process-shared: no FUTEX_PRIVATE_FLAG) while it holds
// `expected`, until a FUTEX_WAKE or `deadline` (CLOCK_MONOTONIC, which is
// steady_clock on Linux). A deadline already passed does not sleep.
Slept futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) {
  timespec until{};
  const timespec* timeout = nullptr;
  if (!deadline.is_never()) {
    const auto since =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.when().time_since_epoch()).count();
    until = {static_cast<time_t>(since / 1'000'000'000), static_cast<long>(since % 1'000'000'000)};
    timeout = &until;
  }
  const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, timeout,
                            nullptr, FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return Slept::woken;
  if (errno == EAGAIN) return Slept::changed;
  if (errno == ETIMEDOUT) return Slept::timed_out;
  return Slept::interrupted;
}

void futex_wake(std::atomic<std::uint32_t>& word, int count) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// State every process's copy of one primitive shares.
struct SharedState {
  std::atomic<std::uint32_t> sets;     // event: bumped by every set(), a futex word
  std::atomic<std::int64_t> count;     // condition: waiters inside wait; barrier: arrivals
  std::atomic<std::int64_t> banked;    // condition: notifies nobody was waiting for
};

using SignalRegion = SharedRegion<SharedState>;

// A wrapped token's `extra` header is a number the wrapper needs: the
// condition's lock kind, the barrier's reported parties.
HandleToken wrap_token(HandleToken token, std::int64_t extra, const SignalRegion* shared) {
  return faulty::wrap_token(std::move(token), kTokenPrefix, std::to_string(extra), shared ? shared->fd() : -1);
}

struct Unwrapped {
  HandleToken inner;
  std::int64_t extra = 0;
  std::unique_ptr<SignalRegion> shared;  // owns its descriptor only after keep_fd()
};

Result<Unwrapped> unwrap_token(const HandleToken& token, bool shared) {
  Unwrapped out;
  auto unwrapped = faulty::unwrap_token(token, kTokenPrefix, "signal", [&out](std::string_view header) {
    return std::from_chars(header.data(), header.data() + header.size(), out.extra).ec == std::errc{};
  });
  if (!unwrapped) return fail(std::move(unwrapped).error());
  out.inner = std::move(unwrapped->inner);
  if (shared) {
    auto fd = take_shared_fd(out.inner, "signal");
    if (!fd) return fail(std::move(fd).error());
    auto region = SignalRegion::attach(*fd, "signal");
    if (!region) return fail(std::move(region).error());
    out.shared = std::move(*region);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Event

class FaultyEvent final : public Event {
 public:
  FaultyEvent(SignalDefect defect, std::unique_ptr<Event> inner, std::unique_ptr<SignalRegion> shared)
      : defect_(defect), inner_(std::move(inner)), shared_(std::move(shared)), pid_(::getpid()) {}

  Result<void> set() override {
    refresh();
    auto done = inner_->set();
    if (!done) return done;
    switch (defect_) {
      case SignalDefect::event_set_local:
        local_flag_ = true;
        break;
      case SignalDefect::event_wait_ignores_flag:
        shared_->state().sets.fetch_add(1);
        futex_wake(shared_->state().sets, INT_MAX);
        break;
      case SignalDefect::event_set_wakes_one:
        shared_->state().sets.fetch_add(1);
        futex_wake(shared_->state().sets, 1);  // should be INT_MAX: every sleeper
        break;
      case SignalDefect::event_lost_wakeup:
      case SignalDefect::event_rereads_flag:
        shared_->state().sets.fetch_add(1);
        futex_wake(shared_->state().sets, INT_MAX);
        break;
      default:
        break;
    }
    return done;
  }

  Result<void> clear() override {
    refresh();
    auto done = inner_->clear();
    if (done && defect_ == SignalDefect::event_set_local) local_flag_ = false;
    return done;
  }

  Result<bool> is_set() override {
    refresh();
    if (defect_ == SignalDefect::event_set_local) return local_flag_;
    return inner_->is_set();
  }

  Result<bool> wait(Deadline deadline) override {
    refresh();
    switch (defect_) {
      case SignalDefect::event_set_local:
        // The try-once wait answers from the cache, like is_set().
        if (!deadline.is_never() && deadline.expired()) return local_flag_;
        break;
      case SignalDefect::event_wait_timeout_early:
        deadline = quarter_of(deadline);
        break;
      case SignalDefect::event_wait_ignores_flag:
        if (!deadline.is_never()) return wait_for_next_set(deadline);
        break;
      case SignalDefect::event_set_wakes_one:
        return wait_for_wake(deadline);
      case SignalDefect::event_lost_wakeup:
        return wait_check_then_sleep(deadline);
      case SignalDefect::event_rereads_flag:
        return wait_then_reread(deadline);
      default:
        break;
    }
    return inner_->wait(deadline);
  }

  Result<HandleToken> export_handle() override {
    refresh();
    auto token = inner_->export_handle();
    if (!token) return token;
    return wrap_token(std::move(*token), 0, shared_.get());
  }

 private:
  // event-wait-ignores-flag: the timed path sleeps until the set() counter
  // moves, without looking at the flag first.
  Result<bool> wait_for_next_set(Deadline deadline) {
    auto& sets = shared_->state().sets;
    const std::uint32_t seen = sets.load();
    for (;;) {
      switch (futex_wait(sets, seen, deadline)) {
        case Slept::changed:
          return true;
        case Slept::timed_out:
          return false;
        case Slept::woken:
        case Slept::interrupted:
          if (sets.load() != seen) return true;
          break;
      }
    }
  }

  // event-set-wakes-one: a sleeper returns true when a FUTEX_WAKE reaches it;
  // one that none reaches sleeps to its deadline and reports a timeout.
  Result<bool> wait_for_wake(Deadline deadline) {
    auto& sets = shared_->state().sets;
    const std::uint32_t seen = sets.load();
    auto flag = inner_->is_set();
    if (!flag || *flag) return flag;
    for (;;) {
      switch (futex_wait(sets, seen, deadline)) {
        case Slept::woken:
        case Slept::changed:
          return true;
        case Slept::timed_out:
          return false;
        case Slept::interrupted:
          break;
      }
    }
  }

  // event-lost-wakeup: the classic check-then-sleep race. The wait checks
  // the flag, and only then reads the set() counter it sleeps against, so a
  // set() in between neither shows in the check nor wakes the sleep: the wait
  // sleeps on to its deadline (or the next set()) and returns false.
  Result<bool> wait_check_then_sleep(Deadline deadline) {
    auto flag = inner_->is_set();
    if (!flag || *flag) return flag;
    if (!deadline.is_never() && deadline.expired()) return false;
    nap(kCheckToSleep);
    auto& sets = shared_->state().sets;
    const std::uint32_t seen = sets.load();  // should have been read before the check
    for (;;) {
      switch (futex_wait(sets, seen, deadline)) {
        case Slept::changed:
          return true;
        case Slept::timed_out:
          return false;
        case Slept::woken:
        case Slept::interrupted:
          if (sets.load() != seen) return true;
          break;
      }
    }
  }

  // event-rereads-flag: multiprocessing.Event.wait's design. The waiter
  // sleeps until a set() moves the counter, then returns the flag as it
  // reads it again, so a set() followed at once by a clear() wakes it to
  // false, before its deadline.
  Result<bool> wait_then_reread(Deadline deadline) {
    auto& sets = shared_->state().sets;
    const std::uint32_t seen = sets.load();
    auto flag = inner_->is_set();
    if (!flag || *flag) return flag;
    for (;;) {
      switch (futex_wait(sets, seen, deadline)) {
        case Slept::changed:
          return inner_->is_set();
        case Slept::timed_out:
          return inner_->is_set();
        case Slept::woken:
        case Slept::interrupted:
          if (sets.load() != seen) return inner_->is_set();
          break;
      }
    }
  }

  // A process other than the one that made this copy starts with a fresh
  // cache (what it inherited belongs to its parent).
  void refresh() {
    const pid_t now = ::getpid();
    if (now == pid_) return;
    pid_ = now;
    local_flag_ = false;
  }

  SignalDefect defect_;
  std::unique_ptr<Event> inner_;
  std::unique_ptr<SignalRegion> shared_;
  pid_t pid_;
  bool local_flag_ = false;  // event-set-local: this process's idea of the flag
};

// ---------------------------------------------------------------------------
// Condition

class FaultyCondition final : public Condition {
 public:
  FaultyCondition(SignalDefect defect, std::unique_ptr<Condition> inner, LockKind lock,
                  std::unique_ptr<SignalRegion> shared)
      : defect_(defect), inner_(std::move(inner)), lock_(lock), shared_(std::move(shared)) {}

  Result<Acquired> acquire(Deadline deadline) override { return inner_->acquire(deadline); }
  Result<void> release() override { return inner_->release(); }

  Result<bool> wait(Deadline deadline) override {
    switch (defect_) {
      case SignalDefect::condition_wait_unowned: {
        auto waited = inner_->wait(deadline);
        if (waited || waited.code() != errc::not_owner) return waited;
        // No ownership check: the wait goes ahead, taking the lock for
        // itself and leaving it as it found it.
        auto taken = inner_->acquire(deadline);
        if (!taken) return taken.code() == errc::timeout ? Result<bool>(false) : Result<bool>(fail(taken.error()));
        waited = inner_->wait(deadline);
        (void)inner_->release();
        return waited;
      }
      case SignalDefect::condition_timeout_early:
        return inner_->wait(quarter_of(deadline));
      case SignalDefect::condition_wait_no_reacquire: {
        auto waited = inner_->wait(deadline);
        if (!waited) return waited;
        // Returns with the lock given up, as if the wait had never taken it
        // back: an RLock to every level the caller held it.
        if (lock_ == LockKind::rlock) {
          while (inner_->release()) {
          }
        } else {
          (void)inner_->release();
        }
        return waited;
      }
      case SignalDefect::condition_notify_remembered:
        return wait_banked(deadline);
      default:
        return inner_->wait(deadline);
    }
  }

  Result<void> notify(std::int64_t n) override {
    switch (defect_) {
      case SignalDefect::condition_wait_unowned: {
        auto done = inner_->notify(n);
        if (done || done.code() != errc::not_owner) return done;
        // Goes ahead: serves the tickets if the lock is free to take.
        if (inner_->acquire(Deadline::now())) {
          (void)inner_->notify(n);
          (void)inner_->release();
        }
        return ok();
      }
      case SignalDefect::condition_notify_wakes_all:
        // n is checked, then ignored: every waiter is woken.
        if (n < 0) return inner_->notify(n);
        return inner_->notify_all();
      case SignalDefect::condition_notify_remembered: {
        auto done = inner_->notify(n);
        if (!done) return done;
        // A semaphore-style notify posts n wake-ups; those beyond the
        // sleepers stay in the semaphore for the next waiters.
        auto& state = shared_->state();
        const std::int64_t excess = n - state.count.load();
        if (excess > 0) state.banked.fetch_add(excess);
        return done;
      }
      default:
        return inner_->notify(n);
    }
  }

  Result<void> notify_all() override {
    if (defect_ == SignalDefect::condition_wait_unowned) {
      auto done = inner_->notify_all();
      if (done || done.code() != errc::not_owner) return done;
      if (inner_->acquire(Deadline::now())) {
        (void)inner_->notify_all();
        (void)inner_->release();
      }
      return ok();
    }
    return inner_->notify_all();
  }

  Result<HandleToken> export_handle() override {
    auto token = inner_->export_handle();
    if (!token) return token;
    return wrap_token(std::move(*token), lock_ == LockKind::rlock ? 1 : 0, shared_.get());
  }

 private:
  // condition-notify-remembered: a banked wake-up lets the waiter through at
  // once (it still gives up the lock and takes it back, as a wait does).
  Result<bool> wait_banked(Deadline deadline) {
    auto& state = shared_->state();
    std::int64_t banked = state.banked.load();
    if (banked > 0) {
      auto passed = inner_->wait(Deadline::now());  // not_owner when the caller does not hold the lock
      if (!passed || *passed) return passed;
      while (banked > 0 && !state.banked.compare_exchange_weak(banked, banked - 1)) {
      }
      return true;
    }
    state.count.fetch_add(1);
    auto waited = inner_->wait(deadline);
    state.count.fetch_sub(1);
    return waited;
  }

  SignalDefect defect_;
  std::unique_ptr<Condition> inner_;
  LockKind lock_;
  std::unique_ptr<SignalRegion> shared_;
};

// ---------------------------------------------------------------------------
// Barrier

Failure broken_error(const char* why) { return fail(errc::broken, 0, why); }

class FaultyBarrier final : public Barrier {
 public:
  FaultyBarrier(SignalDefect defect, std::unique_ptr<Barrier> inner, std::int64_t parties,
                std::unique_ptr<SignalRegion> shared)
      : defect_(defect), inner_(std::move(inner)), parties_(parties), shared_(std::move(shared)) {}

  Result<std::int64_t> wait(Deadline deadline) override {
    switch (defect_) {
      case SignalDefect::barrier_release_early: {
        if (parties_ < 2) break;
        // The inner barrier counts parties - 1: it releases its waiters one
        // arrival early, and the party that should have completed the
        // generation finds it done and passes straight through.
        const std::int64_t arrival = shared_->state().count.fetch_add(1) % parties_;
        if (arrival != parties_ - 1) return inner_->wait(deadline);
        auto broken = inner_->broken();
        if (!broken) return fail(std::move(broken).error());
        if (*broken) return broken_error("barrier is broken");
        return parties_ - 1;
      }
      case SignalDefect::barrier_single_use:
        // The arrival count is never reset when a generation completes.
        if (shared_->state().count.fetch_add(1) >= parties_) return broken_error("barrier is broken");
        break;
      case SignalDefect::barrier_timeout_not_breaking:
        return wait_not_breaking(deadline);
      default:
        break;
    }
    return inner_->wait(deadline);
  }

  Result<void> reset() override {
    switch (defect_) {
      case SignalDefect::barrier_release_early:
      case SignalDefect::barrier_single_use:
        shared_->state().count.store(0);
        break;
      case SignalDefect::barrier_reset_stays_broken: {
        auto broken = inner_->broken();
        auto done = inner_->reset();
        if (done && broken && *broken) return inner_->abort();  // the broken flag is never cleared
        return done;
      }
      default:
        break;
    }
    return inner_->reset();
  }

  Result<void> abort() override {
    if (defect_ == SignalDefect::barrier_abort_ignored) return ok();
    return inner_->abort();
  }

  Result<std::int64_t> n_waiting() override { return inner_->n_waiting(); }
  Result<bool> broken() override { return inner_->broken(); }
  std::int64_t parties() const override { return parties_; }

  Result<HandleToken> export_handle() override {
    auto token = inner_->export_handle();
    if (!token) return token;
    return wrap_token(std::move(*token), parties_, shared_.get());
  }

 private:
  // barrier-timeout-not-breaking: on its deadline the wait reports broken but
  // neither breaks the barrier nor withdraws its arrival, which stays counted
  // (a thread keeps it waiting on a second copy of the barrier), so the
  // others go on waiting and the generation completes without this party.
  Result<std::int64_t> wait_not_breaking(Deadline deadline) {
    if (deadline.is_never()) return inner_->wait(deadline);
    auto waiting = inner_->n_waiting();
    if (!waiting) return fail(std::move(waiting).error());
    if (*waiting + 1 >= inner_->parties()) return inner_->wait(deadline);  // the last arrival: completes at once
    auto token = inner_->export_handle();
    if (!token) return fail(std::move(token).error());
    for (int& fd : token->fds) fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    auto copy = reference::import_barrier(*token);
    if (!copy) {
      for (int fd : token->fds) {
        if (fd >= 0) ::close(fd);
      }
      return fail(std::move(copy).error());
    }
    auto result = std::make_shared<std::promise<Result<std::int64_t>>>();
    auto outcome = result->get_future();
    std::thread([arrival = std::shared_ptr<Barrier>(std::move(*copy)), result] {
      result->set_value(arrival->wait(Deadline::never()));
    }).detach();
    if (outcome.wait_until(deadline.when()) == std::future_status::ready) return outcome.get();
    return broken_error("barrier wait timed out");
  }

  SignalDefect defect_;
  std::unique_ptr<Barrier> inner_;
  std::int64_t parties_;
  std::unique_ptr<SignalRegion> shared_;
};

// ---------------------------------------------------------------------------
// Backend

class FaultySignalBackend final : public Backend {
 public:
  FaultySignalBackend(std::string name, SignalDefect defect)
      : name_(std::move(name)), defect_(defect), inner_(reference::make_backend()) {}

  std::string name() const override { return name_; }
  Capabilities capabilities() const override { return inner_->capabilities(); }

  Result<PipeEnds> make_pipe(bool duplex) override { return inner_->make_pipe(duplex); }
  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    return inner_->import_connection(token);
  }
  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override { return inner_->make_queue(options); }
  Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) override { return inner_->import_queue(token); }
  Result<std::unique_ptr<Lock>> make_lock(LockKind kind) override { return inner_->make_lock(kind); }
  Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) override { return inner_->import_lock(token); }
  Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) override {
    return inner_->make_semaphore(options);
  }
  Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) override {
    return inner_->import_semaphore(token);
  }

  Result<std::unique_ptr<Event>> make_event() override {
    auto made = inner_->make_event();
    if (!made) return made;
    if (defect_ == SignalDefect::event_created_set) {
      // The flag word is initialised "ready" instead of cleared.
      auto raised = (*made)->set();
      if (!raised) return fail(std::move(raised).error());
    }
    auto shared = make_shared_region();
    if (!shared) return fail(std::move(shared).error());
    return std::unique_ptr<Event>(std::make_unique<FaultyEvent>(defect_, std::move(*made), std::move(*shared)));
  }

  Result<std::unique_ptr<Event>> import_event(const HandleToken& token) override {
    auto unwrapped = unwrap_token(token, needs_shared(defect_));
    if (!unwrapped) return fail(std::move(unwrapped).error());
    auto imported = inner_->import_event(unwrapped->inner);
    if (!imported) return imported;  // the token's descriptors stay the caller's
    keep(*unwrapped);
    return std::unique_ptr<Event>(std::make_unique<FaultyEvent>(defect_, std::move(*imported), std::move(unwrapped->shared)));
  }

  Result<std::unique_ptr<Condition>> make_condition(const ConditionOptions& options) override {
    auto made = inner_->make_condition(options);
    if (!made) return made;
    auto shared = make_shared_region();
    if (!shared) return fail(std::move(shared).error());
    return std::unique_ptr<Condition>(
        std::make_unique<FaultyCondition>(defect_, std::move(*made), options.lock, std::move(*shared)));
  }

  Result<std::unique_ptr<Condition>> import_condition(const HandleToken& token) override {
    auto unwrapped = unwrap_token(token, needs_shared(defect_));
    if (!unwrapped) return fail(std::move(unwrapped).error());
    auto imported = inner_->import_condition(unwrapped->inner);
    if (!imported) return imported;  // the token's descriptors stay the caller's
    keep(*unwrapped);
    const LockKind lock = unwrapped->extra == 1 ? LockKind::rlock : LockKind::lock;
    return std::unique_ptr<Condition>(
        std::make_unique<FaultyCondition>(defect_, std::move(*imported), lock, std::move(unwrapped->shared)));
  }

  Result<std::unique_ptr<Barrier>> make_barrier(const BarrierOptions& options) override {
    BarrierOptions inner_options = options;
    std::int64_t parties = options.parties;
    if (defect_ == SignalDefect::barrier_parties_unchecked && options.parties < 1) {
      inner_options.parties = 1;
      parties = 1;
    }
    if (defect_ == SignalDefect::barrier_release_early && options.parties >= 2) {
      inner_options.parties = options.parties - 1;
    }
    auto made = inner_->make_barrier(inner_options);
    if (!made) return made;
    auto shared = make_shared_region();
    if (!shared) return fail(std::move(shared).error());
    return std::unique_ptr<Barrier>(std::make_unique<FaultyBarrier>(defect_, std::move(*made), parties, std::move(*shared)));
  }

  Result<std::unique_ptr<Barrier>> import_barrier(const HandleToken& token) override {
    auto unwrapped = unwrap_token(token, needs_shared(defect_));
    if (!unwrapped) return fail(std::move(unwrapped).error());
    auto imported = inner_->import_barrier(unwrapped->inner);
    if (!imported) return imported;  // the token's descriptors stay the caller's
    keep(*unwrapped);
    return std::unique_ptr<Barrier>(
        std::make_unique<FaultyBarrier>(defect_, std::move(*imported), unwrapped->extra, std::move(unwrapped->shared)));
  }

 private:
  Result<std::unique_ptr<SignalRegion>> make_shared_region() const {
    if (!needs_shared(defect_)) return std::unique_ptr<SignalRegion>();
    return SignalRegion::create("ipcc-faulty-signal");
  }

  static void keep(Unwrapped& unwrapped) {
    if (unwrapped.shared) unwrapped.shared->keep_fd();
  }

  std::string name_;
  SignalDefect defect_;
  std::unique_ptr<Backend> inner_;
};

struct Entry {
  const char* name;
  SignalDefect defect;
  const char* text;
};

constexpr Entry kEntries[] = {
    {"event-created-set", SignalDefect::event_created_set, "a new Event starts set"},
    {"event-set-local", SignalDefect::event_set_local,
     "is_set() and wait(now) read a per-process cached flag that only this process's set()/clear() update"},
    {"event-wait-timeout-early", SignalDefect::event_wait_timeout_early,
     "a timed wait on an unset Event returns false after a quarter of its time"},
    {"event-wait-ignores-flag", SignalDefect::event_wait_ignores_flag,
     "a wait with a deadline on a set Event waits for the next set() and returns false at its deadline"},
    {"event-set-wakes-one", SignalDefect::event_set_wakes_one,
     "set() wakes one sleeping waiter; the others sleep on to their deadline and return false"},
    {"event-lost-wakeup", SignalDefect::event_lost_wakeup,
     "a wait checks the flag before reading the set() counter it sleeps on, so a set() in between is lost and the "
     "wait returns false at its deadline"},
    {"event-rereads-flag", SignalDefect::event_rereads_flag,
     "a waiter woken by set() returns the flag as it reads it again, so set() then clear() wakes it to false "
     "(CPython's multiprocessing.Event)"},
    {"condition-wait-unowned", SignalDefect::condition_wait_unowned,
     "wait, notify and notify_all without holding the lock go ahead instead of reporting not_owner"},
    {"condition-timeout-early", SignalDefect::condition_timeout_early,
     "a timed wait with no notifier returns false after a quarter of its time"},
    {"condition-notify-wakes-all", SignalDefect::condition_notify_wakes_all, "notify(n), n >= 0, wakes every waiter"},
    {"condition-wait-no-reacquire", SignalDefect::condition_wait_no_reacquire,
     "wait returns without taking the lock back"},
    {"condition-notify-remembered", SignalDefect::condition_notify_remembered,
     "a notify with nobody waiting is banked and lets the next waiter through at once"},
    {"barrier-parties-unchecked", SignalDefect::barrier_parties_unchecked,
     "parties < 1 is accepted (as 1) instead of invalid_argument"},
    {"barrier-release-early", SignalDefect::barrier_release_early,
     "the waiters are released when parties - 1 have arrived; the last passes straight through"},
    {"barrier-single-use", SignalDefect::barrier_single_use,
     "the arrival count is never reset: after the first generation every wait reports broken"},
    {"barrier-timeout-not-breaking", SignalDefect::barrier_timeout_not_breaking,
     "a wait that passes its deadline reports broken but leaves the barrier unbroken for the others"},
    {"barrier-abort-ignored", SignalDefect::barrier_abort_ignored, "abort() reports ok and does nothing"},
    {"barrier-reset-stays-broken", SignalDefect::barrier_reset_stays_broken,
     "reset() does not clear the broken state"},
};

}  // namespace

std::vector<Variant> signal_variants() {
  std::vector<Variant> list;
  for (const auto& entry : kEntries) {
    std::string name = std::string("faulty.") + entry.name;
    SignalDefect defect = entry.defect;
    list.push_back({name, entry.text, [name, defect] { return std::make_unique<FaultySignalBackend>(name, defect); }});
  }
  return list;
}

}  // namespace ipcc::faulty
