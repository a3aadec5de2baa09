// bench/queue_bench.cpp: the reference Queue, SimpleQueue and JoinableQueue
// next to Boost.Interprocess message_queue and CPython's multiprocessing
// queues, producers and consumers in separate forked processes.
//
// What is measured
//   throughput/<impl>/<shape>/<size>/<placement>
//     Items/s through one queue with <shape> = 1p1c (one producer, one
//     consumer) or 2p2c (two of each), items of <size> = 64 B or 4 KiB.
//     Producers put as fast as they can; consumers get as fast as they can.
//     One benchmark iteration = one measured window (--benchmark_min_time
//     seconds, default 0.2) after a 100 ms warm-up; items/s = items taken
//     by all consumers in the window / window (manual time).
//     Every item carries its producer's index and sequence number in its
//     first 16 bytes. Each consumer checks every item's length and that
//     every producer's sequence numbers only grow (1p1c: grow by exactly 1);
//     at the end, the items taken by all consumers must equal the items put
//     by all producers (no loss, no duplicate). Any mismatch aborts the
//     benchmark with SkipWithError. Counters (over the window, all processes
//     of a role together, from /proc/<pid>/status): consumer_waits_per_1k and
//     producer_waits_per_1k = voluntary context switches (blocking waits) per
//     1000 items; retries_per_1k = puts refused with resource_exhausted (an
//     unbounded reference queue whose storage is full) per 1000 items put,
//     over the producers' whole life; each refusal naps 50 us and retries.
//       ref_queue          ipcc::reference Queue, unbounded (maxsize 0)
//       ref_queue_max1024  ipcc::reference Queue, maxsize 1024
//       ref_simple         ipcc::reference SimpleQueue
//       ref_joinable       ipcc::reference JoinableQueue, unbounded; every
//                          get is followed by task_done(); after the run the
//                          coordinator's join() must return at once
//       boost_mq           boost::interprocess::message_queue, named (a
//                          unique name, removed right after creation: the
//                          processes share the inherited mapping), depth 256
//                          (= clamp(4 MiB / size, 4, 256), as perf-anchors),
//                          max_msg_size = item size, send / receive
//       cpython_queue      CPython multiprocessing.Queue put/get of a bytes
//       cpython_simple     ... SimpleQueue
//       cpython_joinable   ... JoinableQueue put/get/task_done
//                          (an embedded script run with python3 via popen,
//                          same protocol and pinning; items are one bytes
//                          object of <size>, checked by length and total
//                          count only; Queue and JoinableQueue producers are
//                          paced: while qsize() > 1024 they nap 0.2 ms)
//   latency/<impl>/64B
//     One process pinned to CPU 0, no contention: one iteration = put of one
//     64 B item then get of it (ref_joinable: then task_done), so Time is ns
//     per pair. Counters put_ns, get_ns (and task_done_ns) split the pair:
//     batches of 256 puts, then 256 gets, each batch timed as a whole.
//     Implementations ref_queue, ref_queue_max1024, ref_simple, ref_joinable,
//     boost_mq (depth 256).
//
// Placement (compare only within one):
//   same   every process (producers, consumers, the coordinator) on CPU 0
//   cross  producers and the coordinator on CPU 0, consumers on CPU 1
//
// How
//   Per benchmark run: create the queue, fork the consumers and then the
//   producers (each arms PR_SET_PDEATHSIG and pins itself), wait until all
//   run, sleep the warm-up, snapshot the consumers' counters (a shared
//   anonymous mapping), sleep the window, snapshot again, raise the stop
//   flag. Producers stop and exit; the coordinator then puts one sentinel
//   item per consumer; each consumer exits at its sentinel. Every child is
//   reaped with a 5 s deadline before SIGKILL. The coordinator sleeps during
//   the window, so it takes no CPU from the workers.
//
// Options (besides Google Benchmark's own --benchmark_* flags)
//   --placement=same|cross|both   which placements to register (default both)
//   --benchmark_min_time defaults to 0.2 (seconds) unless given: the window.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_process.h"
#include "ipcc/backend.h"
#include "ipcc/queue.h"
#include "ipcc/reference/pipe.h"

namespace {

using ipcc::bench::Placement;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace bip = boost::interprocess;

// ---------------------------------------------------------------------------
// Configuration

constexpr int kProducerCpu = 0;  // also the coordinator's CPU
int consumer_cpu(Placement placement) { return placement == Placement::same ? 0 : 1; }
const char* placement_name(Placement placement) {
  return placement == Placement::same ? "same" : "cross";
}

constexpr auto kWarmUp = 100ms;        // before the window
constexpr auto kStartDeadline = 5s;    // every worker running
constexpr auto kReapGrace = 5s;        // child exit deadline before SIGKILL
constexpr auto kSentinelDeadline = 5s; // coordinator's sentinel put
constexpr auto kRetryNap = 50us;       // after a put refused with resource_exhausted
constexpr std::size_t kStampBytes = 16;  // sequence number, producer index
constexpr std::uint64_t kSentinel = ~std::uint64_t{0};  // producer index of a sentinel
constexpr unsigned kMaxWorkers = 4;    // per role
constexpr std::size_t kLatencySize = 64;
constexpr std::size_t kLatencyBatch = 256;
constexpr int kLatencyRounds = 400;
constexpr const char* kShmPrefix = "ipcc_bench_q.";

double g_min_time_seconds = 0.2;  // --benchmark_min_time: the window

// Child exit statuses.
using ipcc::bench::Child;
using ipcc::bench::CommandLine;
using ipcc::bench::count_open_fds;
using ipcc::bench::parse_command_line;
using ipcc::bench::errno_text;
using ipcc::bench::kChildBadItem;
using ipcc::bench::kChildIoFailed;
using ipcc::bench::kChildOk;
using ipcc::bench::pin_self;
using ipcc::bench::ScopedPin;

// ---------------------------------------------------------------------------
// CPU pinning and child processes (as in pipe_bench.cpp)


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

// ---------------------------------------------------------------------------
// The control block shared by the coordinator and the workers (an anonymous
// shared mapping, inherited by fork).

struct alignas(64) Counter {
  std::atomic<std::uint64_t> value{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

struct Control {
  Counter stop;                   // raised by the coordinator at the end of the window
  Counter started;                // workers running
  Counter consumed[kMaxWorkers];  // items taken per consumer (stored after every get)
  Counter produced[kMaxWorkers];  // items put per producer (stored at its exit)
  Counter retries[kMaxWorkers];   // resource_exhausted refusals per producer
};

class SharedControl {
 public:
  SharedControl() {
    void* memory = ::mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory != MAP_FAILED) control_ = new (memory) Control();
  }
  ~SharedControl() {
    if (control_ != nullptr) {
      control_->~Control();
      ::munmap(control_, sizeof(Control));
    }
  }
  SharedControl(const SharedControl&) = delete;
  SharedControl& operator=(const SharedControl&) = delete;
  Control* get() const { return control_; }

 private:
  Control* control_ = nullptr;
};

void stamp(std::span<std::byte> item, int field, std::uint64_t value) {
  std::memcpy(item.data() + field * sizeof value, &value, sizeof value);
}
std::uint64_t stamp_of(std::span<const std::byte> item, int field) {
  std::uint64_t value;
  std::memcpy(&value, item.data() + field * sizeof value, sizeof value);
  return value;
}

// ---------------------------------------------------------------------------
// One queue behind one interface. Every endpoint offers:
//   PutOutcome put(item)                   blocking put
//   std::optional<span> get()              blocking get; nullopt on failure
//   bool task_done()                       JoinableQueue only
//   bool put_sentinel(item)                coordinator, with a deadline
//   std::string join()                     "" or what failed (JoinableQueue)

enum class PutOutcome { ok, retry, failed };

class RefEndpoint {
 public:
  explicit RefEndpoint(std::unique_ptr<ipcc::Queue> queue) : queue_(std::move(queue)) {}

  PutOutcome put(std::span<const std::byte> item) {
    const auto done = queue_->put(item);
    if (done) return PutOutcome::ok;
    return done.code() == ipcc::errc::resource_exhausted ? PutOutcome::retry : PutOutcome::failed;
  }
  std::optional<std::span<const std::byte>> get() {
    auto got = queue_->get();
    if (!got) return std::nullopt;
    held_ = std::move(*got);
    return std::span<const std::byte>(held_);
  }
  bool task_done() { return static_cast<bool>(queue_->task_done()); }
  bool put_sentinel(std::span<const std::byte> item) {
    return static_cast<bool>(queue_->put(item, ipcc::Deadline::after(kSentinelDeadline)));
  }
  std::string join() {
    const auto done = queue_->join(ipcc::Deadline::after(kSentinelDeadline));
    return done ? "" : "join: " + std::string(ipcc::to_string(done.code()));
  }

 private:
  std::unique_ptr<ipcc::Queue> queue_;
  ipcc::Bytes held_;
};

// A unique /dev/shm name that is removed in every path (destructor).
class BoostName {
 public:
  BoostName() {
    static unsigned serial = 0;
    name_ = std::string(kShmPrefix) + std::to_string(::getpid()) + "." + std::to_string(serial++);
  }
  ~BoostName() { remove(); }
  BoostName(const BoostName&) = delete;
  BoostName& operator=(const BoostName&) = delete;
  const char* c_str() const { return name_.c_str(); }
  void remove() {
    if (!removed_) bip::message_queue::remove(name_.c_str());
    removed_ = true;
  }

 private:
  std::string name_;
  bool removed_ = false;
};

class BoostEndpoint {
 public:
  // Throws bip::interprocess_exception when the queue cannot be created. The
  // name is removed at once: the mapping stays valid, forked children inherit
  // it, and nothing can be left in /dev/shm.
  BoostEndpoint(std::size_t item_size, std::size_t depth)
      : queue_(make(name_, item_size, depth)), buffer_(item_size) {
    name_.remove();
  }

  PutOutcome put(std::span<const std::byte> item) {
    queue_->send(item.data(), item.size(), 0);
    return PutOutcome::ok;
  }
  std::optional<std::span<const std::byte>> get() {
    bip::message_queue::size_type received = 0;
    unsigned priority = 0;
    queue_->receive(buffer_.data(), buffer_.size(), received, priority);
    return std::span<const std::byte>(buffer_.data(), received);
  }
  bool task_done() { return false; }
  bool put_sentinel(std::span<const std::byte> item) {
    const auto until = boost::posix_time::microsec_clock::universal_time() +
                       boost::posix_time::seconds(5);
    return queue_->timed_send(item.data(), item.size(), 0, until);
  }
  std::string join() { return "join: not a JoinableQueue"; }

 private:
  static std::unique_ptr<bip::message_queue> make(BoostName& name, std::size_t item_size,
                                                  std::size_t depth) {
    return std::make_unique<bip::message_queue>(bip::create_only, name.c_str(), depth, item_size);
  }

  BoostName name_;  // declared first: removed even if a later member throws
  std::unique_ptr<bip::message_queue> queue_;
  std::vector<std::byte> buffer_;
};

// ---------------------------------------------------------------------------
// Worker bodies

template <class Endpoint>
int produce(Endpoint& endpoint, Control& control, unsigned index, std::size_t size) {
  std::vector<std::byte> item(size, std::byte{0x5a});
  stamp(item, 1, index);
  control.started.value.fetch_add(1);
  std::uint64_t seq = 0;
  std::uint64_t retries = 0;
  while (control.stop.value.load(std::memory_order_relaxed) == 0) {
    stamp(item, 0, seq);
    switch (endpoint.put(item)) {
      case PutOutcome::ok: ++seq; break;
      case PutOutcome::retry:
        control.retries[index].value.store(++retries, std::memory_order_relaxed);
        std::this_thread::sleep_for(kRetryNap);
        break;
      case PutOutcome::failed: return kChildIoFailed;
    }
  }
  control.produced[index].value.store(seq);
  return kChildOk;
}

template <class Endpoint>
int consume(Endpoint& endpoint, Control& control, unsigned index, unsigned producers,
            bool single_consumer, std::size_t size, bool joinable) {
  std::vector<std::uint64_t> next(producers, 0);
  control.started.value.fetch_add(1);
  std::uint64_t count = 0;
  for (;;) {
    const auto item = endpoint.get();
    if (!item) return kChildIoFailed;
    if (item->size() != size) return kChildBadItem;
    const std::uint64_t who = stamp_of(*item, 1);
    if (who == kSentinel) {
      if (joinable && !endpoint.task_done()) return kChildIoFailed;
      return kChildOk;
    }
    if (who >= producers) return kChildBadItem;
    const std::uint64_t seq = stamp_of(*item, 0);
    if (seq < next[who] || (single_consumer && seq != next[who])) return kChildBadItem;
    next[who] = seq + 1;
    if (joinable && !endpoint.task_done()) return kChildIoFailed;
    control.consumed[index].value.store(++count, std::memory_order_relaxed);
  }
}

// ---------------------------------------------------------------------------
// Coordinator

struct Shape {
  unsigned producers;
  unsigned consumers;
};

struct Window {
  double seconds = 0;
  std::uint64_t items = 0;  // taken by all consumers in the window
  long consumer_waits = 0, producer_waits = 0;
  std::uint64_t produced = 0, retries = 0;  // whole run
};

std::uint64_t total_consumed(const Control& control, unsigned consumers) {
  std::uint64_t sum = 0;
  for (unsigned i = 0; i < consumers; ++i) sum += control.consumed[i].value.load();
  return sum;
}
long total_switches(const std::vector<Child>& children) {
  long sum = 0;
  for (const Child& child : children) sum += std::max(0L, voluntary_switches_of(child.pid()));
  return sum;
}

std::string join_errors(const std::string& first, const std::string& second) {
  if (first.empty()) return second;
  if (second.empty()) return first;
  return first + "; " + second;
}

template <class Endpoint>
std::string run_window(Endpoint& endpoint, Shape shape, std::size_t size, Placement placement,
                       bool joinable, Window& out) {
  SharedControl shared;
  Control* control = shared.get();
  if (control == nullptr) return errno_text("mmap", errno);
  ScopedPin pin(kProducerCpu);
  if (!pin.ok()) return "sched_setaffinity(CPU 0) failed";

  std::vector<Child> consumers, producers;
  for (unsigned i = 0; i < shape.consumers; ++i) {
    consumers.push_back(Child::spawn(consumer_cpu(placement), [&] {
      return consume(endpoint, *control, i, shape.producers, shape.consumers == 1, size, joinable);
    }));
    if (!consumers.back().started()) return consumers.back().fork_error();
  }
  for (unsigned i = 0; i < shape.producers; ++i) {
    producers.push_back(
        Child::spawn(kProducerCpu, [&] { return produce(endpoint, *control, i, size); }));
    if (!producers.back().started()) return producers.back().fork_error();
  }
  // Until every worker runs (the Child destructors kill and reap on error).
  const auto start_deadline = Clock::now() + kStartDeadline;
  while (control->started.value.load() < shape.producers + shape.consumers) {
    if (Clock::now() >= start_deadline) return "workers did not start within 5 s";
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(kWarmUp);

  const std::uint64_t items_before = total_consumed(*control, shape.consumers);
  const auto time_before = Clock::now();
  const long consumer_waits_before = total_switches(consumers);
  const long producer_waits_before = total_switches(producers);
  std::this_thread::sleep_for(std::chrono::duration<double>(g_min_time_seconds));
  const std::uint64_t items_after = total_consumed(*control, shape.consumers);
  const auto time_after = Clock::now();
  out.consumer_waits = total_switches(consumers) - consumer_waits_before;
  out.producer_waits = total_switches(producers) - producer_waits_before;
  out.items = items_after - items_before;
  out.seconds = std::chrono::duration<double>(time_after - time_before).count();

  // Stop: producers first, then one sentinel per consumer.
  control->stop.value.store(1);
  std::string error;
  for (Child& child : producers) error = join_errors(error, child.reap(kReapGrace));
  std::vector<std::byte> sentinel(size, std::byte{0});
  stamp(sentinel, 1, kSentinel);
  for (unsigned i = 0; i < shape.consumers; ++i) {
    if (!endpoint.put_sentinel(sentinel)) {
      error = join_errors(error, "coordinator could not put a sentinel");
      break;
    }
  }
  for (Child& child : consumers) error = join_errors(error, child.reap(kReapGrace));
  if (!error.empty()) return error;

  for (unsigned i = 0; i < shape.producers; ++i) {
    out.produced += control->produced[i].value.load();
    out.retries += control->retries[i].value.load();
  }
  const std::uint64_t consumed = total_consumed(*control, shape.consumers);
  if (consumed != out.produced) {
    return "item count mismatch: " + std::to_string(out.produced) + " put, " +
           std::to_string(consumed) + " taken";
  }
  if (out.items == 0) return "no item taken in the window";
  if (joinable) return endpoint.join();
  return "";
}

// ---------------------------------------------------------------------------
// Implementations

enum class Impl {
  ref_queue,
  ref_queue_bounded,
  ref_simple,
  ref_joinable,
  boost_mq,
  cpython_queue,
  cpython_simple,
  cpython_joinable,
};
constexpr std::int64_t kBoundedMaxsize = 1024;

const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::ref_queue: return "ref_queue";
    case Impl::ref_queue_bounded: return "ref_queue_max1024";
    case Impl::ref_simple: return "ref_simple";
    case Impl::ref_joinable: return "ref_joinable";
    case Impl::boost_mq: return "boost_mq";
    case Impl::cpython_queue: return "cpython_queue";
    case Impl::cpython_simple: return "cpython_simple";
    case Impl::cpython_joinable: return "cpython_joinable";
  }
  return "?";
}
bool is_cpython(Impl impl) {
  return impl == Impl::cpython_queue || impl == Impl::cpython_simple ||
         impl == Impl::cpython_joinable;
}

// Makes a reference queue for `impl`; "" or what failed.
std::string make_ref(Impl impl, std::unique_ptr<ipcc::Queue>& queue) {
  ipcc::QueueOptions options;
  switch (impl) {
    case Impl::ref_queue: options = {ipcc::QueueKind::queue, 0}; break;
    case Impl::ref_queue_bounded: options = {ipcc::QueueKind::queue, kBoundedMaxsize}; break;
    case Impl::ref_simple: options = {ipcc::QueueKind::simple_queue, 0}; break;
    case Impl::ref_joinable: options = {ipcc::QueueKind::joinable_queue, 0}; break;
    default: return "not a reference queue";
  }
  static const std::unique_ptr<ipcc::Backend> backend = ipcc::reference::make_backend();
  auto made = backend->make_queue(options);
  if (!made) {
    const auto& error = made.error();
    return "make_queue: " + std::string(ipcc::to_string(error.code)) +
           (error.detail.empty() ? "" : " (" + error.detail + ")");
  }
  queue = std::move(*made);
  return "";
}

std::size_t boost_depth(std::size_t size) {
  return std::clamp<std::size_t>((std::size_t{4} << 20) / size, 4, 256);
}

void report_window(benchmark::State& state, const Window& window, std::size_t size) {
  state.SetItemsProcessed(static_cast<std::int64_t>(window.items));
  state.SetBytesProcessed(static_cast<std::int64_t>(window.items * size));
  const double per_1k = 1000.0 / static_cast<double>(std::max<std::uint64_t>(window.items, 1));
  state.counters["consumer_waits_per_1k"] = static_cast<double>(window.consumer_waits) * per_1k;
  state.counters["producer_waits_per_1k"] = static_cast<double>(window.producer_waits) * per_1k;
  state.counters["retries_per_1k"] =
      1000.0 * static_cast<double>(window.retries) /
      static_cast<double>(std::max<std::uint64_t>(window.produced, 1));
}

void bm_throughput(benchmark::State& state, Impl impl, Shape shape, std::size_t size,
                   Placement placement) {
  Window window;
  std::string error;
  for (auto _ : state) {  // exactly one iteration: one window
    try {
      if (impl == Impl::boost_mq) {
        BoostEndpoint endpoint(size, boost_depth(size));
        error = run_window(endpoint, shape, size, placement, false, window);
      } else {
        std::unique_ptr<ipcc::Queue> queue;
        error = make_ref(impl, queue);
        if (error.empty()) {
          RefEndpoint endpoint(std::move(queue));
          error = run_window(endpoint, shape, size, placement, impl == Impl::ref_joinable, window);
        }
      }
    } catch (const std::exception& caught) {
      error = std::string("exception: ") + caught.what();
    }
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(window.seconds);
  }
  if (error.empty()) report_window(state, window, size);
}

// ---------------------------------------------------------------------------
// Latency: one process, put then get of one 64 B item.

template <class Endpoint>
void run_latency(benchmark::State& state, Endpoint& endpoint, bool joinable) {
  ScopedPin pin(kProducerCpu);
  if (!pin.ok()) {
    state.SkipWithError("sched_setaffinity(CPU 0) failed");
    return;
  }
  std::vector<std::byte> item(kLatencySize, std::byte{0x5a});
  stamp(item, 1, 0);
  std::uint64_t seq = 0;
  std::string error;
  auto take = [&](std::uint64_t expected) -> bool {
    const auto got = endpoint.get();
    if (!got || got->size() != kLatencySize || stamp_of(*got, 0) != expected) {
      error = got ? "wrong item" : "get failed";
      return false;
    }
    return true;
  };
  for (auto _ : state) {
    stamp(item, 0, seq);
    if (endpoint.put(item) != PutOutcome::ok) {
      error = "put failed";
    } else if (take(seq) && joinable && !endpoint.task_done()) {
      error = "task_done failed";
    }
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    ++seq;
  }
  // The pair split in its parts: whole batches timed, so clock reads do not count.
  Clock::duration put_time{}, get_time{}, done_time{};
  for (int round = 0; round < kLatencyRounds; ++round) {
    const std::uint64_t first = seq;
    auto t0 = Clock::now();
    for (std::size_t i = 0; i < kLatencyBatch; ++i) {
      stamp(item, 0, seq++);
      if (endpoint.put(item) != PutOutcome::ok) error = "put failed";
    }
    auto t1 = Clock::now();
    for (std::size_t i = 0; i < kLatencyBatch && error.empty(); ++i) take(first + i);
    auto t2 = Clock::now();
    if (joinable) {
      for (std::size_t i = 0; i < kLatencyBatch; ++i) {
        if (!endpoint.task_done()) error = "task_done failed";
      }
    }
    auto t3 = Clock::now();
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    put_time += t1 - t0;
    get_time += t2 - t1;
    done_time += t3 - t2;
  }
  const double ops = static_cast<double>(kLatencyRounds) * kLatencyBatch;
  auto ns = [&](Clock::duration total) {
    return std::chrono::duration<double, std::nano>(total).count() / ops;
  };
  state.counters["put_ns"] = ns(put_time);
  state.counters["get_ns"] = ns(get_time);
  if (joinable) state.counters["task_done_ns"] = ns(done_time);
  state.SetItemsProcessed(state.iterations());
}

void bm_latency(benchmark::State& state, Impl impl) {
  try {
    if (impl == Impl::boost_mq) {
      BoostEndpoint endpoint(kLatencySize, 256);
      return run_latency(state, endpoint, false);
    }
    std::unique_ptr<ipcc::Queue> queue;
    if (const std::string error = make_ref(impl, queue); !error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    RefEndpoint endpoint(std::move(queue));
    run_latency(state, endpoint, impl == Impl::ref_joinable);
  } catch (const std::exception& caught) {
    const std::string error = std::string("exception: ") + caught.what();
    state.SkipWithError(error.c_str());
  }
}

// ---------------------------------------------------------------------------
// CPython multiprocessing queues, by an embedded script with the same protocol:
// consumers and producers are forked multiprocessing.Process objects pinned
// like ours; consumers publish their count every 32 items in a RawArray (so a
// window snapshot is off by < 32 items per consumer); producers check a stop
// flag every 32 puts; the coordinator (pinned with the producers) sleeps the
// warm-up and the window, raises the flag, joins the producers, puts one None
// per consumer and joins the consumers (5 s deadlines, then kill).
// Queue and JoinableQueue put never blocks (the feeder thread buffers without
// limit), so a producer that never stops would grow an unbounded backlog and
// its main thread would starve its own feeder thread of the GIL (measured:
// about half the rate, and producers that cannot flush within 5 s at 4 KiB).
// Their producers are therefore paced like the unbounded reference queue:
// every 32 puts, while qsize() > 1024 they nap 0.2 ms (counted as retries).
// SimpleQueue put blocks on its pipe and needs no pacing.
// It prints "<items in window> <seconds> <consumer waits> <producer waits>
// <naps> <items put> <status>", status 0 = ok, 1 = a child failed or was
// killed, 2 = count mismatch, 3 = wrong item length. It dies with us
// (PR_SET_PDEATHSIG) and after 60 s.

constexpr const char* kPythonScript = R"PY(
import ctypes, os, signal, sys, time
import multiprocessing as mp
kind = sys.argv[1]
size, nprod, ncons, prod_cpu, cons_cpu = map(int, sys.argv[2:7])
window, warm = float(sys.argv[7]), float(sys.argv[8])
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
signal.alarm(60)
os.sched_setaffinity(0, {prod_cpu})
ctx = mp.get_context("fork")
q = {"queue": ctx.Queue, "simple": ctx.SimpleQueue, "joinable": ctx.JoinableQueue}[kind]()
joinable = kind == "joinable"
pace = kind != "simple"  # Queue, JoinableQueue: put never blocks, so pace the producers
stop = ctx.RawValue("i", 0)
bad = ctx.RawValue("i", 0)
started = ctx.RawArray("i", nprod + ncons)
consumed = ctx.RawArray("q", ncons)
produced = ctx.RawArray("q", nprod)
retries = ctx.RawArray("q", nprod)

def arm(cpu, slot):
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    os.sched_setaffinity(0, {cpu})
    started[slot] = 1

def produce(i):
    arm(prod_cpu, ncons + i)
    payload = b"\x5a" * size
    put = q.put
    n = 0
    naps = 0
    while not stop.value:
        for _ in range(32):
            put(payload)
        n += 32
        while pace and q.qsize() > 1024 and not stop.value:
            naps += 1
            time.sleep(0.0002)
    produced[i] = n
    retries[i] = naps

def consume(i):
    arm(cons_cpu, i)
    get = q.get
    done = q.task_done if joinable else None
    n = 0
    while True:
        item = get()
        if item is None:
            if done: done()
            break
        if len(item) != size:
            bad.value = 1
            break
        if done: done()
        n += 1
        if not n & 31:
            consumed[i] = n
    consumed[i] = n

def switches(procs):
    total = 0
    for p in procs:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total

cons = [ctx.Process(target=consume, args=(i,)) for i in range(ncons)]
prods = [ctx.Process(target=produce, args=(i,)) for i in range(nprod)]
for p in cons + prods:
    p.start()
deadline = time.monotonic() + 5
while not all(started) and time.monotonic() < deadline:
    time.sleep(0.001)
time.sleep(warm)
c0, t0 = sum(consumed), time.perf_counter()
cw0, pw0 = switches(cons), switches(prods)
time.sleep(window)
c1, t1 = sum(consumed), time.perf_counter()
cw1, pw1 = switches(cons), switches(prods)
stop.value = 1
status = 0
for p in prods:
    p.join(5)
for _ in range(ncons):
    q.put(None)
for p in cons:
    p.join(5)
for p in prods + cons:
    if p.exitcode is None:
        p.kill()
        p.join()
        status = 1
    elif p.exitcode != 0:
        status = 1
if status == 0 and bad.value:
    status = 3
if status == 0 and sum(consumed) != sum(produced):
    status = 2
print(c1 - c0, t1 - t0, cw1 - cw0, pw1 - pw0, sum(retries), sum(produced), status, flush=True)
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

void bm_cpython(benchmark::State& state, Impl impl, Shape shape, std::size_t size,
                Placement placement) {
  if (!on_path("python3")) {
    state.SkipWithError("python3 not found");
    return;
  }
  const char* kind = impl == Impl::cpython_queue    ? "queue"
                     : impl == Impl::cpython_simple ? "simple"
                                                    : "joinable";
  ::setenv("IPCC_BENCH_QUEUE_PY", kPythonScript, 1);
  char window_text[32], warm_text[32];
  std::snprintf(window_text, sizeof window_text, "%.3f", g_min_time_seconds);
  std::snprintf(warm_text, sizeof warm_text, "%.3f",
                std::chrono::duration<double>(kWarmUp).count());
  const std::string command =
      std::string("exec python3 -c 'import os; exec(os.environ[\"IPCC_BENCH_QUEUE_PY\"])' ") +
      kind + " " + std::to_string(size) + " " + std::to_string(shape.producers) + " " +
      std::to_string(shape.consumers) + " " + std::to_string(kProducerCpu) + " " +
      std::to_string(consumer_cpu(placement)) + " " + window_text + " " + warm_text;
  Window window;
  std::string error;
  for (auto _ : state) {  // one iteration = one script run
    unsigned long long items = 0, naps = 0, produced = 0;
    long consumer_waits = 0, producer_waits = 0;
    int script_status = -1;
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      error = errno_text("popen", errno);
    } else {
      const int fields =
          std::fscanf(pipe, "%llu %lf %ld %ld %llu %llu %d", &items, &window.seconds,
                      &consumer_waits, &producer_waits, &naps, &produced, &script_status);
      const int status = ::pclose(pipe);
      if (fields != 7 || status != 0) {
        error = "python script failed (exit status " + std::to_string(status) + ")";
      } else if (script_status != 0) {
        error = script_status == 1   ? "python child failed or was killed"
                : script_status == 2 ? "python item count mismatch"
                                     : "python item of the wrong length";
      } else if (items == 0) {
        error = "python: no item taken in the window";
      }
    }
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    window.items = items;
    window.consumer_waits = consumer_waits;
    window.producer_waits = producer_waits;
    window.retries = naps;
    window.produced = produced;
    state.SetIterationTime(window.seconds);
  }
  if (error.empty()) report_window(state, window, size);
}

// ---------------------------------------------------------------------------
// Registration and main

std::string size_label(std::size_t size) {
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size >> 10) + "KiB";
  return std::to_string(size) + "B";
}

void register_all(const std::vector<Placement>& placements) {
  constexpr std::size_t kSizes[] = {64, 4096};
  constexpr Shape kShapes[] = {{1, 1}, {2, 2}};
  constexpr Impl kImpls[] = {Impl::ref_queue,     Impl::ref_queue_bounded, Impl::ref_simple,
                             Impl::ref_joinable,  Impl::boost_mq,          Impl::cpython_queue,
                             Impl::cpython_simple, Impl::cpython_joinable};
  // Configuration-major order: the implementations compared in a ratio run
  // back to back.
  for (Placement placement : placements) {
    for (std::size_t size : kSizes) {
      for (Shape shape : kShapes) {
        for (Impl impl : kImpls) {
          const std::string name = std::string("throughput/") + impl_name(impl) + "/" +
                                   std::to_string(shape.producers) + "p" +
                                   std::to_string(shape.consumers) + "c/" + size_label(size) +
                                   "/" + placement_name(placement);
          auto* bench = is_cpython(impl) ? benchmark::RegisterBenchmark(name.c_str(), bm_cpython,
                                                                        impl, shape, size, placement)
                                         : benchmark::RegisterBenchmark(
                                               name.c_str(), bm_throughput, impl, shape, size,
                                               placement);
          bench->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
  constexpr Impl kLatencyImpls[] = {Impl::ref_queue, Impl::ref_queue_bounded, Impl::ref_simple,
                                    Impl::ref_joinable, Impl::boost_mq};
  for (Impl impl : kLatencyImpls) {
    const std::string name = std::string("latency/") + impl_name(impl) + "/" +
                             size_label(kLatencySize);
    benchmark::RegisterBenchmark(name.c_str(), bm_latency, impl)->UseRealTime();
  }
}

std::set<std::string> shm_names() {
  std::set<std::string> names;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.insert(name);
    }
    ::closedir(dir);
  }
  return names;
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

  benchmark::Initialize(&bench_argc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 1;
  register_all(placements);
  benchmark::AddCustomContext("placement.same", "all processes on CPU 0");
  benchmark::AddCustomContext("placement.cross", "producers CPU 0, consumers CPU 1");
  benchmark::AddCustomContext("window_s", std::to_string(g_min_time_seconds));

  const int fds_before = count_open_fds();
  const std::set<std::string> shm_before = shm_names();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  // Hygiene checks: every child reaped, every descriptor closed, no name left.
  int status = 0;
  if (::waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD) {
    std::fprintf(stderr, "error: a child process was left unreaped\n");
    status = 1;
  }
  if (const int fds_after = count_open_fds(); fds_after != fds_before) {
    std::fprintf(stderr, "error: %d file descriptors leaked\n", fds_after - fds_before);
    status = 1;
  }
  const std::string ours = std::string(kShmPrefix) + std::to_string(::getpid()) + ".";
  for (const std::string& name : shm_names()) {
    if (shm_before.count(name) != 0) continue;
    if (name.rfind(ours, 0) == 0) {
      std::fprintf(stderr, "error: /dev/shm/%s was left behind (removed now)\n", name.c_str());
      bip::message_queue::remove(name.c_str());
      status = 1;
    } else {
      std::fprintf(stderr, "warning: /dev/shm/%s appeared during the run (another process?)\n",
                   name.c_str());
    }
  }
  return status;
}
