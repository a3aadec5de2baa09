// The reference Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition
// and Barrier below the contract's suite: every error path, timed waits
// (never early, never much late), sharing across fork and through exported
// handles, owner death (SIGKILL while others wait, _exit, a normal exit, a
// thread's end), exact bounds under concurrent processes, no lost wake-ups,
// notify(n) exactness, barrier generations, bad tokens and descriptor
// hygiene. Children are forked and coordinated with pipes, /proc and the
// primitives themselves, never with sleeps; every blocking call has a
// deadline and every child is reaped with one.
#include "ipcc/reference/sync.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ipcc/reference/pipe.h"
#include "support.h"

namespace ipcc::reference::testing {
namespace {

using Clock = Deadline::Clock;
using std::chrono::milliseconds;

// Fails a test that leaves a descriptor open (every primitive holds one).
class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = open_fds(); }
  void TearDown() override {
    EXPECT_EQ(open_fds(), fds_before_) << "the test leaked (or closed) a descriptor";
  }

 private:
  std::set<int> fds_before_;
};

template <typename T>
T must(Result<T> made, const char* what) {
  if (!made) throw std::runtime_error(std::string(what) + ": " + describe(made.error()));
  return std::move(*made);
}

std::unique_ptr<Lock> lock_of(LockKind kind) { return must(make_lock(kind), "make_lock"); }
std::unique_ptr<Semaphore> semaphore_of(std::int64_t value,
                                        SemaphoreKind kind = SemaphoreKind::semaphore) {
  return must(make_semaphore({kind, value}), "make_semaphore");
}
std::unique_ptr<Event> event() { return must(make_event(), "make_event"); }
std::unique_ptr<Condition> condition_of(LockKind kind) {
  return must(make_condition({kind}), "make_condition");
}
std::unique_ptr<Barrier> barrier_of(std::int64_t parties) {
  return must(make_barrier({parties}), "make_barrier");
}

Deadline soon() { return Deadline::after(10s); }
Deadline in(milliseconds delay) { return Deadline::after(delay); }

template <typename F>
milliseconds timed(F&& call) {
  const auto start = Clock::now();
  call();
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// Elapsed time of a call that must not end before `t`: at least t - 1 ms
// (rounding), at most t plus a loose scheduling allowance.
void expect_took(milliseconds elapsed, milliseconds t) {
  EXPECT_GE(elapsed, t - 1ms);
  EXPECT_LT(elapsed, t + 1500ms);
}

// ---------------------------------------------------------------------------
// Children

// Forks a child that runs `body` and _exits with its result (99 if it threw).
pid_t fork_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

// Waits up to `limit` for `pid` to end (SIGKILL after that); its wait status.
int reap(pid_t pid, milliseconds limit = 10s) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd entry{pidfd, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(limit.count())) <= 0) ::kill(pid, SIGKILL);
    ::close(pidfd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

// Kills and reaps, at scope exit, the children a failed assertion left behind.
class Children {
 public:
  ~Children() {
    for (pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      reap(pid, 5s);
    }
  }
  pid_t add(const std::function<int()>& body) {
    pids_.push_back(fork_child(body));
    return pids_.back();
  }
  // The child's exit code (its signal + 1000), reaped within `limit`.
  int finish(pid_t pid, milliseconds limit = 10s) {
    pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
    return exit_code(reap(pid, limit));
  }

 private:
  std::vector<pid_t> pids_;
};

// The scheduler state letter of `pid` (S = asleep in the kernel).
char process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const auto paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() ? 0 : line[paren + 2];
}

bool asleep_soon(pid_t pid) {
  return spin_until([pid] { return process_state(pid) == 'S'; });
}

// A one-way channel of single bytes between processes: a pipe.
class Doorbell {
 public:
  Doorbell() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
  }
  ~Doorbell() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  void ring(char byte = 1) const {
    while (::write(fds_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  // The next byte, or 0 when none came within `limit`.
  char next(milliseconds limit = 10s) const {
    pollfd entry{fds_[0], POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(limit.count())) <= 0) return 0;
    char byte = 0;
    return ::read(fds_[0], &byte, 1) == 1 ? byte : 0;
  }
  bool await(milliseconds limit = 10s) const { return next(limit) != 0; }
  // Blocks (up to 10 s) until the write end is closed in every process.
  void wait_closed() const {
    pollfd entry{fds_[0], POLLIN, 0};
    char byte;
    while (::poll(&entry, 1, 10000) > 0 && ::read(fds_[0], &byte, 1) > 0) {
    }
  }
  void close_write() {
    ::close(fds_[1]);
    fds_[1] = ::open("/dev/null", O_WRONLY | O_CLOEXEC);  // keeps the count of descriptors
  }

 private:
  int fds_[2];
};

// Memory shared with forked children.
template <typename T>
class SharedMemory {
 public:
  SharedMemory() {
    void* at =
        ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (at == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    value_ = new (at) T{};
  }
  ~SharedMemory() { ::munmap(value_, sizeof(T)); }
  T* operator->() { return value_; }
  T& operator*() { return *value_; }

 private:
  T* value_;
};

std::string lock_kind_name(const ::testing::TestParamInfo<LockKind>& info) {
  return info.param == LockKind::lock ? "Lock" : "RLock";
}

// ---------------------------------------------------------------------------
// Lock and RLock

class BothLocks : public SyncTest, public ::testing::WithParamInterface<LockKind> {};

TEST_P(BothLocks, ANewLockIsUnlockedAndReportsNoDeath) {
  auto lock = lock_of(GetParam());
  EXPECT_EQ(lock->kind(), GetParam());
  auto got = lock->acquire(Deadline::now());
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->previous_owner_died);
  EXPECT_TRUE(lock->release());
}

TEST_P(BothLocks, TimedAcquireWhileAnotherProcessHoldsItEndsNoEarlierThanItsDeadline) {
  auto lock = lock_of(GetParam());
  Doorbell held, done;
  Children kids;
  const pid_t child = kids.add([&] {
    if (!lock->acquire(Deadline::now())) return 1;
    held.ring();
    done.await();
    return lock->release() ? 0 : 2;
  });
  ASSERT_TRUE(held.await());
  Result<Acquired> got = Acquired{};
  expect_took(timed([&] { got = lock->acquire(in(100ms)); }), 100ms);
  EXPECT_EQ(got.code(), errc::timeout);
  EXPECT_LT(timed([&] { got = lock->acquire(Deadline::now()); }), 50ms);
  EXPECT_EQ(got.code(), errc::timeout);
  EXPECT_LT(timed([&] { got = lock->acquire(Deadline::after(-5s)); }), 50ms);
  EXPECT_EQ(got.code(), errc::timeout);
  done.ring();
  EXPECT_EQ(kids.finish(child), 0);
  got = lock->acquire(Deadline::now());
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->previous_owner_died);
}

TEST_P(BothLocks, BlockedAcquireReturnsSoonAfterAnotherProcessReleases) {
  auto lock = lock_of(GetParam());
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  Doorbell result;
  Children kids;
  const pid_t child = kids.add([&] {
    auto got = lock->acquire(soon());
    result.ring(got ? (got->previous_owner_died ? 'D' : 'A') : 'T');
    return got && lock->release() ? 0 : 1;
  });
  ASSERT_TRUE(asleep_soon(child));
  EXPECT_EQ(result.next(0ms), 0) << "acquired while held";
  ASSERT_TRUE(lock->release());
  const auto elapsed = timed([&] { EXPECT_EQ(result.next(), 'A'); });
  EXPECT_LT(elapsed, 500ms);
  EXPECT_EQ(kids.finish(child), 0);
}

TEST_P(BothLocks, ExportedHandleImportsHereAndInAForkedChild) {
  auto lock = lock_of(GetParam());
  auto token = lock->export_handle();
  ASSERT_TRUE(token);
  EXPECT_EQ(token->kind, "ipcc.reference.lock/1");
  EXPECT_EQ(token->fds.size(), 1u);
  HandleToken copy = *token;
  copy.fds = {::dup(token->fds[0])};
  auto imported = import_lock(copy);
  ASSERT_TRUE(imported) << describe(imported.error());
  EXPECT_EQ((*imported)->kind(), GetParam());
  EXPECT_NE(::fcntl(copy.fds[0], F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_TRUE((*imported)->acquire(Deadline::now()));
  errc other_thread = errc::ok;
  std::thread([&] { other_thread = lock->acquire(Deadline::now()).code(); }).join();
  EXPECT_EQ(other_thread, errc::timeout) << "not the same lock";
  ASSERT_TRUE((*imported)->release());
  // A child that drops its inherited copy and imports a duplicate descriptor.
  Children kids;
  const int dup_fd = ::dup(token->fds[0]);
  const pid_t child = kids.add([&] {
    lock.reset();
    imported->reset();
    auto again = import_lock(HandleToken{token->kind, token->data, {dup_fd}});
    if (!again) return 1;
    if (!(*again)->acquire(Deadline::now())) return 2;
    return 0;  // ends holding it
  });
  EXPECT_EQ(kids.finish(child), 0);
  ::close(dup_fd);
  auto got = lock->acquire(soon());
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->previous_owner_died);
}

// N processes x M unprotected read-modify-writes of a shared counter.
TEST_P(BothLocks, KeepsAPlainSharedCounterExactAcrossFourProcesses) {
  constexpr int kProcesses = 4, kRounds = 3000;
  auto lock = lock_of(GetParam());
  SharedMemory<std::uint64_t> counter;
  Children kids;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; ++p) {
    pids.push_back(kids.add([&] {
      for (int i = 0; i < kRounds; ++i) {
        if (!lock->acquire(soon())) return 1;
        volatile std::uint64_t* value = &*counter;
        const std::uint64_t seen = *value;
        *value = seen + 1;
        if (!lock->release()) return 2;
      }
      return 0;
    }));
  }
  for (pid_t pid : pids) EXPECT_EQ(kids.finish(pid), 0);
  EXPECT_EQ(*counter, std::uint64_t{kProcesses} * kRounds);
}

// Owner death: the holder ends in every way, the next acquirer is told.
enum class Ending { sigkill, underscore_exit, normal_exit };

int hold_and_end(Lock& lock, Ending ending, const Doorbell& held) {
  if (!lock.acquire(Deadline::now())) return 1;
  held.ring();
  switch (ending) {
    case Ending::sigkill:
      for (;;) ::pause();
    case Ending::underscore_exit:
      ::_exit(0);
    case Ending::normal_exit:
      std::exit(0);  // runs atexit handlers and static destructors
  }
  return 0;
}

TEST_P(BothLocks, HolderKilledWhileTwoProcessesWaitLetsExactlyOneInAndTellsIt) {
  auto lock = lock_of(GetParam());
  Doorbell held, results;
  Children kids;
  const pid_t holder = kids.add([&] { return hold_and_end(*lock, Ending::sigkill, held); });
  ASSERT_TRUE(held.await());
  std::vector<pid_t> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.push_back(kids.add([&] {
      auto got = lock->acquire(soon());  // no deadline would do as well
      results.ring(got ? (got->previous_owner_died ? 'D' : 'A') : 'T');
      return got && lock->release() ? 0 : 1;
    }));
  }
  for (pid_t waiter : waiters) ASSERT_TRUE(asleep_soon(waiter));
  const auto start = Clock::now();
  ::kill(holder, SIGKILL);
  std::string outcomes{results.next(), results.next()};
  const auto elapsed = Clock::now() - start;
  std::sort(outcomes.begin(), outcomes.end());
  EXPECT_EQ(outcomes, "AD") << "exactly one waiter is told, the other acquires after it";
  EXPECT_LT(elapsed, 2s);
  for (pid_t waiter : waiters) EXPECT_EQ(kids.finish(waiter), 0);
  EXPECT_EQ(kids.finish(holder), 1000 + SIGKILL);
  auto got = lock->acquire(Deadline::now());
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->previous_owner_died);
}

TEST_P(BothLocks, HolderThatExitsWithoutReleaseIsReportedToTheNextAcquirer) {
  for (Ending ending : {Ending::underscore_exit, Ending::normal_exit}) {
    auto lock = lock_of(GetParam());
    Doorbell held;
    Children kids;
    const pid_t holder = kids.add([&] { return hold_and_end(*lock, ending, held); });
    ASSERT_TRUE(held.await());
    // Not reaped yet: a zombie still counts as dead.
    ASSERT_TRUE(spin_until([&] { return process_state(holder) == 'Z'; }));
    auto got = lock->acquire(soon());
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->previous_owner_died);
    EXPECT_EQ(kids.finish(holder), 0);
    ASSERT_TRUE(lock->release());
    got = lock->acquire(Deadline::now());
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->previous_owner_died) << "told twice";
  }
}

TEST_P(BothLocks, DeadHolderIsTakenOverEvenByATryOnceAcquire) {
  auto lock = lock_of(GetParam());
  Doorbell held;
  Children kids;
  const pid_t holder = kids.add([&] { return hold_and_end(*lock, Ending::underscore_exit, held); });
  ASSERT_TRUE(held.await());
  EXPECT_EQ(kids.finish(holder), 0);  // reaped: its /proc entry is gone
  auto got = lock->acquire(Deadline::now());
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->previous_owner_died);
}

TEST_P(BothLocks, AThreadThatEndsHoldingItIsADeadOwner) {
  auto lock = lock_of(GetParam());
  bool acquired = false;
  std::thread([&] { acquired = static_cast<bool>(lock->acquire(Deadline::now())); }).join();
  ASSERT_TRUE(acquired);
  auto got = lock->acquire(soon());
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->previous_owner_died);
  if (GetParam() == LockKind::rlock) {
    // The count restarted at 1 for the new owner.
    EXPECT_TRUE(lock->release());
    EXPECT_EQ(lock->release().code(), errc::not_owner);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, BothLocks, ::testing::Values(LockKind::lock, LockKind::rlock),
                         lock_kind_name);

TEST_F(SyncTest, LockIsNotRecursive) {
  auto lock = lock_of(LockKind::lock);
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  EXPECT_EQ(lock->acquire(Deadline::now()).code(), errc::timeout);
  Result<Acquired> got = Acquired{};
  expect_took(timed([&] { got = lock->acquire(in(50ms)); }), 50ms);
  EXPECT_EQ(got.code(), errc::timeout);
  EXPECT_TRUE(lock->release());
}

TEST_F(SyncTest, ReleasingAnUnlockedLockIsTooManyAndChangesNothing) {
  auto lock = lock_of(LockKind::lock);
  EXPECT_EQ(lock->release().code(), errc::released_too_many_times);
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  EXPECT_TRUE(lock->release());
  EXPECT_EQ(lock->release().code(), errc::released_too_many_times);
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  EXPECT_EQ(lock->acquire(Deadline::now()).code(), errc::timeout);
}

TEST_F(SyncTest, AnyProcessOrThreadMayReleaseALock) {
  auto lock = lock_of(LockKind::lock);
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  Children kids;
  const pid_t child = kids.add([&] { return lock->release() ? 0 : 1; });
  EXPECT_EQ(kids.finish(child), 0);
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  bool released = false;
  std::thread([&] { released = static_cast<bool>(lock->release()); }).join();
  EXPECT_TRUE(released);
  auto got = lock->acquire(Deadline::now());
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->previous_owner_died);
}

TEST_F(SyncTest, RLockIsRecursiveAndHeldUntilTheLastRelease) {
  auto lock = lock_of(LockKind::rlock);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(lock->acquire(Deadline::now()));
  auto other_can_take = [&] {
    bool took = false;
    std::thread([&] {
      took = static_cast<bool>(lock->acquire(Deadline::now()));
      if (took) (void)lock->release();
    }).join();
    return took;
  };
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(lock->release());
    EXPECT_FALSE(other_can_take()) << "free after " << i + 1 << " of 3 releases";
  }
  ASSERT_TRUE(lock->release());
  EXPECT_TRUE(other_can_take());
  EXPECT_EQ(lock->release().code(), errc::not_owner);
}

TEST_F(SyncTest, OnlyTheRLockOwnerThreadReleasesIt) {
  auto lock = lock_of(LockKind::rlock);
  EXPECT_EQ(lock->release().code(), errc::not_owner) << "unowned";
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  errc code = errc::ok;
  std::thread([&] { code = lock->release().code(); }).join();
  EXPECT_EQ(code, errc::not_owner);
  Children kids;
  const pid_t child = kids.add([&] { return lock->release().code() == errc::not_owner ? 0 : 1; });
  EXPECT_EQ(kids.finish(child), 0);
  EXPECT_TRUE(lock->release()) << "still held, once";
  EXPECT_EQ(lock->release().code(), errc::not_owner);
}

TEST_F(SyncTest, AForkedChildOfTheRLockOwnerIsNotTheOwner) {
  auto lock = lock_of(LockKind::rlock);
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  ASSERT_TRUE(lock->acquire(Deadline::now()));
  Children kids;
  const pid_t child = kids.add([&] {
    if (lock->release().code() != errc::not_owner) return 1;
    const auto start = Clock::now();
    if (lock->acquire(in(50ms)).code() != errc::timeout) return 2;
    if (Clock::now() - start < 49ms) return 3;
    return 0;
  });
  EXPECT_EQ(kids.finish(child), 0);
  EXPECT_TRUE(lock->release());
  EXPECT_TRUE(lock->release());
  EXPECT_EQ(lock->release().code(), errc::not_owner);
}

TEST_F(SyncTest, UnknownLockKindIsRefused) {
  EXPECT_EQ(make_lock(static_cast<LockKind>(7)).code(), errc::invalid_argument);
  EXPECT_EQ(make_condition({static_cast<LockKind>(7)}).code(), errc::invalid_argument);
}

// ---------------------------------------------------------------------------
// Semaphore and BoundedSemaphore

TEST_F(SyncTest, SemaphoreStartsAtItsValueAndMayGoAboveIt) {
  auto sem = semaphore_of(3);
  EXPECT_EQ(sem->kind(), SemaphoreKind::semaphore);
  EXPECT_EQ(*sem->get_value(), 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sem->acquire(Deadline::now()));
  EXPECT_EQ(sem->acquire(Deadline::now()).code(), errc::timeout);
  EXPECT_EQ(*sem->get_value(), 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sem->release());
  EXPECT_EQ(*sem->get_value(), 5);
}

TEST_F(SyncTest, SemaphoreValuesOutsideTheRangeAreRefused) {
  for (auto kind : {SemaphoreKind::semaphore, SemaphoreKind::bounded_semaphore}) {
    EXPECT_EQ(make_semaphore({kind, -1}).code(), errc::invalid_argument);
    EXPECT_EQ(make_semaphore({kind, kMaxSemaphoreValue + 1}).code(), errc::invalid_argument);
    EXPECT_EQ(make_semaphore({kind, INT64_MIN}).code(), errc::invalid_argument);
    EXPECT_TRUE(make_semaphore({kind, 0}));
    EXPECT_TRUE(make_semaphore({kind, kMaxSemaphoreValue}));
  }
  EXPECT_EQ(make_semaphore({static_cast<SemaphoreKind>(9), 1}).code(), errc::invalid_argument);
}

TEST_F(SyncTest, ReleaseAtTheMaximumValueIsTooMany) {
  auto sem = semaphore_of(kMaxSemaphoreValue);
  EXPECT_EQ(sem->release().code(), errc::released_too_many_times);
  EXPECT_EQ(*sem->get_value(), kMaxSemaphoreValue);
  ASSERT_TRUE(sem->acquire(Deadline::now()));
  EXPECT_TRUE(sem->release());
  EXPECT_EQ(sem->release().code(), errc::released_too_many_times);
}

TEST_F(SyncTest, BoundedSemaphoreRefusesReleaseAtItsBound) {
  auto sem = semaphore_of(2, SemaphoreKind::bounded_semaphore);
  EXPECT_EQ(sem->kind(), SemaphoreKind::bounded_semaphore);
  EXPECT_EQ(sem->release().code(), errc::released_too_many_times);
  EXPECT_EQ(*sem->get_value(), 2);
  ASSERT_TRUE(sem->acquire(Deadline::now()));
  EXPECT_TRUE(sem->release());
  EXPECT_EQ(sem->release().code(), errc::released_too_many_times);
  EXPECT_EQ(*sem->get_value(), 2);

  auto zero = semaphore_of(0, SemaphoreKind::bounded_semaphore);
  EXPECT_EQ(zero->release().code(), errc::released_too_many_times);
  EXPECT_EQ(zero->acquire(Deadline::now()).code(), errc::timeout);
}

TEST_F(SyncTest, TimedAcquireAtZeroEndsNoEarlierThanItsDeadline) {
  auto sem = semaphore_of(0);
  Result<void> got;
  expect_took(timed([&] { got = sem->acquire(in(100ms)); }), 100ms);
  EXPECT_EQ(got.code(), errc::timeout);
  EXPECT_LT(timed([&] { got = sem->acquire(Deadline::now()); }), 50ms);
  EXPECT_EQ(got.code(), errc::timeout);
}

TEST_F(SyncTest, BlockedAcquireReturnsAfterAReleaseInAnotherProcessThatNeverAcquired) {
  auto sem = semaphore_of(0);
  Children kids;
  Doorbell result;
  const pid_t child = kids.add([&] {
    const bool got = static_cast<bool>(sem->acquire(soon()));
    result.ring(got ? 'A' : 'T');
    return got ? 0 : 1;
  });
  ASSERT_TRUE(asleep_soon(child));
  ASSERT_TRUE(sem->release());
  EXPECT_LT(timed([&] { EXPECT_EQ(result.next(), 'A'); }), 500ms);
  EXPECT_EQ(kids.finish(child), 0);
  EXPECT_EQ(*sem->get_value(), 0);
}

TEST_F(SyncTest, GetValueTracksOtherProcesses) {
  auto sem = semaphore_of(5);
  Children kids;
  const pid_t child = kids.add(
      [&] { return sem->acquire(Deadline::now()) && sem->acquire(Deadline::now()) ? 0 : 1; });
  EXPECT_EQ(kids.finish(child), 0);
  EXPECT_EQ(*sem->get_value(), 3);
}

TEST_F(SyncTest, NoMoreHoldersThanTheValueUnderFourProcesses) {
  constexpr int kProcesses = 4, kRounds = 2000, kValue = 2;
  for (auto kind : {SemaphoreKind::semaphore, SemaphoreKind::bounded_semaphore}) {
    auto sem = semaphore_of(kValue, kind);
    struct Shared {
      std::atomic<int> inside;
      std::atomic<int> most;
    };
    SharedMemory<Shared> shared;
    Children kids;
    std::vector<pid_t> pids;
    for (int p = 0; p < kProcesses; ++p) {
      pids.push_back(kids.add([&] {
        for (int i = 0; i < kRounds; ++i) {
          if (!sem->acquire(soon())) return 1;
          const int now = shared->inside.fetch_add(1) + 1;
          int most = shared->most.load();
          while (now > most && !shared->most.compare_exchange_weak(most, now)) {
          }
          shared->inside.fetch_sub(1);
          if (!sem->release()) return 2;
        }
        return 0;
      }));
    }
    for (pid_t pid : pids) EXPECT_EQ(kids.finish(pid), 0);
    EXPECT_LE(shared->most.load(), kValue);
    EXPECT_EQ(*sem->get_value(), kValue);
  }
}

TEST_F(SyncTest, ConcurrentBoundedReleasesNeverExceedTheBound) {
  constexpr int kProcesses = 4, kBound = 4, kRounds = 20;
  auto sem = semaphore_of(kBound, SemaphoreKind::bounded_semaphore);
  auto gate = barrier_of(kProcesses + 1);
  SharedMemory<std::atomic<int>> successes;
  Children kids;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; ++p) {
    pids.push_back(kids.add([&] {
      for (int round = 0; round < kRounds; ++round) {
        if (!gate->wait(soon())) return 1;  // the parent emptied it
        for (int i = 0; i < kBound; ++i) {
          if (sem->release()) successes->fetch_add(1);
        }
        if (!gate->wait(soon())) return 2;  // every release is done
      }
      return 0;
    }));
  }
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kBound; ++i) ASSERT_TRUE(sem->acquire(Deadline::now()));
    successes->store(0);
    ASSERT_TRUE(gate->wait(soon()));
    ASSERT_TRUE(gate->wait(soon()));
    EXPECT_EQ(successes->load(), kBound) << "round " << round;
    EXPECT_EQ(*sem->get_value(), kBound);
  }
  for (pid_t pid : pids) EXPECT_EQ(kids.finish(pid), 0);
}

TEST_F(SyncTest, SemaphoreHandleImportsAndSharesTheValue) {
  auto sem = semaphore_of(3, SemaphoreKind::bounded_semaphore);
  auto token = must(sem->export_handle(), "export");
  EXPECT_EQ(token.kind, "ipcc.reference.semaphore/1");
  token.fds = {::dup(token.fds[0])};
  auto imported = must(import_semaphore(token), "import");
  EXPECT_EQ(imported->kind(), SemaphoreKind::bounded_semaphore);
  ASSERT_TRUE(imported->acquire(Deadline::now()));
  EXPECT_EQ(*sem->get_value(), 2);
  ASSERT_TRUE(sem->release());
  EXPECT_EQ(imported->release().code(), errc::released_too_many_times) << "the bound came along";
}

// ---------------------------------------------------------------------------
// Event

TEST_F(SyncTest, ANewEventIsUnsetAndWaitTimesOutNoEarlierThanItsDeadline) {
  auto e = event();
  EXPECT_FALSE(*e->is_set());
  Result<bool> got = true;
  EXPECT_LT(timed([&] { got = e->wait(Deadline::now()); }), 50ms);
  EXPECT_FALSE(*got);
  expect_took(timed([&] { got = e->wait(in(100ms)); }), 100ms);
  EXPECT_FALSE(*got);
}

TEST_F(SyncTest, SetAndClearAreIdempotentAndVisibleInOtherProcesses) {
  auto e = event();
  ASSERT_TRUE(e->set());
  ASSERT_TRUE(e->set());
  EXPECT_TRUE(*e->is_set());
  EXPECT_TRUE(*e->wait(Deadline::now()));
  EXPECT_TRUE(*e->wait(Deadline::after(-1s)));
  EXPECT_TRUE(*e->wait(Deadline::never()));
  Children kids;
  pid_t child = kids.add([&] { return *e->is_set() && e->clear() && e->clear() ? 0 : 1; });
  EXPECT_EQ(kids.finish(child), 0);
  EXPECT_FALSE(*e->is_set());
  EXPECT_FALSE(*e->wait(Deadline::now()));
  child = kids.add([&] { return e->set() ? 0 : 1; });
  EXPECT_EQ(kids.finish(child), 0);
  EXPECT_TRUE(*e->is_set());
}

// Three waiting processes; `after_set` runs right after the set.
void expect_set_wakes_every_waiter(const std::function<void(Event&)>& after_set) {
  auto e = event();
  Doorbell results;
  Children kids;
  std::vector<pid_t> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(kids.add([&] {
      auto got = e->wait(soon());
      results.ring(got && *got ? 'T' : 'F');
      return 0;
    }));
  }
  for (pid_t waiter : waiters) ASSERT_TRUE(asleep_soon(waiter));
  ASSERT_TRUE(e->set());
  after_set(*e);
  const auto start = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(results.next(), 'T');
  EXPECT_LT(Clock::now() - start, 1s);
  for (pid_t waiter : waiters) EXPECT_EQ(kids.finish(waiter), 0);
}

TEST_F(SyncTest, OneSetWakesEveryWaitingProcess) {
  expect_set_wakes_every_waiter([](Event&) {});
}

TEST_F(SyncTest, WaitersWakeWithTrueEvenWhenClearFollowsTheSetAtOnce) {
  expect_set_wakes_every_waiter([](Event& e) { ASSERT_TRUE(e.clear()); });
}

TEST_F(SyncTest, EventHandleImportsAndSharesTheFlag) {
  auto e = event();
  auto token = must(e->export_handle(), "export");
  EXPECT_EQ(token.kind, "ipcc.reference.event/1");
  token.fds = {::dup(token.fds[0])};
  auto imported = must(import_event(token), "import");
  ASSERT_TRUE(imported->set());
  EXPECT_TRUE(*e->is_set());
}

// ---------------------------------------------------------------------------
// Condition

class BothConditions : public SyncTest, public ::testing::WithParamInterface<LockKind> {};

TEST_P(BothConditions, WaitAndNotifyWithoutTheLockAreNotOwner) {
  auto c = condition_of(GetParam());
  EXPECT_EQ(c->wait(Deadline::now()).code(), errc::not_owner);
  EXPECT_EQ(c->notify(1).code(), errc::not_owner);
  EXPECT_EQ(c->notify(-1).code(), errc::not_owner);
  EXPECT_EQ(c->notify_all().code(), errc::not_owner);
  // Held by another process: still not the caller's.
  Doorbell held, done;
  Children kids;
  const pid_t child = kids.add([&] {
    if (!c->acquire(Deadline::now())) return 1;
    held.ring();
    done.await();
    return c->release() ? 0 : 2;
  });
  ASSERT_TRUE(held.await());
  EXPECT_EQ(c->wait(Deadline::now()).code(), errc::not_owner);
  EXPECT_EQ(c->notify(1).code(), errc::not_owner);
  EXPECT_EQ(c->notify_all().code(), errc::not_owner);
  done.ring();
  EXPECT_EQ(kids.finish(child), 0);
  ASSERT_TRUE(c->acquire(Deadline::now()));
  EXPECT_EQ(c->notify(-1).code(), errc::invalid_argument);
  EXPECT_TRUE(c->notify(0));
  EXPECT_TRUE(c->notify(5)) << "no waiters: a no-op";
  EXPECT_TRUE(c->notify_all());
  EXPECT_TRUE(c->release());
}

TEST_P(BothConditions, WaitTimesOutNoEarlierThanItsDeadlineAndHoldsTheLockAgain) {
  auto c = condition_of(GetParam());
  ASSERT_TRUE(c->acquire(Deadline::now()));
  ASSERT_TRUE(c->notify()) << "an earlier notify with nobody waiting is not kept";
  Result<bool> got = true;
  expect_took(timed([&] { got = c->wait(in(100ms)); }), 100ms);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
  EXPECT_LT(timed([&] { got = c->wait(Deadline::now()); }), 50ms);
  EXPECT_FALSE(*got);
  Children kids;
  const pid_t child =
      kids.add([&] { return c->acquire(Deadline::now()).code() == errc::timeout ? 0 : 1; });
  EXPECT_EQ(kids.finish(child), 0) << "the lock is held again after wait";
  EXPECT_TRUE(c->release());
}

TEST_P(BothConditions, ANotifyFromAnotherProcessWakesAWaiterThatReturnsHoldingTheLock) {
  auto c = condition_of(GetParam());
  Doorbell holding, result;
  Children kids;
  const pid_t child = kids.add([&] {
    if (!c->acquire(Deadline::now())) return 1;
    holding.ring();
    auto got = c->wait(soon());
    result.ring(got && *got ? 'T' : 'F');
    // Holding it: the parent cannot notify until this release.
    return c->release() ? 0 : 2;
  });
  ASSERT_TRUE(holding.await());
  ASSERT_TRUE(c->acquire(soon()));  // free only once the child waits
  ASSERT_TRUE(c->notify());
  EXPECT_EQ(result.next(100ms), 0) << "returned without the lock";
  ASSERT_TRUE(c->release());
  EXPECT_EQ(result.next(), 'T');
  EXPECT_EQ(kids.finish(child), 0);
}

TEST_P(BothConditions, NotifyNWakesExactlyNOfTheWaitersAndNotifyAllTheRest) {
  constexpr int kWaiters = 4;
  auto c = condition_of(GetParam());
  Doorbell holding, results;
  Children kids;
  std::vector<pid_t> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(kids.add([&] {
      if (!c->acquire(soon())) return 1;
      holding.ring();
      auto got = c->wait(soon());
      results.ring(got && *got ? 'T' : 'F');
      return c->release() ? 0 : 2;
    }));
    ASSERT_TRUE(holding.await());
  }
  // Each waiter released the lock inside wait, after taking its ticket.
  ASSERT_TRUE(c->acquire(soon()));
  ASSERT_TRUE(c->notify(2));
  ASSERT_TRUE(c->release());
  EXPECT_EQ(results.next(), 'T');
  EXPECT_EQ(results.next(), 'T');
  EXPECT_EQ(results.next(200ms), 0) << "notify(2) woke a third waiter";
  ASSERT_TRUE(c->acquire(soon()));
  ASSERT_TRUE(c->notify_all());
  ASSERT_TRUE(c->release());
  EXPECT_EQ(results.next(), 'T');
  EXPECT_EQ(results.next(), 'T');
  for (pid_t waiter : waiters) EXPECT_EQ(kids.finish(waiter), 0);
}

TEST_P(BothConditions, AWaiterThatTimedOutDoesNotTakeANotificationMeantForOthers) {
  auto c = condition_of(GetParam());
  Doorbell holding, results;
  Children kids;
  // Tickets in order: first (long), middle (short: times out), last (long).
  auto waiter = [&](milliseconds limit, char tag) {
    return kids.add([&, limit, tag] {
      if (!c->acquire(soon())) return 1;
      holding.ring();
      auto got = c->wait(in(limit));
      results.ring(got && *got ? tag : static_cast<char>(tag + 32));
      return c->release() ? 0 : 2;
    });
  };
  const pid_t first = waiter(10s, 'A');
  ASSERT_TRUE(holding.await());
  const pid_t middle = waiter(50ms, 'B');
  ASSERT_TRUE(holding.await());
  const pid_t last = waiter(10s, 'C');
  ASSERT_TRUE(holding.await());
  EXPECT_EQ(results.next(), 'b') << "the short waiter times out";
  for (char expected : {'A', 'C'}) {
    ASSERT_TRUE(c->acquire(soon()));
    ASSERT_TRUE(c->notify(1));
    ASSERT_TRUE(c->release());
    EXPECT_EQ(results.next(), expected);
  }
  for (pid_t pid : {first, middle, last}) EXPECT_EQ(kids.finish(pid), 0);
}

TEST_P(BothConditions, AWaiterNotifiedAfterItsDeadlineButBeforeItGotTheLockBackReturnsTrue) {
  auto c = condition_of(GetParam());
  Doorbell holding, results;
  Children kids;
  const Deadline shared_deadline = in(100ms);  // steady_clock: the same instant in the child
  const pid_t covered = kids.add([&] {
    if (!c->acquire(soon())) return 1;
    holding.ring();
    auto got = c->wait(shared_deadline);
    results.ring(got && *got ? 'T' : 'F');
    return c->release() ? 0 : 2;
  });
  ASSERT_TRUE(holding.await());
  const pid_t other = kids.add([&] {
    if (!c->acquire(soon())) return 1;
    holding.ring();
    auto got = c->wait(in(300ms));
    results.ring(got && *got ? 'O' : 'o');
    return c->release() ? 0 : 2;
  });
  ASSERT_TRUE(holding.await());
  ASSERT_TRUE(c->acquire(soon()));
  ASSERT_TRUE(spin_until([&] { return shared_deadline.expired(); }));
  ASSERT_TRUE(c->notify(1));  // the first ticket: the waiter whose deadline passed
  ASSERT_TRUE(c->release());
  std::string got{results.next(), results.next()};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, "To") << "the notification went to the covered waiter only";
  for (pid_t pid : {covered, other}) EXPECT_EQ(kids.finish(pid), 0);
}

TEST_P(BothConditions, TheLocksHolderKilledWhileAnotherWaitsForItIsReported) {
  auto c = condition_of(GetParam());
  Doorbell held;
  Children kids;
  const pid_t holder = kids.add([&] {
    if (!c->acquire(Deadline::now())) return 1;
    held.ring();
    for (;;) ::pause();
  });
  ASSERT_TRUE(held.await());
  std::thread killer([&] {
    if (asleep_soon(holder)) ::kill(holder, SIGKILL);
  });
  auto got = c->acquire(soon());
  killer.join();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->previous_owner_died);
  EXPECT_EQ(kids.finish(holder), 1000 + SIGKILL);
  EXPECT_TRUE(c->release());
}

TEST_P(BothConditions, HandleImportsAndSharesTheLock) {
  auto c = condition_of(GetParam());
  auto token = must(c->export_handle(), "export");
  EXPECT_EQ(token.kind, "ipcc.reference.condition/1");
  token.fds = {::dup(token.fds[0])};
  auto imported = must(import_condition(token), "import");
  ASSERT_TRUE(imported->acquire(Deadline::now()));
  EXPECT_EQ(c->acquire(Deadline::now()).code(),
            GetParam() == LockKind::rlock ? errc::ok : errc::timeout)
      << "one lock, owned by this thread";
}

INSTANTIATE_TEST_SUITE_P(Kinds, BothConditions, ::testing::Values(LockKind::lock, LockKind::rlock),
                         lock_kind_name);

TEST_F(SyncTest, ConditionWaitRestoresTheRLockDepth) {
  auto c = condition_of(LockKind::rlock);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->acquire(Deadline::now()));
  Children kids;
  const pid_t child = kids.add([&] {
    // Free while the parent waits, although the parent held it 3 times.
    const bool took = static_cast<bool>(c->acquire(soon()));
    if (took) {
      (void)c->notify();
      (void)c->release();
    }
    return took ? 0 : 1;
  });
  auto got = c->wait(soon());
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got);
  EXPECT_EQ(kids.finish(child), 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(c->release());
  EXPECT_EQ(c->release().code(), errc::not_owner);
}

// ---------------------------------------------------------------------------
// Barrier

TEST_F(SyncTest, BarrierPartiesBelowOneAreRefused) {
  EXPECT_EQ(make_barrier({0}).code(), errc::invalid_argument);
  EXPECT_EQ(make_barrier({-3}).code(), errc::invalid_argument);
  EXPECT_EQ(make_barrier({kMaxBarrierParties + 1}).code(), errc::invalid_argument);
  auto one = barrier_of(1);
  EXPECT_EQ(one->parties(), 1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(*one->wait(Deadline::now()), 0);
}

TEST_F(SyncTest, BarrierGivesDistinctIndicesAndNoneLeavesBeforeTheLastArrives) {
  constexpr int kParties = 3, kGenerations = 4;
  auto b = barrier_of(kParties);
  Doorbell indices;
  Children kids;
  std::vector<pid_t> pids;
  for (int p = 0; p < kParties - 1; ++p) {
    pids.push_back(kids.add([&] {
      for (int g = 0; g < kGenerations; ++g) {
        auto index = b->wait(soon());
        if (!index) return 1;
        indices.ring(static_cast<char>('0' + *index));
      }
      return 0;
    }));
  }
  std::map<char, int> seen;
  for (int g = 0; g < kGenerations; ++g) {
    ASSERT_TRUE(spin_until([&] { return *b->n_waiting() == kParties - 1; }));
    EXPECT_EQ(indices.next(0ms), 0) << "a wait returned before the last party arrived";
    auto index = b->wait(soon());
    ASSERT_TRUE(index);
    EXPECT_EQ(*index, kParties - 1) << "the last to arrive";
    std::string got{static_cast<char>('0' + *index), indices.next(), indices.next()};
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, "012") << "generation " << g;
  }
  for (pid_t pid : pids) EXPECT_EQ(kids.finish(pid), 0);
  EXPECT_FALSE(*b->broken());
  EXPECT_EQ(*b->n_waiting(), 0);
}

TEST_F(SyncTest, AnExpiredWaitBreaksTheBarrierUntilReset) {
  auto b = barrier_of(2);
  Result<std::int64_t> got = std::int64_t{0};
  expect_took(timed([&] { got = b->wait(in(100ms)); }), 100ms);
  EXPECT_EQ(got.code(), errc::broken);
  EXPECT_TRUE(*b->broken());
  EXPECT_EQ(*b->n_waiting(), 0);
  EXPECT_LT(timed([&] { got = b->wait(soon()); }), 50ms);
  EXPECT_EQ(got.code(), errc::broken);
  ASSERT_TRUE(b->reset());
  EXPECT_FALSE(*b->broken());
  Children kids;
  const pid_t child = kids.add([&] { return b->wait(soon()) ? 0 : 1; });
  EXPECT_TRUE(b->wait(soon()));
  EXPECT_EQ(kids.finish(child), 0);
}

TEST_F(SyncTest, AnExpiredWaitBreaksItForTheOtherWaitersToo) {
  auto b = barrier_of(3);
  Doorbell result;
  Children kids;
  const pid_t child = kids.add([&] {
    result.ring(b->wait(soon()).code() == errc::broken ? 'B' : 'X');
    return 0;
  });
  ASSERT_TRUE(spin_until([&] { return *b->n_waiting() == 1; }));
  Result<std::int64_t> got = std::int64_t{0};
  expect_took(timed([&] { got = b->wait(in(100ms)); }), 100ms);
  EXPECT_EQ(got.code(), errc::broken);
  EXPECT_LT(timed([&] { EXPECT_EQ(result.next(), 'B'); }), 500ms);
  EXPECT_EQ(kids.finish(child), 0);
}

TEST_F(SyncTest, AbortBreaksCurrentAndLaterWaitsUntilReset) {
  auto b = barrier_of(2);
  Doorbell result;
  Children kids;
  const pid_t child = kids.add([&] {
    result.ring(b->wait(soon()).code() == errc::broken ? 'B' : 'X');
    return 0;
  });
  ASSERT_TRUE(spin_until([&] { return *b->n_waiting() == 1; }));
  ASSERT_TRUE(b->abort());
  EXPECT_EQ(result.next(), 'B');
  EXPECT_TRUE(*b->broken());
  EXPECT_EQ(b->wait(soon()).code(), errc::broken);
  ASSERT_TRUE(b->abort()) << "idempotent";
  ASSERT_TRUE(b->reset());
  EXPECT_FALSE(*b->broken());
  EXPECT_EQ(kids.finish(child), 0);
  const pid_t again = kids.add([&] { return b->wait(soon()) ? 0 : 1; });
  EXPECT_TRUE(b->wait(soon()));
  EXPECT_EQ(kids.finish(again), 0);
}

TEST_F(SyncTest, ResetBreaksCurrentWaitersAndLeavesAWorkingBarrier) {
  auto b = barrier_of(3);
  Doorbell results;
  Children kids;
  std::vector<pid_t> pids;
  for (int i = 0; i < 2; ++i) {
    pids.push_back(kids.add([&] {
      results.ring(b->wait(soon()).code() == errc::broken ? 'B' : 'X');
      return 0;
    }));
  }
  ASSERT_TRUE(spin_until([&] { return *b->n_waiting() == 2; }));
  ASSERT_TRUE(b->reset());
  EXPECT_EQ(results.next(), 'B');
  EXPECT_EQ(results.next(), 'B');
  EXPECT_FALSE(*b->broken());
  EXPECT_EQ(*b->n_waiting(), 0);
  for (pid_t pid : pids) EXPECT_EQ(kids.finish(pid), 0);
  pids.clear();
  for (int i = 0; i < 2; ++i) pids.push_back(kids.add([&] { return b->wait(soon()) ? 0 : 1; }));
  EXPECT_TRUE(b->wait(soon()));
  for (pid_t pid : pids) EXPECT_EQ(kids.finish(pid), 0);
}

TEST_F(SyncTest, AKilledPartyCostsOnlyTheOthersDeadlinesAndResetRecovers) {
  auto b = barrier_of(2);
  Children kids;
  const pid_t victim = kids.add([&] { return b->wait(soon()) ? 0 : 1; });
  ASSERT_TRUE(spin_until([&] { return *b->n_waiting() == 1; }));
  ::kill(victim, SIGKILL);
  EXPECT_EQ(kids.finish(victim), 1000 + SIGKILL);
  // Its arrival still counts: this wait completes the phase.
  EXPECT_EQ(*b->wait(Deadline::now()), 1);
  const pid_t second = kids.add([&] { return b->wait(soon()) ? 0 : 1; });
  ASSERT_TRUE(spin_until([&] { return *b->n_waiting() == 1; }));
  ::kill(second, SIGKILL);
  EXPECT_EQ(kids.finish(second), 1000 + SIGKILL);
  ASSERT_TRUE(b->reset());  // the dead arrival is forgotten
  Result<std::int64_t> got = std::int64_t{0};
  expect_took(timed([&] { got = b->wait(in(50ms)); }), 50ms);
  EXPECT_EQ(got.code(), errc::broken);
}

// A waiter stopped while later phases complete (or are reset) still learns
// how its own phase ended, from the barrier's history.
TEST_F(SyncTest, AWaiterStoppedThroughLaterPhasesLearnsHowItsOwnEnded) {
  for (bool completes : {true, false}) {
    auto b = barrier_of(2);
    Doorbell result;
    Children kids;
    const pid_t sleeper = kids.add([&] {
      auto got = b->wait(soon());
      result.ring(got ? static_cast<char>('0' + *got) : 'B');
      return 0;
    });
    ASSERT_TRUE(spin_until([&] { return *b->n_waiting() == 1; }));
    ASSERT_TRUE(asleep_soon(sleeper));
    ::kill(sleeper, SIGSTOP);
    if (completes) {
      ASSERT_EQ(*b->wait(Deadline::now()), 1);
    } else {
      ASSERT_TRUE(b->reset());
    }
    // Several more phases, completed by two threads of this process.
    for (int phase = 0; phase < 5; ++phase) {
      std::thread other([&] { (void)b->wait(soon()); });
      EXPECT_TRUE(b->wait(soon()));
      other.join();
    }
    ASSERT_TRUE(b->reset());
    ::kill(sleeper, SIGCONT);
    EXPECT_EQ(result.next(), completes ? '0' : 'B');
    EXPECT_EQ(kids.finish(sleeper), 0);
  }
}

TEST_F(SyncTest, BarrierHandleImportsAndSharesTheState) {
  auto b = barrier_of(2);
  auto token = must(b->export_handle(), "export");
  EXPECT_EQ(token.kind, "ipcc.reference.barrier/1");
  token.fds = {::dup(token.fds[0])};
  auto imported = must(import_barrier(token), "import");
  EXPECT_EQ(imported->parties(), 2);
  ASSERT_TRUE(imported->abort());
  EXPECT_TRUE(*b->broken());
}

// ---------------------------------------------------------------------------
// Tokens, descriptors, the backend

// One good token of every kind, with the object that made it.
struct Made {
  std::unique_ptr<Lock> lock = lock_of(LockKind::rlock);
  std::unique_ptr<Semaphore> semaphore = semaphore_of(3, SemaphoreKind::bounded_semaphore);
  std::unique_ptr<Event> ev = event();
  std::unique_ptr<Condition> condition = condition_of(LockKind::lock);
  std::unique_ptr<Barrier> barrier = barrier_of(3);

  std::vector<HandleToken> tokens() {
    return {must(lock->export_handle(), "lock"), must(semaphore->export_handle(), "semaphore"),
            must(ev->export_handle(), "event"), must(condition->export_handle(), "condition"),
            must(barrier->export_handle(), "barrier")};
  }
};

// The importer of a token's kind (by the position in Made::tokens).
errc import_code(std::size_t which, const HandleToken& token) {
  switch (which) {
    case 0:
      return import_lock(token).code();
    case 1:
      return import_semaphore(token).code();
    case 2:
      return import_event(token).code();
    case 3:
      return import_condition(token).code();
    default:
      return import_barrier(token).code();
  }
}

int memfd_of(std::uint64_t bytes, bool seal) {
  const int fd = ::memfd_create("not-a-primitive", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd >= 0 && ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 && seal) {
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
  }
  return fd;
}

std::uint64_t size_of(int fd) {
  struct stat info {};
  return ::fstat(fd, &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
}

TEST_F(SyncTest, ImportRefusesTokensItDidNotMakeAndLeavesTheirDescriptorsOpen) {
  Made made;
  const auto tokens = made.tokens();
  for (std::size_t which = 0; which < tokens.size(); ++which) {
    const HandleToken& good = tokens[which];
    SCOPED_TRACE(good.kind + " " + good.data);
    std::vector<int> opened;
    auto variant = [&](const std::function<void(HandleToken&)>& change) {
      HandleToken token = good;
      token.fds = {::dup(good.fds[0])};
      opened.push_back(token.fds[0]);
      change(token);
      return token;
    };
    const std::uint64_t bytes = size_of(good.fds[0]);
    const std::vector<std::pair<std::string, HandleToken>> bad = {
        {"wrong kind", variant([](HandleToken& t) { t.kind = "ipcc.reference.queue/1"; })},
        {"old version", variant([](HandleToken& t) { t.kind.back() = '2'; })},
        {"no descriptor", variant([](HandleToken& t) { t.fds.clear(); })},
        {"two descriptors", variant([&](HandleToken& t) { t.fds.push_back(t.fds[0]); })},
        {"negative descriptor", variant([](HandleToken& t) { t.fds = {-1}; })},
        {"closed descriptor", variant([](HandleToken& t) { t.fds = {999}; })},
        {"empty data", variant([](HandleToken& t) { t.data.clear(); })},
        {"garbage data", variant([](HandleToken& t) { t.data = "v=1;kind=\x01;;"; })},
        {"trailing data", variant([](HandleToken& t) { t.data += ";x=1"; })},
        {"version 2", variant([](HandleToken& t) { t.data.replace(0, 3, "v=2"); })},
        {"a pipe", variant([&](HandleToken& t) {
           int fds[2];
           if (::pipe2(fds, O_CLOEXEC) == 0) {
             opened.push_back(fds[0]);
             opened.push_back(fds[1]);
             t.fds = {fds[0]};
           }
         })},
        {"an unsealed segment", variant([&](HandleToken& t) {
           t.fds = {memfd_of(bytes, false)};
           opened.push_back(t.fds[0]);
         })},
        {"a segment of another size", variant([&](HandleToken& t) {
           t.fds = {memfd_of(bytes + 4096, true)};
           opened.push_back(t.fds[0]);
         })},
        {"a zeroed segment", variant([&](HandleToken& t) {
           t.fds = {memfd_of(bytes, true)};
           opened.push_back(t.fds[0]);
         })},
    };
    for (const auto& [name, token] : bad) {
      EXPECT_EQ(import_code(which, token), errc::invalid_argument) << name;
    }
    // Another kind's token, its descriptor, or its data.
    for (std::size_t other = 0; other < tokens.size(); ++other) {
      if (other == which) continue;
      HandleToken token = tokens[other];
      token.fds = {::dup(token.fds[0])};
      opened.push_back(token.fds[0]);
      EXPECT_EQ(import_code(which, token), errc::invalid_argument) << "token of " << other;
      HandleToken mixed = variant([&](HandleToken& t) { t.fds = {token.fds[0]}; });
      if (size_of(token.fds[0]) == bytes) {
        EXPECT_EQ(import_code(which, mixed), errc::invalid_argument) << "descriptor of " << other;
      }
    }
    for (int fd : opened) EXPECT_EQ(::close(fd), 0) << "the importer closed descriptor " << fd;
  }
  // Same type, another variant: the header must match the data.
  auto lock_token = must(made.lock->export_handle(), "lock");
  lock_token.data = "v=1;kind=lock";
  lock_token.fds = {::dup(lock_token.fds[0])};
  EXPECT_EQ(import_lock(lock_token).code(), errc::invalid_argument);
  ::close(lock_token.fds[0]);
  auto sem_token = must(made.semaphore->export_handle(), "semaphore");
  sem_token.data = "v=1;kind=bounded_semaphore;bound=4";
  sem_token.fds = {::dup(sem_token.fds[0])};
  EXPECT_EQ(import_semaphore(sem_token).code(), errc::invalid_argument);
  sem_token.data = "v=1;kind=semaphore";
  EXPECT_EQ(import_semaphore(sem_token).code(), errc::invalid_argument);
  ::close(sem_token.fds[0]);
  auto barrier_token = must(made.barrier->export_handle(), "barrier");
  barrier_token.data = "v=1;parties=4";
  barrier_token.fds = {::dup(barrier_token.fds[0])};
  EXPECT_EQ(import_barrier(barrier_token).code(), errc::invalid_argument);
  barrier_token.data = "v=1;parties=0";
  EXPECT_EQ(import_barrier(barrier_token).code(), errc::invalid_argument);
  ::close(barrier_token.fds[0]);
}

TEST_F(SyncTest, CreatingImportingAndDestroyingLeavesNoDescriptorAndNothingNamed) {
  const auto before = open_fds();
  {
    Made made;
    auto tokens = made.tokens();
    std::vector<std::unique_ptr<Lock>> locks;
    std::unique_ptr<Semaphore> sem;
    std::unique_ptr<Event> ev;
    std::unique_ptr<Condition> cond;
    std::unique_ptr<Barrier> bar;
    for (auto& token : tokens) token.fds = {::dup(token.fds[0])};
    locks.push_back(must(import_lock(tokens[0]), "lock"));
    sem = must(import_semaphore(tokens[1]), "semaphore");
    ev = must(import_event(tokens[2]), "event");
    cond = must(import_condition(tokens[3]), "condition");
    bar = must(import_barrier(tokens[4]), "barrier");
    EXPECT_EQ(open_fds().size(), before.size() + 10);
    for (const auto& token : tokens) {
      EXPECT_NE(::fcntl(token.fds[0], F_GETFD) & FD_CLOEXEC, 0);
    }
  }
  EXPECT_EQ(open_fds(), before);
}

TEST_F(SyncTest, TheBackendDeclaresAndForwardsEveryPrimitive) {
  auto backend = make_backend();
  const SyncCapabilities caps = backend->capabilities().sync;
  EXPECT_TRUE(caps.lock && caps.rlock && caps.semaphore && caps.bounded_semaphore && caps.event &&
              caps.condition && caps.barrier && caps.get_value);
  EXPECT_EQ(caps.max_semaphore_value, kMaxSemaphoreValue);
  EXPECT_EQ(caps.lock_owner_death, OwnerDeathEffect::reported_to_next);
  EXPECT_EQ(caps.rlock_owner_death, OwnerDeathEffect::reported_to_next);
  auto lock = must(backend->make_lock(LockKind::lock), "lock");
  auto sem = must(backend->make_semaphore({SemaphoreKind::semaphore, 1}), "semaphore");
  auto ev = must(backend->make_event(), "event");
  auto cond = must(backend->make_condition({}), "condition");
  auto bar = must(backend->make_barrier({2}), "barrier");
  EXPECT_EQ(backend->make_semaphore({SemaphoreKind::semaphore, -1}).code(), errc::invalid_argument);
  EXPECT_EQ(backend->make_barrier({0}).code(), errc::invalid_argument);
  auto token = must(lock->export_handle(), "export");
  token.fds = {::dup(token.fds[0])};
  auto imported = must(backend->import_lock(token), "import");
  EXPECT_EQ(imported->kind(), LockKind::lock);
  for (auto& t : {must(sem->export_handle(), "s"), must(ev->export_handle(), "e"),
                  must(cond->export_handle(), "c"), must(bar->export_handle(), "b")}) {
    HandleToken copy = t;
    copy.fds = {::dup(t.fds[0])};
    errc code = errc::broken;
    if (t.kind == "ipcc.reference.semaphore/1") code = backend->import_semaphore(copy).code();
    if (t.kind == "ipcc.reference.event/1") code = backend->import_event(copy).code();
    if (t.kind == "ipcc.reference.condition/1") code = backend->import_condition(copy).code();
    if (t.kind == "ipcc.reference.barrier/1") code = backend->import_barrier(copy).code();
    EXPECT_EQ(code, errc::ok) << t.kind;
  }
  EXPECT_EQ(backend->import_lock(HandleToken{"ipcc.reference.event/1", "v=1", {-1}}).code(),
            errc::invalid_argument);
}

}  // namespace
}  // namespace ipcc::reference::testing
