// The reference Queue below the contract's suite: delivery and byte-exactness
// (wrap-around included), capacity, timed and try-once forms, handles and bad
// tokens, close, JoinableQueue accounting, storage limits, and survival of
// processes killed while holding the lock or in the middle of a put or get.
// Children are forked; they are coordinated with pipes, /proc and waitpid,
// never with sleeps, and every blocking call has a deadline.
#include "ipcc/reference/queue.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "queue_internal.h"
#include "support.h"

namespace ipcc::reference::testing {
namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

// Fails a test that leaves a descriptor open (every queue holds one).
class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = open_fds(); }
  void TearDown() override {
    EXPECT_EQ(open_fds(), fds_before_) << "the test leaked (or closed) a descriptor";
  }

 private:
  std::set<int> fds_before_;
};

std::unique_ptr<Queue> make(QueueKind kind, std::int64_t maxsize = 0,
                            std::uint64_t storage = kDefaultQueueStorageBytes) {
  auto made = make_queue({kind, maxsize}, {storage});
  if (!made) throw std::runtime_error("make_queue failed: " + describe(made.error()));
  return std::move(*made);
}

std::unique_ptr<Queue> import_or_throw(const HandleToken& token) {
  auto imported = import_queue(token);
  if (!imported) throw std::runtime_error("import_queue failed: " + describe(imported.error()));
  return std::move(*imported);
}

// The token with its descriptor replaced by a dup, as a launcher hands it on.
HandleToken with_dup(HandleToken token) {
  for (auto& fd : token.fds) fd = ::dup(fd);
  return token;
}

std::string kind_name(const ::testing::TestParamInfo<QueueKind>& info) {
  switch (info.param) {
    case QueueKind::queue: return "Queue";
    case QueueKind::simple_queue: return "SimpleQueue";
    case QueueKind::joinable_queue: return "JoinableQueue";
  }
  return "Unknown";
}

Deadline soon() { return Deadline::after(10s); }

template <typename F>
std::chrono::nanoseconds timed(F&& call) {
  const auto start = Deadline::Clock::now();
  call();
  return Deadline::Clock::now() - start;
}

// ---------------------------------------------------------------------------
// Children

// Forks a child that runs `body` and _exits with its result (or 99 if it threw).
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
int reap(pid_t pid, std::chrono::milliseconds limit = 10s) {
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

bool exited_cleanly(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
bool was_killed(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

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

// A one-way doorbell between processes: a pipe.
class Doorbell {
 public:
  Doorbell() {
    if (::pipe2(fds_, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  ~Doorbell() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  void ring() const {
    const char byte = 1;
    while (::write(fds_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  bool await(std::chrono::milliseconds limit = 10s) const {
    pollfd entry{fds_[0], POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(limit.count())) <= 0) return false;
    char byte;
    return ::read(fds_[0], &byte, 1) == 1;
  }
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }

 private:
  int fds_[2];
};

// A hook that rings a doorbell and then waits to be killed: the process
// stops inside put or get, holding the lock, with nothing committed.
int g_hook_doorbell = -1;
void ring_and_hang(internal::QueueStep step) {
  if (step == internal::QueueStep::put_after_commit) return;
  const char byte = 1;
  (void)!::write(g_hook_doorbell, &byte, 1);
  for (;;) ::pause();
}

// ---------------------------------------------------------------------------
// Every kind

class EveryKind : public QueueTest, public ::testing::WithParamInterface<QueueKind> {};

TEST_P(EveryKind, DeliversItemsInOrderAndByteExact) {
  auto q = make(GetParam());
  const std::vector<std::size_t> sizes = {0,  1,    7,    8,    9,     63,      64,
                                          65, 4095, 4096, 4097, 65536, 300'000, 0};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_EQ(q->put(pattern(sizes[i], static_cast<std::uint32_t>(i)), soon()).code(), errc::ok);
  }
  EXPECT_EQ(*q->qsize(), static_cast<std::int64_t>(sizes.size()));
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto got = q->get(soon());
    ASSERT_TRUE(got) << describe(got.error());
    EXPECT_TRUE(*got == pattern(sizes[i], static_cast<std::uint32_t>(i))) << "item " << i;
  }
  EXPECT_EQ(q->get_nowait().code(), errc::empty);
  EXPECT_TRUE(*q->empty());
  EXPECT_FALSE(*q->full());
}

TEST_P(EveryKind, ItemsWrapAroundTheEndOfTheRingIntact) {
  // The queue never empties (which would restart it at offset 0), so records
  // and their payloads keep crossing the end of a 512-byte ring.
  auto q = make(GetParam(), 0, 512);
  ASSERT_EQ(q->put_nowait(pattern(5, 1000)).code(), errc::ok);
  std::uint32_t oldest = 1000;
  std::size_t oldest_size = 5;
  for (std::uint32_t i = 0; i < 300; ++i) {
    const std::size_t size = (i * 37) % 181;
    ASSERT_EQ(q->put_nowait(pattern(size, i)).code(), errc::ok) << "put " << i;
    auto got = q->get_nowait();
    ASSERT_TRUE(got) << describe(got.error());
    ASSERT_TRUE(*got == pattern(oldest_size, oldest)) << "get after put " << i;
    oldest = i;
    oldest_size = size;
  }
  EXPECT_EQ(*q->qsize(), 1);
}

TEST_P(EveryKind, ReportsSizeExactly) {
  auto q = make(GetParam());
  EXPECT_EQ(*q->qsize(), 0);
  EXPECT_TRUE(*q->empty());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_EQ(q->put_nowait(pattern(10, i)).code(), errc::ok);
    EXPECT_EQ(*q->qsize(), i);
    EXPECT_FALSE(*q->empty());
    EXPECT_FALSE(*q->full()) << "an unbounded queue is never full";
  }
  ASSERT_TRUE(q->get_nowait());
  EXPECT_EQ(*q->qsize(), 4);
  EXPECT_EQ(q->maxsize(), 0);
  EXPECT_EQ(q->kind(), GetParam());
}

TEST_P(EveryKind, TimedGetOnAnEmptyQueueEndsNoEarlierThanItsDeadline) {
  auto q = make(GetParam());
  for (auto wait : {1ms, 15ms, 40ms}) {
    const auto deadline = Deadline::after(wait);
    const auto start = Deadline::Clock::now();
    auto got = q->get(deadline);
    const auto ended = Deadline::Clock::now();
    EXPECT_EQ(got.code(), errc::empty);
    EXPECT_GE(ended + 1ms, deadline.when()) << wait.count() << " ms";
    EXPECT_LT(ended - start, 1s);
  }
}

TEST_P(EveryKind, TryOnceFormsNeverWait) {
  auto q = make(GetParam());
  for (auto deadline : {Deadline::now(), Deadline::after(-1s), Deadline::after(0s)}) {
    const auto took = timed([&] { EXPECT_EQ(q->get(deadline).code(), errc::empty); });
    EXPECT_LT(took, 100ms);
  }
  const auto took = timed([&] { EXPECT_EQ(q->get_nowait().code(), errc::empty); });
  EXPECT_LT(took, 100ms);
}

TEST_P(EveryKind, AnItemPutInAChildWakesASleepingGet) {
  auto q = make(GetParam());
  const pid_t parent = ::getpid();
  const pid_t child = fork_child([&] {
    if (!asleep_soon(parent)) return 1;
    return q->put(as_bytes("wake up"), soon()) ? 0 : 2;
  });
  auto got = q->get(soon());
  ASSERT_TRUE(got) << describe(got.error());
  EXPECT_EQ(*got, to_bytes("wake up"));
  EXPECT_TRUE(exited_cleanly(reap(child)));
}

TEST_P(EveryKind, WorksInAForkedChildBothWays) {
  auto q = make(GetParam());
  ASSERT_EQ(q->put_nowait(as_bytes("to the child")).code(), errc::ok);
  const pid_t child = fork_child([&] {
    auto got = q->get(soon());
    if (!got || *got != to_bytes("to the child")) return 1;
    for (int i = 0; i < 3; ++i) {
      if (!q->put(pattern(100, i), soon())) return 2;
    }
    return q->close() ? 0 : 3;  // the child's close leaves the parent's copy alone
  });
  ASSERT_TRUE(exited_cleanly(reap(child)));
  for (int i = 0; i < 3; ++i) {
    auto got = q->get(soon());
    ASSERT_TRUE(got) << describe(got.error());
    EXPECT_TRUE(*got == pattern(100, i));
  }
}

TEST_P(EveryKind, ExportedHandleImportsInThisProcess) {
  auto q = make(GetParam(), 0, 4096);
  auto token = q->export_handle();
  ASSERT_TRUE(token);
  EXPECT_EQ(token->kind, "ipcc.reference.queue/1");
  ASSERT_EQ(token->fds.size(), 1u);
  auto imported = import_or_throw(with_dup(*token));
  EXPECT_EQ(imported->kind(), GetParam());
  EXPECT_EQ(imported->maxsize(), 0);
  const int flags = ::fcntl(imported->export_handle()->fds[0], F_GETFD);
  EXPECT_TRUE(flags >= 0 && (flags & FD_CLOEXEC));

  ASSERT_EQ(imported->put_nowait(as_bytes("via import")).code(), errc::ok);
  EXPECT_EQ(*q->qsize(), 1);
  ASSERT_EQ(q->close().code(), errc::ok);
  EXPECT_EQ(*imported->qsize(), 1) << "the exporter's close is local";
  auto got = imported->get_nowait();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, to_bytes("via import"));
  EXPECT_TRUE(imported->export_handle()) << "an imported copy exports again";
}

TEST_P(EveryKind, ExportedHandleImportsInAForkedChild) {
  auto q = make(GetParam(), 0, 4096);
  auto token = q->export_handle();
  ASSERT_TRUE(token);
  const pid_t child = fork_child([&] {
    // As a spawned process would: a fresh copy from the token alone.
    auto imported = import_queue(with_dup(*token));
    if (!imported) return 1;
    if (!(*imported)->put(as_bytes("from the import"), soon())) return 2;
    return (*imported)->close() ? 0 : 3;
  });
  ASSERT_TRUE(exited_cleanly(reap(child)));
  auto got = q->get(soon());
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, to_bytes("from the import"));
}

TEST_P(EveryKind, CloseIsLocalIdempotentAndThenEverythingReportsClosed) {
  auto q = make(GetParam());
  auto other = import_or_throw(with_dup(*q->export_handle()));
  ASSERT_EQ(q->put_nowait(as_bytes("kept")).code(), errc::ok);
  ASSERT_EQ(q->close().code(), errc::ok);
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(q->close().code(), errc::ok);
  EXPECT_EQ(q->put_nowait(as_bytes("x")).code(), errc::closed);
  EXPECT_EQ(q->put(Bytes(kQueueMaxItemBytes + 1)).code(), errc::closed) << "closed comes first";
  EXPECT_EQ(q->get_nowait().code(), errc::closed);
  EXPECT_EQ(q->get(soon()).code(), errc::closed);
  EXPECT_EQ(q->qsize().code(), errc::closed);
  EXPECT_EQ(q->empty().code(), errc::closed);
  EXPECT_EQ(q->full().code(), errc::closed);
  EXPECT_EQ(q->task_done().code(), errc::closed);
  EXPECT_EQ(q->join(Deadline::now()).code(), errc::closed);
  EXPECT_EQ(q->cancel_join_thread().code(), errc::closed);
  EXPECT_EQ(q->export_handle().code(), errc::closed);
  EXPECT_EQ(q->put_encoded([] { return Result<Bytes>(to_bytes("x")); }).code(), errc::closed);

  EXPECT_FALSE(other->closed());
  auto got = other->get_nowait();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, to_bytes("kept"));
  EXPECT_EQ(other->put_nowait(as_bytes("still open")).code(), errc::ok);
}

TEST_P(EveryKind, CancelJoinThreadOnlyRecordsTheWish) {
  auto q = make(GetParam());
  ASSERT_EQ(q->put_nowait(as_bytes("a")).code(), errc::ok);
  EXPECT_EQ(q->cancel_join_thread().code(), errc::ok);
  EXPECT_EQ(q->cancel_join_thread().code(), errc::ok);
  EXPECT_EQ(*q->get_nowait(), to_bytes("a"));
}

TEST_P(EveryKind, FailedEncodingQueuesNothing) {
  auto q = make(GetParam());
  auto failed =
      q->put_encoded([] { return Result<Bytes>(fail(errc::serialization_failed, 0, "no")); });
  EXPECT_EQ(failed.code(), errc::serialization_failed);
  EXPECT_EQ(*q->qsize(), 0);
  EXPECT_EQ(q->put_encoded([] { return Result<Bytes>(to_bytes("encoded")); }).code(), errc::ok);
  EXPECT_EQ(*q->get_nowait(), to_bytes("encoded"));
}

TEST_P(EveryKind, TooLargeItemIsRefusedAndNothingIsQueued) {
  auto q = make(GetParam());
  const Bytes too_large(kQueueMaxItemBytes + 1);
  EXPECT_EQ(q->put(too_large, soon()).code(), errc::message_too_large);
  EXPECT_EQ(*q->qsize(), 0);
  EXPECT_EQ(q->put_nowait(as_bytes("usable")).code(), errc::ok);
  EXPECT_EQ(*q->get_nowait(), to_bytes("usable"));
}

TEST_P(EveryKind, TheLargestItemRoundTripsByteExact) {
  auto q = make(GetParam());
  const Bytes largest = pattern(kQueueMaxItemBytes, 64);
  ASSERT_EQ(q->put(largest, soon()).code(), errc::ok);
  ASSERT_EQ(q->put_nowait(as_bytes("after")).code(), errc::ok);
  auto got = q->get(soon());
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == largest);
  EXPECT_EQ(*q->get_nowait(), to_bytes("after"));
}

TEST_P(EveryKind, FullStorageIsReportedAtOnceWithNothingQueued) {
  auto q = make(GetParam(), 0, 1024);  // 14 records of 8 + 64 bytes
  int accepted = 0;
  Result<void> put = ok();
  while ((put = q->put_nowait(pattern(64, accepted))).has_value()) ++accepted;
  EXPECT_EQ(put.code(), errc::resource_exhausted);
  EXPECT_EQ(accepted, 1024 / 72);
  const auto took =
      timed([&] { EXPECT_EQ(q->put(pattern(64, 99), soon()).code(), errc::resource_exhausted); });
  EXPECT_LT(took, 1s) << "a put never waits for bytes";
  EXPECT_EQ(*q->qsize(), accepted);
  EXPECT_EQ(q->put_nowait(Bytes(2000)).code(), errc::resource_exhausted) << "larger than the ring";
  ASSERT_TRUE(q->get_nowait());
  EXPECT_EQ(q->put_nowait(pattern(64, 100)).code(), errc::ok);
  for (int i = 1; i < accepted; ++i) EXPECT_TRUE(*q->get_nowait() == pattern(64, i));
  EXPECT_TRUE(*q->get_nowait() == pattern(64, 100));
}

TEST_P(EveryKind, ChildKilledWhileHoldingTheLockIsRecoveredFrom) {
  auto q = make(GetParam());
  ASSERT_EQ(q->put_nowait(as_bytes("before")).code(), errc::ok);
  const auto recoveries = internal::queue_lock_recoveries();
  const pid_t child = fork_child([&] { return internal::hold_queue_lock(*q) ? 0 : 1; });
  ASSERT_TRUE(exited_cleanly(reap(child)));  // it ended holding the lock
  EXPECT_EQ(*q->qsize(), 1);
  ASSERT_EQ(q->put(as_bytes("after"), soon()).code(), errc::ok);
  EXPECT_EQ(internal::queue_lock_recoveries(), recoveries + 1);
  EXPECT_EQ(*q->get(soon()), to_bytes("before"));
  EXPECT_EQ(*q->get(soon()), to_bytes("after"));
}

// A producer killed after copying a 16 MiB item into the ring, before its
// commit: survivors keep their deadlines while it holds the lock, then find
// the last committed state and a working queue.
TEST_P(EveryKind, ProducerKilledMidPutLeavesTheLastCommittedState) {
  auto q = make(GetParam());
  ASSERT_EQ(q->put_nowait(pattern(1000, 1)).code(), errc::ok);
  Doorbell stopped;
  const pid_t child = fork_child([&] {
    g_hook_doorbell = stopped.write_fd();
    internal::set_queue_hook(ring_and_hang);
    return q->put(pattern(16 * kMiB, 2), soon()) ? 3 : 4;
  });
  ASSERT_TRUE(stopped.await()) << "the child never reached its commit";

  // The lock is held: snapshots still answer at once; a timed get keeps its
  // deadline (plus the lock grace), and so does a try-once put.
  const auto snapshot_took = timed([&] {
    EXPECT_EQ(*q->qsize(), 1);
    EXPECT_FALSE(*q->empty());
    EXPECT_FALSE(*q->full());
  });
  EXPECT_LT(snapshot_took, 100ms);
  const auto deadline = Deadline::after(30ms);
  const auto get_took = timed([&] { EXPECT_EQ(q->get(deadline).code(), errc::empty); });
  EXPECT_GE(Deadline::Clock::now() + 1ms, deadline.when());
  EXPECT_LT(get_took, 30ms + kQueueLockGrace + 500ms);
  const auto put_took = timed([&] { EXPECT_EQ(q->put_nowait(as_bytes("x")).code(), errc::full); });
  EXPECT_GE(put_took + 1ms, kQueueLockGrace);
  EXPECT_LT(put_took, kQueueLockGrace + 500ms);

  ::kill(child, SIGKILL);
  ASSERT_TRUE(was_killed(reap(child)));
  const auto recoveries = internal::queue_lock_recoveries();
  auto first = q->get(soon());
  ASSERT_TRUE(first) << describe(first.error());
  EXPECT_TRUE(*first == pattern(1000, 1));
  EXPECT_EQ(internal::queue_lock_recoveries(), recoveries + 1);
  EXPECT_EQ(q->get_nowait().code(), errc::empty) << "the killed put must not land";
  ASSERT_EQ(q->put(pattern(16 * kMiB, 3), soon()).code(), errc::ok);
  EXPECT_TRUE(*q->get(soon()) == pattern(16 * kMiB, 3));
}

void die_after_commit(internal::QueueStep step) {
  if (step == internal::QueueStep::put_after_commit) ::raise(SIGKILL);
}

// A producer killed after its commit, before it woke anyone: a consumer
// asleep in get still gets the item, soon.
TEST_P(EveryKind, ProducerKilledBeforeItsWakeUpStillDeliversToASleeper) {
  auto q = make(GetParam());
  const pid_t parent = ::getpid();
  const pid_t child = fork_child([&] {
    internal::set_queue_hook(die_after_commit);
    if (!asleep_soon(parent)) return 1;
    return q->put(as_bytes("orphan"), soon()) ? 2 : 3;
  });
  const auto start = Deadline::Clock::now();
  auto got = q->get(soon());
  const auto took = Deadline::Clock::now() - start;
  ASSERT_TRUE(got) << describe(got.error());
  EXPECT_EQ(*got, to_bytes("orphan"));
  EXPECT_TRUE(was_killed(reap(child)));
  EXPECT_LT(took, 2s);
  EXPECT_EQ(q->put_nowait(as_bytes("usable")).code(), errc::ok);
  EXPECT_EQ(*q->get_nowait(), to_bytes("usable"));
}

TEST_P(EveryKind, ConsumerKilledMidGetLeavesTheItemQueued) {
  auto q = make(GetParam());
  ASSERT_EQ(q->put_nowait(pattern(5 * kMiB, 7)).code(), errc::ok);
  ASSERT_EQ(q->put_nowait(pattern(10, 8)).code(), errc::ok);
  Doorbell stopped;
  const pid_t child = fork_child([&] {
    g_hook_doorbell = stopped.write_fd();
    internal::set_queue_hook(ring_and_hang);
    return q->get(soon()) ? 3 : 4;
  });
  ASSERT_TRUE(stopped.await()) << "the child never reached its commit";
  ::kill(child, SIGKILL);
  ASSERT_TRUE(was_killed(reap(child)));
  EXPECT_EQ(*q->qsize(), 2);
  EXPECT_TRUE(*q->get(soon()) == pattern(5 * kMiB, 7));
  EXPECT_TRUE(*q->get(soon()) == pattern(10, 8));
}

// A producer SIGKILLed at an arbitrary instant of a stream of 4 MiB puts
// (mostly in the middle of one): every item that arrives is whole and in
// order, and the queue stays usable.
TEST_P(EveryKind, ProducerKilledAtAnyInstantLeavesOnlyWholeItems) {
  auto q = make(GetParam());
  const Bytes base = pattern(4 * kMiB, 5);
  auto item = [&base](std::uint32_t seq) {
    Bytes bytes = base;
    std::memcpy(bytes.data(), &seq, sizeof seq);
    return bytes;
  };
  const pid_t child = fork_child([&] {
    Bytes next = base;
    for (std::uint32_t seq = 0;; ++seq) {
      std::memcpy(next.data(), &seq, sizeof seq);
      Result<void> put = ok();
      while (!(put = q->put(next, soon())) && put.code() == errc::resource_exhausted) {
      }
      if (!put) return 1;
    }
  });
  for (std::uint32_t seq = 0; seq < 3; ++seq) {
    auto got = q->get(soon());
    ASSERT_TRUE(got) << describe(got.error());
    ASSERT_TRUE(*got == item(seq));
  }
  ::kill(child, SIGKILL);
  ASSERT_TRUE(was_killed(reap(child)));
  for (std::uint32_t seq = 3;; ++seq) {
    auto got = q->get_nowait();
    if (!got) {
      EXPECT_EQ(got.code(), errc::empty);
      break;
    }
    ASSERT_TRUE(*got == item(seq)) << "item " << seq;
  }
  ASSERT_EQ(q->put_nowait(as_bytes("usable")).code(), errc::ok);
  EXPECT_EQ(*q->get_nowait(), to_bytes("usable"));
}

INSTANTIATE_TEST_SUITE_P(Kinds, EveryKind,
                         ::testing::Values(QueueKind::queue, QueueKind::simple_queue,
                                           QueueKind::joinable_queue),
                         kind_name);

// ---------------------------------------------------------------------------
// Bounded queues (Queue and JoinableQueue)

class Bounded : public QueueTest, public ::testing::WithParamInterface<QueueKind> {};

TEST_P(Bounded, HoldsExactlyMaxsizeItemsThenReportsFull) {
  for (std::int64_t maxsize : {1, 3}) {
    auto q = make(GetParam(), maxsize);
    EXPECT_EQ(q->maxsize(), maxsize);
    for (std::int64_t i = 0; i < maxsize; ++i) {
      EXPECT_FALSE(*q->full());
      ASSERT_EQ(q->put_nowait(pattern(8, i)).code(), errc::ok);
    }
    EXPECT_TRUE(*q->full());
    EXPECT_EQ(*q->qsize(), maxsize);
    const auto took = timed([&] { EXPECT_EQ(q->put_nowait(as_bytes("x")).code(), errc::full); });
    EXPECT_LT(took, 100ms);
    EXPECT_EQ(*q->qsize(), maxsize);
    ASSERT_TRUE(q->get_nowait());
    EXPECT_EQ(q->put_nowait(as_bytes("room")).code(), errc::ok);
    EXPECT_EQ(q->put_nowait(as_bytes("x")).code(), errc::full);
  }
}

TEST_P(Bounded, TimedPutOnAFullQueueEndsNoEarlierThanItsDeadline) {
  auto q = make(GetParam(), 2);
  ASSERT_EQ(q->put_nowait(as_bytes("a")).code(), errc::ok);
  ASSERT_EQ(q->put_nowait(as_bytes("b")).code(), errc::ok);
  for (auto wait : {1ms, 15ms, 40ms}) {
    const auto deadline = Deadline::after(wait);
    const auto start = Deadline::Clock::now();
    EXPECT_EQ(q->put(as_bytes("c"), deadline).code(), errc::full);
    const auto ended = Deadline::Clock::now();
    EXPECT_GE(ended + 1ms, deadline.when()) << wait.count() << " ms";
    EXPECT_LT(ended - start, 1s);
  }
  EXPECT_EQ(*q->qsize(), 2);
}

TEST_P(Bounded, BlockedPutCompletesWhenAChildMakesRoom) {
  auto q = make(GetParam(), 1);
  ASSERT_EQ(q->put_nowait(as_bytes("first")).code(), errc::ok);
  const pid_t parent = ::getpid();
  const pid_t child = fork_child([&] {
    if (!asleep_soon(parent)) return 1;
    auto got = q->get(soon());
    return got && *got == to_bytes("first") ? 0 : 2;
  });
  EXPECT_EQ(q->put(as_bytes("second"), soon()).code(), errc::ok);
  EXPECT_TRUE(exited_cleanly(reap(child)));
  EXPECT_EQ(*q->get_nowait(), to_bytes("second"));
}

TEST_P(Bounded, ProducerKilledWhileBlockedOnAFullQueueLeavesItUsable) {
  auto q = make(GetParam(), 2);
  ASSERT_EQ(q->put_nowait(as_bytes("a")).code(), errc::ok);
  ASSERT_EQ(q->put_nowait(as_bytes("b")).code(), errc::ok);
  Doorbell started;
  const pid_t child = fork_child([&] {
    started.ring();
    return q->put(as_bytes("never"), soon()) ? 1 : 2;
  });
  ASSERT_TRUE(started.await());
  ASSERT_TRUE(asleep_soon(child));
  ::kill(child, SIGKILL);
  ASSERT_TRUE(was_killed(reap(child)));
  EXPECT_EQ(*q->get(soon()), to_bytes("a"));
  EXPECT_EQ(q->put_nowait(as_bytes("c")).code(), errc::ok);
  EXPECT_EQ(q->put_nowait(as_bytes("d")).code(), errc::full);
  EXPECT_EQ(*q->get(soon()), to_bytes("b"));
  EXPECT_EQ(*q->get(soon()), to_bytes("c"));
}

TEST_P(Bounded, ConsumerKilledWhileBlockedOnAnEmptyQueueLeavesItUsable) {
  auto q = make(GetParam(), 2);
  Doorbell started;
  const pid_t child = fork_child([&] {
    started.ring();
    return q->get(soon()) ? 1 : 2;
  });
  ASSERT_TRUE(started.await());
  ASSERT_TRUE(asleep_soon(child));
  ::kill(child, SIGKILL);
  ASSERT_TRUE(was_killed(reap(child)));
  ASSERT_EQ(q->put_nowait(as_bytes("for a survivor")).code(), errc::ok);
  EXPECT_EQ(*q->get(soon()), to_bytes("for a survivor"));
}

INSTANTIATE_TEST_SUITE_P(Kinds, Bounded,
                         ::testing::Values(QueueKind::queue, QueueKind::joinable_queue), kind_name);

// ---------------------------------------------------------------------------
// Options and declarations

TEST_F(QueueTest, InvalidOptionsAreRefusedAndLeaveNothingBehind) {
  const std::pair<QueueOptions, QueueStorageOptions> bad[] = {
      {{QueueKind::queue, kQueueMaxMaxsize + 1}, {}},
      {{QueueKind::joinable_queue, std::int64_t{1} << 40}, {}},
      {{QueueKind::simple_queue, 1}, {}},
      {{QueueKind::simple_queue, -1}, {}},
      {{static_cast<QueueKind>(7), 0}, {}},
      {{QueueKind::queue, 0}, {kMinQueueStorageBytes - 1}},
      {{QueueKind::queue, 0}, {kMaxQueueStorageBytes + 1}},
  };
  for (const auto& [options, storage] : bad) {
    EXPECT_EQ(make_queue(options, storage).code(), errc::invalid_argument)
        << to_string(options.kind) << " maxsize " << options.maxsize << " storage "
        << storage.storage_bytes;
  }
}

TEST_F(QueueTest, MaxsizeAtOrBelowZeroMeansUnboundedAndTheLimitIsAccepted) {
  auto negative = make(QueueKind::queue, -5);
  EXPECT_EQ(negative->maxsize(), 0);
  EXPECT_FALSE(*negative->full());
  auto largest = make(QueueKind::joinable_queue, kQueueMaxMaxsize);
  EXPECT_EQ(largest->maxsize(), kQueueMaxMaxsize);
}

TEST_F(QueueTest, CapabilitiesDeclareWhatTheImplementationDoes) {
  const auto caps = queue_capabilities();
  EXPECT_TRUE(caps.queue && caps.simple_queue && caps.joinable_queue && caps.qsize);
  EXPECT_TRUE(caps.put_visible_at_once);
  EXPECT_EQ(caps.max_maxsize, 2147483647);
  EXPECT_EQ(caps.max_item_bytes, 64 * kMiB);
  EXPECT_EQ(caps.min_storage_bytes, kDefaultQueueStorageBytes);
  EXPECT_EQ(caps.serialization_failure, SerializationFailureEffect::reported_by_put);
  EXPECT_EQ(caps.unconsumed_exit, UnconsumedExitEffect::exits_at_once);
  EXPECT_EQ(caps.killed_consumer, KilledProcessEffect::unaffected);
  EXPECT_EQ(caps.killed_producer, KilledProcessEffect::unaffected);
  EXPECT_EQ(make_backend()->capabilities().queue.min_storage_bytes, caps.min_storage_bytes);
  EXPECT_EQ(queue_capabilities({1000}).min_storage_bytes, 1024u);
}

// min_storage_bytes: items adding up to it, each counted with 64 bytes of
// overhead, all fit in an unbounded queue.
TEST_F(QueueTest, DeclaredStorageHoldsItemsCountedWithTheirOverhead) {
  const QueueStorageOptions storage{64 * 1024};
  auto q = make(QueueKind::queue, 0, storage.storage_bytes);
  const auto budget = queue_capabilities(storage).min_storage_bytes;
  std::uint64_t used = 0;
  for (std::uint32_t i = 0;; ++i) {
    const std::uint64_t size = (i * 131) % 700;
    if (used + size + 64 > budget) break;
    ASSERT_EQ(q->put_nowait(pattern(size, i)).code(), errc::ok) << "after " << used << " bytes";
    used += size + 64;
  }
}

TEST_F(QueueTest, TheBackendMakesAndImportsReferenceQueues) {
  auto backend = make_backend();
  auto made = backend->make_queue({QueueKind::joinable_queue, 4});
  ASSERT_TRUE(made);
  EXPECT_EQ((*made)->maxsize(), 4);
  auto imported = backend->import_queue(with_dup(*(*made)->export_handle()));
  ASSERT_TRUE(imported);
  ASSERT_EQ((*made)->put_nowait(as_bytes("x")).code(), errc::ok);
  EXPECT_EQ(*(*imported)->qsize(), 1);
  EXPECT_EQ(backend->make_queue({QueueKind::simple_queue, 3}).code(), errc::invalid_argument);
}

// ---------------------------------------------------------------------------
// JoinableQueue accounting

TEST_F(QueueTest, TaskDoneCountsPutsAndRefusesOneTooMany) {
  auto q = make(QueueKind::joinable_queue);
  EXPECT_EQ(q->task_done().code(), errc::too_many_task_done);
  ASSERT_EQ(q->put_nowait(as_bytes("a")).code(), errc::ok);
  ASSERT_EQ(q->put_nowait(as_bytes("b")).code(), errc::ok);
  EXPECT_EQ(q->join(Deadline::now()).code(), errc::timeout);
  EXPECT_EQ(q->task_done().code(), errc::ok) << "task_done follows puts, not gets";
  EXPECT_EQ(q->task_done().code(), errc::ok);
  EXPECT_EQ(q->task_done().code(), errc::too_many_task_done);
  EXPECT_EQ(q->join(Deadline::now()).code(), errc::ok);
  EXPECT_EQ(*q->qsize(), 2) << "task_done takes nothing out";
  ASSERT_EQ(q->put_nowait(as_bytes("c")).code(), errc::ok);
  EXPECT_EQ(q->join(Deadline::now()).code(), errc::timeout)
      << "the refused task_done changed nothing";
  EXPECT_EQ(q->task_done().code(), errc::ok);
  EXPECT_EQ(q->join(Deadline::now()).code(), errc::ok);
}

TEST_F(QueueTest, JoinTimesOutNoEarlierThanItsDeadline) {
  auto q = make(QueueKind::joinable_queue);
  ASSERT_EQ(q->put_nowait(as_bytes("a")).code(), errc::ok);
  for (auto wait : {0ms, 1ms, 15ms, 40ms}) {
    const auto deadline = Deadline::after(wait);
    const auto start = Deadline::Clock::now();
    EXPECT_EQ(q->join(deadline).code(), errc::timeout);
    const auto ended = Deadline::Clock::now();
    EXPECT_GE(ended + 1ms, deadline.when()) << wait.count() << " ms";
    EXPECT_LT(ended - start, 1s);
  }
}

TEST_F(QueueTest, JoinReturnsAfterTheLastTaskDoneInAChild) {
  auto q = make(QueueKind::joinable_queue);
  ASSERT_EQ(q->put_nowait(as_bytes("a")).code(), errc::ok);
  ASSERT_EQ(q->put_nowait(as_bytes("b")).code(), errc::ok);
  const pid_t parent = ::getpid();
  const pid_t child = fork_child([&] {
    if (!q->get(soon()) || !q->task_done()) return 1;
    if (!asleep_soon(parent)) return 2;
    if (!q->get(soon()) || !q->task_done()) return 3;
    return 0;
  });
  EXPECT_EQ(q->join(soon()).code(), errc::ok);
  EXPECT_TRUE(exited_cleanly(reap(child)));
  EXPECT_TRUE(*q->empty());
}

TEST_F(QueueTest, TaskDoneAndJoinAreUnsupportedOnOtherKinds) {
  for (auto kind : {QueueKind::queue, QueueKind::simple_queue}) {
    auto q = make(kind);
    ASSERT_EQ(q->put_nowait(as_bytes("a")).code(), errc::ok);
    EXPECT_EQ(q->task_done().code(), errc::unsupported);
    EXPECT_EQ(q->join(Deadline::now()).code(), errc::unsupported);
  }
}

// ---------------------------------------------------------------------------
// Many processes

// Two producers and two consumers in four children through a queue of 4:
// every item arrives exactly once, intact, in its producer's order.
TEST_F(QueueTest, ItemsFromSeveralProducersArriveExactlyOnceInProducerOrder) {
  constexpr std::uint32_t kPerProducer = 3000;
  auto q = make(QueueKind::queue, 4);
  auto item = [](std::uint32_t producer, std::uint32_t seq) {
    Bytes bytes = pattern(8 + (seq * 13 + producer) % 200, seq * 2 + producer);
    std::memcpy(bytes.data(), &producer, 4);
    std::memcpy(bytes.data() + 4, &seq, 4);
    return bytes;
  };
  Doorbell reports[2];
  std::vector<pid_t> consumers;
  for (int c = 0; c < 2; ++c) {
    consumers.push_back(fork_child([&, c] {
      std::vector<std::uint32_t> taken;  // producer, seq pairs
      std::uint32_t last[2] = {0, 0};
      bool seen[2] = {false, false};
      for (;;) {
        auto got = q->get(soon());
        if (!got) return 1;
        if (got->empty()) break;  // the sentinel
        std::uint32_t producer, seq;
        std::memcpy(&producer, got->data(), 4);
        std::memcpy(&seq, got->data() + 4, 4);
        if (producer > 1 || *got != item(producer, seq)) return 2;
        if (seen[producer] && seq <= last[producer]) return 3;
        seen[producer] = true;
        last[producer] = seq;
        taken.insert(taken.end(), {producer, seq});
      }
      const auto bytes = taken.size() * sizeof(std::uint32_t);
      return ::write(reports[c].write_fd(), taken.data(), bytes) == static_cast<ssize_t>(bytes) ? 0
                                                                                                : 4;
    }));
  }
  std::vector<pid_t> producers;
  for (std::uint32_t p = 0; p < 2; ++p) {
    producers.push_back(fork_child([&, p] {
      for (std::uint32_t seq = 0; seq < kPerProducer; ++seq) {
        if (!q->put(item(p, seq), soon())) return 1;
      }
      return 0;
    }));
  }
  for (pid_t producer : producers) EXPECT_TRUE(exited_cleanly(reap(producer, 60s)));
  for (int c = 0; c < 2; ++c) ASSERT_EQ(q->put(Bytes{}, soon()).code(), errc::ok);
  std::map<std::pair<std::uint32_t, std::uint32_t>, int> count;
  for (int c = 0; c < 2; ++c) {
    const int status = reap(consumers[c], 60s);
    EXPECT_TRUE(exited_cleanly(status)) << "consumer " << c << " status " << status;
    for (;;) {
      std::uint32_t pair[2];
      pollfd entry{reports[c].read_fd(), POLLIN, 0};
      if (::poll(&entry, 1, 0) <= 0 || ::read(entry.fd, pair, sizeof pair) != sizeof pair) break;
      ++count[{pair[0], pair[1]}];
    }
  }
  EXPECT_EQ(count.size(), 2u * kPerProducer);
  for (const auto& [key, times] : count) EXPECT_EQ(times, 1) << key.first << "/" << key.second;
  EXPECT_TRUE(*q->empty());
}

// ---------------------------------------------------------------------------
// import_queue of tokens it did not make

struct BadToken {
  std::string name;
  // Makes the bad token from a good one; descriptors it opens go to `opened`.
  HandleToken (*make)(const HandleToken& good, std::vector<int>& opened);
};

void PrintTo(const BadToken& t, std::ostream* os) { *os << t.name; }

int sealed_memfd(std::uint64_t bytes, bool seal) {
  const int fd = ::memfd_create("not-a-queue", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd >= 0 && ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 && seal) {
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
  }
  return fd;
}

HandleToken replace_fd(const HandleToken& good, int fd, std::vector<int>& opened) {
  HandleToken token = good;
  token.fds = {fd};
  if (fd >= 0) opened.push_back(fd);
  return token;
}

class QueueImportOf : public QueueTest, public ::testing::WithParamInterface<BadToken> {};

TEST_P(QueueImportOf, IsAnInvalidArgumentAndTakesNoDescriptor) {
  auto q = make(QueueKind::queue, 3, 4096);
  auto good = q->export_handle();
  ASSERT_TRUE(good);
  std::vector<int> opened;
  const HandleToken bad = GetParam().make(*good, opened);
  EXPECT_EQ(import_queue(bad).code(), errc::invalid_argument);
  for (int fd : opened) EXPECT_EQ(::close(fd), 0) << "the importer closed descriptor " << fd;
  EXPECT_GE(::fcntl(good->fds[0], F_GETFD), 0);
  EXPECT_EQ(q->put_nowait(as_bytes("still fine")).code(), errc::ok);
}

HandleToken with_data(const HandleToken& good, std::string data, std::vector<int>& opened) {
  HandleToken token = good;
  token.data = std::move(data);
  token.fds = {::dup(good.fds[0])};
  opened.push_back(token.fds[0]);
  return token;
}

constexpr std::uint64_t kGoodMapBytes = 4096 + 4096;  // header page + the 4096-byte ring

INSTANTIATE_TEST_SUITE_P(Tokens, QueueImportOf,
                         ::testing::Values(
                             BadToken{"WrongKind",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        auto t = with_data(good, good.data, opened);
                                        t.kind = "ipcc.reference.connection/1";
                                        return t;
                                      }},
                             BadToken{"NoDescriptor",
                                      [](const HandleToken& good, std::vector<int>&) {
                                        auto t = good;
                                        t.fds.clear();
                                        return t;
                                      }},
                             BadToken{"TwoDescriptors",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        auto t = with_data(good, good.data, opened);
                                        t.fds.push_back(::dup(good.fds[0]));
                                        opened.push_back(t.fds.back());
                                        return t;
                                      }},
                             BadToken{"NegativeDescriptor",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return replace_fd(good, -1, opened);
                                      }},
                             BadToken{"ClosedDescriptor",
                                      [](const HandleToken& good, std::vector<int>&) {
                                        const int fd = ::dup(good.fds[0]);
                                        ::close(fd);
                                        auto t = good;
                                        t.fds = {fd};
                                        return t;
                                      }},
                             BadToken{"PipeDescriptor",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        int fds[2];
                                        if (::pipe2(fds, O_CLOEXEC) != 0) return good;
                                        opened.push_back(fds[1]);
                                        return replace_fd(good, fds[0], opened);
                                      }},
                             BadToken{"UnsealedSegmentOfTheRightSize",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return replace_fd(good, sealed_memfd(kGoodMapBytes, false),
                                                          opened);
                                      }},
                             BadToken{"SealedSegmentWithoutAHeader",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return replace_fd(good, sealed_memfd(kGoodMapBytes, true),
                                                          opened);
                                      }},
                             BadToken{"OtherVersion",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(
                                            good, "v=2;kind=queue;maxsize=3;storage=4096", opened);
                                      }},
                             BadToken{"OtherQueueKind",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(
                                            good, "v=1;kind=joinable_queue;maxsize=3;storage=4096",
                                            opened);
                                      }},
                             BadToken{"UnknownQueueKind",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(
                                            good, "v=1;kind=stack;maxsize=3;storage=4096", opened);
                                      }},
                             BadToken{"OtherMaxsize",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(
                                            good, "v=1;kind=queue;maxsize=4;storage=4096", opened);
                                      }},
                             BadToken{"OtherStorage",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(
                                            good, "v=1;kind=queue;maxsize=3;storage=8192", opened);
                                      }},
                             BadToken{"ExtraField",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(good, good.data + ";x=1", opened);
                                      }},
                             BadToken{"MalformedNumber",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(
                                            good, "v=1;kind=queue;maxsize=3x;storage=4096", opened);
                                      }},
                             BadToken{"EmptyData",
                                      [](const HandleToken& good, std::vector<int>& opened) {
                                        return with_data(good, "", opened);
                                      }}),
                         [](const ::testing::TestParamInfo<BadToken>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace ipcc::reference::testing
