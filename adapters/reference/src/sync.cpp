// The reference Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition
// and Barrier (ipcc/reference/sync.h has the design and its limits).
#include "ipcc/reference/sync.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "segment.h"

namespace ipcc::reference {
namespace {

using internal::field;
using internal::os_failure;
using internal::parse_number;


using Clock = Deadline::Clock;

// ---------------------------------------------------------------------------
// Segments

constexpr std::uint64_t kMagic = 0x316e7973'63637069;  // "ipccsyn1" in memory order
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kPageBytes = 4096;

enum class Type : std::uint32_t { lock = 1, semaphore, event, condition, barrier };

// The first bytes of every segment: what it is. Written once by the creator
// (magic last) and only read afterwards; each process keeps the validated
// copy it needs, so a later scribble cannot change what it believes.
struct Header {
  std::uint64_t magic;
  std::uint32_t version;
  Type type;
  std::uint32_t variant;  // LockKind, SemaphoreKind, or the condition's LockKind
  std::uint32_t reserved;
  std::int64_t param;    // semaphore bound, barrier parties
  std::uint64_t pid_ns;  // inode of the creator's /proc/self/ns/pid, 0 if unknown
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
              sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

std::string_view token_kind(Type type) {
  switch (type) {
    case Type::lock:
      return "ipcc.reference.lock/1";
    case Type::semaphore:
      return "ipcc.reference.semaphore/1";
    case Type::event:
      return "ipcc.reference.event/1";
    case Type::condition:
      return "ipcc.reference.condition/1";
    case Type::barrier:
      return "ipcc.reference.barrier/1";
  }
  return "?";
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::lock:
      return "lock";
    case Type::semaphore:
      return "semaphore";
    case Type::event:
      return "event";
    case Type::condition:
      return "condition";
    case Type::barrier:
      return "barrier";
  }
  return "?";
}

Failure not_ours(Type type, std::string what) {
  return fail(errc::invalid_argument, 0,
              "not a reference " + std::string(type_name(type)) + " token: " + std::move(what));
}

Failure corrupt_failure(std::string_view what) {
  return fail(errc::broken, 0, "the shared state is inconsistent: " + std::string(what));
}

std::uint64_t pid_namespace() noexcept {
  struct stat info {};
  if (::stat("/proc/self/ns/pid", &info) != 0) return 0;
  return static_cast<std::uint64_t>(info.st_ino);
}

// One process's view of a segment: owns the mapping and the descriptor.
class Mapping {
 public:
  Mapping() = default;
  Mapping(int fd, void* base, std::size_t bytes) noexcept : fd_(fd), base_(base), bytes_(bytes) {}
  Mapping(Mapping&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        base_(std::exchange(other.base_, nullptr)),
        bytes_(other.bytes_) {}
  Mapping& operator=(Mapping&&) = delete;
  ~Mapping() {
    if (base_ != nullptr) ::munmap(base_, bytes_);
    if (fd_ >= 0) ::close(fd_);
  }
  // Gives the descriptor back to the caller (a failed import leaves it open).
  void disown_fd() noexcept { fd_ = -1; }
  int fd() const noexcept { return fd_; }
  void* base() const noexcept { return base_; }

 private:
  int fd_ = -1;
  void* base_ = nullptr;
  std::size_t bytes_ = 0;
};

constexpr std::size_t round_to_pages(std::size_t bytes) {
  return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
}

// A new zeroed, sealed, mapped segment of `bytes` with its header filled in.
Result<Mapping> create_segment(Type type, std::uint32_t variant, std::int64_t param,
                               std::size_t bytes) {
  const std::string name = "ipcc-reference-" + std::string(type_name(type));
  auto segment = internal::create_sealed_segment(name.c_str(), bytes);
  if (!segment) return fail(std::move(segment).error());
  const int fd = segment->fd;
  void* base = segment->base;
  auto* header = static_cast<Header*>(base);
  header->version = kVersion;
  header->type = type;
  header->variant = variant;
  header->param = param;
  header->pid_ns = pid_namespace();
  __atomic_store_n(&header->magic, kMagic, __ATOMIC_RELEASE);
  return Mapping(fd, base, bytes);
}

// What a token must describe; `data` is its canonical text.
struct Expected {
  Type type;
  std::uint32_t variant;
  std::int64_t param;
  std::size_t bytes;
  std::string data;
};

// Maps the segment of `token` after checking the descriptor and the header
// against `want`. On failure the descriptor stays open for the caller.
Result<Mapping> open_segment(const HandleToken& token, const Expected& want) {
  const int fd = token.fds[0];
  auto mapped = internal::map_sealed_segment(fd, want.bytes, "segment",
                                             [&want](std::string why) { return not_ours(want.type, std::move(why)); });
  if (!mapped) return fail(std::move(mapped).error());
  void* base = *mapped;
  Mapping mapping(fd, base, want.bytes);
  const auto* header = static_cast<const Header*>(base);
  if (__atomic_load_n(&header->magic, __ATOMIC_ACQUIRE) != kMagic || header->version != kVersion ||
      header->type != want.type || header->variant != want.variant || header->param != want.param) {
    mapping.disown_fd();
    return not_ours(want.type, "the segment's header does not match the token");
  }
  const std::uint64_t ours = pid_namespace();
  if (header->pid_ns != 0 && ours != 0 && header->pid_ns != ours) {
    mapping.disown_fd();
    return not_ours(want.type, "the segment was made in another PID namespace");
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return mapping;
}

// Checks the token's kind and descriptor count; the caller checks the data.
std::optional<Failure> check_envelope(const HandleToken& token, Type type) {
  if (token.kind != token_kind(type)) return not_ours(type, "kind \"" + token.kind + "\"");
  if (token.fds.size() != 1) {
    return not_ours(type, std::to_string(token.fds.size()) + " descriptors");
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Threads, futexes, liveness

thread_local pid_t t_tid = 0;

void forget_tid() noexcept { t_tid = 0; }

// The calling thread's kernel TID, without a system call after the first.
// The child handler runs in the only thread of a forked child: the one that
// called fork, whose cached TID is its parent's.
pid_t self_tid() noexcept {
  if (t_tid == 0) [[unlikely]] {
    static const bool registered = ::pthread_atfork(nullptr, nullptr, forget_tid) == 0;
    (void)registered;
    t_tid = static_cast<pid_t>(::syscall(SYS_gettid));
  }
  return t_tid;
}

timespec to_timespec(Clock::time_point when) noexcept {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
  if (ns < 0) ns = 0;
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

// The end of the next sleep: the deadline, or kOwnerCheckInterval from now.
Clock::time_point slice_end(Deadline deadline) noexcept {
  const auto recheck = Clock::now() + kOwnerCheckInterval;
  return deadline.is_never() ? recheck : std::min(recheck, deadline.when());
}

// Sleeps while `word` == `expected` until `until` (absolute CLOCK_MONOTONIC,
// which steady_clock is). Not FUTEX_PRIVATE: other processes wake the word
// through their own mappings. Every return (EINTR, EAGAIN, a wake-up, the
// time limit) is treated as spurious by the callers, which look again.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, Clock::time_point until,
                std::uint32_t bitset = FUTEX_BITSET_MATCH_ANY) noexcept {
  const timespec limit = to_timespec(until);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, &limit,
            nullptr, bitset);
}

void futex_wake(std::atomic<std::uint32_t>& word, int count,
                std::uint32_t bitset = FUTEX_BITSET_MATCH_ANY) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_BITSET, count, nullptr,
            nullptr, bitset);
}

// False once thread `tid` has ended: its /proc entry is gone, or it is a
// zombie (Z) or dead (X). A process killed while holding a lock is a zombie
// until its parent reaps it.
bool thread_alive(pid_t tid) noexcept {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // Gone, hidden (hidepid=), or no /proc at all: a signal probe tells
    // gone (ESRCH) from there. It sees zombies as alive, but a zombie still
    // has its /proc entry.
    return ::kill(tid, 0) == 0 || errno != ESRCH;
  }
  char text[512];
  ssize_t got;
  do {
    got = ::read(fd, text, sizeof text);
  } while (got < 0 && errno == EINTR);
  const int read_error = errno;
  ::close(fd);
  if (got < 0) return read_error != ESRCH;
  const std::string_view line(text, static_cast<std::size_t>(got));
  // "pid (comm) S ...": comm may hold parentheses, the state follows the last one.
  const auto paren = line.rfind(')');
  if (paren == std::string_view::npos || paren + 2 >= line.size()) return true;
  const char state = line[paren + 2];
  return state != 'Z' && state != 'X' && state != 'x';
}

// ---------------------------------------------------------------------------
// The lock word (Lock, RLock, and a Condition's lock)

constexpr std::uint32_t kWaiters = 0x80000000u;  // someone sleeps on the word, or may
constexpr std::uint32_t kTidMask = 0x3fffffffu;  // PID_MAX_LIMIT is 2^22

struct LockWord {
  std::atomic<std::uint32_t> word;   // owner TID | kWaiters; 0 when free
  std::atomic<std::uint32_t> count;  // RLock recursion depth, written by the owner only
};

Failure timeout_failure(std::string_view what) { return fail(errc::timeout, 0, std::string(what)); }

class LockCore {
 public:
  LockCore(LockWord& state, LockKind kind) noexcept : s_(state), kind_(kind) {}

  Result<Acquired> acquire(Deadline deadline) noexcept {
    const auto me = static_cast<std::uint32_t>(self_tid());
    std::uint32_t seen = 0;
    if (s_.word.compare_exchange_strong(seen, me, std::memory_order_acquire,
                                        std::memory_order_relaxed)) [[likely]] {
      if (kind_ == LockKind::rlock) s_.count.store(1, std::memory_order_relaxed);
      return Acquired{};
    }
    if (kind_ == LockKind::rlock && (seen & kTidMask) == me) {
      const std::uint32_t depth = s_.count.load(std::memory_order_relaxed);
      if (depth == UINT32_MAX) return fail(errc::broken, 0, "RLock recursion depth overflow");
      s_.count.store(depth + 1, std::memory_order_relaxed);
      return Acquired{};
    }
    return acquire_slow(me, deadline);
  }

  Result<void> release() noexcept {
    if (kind_ == LockKind::lock) {
      std::uint32_t seen = s_.word.load(std::memory_order_relaxed);
      do {
        if ((seen & kTidMask) == 0) {
          return fail(errc::released_too_many_times, 0, "release of an unlocked Lock");
        }
      } while (!s_.word.compare_exchange_weak(seen, 0, std::memory_order_release,
                                              std::memory_order_relaxed));
      if ((seen & kWaiters) != 0) futex_wake(s_.word, 1);
      return ok();
    }
    const auto me = static_cast<std::uint32_t>(self_tid());
    if ((s_.word.load(std::memory_order_relaxed) & kTidMask) != me) {
      return fail(errc::not_owner, 0, "the RLock is not owned by the calling thread");
    }
    const std::uint32_t depth = s_.count.load(std::memory_order_relaxed);
    if (depth > 1) {
      s_.count.store(depth - 1, std::memory_order_relaxed);
      return ok();
    }
    free_word();
    return ok();
  }

  bool held_by_caller() const noexcept {
    return (s_.word.load(std::memory_order_relaxed) & kTidMask) ==
           static_cast<std::uint32_t>(self_tid());
  }

  // Condition::wait: gives the lock up entirely (the caller holds it), and
  // returns the depth to restore.
  std::uint32_t release_fully() noexcept {
    std::uint32_t depth = 1;
    if (kind_ == LockKind::rlock)
      depth = std::max<std::uint32_t>(1, s_.count.load(std::memory_order_relaxed));
    free_word();
    return depth;
  }
  void restore_depth(std::uint32_t depth) noexcept {
    if (kind_ == LockKind::rlock) s_.count.store(depth, std::memory_order_relaxed);
  }

 private:
  void free_word() noexcept {
    if (kind_ == LockKind::rlock) s_.count.store(0, std::memory_order_relaxed);
    if ((s_.word.exchange(0, std::memory_order_release) & kWaiters) != 0) futex_wake(s_.word, 1);
  }

  Acquired acquired(bool previous_owner_died) noexcept {
    if (kind_ == LockKind::rlock) s_.count.store(1, std::memory_order_relaxed);
    return Acquired{previous_owner_died};
  }

  // Takes the word over from `seen`'s owner if that thread has ended. One
  // compare-and-swap: of all the processes that find the owner dead, exactly
  // one moves the word from its value. The waiters bit is set, as the
  // others may be asleep.
  bool take_over(std::uint32_t seen, std::uint32_t me) noexcept {
    const std::uint32_t owner = seen & kTidMask;
    if (owner == 0 || owner == me || thread_alive(static_cast<pid_t>(owner))) return false;
    return s_.word.compare_exchange_strong(seen, me | kWaiters, std::memory_order_acquire,
                                           std::memory_order_relaxed);
  }

  Result<Acquired> acquire_slow(std::uint32_t me, Deadline deadline) noexcept {
    // No spinning before sleeping: with the holder on the same CPU a spin
    // only delays it (64 x 32 pauses cost a 23x slower hand-off than a futex
    // ping-pong there, docs/benchmarks.md); across CPUs it saves a wake-up
    // at the price of a busy CPU.
    // Once it has slept, a thread takes the word with the waiters bit set:
    // the release that woke it cleared the bit while others may still sleep.
    bool slept = false;
    int late_tries = 0;
    for (;;) {
      std::uint32_t seen = s_.word.load(std::memory_order_relaxed);
      const std::uint32_t owner = seen & kTidMask;
      if (owner == 0) {
        const std::uint32_t mine = me | (slept ? kWaiters : (seen & kWaiters));
        if (s_.word.compare_exchange_weak(seen, mine, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
          return acquired(false);
        }
        continue;
      }
      if (deadline.expired()) {
        if (take_over(seen, me)) return acquired(true);
        // Freed meanwhile: try it, a few times at most.
        if ((s_.word.load(std::memory_order_relaxed) & kTidMask) == 0 && ++late_tries < 4) continue;
        return timeout_failure("the lock was held by another at the deadline");
      }
      if ((seen & kWaiters) == 0) {
        if (!s_.word.compare_exchange_weak(seen, seen | kWaiters, std::memory_order_relaxed,
                                           std::memory_order_relaxed)) {
          continue;
        }
        seen |= kWaiters;
      }
      const auto until = slice_end(deadline);
      futex_wait(s_.word, seen, until);
      slept = true;
      // A slice that ended with the same owner still named: is it alive?
      if (Clock::now() >= until && s_.word.load(std::memory_order_relaxed) == seen &&
          take_over(seen, me)) {
        return acquired(true);
      }
    }
  }

  LockWord& s_;
  LockKind kind_;
};

std::optional<LockKind> lock_kind_named(std::string_view name) {
  for (auto kind : {LockKind::lock, LockKind::rlock}) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

bool known(LockKind kind) { return kind == LockKind::lock || kind == LockKind::rlock; }

// ---------------------------------------------------------------------------
// Lock

struct LockSegment {
  Header header;
  alignas(64) LockWord lock;
};
constexpr std::size_t kLockBytes = round_to_pages(sizeof(LockSegment));

std::string lock_data(LockKind kind) {
  return "v=" + std::to_string(kVersion) + ";kind=" + std::string(to_string(kind));
}

class SharedLock final : public Lock {
 public:
  SharedLock(Mapping mapping, LockKind kind) noexcept
      : mapping_(std::move(mapping)),
        segment_(static_cast<LockSegment*>(mapping_.base())),
        kind_(kind),
        core_(segment_->lock, kind) {}

  Result<Acquired> acquire(Deadline deadline) override { return core_.acquire(deadline); }
  Result<void> release() override { return core_.release(); }
  LockKind kind() const override { return kind_; }
  Result<HandleToken> export_handle() override {
    return HandleToken{std::string(token_kind(Type::lock)), lock_data(kind_), {mapping_.fd()}};
  }

 private:
  Mapping mapping_;
  LockSegment* segment_;
  LockKind kind_;
  LockCore core_;
};

// ---------------------------------------------------------------------------
// Semaphore

struct SemaphoreSegment {
  Header header;
  alignas(64) std::atomic<std::uint32_t> value;
  std::atomic<std::uint32_t> sleepers;  // processes asleep on value, or about to be
};
constexpr std::size_t kSemaphoreBytes = round_to_pages(sizeof(SemaphoreSegment));

std::optional<SemaphoreKind> semaphore_kind_named(std::string_view name) {
  for (auto kind : {SemaphoreKind::semaphore, SemaphoreKind::bounded_semaphore}) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string semaphore_data(SemaphoreKind kind, std::int64_t bound) {
  std::string data = "v=" + std::to_string(kVersion) + ";kind=" + std::string(to_string(kind));
  if (kind == SemaphoreKind::bounded_semaphore) data += ";bound=" + std::to_string(bound);
  return data;
}

class SharedSemaphore final : public Semaphore {
 public:
  SharedSemaphore(Mapping mapping, SemaphoreKind kind, std::uint32_t bound) noexcept
      : mapping_(std::move(mapping)),
        segment_(static_cast<SemaphoreSegment*>(mapping_.base())),
        kind_(kind),
        bound_(bound) {}

  Result<void> acquire(Deadline deadline) override {
    auto& value = segment_->value;
    if (take(value.load(std::memory_order_relaxed))) [[likely]]
      return ok();
    for (;;) {
      if (take(value.load(std::memory_order_relaxed))) return ok();
      if (deadline.expired()) return timeout_failure("the semaphore was 0 at the deadline");
      segment_->sleepers.fetch_add(1, std::memory_order_seq_cst);
      if (value.load(std::memory_order_seq_cst) == 0) futex_wait(value, 0, slice_end(deadline));
      segment_->sleepers.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  Result<void> release() override {
    auto& value = segment_->value;
    std::uint32_t seen = value.load(std::memory_order_relaxed);
    do {
      if (seen >= bound_) {
        return fail(errc::released_too_many_times, 0,
                    "semaphore or lock released too many times (value " + std::to_string(seen) +
                        ", bound " + std::to_string(bound_) + ")");
      }
    } while (!value.compare_exchange_weak(seen, seen + 1, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
    if (segment_->sleepers.load(std::memory_order_seq_cst) != 0) futex_wake(value, 1);
    return ok();
  }

  Result<std::int64_t> get_value() override {
    const std::uint32_t value = segment_->value.load(std::memory_order_relaxed);
    if (value > bound_) return corrupt_failure("semaphore value above its bound");
    return static_cast<std::int64_t>(value);
  }

  SemaphoreKind kind() const override { return kind_; }
  Result<HandleToken> export_handle() override {
    return HandleToken{
        std::string(token_kind(Type::semaphore)), semaphore_data(kind_, bound_), {mapping_.fd()}};
  }

 private:
  // One decrement of a value seen as `seen`, retried while it stays above 0.
  bool take(std::uint32_t seen) noexcept {
    while (seen != 0 && seen <= bound_) {
      if (segment_->value.compare_exchange_weak(seen, seen - 1, std::memory_order_acquire,
                                                std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  Mapping mapping_;
  SemaphoreSegment* segment_;
  SemaphoreKind kind_;
  std::uint32_t bound_;
};

// ---------------------------------------------------------------------------
// Event

struct EventSegment {
  Header header;
  alignas(64) std::atomic<std::uint32_t> word;  // generation << 1 | flag
  std::atomic<std::uint32_t> sleepers;
};
constexpr std::size_t kEventBytes = round_to_pages(sizeof(EventSegment));
constexpr std::uint32_t kFlag = 1;

std::string plain_data() { return "v=" + std::to_string(kVersion); }

class SharedEvent final : public Event {
 public:
  explicit SharedEvent(Mapping mapping) noexcept
      : mapping_(std::move(mapping)), segment_(static_cast<EventSegment*>(mapping_.base())) {}

  Result<void> set() override {
    auto& word = segment_->word;
    std::uint32_t seen = word.load(std::memory_order_relaxed);
    do {
      if ((seen & kFlag) != 0) return ok();
      // The flag goes up and the generation moves on, in one step.
    } while (!word.compare_exchange_weak(seen, (seen + 2) | kFlag, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
    if (segment_->sleepers.load(std::memory_order_seq_cst) != 0) futex_wake(word, INT_MAX);
    return ok();
  }

  Result<void> clear() override {
    segment_->word.fetch_and(~kFlag, std::memory_order_seq_cst);
    return ok();
  }

  Result<bool> is_set() override {
    return (segment_->word.load(std::memory_order_seq_cst) & kFlag) != 0;
  }

  // The word changes only through set() while the flag is down (clear()
  // leaves a lowered word as it is), so a wait that began at a lowered
  // `start` returns true as soon as the word differs from it.
  Result<bool> wait(Deadline deadline) override {
    auto& word = segment_->word;
    const std::uint32_t start = word.load(std::memory_order_seq_cst);
    if ((start & kFlag) != 0) return true;
    for (;;) {
      if (word.load(std::memory_order_seq_cst) != start) return true;
      if (deadline.expired()) return false;
      segment_->sleepers.fetch_add(1, std::memory_order_seq_cst);
      futex_wait(word, start, slice_end(deadline));
      segment_->sleepers.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  Result<HandleToken> export_handle() override {
    return HandleToken{std::string(token_kind(Type::event)), plain_data(), {mapping_.fd()}};
  }

 private:
  Mapping mapping_;
  EventSegment* segment_;
};

// ---------------------------------------------------------------------------
// Condition

struct ConditionSegment {
  Header header;
  alignas(64) LockWord lock;
  // Tickets, written under the lock: [served, next) are the waiters not
  // yet notified. A ticket's bit in `cancelled` is cleared when it is
  // issued and set when its waiter gave up; bits outside [served, next)
  // mean nothing.
  alignas(64) std::atomic<std::uint32_t> next;
  std::atomic<std::uint32_t> served;
  std::atomic<std::uint32_t> notified;  // futex: bumped by every notify that served a live ticket
  alignas(64) std::atomic<std::uint64_t> cancelled[kConditionMaxWaiters / 64];
};
constexpr std::size_t kConditionBytes = round_to_pages(sizeof(ConditionSegment));
static_assert((kConditionMaxWaiters & (kConditionMaxWaiters - 1)) == 0);

std::string condition_data(LockKind kind) {
  return "v=" + std::to_string(kVersion) + ";lock=" + std::string(to_string(kind));
}

class SharedCondition final : public Condition {
 public:
  SharedCondition(Mapping mapping, LockKind kind) noexcept
      : mapping_(std::move(mapping)),
        segment_(static_cast<ConditionSegment*>(mapping_.base())),
        kind_(kind),
        core_(segment_->lock, kind) {}

  Result<Acquired> acquire(Deadline deadline) override { return core_.acquire(deadline); }
  Result<void> release() override { return core_.release(); }

  Result<bool> wait(Deadline deadline) override {
    if (!core_.held_by_caller()) {
      return fail(errc::not_owner, 0, "wait() on a condition whose lock the caller does not hold");
    }
    auto& s = *segment_;
    const std::uint32_t ticket = s.next.load(std::memory_order_relaxed);
    const std::uint32_t outstanding = ticket - s.served.load(std::memory_order_relaxed);
    if (outstanding > kConditionMaxWaiters) return corrupt_failure("condition tickets");
    if (outstanding == kConditionMaxWaiters) {
      return fail(errc::broken, 0,
                  "more than " + std::to_string(kConditionMaxWaiters) + " condition waiters");
    }
    set_cancelled(ticket, false);
    s.next.store(ticket + 1, std::memory_order_relaxed);
    const std::uint32_t depth = core_.release_fully();

    bool notified = false;
    const std::uint32_t bit = std::uint32_t{1} << (ticket & 31);
    for (;;) {
      const std::uint32_t round = s.notified.load(std::memory_order_seq_cst);
      if (served(ticket)) {
        notified = true;
        break;
      }
      if (deadline.expired()) break;
      futex_wait(s.notified, round, slice_end(deadline), bit);
    }

    // Back under the lock, however long that takes (Python does the same).
    for (;;) {
      auto got = core_.acquire(Deadline::never());
      if (got) break;
      if (got.code() != errc::timeout) return fail(std::move(got).error());
    }
    core_.restore_depth(depth);
    if (!notified) {
      // Served between the deadline and now: the notification was meant
      // for this waiter, which takes it.
      if (served(ticket)) return true;
      cancel(ticket);
    }
    return notified;
  }

  Result<void> notify(std::int64_t n) override {
    if (!core_.held_by_caller()) {
      return fail(errc::not_owner, 0,
                  "notify() on a condition whose lock the caller does not hold");
    }
    if (n < 0) return fail(errc::invalid_argument, 0, "notify(n) with n < 0");
    return serve(static_cast<std::uint64_t>(n));
  }

  Result<void> notify_all() override {
    if (!core_.held_by_caller()) {
      return fail(errc::not_owner, 0,
                  "notify_all() on a condition whose lock the caller does not hold");
    }
    return serve(UINT64_MAX);
  }

  Result<HandleToken> export_handle() override {
    return HandleToken{
        std::string(token_kind(Type::condition)), condition_data(kind_), {mapping_.fd()}};
  }

 private:
  bool served(std::uint32_t ticket) const noexcept {
    return static_cast<std::int32_t>(ticket - segment_->served.load(std::memory_order_seq_cst)) < 0;
  }

  bool is_cancelled(std::uint32_t ticket) const noexcept {
    const std::uint32_t slot = ticket & (kConditionMaxWaiters - 1);
    return (segment_->cancelled[slot / 64].load(std::memory_order_relaxed) >> (slot % 64) & 1) != 0;
  }
  void set_cancelled(std::uint32_t ticket, bool value) noexcept {
    const std::uint32_t slot = ticket & (kConditionMaxWaiters - 1);
    const std::uint64_t mask = std::uint64_t{1} << (slot % 64);
    if (value) {
      segment_->cancelled[slot / 64].fetch_or(mask, std::memory_order_relaxed);
    } else {
      segment_->cancelled[slot / 64].fetch_and(~mask, std::memory_order_relaxed);
    }
  }

  // Under the lock: the waiter of `ticket` gave up. Cancelled tickets at
  // either end of [served, next) are dropped, so waits that time out
  // without any notify do not pile up.
  void cancel(std::uint32_t ticket) noexcept {
    auto& s = *segment_;
    std::uint32_t served = s.served.load(std::memory_order_relaxed);
    std::uint32_t next = s.next.load(std::memory_order_relaxed);
    if (ticket - served >= next - served || next - served > kConditionMaxWaiters) return;
    set_cancelled(ticket, true);
    while (next != served && is_cancelled(next - 1)) --next;
    while (served != next && is_cancelled(served)) ++served;
    s.next.store(next, std::memory_order_relaxed);
    s.served.store(served, std::memory_order_seq_cst);
  }

  // Under the lock: serves the next `n` live tickets, and any cancelled
  // ones in their way or right after them; wakes the waiters served.
  Result<void> serve(std::uint64_t n) noexcept {
    auto& s = *segment_;
    const std::uint32_t first = s.served.load(std::memory_order_relaxed);
    const std::uint32_t next = s.next.load(std::memory_order_relaxed);
    if (next - first > kConditionMaxWaiters) return corrupt_failure("condition tickets");
    std::uint32_t at = first;
    std::uint32_t wake_mask = 0;
    while (n > 0 && at != next) {
      if (!is_cancelled(at)) {
        wake_mask |= std::uint32_t{1} << (at & 31);
        --n;
      }
      ++at;
    }
    while (at != next && is_cancelled(at)) ++at;
    if (at == first) return ok();
    s.served.store(at, std::memory_order_seq_cst);
    if (wake_mask != 0) {
      s.notified.fetch_add(1, std::memory_order_seq_cst);
      futex_wake(s.notified, INT_MAX, wake_mask);
    }
    return ok();
  }

  Mapping mapping_;
  ConditionSegment* segment_;
  LockKind kind_;
  LockCore core_;
};

// ---------------------------------------------------------------------------
// Barrier

// The state word: count (arrived in this phase) in bits 0-31, broken in
// bit 32, the outcome of the previous phase (1: completed, 0: reset) in
// bit 33, the phase number in bits 34-63.
constexpr std::uint64_t kCountMask = 0xffffffffu;
constexpr std::uint64_t kBroken = std::uint64_t{1} << 32;
constexpr std::uint64_t kLastCompleted = std::uint64_t{1} << 33;
constexpr int kPhaseShift = 34;
constexpr std::uint32_t kPhaseMask = (std::uint32_t{1} << 30) - 1;
static_assert((kBarrierPhaseHistory & (kBarrierPhaseHistory - 1)) == 0 &&
              kBarrierPhaseHistory <= kPhaseMask);

std::uint32_t phase_of(std::uint64_t state) noexcept {
  return static_cast<std::uint32_t>(state >> kPhaseShift);
}
std::uint32_t count_of(std::uint64_t state) noexcept {
  return static_cast<std::uint32_t>(state & kCountMask);
}
bool broken_in(std::uint64_t state) noexcept { return (state & kBroken) != 0; }

struct BarrierSegment {
  Header header;
  alignas(64) std::atomic<std::uint64_t> state;
  std::atomic<std::uint32_t> changed;  // futex: bumped after every change waiters look for
  // Outcome of phase p (1: completed) at bit p % kBarrierPhaseHistory,
  // written before the compare-and-swap that ends phase p + 1.
  alignas(64) std::atomic<std::uint64_t> outcomes[kBarrierPhaseHistory / 64];
};
constexpr std::size_t kBarrierBytes = round_to_pages(sizeof(BarrierSegment));

std::string barrier_data(std::int64_t parties) {
  return "v=" + std::to_string(kVersion) + ";parties=" + std::to_string(parties);
}

Failure broken_barrier() { return fail(errc::broken, 0, "the barrier is broken"); }

class SharedBarrier final : public Barrier {
 public:
  SharedBarrier(Mapping mapping, std::uint32_t parties) noexcept
      : mapping_(std::move(mapping)),
        segment_(static_cast<BarrierSegment*>(mapping_.base())),
        parties_(parties) {}

  Result<std::int64_t> wait(Deadline deadline) override {
    auto& s = *segment_;
    std::uint64_t seen = s.state.load(std::memory_order_seq_cst);
    std::uint32_t index;
    for (;;) {
      if (broken_in(seen)) return broken_barrier();
      index = count_of(seen);
      if (index >= parties_) return corrupt_failure("barrier count above its parties");
      if (index + 1 == parties_) {
        // The last to arrive: the phase completes.
        if (end_phase(seen, true)) {
          if (index > 0) wake_all();
          return static_cast<std::int64_t>(index);
        }
        continue;
      }
      if (s.state.compare_exchange_weak(seen, seen + 1, std::memory_order_seq_cst,
                                        std::memory_order_seq_cst)) {
        break;
      }
    }
    const std::uint32_t phase = phase_of(seen);
    for (;;) {
      const std::uint32_t round = s.changed.load(std::memory_order_seq_cst);
      std::uint64_t now = s.state.load(std::memory_order_seq_cst);
      if (phase_of(now) != phase) {
        if (completed(phase, now)) return static_cast<std::int64_t>(index);
        return broken_barrier();
      }
      if (broken_in(now)) return broken_barrier();
      if (deadline.expired()) {
        // This wait's deadline passed: it breaks the phase for everyone.
        if (s.state.compare_exchange_strong(now, now | kBroken, std::memory_order_seq_cst,
                                            std::memory_order_seq_cst)) {
          wake_all();
          return fail(errc::broken, 0, "the barrier's wait timed out and broke it");
        }
        continue;
      }
      futex_wait(s.changed, round, slice_end(deadline));
    }
  }

  Result<void> reset() override {
    std::uint64_t seen = segment_->state.load(std::memory_order_seq_cst);
    for (;;) {
      if (count_of(seen) == 0 && !broken_in(seen)) return ok();  // already fresh
      if (end_phase(seen, false)) {
        wake_all();
        return ok();
      }
    }
  }

  Result<void> abort() override {
    std::uint64_t seen = segment_->state.load(std::memory_order_seq_cst);
    for (;;) {
      if (broken_in(seen)) return ok();
      if (segment_->state.compare_exchange_weak(seen, seen | kBroken, std::memory_order_seq_cst,
                                                std::memory_order_seq_cst)) {
        if (count_of(seen) > 0) wake_all();
        return ok();
      }
    }
  }

  Result<std::int64_t> n_waiting() override {
    const std::uint64_t state = segment_->state.load(std::memory_order_seq_cst);
    if (broken_in(state)) return std::int64_t{0};
    return static_cast<std::int64_t>(count_of(state));
  }

  Result<bool> broken() override {
    return broken_in(segment_->state.load(std::memory_order_seq_cst));
  }

  std::int64_t parties() const override { return parties_; }

  Result<HandleToken> export_handle() override {
    return HandleToken{
        std::string(token_kind(Type::barrier)), barrier_data(parties_), {mapping_.fd()}};
  }

 private:
  // Ends the phase of `seen` (completed, or reset) if the state is still
  // `seen`; on failure `seen` holds the new state. The outcome of the phase
  // before it moves from the word to the history first (idempotent: every
  // try writes the same bit).
  bool end_phase(std::uint64_t& seen, bool completed) noexcept {
    const std::uint32_t phase = phase_of(seen);
    record(phase - 1, (seen & kLastCompleted) != 0);
    const std::uint64_t next = static_cast<std::uint64_t>((phase + 1) & kPhaseMask) << kPhaseShift |
                               (completed ? kLastCompleted : 0);
    return segment_->state.compare_exchange_strong(seen, next, std::memory_order_seq_cst,
                                                   std::memory_order_seq_cst);
  }

  void record(std::uint32_t phase, bool completed) noexcept {
    const std::uint32_t slot = phase & (kBarrierPhaseHistory - 1);
    const std::uint64_t mask = std::uint64_t{1} << (slot % 64);
    if (completed) {
      segment_->outcomes[slot / 64].fetch_or(mask, std::memory_order_seq_cst);
    } else {
      segment_->outcomes[slot / 64].fetch_and(~mask, std::memory_order_seq_cst);
    }
  }

  // Whether `phase` completed, now that the state `now` is past it.
  bool completed(std::uint32_t phase, std::uint64_t now) const noexcept {
    const std::uint32_t distance = (phase_of(now) - phase) & kPhaseMask;
    if (distance == 1) return (now & kLastCompleted) != 0;
    if (distance > kBarrierPhaseHistory) return false;
    const std::uint32_t slot = phase & (kBarrierPhaseHistory - 1);
    const bool bit =
        (segment_->outcomes[slot / 64].load(std::memory_order_seq_cst) >> (slot % 64) & 1) != 0;
    // The bit is rewritten only when phase + kBarrierPhaseHistory + 1 ends.
    const std::uint32_t later =
        (phase_of(segment_->state.load(std::memory_order_seq_cst)) - phase) & kPhaseMask;
    return later <= kBarrierPhaseHistory && bit;
  }

  void wake_all() noexcept {
    segment_->changed.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(segment_->changed, INT_MAX);
  }

  Mapping mapping_;
  BarrierSegment* segment_;
  std::uint32_t parties_;
};

// The object for `mapping`, which it takes; when memory runs out the
// mapping is left to the caller (an imported descriptor stays open).
template <typename Base, typename T, typename... Args>
Result<std::unique_ptr<Base>> make_object(Mapping& mapping, bool imported, Args... args) {
  // A plain new, so that a program's replacement of operator new is
  // honoured. The mapping is moved into the constructor only once the
  // allocation succeeded.
  try {
    return std::unique_ptr<Base>(new T(std::move(mapping), args...));
  } catch (const std::bad_alloc&) {
    if (imported) mapping.disown_fd();
    return os_failure(ENOMEM, "allocating the primitive");
  }
}

}  // namespace

SyncCapabilities sync_capabilities() {
  SyncCapabilities caps;
  caps.lock = true;
  caps.rlock = true;
  caps.semaphore = true;
  caps.bounded_semaphore = true;
  caps.event = true;
  caps.condition = true;
  caps.barrier = true;
  caps.get_value = true;
  caps.max_semaphore_value = kMaxSemaphoreValue;
  caps.lock_owner_death = OwnerDeathEffect::reported_to_next;
  caps.rlock_owner_death = OwnerDeathEffect::reported_to_next;
  return caps;
}

Result<std::unique_ptr<Lock>> make_lock(LockKind kind) {
  if (!known(kind)) return fail(errc::invalid_argument, 0, "unknown lock kind");
  auto mapping = create_segment(Type::lock, static_cast<std::uint32_t>(kind), 0, kLockBytes);
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Lock, SharedLock>(*mapping, false, kind);
}

Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) {
  if (auto bad = check_envelope(token, Type::lock)) return *bad;
  const auto kind = lock_kind_named(field(token.data, "kind"));
  if (!kind || token.data != lock_data(*kind)) {
    return not_ours(Type::lock, "data \"" + token.data + "\"");
  }
  auto mapping = open_segment(
      token, {Type::lock, static_cast<std::uint32_t>(*kind), 0, kLockBytes, lock_data(*kind)});
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Lock, SharedLock>(*mapping, true, *kind);
}

Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) {
  if (options.kind != SemaphoreKind::semaphore &&
      options.kind != SemaphoreKind::bounded_semaphore) {
    return fail(errc::invalid_argument, 0, "unknown semaphore kind");
  }
  if (options.value < 0 || options.value > kMaxSemaphoreValue) {
    return fail(errc::invalid_argument, 0,
                "semaphore value " + std::to_string(options.value) + " is outside [0, " +
                    std::to_string(kMaxSemaphoreValue) + "]");
  }
  const std::int64_t bound =
      options.kind == SemaphoreKind::bounded_semaphore ? options.value : kMaxSemaphoreValue;
  auto mapping = create_segment(Type::semaphore, static_cast<std::uint32_t>(options.kind), bound,
                                kSemaphoreBytes);
  if (!mapping) return fail(std::move(mapping).error());
  static_cast<SemaphoreSegment*>(mapping->base())
      ->value.store(static_cast<std::uint32_t>(options.value), std::memory_order_seq_cst);
  return make_object<Semaphore, SharedSemaphore>(*mapping, false, options.kind,
                                                 static_cast<std::uint32_t>(bound));
}

Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) {
  if (auto bad = check_envelope(token, Type::semaphore)) return *bad;
  const auto kind = semaphore_kind_named(field(token.data, "kind"));
  std::int64_t bound = kMaxSemaphoreValue;
  if (kind == SemaphoreKind::bounded_semaphore &&
      (!parse_number(field(token.data, "bound"), bound) || bound < 0 ||
       bound > kMaxSemaphoreValue)) {
    return not_ours(Type::semaphore, "data \"" + token.data + "\"");
  }
  if (!kind || token.data != semaphore_data(*kind, bound)) {
    return not_ours(Type::semaphore, "data \"" + token.data + "\"");
  }
  auto mapping = open_segment(token, {Type::semaphore, static_cast<std::uint32_t>(*kind), bound,
                                      kSemaphoreBytes, semaphore_data(*kind, bound)});
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Semaphore, SharedSemaphore>(*mapping, true, *kind,
                                                 static_cast<std::uint32_t>(bound));
}

Result<std::unique_ptr<Event>> make_event() {
  auto mapping = create_segment(Type::event, 0, 0, kEventBytes);
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Event, SharedEvent>(*mapping, false);
}

Result<std::unique_ptr<Event>> import_event(const HandleToken& token) {
  if (auto bad = check_envelope(token, Type::event)) return *bad;
  if (token.data != plain_data()) return not_ours(Type::event, "data \"" + token.data + "\"");
  auto mapping = open_segment(token, {Type::event, 0, 0, kEventBytes, plain_data()});
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Event, SharedEvent>(*mapping, true);
}

Result<std::unique_ptr<Condition>> make_condition(const ConditionOptions& options) {
  if (!known(options.lock)) return fail(errc::invalid_argument, 0, "unknown lock kind");
  auto mapping =
      create_segment(Type::condition, static_cast<std::uint32_t>(options.lock), 0, kConditionBytes);
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Condition, SharedCondition>(*mapping, false, options.lock);
}

Result<std::unique_ptr<Condition>> import_condition(const HandleToken& token) {
  if (auto bad = check_envelope(token, Type::condition)) return *bad;
  const auto kind = lock_kind_named(field(token.data, "lock"));
  if (!kind || token.data != condition_data(*kind)) {
    return not_ours(Type::condition, "data \"" + token.data + "\"");
  }
  auto mapping = open_segment(token, {Type::condition, static_cast<std::uint32_t>(*kind), 0,
                                      kConditionBytes, condition_data(*kind)});
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Condition, SharedCondition>(*mapping, true, *kind);
}

Result<std::unique_ptr<Barrier>> make_barrier(const BarrierOptions& options) {
  if (options.parties < 1 || options.parties > kMaxBarrierParties) {
    return fail(errc::invalid_argument, 0,
                "barrier parties " + std::to_string(options.parties) + " is outside [1, " +
                    std::to_string(kMaxBarrierParties) + "]");
  }
  auto mapping = create_segment(Type::barrier, 0, options.parties, kBarrierBytes);
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Barrier, SharedBarrier>(*mapping, false,
                                             static_cast<std::uint32_t>(options.parties));
}

Result<std::unique_ptr<Barrier>> import_barrier(const HandleToken& token) {
  if (auto bad = check_envelope(token, Type::barrier)) return *bad;
  std::int64_t parties = 0;
  if (!parse_number(field(token.data, "parties"), parties) || parties < 1 ||
      parties > kMaxBarrierParties || token.data != barrier_data(parties)) {
    return not_ours(Type::barrier, "data \"" + token.data + "\"");
  }
  auto mapping =
      open_segment(token, {Type::barrier, 0, parties, kBarrierBytes, barrier_data(parties)});
  if (!mapping) return fail(std::move(mapping).error());
  return make_object<Barrier, SharedBarrier>(*mapping, true, static_cast<std::uint32_t>(parties));
}

}  // namespace ipcc::reference
