// The faulty Queue variants: one wrapper around the reference Queue whose
// behaviour departs from spec/queue.md in exactly one way, chosen by
// `QueueDefect`. As with the Pipe variants, each defect is written the way
// real implementations get it wrong (several are CPython's own bugs).
//
// What a variant keeps per process (a held-back item, its own counters) is
// reset in a process that did not make it: a forked child starts with
// nothing held, as CPython's Queue resets its buffer after fork. What must be
// shared between processes (the non-robust locks, the unfinished-task count)
// lives in a MAP_SHARED memfd made with the queue; it survives fork, and
// export_handle() appends its descriptor to the reference's token so an
// imported copy maps the same memory. The two priority variants compose a
// priority queue from reference queues instead (PriorityQueue), since the
// reference has no priorities.
#include "faulty_queue.h"
#include "faulty_support.h"

#include <sched.h>
#include <semaphore.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipcc/reference/pipe.h"
#include "ipcc/reference/queue.h"

namespace ipcc::faulty {
namespace {

enum class QueueDefect {
  unbounded_is_bounded,      // maxsize <= 0 silently becomes a bound of 64 items
  capacity_plus_one,         // Queue(n) holds n + 1 items while maxsize() says n
  maxsize_unchecked,         // bad maxsize clamped / ignored instead of invalid_argument
  nowait_put_blocks,         // a try-once put on a full queue blocks without limit
  put_timeout_early,         // a timed put gives up after a quarter of its time
  put_full_fails_at_once,    // a blocking put on a full queue reports full at once
  nowait_get_blocks,         // a try-once get on an empty queue blocks without limit
  get_timeout_early,         // a timed get gives up after a quarter of its time
  blocking_get_returns_empty,  // a blocking get on an empty queue reports empty at once
  truncate_large_items,      // items above 1 MiB are cut to 1 MiB
  unencodable_leaks_slot,    // a failed encoding still takes a slot (bpo-33078)
  swap_pairs,                // a producer's items go in swapped pairs
  defer_puts,                // an item reaches the queue at the producer's next call
  drop_when_busy,            // put drops the item when 2 or more are queued
  qsize_negative,            // qsize is one short (-1 when empty)
  qsize_own_view,            // qsize/empty/full from this process's puts and gets
  empty_stuck_true,          // empty() always answers true
  closed_accepts_put,        // put still works after close()
  close_discards_items,      // close() drains and discards the queued items
  release_drops_buffered,    // the item held back at a process's end is dropped
  exit_waits_for_empty,      // declares exits_at_once, but the end waits for an empty queue
  opt_out_corrupts,          // after cancel_join_thread the end puts half an item
  get_lock_not_robust,       // gets serialise on a lock a killed consumer leaves taken
  put_lock_not_robust,       // puts serialise on a lock a killed producer leaves taken
  task_done_unchecked,       // too_many_task_done is reported as ok
  task_done_counts_gets,     // task_done needs a get in this process
  join_early,                // join returns once at most one task is unfinished
  // The two defects of the priority Queue (PriorityQueue below):
  priority_ignored,          // priorities accepted, every item queued as a plain put: FIFO
  priority_unchecked,        // a priority above max_priority is masked to 5 bits, not refused
};

bool is_priority_defect(QueueDefect defect) {
  return defect == QueueDefect::priority_ignored || defect == QueueDefect::priority_unchecked;
}

constexpr std::string_view kTokenPrefix = "ipcc.faulty.queue/1:";
// What unencodable_leaks_slot queues in place of an item it could not encode.
constexpr std::string_view kPlaceholder = "\xfe" "ipcc-faulty-unencodable-placeholder" "\x01\x7f\x02";
constexpr std::size_t kTruncateAt = std::size_t{1} << 20;
constexpr std::int64_t kSilentBound = 64;
// The priority variants declare priorities 0 to 31, one level each.
constexpr std::uint32_t kMaxPriority = 31;
constexpr std::size_t kLevels = kMaxPriority + 1;
constexpr std::string_view kPriorityTokenKind = "ipcc.faulty.priority-queue/1";

bool needs_shared(QueueDefect defect) {
  return defect == QueueDefect::get_lock_not_robust || defect == QueueDefect::put_lock_not_robust ||
         defect == QueueDefect::join_early;
}

void nap_ms(long millis) {
  timespec pause{0, millis * 1'000'000};
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

// Takes `lock` before `deadline`; false if it could not. The lock is an
// ordinary process-shared semaphore: nothing releases it for a holder that
// died (the defect of the two lock variants).
bool acquire(sem_t& lock, Deadline deadline) {
  if (deadline.is_never()) {
    while (::sem_wait(&lock) != 0) {
      if (errno != EINTR) return false;
    }
    return true;
  }
  if (deadline.expired()) {
    while (::sem_trywait(&lock) != 0) {
      if (errno != EINTR) return false;
    }
    return true;
  }
  // steady_clock is CLOCK_MONOTONIC on Linux.
  const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.when().time_since_epoch()).count();
  const timespec until{static_cast<time_t>(since / 1'000'000'000), static_cast<long>(since % 1'000'000'000)};
  while (::sem_clockwait(&lock, CLOCK_MONOTONIC, &until) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

// State every process's copy of one queue shares.
struct SharedState {
  sem_t get_lock;
  sem_t put_lock;
  std::atomic<std::int64_t> unfinished;  // put minus task_done (join_early)
};

using QueueRegion = SharedRegion<SharedState>;

bool is_placeholder(std::span<const std::byte> item) {
  const auto marker = as_bytes(kPlaceholder);
  return std::equal(item.begin(), item.end(), marker.begin(), marker.end());
}

Failure closed_error() { return fail(errc::closed, 0, "queue is closed"); }

class FaultyQueue final : public Queue {
 public:
  FaultyQueue(QueueDefect defect, std::unique_ptr<Queue> inner, std::int64_t reported_maxsize,
              std::unique_ptr<QueueRegion> shared, const QueueCapabilities& caps)
      : defect_(defect),
        inner_(std::move(inner)),
        reported_maxsize_(reported_maxsize),
        shared_(std::move(shared)),
        caps_(caps),
        pid_(::getpid()) {}

  ~FaultyQueue() override {
    refresh();
    switch (defect_) {
      case QueueDefect::swap_pairs:
      case QueueDefect::defer_puts:
        // Nothing held back is lost: it goes now, waiting for room if need be.
        if (held_ && !inner_->closed()) (void)inner_->put(*held_, Deadline::never());
        break;
      case QueueDefect::release_drops_buffered:
        held_.reset();  // the process's last item is never flushed
        break;
      case QueueDefect::exit_waits_for_empty:
        // Waits for the whole queue to drain instead of for this process's
        // own (here: nonexistent) buffer.
        if (put_count_ > 0 && !cancelled_) {
          for (;;) {
            auto empty = inner_->empty();
            if (!empty || *empty) break;
            nap_ms(2);
          }
        }
        break;
      case QueueDefect::opt_out_corrupts:
        // The opted-out process's feeder is cut off in the middle of writing
        // its last item: half of it reaches the queue.
        if (cancelled_ && last_item_ && !inner_->closed()) {
          (void)inner_->put(std::span<const std::byte>(*last_item_).first(last_item_->size() / 2), Deadline::now());
        }
        break;
      default:
        break;
    }
    inner_.reset();
  }

  Result<void> put_encoded(const ItemEncoder& encode, Deadline deadline) override {
    refresh();
    if (closed_ && defect_ != QueueDefect::closed_accepts_put) return closed_error();
    if (inner_->closed()) return inner_->put_encoded(encode, deadline);
    auto bytes = encode();
    if (bytes) return do_put(*bytes, deadline);
    Error error = std::move(bytes).error();
    if (defect_ == QueueDefect::unencodable_leaks_slot) {
      // The slot is taken before encoding; the failure forgets to give it
      // back, and a placeholder stands in the queue for the lost item.
      auto slot = inner_->put(as_bytes(kPlaceholder), deadline);
      if (!slot) return slot;
      if (caps_.serialization_failure == SerializationFailureEffect::dropped_silently) return ok();
      return fail(std::move(error));
    }
    return inner_->put_encoded([&error]() -> Result<Bytes> { return fail(error); }, deadline);
  }

  Result<std::int64_t> qsize() override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    auto size = inner_->qsize();
    if (!size) return size;
    if (defect_ == QueueDefect::qsize_negative) return *size - 1;
    if (defect_ == QueueDefect::qsize_own_view) return own_view();
    return size;
  }

  Result<bool> empty() override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    auto empty = inner_->empty();
    if (!empty) return empty;
    if (defect_ == QueueDefect::empty_stuck_true) return true;
    if (defect_ == QueueDefect::qsize_own_view) return own_view() == 0;
    return empty;
  }

  Result<bool> full() override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    auto full = inner_->full();
    if (!full) return full;
    if (defect_ == QueueDefect::qsize_own_view) return reported_maxsize_ > 0 && own_view() >= reported_maxsize_;
    return full;
  }

  Result<void> task_done() override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    if (inner_->closed() || inner_->kind() != QueueKind::joinable_queue) return inner_->task_done();
    switch (defect_) {
      case QueueDefect::task_done_unchecked: {
        auto done = inner_->task_done();
        if (!done && done.code() == errc::too_many_task_done) return ok();
        return done;
      }
      case QueueDefect::task_done_counts_gets: {
        // Counts the items this process got, not the items put.
        if (got_count_ <= done_count_) return fail(errc::too_many_task_done, 0, "task_done() called too many times");
        auto done = inner_->task_done();
        if (done) ++done_count_;
        return done;
      }
      case QueueDefect::join_early: {
        auto done = inner_->task_done();
        if (done) shared_->state().unfinished.fetch_sub(1);
        return done;
      }
      default:
        return inner_->task_done();
    }
  }

  Result<void> join(Deadline deadline) override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    if (defect_ != QueueDefect::join_early || inner_->closed() || inner_->kind() != QueueKind::joinable_queue) {
      return inner_->join(deadline);
    }
    // Off by one: waits for "at most one" unfinished task instead of none.
    const auto slice = std::chrono::milliseconds(2);
    for (;;) {
      if (shared_->state().unfinished.load() <= 1) {
        auto joined = inner_->join(Deadline::now());
        if (joined || joined.code() != errc::timeout) return joined;
        return ok();
      }
      const Deadline step = Deadline::at(std::min(deadline.when(), Deadline::Clock::now() + slice));
      auto joined = inner_->join(step);
      if (joined || joined.code() != errc::timeout) return joined;
      if (deadline.expired()) return joined;
    }
  }

  Result<void> close() override {
    refresh();
    switch (defect_) {
      case QueueDefect::closed_accepts_put:
        closed_ = true;  // the inner queue stays open, and put still reaches it
        return ok();
      case QueueDefect::close_discards_items:
        if (!inner_->closed()) {
          // "Cleans up" by emptying the shared queue, for everyone.
          const bool at_once = caps_.put_visible_at_once;
          for (;;) {
            auto got = inner_->get(at_once ? Deadline::now() : Deadline::after(std::chrono::milliseconds(10)));
            if (!got) break;
          }
        }
        break;
      case QueueDefect::swap_pairs:
      case QueueDefect::defer_puts:
        if (held_ && !inner_->closed()) {
          if (inner_->put(*held_, Deadline::never())) held_.reset();
        }
        break;
      default:
        break;
    }
    return inner_->close();
  }

  bool closed() const override { return closed_ || inner_->closed(); }

  Result<void> cancel_join_thread() override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    auto cancelled = inner_->cancel_join_thread();
    if (cancelled) cancelled_ = true;
    return cancelled;
  }

  QueueKind kind() const override { return inner_->kind(); }
  std::int64_t maxsize() const override { return reported_maxsize_; }

  Result<HandleToken> export_handle() override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    auto token = inner_->export_handle();
    if (!token) return token;
    return wrap_token(std::move(*token), kTokenPrefix, std::to_string(reported_maxsize_), shared_ ? shared_->fd() : -1);
  }

 protected:
  Result<void> do_put(std::span<const std::byte> item, Deadline deadline) override {
    refresh();
    if (closed_ && defect_ != QueueDefect::closed_accepts_put) return closed_error();
    // What the reference refuses (closed, too large) it reports itself.
    if (inner_->closed() || item.size() > caps_.max_item_bytes) return inner_->put(item, deadline);
    auto put = put_item(item, deadline);
    if (put) {
      ++put_count_;
      if (defect_ == QueueDefect::opt_out_corrupts) last_item_.emplace(item.begin(), item.end());
    }
    return put;
  }

  Result<Bytes> do_get(Deadline deadline) override {
    refresh();
    if (closed_) return closed_error();
    flush_deferred();
    if (inner_->closed()) return inner_->get(deadline);
    auto got = get_item(deadline);
    if (got) ++got_count_;
    return got;
  }

 private:
  Result<void> put_item(std::span<const std::byte> item, Deadline deadline) {
    switch (defect_) {
      case QueueDefect::nowait_put_blocks:
        if (!deadline.is_never() && deadline.expired()) deadline = Deadline::never();
        break;
      case QueueDefect::put_timeout_early:
        if (!deadline.is_never() && !deadline.expired()) deadline = Deadline::after(deadline.remaining() / 4);
        break;
      case QueueDefect::put_full_fails_at_once:
        if (deadline.is_never()) deadline = Deadline::now();
        break;
      case QueueDefect::truncate_large_items:
        if (item.size() > kTruncateAt) item = item.first(kTruncateAt);
        break;
      case QueueDefect::swap_pairs: {
        if (!held_) {
          held_.emplace(item.begin(), item.end());
          return ok();
        }
        auto put = inner_->put(item, deadline);
        if (!put) return put;
        // The held item follows; if there is no room for it now, it stays
        // held and goes later (never lost).
        if (inner_->put(*held_, deadline)) held_.reset();
        return ok();
      }
      case QueueDefect::defer_puts:
      case QueueDefect::release_drops_buffered: {
        // The previous item goes now; this one waits for the next call.
        if (held_) {
          auto flushed = inner_->put(*held_, deadline);
          if (!flushed) return flushed;
          held_.reset();
        }
        held_.emplace(item.begin(), item.end());
        return ok();
      }
      case QueueDefect::drop_when_busy: {
        auto size = inner_->qsize();
        bool busy = false;
        if (size) {
          busy = *size >= 2;
        } else if (auto empty = inner_->empty()) {
          busy = !*empty;  // qsize unsupported: any queued item counts as busy
        }
        if (busy) return ok();
        break;
      }
      case QueueDefect::put_lock_not_robust: {
        sem_t& lock = shared_->state().put_lock;
        if (!acquire(lock, deadline)) return fail(errc::full, 0, "put lock not acquired before the deadline");
        auto put = inner_->put(item, deadline);
        ::sem_post(&lock);
        return put;
      }
      case QueueDefect::join_early:
        if (inner_->kind() == QueueKind::joinable_queue) {
          auto& unfinished = shared_->state().unfinished;
          unfinished.fetch_add(1);
          auto put = inner_->put(item, deadline);
          if (!put) unfinished.fetch_sub(1);
          return put;
        }
        break;
      default:
        break;
    }
    return inner_->put(item, deadline);
  }

  Result<Bytes> get_item(Deadline deadline) {
    switch (defect_) {
      case QueueDefect::nowait_get_blocks:
        if (!deadline.is_never() && deadline.expired()) deadline = Deadline::never();
        break;
      case QueueDefect::get_timeout_early:
        if (!deadline.is_never() && !deadline.expired()) deadline = Deadline::after(deadline.remaining() / 4);
        break;
      case QueueDefect::blocking_get_returns_empty:
        if (deadline.is_never()) deadline = Deadline::now();
        break;
      case QueueDefect::unencodable_leaks_slot:
        for (;;) {
          auto got = inner_->get(deadline);
          if (!got || !is_placeholder(*got)) return got;
        }
      case QueueDefect::get_lock_not_robust: {
        sem_t& lock = shared_->state().get_lock;
        if (!acquire(lock, deadline)) return fail(errc::empty, 0, "get lock not acquired before the deadline");
        auto got = inner_->get(deadline);
        ::sem_post(&lock);
        return got;
      }
      default:
        break;
    }
    return inner_->get(deadline);
  }

  // defer_puts: any call of the producer first sends what it held back,
  // without waiting; if there is no room it stays held.
  void flush_deferred() {
    if (defect_ != QueueDefect::defer_puts || !held_ || inner_->closed()) return;
    if (inner_->put(*held_, Deadline::now())) held_.reset();
  }

  std::int64_t own_view() const {
    std::int64_t view = std::max<std::int64_t>(put_count_ - got_count_, 0);
    if (reported_maxsize_ > 0) view = std::min(view, reported_maxsize_);
    return view;
  }

  // A process other than the one that made this copy starts afresh: nothing
  // held back, no counts (what it inherited belongs to its parent).
  void refresh() {
    const pid_t now = ::getpid();
    if (now == pid_) return;
    pid_ = now;
    held_.reset();
    last_item_.reset();
    put_count_ = got_count_ = done_count_ = 0;
  }

  QueueDefect defect_;
  std::unique_ptr<Queue> inner_;
  std::int64_t reported_maxsize_;
  std::unique_ptr<QueueRegion> shared_;
  QueueCapabilities caps_;
  pid_t pid_;
  bool closed_ = false;     // closed_accepts_put only: close() without closing the inner queue
  bool cancelled_ = false;  // cancel_join_thread() was called
  std::optional<Bytes> held_;       // an item put but not yet passed on
  std::optional<Bytes> last_item_;  // opt_out_corrupts: this process's last item
  std::int64_t put_count_ = 0;      // successful puts in this process
  std::int64_t got_count_ = 0;      // successful gets in this process
  std::int64_t done_count_ = 0;     // successful task_done calls in this process
};

// The priority variants' Queue: the reference has no priorities, so these
// variants compose a priority queue from reference queues, correct but for
// its one defect. `slots` holds one empty token per item: a put takes a
// token first (waiting there for room, so `slots`' maxsize is the queue's)
// and then appends the item to the reference queue of its priority level; a
// get takes a token (waiting there for an item) and then the first item of
// the highest non-empty level. Holding a token guarantees an item for this
// get; if none is found its put is still copying it in, and the get looks
// again. Items of one level keep the reference's order, so the order
// clauses hold among equal priorities, and every item is in its level when
// its put returns (put_visible_at_once). Killed processes are not this
// composition's concern: a producer killed between its token and its item
// leaves a get looking for an item that never comes.
class PriorityQueue final : public Queue {
 public:
  PriorityQueue(QueueDefect defect, std::unique_ptr<Queue> slots, std::vector<std::unique_ptr<Queue>> levels)
      : defect_(defect), slots_(std::move(slots)), levels_(std::move(levels)) {}

  Result<std::int64_t> qsize() override { return slots_->qsize(); }
  Result<bool> empty() override { return slots_->empty(); }
  Result<bool> full() override { return slots_->full(); }
  Result<void> task_done() override { return slots_->task_done(); }
  Result<void> join(Deadline deadline) override { return slots_->join(deadline); }
  Result<void> close() override {
    for (auto& level : levels_) (void)level->close();
    return slots_->close();
  }
  bool closed() const override { return slots_->closed(); }
  Result<void> cancel_join_thread() override { return slots_->cancel_join_thread(); }
  QueueKind kind() const override { return QueueKind::queue; }
  std::int64_t maxsize() const override { return slots_->maxsize(); }

  // The reference tokens of `slots` and of every level, in that order: their
  // kind, then each one's data, joined by '|' (the reference's data has
  // none); one descriptor each.
  Result<HandleToken> export_handle() override {
    HandleToken token{std::string(kPriorityTokenKind), {}, {}};
    for (std::size_t i = 0; i <= levels_.size(); ++i) {
      auto inner = (i == 0 ? slots_ : levels_[i - 1])->export_handle();
      if (!inner) return inner;
      if (inner->fds.size() != 1) return fail(errc::broken, 0, "a reference queue token without one descriptor");
      if (i == 0) token.data = inner->kind;
      token.data += "|" + inner->data;
      token.fds.push_back(inner->fds[0]);
    }
    return token;
  }

  static Result<std::unique_ptr<Queue>> import(QueueDefect defect, Backend& reference, const HandleToken& token) {
    std::vector<std::string> fields;
    for (std::size_t from = 0;;) {
      const auto bar = token.data.find('|', from);
      fields.push_back(token.data.substr(from, bar == std::string::npos ? std::string::npos : bar - from));
      if (bar == std::string::npos) break;
      from = bar + 1;
    }
    if (fields.size() != kLevels + 2 || token.fds.size() != kLevels + 1) {
      return fail(errc::invalid_argument, 0, "malformed faulty priority queue token");
    }
    std::vector<std::unique_ptr<Queue>> queues;
    for (std::size_t i = 0; i < token.fds.size(); ++i) {
      auto imported = reference.import_queue(HandleToken{fields[0], fields[i + 1], {token.fds[i]}});
      if (!imported) return imported;
      queues.push_back(std::move(*imported));
    }
    auto slots = std::move(queues.front());
    queues.erase(queues.begin());
    return std::unique_ptr<Queue>(std::make_unique<PriorityQueue>(defect, std::move(slots), std::move(queues)));
  }

 protected:
  Result<void> do_put(std::span<const std::byte> item, Deadline deadline) override { return put_at(item, 0, deadline); }

  Result<void> do_put_with_priority(std::span<const std::byte> item, std::uint32_t priority,
                                    Deadline deadline) override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    std::size_t level = priority;
    if (defect_ == QueueDefect::priority_unchecked) {
      level = priority & kMaxPriority;  // a 5-bit field: 32 becomes 0
    } else if (priority > kMaxPriority) {
      return fail(errc::invalid_argument, 0, "priority above max_priority");
    }
    if (defect_ == QueueDefect::priority_ignored) level = 0;
    return put_at(item, level, deadline);
  }

  Result<Bytes> do_get(Deadline deadline) override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    auto token = slots_->get(deadline);
    if (!token) return fail(std::move(token).error());
    for (;;) {
      for (std::size_t level = levels_.size(); level-- > 0;) {
        auto got = levels_[level]->get(Deadline::now());
        if (got || got.code() != errc::empty) return got;
      }
      ::sched_yield();  // this token's item is still being copied in
    }
  }

 private:
  Result<void> put_at(std::span<const std::byte> item, std::size_t level, Deadline deadline) {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    // What the reference refuses for its size it reports itself, before any token is taken.
    if (item.size() > reference::kQueueMaxItemBytes) return levels_[level]->put(item, Deadline::now());
    auto slot = slots_->put(std::span<const std::byte>(), deadline);
    if (!slot) return slot;
    auto put = levels_[level]->put(item, Deadline::never());
    if (!put) (void)slots_->get(Deadline::now());  // give a token back (tokens are all alike)
    return put;
  }

  QueueDefect defect_;
  std::unique_ptr<Queue> slots_;
  std::vector<std::unique_ptr<Queue>> levels_;  // by priority
};

class FaultyQueueBackend final : public Backend {
 public:
  FaultyQueueBackend(std::string name, QueueDefect defect)
      : name_(std::move(name)), defect_(defect), inner_(reference::make_backend()) {}

  std::string name() const override { return name_; }

  Capabilities capabilities() const override {
    Capabilities caps = inner_->capabilities();
    // The declaration this variant's end-of-process wait breaks.
    if (defect_ == QueueDefect::exit_waits_for_empty) caps.queue.unconsumed_exit = UnconsumedExitEffect::exits_at_once;
    if (is_priority_defect(defect_)) caps.queue.max_priority = kMaxPriority;
    return caps;
  }

  Result<PipeEnds> make_pipe(bool duplex) override { return inner_->make_pipe(duplex); }
  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    return inner_->import_connection(token);
  }

  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override {
    if (is_priority_defect(defect_)) return make_priority_queue(options);
    const QueueCapabilities caps = capabilities().queue;
    QueueOptions inner_options = options;
    const bool bounded_kind = options.kind != QueueKind::simple_queue;
    std::optional<std::int64_t> reported;
    switch (defect_) {
      case QueueDefect::unbounded_is_bounded:
        if (bounded_kind && options.maxsize <= 0) {
          inner_options.maxsize = kSilentBound;
          reported = 0;
        }
        break;
      case QueueDefect::capacity_plus_one:
        if (bounded_kind && options.maxsize > 0 && options.maxsize < caps.max_maxsize) {
          inner_options.maxsize = options.maxsize + 1;
          reported = options.maxsize;
        }
        break;
      case QueueDefect::maxsize_unchecked:
        if (!bounded_kind) {
          inner_options.maxsize = 0;
        } else if (options.maxsize > caps.max_maxsize) {
          inner_options.maxsize = caps.max_maxsize;
        }
        break;
      default:
        break;
    }
    auto made = inner_->make_queue(inner_options);
    if (!made) return made;
    std::unique_ptr<QueueRegion> shared;
    if (needs_shared(defect_)) {
      auto region = QueueRegion::create("ipcc-faulty-queue");
      if (!region) return fail(std::move(region).error());
      shared = std::move(*region);
      ::sem_init(&shared->state().get_lock, 1, 1);
      ::sem_init(&shared->state().put_lock, 1, 1);
    }
    const std::int64_t maxsize = reported ? *reported : (*made)->maxsize();
    return std::unique_ptr<Queue>(std::make_unique<FaultyQueue>(defect_, std::move(*made), maxsize, std::move(shared), caps));
  }

  Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) override {
    if (is_priority_defect(defect_)) {
      if (token.kind != kPriorityTokenKind) return inner_->import_queue(token);  // SimpleQueue, JoinableQueue
      return PriorityQueue::import(defect_, *inner_, token);
    }
    std::int64_t maxsize = 0;
    auto unwrapped = unwrap_token(token, kTokenPrefix, "queue", [&maxsize](std::string_view header) {
      return std::from_chars(header.data(), header.data() + header.size(), maxsize).ec == std::errc{};
    });
    if (!unwrapped) return fail(std::move(unwrapped).error());
    HandleToken& inner = unwrapped->inner;
    std::unique_ptr<QueueRegion> shared;
    if (needs_shared(defect_)) {
      auto fd = take_shared_fd(inner, "queue");
      if (!fd) return fail(std::move(fd).error());
      auto region = QueueRegion::attach(*fd, "queue");
      if (!region) return fail(std::move(region).error());
      shared = std::move(*region);
    }
    auto imported = inner_->import_queue(inner);
    if (!imported) return imported;  // the token's descriptors stay the caller's
    if (shared) shared->keep_fd();
    return std::unique_ptr<Queue>(
        std::make_unique<FaultyQueue>(defect_, std::move(*imported), maxsize, std::move(shared), capabilities().queue));
  }

 private:
  // A priority variant's Queue is a PriorityQueue; its other kinds are the
  // reference's own, without priorities.
  Result<std::unique_ptr<Queue>> make_priority_queue(const QueueOptions& options) {
    if (options.kind != QueueKind::queue) return inner_->make_queue(options);
    auto slots = inner_->make_queue(options);
    if (!slots) return slots;
    std::vector<std::unique_ptr<Queue>> levels;
    for (std::size_t i = 0; i < kLevels; ++i) {
      auto level = inner_->make_queue(QueueOptions{QueueKind::queue, 0});
      if (!level) return level;
      levels.push_back(std::move(*level));
    }
    return std::unique_ptr<Queue>(std::make_unique<PriorityQueue>(defect_, std::move(*slots), std::move(levels)));
  }

  std::string name_;
  QueueDefect defect_;
  std::unique_ptr<Backend> inner_;
};

struct Entry {
  const char* name;
  QueueDefect defect;
  const char* text;
};

constexpr Entry kEntries[] = {
    {"unbounded-is-bounded", QueueDefect::unbounded_is_bounded, "an unbounded Queue (maxsize <= 0) silently holds at most 64 items"},
    {"capacity-plus-one", QueueDefect::capacity_plus_one, "Queue(n) holds n + 1 items while maxsize() reports n"},
    {"maxsize-unchecked", QueueDefect::maxsize_unchecked,
     "maxsize above max_maxsize is clamped and a SimpleQueue maxsize ignored, instead of invalid_argument"},
    {"nowait-put-blocks", QueueDefect::nowait_put_blocks, "a try-once put on a full queue blocks without limit"},
    {"put-timeout-early", QueueDefect::put_timeout_early, "a timed put on a full queue reports full after a quarter of its time"},
    {"put-full-fails-at-once", QueueDefect::put_full_fails_at_once, "a blocking put on a full queue reports full at once"},
    {"nowait-get-blocks", QueueDefect::nowait_get_blocks, "a try-once get on an empty queue blocks without limit"},
    {"get-timeout-early", QueueDefect::get_timeout_early, "a timed get on an empty queue reports empty after a quarter of its time"},
    {"blocking-get-returns-empty", QueueDefect::blocking_get_returns_empty, "a blocking get on an empty queue reports empty at once"},
    {"truncate-large-items", QueueDefect::truncate_large_items, "items above 1 MiB are cut to 1 MiB"},
    {"unencodable-leaks-slot", QueueDefect::unencodable_leaks_slot,
     "an item that fails to encode is reported but still takes a slot, counted by qsize (bpo-33078)"},
    {"swap-pairs", QueueDefect::swap_pairs, "a producer's consecutive items are queued in swapped pairs"},
    {"defer-puts", QueueDefect::defer_puts, "put returns before its item is queued; it goes at the producer's next call or end"},
    {"drop-when-busy", QueueDefect::drop_when_busy, "put reports success but drops the item when 2 or more items are queued"},
    {"qsize-negative", QueueDefect::qsize_negative, "qsize() is one short, -1 on an empty queue"},
    {"qsize-own-view", QueueDefect::qsize_own_view, "qsize/empty/full count only this process's own puts and gets"},
    {"empty-stuck-true", QueueDefect::empty_stuck_true, "empty() always answers true"},
    {"closed-accepts-put", QueueDefect::closed_accepts_put, "put still succeeds after close()"},
    {"close-discards-items", QueueDefect::close_discards_items, "close() drains and discards every queued item, for all processes"},
    {"release-drops-buffered", QueueDefect::release_drops_buffered,
     "each put is held back until the next one, and a process's end drops the held item"},
    {"exit-waits-for-empty", QueueDefect::exit_waits_for_empty,
     "declares exits_at_once, but a producer's end waits until the queue is empty"},
    {"opt-out-corrupts", QueueDefect::opt_out_corrupts,
     "after cancel_join_thread() a process's end queues the first half of its last item"},
    {"get-lock-not-robust", QueueDefect::get_lock_not_robust,
     "gets hold a non-robust process-shared lock, left taken by a consumer killed in get (python/cpython#96062)"},
    {"put-lock-not-robust", QueueDefect::put_lock_not_robust,
     "puts hold a non-robust process-shared lock, left taken by a producer killed mid-put (python/cpython#87971)"},
    {"task-done-unchecked", QueueDefect::task_done_unchecked, "task_done beyond the unfinished count reports ok"},
    {"task-done-counts-gets", QueueDefect::task_done_counts_gets,
     "task_done is refused unless this process got more items than it marked done"},
    {"join-early", QueueDefect::join_early, "join returns once at most one task is unfinished"},
    {"priority-ignored", QueueDefect::priority_ignored,
     "declares priorities 0 to 31 and accepts them, but queues every item as a plain put: FIFO"},
    {"priority-unchecked", QueueDefect::priority_unchecked,
     "declares priorities 0 to 31, but accepts any priority, keeping its low 5 bits (32 becomes 0)"},
};

}  // namespace

std::vector<Variant> queue_variants() {
  std::vector<Variant> list;
  for (const auto& entry : kEntries) {
    std::string name = std::string("faulty.") + entry.name;
    QueueDefect defect = entry.defect;
    list.push_back({name, entry.text, [name, defect] { return std::make_unique<FaultyQueueBackend>(name, defect); }});
  }
  return list;
}

}  // namespace ipcc::faulty
