// bench/pipe_bench.cpp: the reference message Pipe next to raw kernel channels
// and CPython's multiprocessing.Pipe, two processes per benchmark.
//
// What is measured
//   throughput/<impl>/<size>/<placement>
//     One-way message rate. The child sends fixed-size messages as fast as it
//     can; the parent (this process) receives them. One benchmark iteration =
//     one message received; items/s = messages/s, bytes/s = payload bytes/s.
//     Every message carries its sequence number in its first 8 bytes; the
//     parent checks each message's length and sequence number and, at the
//     end, that the bytes received equal iterations x size. Any mismatch
//     aborts the benchmark with SkipWithError. Counters: waits_per_1k = times
//     the parent (receiver) blocked per 1000 messages (voluntary context
//     switches in the timed loop); sender_waits_per_1k = the same for the
//     child over its whole life (warm-up included, so approximate).
//       raw_pipe           pipe(2): one write(2) of exactly N bytes per message,
//                          reads until exactly N bytes arrived (no framing)
//       raw_socketpair     socketpair(AF_UNIX, SOCK_STREAM), the same
//       ref_simplex        ipcc::reference Pipe(duplex=false): send_bytes /
//                          recv_bytes_into (4-byte length prefix, one writev
//                          per message, 64 KiB read-ahead on the receiver)
//       ref_duplex         ipcc::reference Pipe(duplex=true) (a socketpair),
//                          the same calls
//       ref_simplex_ign    ref_simplex made with PipeOptions::host_ignores_sigpipe
//                          (this program ignores SIGPIPE): no signal masking
//       ref_simplex_alloc  ref_simplex receiving with recv_bytes (allocates a
//                          new buffer per message); small sizes only
//       cpython_simplex    CPython multiprocessing.Pipe(duplex=False)
//                          send_bytes/recv_bytes, run by an embedded script
//                          (python3 via popen); 8 B and 1 KiB only
//   pingpong/<impl>/<size>/<placement>
//     Round-trip time: the parent sends N bytes, the child echoes them. One
//     iteration = one round trip, so Time is the mean RTT; counters
//     rtt_p50_us and rtt_p99_us come from per-round-trip clock readings.
//       raw_pipe_pair, raw_socketpair, ref_duplex (one duplex reference Pipe),
//       ref_simplex_pair (two simplex reference Pipes, one per direction)
//
// Placement (decides everything on a small VM; compare only within one):
//   same   parent and child both pinned to CPU 0 (sched_setaffinity)
//   cross  parent on CPU 0, child on CPU 1
//
// How
//   Per benchmark run (Google Benchmark calls the function several times
//   while it sizes the iteration count): create the channel, fork the child
//   (it arms PR_SET_PDEATHSIG, pins itself, closes the parent's ends), then
//   receive a warm-up of >= 10 ms outside the timed loop, then the timed loop.
//   The child stops when the parent closes its ends: a streaming child gets
//   EPIPE (SIGPIPE is ignored), an echoing child gets end of stream; both exit
//   0. The parent then reaps it, waiting at most 5 s before SIGKILL. Nothing
//   sleeps to synchronise: the channel itself is the only hand-off. All times
//   are wall-clock (UseRealTime), since the parent mostly blocks.
//
// Options (besides Google Benchmark's own --benchmark_* flags)
//   --placement=same|cross|both   which placements to register (default both)
//   --benchmark_min_time defaults to 0.2 (seconds) unless given.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bench_process.h"
#include "ipcc/reference/pipe.h"

namespace {

using ipcc::bench::Placement;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Configuration

constexpr int kParentCpu = 0;
int child_cpu(Placement placement) { return placement == Placement::same ? 0 : 1; }
const char* placement_name(Placement placement) {
  return placement == Placement::same ? "same" : "cross";
}

constexpr auto kWarmUp = 10ms;                            // received before the timed loop
constexpr std::size_t kWarmUpBytes = 256 * 1024;          // ... and at least this much data
constexpr auto kReapGrace = 5s;                           // child exit deadline before SIGKILL
constexpr std::size_t kSeqBytes = sizeof(std::uint64_t);  // sequence stamp; sizes >= 8
constexpr std::size_t kMaxRttSamples = std::size_t{1} << 22;

double g_min_time_seconds = 0.2;  // --benchmark_min_time; also the CPython window

using ipcc::bench::Child;
using ipcc::bench::CommandLine;
using ipcc::bench::count_open_fds;
using ipcc::bench::parse_command_line;
using ipcc::bench::errno_text;
using ipcc::bench::kChildIoFailed;
using ipcc::bench::kChildOk;
using ipcc::bench::ScopedPin;

// ---------------------------------------------------------------------------
// File descriptors, CPU pinning, the child process

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};


// ---------------------------------------------------------------------------
// One message over each implementation. Every flavour has the same shape:
//   Send send(message)        -> ok, peer_gone (EPIPE / ECONNRESET), failed
//   int64_t recv(buffer)      -> the message length, kEof, or kFailed

enum class Send { ok, peer_gone, failed };
constexpr std::int64_t kEof = -1;
constexpr std::int64_t kFailed = -2;

// Raw kernel channel: one write of exactly N bytes; read until N bytes came.
struct RawIo {
  int fd;

  Send send(std::span<const std::byte> message) const {
    std::size_t done = 0;
    while (done < message.size()) {
      const ssize_t wrote = ::write(fd, message.data() + done, message.size() - done);
      if (wrote < 0) {
        if (errno == EINTR) continue;
        return errno == EPIPE || errno == ECONNRESET ? Send::peer_gone : Send::failed;
      }
      done += static_cast<std::size_t>(wrote);
    }
    return Send::ok;
  }
  std::int64_t recv(std::span<std::byte> message) const {
    std::size_t done = 0;
    while (done < message.size()) {
      const ssize_t got = ::read(fd, message.data() + done, message.size() - done);
      if (got == 0) return done == 0 ? kEof : kFailed;
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno == ECONNRESET && done == 0 ? kEof : kFailed;
      }
      done += static_cast<std::size_t>(got);
    }
    return static_cast<std::int64_t>(done);
  }
};

Send classify(ipcc::errc code) {
  switch (code) {
    case ipcc::errc::ok: return Send::ok;
    case ipcc::errc::broken_pipe:
    case ipcc::errc::connection_reset: return Send::peer_gone;
    default: return Send::failed;
  }
}
std::int64_t recv_failure(ipcc::errc code) {
  return code == ipcc::errc::eof || code == ipcc::errc::connection_reset ? kEof : kFailed;
}

// Reference Connection: send_bytes / recv_bytes_into (no allocation).
struct RefIo {
  ipcc::Connection* conn;

  Send send(std::span<const std::byte> message) const {
    return classify(conn->send_bytes(message).code());
  }
  std::int64_t recv(std::span<std::byte> message) const {
    auto got = conn->recv_bytes_into(message);
    return got ? *got : recv_failure(got.code());
  }
};

// Reference Connection receiving with recv_bytes (a new buffer per message).
// Only the sequence stamp is copied out, for the check.
struct RefAllocIo {
  ipcc::Connection* conn;

  Send send(std::span<const std::byte> message) const {
    return classify(conn->send_bytes(message).code());
  }
  std::int64_t recv(std::span<std::byte> message) const {
    auto got = conn->recv_bytes();
    if (!got) return recv_failure(got.code());
    std::memcpy(message.data(), got->data(), std::min({kSeqBytes, got->size(), message.size()}));
    return static_cast<std::int64_t>(got->size());
  }
};

// Owns every descriptor / Connection of one benchmark run, split by which
// process keeps it after the fork.
struct Channel {
  std::vector<Fd> parent_fds, child_fds;
  std::vector<std::unique_ptr<ipcc::Connection>> parent_conns, child_conns;

  void close_parent_side() {
    parent_fds.clear();
    for (auto& conn : parent_conns) (void)conn->close();
  }
  void close_child_side() {
    child_fds.clear();
    for (auto& conn : child_conns) (void)conn->close();
  }
};

void stamp(std::span<std::byte> message, std::uint64_t seq) {
  std::memcpy(message.data(), &seq, kSeqBytes);
}
std::uint64_t stamp_of(std::span<const std::byte> message) {
  std::uint64_t seq;
  std::memcpy(&seq, message.data(), kSeqBytes);
  return seq;
}

// ---------------------------------------------------------------------------
// Child bodies

// Streams numbered messages until the parent closes its end.
template <class Tx>
int stream_messages(Tx tx, std::size_t size) {
  std::vector<std::byte> message(size, std::byte{0x5a});
  for (std::uint64_t seq = 0;; ++seq) {
    stamp(message, seq);
    switch (tx.send(message)) {
      case Send::ok: break;
      case Send::peer_gone: return kChildOk;
      case Send::failed: return kChildIoFailed;
    }
  }
}

// Echoes every message until the parent closes its end.
template <class Rx, class Tx>
int echo_messages(Rx rx, Tx tx, std::size_t size) {
  std::vector<std::byte> message(size);
  for (;;) {
    const std::int64_t got = rx.recv(message);
    if (got == kEof) return kChildOk;
    if (got != static_cast<std::int64_t>(size)) return kChildIoFailed;
    switch (tx.send(message)) {
      case Send::ok: break;
      case Send::peer_gone: return kChildOk;
      case Send::failed: return kChildIoFailed;
    }
  }
}

// ---------------------------------------------------------------------------
// Parent side

// Forks the child for `placement` with `body`; the child closes the parent's
// ends first and the parent closes the child's ends right after the fork.
template <class Body>
Child start_child(Placement placement, Channel& channel, Body&& body) {
  Child child = Child::spawn(child_cpu(placement), [&] {
    channel.close_parent_side();
    return body();
  });
  channel.close_child_side();
  return child;
}

// Voluntary context switches (each one is a blocking wait) so far of this
// process (RUSAGE_SELF) or of all reaped children (RUSAGE_CHILDREN).
long voluntary_switches(int who = RUSAGE_SELF) {
  rusage usage{};
  ::getrusage(who, &usage);
  return usage.ru_nvcsw;
}

// Runs `one()` (one message or round trip; false on error) for at least
// kWarmUp and `min_count` times.
template <class One>
bool warm_up(One&& one, std::uint64_t min_count) {
  const auto until = Clock::now() + kWarmUp;
  for (std::uint64_t n = 0; n < min_count || Clock::now() < until; ++n) {
    if (!one()) return false;
  }
  return true;
}

// Common end of a run: close our ends (the child stops), reap the child, and
// turn any failure into SkipWithError. Returns true when the run is valid.
bool finish_run(benchmark::State& state, Channel& channel, Child& child, const std::string& error) {
  channel.close_parent_side();
  const std::string child_error = child.reap(kReapGrace);
  if (error.empty() && child_error.empty()) return true;
  // A child that failed usually explains the parent's error (end of stream).
  const std::string message = error.empty()         ? child_error
                              : child_error.empty() ? error
                                                    : error + " (" + child_error + ")";
  state.SkipWithError(message.c_str());
  return false;
}

template <class Rx, class Tx>
void run_throughput(benchmark::State& state, Placement placement, std::size_t size,
                    Channel& channel, Rx rx, Tx tx) {
  ScopedPin pin(kParentCpu);
  if (!pin.ok()) {
    state.SkipWithError("sched_setaffinity(CPU 0) failed");
    return;
  }
  Child child = start_child(placement, channel, [&] { return stream_messages(tx, size); });
  if (!child.started()) {
    state.SkipWithError(child.fork_error().c_str());
    return;
  }

  std::vector<std::byte> buffer(size);
  std::uint64_t next_seq = 0;
  std::string error;
  auto receive_one = [&]() -> bool {
    const std::int64_t got = rx.recv(buffer);
    if (got != static_cast<std::int64_t>(size)) {
      error = got == kEof      ? "end of stream: the child stopped early"
              : got == kFailed ? "receive failed"
                               : "message of " + std::to_string(got) + " bytes, expected " +
                                     std::to_string(size);
      return false;
    }
    if (stamp_of(buffer) != next_seq) {
      error = "message " + std::to_string(stamp_of(buffer)) + " arrived, expected " +
              std::to_string(next_seq);
      return false;
    }
    ++next_seq;
    return true;
  };

  if (!warm_up(receive_one, std::max<std::uint64_t>(16, kWarmUpBytes / size))) {
    state.SkipWithError(error.c_str());  // the loop below then runs no iteration
  }
  const std::uint64_t first_timed = next_seq;
  std::uint64_t bytes = 0;
  const long waits_before = voluntary_switches();
  for (auto _ : state) {
    if (!receive_one()) {
      state.SkipWithError(error.c_str());
      break;
    }
    bytes += size;
  }
  const long waits = voluntary_switches() - waits_before;
  const std::uint64_t received = next_seq - first_timed;
  const long child_waits_before = voluntary_switches(RUSAGE_CHILDREN);
  if (!finish_run(state, channel, child, error) || state.error_occurred()) return;
  const long child_waits = voluntary_switches(RUSAGE_CHILDREN) - child_waits_before;
  const auto iterations = static_cast<std::uint64_t>(state.iterations());
  if (received != iterations || bytes != iterations * size) {
    const std::string mismatch = "count mismatch: " + std::to_string(received) + " messages / " +
                                 std::to_string(bytes) + " bytes for " +
                                 std::to_string(iterations) + " iterations";
    state.SkipWithError(mismatch.c_str());
    return;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  // How often the receiver found the channel empty and slept: explains most
  // differences between implementations and between placements.
  state.counters["waits_per_1k"] = 1000.0 * static_cast<double>(waits) /
                                   static_cast<double>(std::max<std::uint64_t>(iterations, 1));
  // The same for the sender, over its whole life (warm-up included), so approximate.
  state.counters["sender_waits_per_1k"] = 1000.0 * static_cast<double>(child_waits) /
                                          static_cast<double>(std::max<std::uint64_t>(next_seq, 1));
}

template <class ParentRx, class ParentTx, class ChildRx, class ChildTx>
void run_pingpong(benchmark::State& state, Placement placement, std::size_t size, Channel& channel,
                  ParentTx ptx, ParentRx prx, ChildTx ctx, ChildRx crx) {
  ScopedPin pin(kParentCpu);
  if (!pin.ok()) {
    state.SkipWithError("sched_setaffinity(CPU 0) failed");
    return;
  }
  Child child = start_child(placement, channel, [&] { return echo_messages(crx, ctx, size); });
  if (!child.started()) {
    state.SkipWithError(child.fork_error().c_str());
    return;
  }

  std::vector<std::byte> out(size, std::byte{0xa5});
  std::vector<std::byte> in(size);
  std::uint64_t seq = 0;
  std::string error;
  auto round_trip = [&]() -> bool {
    stamp(out, seq);
    if (ptx.send(out) != Send::ok) {
      error = "send failed";
      return false;
    }
    const std::int64_t got = prx.recv(in);
    if (got != static_cast<std::int64_t>(size) || stamp_of(in) != seq) {
      error = got < 0 ? "receive failed or end of stream" : "wrong echo";
      return false;
    }
    ++seq;
    return true;
  };

  if (!warm_up(round_trip, 64)) state.SkipWithError(error.c_str());
  std::vector<std::uint32_t> samples_ns;  // one clock reading per round trip
  samples_ns.reserve(
      std::min<std::size_t>(static_cast<std::size_t>(state.max_iterations), kMaxRttSamples));
  const std::uint64_t first_timed = seq;
  auto last = Clock::now();
  for (auto _ : state) {
    if (!round_trip()) {
      state.SkipWithError(error.c_str());
      break;
    }
    const auto now = Clock::now();
    if (samples_ns.size() < kMaxRttSamples) {
      samples_ns.push_back(
          static_cast<std::uint32_t>(std::min<std::int64_t>((now - last).count(), UINT32_MAX)));
    }
    last = now;
  }
  const std::uint64_t round_trips = seq - first_timed;
  if (!finish_run(state, channel, child, error) || state.error_occurred()) return;
  if (round_trips != static_cast<std::uint64_t>(state.iterations())) {
    state.SkipWithError("round-trip count mismatch");
    return;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * size));
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
// Implementations

enum class Impl {
  raw_pipe,  // throughput; ping-pong uses a pair of pipes
  raw_socketpair,
  ref_simplex,  // throughput; ping-pong uses two simplex Pipes
  ref_duplex,
  ref_simplex_alloc,  // throughput only
  ref_simplex_ign,    // throughput only: PipeOptions::host_ignores_sigpipe (this process ignores it)
};

const char* throughput_name(Impl impl) {
  switch (impl) {
    case Impl::raw_pipe: return "raw_pipe";
    case Impl::raw_socketpair: return "raw_socketpair";
    case Impl::ref_simplex: return "ref_simplex";
    case Impl::ref_duplex: return "ref_duplex";
    case Impl::ref_simplex_alloc: return "ref_simplex_alloc";
    case Impl::ref_simplex_ign: return "ref_simplex_ign";
  }
  return "?";
}
const char* pingpong_name(Impl impl) {
  switch (impl) {
    case Impl::raw_pipe: return "raw_pipe_pair";
    case Impl::raw_socketpair: return "raw_socketpair";
    case Impl::ref_simplex: return "ref_simplex_pair";
    case Impl::ref_duplex: return "ref_duplex";
    case Impl::ref_simplex_alloc: return "ref_simplex_alloc";
    case Impl::ref_simplex_ign: return "ref_simplex_ign";
  }
  return "?";
}

// Creates a raw channel: a pipe (in = read end, out = write end) or a
// socketpair (both ends bidirectional). Errors go to `error`.
bool make_raw(bool socket, Fd& in, Fd& out, std::string& error) {
  int fds[2];
  const int made =
      socket ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) : ::pipe2(fds, O_CLOEXEC);
  if (made != 0) {
    error = errno_text(socket ? "socketpair" : "pipe2", errno);
    return false;
  }
  in = Fd(fds[0]);
  out = Fd(fds[1]);
  return true;
}

// Creates a reference Pipe: first = receive end (simplex), second = send end.
bool make_ref(bool duplex, std::unique_ptr<ipcc::Connection>& first,
              std::unique_ptr<ipcc::Connection>& second, std::string& error,
              const ipcc::reference::PipeOptions& options = {}) {
  auto ends = ipcc::reference::make_pipe(duplex, options);
  if (!ends) {
    error = "make_pipe failed: " + std::string(ipcc::to_string(ends.code()));
    return false;
  }
  first = std::move(ends->first);
  second = std::move(ends->second);
  return true;
}

void bm_throughput(benchmark::State& state, Impl impl, std::size_t size, Placement placement) {
  Channel channel;
  std::string error;
  switch (impl) {
    case Impl::raw_pipe:
    case Impl::raw_socketpair: {
      Fd in, out;
      if (!make_raw(impl == Impl::raw_socketpair, in, out, error)) break;
      const RawIo rx{in.get()}, tx{out.get()};
      channel.parent_fds.push_back(std::move(in));
      channel.child_fds.push_back(std::move(out));
      return run_throughput(state, placement, size, channel, rx, tx);
    }
    case Impl::ref_simplex:
    case Impl::ref_duplex:
    case Impl::ref_simplex_alloc:
    case Impl::ref_simplex_ign: {
      std::unique_ptr<ipcc::Connection> first, second;
      ipcc::reference::PipeOptions options;
      options.host_ignores_sigpipe = impl == Impl::ref_simplex_ign;  // main() ignores SIGPIPE
      if (!make_ref(impl == Impl::ref_duplex, first, second, error, options)) break;
      ipcc::Connection* receiver = first.get();
      const RefIo tx{second.get()};
      channel.parent_conns.push_back(std::move(first));
      channel.child_conns.push_back(std::move(second));
      if (impl == Impl::ref_simplex_alloc) {
        return run_throughput(state, placement, size, channel, RefAllocIo{receiver}, tx);
      }
      return run_throughput(state, placement, size, channel, RefIo{receiver}, tx);
    }
  }
  state.SkipWithError(error.empty() ? "unknown implementation" : error.c_str());
}

void bm_pingpong(benchmark::State& state, Impl impl, std::size_t size, Placement placement) {
  Channel channel;
  std::string error;
  switch (impl) {
    case Impl::raw_pipe: {  // parent -> child on one pipe, child -> parent on another
      Fd down_in, down_out, up_in, up_out;
      if (!make_raw(false, down_in, down_out, error) || !make_raw(false, up_in, up_out, error)) {
        break;
      }
      const RawIo ptx{down_out.get()}, prx{up_in.get()}, crx{down_in.get()}, ctx{up_out.get()};
      channel.parent_fds.push_back(std::move(down_out));
      channel.parent_fds.push_back(std::move(up_in));
      channel.child_fds.push_back(std::move(down_in));
      channel.child_fds.push_back(std::move(up_out));
      return run_pingpong(state, placement, size, channel, ptx, prx, ctx, crx);
    }
    case Impl::raw_socketpair: {
      Fd mine, theirs;
      if (!make_raw(true, mine, theirs, error)) break;
      const RawIo parent{mine.get()}, child{theirs.get()};
      channel.parent_fds.push_back(std::move(mine));
      channel.child_fds.push_back(std::move(theirs));
      return run_pingpong(state, placement, size, channel, parent, parent, child, child);
    }
    case Impl::ref_duplex: {
      std::unique_ptr<ipcc::Connection> mine, theirs;
      if (!make_ref(true, mine, theirs, error)) break;
      const RefIo parent{mine.get()}, child{theirs.get()};
      channel.parent_conns.push_back(std::move(mine));
      channel.child_conns.push_back(std::move(theirs));
      return run_pingpong(state, placement, size, channel, parent, parent, child, child);
    }
    case Impl::ref_simplex: {  // two simplex Pipes, one per direction
      std::unique_ptr<ipcc::Connection> down_rx, down_tx, up_rx, up_tx;
      if (!make_ref(false, down_rx, down_tx, error) || !make_ref(false, up_rx, up_tx, error)) {
        break;
      }
      const RefIo ptx{down_tx.get()}, prx{up_rx.get()}, crx{down_rx.get()}, ctx{up_tx.get()};
      channel.parent_conns.push_back(std::move(down_tx));
      channel.parent_conns.push_back(std::move(up_rx));
      channel.child_conns.push_back(std::move(down_rx));
      channel.child_conns.push_back(std::move(up_tx));
      return run_pingpong(state, placement, size, channel, ptx, prx, ctx, crx);
    }
    case Impl::ref_simplex_alloc:
    case Impl::ref_simplex_ign: break;
  }
  state.SkipWithError(error.empty() ? "unsupported implementation" : error.c_str());
}

// ---------------------------------------------------------------------------
// CPython multiprocessing.Pipe(duplex=False), by an embedded script.
//
// The script pins itself (parent CPU) and a forked multiprocessing.Process
// (child CPU), lets the child send_bytes() in a loop, receives with
// recv_bytes() for >= 10 ms of warm-up and then for `window` seconds, closes
// its end (the child gets BrokenPipeError and exits), joins the child with a
// deadline, and prints "<messages> <bytes> <seconds> <child exit code>".
// It dies with us (PR_SET_PDEATHSIG via ctypes) and after 60 s (alarm).

constexpr const char* kPythonScript = R"PY(
import ctypes, os, signal, sys, time
import multiprocessing as mp
size, parent_cpu, child_cpu = map(int, sys.argv[1:4])
window = float(sys.argv[4])
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
signal.alarm(60)
os.sched_setaffinity(0, {parent_cpu})

def produce(writer, reader):
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    os.sched_setaffinity(0, {child_cpu})
    reader.close()
    message = b"\x5a" * size
    send = writer.send_bytes
    try:
        while True:
            send(message)
    except (BrokenPipeError, ConnectionResetError):
        pass

ctx = mp.get_context("fork")
reader, writer = ctx.Pipe(duplex=False)
child = ctx.Process(target=produce, args=(writer, reader))
child.start()
writer.close()
recv = reader.recv_bytes
BATCH = 256
start = time.perf_counter()
while time.perf_counter() - start < 0.01:
    for _ in range(BATCH):
        recv()
count = received = 0
start = time.perf_counter()
deadline = start + window
while True:
    for _ in range(BATCH):
        received += len(recv())
    count += BATCH
    now = time.perf_counter()
    if now >= deadline:
        break
reader.close()
child.join(5)
if child.exitcode is None:
    child.kill()
    child.join()
print(count, received, now - start, child.exitcode, flush=True)
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

void bm_cpython(benchmark::State& state, std::size_t size, Placement placement) {
  if (!on_path("python3")) {
    state.SkipWithError("python3 not found");
    return;
  }
  ::setenv("IPCC_BENCH_PY", kPythonScript, 1);
  char window[32];
  std::snprintf(window, sizeof window, "%.3f", g_min_time_seconds);
  const std::string command = "exec python3 -c 'import os; exec(os.environ[\"IPCC_BENCH_PY\"])' " +
                              std::to_string(size) + " " + std::to_string(kParentCpu) + " " +
                              std::to_string(child_cpu(placement)) + " " + window;
  unsigned long long count = 0, received = 0;
  double seconds = 0;
  int child_status = -1;
  std::string error;
  for (auto _ : state) {  // one iteration = one script run; its window is the time
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      error = errno_text("popen", errno);
    } else {
      const int fields =
          std::fscanf(pipe, "%llu %llu %lf %d", &count, &received, &seconds, &child_status);
      const int status = ::pclose(pipe);
      if (fields != 4 || status != 0) {
        error = "python script failed (exit status " + std::to_string(status) + ")";
      } else if (child_status != 0) {
        error = "python child exited with " + std::to_string(child_status);
      } else if (count == 0 || received != count * size) {
        error = "python byte count mismatch";
      }
    }
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(seconds);
  }
  if (!error.empty()) return;
  state.SetItemsProcessed(static_cast<std::int64_t>(count));
  state.SetBytesProcessed(static_cast<std::int64_t>(received));
}

// ---------------------------------------------------------------------------
// Registration and main

std::string size_label(std::size_t size) {
  if (size >= (1u << 20) && size % (1u << 20) == 0) return std::to_string(size >> 20) + "MiB";
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size >> 10) + "KiB";
  return std::to_string(size) + "B";
}

void register_all(const std::vector<Placement>& placements) {
  constexpr std::size_t kThroughputSizes[] = {8, 64, 1024, 64 * 1024, 1024 * 1024};
  constexpr std::size_t kPingSizes[] = {64, 1024};
  constexpr Impl kThroughputImpls[] = {Impl::raw_pipe,   Impl::raw_socketpair,    Impl::ref_simplex,
                                       Impl::ref_duplex, Impl::ref_simplex_alloc, Impl::ref_simplex_ign};
  constexpr Impl kPingImpls[] = {Impl::raw_pipe, Impl::raw_socketpair, Impl::ref_duplex,
                                 Impl::ref_simplex};
  // Size-major order: the implementations compared in a ratio run back to back.
  for (Placement placement : placements) {
    const std::string where = placement_name(placement);
    for (std::size_t size : kThroughputSizes) {
      for (Impl impl : kThroughputImpls) {
        if (impl == Impl::ref_simplex_alloc && size > 1024) continue;
        const std::string name = std::string("throughput/") + throughput_name(impl) + "/" +
                                 size_label(size) + "/" + where;
        benchmark::RegisterBenchmark(name.c_str(), bm_throughput, impl, size, placement)
            ->UseRealTime();
      }
      if (size == 8 || size == 1024) {
        const std::string name = "throughput/cpython_simplex/" + size_label(size) + "/" + where;
        benchmark::RegisterBenchmark(name.c_str(), bm_cpython, size, placement)
            ->UseManualTime()
            ->Iterations(1);
      }
    }
    for (std::size_t size : kPingSizes) {
      for (Impl impl : kPingImpls) {
        const std::string name =
            std::string("pingpong/") + pingpong_name(impl) + "/" + size_label(size) + "/" + where;
        benchmark::RegisterBenchmark(name.c_str(), bm_pingpong, impl, size, placement)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine command_line;
  if (!parse_command_line(argc, argv, command_line)) {
    std::fprintf(stderr, "--placement must be same, cross or both\n");
    return 2;
  }
  const std::vector<Placement>& placements = command_line.placements;
  std::vector<char*>& args = command_line.args;
  int bench_argc = command_line.argc;
  g_min_time_seconds = command_line.min_time_seconds;

  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2 &&
      std::find(placements.begin(), placements.end(), Placement::cross) != placements.end()) {
    std::fprintf(stderr, "note: fewer than 2 CPUs online; the cross placement will fail\n");
  }
  // A write to a closed channel must report EPIPE, not kill us (children
  // inherit this; the reference Pipe masks SIGPIPE itself anyway).
  ::signal(SIGPIPE, SIG_IGN);

  benchmark::Initialize(&bench_argc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 1;
  register_all(placements);
  benchmark::AddCustomContext("placement.same", "parent CPU 0, child CPU 0");
  benchmark::AddCustomContext("placement.cross", "parent CPU 0, child CPU 1");

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
