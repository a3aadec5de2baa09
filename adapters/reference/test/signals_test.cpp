// Signals around the reference Pipe's system calls: EINTR from a storm of
// SIGALRMs (handler installed without SA_RESTART) must not break a transfer
// or shorten a timed wait, and a send to a pipe without readers reports
// broken_pipe without killing the process or touching its SIGPIPE state.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "support.h"

namespace ipcc::reference::testing {
namespace {

// Saves a signal's disposition and the thread's signal mask. The destructor
// blocks the signal, drops any instance of it left pending (so none is
// delivered, whatever the saved disposition) and restores both.
class SavedSignal {
 public:
  explicit SavedSignal(int sig) : sig_(sig) {
    sigaction(sig_, nullptr, &action_);
    pthread_sigmask(SIG_SETMASK, nullptr, &mask_);
  }
  ~SavedSignal() {
    set_blocked(true);
    sigset_t only = just();
    const timespec zero{};
    while (sigtimedwait(&only, nullptr, &zero) == sig_) {
    }
    sigaction(sig_, &action_, nullptr);
    pthread_sigmask(SIG_SETMASK, &mask_, nullptr);
  }
  SavedSignal(const SavedSignal&) = delete;
  SavedSignal& operator=(const SavedSignal&) = delete;

  // Installs `handler` (or SIG_DFL) without SA_RESTART.
  void set_handler(void (*handler)(int)) const {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(sig_, &action, nullptr);
  }
  void set_blocked(bool blocked) const {
    sigset_t only = just();
    pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &only, nullptr);
  }

 private:
  sigset_t just() const {
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig_);
    return only;
  }
  int sig_;
  struct sigaction action_ {};
  sigset_t mask_{};
};

std::atomic<int> g_alarms{0};
void on_alarm(int) { g_alarms.fetch_add(1, std::memory_order_relaxed); }

// SIGALRM every `interval` to a no-op handler without SA_RESTART, so blocking
// system calls fail with EINTR. The destructor disarms the timer; `saved_`
// then drops any SIGALRM still pending and restores the old handler.
class SignalStorm {
 public:
  explicit SignalStorm(std::chrono::microseconds interval) {
    g_alarms = 0;
    saved_.set_handler(&on_alarm);
    const auto usec = static_cast<suseconds_t>(interval.count());
    itimerval timer{{0, usec}, {0, usec}};
    setitimer(ITIMER_REAL, &timer, nullptr);
  }
  ~SignalStorm() {
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
  }
  SignalStorm(const SignalStorm&) = delete;
  SignalStorm& operator=(const SignalStorm&) = delete;

  int fired() const { return g_alarms.load(); }

 private:
  SavedSignal saved_{SIGALRM};
};

std::string kind_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "Duplex" : "Simplex";
}

class Eintr : public ReferencePipeTest, public ::testing::WithParamInterface<bool> {};

TEST_P(Eintr, LargeMessagesArriveIntactWhileSignalsInterruptBothSides) {
  auto ends = make_ends(GetParam());
  std::vector<Bytes> messages;
  for (std::size_t size : {std::size_t{1} << 20, (std::size_t{3} << 20) + 1, std::size_t{0},
                           std::size_t{17}, std::size_t{70'000}, std::size_t{5} << 20}) {
    messages.push_back(pattern(size, static_cast<std::uint32_t>(messages.size())));
  }
  SignalStorm storm(100us);
  // The writer blocks in writev (the messages exceed the pipe's buffer) while
  // the reader blocks in ppoll and read; both get interrupted. Each side
  // closes its end when it stops, so the other cannot block forever.
  errc send_outcome = errc::ok;
  std::thread writer([&] {
    for (const auto& m : messages) {
      send_outcome = ends.second->send_bytes(m).code();
      if (send_outcome != errc::ok) break;
    }
    (void)ends.second->close();
  });
  std::vector<Result<Bytes>> received;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    received.push_back(recv_soon(*ends.first));
    if (!received.back()) break;
  }
  const auto end = recv_soon(*ends.first);
  (void)ends.first->close();
  writer.join();

  EXPECT_EQ(send_outcome, errc::ok);
  ASSERT_EQ(received.size(), messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    ASSERT_TRUE(received[i]) << "message " << i << ": " << describe(received[i].error());
    EXPECT_TRUE(*received[i] == messages[i]) << "message " << i << " differs";
  }
  EXPECT_EQ(end.code(), errc::eof);
  EXPECT_GT(storm.fired(), 0) << "no signal was delivered: the test proves nothing";
}

// Waits until `count` more SIGALRMs were handled (by a thread that does not
// block them: here always the test's main thread).
bool await_alarms(int count) {
  const int target = g_alarms.load() + count;
  return spin_until([&] { return g_alarms.load() >= target; });
}

// The writer pauses for a few signals after each piece, so they land on this
// thread while it is blocked waiting for the next piece: in ppoll at a frame
// start, in read mid-header, mid-payload (buffered) and in a direct read.
TEST_P(Eintr, ReceiverBlockedInEveryKindOfReadSurvivesInterruptions) {
  auto ends = make_ends(GetParam());
  const Bytes large = pattern(100'000, 1);
  const Bytes small = pattern(10, 2);
  const Wire wire = concat({be32(100'000), to_wire(large), be32(10), to_wire(small), be32(0)});
  SignalStorm storm(200us);
  Dribbler writer(fd_of(*ends.second), fd_of(*ends.first), wire, {2, 3, 40'000, 1, 4093, 2},
                  [] { return await_alarms(3); });
  auto a = recv_soon(*ends.first);
  auto b = a ? recv_soon(*ends.first) : a;
  auto c = b ? recv_soon(*ends.first) : b;
  ASSERT_TRUE(c) << describe(c.error());  // the writer gives up when destroyed
  EXPECT_TRUE(writer.finish());
  EXPECT_TRUE(*a == large);
  EXPECT_TRUE(*b == small);
  EXPECT_TRUE(c->empty());
}

// A raw reader thread drains the pipe a little at a time, pausing for a few
// signals, which land on this thread while it is blocked in send on the full
// pipe.
TEST_P(Eintr, SenderBlockedOnAFullChannelSurvivesInterruptions) {
  auto ends = make_ends(GetParam());
  const Bytes message = pattern(1 << 20, 3);
  const Wire expected = concat({be32(1 << 20), to_wire(message)});
  SignalStorm storm(200us);
  Wire got;
  std::thread reader([&, fd = fd_of(*ends.first)] {
    block_test_signals();
    while (got.size() < expected.size()) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 10'000) <= 0) return;
      std::uint8_t chunk[16384];
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) return;
      got.insert(got.end(), chunk, chunk + n);
      if (!await_alarms(2)) return;
    }
  });
  const auto sent = ends.second->send_bytes(message);
  (void)ends.second->close();  // if the send gave up, the reader sees eof
  reader.join();
  EXPECT_EQ(sent.code(), errc::ok) << (sent ? "" : describe(sent.error()));
  EXPECT_TRUE(got == expected) << got.size() << " of " << expected.size() << " bytes";
}

TEST_P(Eintr, TimedWaitsKeepTheirDeadlineWhileSignalsInterrupt) {
  auto ends = make_ends(GetParam());
  SignalStorm storm(100us);
  const auto poll_deadline = Deadline::after(30ms);
  auto polled = ends.first->poll(poll_deadline);
  const auto polled_at = Deadline::Clock::now();
  const auto recv_deadline = Deadline::after(30ms);
  auto received = ends.first->recv_bytes(std::nullopt, recv_deadline);
  const auto received_at = Deadline::Clock::now();

  ASSERT_TRUE(polled);
  EXPECT_FALSE(*polled);
  EXPECT_GE(polled_at + 1ms, poll_deadline.when());
  EXPECT_EQ(received.code(), errc::timeout);
  EXPECT_GE(received_at + 1ms, recv_deadline.when());
  EXPECT_GT(storm.fired(), 0);
}

INSTANTIATE_TEST_SUITE_P(Kinds, Eintr, ::testing::Bool(), kind_name);

// ---------------------------------------------------------------------------
// SIGPIPE

bool sigpipe_pending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

sigset_t current_mask() {
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  return mask;
}

bool same_signals(const sigset_t& a, const sigset_t& b) {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&a, sig) != sigismember(&b, sig)) return false;
  }
  return true;
}

std::atomic<int> g_sigpipes{0};
void on_sigpipe(int) { g_sigpipes.fetch_add(1, std::memory_order_relaxed); }

// SIGPIPE set up for one test (a handler or SIG_DFL, blocked or not); the
// destructor restores what was there.
class SigpipeState : public SavedSignal {
 public:
  SigpipeState(void (*handler)(int), bool blocked) : SavedSignal(SIGPIPE) {
    g_sigpipes = 0;
    set_handler(handler);
    set_blocked(blocked);
  }
};

// A Pipe whose receiving side is gone: sends must fail with broken_pipe.
PipeEnds without_reader(bool duplex) {
  auto ends = make_ends(duplex);
  (void)ends.first->close();
  return ends;
}

class Sigpipe : public ReferencePipeTest, public ::testing::WithParamInterface<bool> {};

TEST_P(Sigpipe, SendWithoutReaderReportsBrokenPipeUnderDefaultDisposition) {
  SigpipeState state(SIG_DFL, /*blocked=*/false);
  auto ends = without_reader(GetParam());
  const sigset_t before = current_mask();
  auto sent = ends.second->send_bytes(as_bytes("nobody listens"));
  // Still running: SIG_DFL would have terminated the process.
  EXPECT_EQ(sent.code(), errc::broken_pipe);
  EXPECT_FALSE(sigpipe_pending());
  EXPECT_TRUE(same_signals(current_mask(), before)) << "the signal mask changed";
  // A second send behaves the same.
  EXPECT_EQ(ends.second->send_bytes(as_bytes("again")).code(), errc::broken_pipe);
  EXPECT_FALSE(sigpipe_pending());
}

TEST_P(Sigpipe, SendWithoutReaderRunsNoSigpipeHandler) {
  SigpipeState state(&on_sigpipe, /*blocked=*/false);
  auto ends = without_reader(GetParam());
  EXPECT_EQ(ends.second->send_bytes(as_bytes("x")).code(), errc::broken_pipe);
  EXPECT_EQ(g_sigpipes.load(), 0);
  EXPECT_FALSE(sigpipe_pending());
}

TEST_P(Sigpipe, BlockedSigpipeIsNotLeftPendingBySend) {
  SigpipeState state(SIG_DFL, /*blocked=*/true);
  auto ends = without_reader(GetParam());
  const sigset_t before = current_mask();
  EXPECT_EQ(ends.second->send_bytes(as_bytes("x")).code(), errc::broken_pipe);
  EXPECT_FALSE(sigpipe_pending());
  EXPECT_TRUE(same_signals(current_mask(), before)) << "the signal mask changed";
}

INSTANTIATE_TEST_SUITE_P(Kinds, Sigpipe, ::testing::Bool(), kind_name);

// PipeOptions::host_ignores_sigpipe: with SIGPIPE ignored, as promised, a
// send without reader still reports broken_pipe and leaves nothing pending.
TEST_F(ReferencePipeTest, HostIgnoringSigpipeStillGetsBrokenPipe) {
  SigpipeState state(SIG_IGN, /*blocked=*/false);
  PipeOptions options;
  options.host_ignores_sigpipe = true;
  auto ends = make_pipe(false, options);
  ASSERT_TRUE(ends);
  (void)ends->first->close();
  EXPECT_EQ(ends->second->send_bytes(as_bytes("nobody listens")).code(), errc::broken_pipe);
  EXPECT_FALSE(sigpipe_pending());
}

// A SIGPIPE that was pending before the send is not the reference's to take.
enum class EarlierSigpipe { thread_directed, process_directed };

std::string name_of(EarlierSigpipe earlier) {
  return earlier == EarlierSigpipe::thread_directed ? "ThreadDirected" : "ProcessDirected";
}
void PrintTo(EarlierSigpipe earlier, std::ostream* os) { *os << name_of(earlier); }

class PendingSigpipe : public ReferencePipeTest,
                       public ::testing::WithParamInterface<EarlierSigpipe> {};

TEST_P(PendingSigpipe, StaysPendingAfterAFailedSend) {
  SigpipeState state(SIG_DFL, /*blocked=*/true);
  if (GetParam() == EarlierSigpipe::thread_directed) {
    ASSERT_EQ(pthread_kill(pthread_self(), SIGPIPE), 0);
  } else {
    ASSERT_EQ(kill(getpid(), SIGPIPE), 0);
  }
  ASSERT_TRUE(sigpipe_pending());
  auto ends = without_reader(false);
  const sigset_t before = current_mask();
  EXPECT_EQ(ends.second->send_bytes(as_bytes("x")).code(), errc::broken_pipe);
  EXPECT_TRUE(sigpipe_pending()) << "the send consumed a SIGPIPE it did not cause";
  EXPECT_TRUE(same_signals(current_mask(), before)) << "the signal mask changed";
}

INSTANTIATE_TEST_SUITE_P(Earlier, PendingSigpipe,
                         ::testing::Values(EarlierSigpipe::thread_directed,
                                           EarlierSigpipe::process_directed),
                         [](const auto& info) { return name_of(info.param); });

}  // namespace
}  // namespace ipcc::reference::testing
