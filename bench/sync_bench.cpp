// bench/sync_bench.cpp: the reference Lock, RLock, Semaphore,
// BoundedSemaphore and Event next to process-shared pthread mutexes, sem_t,
// raw futex words and CPython's multiprocessing primitives, all in one run.
//
// What is measured
//   uncontended/<impl>
//     One process pinned to CPU 0, nobody else uses the object: one
//     iteration = one acquire + one release, so items_per_second = pairs/s
//     and Time = ns per pair.
//       ref_lock, ref_rlock               ipcc::reference::make_lock(lock|rlock),
//                                         acquire() (Deadline::never()) + release()
//       ref_semaphore, ref_bounded_semaphore  make_semaphore({kind, 1})
//       pthread_mutex                     pthread_mutex_t, PTHREAD_PROCESS_SHARED,
//                                         in a MAP_SHARED mapping; lock + unlock
//       pthread_mutex_robust              the same plus PTHREAD_MUTEX_ROBUST
//       sem_t                             sem_init(pshared=1, value 1) in the
//                                         mapping; sem_wait + sem_post
//       cpython_lock, cpython_rlock, cpython_semaphore,
//       cpython_bounded_semaphore         CPython multiprocessing.<kind>(),
//                                         pre-bound acquire() / release() in a
//                                         loop (the fastest a Python user gets)
//       cpython_lock_with                 `with lock: pass` (the idiomatic form)
//   handoff/<impl>/<placement>
//     Two processes (parent on CPU 0, child per placement), two objects X and
//     Y: the parent signals X and waits on Y, the child waits on X and
//     signals Y. One iteration = one round trip = two hand-offs; Time = mean
//     round trip. Counters: handoff_ns = mean round trip / 2; rtt_p50_us,
//     rtt_p99_us from one clock reading per round trip; parent_waits_per_rt,
//     child_waits_per_rt = voluntary context switches (blocking sleeps) per
//     round trip in the timed loop (child: from /proc, approximate);
//     parent_cpu = the parent's CPU time / wall time in the loop (1.0 = it
//     never slept: spinning).
//       ref_lock        two reference Locks used as binary semaphores (both
//                       acquired before the fork; signal = release, wait =
//                       acquire: any process may release a Lock)
//       ref_semaphore   two reference Semaphores of value 0 (release / acquire)
//       futex           two 32-bit futex words in a MAP_SHARED mapping (a
//                       binary semaphore each: 0 empty, 1 posted, 2 a waiter
//                       sleeps; post = exchange(1) + FUTEX_WAKE only if it was
//                       2; wait = CAS 1->0 or sleep in FUTEX_WAIT_BITSET)
//       sem_t           two sem_t (pshared=1, value 0): sem_post / sem_clockwait
//       cpython_lock, cpython_semaphore   two multiprocessing.Lock (acquired
//                       first) / Semaphore(0), the same protocol
//   lockpass/<impl>/<placement>
//     Lock passing between 2 processes with three locks, so that every
//     acquire waits for a lock the other process holds and releases next:
//     the contended acquire path of a real lock, which handoff/ref_lock
//     never takes (there the waiter waits on a Lock it acquired itself). In
//     round r the parent releases lock r%3 then acquires lock (r+2)%3; the
//     child acquires lock r%3 then releases lock (r+2)%3 (see LockPassPair:
//     the two strictly alternate). One iteration = one round trip = two
//     hand-offs; counters as for handoff.
//       ref_lock, ref_rlock          reference Lock / RLock, acquire(deadline)
//       pthread_mutex, pthread_mutex_robust   process-shared (robust) pthread
//                                    mutexes, pthread_mutex_clocklock / unlock
//   event/<impl>/<placement>
//     The handoff ping-pong with two Events: signal = set(); wait = wait() then
//     clear() (the waiter clears its own Event before it signals back, so a
//     set is never lost). Counters as for handoff.
//       ref_event       two reference Events
//       futex_event     two futex words (0 clear, 1 set, 2 clear with
//                       sleepers; set = exchange(1) + FUTEX_WAKE(all) only if
//                       it was 2; clear = CAS 1->0; wait = sleep while not 1)
//       cpython_event   two multiprocessing.Event
//   contended/<impl>/<placement>
//     Two worker processes (one on CPU 0, the other per placement) loop
//     acquire -> increment a counter in shared memory -> release, as fast as
//     they can; the coordinator (this process, CPU 0) sleeps 50 ms of warm-up
//     and the window (--benchmark_min_time), reading the workers' pair counts
//     before and after. items_per_second = pairs/s of both workers together;
//     smaller_share = the slower worker's share of the window's pairs (0.5 =
//     fair); waits_per_1k = voluntary context switches of both workers per
//     1000 pairs. At the end the counter must equal the pairs (mutual
//     exclusion). ref_lock (acquire(deadline) / release), pthread_mutex
//     (process-shared, pthread_mutex_clocklock / unlock), sem_t (value 1,
//     sem_clockwait / sem_post), cpython_lock (multiprocessing.Lock,
//     pre-bound acquire() / release(), count published every 64 pairs).
//   The CPython rows come from a script embedded in this program, run with
//   python3 (popen), pinned the same way (os.sched_setaffinity, forked
//   multiprocessing.Process children); it times a window as long as
//   --benchmark_min_time after a warm-up and reports it as manual time.
//
// Placement (compare only within one):
//   same   parent and child both on CPU 0
//   cross  parent on CPU 0, child on CPU 1
//
// Bounds: every wait of a two-process benchmark has a deadline (the run's:
// 10 s or 20 x the window, whichever is longer); the child is a
// bench_process.h Child (PR_SET_PDEATHSIG, reaped with a 5 s grace, then
// SIGKILL); each benchmark run arms alarm() as a watchdog (a hang kills this
// process, and the children die with it). The Python script arms
// PR_SET_PDEATHSIG and alarm(60) itself.
//
// Options (besides Google Benchmark's own --benchmark_* flags)
//   --placement=same|cross|both   which placements to register (default both)
//   --benchmark_min_time defaults to 0.2 (seconds) unless given.
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <new>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "bench_process.h"
#include "ipcc/reference/sync.h"
#include "ipcc/sync.h"

namespace {

using ipcc::bench::Child;
using ipcc::bench::CommandLine;
using ipcc::bench::count_open_fds;
using ipcc::bench::errno_text;
using ipcc::bench::kChildIoFailed;
using ipcc::bench::kChildOk;
using ipcc::bench::parse_command_line;
using ipcc::bench::Placement;
using ipcc::bench::ScopedPin;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Configuration

constexpr int kParentCpu = 0;
int child_cpu(Placement placement) { return placement == Placement::same ? 0 : 1; }
const char* placement_name(Placement placement) {
  return placement == Placement::same ? "same" : "cross";
}

constexpr auto kWarmUp = 20ms;              // two-process runs, before the timed loop
constexpr std::uint64_t kWarmUpRounds = 64;  // ... and at least this many round trips
constexpr auto kReapGrace = 5s;             // child exit deadline before SIGKILL
constexpr auto kStartDeadline = 5s;         // children running
constexpr std::size_t kMaxRttSamples = std::size_t{1} << 22;

double g_min_time_seconds = 0.2;  // --benchmark_min_time

// The deadline of every wait in one two-process run.
struct RunDeadline {
  ipcc::Deadline deadline = ipcc::Deadline::never();
  timespec monotonic{};  // the same instant as a CLOCK_MONOTONIC timespec
};
RunDeadline run_deadline() {
  const auto bound = std::max<Clock::duration>(
      10s, std::chrono::duration_cast<Clock::duration>(
               std::chrono::duration<double>(20 * g_min_time_seconds)));
  const auto when = Clock::now() + bound;  // libstdc++ steady_clock = CLOCK_MONOTONIC
  RunDeadline out;
  out.deadline = ipcc::Deadline::at(when);
  const auto since = when.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since);
  out.monotonic.tv_sec = static_cast<time_t>(seconds.count());
  out.monotonic.tv_nsec = static_cast<long>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(since - seconds).count());
  return out;
}

// A hang anywhere in one benchmark run ends this process (SIGALRM's default
// action); the children carry PR_SET_PDEATHSIG and die with it.
class Watchdog {
 public:
  Watchdog() {
    ::alarm(60 + static_cast<unsigned>(30 * g_min_time_seconds));
  }
  ~Watchdog() { ::alarm(0); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
};

// Voluntary context switches of another process (/proc/<pid>/status), or -1.
long voluntary_switches_of(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  std::FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return -1;
  char line[256];
  long value = -1;
  while (std::fgets(line, sizeof line, file) != nullptr) {
    if (std::strncmp(line, "voluntary_ctxt_switches:", 24) == 0) {
      value = std::strtol(line + 24, nullptr, 10);
      break;
    }
  }
  std::fclose(file);
  return value;
}

std::string describe(const ipcc::Error& error, const char* what) {
  return std::string(what) + ": " + std::string(ipcc::to_string(error.code)) +
         (error.detail.empty() ? "" : " (" + error.detail + ")");
}

// ---------------------------------------------------------------------------
// Shared memory: one object in an anonymous MAP_SHARED mapping, inherited by
// fork. Destroyed (and unmapped) by the parent only; a child leaves with
// _exit() and never runs destructors.

template <class T>
class Shared {
 public:
  Shared() {
    void* memory = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                          -1, 0);
    if (memory == MAP_FAILED) {
      error_ = errno_text("mmap", errno);
      return;
    }
    object_ = new (memory) T();
  }
  ~Shared() {
    if (object_ != nullptr) {
      object_->~T();
      ::munmap(object_, sizeof(T));
    }
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  T* get() const { return object_; }
  T* operator->() const { return object_; }
  const std::string& error() const { return error_; }

 private:
  T* object_ = nullptr;
  std::string error_;
};

// ---------------------------------------------------------------------------
// Raw futex words

using Word = std::atomic<std::uint32_t>;
static_assert(sizeof(Word) == sizeof(std::uint32_t) && Word::is_always_lock_free);

struct alignas(64) PaddedWord {
  Word value{0};
};

std::uint32_t* futex_address(Word& word) { return reinterpret_cast<std::uint32_t*>(&word); }

// Shared (not FUTEX_PRIVATE_FLAG): the words live in a MAP_SHARED mapping
// used by two processes.
void futex_wake(Word& word, int count) {
  ::syscall(SYS_futex, futex_address(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}
// Sleeps while the word holds `expected`, until woken or the absolute
// CLOCK_MONOTONIC `deadline`. False only when the deadline passed.
bool futex_wait(Word& word, std::uint32_t expected, const timespec& deadline) {
  const long done = ::syscall(SYS_futex, futex_address(word), FUTEX_WAIT_BITSET, expected,
                              &deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
  return done == 0 || errno != ETIMEDOUT;
}

enum class Wait { ok, timeout, failed };

// A binary semaphore on one word: 0 empty, 1 posted, 2 empty and the waiter
// sleeps (or is about to). One poster and one waiter per word.
void futex_post(Word& word) {
  if (word.exchange(1, std::memory_order_release) == 2) futex_wake(word, 1);
}
Wait futex_take(Word& word, const timespec& deadline) {
  for (;;) {
    std::uint32_t value = word.load(std::memory_order_acquire);
    if (value == 1) {
      if (word.compare_exchange_strong(value, 0, std::memory_order_acquire)) return Wait::ok;
      continue;
    }
    if (value == 0 && !word.compare_exchange_strong(value, 2, std::memory_order_relaxed)) continue;
    if (!futex_wait(word, 2, deadline) && word.load(std::memory_order_acquire) != 1) {
      return Wait::timeout;
    }
  }
}

// An event flag on one word: 0 clear, 1 set, 2 clear and someone sleeps.
void futex_event_set(Word& word) {
  if (word.exchange(1, std::memory_order_release) == 2) futex_wake(word, INT_MAX);
}
void futex_event_clear(Word& word) {
  std::uint32_t set = 1;
  word.compare_exchange_strong(set, 0, std::memory_order_relaxed);
}
Wait futex_event_wait(Word& word, const timespec& deadline) {
  for (;;) {
    std::uint32_t value = word.load(std::memory_order_acquire);
    if (value == 1) return Wait::ok;
    if (value == 0 && !word.compare_exchange_strong(value, 2, std::memory_order_relaxed)) continue;
    if (!futex_wait(word, 2, deadline) && word.load(std::memory_order_acquire) != 1) {
      return Wait::timeout;
    }
  }
}

// ---------------------------------------------------------------------------
// Signal pairs for the ping-pong: post(i) signals object i, wait(i) waits for
// it (and consumes the signal). Object 0 = parent -> child, 1 = child -> parent.
// Made before the fork; both processes use their inherited copy.

class FutexPair {
 public:
  std::string error() const { return words_.error(); }
  bool post(int which) {
    futex_post(words_->words[which].value);
    return true;
  }
  Wait wait(int which, const RunDeadline& deadline) {
    return futex_take(words_->words[which].value, deadline.monotonic);
  }

 private:
  struct Words {
    PaddedWord words[2];
  };
  Shared<Words> words_;
};

class FutexEventPair {
 public:
  std::string error() const { return words_.error(); }
  bool post(int which) {
    futex_event_set(words_->words[which].value);
    return true;
  }
  Wait wait(int which, const RunDeadline& deadline) {
    Word& word = words_->words[which].value;
    const Wait done = futex_event_wait(word, deadline.monotonic);
    if (done == Wait::ok) futex_event_clear(word);
    return done;
  }

 private:
  struct Words {
    PaddedWord words[2];
  };
  Shared<Words> words_;
};

class SemPair {
 public:
  SemPair() {
    if (sems_.get() == nullptr) return;
    for (auto& sem : sems_->sems) {
      if (::sem_init(&sem.sem, 1, 0) != 0) {
        error_ = errno_text("sem_init", errno);
        return;
      }
      ++initialised_;
    }
  }
  ~SemPair() {
    for (int i = 0; i < initialised_; ++i) ::sem_destroy(&sems_->sems[i].sem);
  }
  SemPair(const SemPair&) = delete;
  SemPair& operator=(const SemPair&) = delete;
  std::string error() const { return !sems_.error().empty() ? sems_.error() : error_; }
  bool post(int which) { return ::sem_post(&sems_->sems[which].sem) == 0; }
  Wait wait(int which, const RunDeadline& deadline) {
    for (;;) {
      if (::sem_clockwait(&sems_->sems[which].sem, CLOCK_MONOTONIC, &deadline.monotonic) == 0) {
        return Wait::ok;
      }
      if (errno == EINTR) continue;
      return errno == ETIMEDOUT ? Wait::timeout : Wait::failed;
    }
  }

 private:
  struct alignas(64) PaddedSem {
    sem_t sem;
  };
  struct Sems {
    PaddedSem sems[2];
  };
  Shared<Sems> sems_;
  std::string error_;
  int initialised_ = 0;
};

Wait from_code(ipcc::errc code) {
  return code == ipcc::errc::timeout ? Wait::timeout : Wait::failed;
}

// Two reference Locks as binary semaphores: both held from the start; post =
// release (any process may release a Lock), wait = acquire.
class RefLockPair {
 public:
  RefLockPair() {
    for (auto& lock : locks_) {
      auto made = ipcc::reference::make_lock(ipcc::LockKind::lock);
      if (!made) {
        error_ = describe(made.error(), "make_lock");
        return;
      }
      lock = std::move(*made);
      if (auto taken = lock->acquire(ipcc::Deadline::now()); !taken) {
        error_ = describe(taken.error(), "first acquire");
        return;
      }
    }
  }
  std::string error() const { return error_; }
  bool post(int which) { return static_cast<bool>(locks_[which]->release()); }
  Wait wait(int which, const RunDeadline& deadline) {
    const auto taken = locks_[which]->acquire(deadline.deadline);
    return taken ? Wait::ok : from_code(taken.code());
  }

 private:
  std::unique_ptr<ipcc::Lock> locks_[2];
  std::string error_;
};

class RefSemaphorePair {
 public:
  RefSemaphorePair() {
    for (auto& semaphore : semaphores_) {
      auto made = ipcc::reference::make_semaphore({ipcc::SemaphoreKind::semaphore, 0});
      if (!made) {
        error_ = describe(made.error(), "make_semaphore");
        return;
      }
      semaphore = std::move(*made);
    }
  }
  std::string error() const { return error_; }
  bool post(int which) { return static_cast<bool>(semaphores_[which]->release()); }
  Wait wait(int which, const RunDeadline& deadline) {
    const auto taken = semaphores_[which]->acquire(deadline.deadline);
    return taken ? Wait::ok : from_code(taken.code());
  }

 private:
  std::unique_ptr<ipcc::Semaphore> semaphores_[2];
  std::string error_;
};

class RefEventPair {
 public:
  RefEventPair() {
    for (auto& event : events_) {
      auto made = ipcc::reference::make_event();
      if (!made) {
        error_ = describe(made.error(), "make_event");
        return;
      }
      event = std::move(*made);
    }
  }
  std::string error() const { return error_; }
  bool post(int which) { return static_cast<bool>(events_[which]->set()); }
  Wait wait(int which, const RunDeadline& deadline) {
    const auto flag = events_[which]->wait(deadline.deadline);
    if (!flag) return Wait::failed;
    if (!*flag) return Wait::timeout;
    return events_[which]->clear() ? Wait::ok : Wait::failed;
  }

 private:
  std::unique_ptr<ipcc::Event> events_[2];
  std::string error_;
};

// Lock passing with three locks of type Mutex (lock(deadline) / unlock()),
// so that every acquire waits for a lock the other process holds: the
// contended path of a real lock (Lock, RLock, pthread mutex), which the
// signal pairs above never take (there a waiter waits on a Lock it acquired
// itself). In round r the parent releases lock r%3 and acquires lock
// (r+2)%3; the child acquires lock r%3 and releases lock (r+2)%3. The parent
// starts holding locks 0 and 1, the child lock 2 (child_start()). A process
// never acquires a lock it has just released, and each lock it waits for is
// held by the peer until the peer's release in the same round, so the two
// strictly alternate (with two locks, an unfair lock lets the releaser take
// its lock straight back). post(0)/wait(1) are the parent's, wait(0)/post(1)
// the child's; each process has its own copy of `round_` after the fork.
template <class Mutex>
class LockPassPair {
 public:
  template <class... Args>
  explicit LockPassPair(Args... args)
      : locks_{Mutex(args...), Mutex(args...), Mutex(args...)} {
    if (!error().empty()) return;
    const RunDeadline deadline = run_deadline();
    if (!locks_[0].lock(deadline) || !locks_[1].lock(deadline)) error_ = "first acquire failed";
  }
  std::string error() const {
    if (!error_.empty()) return error_;
    for (const Mutex& lock : locks_) {
      if (!lock.error().empty()) return lock.error();
    }
    return {};
  }
  bool child_start(const RunDeadline& deadline) { return locks_[2].lock(deadline); }
  bool post(int which) {
    if (which == 0) return locks_[round_ % 3].unlock();
    const bool done = locks_[(round_ + 2) % 3].unlock();
    ++round_;
    return done;
  }
  Wait wait(int which, const RunDeadline& deadline) {
    if (which == 0) return locks_[round_ % 3].lock(deadline) ? Wait::ok : Wait::failed;
    const bool done = locks_[(round_ + 2) % 3].lock(deadline);
    ++round_;
    return done ? Wait::ok : Wait::failed;
  }

 private:
  Mutex locks_[3];
  std::uint64_t round_ = 0;
  std::string error_;
};

template <class Pair>
concept HasChildStart = requires(Pair& pair, const RunDeadline& deadline) {
  { pair.child_start(deadline) } -> std::same_as<bool>;
};

// ---------------------------------------------------------------------------
// Two-process ping-pong

struct alignas(64) StopFlag {
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint32_t> ready{0};
};

double seconds_of(const timeval& time) {
  return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
}

template <class Pair>
void run_pingpong(benchmark::State& state, Placement placement, Pair& pair) {
  Watchdog watchdog;
  if (const std::string error = pair.error(); !error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  ScopedPin pin(kParentCpu);
  if (!pin.ok()) {
    state.SkipWithError("sched_setaffinity(CPU 0) failed");
    return;
  }
  Shared<StopFlag> flag;
  if (flag.get() == nullptr) {
    state.SkipWithError(flag.error().c_str());
    return;
  }
  StopFlag* control = flag.get();
  Child child = Child::spawn(child_cpu(placement), [&]() -> int {
    const RunDeadline deadline = run_deadline();
    if constexpr (HasChildStart<Pair>) {
      if (!pair.child_start(deadline)) return kChildIoFailed;
    }
    control->ready.store(1, std::memory_order_release);
    for (;;) {
      if (pair.wait(0, deadline) != Wait::ok) return kChildIoFailed;
      if (control->stop.load(std::memory_order_acquire) != 0) return kChildOk;
      if (!pair.post(1)) return kChildIoFailed;
    }
  });
  if (!child.started()) {
    state.SkipWithError(child.fork_error().c_str());
    return;
  }

  const auto ready_deadline = Clock::now() + kStartDeadline;
  while (control->ready.load(std::memory_order_acquire) == 0 && Clock::now() < ready_deadline) {
    std::this_thread::sleep_for(100us);
  }
  if (control->ready.load(std::memory_order_acquire) == 0) {
    state.SkipWithError("child did not start within 5 s");
    return;
  }
  const RunDeadline deadline = run_deadline();
  std::string error;
  std::uint64_t rounds = 0;
  auto round_trip = [&]() -> bool {
    if (!pair.post(0)) {
      error = "signal failed";
      return false;
    }
    switch (pair.wait(1, deadline)) {
      case Wait::ok: ++rounds; return true;
      case Wait::timeout: error = "no answer before the run's deadline"; return false;
      case Wait::failed: error = "wait failed"; return false;
    }
    return false;
  };

  bool ok = true;
  const auto warm_until = Clock::now() + kWarmUp;
  for (std::uint64_t n = 0; ok && (n < kWarmUpRounds || Clock::now() < warm_until); ++n) {
    ok = round_trip();
  }
  std::vector<std::uint32_t> samples_ns;
  samples_ns.reserve(
      std::min<std::size_t>(static_cast<std::size_t>(state.max_iterations), kMaxRttSamples));
  rusage usage_before{}, usage_after{};
  ::getrusage(RUSAGE_SELF, &usage_before);
  const long child_waits_before = voluntary_switches_of(child.pid());
  const std::uint64_t first_timed = rounds;
  const auto start = Clock::now();
  auto last = start;
  if (ok) {
    for (auto _ : state) {
      if (!round_trip()) {
        ok = false;
        break;
      }
      const auto now = Clock::now();
      if (samples_ns.size() < kMaxRttSamples) {
        samples_ns.push_back(
            static_cast<std::uint32_t>(std::min<std::int64_t>((now - last).count(), UINT32_MAX)));
      }
      last = now;
    }
  }
  const auto end = Clock::now();
  ::getrusage(RUSAGE_SELF, &usage_after);
  const long child_waits_after = voluntary_switches_of(child.pid());

  // Stop: raise the flag, then wake the child once more; it exits.
  control->stop.store(1, std::memory_order_release);
  if (ok) pair.post(0);
  const std::string child_error = child.reap(kReapGrace);
  if (!ok || !child_error.empty()) {
    const std::string message = error.empty()         ? child_error
                                : child_error.empty() ? error
                                                      : error + "; " + child_error;
    state.SkipWithError(message.c_str());
    return;
  }
  const std::uint64_t timed = rounds - first_timed;
  if (timed != static_cast<std::uint64_t>(state.iterations()) || timed == 0) {
    state.SkipWithError("round-trip count mismatch");
    return;
  }
  const double wall_s = std::chrono::duration<double>(end - start).count();
  const double per_rt = 1.0 / static_cast<double>(timed);
  state.SetItemsProcessed(state.iterations());
  state.counters["handoff_ns"] = wall_s * 1e9 * per_rt / 2;
  state.counters["parent_waits_per_rt"] =
      static_cast<double>(usage_after.ru_nvcsw - usage_before.ru_nvcsw) * per_rt;
  if (child_waits_before >= 0 && child_waits_after >= 0) {
    state.counters["child_waits_per_rt"] =
        static_cast<double>(child_waits_after - child_waits_before) * per_rt;
  }
  const double cpu_s = seconds_of(usage_after.ru_utime) - seconds_of(usage_before.ru_utime) +
                       seconds_of(usage_after.ru_stime) - seconds_of(usage_before.ru_stime);
  state.counters["parent_cpu"] = wall_s > 0 ? cpu_s / wall_s : 0;
  if (!samples_ns.empty()) {
    auto quantile_us = [&](double q) {
      auto at = samples_ns.begin() + static_cast<std::ptrdiff_t>(q * (samples_ns.size() - 1));
      std::nth_element(samples_ns.begin(), at, samples_ns.end());
      return *at / 1000.0;
    };
    state.counters["rtt_p50_us"] = quantile_us(0.50);
    state.counters["rtt_p99_us"] = quantile_us(0.99);
  }
}

// ---------------------------------------------------------------------------
// Contended: two worker processes loop acquire -> increment a shared counter
// -> release; the coordinator (this process, on CPU 0) sleeps through the
// warm-up and the window and counts the pairs in the window.

constexpr auto kContendedWarmUp = 50ms;

struct alignas(64) PaddedCount {
  std::atomic<std::uint64_t> value{0};
};
struct ContendedControl {
  PaddedCount stop;
  PaddedCount started;
  PaddedCount pairs[2];          // per worker, stored after every release
  PaddedCount protected_count;   // read and written only under the lock
};

class RefLockMutex {
 public:
  explicit RefLockMutex(ipcc::LockKind kind) {
    auto made = ipcc::reference::make_lock(kind);
    if (!made) {
      error_ = describe(made.error(), "make_lock");
      return;
    }
    lock_ = std::move(*made);
  }
  std::string error() const { return error_; }
  bool lock(const RunDeadline& deadline) {
    return static_cast<bool>(lock_->acquire(deadline.deadline));
  }
  bool unlock() { return static_cast<bool>(lock_->release()); }

 private:
  std::unique_ptr<ipcc::Lock> lock_;
  std::string error_;
};

class PthreadMutex {
 public:
  explicit PthreadMutex(bool robust = false) {
    if (shared_.get() == nullptr) return;
    pthread_mutexattr_t attributes;
    ::pthread_mutexattr_init(&attributes);
    ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    if (robust) ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    const int made = ::pthread_mutex_init(&shared_->mutex, &attributes);
    ::pthread_mutexattr_destroy(&attributes);
    if (made != 0) {
      error_ = errno_text("pthread_mutex_init", made);
    } else {
      initialised_ = true;
    }
  }
  ~PthreadMutex() {
    if (initialised_) ::pthread_mutex_destroy(&shared_->mutex);
  }
  PthreadMutex(const PthreadMutex&) = delete;
  PthreadMutex& operator=(const PthreadMutex&) = delete;
  std::string error() const { return !shared_.error().empty() ? shared_.error() : error_; }
  bool lock(const RunDeadline& deadline) {
    return ::pthread_mutex_clocklock(&shared_->mutex, CLOCK_MONOTONIC, &deadline.monotonic) == 0;
  }
  bool unlock() { return ::pthread_mutex_unlock(&shared_->mutex) == 0; }

 private:
  struct alignas(64) Padded {
    pthread_mutex_t mutex;
  };
  Shared<Padded> shared_;
  std::string error_;
  bool initialised_ = false;
};

class SemMutex {
 public:
  SemMutex() {
    if (shared_.get() == nullptr) return;
    if (::sem_init(&shared_->sem, 1, 1) != 0) {
      error_ = errno_text("sem_init", errno);
    } else {
      initialised_ = true;
    }
  }
  ~SemMutex() {
    if (initialised_) ::sem_destroy(&shared_->sem);
  }
  SemMutex(const SemMutex&) = delete;
  SemMutex& operator=(const SemMutex&) = delete;
  std::string error() const { return !shared_.error().empty() ? shared_.error() : error_; }
  bool lock(const RunDeadline& deadline) {
    for (;;) {
      if (::sem_clockwait(&shared_->sem, CLOCK_MONOTONIC, &deadline.monotonic) == 0) return true;
      if (errno != EINTR) return false;
    }
  }
  bool unlock() { return ::sem_post(&shared_->sem) == 0; }

 private:
  struct alignas(64) Padded {
    sem_t sem;
  };
  Shared<Padded> shared_;
  std::string error_;
  bool initialised_ = false;
};

template <class Mutex>
int contend(Mutex& mutex, ContendedControl& control, int index) {
  const RunDeadline deadline = run_deadline();
  control.started.value.fetch_add(1);
  std::uint64_t pairs = 0;
  while (control.stop.value.load(std::memory_order_relaxed) == 0) {
    if (!mutex.lock(deadline)) return kChildIoFailed;
    const std::uint64_t seen = control.protected_count.value.load(std::memory_order_relaxed);
    control.protected_count.value.store(seen + 1, std::memory_order_relaxed);
    if (!mutex.unlock()) return kChildIoFailed;
    control.pairs[index].value.store(++pairs, std::memory_order_relaxed);
  }
  return kChildOk;
}

template <class Mutex>
void run_contended(benchmark::State& state, Placement placement, Mutex& mutex) {
  Watchdog watchdog;
  if (const std::string error = mutex.error(); !error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  ScopedPin pin(kParentCpu);
  if (!pin.ok()) {
    state.SkipWithError("sched_setaffinity(CPU 0) failed");
    return;
  }
  std::uint64_t window_pairs = 0, smaller = 0;
  long waits = 0;
  double seconds = 0;
  std::string error;
  for (auto _ : state) {  // exactly one iteration: one window
    Shared<ContendedControl> shared;
    ContendedControl* control = shared.get();
    if (control == nullptr) {
      error = shared.error();
      break;
    }
    std::vector<Child> workers;
    for (int i = 0; i < 2; ++i) {
      workers.push_back(Child::spawn(i == 0 ? kParentCpu : child_cpu(placement),
                                     [&, i] { return contend(mutex, *control, i); }));
      if (!workers.back().started()) {
        error = workers.back().fork_error();
        break;
      }
    }
    const auto start_deadline = Clock::now() + kStartDeadline;
    while (error.empty() && control->started.value.load() < 2) {
      if (Clock::now() >= start_deadline) error = "workers did not start within 5 s";
      std::this_thread::sleep_for(1ms);
    }
    if (error.empty()) {
      std::this_thread::sleep_for(kContendedWarmUp);
      std::uint64_t before[2], after[2];
      long waits_before = 0, waits_after = 0;
      for (int i = 0; i < 2; ++i) {
        before[i] = control->pairs[i].value.load();
        waits_before += std::max(0L, voluntary_switches_of(workers[i].pid()));
      }
      const auto time_before = Clock::now();
      std::this_thread::sleep_for(std::chrono::duration<double>(g_min_time_seconds));
      for (int i = 0; i < 2; ++i) after[i] = control->pairs[i].value.load();
      const auto time_after = Clock::now();
      for (int i = 0; i < 2; ++i) {
        waits_after += std::max(0L, voluntary_switches_of(workers[i].pid()));
      }
      window_pairs = (after[0] - before[0]) + (after[1] - before[1]);
      smaller = std::min(after[0] - before[0], after[1] - before[1]);
      waits = waits_after - waits_before;
      seconds = std::chrono::duration<double>(time_after - time_before).count();
    }
    control->stop.value.store(1);
    for (Child& worker : workers) {
      const std::string worker_error = worker.reap(kReapGrace);
      if (error.empty()) error = worker_error;
    }
    if (error.empty()) {
      const std::uint64_t total = control->pairs[0].value.load() + control->pairs[1].value.load();
      if (control->protected_count.value.load() != total) {
        error = "mutual exclusion violated: " + std::to_string(total) + " pairs, counter " +
                std::to_string(control->protected_count.value.load());
      } else if (window_pairs == 0) {
        error = "no pair in the window";
      }
    }
    if (!error.empty()) break;
    state.SetIterationTime(seconds);
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(window_pairs));
  state.counters["smaller_share"] =
      static_cast<double>(smaller) / static_cast<double>(std::max<std::uint64_t>(window_pairs, 1));
  state.counters["waits_per_1k"] =
      1000.0 * static_cast<double>(waits) /
      static_cast<double>(std::max<std::uint64_t>(window_pairs, 1));
}

void bm_contended_ref_lock(benchmark::State& state, Placement placement) {
  RefLockMutex mutex(ipcc::LockKind::lock);
  run_contended(state, placement, mutex);
}
void bm_contended_pthread(benchmark::State& state, Placement placement) {
  PthreadMutex mutex;
  run_contended(state, placement, mutex);
}
void bm_contended_sem(benchmark::State& state, Placement placement) {
  SemMutex mutex;
  run_contended(state, placement, mutex);
}

// ---------------------------------------------------------------------------
// Uncontended acquire + release, one process

template <class Pair>
void run_uncontended(benchmark::State& state, Pair&& acquire_release) {
  Watchdog watchdog;
  ScopedPin pin(kParentCpu);
  if (!pin.ok()) {
    state.SkipWithError("sched_setaffinity(CPU 0) failed");
    return;
  }
  for (auto _ : state) {
    if (const std::string error = acquire_release(); !error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void bm_uncontended_ref_lock(benchmark::State& state, ipcc::LockKind kind) {
  auto made = ipcc::reference::make_lock(kind);
  if (!made) {
    state.SkipWithError(describe(made.error(), "make_lock").c_str());
    return;
  }
  ipcc::Lock& lock = **made;
  run_uncontended(state, [&]() -> std::string {
    if (auto taken = lock.acquire(); !taken) return describe(taken.error(), "acquire");
    if (auto done = lock.release(); !done) return describe(done.error(), "release");
    return {};
  });
}

void bm_uncontended_ref_semaphore(benchmark::State& state, ipcc::SemaphoreKind kind) {
  auto made = ipcc::reference::make_semaphore({kind, 1});
  if (!made) {
    state.SkipWithError(describe(made.error(), "make_semaphore").c_str());
    return;
  }
  ipcc::Semaphore& semaphore = **made;
  run_uncontended(state, [&]() -> std::string {
    if (auto taken = semaphore.acquire(); !taken) return describe(taken.error(), "acquire");
    if (auto done = semaphore.release(); !done) return describe(done.error(), "release");
    return {};
  });
}

struct alignas(64) SharedMutex {
  pthread_mutex_t mutex;
};

void bm_uncontended_pthread(benchmark::State& state, bool robust) {
  Shared<SharedMutex> shared;
  if (shared.get() == nullptr) {
    state.SkipWithError(shared.error().c_str());
    return;
  }
  pthread_mutexattr_t attributes;
  ::pthread_mutexattr_init(&attributes);
  ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  if (robust) ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  const int made = ::pthread_mutex_init(&shared->mutex, &attributes);
  ::pthread_mutexattr_destroy(&attributes);
  if (made != 0) {
    state.SkipWithError(errno_text("pthread_mutex_init", made).c_str());
    return;
  }
  pthread_mutex_t* mutex = &shared->mutex;
  run_uncontended(state, [&]() -> std::string {
    // Nobody else uses the mutex, so lock cannot block (the watchdog bounds it anyway).
    if (const int locked = ::pthread_mutex_lock(mutex); locked != 0) {
      return errno_text("pthread_mutex_lock", locked);
    }
    if (const int unlocked = ::pthread_mutex_unlock(mutex); unlocked != 0) {
      return errno_text("pthread_mutex_unlock", unlocked);
    }
    return {};
  });
  ::pthread_mutex_destroy(mutex);
}

struct alignas(64) SharedSem {
  sem_t sem;
};

void bm_uncontended_sem(benchmark::State& state) {
  Shared<SharedSem> shared;
  if (shared.get() == nullptr) {
    state.SkipWithError(shared.error().c_str());
    return;
  }
  if (::sem_init(&shared->sem, 1, 1) != 0) {
    state.SkipWithError(errno_text("sem_init", errno).c_str());
    return;
  }
  sem_t* sem = &shared->sem;
  run_uncontended(state, [&]() -> std::string {
    // The value is 1 and nobody else uses it, so sem_wait cannot block.
    if (::sem_wait(sem) != 0) return errno_text("sem_wait", errno);
    if (::sem_post(sem) != 0) return errno_text("sem_post", errno);
    return {};
  });
  ::sem_destroy(sem);
}

// ---------------------------------------------------------------------------
// CPython multiprocessing, by an embedded script.
//
//   argv: mode kind parent_cpu child_cpu window warm
//   mode uncontended: kind lock|lock_with|rlock|semaphore|bounded_semaphore;
//     one process, batches of 1000 pairs until the window has passed.
//   mode handoff: kind lock|semaphore|event; the parent signals X and waits
//     on Y, a forked Process (pinned to child_cpu) waits on X and signals Y;
//     every wait has a 5 s timeout; at the end the parent raises a stop flag
//     and signals X once more, joins the child (5 s) or kills it.
//   mode contended: kind lock; two forked Processes (parent_cpu, child_cpu)
//     loop acquire() -> counter.value += 1 -> release() (blocking acquire:
//     the coordinator kills a worker still running 5 s after the stop flag)
//     and publish their count every 64 pairs; the coordinator sleeps 50 ms,
//     then the window, and checks counter == pairs at the end.
// Prints "<count> <seconds> <a> <b> <c> <d> <status>": handoff: a, b = RTT
// p50, p99 in us, c, d = parent, child voluntary context switches; contended:
// a = the smaller worker's share, c = both workers' voluntary context
// switches. Status 0 = ok, 1 = a child failed or was killed, 2 = a wait timed
// out in the parent, 3 = counter mismatch (mutual exclusion violated). It
// dies with us (PR_SET_PDEATHSIG) and after 60 s (alarm).

constexpr const char* kPythonScript = R"PY(
import ctypes, functools, os, resource, signal, sys, time
import multiprocessing as mp
mode, kind = sys.argv[1], sys.argv[2]
parent_cpu, child_cpu = int(sys.argv[3]), int(sys.argv[4])
window, warm = float(sys.argv[5]), float(sys.argv[6])
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
signal.alarm(60)
os.sched_setaffinity(0, {parent_cpu})
ctx = mp.get_context("fork")
BATCH = 1000
TIMEOUT = 5.0
pc = time.perf_counter

def bound_pairs(a, r, seconds):
    rng = range(BATCH)
    n = 0
    t0 = pc()
    end = t0 + seconds
    while True:
        for _ in rng:
            a()
            r()
        n += BATCH
        t1 = pc()
        if t1 >= end:
            return n, t1 - t0

def with_pairs(lock, seconds):
    rng = range(BATCH)
    n = 0
    t0 = pc()
    end = t0 + seconds
    while True:
        for _ in rng:
            with lock:
                pass
        n += BATCH
        t1 = pc()
        if t1 >= end:
            return n, t1 - t0

def uncontended():
    make = {"lock": ctx.Lock, "lock_with": ctx.Lock, "rlock": ctx.RLock,
            "semaphore": ctx.Semaphore, "bounded_semaphore": ctx.BoundedSemaphore}[kind]
    obj = make()
    if kind == "lock_with":
        with_pairs(obj, warm)
        n, seconds = with_pairs(obj, window)
    else:
        bound_pairs(obj.acquire, obj.release, warm)
        n, seconds = bound_pairs(obj.acquire, obj.release, window)
    print(n, seconds, 0, 0, 0, 0, 0, flush=True)

def switches(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def handoff():
    if kind == "lock":
        x, y = ctx.Lock(), ctx.Lock()
        x.acquire()
        y.acquire()
    elif kind == "semaphore":
        x, y = ctx.Semaphore(0), ctx.Semaphore(0)
    if kind in ("lock", "semaphore"):
        post_x, post_y = x.release, y.release
        wait_x = functools.partial(x.acquire, True, TIMEOUT)
        wait_y = functools.partial(y.acquire, True, TIMEOUT)
    else:
        x, y = ctx.Event(), ctx.Event()
        post_x, post_y = x.set, y.set
        def wait_x():
            ok = x.wait(TIMEOUT)
            x.clear()
            return ok
        def wait_y():
            ok = y.wait(TIMEOUT)
            y.clear()
            return ok
    stop = ctx.RawValue("i", 0)

    def child_main():
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        os.sched_setaffinity(0, {child_cpu})
        while True:
            if not wait_x():
                sys.exit(3)
            if stop.value:
                return
            post_y()

    child = ctx.Process(target=child_main)
    child.start()
    status = 0
    end = pc() + warm
    while status == 0 and pc() < end:
        post_x()
        if not wait_y():
            status = 2
    samples = []
    app = samples.append
    w0 = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    c0 = switches(child.pid)
    t0 = last = pc()
    end = t0 + window
    while status == 0:
        post_x()
        if not wait_y():
            status = 2
            break
        now = pc()
        app(now - last)
        last = now
        if now >= end:
            break
    w1 = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    c1 = switches(child.pid)
    stop.value = 1
    post_x()
    child.join(5)
    if child.exitcode is None:
        child.kill()
        child.join()
        status = status or 1
    elif child.exitcode != 0:
        status = status or 1
    samples.sort()
    n = len(samples)
    p50 = samples[int(0.50 * (n - 1))] * 1e6 if n else 0
    p99 = samples[int(0.99 * (n - 1))] * 1e6 if n else 0
    print(n, last - t0, p50, p99, w1 - w0, c1 - c0, status, flush=True)

def contended():
    lock = ctx.Lock()
    counter = ctx.RawValue("q", 0)
    pairs = ctx.RawArray("q", 2)
    started = ctx.RawArray("i", 2)
    stop = ctx.RawValue("i", 0)

    def worker(i, cpu):
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        os.sched_setaffinity(0, {cpu})
        started[i] = 1
        a, r = lock.acquire, lock.release
        rng = range(64)
        n = 0
        while not stop.value:
            for _ in rng:
                a()
                counter.value += 1
                r()
            n += 64
            pairs[i] = n

    procs = [ctx.Process(target=worker, args=(0, parent_cpu)),
             ctx.Process(target=worker, args=(1, child_cpu))]
    for p in procs:
        p.start()
    deadline = pc() + 5
    while not all(started) and pc() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)
    b0, b1 = pairs[0], pairs[1]
    w0 = sum(switches(p.pid) for p in procs)
    t0 = pc()
    time.sleep(window)
    a0, a1 = pairs[0], pairs[1]
    t1 = pc()
    w1 = sum(switches(p.pid) for p in procs)
    stop.value = 1
    status = 0
    for p in procs:
        p.join(5)
        if p.exitcode is None:
            p.kill()
            p.join()
            status = 1
        elif p.exitcode != 0:
            status = 1
    if status == 0 and counter.value != pairs[0] + pairs[1]:
        status = 3
    n = (a0 - b0) + (a1 - b1)
    share = min(a0 - b0, a1 - b1) / n if n else 0
    print(n, t1 - t0, share, 0, w1 - w0, 0, status, flush=True)

{"uncontended": uncontended, "handoff": handoff, "contended": contended}[mode]()
)PY";

bool on_path(const char* program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string dirs = path;
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::string dir = end > begin ? dirs.substr(begin, end - begin) : ".";
    if (::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    begin = end + 1;
  }
  return false;
}

// mode "uncontended" (placement ignored) or "handoff".
void bm_cpython(benchmark::State& state, const char* mode, const char* kind,
                Placement placement) {
  Watchdog watchdog;
  if (!on_path("python3")) {
    state.SkipWithError("python3 not found");
    return;
  }
  ::setenv("IPCC_BENCH_SYNC_PY", kPythonScript, 1);
  char window_text[32], warm_text[32];
  std::snprintf(window_text, sizeof window_text, "%.3f", g_min_time_seconds);
  std::snprintf(warm_text, sizeof warm_text, "%.3f",
                std::chrono::duration<double>(kWarmUp).count());
  const std::string command =
      std::string("exec python3 -c 'import os; exec(os.environ[\"IPCC_BENCH_SYNC_PY\"])' ") +
      mode + " " + kind + " " + std::to_string(kParentCpu) + " " +
      std::to_string(child_cpu(placement)) + " " + window_text + " " + warm_text;
  unsigned long long count = 0;
  double seconds = 0, p50_us = 0, p99_us = 0;
  long parent_waits = 0, child_waits = 0;
  int script_status = -1;
  std::string error;
  for (auto _ : state) {  // one iteration = one script run; its window is the time
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      error = errno_text("popen", errno);
    } else {
      const int fields = std::fscanf(pipe, "%llu %lf %lf %lf %ld %ld %d", &count, &seconds,
                                     &p50_us, &p99_us, &parent_waits, &child_waits,
                                     &script_status);
      const int status = ::pclose(pipe);
      if (fields != 7 || status != 0) {
        error = "python script failed (exit status " + std::to_string(status) + ")";
      } else if (script_status != 0) {
        error = script_status == 1   ? "python child failed or was killed"
                : script_status == 2 ? "python: a wait timed out"
                                     : "python: mutual exclusion violated";
      } else if (count == 0 || !(seconds > 0)) {
        error = "python: nothing measured";
      }
    }
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(count));
  if (std::string(mode) == "contended") {
    state.counters["smaller_share"] = p50_us;
    state.counters["waits_per_1k"] =
        1000.0 * static_cast<double>(parent_waits) / static_cast<double>(count);
  }
  if (std::string(mode) == "handoff") {
    const double per_rt = 1.0 / static_cast<double>(count);
    state.counters["handoff_ns"] = seconds * 1e9 * per_rt / 2;
    state.counters["rtt_p50_us"] = p50_us;
    state.counters["rtt_p99_us"] = p99_us;
    state.counters["parent_waits_per_rt"] = static_cast<double>(parent_waits) * per_rt;
    state.counters["child_waits_per_rt"] = static_cast<double>(child_waits) * per_rt;
  }
}

// ---------------------------------------------------------------------------
// Registration and main

void bm_handoff_ref_lock(benchmark::State& state, Placement placement) {
  RefLockPair pair;
  run_pingpong(state, placement, pair);
}
void bm_handoff_ref_semaphore(benchmark::State& state, Placement placement) {
  RefSemaphorePair pair;
  run_pingpong(state, placement, pair);
}
void bm_handoff_futex(benchmark::State& state, Placement placement) {
  FutexPair pair;
  run_pingpong(state, placement, pair);
}
void bm_handoff_sem(benchmark::State& state, Placement placement) {
  SemPair pair;
  run_pingpong(state, placement, pair);
}
void bm_lockpass_ref(benchmark::State& state, Placement placement, ipcc::LockKind kind) {
  LockPassPair<RefLockMutex> pair(kind);
  run_pingpong(state, placement, pair);
}
void bm_lockpass_pthread(benchmark::State& state, Placement placement, bool robust) {
  LockPassPair<PthreadMutex> pair(robust);
  run_pingpong(state, placement, pair);
}
void bm_event_ref(benchmark::State& state, Placement placement) {
  RefEventPair pair;
  run_pingpong(state, placement, pair);
}
void bm_event_futex(benchmark::State& state, Placement placement) {
  FutexEventPair pair;
  run_pingpong(state, placement, pair);
}

void register_all(const std::vector<Placement>& placements) {
  // Uncontended: one process, no placement.
  auto uncontended = [](const char* impl, auto&& function, auto... args) {
    const std::string name = std::string("uncontended/") + impl;
    return benchmark::RegisterBenchmark(name.c_str(), function, args...);
  };
  uncontended("ref_lock", bm_uncontended_ref_lock, ipcc::LockKind::lock)->UseRealTime();
  uncontended("ref_rlock", bm_uncontended_ref_lock, ipcc::LockKind::rlock)->UseRealTime();
  uncontended("ref_semaphore", bm_uncontended_ref_semaphore, ipcc::SemaphoreKind::semaphore)
      ->UseRealTime();
  uncontended("ref_bounded_semaphore", bm_uncontended_ref_semaphore,
              ipcc::SemaphoreKind::bounded_semaphore)
      ->UseRealTime();
  uncontended("pthread_mutex", bm_uncontended_pthread, false)->UseRealTime();
  uncontended("pthread_mutex_robust", bm_uncontended_pthread, true)->UseRealTime();
  uncontended("sem_t", bm_uncontended_sem)->UseRealTime();
  const std::pair<const char*, const char*> kPythonUncontended[] = {
      {"cpython_lock", "lock"},
      {"cpython_lock_with", "lock_with"},
      {"cpython_rlock", "rlock"},
      {"cpython_semaphore", "semaphore"},
      {"cpython_bounded_semaphore", "bounded_semaphore"}};
  for (const auto& [impl, kind] : kPythonUncontended) {
    uncontended(impl, bm_cpython, "uncontended", kind, Placement::same)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }

  // Two processes, per placement; the rows compared in a ratio run back to back.
  using Function = void (*)(benchmark::State&, Placement);
  const std::pair<const char*, Function> kHandoff[] = {{"ref_lock", bm_handoff_ref_lock},
                                                      {"ref_semaphore", bm_handoff_ref_semaphore},
                                                      {"futex", bm_handoff_futex},
                                                      {"sem_t", bm_handoff_sem}};
  const std::pair<const char*, Function> kEvent[] = {{"ref_event", bm_event_ref},
                                                    {"futex_event", bm_event_futex}};
  for (Placement placement : placements) {
    const std::string where = placement_name(placement);
    for (const auto& [impl, function] : kHandoff) {
      const std::string name = std::string("handoff/") + impl + "/" + where;
      benchmark::RegisterBenchmark(name.c_str(), function, placement)->UseRealTime();
    }
    for (const char* kind : {"lock", "semaphore"}) {
      const std::string name = std::string("handoff/cpython_") + kind + "/" + where;
      benchmark::RegisterBenchmark(name.c_str(), bm_cpython, "handoff", kind, placement)
          ->UseManualTime()
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    }
    auto lockpass = [&](const char* impl, auto function, auto argument) {
      const std::string name = std::string("lockpass/") + impl + "/" + where;
      benchmark::RegisterBenchmark(name.c_str(), function, placement, argument)->UseRealTime();
    };
    lockpass("ref_lock", bm_lockpass_ref, ipcc::LockKind::lock);
    lockpass("ref_rlock", bm_lockpass_ref, ipcc::LockKind::rlock);
    lockpass("pthread_mutex", bm_lockpass_pthread, false);
    lockpass("pthread_mutex_robust", bm_lockpass_pthread, true);
    for (const auto& [impl, function] : kEvent) {
      const std::string name = std::string("event/") + impl + "/" + where;
      benchmark::RegisterBenchmark(name.c_str(), function, placement)->UseRealTime();
    }
    const std::string name = "event/cpython_event/" + where;
    benchmark::RegisterBenchmark(name.c_str(), bm_cpython, "handoff", "event", placement)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
    const std::pair<const char*, Function> kContended[] = {{"ref_lock", bm_contended_ref_lock},
                                                          {"pthread_mutex", bm_contended_pthread},
                                                          {"sem_t", bm_contended_sem}};
    for (const auto& [impl, function] : kContended) {
      const std::string contended = std::string("contended/") + impl + "/" + where;
      benchmark::RegisterBenchmark(contended.c_str(), function, placement)
          ->UseManualTime()
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
    }
    const std::string contended = "contended/cpython_lock/" + where;
    benchmark::RegisterBenchmark(contended.c_str(), bm_cpython, "contended", "lock", placement)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine command_line;
  if (!parse_command_line(argc, argv, command_line)) {
    std::fprintf(stderr, "--placement must be same, cross or both\n");
    return 2;
  }
  std::vector<char*>& args = command_line.args;
  int bench_argc = command_line.argc;
  g_min_time_seconds = command_line.min_time_seconds;
  const std::vector<Placement>& placements = command_line.placements;

  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2 &&
      std::find(placements.begin(), placements.end(), Placement::cross) != placements.end()) {
    std::fprintf(stderr, "note: fewer than 2 CPUs online; the cross placement will fail\n");
  }

  benchmark::Initialize(&bench_argc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 1;
  register_all(placements);
  benchmark::AddCustomContext("placement.same", "parent and child on CPU 0");
  benchmark::AddCustomContext("placement.cross", "parent CPU 0, child CPU 1");
  benchmark::AddCustomContext("window_s", std::to_string(g_min_time_seconds));

  const int fds_before = count_open_fds();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  // Hygiene checks: every child reaped, every descriptor closed.
  int status = 0;
  if (::waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD) {
    std::fprintf(stderr, "error: a child process was left unreaped\n");
    status = 1;
  }
  if (const int fds_after = count_open_fds(); fds_after != fds_before) {
    std::fprintf(stderr, "error: %d file descriptors leaked\n", fds_after - fds_before);
    status = 1;
  }
  return status;
}
