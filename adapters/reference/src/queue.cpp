#include "ipcc/reference/queue.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "queue_internal.h"
#include "segment.h"

// Linux 5.14; older kernels refuse the advice and the copy faults instead.
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

namespace ipcc::reference {
namespace {

using internal::field;
using internal::os_failure;
using internal::parse_number;


using Clock = Deadline::Clock;

constexpr std::string_view kTokenKind = "ipcc.reference.queue/1";
constexpr std::uint64_t kMagic = 0x31657571'63637069;  // "ipccque1" in memory order
constexpr std::uint32_t kVersion = 1;
// The segment header fills the first page; the ring starts page-aligned.
constexpr std::uint64_t kHeaderBytes = 4096;
constexpr std::uint64_t kRecordHeaderBytes = 8;
constexpr std::uint64_t kStorageGranule = 64;
// Page faults stay out of the lock: a first touch of a shared page costs
// microseconds (90% of the time of a large copy), and a lock held that long
// makes other processes sleep on it. Each process maps the ring's pages a
// chunk ahead of where it last worked before it takes the lock; items at
// least kPrefaultBytes large have their exact range (and the destination
// buffer) faulted in instead.
constexpr std::uint64_t kPrefaultBytes = 256 * 1024;
constexpr std::uint64_t kPopulateAhead = 64 * 1024;
constexpr std::uint64_t kPopulateChunk = 128 * 1024;
// A taken lock is polled kLockPolls times, kPausesPerPoll pause
// instructions apart (1.5 us on the 2-vCPU AMD EPYC VM it was tuned on),
// before the caller sleeps on it. A holder keeps the
// lock well under a microsecond for small items, and a sleep costs a futex
// wait here and a futex wake in the holder. Polling seldom matters as much:
// each poll pulls the lock's cache line away from the holder, and a sparse
// poll lets the holder run several operations back to back with its cache
// lines local. bench/ipcc_bench_queue, 64-byte items, 1 producer and 1
// consumer on two CPUs: polls 1 pause apart 5 M items/s, 8 apart 11 M, 64
// apart 15 M (on one CPU: 13 M). Spinning before
// an empty/full wait did not help (it pulls the state's lines away from the
// side that makes progress), so those waits sleep at once.
constexpr int kLockPolls = 8;
constexpr int kPausesPerPoll = 64;
// Bit 0 of an eventcount: some process sleeps, or is about to, on it.
constexpr std::uint32_t kSleeper = 1;
// A sleeper looks at the state again at least this often. Wake-ups come
// from the process that changed the state, after its commit; one killed
// between the two never sends its wake-up, and without this a survivor
// blocked without a deadline would sleep next to an item forever.
constexpr std::chrono::milliseconds kRecheckInterval{100};

// One copy of the queue's state. Offsets are ring positions that only grow,
// taken modulo the ring size, and go back to 0 whenever the queue empties.
struct State {
  std::uint64_t head = 0;        // the oldest record
  std::uint64_t tail = 0;        // one past the newest record
  std::uint64_t count = 0;       // records in [head, tail)
  std::uint64_t unfinished = 0;  // JoinableQueue: puts not yet matched by task_done
};

struct Slot {
  std::atomic<std::uint64_t> head;
  std::atomic<std::uint64_t> tail;
  std::atomic<std::uint64_t> count;
  std::atomic<std::uint64_t> unfinished;
};

// The first page of the segment. The lock, the commit counter and the
// eventcounts every put and get touch share a cache line, the state slots
// fill the next one; the read-only description is on a line of its own (and
// is only read at import: each process keeps its own validated copy).
struct Segment {
  alignas(64) std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t kind;
  std::int64_t maxsize;
  std::uint64_t ring_bytes;

  alignas(64) pthread_mutex_t mutex;
  std::atomic<std::uint64_t> commit;     // slots[commit & 1] is the committed state
  std::atomic<std::uint32_t> not_empty;  // eventcount: an item was put
  std::atomic<std::uint32_t> not_full;   // eventcount: a bounded queue made room

  alignas(64) Slot slots[2];

  alignas(64) std::atomic<std::uint32_t> all_done;  // eventcount: unfinished reached 0
};
static_assert(sizeof(Segment) <= kHeaderBytes);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
              sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

std::atomic<internal::QueueHook> g_hook{nullptr};
std::atomic<std::uint64_t> g_recoveries{0};
// Incremented in every forked child: a child has none of the page mappings
// its parent populated (fork does not copy them for shared file mappings).
std::atomic<unsigned> g_forks{0};

void count_forks() {
  static const bool registered = [] {
    return ::pthread_atfork(nullptr, nullptr,
                            [] { g_forks.fetch_add(1, std::memory_order_relaxed); }) == 0;
  }();
  (void)registered;
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

std::uint64_t record_bytes(std::uint64_t size) noexcept {
  return kRecordHeaderBytes + ((size + 7) & ~std::uint64_t{7});
}

std::uint64_t page_bytes() noexcept {
  static const std::uint64_t size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

timespec to_timespec(Clock::time_point when) noexcept {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
  if (ns < 0) ns = 0;
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

// Sleeps while `word` == `expected`, until `deadline` (absolute, CLOCK_MONOTONIC,
// which steady_clock is). Not FUTEX_PRIVATE: other processes wake the same
// word through their own mappings. Every return is treated as spurious.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                Deadline deadline) noexcept {
  timespec limit{};
  timespec* at = nullptr;
  if (!deadline.is_never()) {
    limit = to_timespec(deadline.when());
    at = &limit;
  }
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, at,
            nullptr, FUTEX_BITSET_MATCH_ANY);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr,
            nullptr, 0);
}

// Eventcounts. A sleeper sets kSleeper, then looks at the committed state
// once more before it sleeps; a waker commits, then looks for kSleeper (both
// seq_cst), so either the sleeper sees the new state or the waker sees the
// flag. The waker looks while it still holds the lock, whose cache line the
// word shares, and wakes after unlocking.
bool has_sleepers(const std::atomic<std::uint32_t>& word) noexcept {
  return (word.load(std::memory_order_seq_cst) & kSleeper) != 0;
}

// Wakes every sleeper, clearing kSleeper in the same step, so a sleeper that
// died only costs the one wake-up that clears it.
void wake(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t seen = word.load(std::memory_order_seq_cst);
  while ((seen & kSleeper) != 0) {
    if (word.compare_exchange_weak(seen, seen + 1, std::memory_order_seq_cst,
                                   std::memory_order_seq_cst)) {
      futex_wake_all(word);
      return;
    }
  }
}

Failure closed_failure() { return fail(errc::closed, 0, "queue is closed"); }
Failure corrupt_failure() {
  return fail(errc::broken, 0, "the queue's shared state is inconsistent");
}

bool glibc_lock_free(pthread_mutex_t& mutex) noexcept {
#ifdef __GLIBC__
  // The futex word of a glibc mutex: 0 when unlocked, else the owner's tid
  // plus flag bits. Reading it lets the spin wait without bouncing the line.
  return __atomic_load_n(&mutex.__data.__lock, __ATOMIC_RELAXED) == 0;
#else
  (void)mutex;
  return true;
#endif
}

class SharedQueue final : public Queue {
 public:
  SharedQueue(int fd, void* base, std::uint64_t map_bytes, QueueKind kind, std::int64_t maxsize,
              std::uint64_t ring_bytes) noexcept
      : fd_(fd),
        base_(base),
        map_bytes_(map_bytes),
        segment_(static_cast<Segment*>(base)),
        ring_(static_cast<std::byte*>(base) + kHeaderBytes),
        ring_bytes_(ring_bytes),
        kind_(kind),
        maxsize_(maxsize) {}
  ~SharedQueue() override { release(); }

  Result<std::int64_t> qsize() override {
    if (closed()) return closed_failure();
    return static_cast<std::int64_t>(snapshot().count);
  }
  Result<bool> empty() override {
    if (closed()) return closed_failure();
    return snapshot().count == 0;
  }
  Result<bool> full() override {
    if (closed()) return closed_failure();
    return bounded() && snapshot().count >= static_cast<std::uint64_t>(maxsize_);
  }

  Result<void> task_done() override {
    if (closed()) return closed_failure();
    if (kind_ != QueueKind::joinable_queue) {
      return fail(errc::unsupported, 0, "task_done() is for a JoinableQueue");
    }
    if (snapshot().unfinished == 0) return too_many();
    std::optional<Clock::time_point> began;
    if (lock(Deadline::never(), began) != Lock::held) return lock_failure();
    const std::uint64_t seen = segment_->commit.load(std::memory_order_relaxed);
    State state = load(seen);
    if (!sane(state)) {
      unlock();
      return corrupt_failure();
    }
    if (state.unfinished == 0) {
      unlock();
      return too_many();
    }
    --state.unfinished;
    publish(state, seen);
    const bool sleepers = state.unfinished == 0 && has_sleepers(segment_->all_done);
    unlock();
    if (sleepers) wake(segment_->all_done);
    return ok();
  }

  Result<void> join(Deadline deadline) override {
    if (closed()) return closed_failure();
    if (kind_ != QueueKind::joinable_queue) {
      return fail(errc::unsupported, 0, "join() is for a JoinableQueue");
    }
    if (!await(
            segment_->all_done, [](const State& s) { return s.unfinished == 0; }, deadline)) {
      return fail(errc::timeout, 0, "tasks were still unfinished at the deadline");
    }
    return ok();
  }

  Result<void> close() override {
    release();
    return ok();
  }
  bool closed() const override { return segment_ == nullptr; }

  Result<void> cancel_join_thread() override {
    if (closed()) return closed_failure();
    return ok();  // put is synchronous: there is never anything to flush
  }

  QueueKind kind() const override { return kind_; }
  std::int64_t maxsize() const override { return maxsize_; }

  Result<HandleToken> export_handle() override {
    if (closed()) return closed_failure();
    return HandleToken{std::string(kTokenKind), token_data(kind_, maxsize_, ring_bytes_), {fd_}};
  }

  static std::string token_data(QueueKind kind, std::int64_t maxsize, std::uint64_t ring_bytes) {
    return "v=" + std::to_string(kVersion) + ";kind=" + std::string(to_string(kind)) +
           ";maxsize=" + std::to_string(maxsize) + ";storage=" + std::to_string(ring_bytes);
  }

  bool hold_lock() noexcept {
    if (closed()) return false;
    std::optional<Clock::time_point> began;
    return lock(Deadline::never(), began) == Lock::held;
  }

 protected:
  Result<void> do_put(std::span<const std::byte> item, Deadline deadline) override {
    if (closed()) return closed_failure();
    const std::uint64_t size = item.size();
    if (size > kQueueMaxItemBytes) {
      return fail(errc::message_too_large, 0,
                  "item of " + std::to_string(size) + " bytes exceeds the limit of " +
                      std::to_string(kQueueMaxItemBytes));
    }
    const std::uint64_t record = record_bytes(size);
    if (record > ring_bytes_) return no_room(record);
    std::optional<Clock::time_point> began;
    for (;;) {
      std::optional<State> seen_state;
      if (bounded()) {
        const auto limit = static_cast<std::uint64_t>(maxsize_);
        seen_state = await(
            segment_->not_full, [limit](const State& s) { return s.count < limit; }, deadline);
        if (!seen_state) return fail(errc::full, 0, "the queue is full");
      }
      if (size >= kPrefaultBytes) {
        const State s = seen_state ? *seen_state : snapshot();
        populate(s.count == 0 ? 0 : s.tail, record, MADV_POPULATE_WRITE);
      } else {
        populate_ahead(record, true);
      }
      if (auto locked = lock(deadline, began); locked != Lock::held) {
        if (locked == Lock::busy) {
          return fail(errc::full, 0, "another process held the queue's lock past the deadline");
        }
        return lock_failure();
      }
      const std::uint64_t seen = segment_->commit.load(std::memory_order_relaxed);
      State state = load(seen);
      if (!sane(state)) {
        unlock();
        return corrupt_failure();
      }
      if (bounded() && state.count >= static_cast<std::uint64_t>(maxsize_)) {
        unlock();  // another producer took the room
        continue;
      }
      if (state.count == 0) state.head = state.tail = 0;
      if (record > ring_bytes_ - (state.tail - state.head)) {
        unlock();
        return no_room(record);
      }
      const std::uint64_t at = state.tail % ring_bytes_;
      header_at(at).store(size, std::memory_order_relaxed);
      copy_in((at + kRecordHeaderBytes) % ring_bytes_, item.data(), size);
      state.tail += record;
      ++state.count;
      if (kind_ == QueueKind::joinable_queue) ++state.unfinished;
      run_hook(internal::QueueStep::put_before_commit);
      publish(state, seen);
      run_hook(internal::QueueStep::put_after_commit);
      cursor_ = state.tail % ring_bytes_;
      const bool sleepers = has_sleepers(segment_->not_empty);
      unlock();
      if (sleepers) wake(segment_->not_empty);
      return ok();
    }
  }

  Result<Bytes> do_get(Deadline deadline) override {
    if (closed()) return closed_failure();
    Bytes item;
    std::optional<Clock::time_point> began;
    for (;;) {
      auto seen_state = await(
          segment_->not_empty, [](const State& s) { return s.count > 0; }, deadline);
      if (!seen_state) return fail(errc::empty, 0, "the queue is empty");
      prepare_large(*seen_state, item);
      if (auto locked = lock(deadline, began); locked != Lock::held) {
        if (locked == Lock::busy) {
          return fail(errc::empty, 0, "another process held the queue's lock past the deadline");
        }
        return lock_failure();
      }
      const std::uint64_t seen = segment_->commit.load(std::memory_order_relaxed);
      State state = load(seen);
      if (!sane(state)) {
        unlock();
        return corrupt_failure();
      }
      if (state.count == 0) {
        unlock();  // another consumer took it
        continue;
      }
      const std::uint64_t at = state.head % ring_bytes_;
      const std::uint64_t size = header_at(at).load(std::memory_order_relaxed);
      if (size > kQueueMaxItemBytes || record_bytes(size) > state.tail - state.head) {
        unlock();
        return corrupt_failure();
      }
      try {
        item.resize(size);
      } catch (const std::bad_alloc&) {
        unlock();
        return fail(errc::resource_exhausted, ENOMEM,
                    "cannot allocate " + std::to_string(size) + " bytes");
      }
      copy_out((at + kRecordHeaderBytes) % ring_bytes_, item.data(), size);
      state.head += record_bytes(size);
      if (--state.count == 0) state.head = state.tail = 0;
      run_hook(internal::QueueStep::get_before_commit);
      publish(state, seen);
      cursor_ = state.head % ring_bytes_;
      const bool sleepers = bounded() && has_sleepers(segment_->not_full);
      unlock();
      if (sleepers) wake(segment_->not_full);
      return item;
    }
  }

 private:
  enum class Lock { held, busy, broken };

  bool bounded() const noexcept { return maxsize_ > 0; }

  static Failure too_many() {
    return fail(errc::too_many_task_done, 0, "task_done() called too many times");
  }
  Failure no_room(std::uint64_t record) const {
    return fail(errc::resource_exhausted, 0,
                "the item needs " + std::to_string(record) + " bytes of the queue's " +
                    std::to_string(ring_bytes_) + "-byte storage, which are not free");
  }
  static Failure lock_failure() { return fail(errc::broken, 0, "the queue's lock is unusable"); }

  // The committed state, read without the lock: a seqlock over the commit
  // counter. A writer fills the slot not selected, so the one being read
  // changes only after two commits, and the recheck of the counter sees them.
  State snapshot() const noexcept {
    for (;;) {
      const std::uint64_t seen = segment_->commit.load(std::memory_order_seq_cst);
      const State state = load(seen);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (segment_->commit.load(std::memory_order_relaxed) == seen) return state;
    }
  }

  State load(std::uint64_t commit) const noexcept {
    const Slot& slot = segment_->slots[commit & 1];
    return State{slot.head.load(std::memory_order_relaxed),
                 slot.tail.load(std::memory_order_relaxed),
                 slot.count.load(std::memory_order_relaxed),
                 slot.unfinished.load(std::memory_order_relaxed)};
  }

  // The commit: fills the other slot, then one store selects it. A process
  // killed before the store leaves the previous state, after it the new one.
  // Called with the lock held, after the item bytes are in place.
  void publish(const State& state, std::uint64_t seen) noexcept {
    Slot& slot = segment_->slots[(seen + 1) & 1];
    slot.head.store(state.head, std::memory_order_relaxed);
    slot.tail.store(state.tail, std::memory_order_relaxed);
    slot.count.store(state.count, std::memory_order_relaxed);
    slot.unfinished.store(state.unfinished, std::memory_order_relaxed);
    segment_->commit.store(seen + 1, std::memory_order_seq_cst);
  }

  // What any state this library commits satisfies; anything else was written
  // by someone else, and trusting it could copy outside the ring.
  bool sane(const State& s) const noexcept {
    const std::uint64_t used = s.tail - s.head;
    return s.tail >= s.head && used <= ring_bytes_ && s.count <= used / kRecordHeaderBytes &&
           (s.count == 0) == (used == 0) &&
           (!bounded() || s.count <= static_cast<std::uint64_t>(maxsize_));
  }

  // Waits without the lock until `ready` holds for the committed state, and
  // returns that state; nullopt once `deadline` has passed (never before).
  template <typename Ready>
  std::optional<State> await(std::atomic<std::uint32_t>& word, Ready ready, Deadline deadline) {
    State state = snapshot();
    if (ready(state)) return state;
    if (deadline.expired()) return std::nullopt;
    for (;;) {
      const std::uint32_t armed = word.fetch_or(kSleeper, std::memory_order_seq_cst) | kSleeper;
      state = snapshot();
      if (ready(state)) return state;
      if (deadline.expired()) return std::nullopt;
      const auto recheck = Clock::now() + kRecheckInterval;
      futex_wait(word, armed, recheck < deadline.when() ? Deadline::at(recheck) : deadline);
    }
  }

  // Takes the lock, waiting at most until `deadline` or kQueueLockGrace after
  // this call first found it taken, whichever is later.
  Lock lock(Deadline deadline, std::optional<Clock::time_point>& began) noexcept {
    pthread_mutex_t& mutex = segment_->mutex;
    int rc = ::pthread_mutex_trylock(&mutex);
    for (int poll = 0; rc == EBUSY && poll < kLockPolls; ++poll) {
      for (int i = 0; i < kPausesPerPoll; ++i) cpu_relax();
      if (glibc_lock_free(mutex)) rc = ::pthread_mutex_trylock(&mutex);
    }
    if (rc == EBUSY) {
      if (deadline.is_never()) {
        rc = ::pthread_mutex_lock(&mutex);
      } else {
        if (!began) began = Clock::now();
        const timespec limit = to_timespec(std::max(deadline.when(), *began + kQueueLockGrace));
        rc = ::pthread_mutex_clocklock(&mutex, CLOCK_MONOTONIC, &limit);
      }
    }
    if (rc == EOWNERDEAD) {
      // The holder died. Every change is committed by one store, so the state
      // it left is the last committed one and nothing needs repair; only the
      // wake-ups it may have owed are sent.
      ::pthread_mutex_consistent(&mutex);
      g_recoveries.fetch_add(1, std::memory_order_relaxed);
      wake(segment_->not_empty);
      wake(segment_->not_full);
      wake(segment_->all_done);
      rc = 0;
    }
    if (rc == 0) {
      __builtin_prefetch(&segment_->slots, 1, 3);  // read, then written: fetch it owned
      // Orders this holder's writes to the state slot after the commits of
      // earlier holders, for snapshot()'s recheck.
      std::atomic_thread_fence(std::memory_order_release);
      return Lock::held;
    }
    return rc == ETIMEDOUT ? Lock::busy : Lock::broken;
  }

  void unlock() noexcept { ::pthread_mutex_unlock(&segment_->mutex); }

  static void run_hook(internal::QueueStep step) {
    if (auto hook = g_hook.load(std::memory_order_relaxed)) hook(step);
  }

  // Record headers are read without the lock by prepare_large().
  std::atomic_ref<std::uint64_t> header_at(std::uint64_t at) const noexcept {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(ring_ + at));
  }

  void copy_in(std::uint64_t at, const std::byte* from, std::uint64_t size) noexcept {
    if (size == 0) return;
    const std::uint64_t first = std::min(size, ring_bytes_ - at);
    std::memcpy(ring_ + at, from, first);
    if (size > first) std::memcpy(ring_, from + first, size - first);
  }

  void copy_out(std::uint64_t at, std::byte* to, std::uint64_t size) const noexcept {
    if (size == 0) return;
    const std::uint64_t first = std::min(size, ring_bytes_ - at);
    std::memcpy(to, ring_ + at, first);
    if (size > first) std::memcpy(to + first, ring_, size - first);
  }

  // Faults in this process's pages of the ring range [position, +bytes).
  // Content is untouched, so a stale guess of the position is harmless.
  void populate(std::uint64_t position, std::uint64_t bytes, int advice) const noexcept {
    const std::uint64_t at = position % ring_bytes_;
    const std::uint64_t first = std::min(bytes, ring_bytes_ - at);
    advise(ring_ + at, first, advice);
    if (bytes > first) advise(ring_, bytes - first, advice);
  }

  static void advise(std::byte* from, std::uint64_t bytes, int advice) noexcept {
    const auto page = page_bytes();
    const auto begin = reinterpret_cast<std::uintptr_t>(from) & ~(page - 1);
    const auto end = reinterpret_cast<std::uintptr_t>(from) + bytes;
    ::madvise(reinterpret_cast<void*>(begin), end - begin, advice);
  }

  // Before the lock, for a large item at the head of `state`: sizes `item`
  // and touches its pages, and faults in the ring pages it will be copied
  // from. A guess (the header is read without the lock); the copy under the
  // lock uses the committed size whatever happened meanwhile.
  void prepare_large(const State& state, Bytes& item) noexcept {
    const std::uint64_t at = state.head % ring_bytes_;
    const std::uint64_t size = header_at(at).load(std::memory_order_relaxed);
    if (size < kPrefaultBytes || size > kQueueMaxItemBytes || size <= item.size()) {
      populate_ahead(kRecordHeaderBytes, false);
      return;
    }
    try {
      item.resize(size);
    } catch (const std::bad_alloc&) {
      return;  // reported by the resize under the lock, if it fails again
    }
    for (std::uint64_t i = 0; i < size; i += page_bytes()) item[i] = std::byte{0};
    populate(at, record_bytes(size), MADV_POPULATE_READ);
  }

  // Maps this process's ring pages from the start up to kPopulateAhead past
  // `bytes` beyond its cursor (where its last put or get left the queue), in
  // kPopulateChunk steps, and prefetches the cursor's cache line. Queues restart at offset 0 when
  // they empty, so the mapped prefix covers nearly all traffic; a guess that falls short costs only
  // faults under the lock.
  void populate_ahead(std::uint64_t bytes, bool for_put) noexcept {
    const unsigned forks = g_forks.load(std::memory_order_relaxed);
    if (forks != forks_seen_) {
      forks_seen_ = forks;
      populated_ = 0;
    }
    // The cache line the operation most likely touches first: fetching it
    // now keeps that miss out of the lock.
    if (for_put) {
      __builtin_prefetch(ring_ + cursor_, 1, 3);
    } else {
      __builtin_prefetch(ring_ + cursor_, 0, 3);
    }
    const std::uint64_t want = std::min(ring_bytes_, cursor_ + bytes + kPopulateAhead);
    if (want <= populated_) return;
    const std::uint64_t until =
        std::min(ring_bytes_, (want + kPopulateChunk - 1) / kPopulateChunk * kPopulateChunk);
    if (::madvise(ring_ + populated_, until - populated_, MADV_POPULATE_WRITE) != 0) {
      populated_ = ring_bytes_;  // not supported here: let the copies fault
      return;
    }
    populated_ = until;
  }

  void release() noexcept {
    if (segment_ == nullptr) return;
    ::munmap(base_, map_bytes_);
    ::close(fd_);
    segment_ = nullptr;
    fd_ = -1;
  }

  int fd_;
  void* base_;
  std::uint64_t map_bytes_;
  Segment* segment_;
  std::byte* ring_;
  // Copies of the segment's description, validated when the queue was made
  // or imported, so a later scribble on the segment cannot widen a copy.
  std::uint64_t ring_bytes_;
  QueueKind kind_;
  std::int64_t maxsize_;
  // populate_ahead(): ring offset this process last worked at; the prefix of
  // the ring mapped in this process; the fork count that mapping belongs to.
  std::uint64_t cursor_ = 0;
  std::uint64_t populated_ = 0;
  unsigned forks_seen_ = g_forks.load(std::memory_order_relaxed);
};

// The Queue object for a mapped segment, or nullptr when memory ran out. (A
// plain new, so that a program's replacement of operator new is honoured.)
SharedQueue* new_queue(int fd, void* base, std::uint64_t map_bytes, QueueKind kind,
                       std::int64_t maxsize, std::uint64_t ring_bytes) noexcept {
  count_forks();
  try {
    return new SharedQueue(fd, base, map_bytes, kind, maxsize, ring_bytes);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

bool known_kind(QueueKind kind) {
  return kind == QueueKind::queue || kind == QueueKind::simple_queue ||
         kind == QueueKind::joinable_queue;
}

Result<std::uint64_t> ring_size(const QueueStorageOptions& storage) {
  if (storage.storage_bytes < kMinQueueStorageBytes ||
      storage.storage_bytes > kMaxQueueStorageBytes) {
    return fail(errc::invalid_argument, 0,
                "storage_bytes " + std::to_string(storage.storage_bytes) + " is outside [" +
                    std::to_string(kMinQueueStorageBytes) + ", " +
                    std::to_string(kMaxQueueStorageBytes) + "]");
  }
  return (storage.storage_bytes + kStorageGranule - 1) & ~(kStorageGranule - 1);
}

std::optional<QueueKind> kind_named(std::string_view name) {
  for (auto kind : {QueueKind::queue, QueueKind::simple_queue, QueueKind::joinable_queue}) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

Failure not_ours(std::string what) {
  return fail(errc::invalid_argument, 0, "not a reference queue token: " + std::move(what));
}

}  // namespace

Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options,
                                          const QueueStorageOptions& storage) {
  if (!known_kind(options.kind)) return fail(errc::invalid_argument, 0, "unknown queue kind");
  std::int64_t maxsize = options.maxsize;
  if (options.kind == QueueKind::simple_queue) {
    if (maxsize != 0) return fail(errc::invalid_argument, 0, "a SimpleQueue has no maxsize");
  } else if (maxsize > kQueueMaxMaxsize) {
    return fail(
        errc::invalid_argument, 0,
        "maxsize " + std::to_string(maxsize) + " exceeds " + std::to_string(kQueueMaxMaxsize));
  } else if (maxsize < 0) {
    maxsize = 0;
  }
  auto ring = ring_size(storage);
  if (!ring) return fail(std::move(ring).error());
  const std::uint64_t map_bytes = kHeaderBytes + *ring;

  auto created = internal::create_sealed_segment("ipcc-reference-queue", map_bytes);
  if (!created) return fail(std::move(created).error());
  const int fd = created->fd;
  void* base = created->base;
  auto give_up = [fd](int error_number, std::string_view what) {
    ::close(fd);
    return os_failure(error_number, what);
  };

  auto* segment = new (base) Segment;
  pthread_mutexattr_t attributes;
  int rc = ::pthread_mutexattr_init(&attributes);
  if (rc == 0) {
    ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    rc = ::pthread_mutex_init(&segment->mutex, &attributes);
    ::pthread_mutexattr_destroy(&attributes);
  }
  auto* queue = rc == 0 ? new_queue(fd, base, map_bytes, options.kind, maxsize, *ring) : nullptr;
  if (queue == nullptr) {
    ::munmap(base, map_bytes);
    return give_up(rc != 0 ? rc : ENOMEM, "creating the queue");
  }
  segment->version = kVersion;
  segment->kind = static_cast<std::uint32_t>(options.kind);
  segment->maxsize = maxsize;
  segment->ring_bytes = *ring;
  segment->magic = kMagic;
  return std::unique_ptr<Queue>(queue);
}

Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) {
  if (token.kind != kTokenKind) return not_ours("kind \"" + token.kind + "\"");
  if (token.fds.size() != 1) return not_ours(std::to_string(token.fds.size()) + " descriptors");
  std::uint32_t version = 0;
  std::int64_t maxsize = -1;
  std::uint64_t storage = 0;
  const auto kind = kind_named(field(token.data, "kind"));
  if (!parse_number(field(token.data, "v"), version) || version != kVersion || !kind ||
      !parse_number(field(token.data, "maxsize"), maxsize) ||
      !parse_number(field(token.data, "storage"), storage) ||
      token.data != SharedQueue::token_data(*kind, maxsize, storage)) {
    return not_ours("data \"" + token.data + "\"");
  }
  auto ring = ring_size({storage});
  if (maxsize < 0 || maxsize > kQueueMaxMaxsize ||
      (*kind == QueueKind::simple_queue && maxsize != 0) || !ring || *ring != storage) {
    return not_ours("data \"" + token.data + "\"");
  }
  const std::uint64_t map_bytes = kHeaderBytes + storage;

  const int fd = token.fds[0];
  auto mapped = internal::map_sealed_segment(fd, map_bytes, "queue segment", not_ours);
  if (!mapped) return fail(std::move(mapped).error());
  void* base = *mapped;
  const auto* segment = static_cast<const Segment*>(base);
  if (segment->magic != kMagic || segment->version != kVersion ||
      segment->kind != static_cast<std::uint32_t>(*kind) || segment->maxsize != maxsize ||
      segment->ring_bytes != storage) {
    ::munmap(base, map_bytes);
    return not_ours("the segment's header does not match the token");
  }
  auto* queue = new_queue(fd, base, map_bytes, *kind, maxsize, storage);
  if (queue == nullptr) {
    ::munmap(base, map_bytes);
    return os_failure(ENOMEM, "import_queue");
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return std::unique_ptr<Queue>(queue);
}

QueueCapabilities queue_capabilities(const QueueStorageOptions& storage) {
  QueueCapabilities caps;
  caps.queue = true;
  caps.simple_queue = true;
  caps.joinable_queue = true;
  caps.qsize = true;
  caps.put_visible_at_once = true;
  caps.max_maxsize = kQueueMaxMaxsize;
  caps.max_item_bytes = kQueueMaxItemBytes;
  // Items counted with 64 bytes of overhead need more than their records (at
  // most 15 bytes of overhead), so the whole ring is a safe figure.
  auto ring = ring_size(storage);
  caps.min_storage_bytes = ring ? *ring : 0;
  caps.serialization_failure = SerializationFailureEffect::reported_by_put;
  caps.unconsumed_exit = UnconsumedExitEffect::exits_at_once;
  caps.killed_consumer = KilledProcessEffect::unaffected;
  caps.killed_producer = KilledProcessEffect::unaffected;
  return caps;
}

namespace internal {

void set_queue_hook(QueueHook hook) noexcept { g_hook.store(hook, std::memory_order_relaxed); }

bool hold_queue_lock(Queue& queue) noexcept {
  auto* shared = dynamic_cast<SharedQueue*>(&queue);
  return shared != nullptr && shared->hold_lock();
}

std::uint64_t queue_lock_recoveries() noexcept {
  return g_recoveries.load(std::memory_order_relaxed);
}

}  // namespace internal
}  // namespace ipcc::reference
