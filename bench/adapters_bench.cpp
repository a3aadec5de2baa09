// Every bundled adapter through the adapter contract, in one run beside raw
// pipe(2) and socketpair(2): one-way Pipe message rate and bandwidth by size,
// Pipe ping-pong latency, Queue throughput with 1 producer / 1 consumer and
// 2 / 2, and two-process hand-off through a pair of Semaphores and of Locks.
// Two pinned placements (`same`: both processes on CPU 0; `cross`: CPU 0 and
// CPU 1); an adapter whose operations run in other processes (the CPython
// agent) has those processes pinned with the process they serve.
//
// Names: <benchmark>/<adapter>/<size>/<placement>. A primitive an adapter does
// not provide is reported as skipped with the reason.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_process.h"
#include "ipcc/agent/backend.h"
#include "ipcc/backend.h"
#include "ipcc/posix/backend.h"
#include "ipcc/reference/pipe.h"
#ifdef IPCC_BENCH_HAS_BOOST
#include "ipcc/boost/backend.h"
#endif
#ifdef IPCC_BENCH_HAS_ZEROMQ
#include "ipcc/zeromq/backend.h"
#endif

namespace {

using namespace ipcc::bench;
using ipcc::Backend;
using ipcc::Deadline;

constexpr int kParentCpu = 0;
int child_cpu(Placement placement) { return placement == Placement::same ? 0 : 1; }

struct Adapter {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

std::vector<Adapter> adapters() {
  std::vector<Adapter> all = {
      {"reference", [] { return ipcc::reference::make_backend(); }},
      {"posix", [] { return ipcc::posix::make_backend(); }},
#ifdef IPCC_BENCH_HAS_BOOST
      {"boost", [] { return ipcc::boost::make_backend(); }},
#endif
#ifdef IPCC_BENCH_HAS_ZEROMQ
      {"zeromq", [] { return ipcc::zeromq::make_backend(); }},
#endif
      {"cpython-fork", [] { return ipcc::agent::make_cpython_backend("fork"); }},
  };
  return all;
}

// The backend of the running benchmark; one per adapter for the whole run,
// as the suite uses them.
Backend& backend_of(const Adapter& adapter) {
  static std::vector<std::pair<std::string, std::unique_ptr<Backend>>> made;
  for (auto& [name, backend] : made) {
    if (name == adapter.name) return *backend;
  }
  made.emplace_back(adapter.name, adapter.make());
  return *made.back().second;
}

// Pins the processes working on this process's behalf to `cpu` as well.
void pin_delegates(Backend& backend, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  for (int pid : backend.delegate_processes()) ::sched_setaffinity(pid, sizeof set, &set);
}

// A flag and counters shared with the children, in an anonymous shared mapping.
struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> consumed{0};
};

class SharedBlock {
 public:
  SharedBlock() {
    void* at = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (at != MAP_FAILED) shared_ = new (at) Shared;
  }
  ~SharedBlock() {
    if (shared_ != nullptr) ::munmap(shared_, sizeof(Shared));
  }
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;
  Shared* get() const { return shared_; }

 private:
  Shared* shared_ = nullptr;
};

// Whether a child's end is one we caused after the measurement (an adapter
// without end of stream or broken pipe never tells a blocked child to stop).
bool killed_after_measuring(const std::string& ended) {
  return ended.find("(killed)") != std::string::npos || ended.find("signal") != std::string::npos;
}

std::string reap_all(std::vector<Child>& children) {
  std::string error;
  for (auto& child : children) {
    auto why = child.reap(2000ms);
    if (error.empty()) error = why;
  }
  return error;
}

// --- Pipe --------------------------------------------------------------------

void bm_pipe_throughput(benchmark::State& state, Adapter adapter, std::size_t size, Placement placement) {
  Backend& backend = backend_of(adapter);
  const auto caps = backend.capabilities().pipe;
  if (!caps.simplex_pipes && !caps.duplex_pipes) return state.SkipWithError("no Pipe");
  if (size > caps.max_message_bytes) return state.SkipWithError("above max_message_bytes");
  ScopedPin pin(kParentCpu);
  auto ends = backend.make_pipe(!caps.simplex_pipes);
  if (!ends) return state.SkipWithError(("make_pipe: " + describe(ends.error())).c_str());
  pin_delegates(backend, kParentCpu);
  SharedBlock block;
  Shared* shared = block.get();
  const std::vector<std::byte> message(size, std::byte{0x5a});
  std::vector<Child> children;
  children.push_back(Child::spawn(child_cpu(placement), [&] {
    pin_delegates(backend, child_cpu(placement));
    ends->first.reset();
    while (!shared->stop.load(std::memory_order_relaxed)) {
      if (!ends->second->send_bytes(message)) return shared->stop.load() ? kChildOk : kChildIoFailed;
    }
    return kChildOk;
  }));
  ends->second.reset();
  std::uint64_t bytes = 0;
  std::string error;
  for (auto _ : state) {
    auto got = ends->first->recv_bytes(std::nullopt, Deadline::after(5s));
    if (!got || got->size() != size) {
      error = got ? "wrong message length" : describe(got.error());
      break;
    }
    bytes += size;
  }
  shared->stop.store(true);
  // A sender blocked in send learns of the close by broken_pipe; on an
  // adapter without one it stays blocked and is killed after the grace time,
  // which costs nothing of the measurement.
  ends->first.reset();
  const auto ended = reap_all(children);
  if (!error.empty()) return state.SkipWithError(error.c_str());
  if (!ended.empty() && !killed_after_measuring(ended)) return state.SkipWithError(ended.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void bm_pipe_pingpong(benchmark::State& state, Adapter adapter, std::size_t size, Placement placement) {
  Backend& backend = backend_of(adapter);
  if (!backend.capabilities().pipe.duplex_pipes) return state.SkipWithError("no duplex Pipe");
  ScopedPin pin(kParentCpu);
  auto ends = backend.make_pipe(true);
  if (!ends) return state.SkipWithError(("make_pipe: " + describe(ends.error())).c_str());
  pin_delegates(backend, kParentCpu);
  const std::vector<std::byte> message(size, std::byte{0x42});
  SharedBlock block;
  Shared* shared = block.get();
  std::vector<Child> children;
  children.push_back(Child::spawn(child_cpu(placement), [&] {
    pin_delegates(backend, child_cpu(placement));
    ends->first.reset();
    while (!shared->stop.load(std::memory_order_relaxed)) {
      auto got = ends->second->recv_bytes(std::nullopt, Deadline::after(100ms));
      if (!got && got.code() == ipcc::errc::timeout) continue;
      if (!got) return got.code() == ipcc::errc::eof ? kChildOk : kChildIoFailed;
      if (!ends->second->send_bytes(*got)) return kChildIoFailed;
    }
    return kChildOk;
  }));
  ends->second.reset();
  std::string error;
  for (auto _ : state) {
    if (!ends->first->send_bytes(message)) {
      error = "send_bytes failed";
      break;
    }
    auto back = ends->first->recv_bytes(std::nullopt, Deadline::after(5s));
    if (!back || back->size() != size) {
      error = back ? "wrong reply length" : describe(back.error());
      break;
    }
  }
  shared->stop.store(true);
  ends->first.reset();
  const auto ended = reap_all(children);
  if (!error.empty()) return state.SkipWithError(error.c_str());
  if (!ended.empty() && !killed_after_measuring(ended)) return state.SkipWithError(ended.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Raw baselines for the Pipe rows: a pipe(2) one way, a socketpair(2) echo.
void bm_raw_throughput(benchmark::State& state, std::size_t size, Placement placement) {
  ScopedPin pin(kParentCpu);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return state.SkipWithError("pipe2 failed");
  std::vector<Child> children;
  children.push_back(Child::spawn(child_cpu(placement), [&] {
    ::close(fds[0]);
    std::vector<char> message(size + 4, 0x5a);
    std::uint32_t length = static_cast<std::uint32_t>(size);
    std::memcpy(message.data(), &length, 4);
    for (;;) {
      std::size_t done = 0;
      while (done < message.size()) {
        ssize_t n = ::write(fds[1], message.data() + done, message.size() - done);
        if (n <= 0) return kChildOk;  // the reader closed: EPIPE (SIGPIPE is ignored)
        done += static_cast<std::size_t>(n);
      }
    }
  }));
  ::close(fds[1]);
  std::vector<char> buffer(size + 4);
  std::uint64_t bytes = 0;
  std::string error;
  for (auto _ : state) {
    std::size_t done = 0;
    while (done < buffer.size()) {  // a 4-byte length header, then the message, as a framed pipe
      ssize_t n = ::read(fds[0], buffer.data() + done, buffer.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (done != buffer.size()) {
      error = "short read";
      break;
    }
    bytes += size;
  }
  ::close(fds[0]);
  const auto ended = reap_all(children);
  if (!error.empty()) return state.SkipWithError(error.c_str());
  if (!ended.empty()) return state.SkipWithError(ended.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void bm_raw_pingpong(benchmark::State& state, std::size_t size, Placement placement) {
  ScopedPin pin(kParentCpu);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return state.SkipWithError("socketpair failed");
  std::vector<Child> children;
  children.push_back(Child::spawn(child_cpu(placement), [&] {
    ::close(fds[0]);
    std::vector<char> buffer(size + 1);
    for (;;) {
      ssize_t n = ::recv(fds[1], buffer.data(), buffer.size(), 0);
      if (n <= 0) return kChildOk;
      if (::send(fds[1], buffer.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return kChildIoFailed;
    }
  }));
  ::close(fds[1]);
  std::vector<char> message(size, 0x42), back(size + 1);
  std::string error;
  for (auto _ : state) {
    if (::send(fds[0], message.data(), size, MSG_NOSIGNAL) != static_cast<ssize_t>(size) ||
        ::recv(fds[0], back.data(), back.size(), 0) != static_cast<ssize_t>(size)) {
      error = "send or recv failed";
      break;
    }
  }
  ::close(fds[0]);
  const auto ended = reap_all(children);
  if (!error.empty()) return state.SkipWithError(error.c_str());
  if (!ended.empty()) return state.SkipWithError(ended.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// --- Queue -------------------------------------------------------------------

// Producers (children) put 64-byte items into a Queue(maxsize=1024, or the
// adapter's max_maxsize if lower) until told to stop; the parent and,
// with 2 consumers, one child consume. Items/s counts every consumer's gets
// in the parent's measured window.
void bm_queue(benchmark::State& state, Adapter adapter, int producers, int consumers, Placement placement) {
  Backend& backend = backend_of(adapter);
  if (!backend.capabilities().queue.queue) return state.SkipWithError("no Queue");
  ScopedPin pin(kParentCpu);
  // Bounded, so producers wait for room rather than filling memory (or, on
  // an adapter whose unbounded queue is shallow, failing).
  const auto maxsize = std::min<std::int64_t>(1024, backend.capabilities().queue.max_maxsize);
  auto queue = backend.make_queue({ipcc::QueueKind::queue, maxsize});
  if (!queue) return state.SkipWithError(("make_queue: " + describe(queue.error())).c_str());
  pin_delegates(backend, kParentCpu);
  SharedBlock block;
  Shared* shared = block.get();
  const std::vector<std::byte> item(64, std::byte{0x17});
  // Producers on the child CPU; a second consumer on the parent's CPU, so
  // each placement keeps one side per CPU.
  std::vector<Child> children;
  for (int p = 0; p < producers; ++p) {
    children.push_back(Child::spawn(child_cpu(placement), [&] {
      pin_delegates(backend, child_cpu(placement));
      while (!shared->stop.load(std::memory_order_relaxed)) {
        auto put = (*queue)->put(item, Deadline::after(100ms));
        if (!put && put.code() != ipcc::errc::full && put.code() != ipcc::errc::timeout) return kChildIoFailed;
      }
      (void)(*queue)->cancel_join_thread();  // items left behind need not be flushed
      return kChildOk;
    }));
  }
  for (int c = 1; c < consumers; ++c) {
    children.push_back(Child::spawn(kParentCpu, [&] {
      pin_delegates(backend, kParentCpu);
      while (!shared->stop.load(std::memory_order_relaxed)) {
        auto got = (*queue)->get(Deadline::after(100ms));
        if (got) {
          shared->consumed.fetch_add(1, std::memory_order_relaxed);
        } else if (got.code() != ipcc::errc::empty && got.code() != ipcc::errc::timeout) {
          return kChildIoFailed;
        }
      }
      return kChildOk;
    }));
  }
  std::string error;
  std::uint64_t others_at_start = 0;
  bool first = true;
  for (auto _ : state) {
    if (first) {
      others_at_start = shared->consumed.load();
      first = false;
    }
    auto got = (*queue)->get(Deadline::after(5s));
    if (!got || got->size() != item.size()) {
      error = got ? "wrong item length" : describe(got.error());
      break;
    }
  }
  const std::uint64_t others = shared->consumed.load() - others_at_start;
  shared->stop.store(true);
  const auto ended = reap_all(children);
  (void)(*queue)->cancel_join_thread();
  queue->reset();
  if (!error.empty()) return state.SkipWithError(error.c_str());
  if (!ended.empty()) return state.SkipWithError(ended.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() + others));
}

// --- Hand-off ----------------------------------------------------------------

// Two processes pass the turn back and forth through a pair of binary
// semaphores (or Locks used as signals, released by the other process, as
// Python allows). One iteration is a round trip: two hand-offs.
void bm_handoff(benchmark::State& state, Adapter adapter, bool locks, Placement placement) {
  Backend& backend = backend_of(adapter);
  const auto sync = backend.capabilities().sync;
  if (locks ? !sync.lock : !sync.semaphore) return state.SkipWithError(locks ? "no Lock" : "no Semaphore");
  ScopedPin pin(kParentCpu);
  std::unique_ptr<ipcc::Lock> ping_lock, pong_lock;
  std::unique_ptr<ipcc::Semaphore> ping_sem, pong_sem;
  if (locks) {
    auto a = backend.make_lock(ipcc::LockKind::lock);
    auto b = backend.make_lock(ipcc::LockKind::lock);
    if (!a || !b) return state.SkipWithError("make_lock failed");
    ping_lock = std::move(*a);
    pong_lock = std::move(*b);
    // Both start held by the parent: the child waits on ping, the parent on pong.
    if (!ping_lock->acquire(Deadline::now()) || !pong_lock->acquire(Deadline::now())) {
      return state.SkipWithError("acquire failed");
    }
  } else {
    auto a = backend.make_semaphore({ipcc::SemaphoreKind::semaphore, 0});
    auto b = backend.make_semaphore({ipcc::SemaphoreKind::semaphore, 0});
    if (!a || !b) return state.SkipWithError("make_semaphore failed");
    ping_sem = std::move(*a);
    pong_sem = std::move(*b);
  }
  pin_delegates(backend, kParentCpu);
  auto take = [&](bool ping) -> bool {
    if (locks) return static_cast<bool>((ping ? ping_lock : pong_lock)->acquire(Deadline::after(5s)));
    return static_cast<bool>((ping ? ping_sem : pong_sem)->acquire(Deadline::after(5s)));
  };
  auto give = [&](bool ping) -> bool {
    if (locks) return static_cast<bool>((ping ? ping_lock : pong_lock)->release());
    return static_cast<bool>((ping ? ping_sem : pong_sem)->release());
  };
  SharedBlock block;
  Shared* shared = block.get();
  std::vector<Child> children;
  children.push_back(Child::spawn(child_cpu(placement), [&] {
    pin_delegates(backend, child_cpu(placement));
    for (;;) {
      if (!take(true)) return shared->stop.load() ? kChildOk : kChildIoFailed;
      if (shared->stop.load()) return kChildOk;
      if (!give(false)) return kChildIoFailed;
    }
  }));
  std::string error;
  for (auto _ : state) {
    if (!give(true)) {
      error = locks ? "release by another process refused" : "release failed";
      break;
    }
    if (!take(false)) {
      error = locks ? "the turn did not come back (a Lock released by a process that does not hold it?)"
                    : "the turn did not come back";
      break;
    }
  }
  shared->stop.store(true);
  give(true);
  const auto ended = reap_all(children);
  if (!error.empty()) {
    if (!ended.empty()) error += " (" + ended + ")";
    return state.SkipWithError(error.c_str());
  }
  if (!ended.empty()) return state.SkipWithError(ended.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

std::string size_label(std::size_t size) {
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size >> 10) + "KiB";
  return std::to_string(size) + "B";
}

void register_all(const std::vector<Placement>& placements) {
  constexpr std::size_t kSizes[] = {8, 64, 1024, 64 * 1024};
  const auto all = adapters();
  for (Placement placement : placements) {
    const std::string where = placement == Placement::same ? "same" : "cross";
    for (std::size_t size : kSizes) {
      const std::string tail = "/" + size_label(size) + "/" + where;
      benchmark::RegisterBenchmark(("pipe_rate/raw_pipe" + tail).c_str(), bm_raw_throughput, size, placement)->UseRealTime();
      for (const auto& adapter : all) {
        benchmark::RegisterBenchmark(("pipe_rate/" + adapter.name + tail).c_str(), bm_pipe_throughput, adapter, size,
                                     placement)->UseRealTime();
      }
    }
    const std::string ping_tail = "/64B/" + where;
    benchmark::RegisterBenchmark(("pingpong/raw_socketpair" + ping_tail).c_str(), bm_raw_pingpong, 64, placement)
        ->UseRealTime()->Unit(benchmark::kMicrosecond);
    for (const auto& adapter : all) {
      benchmark::RegisterBenchmark(("pingpong/" + adapter.name + ping_tail).c_str(), bm_pipe_pingpong, adapter, 64,
                                   placement)->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
    for (const auto& adapter : all) {
      for (int n : {1, 2}) {
        const std::string name = "queue_" + std::to_string(n) + "p" + std::to_string(n) + "c/" + adapter.name + "/64B/" + where;
        benchmark::RegisterBenchmark(name.c_str(), bm_queue, adapter, n, n, placement)->UseRealTime();
      }
    }
    for (const auto& adapter : all) {
      for (bool locks : {false, true}) {
        const std::string name = std::string(locks ? "handoff_lock/" : "handoff_semaphore/") + adapter.name + "/-/" + where;
        benchmark::RegisterBenchmark(name.c_str(), bm_handoff, adapter, locks, placement)
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
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
  // A send to a closed channel must report EPIPE, not kill us or a child.
  ::signal(SIGPIPE, SIG_IGN);
  benchmark::Initialize(&command_line.argc, command_line.args.data());
  if (benchmark::ReportUnrecognizedArguments(command_line.argc, command_line.args.data())) return 1;
  register_all(command_line.placements);
  benchmark::AddCustomContext("placement.same", "parent CPU 0, child CPU 0");
  benchmark::AddCustomContext("placement.cross", "parent CPU 0, child CPU 1");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
