// ipcc/backend.h: what an adapter provides: a factory of primitives and an
// honest declaration of what it supports.
//
// A Backend creates primitives in the calling process. Primitives created
// before a fork are inherited by the child; for the spawn start method the
// harness exports a HandleToken, passes its fds to the new process, and the
// child's Backend re-attaches with import_connection.
//
// Capabilities gate tests: a test that needs a capability the adapter lacks is
// reported UNSUPPORTED, never FAIL and never silently passed. Declaring a
// capability is a promise the suite checks (a declared outcome must be the
// observed one).
//
// Safety: a Backend is used from one thread. It may be created once per
// process; the suite creates one in the test process and one in each spawned
// worker.
#ifndef IPCC_BACKEND_H_
#define IPCC_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ipcc/connection.h"
#include "ipcc/queue.h"
#include "ipcc/result.h"
#include "ipcc/sync.h"

namespace ipcc {

// The version of the adapter contract this header describes
// (adapters/README.md). Bumped on any semantic change to the contract.
inline constexpr int kContractVersionMajor = 0;
inline constexpr int kContractVersionMinor = 5;

enum class StartMethod { fork, spawn };

// What the spec leaves to the implementation, for Pipe/Connection.
struct PipeCapabilities {
  bool duplex_pipes = true;   // Pipe(duplex=true) is available (`pipe.ends.duplex`)
  bool simplex_pipes = true;  // Pipe(duplex=false) is available
  // Largest message accepted; larger ones are refused with message_too_large.
  // spec/pipe.md requires at least 64 MiB.
  std::uint64_t max_message_bytes = std::uint64_t{64} << 20;
  // Bytes a sender may write with nobody receiving before it blocks, at
  // least; the suite sends no more than this when it expects no blocking.
  std::uint64_t min_buffer_bytes = 4096;
  // ... and at least this many messages (sockets spend per-message overhead).
  std::uint32_t min_buffered_messages = 16;
  // Outcome after a duplex peer closed with data we sent still unread by it
  // (`pipe.peer-gone.duplex-unread`): eof, or connection_reset as CPython on
  // Linux reports.
  errc duplex_close_with_unread = errc::eof;
  // Concurrent writers on one simplex send end never interleave frames of at
  // most PIPE_BUF bytes (`pipe.sharing.atomic-small-frames`, a SHOULD).
  bool atomic_small_frames = false;
  // Frame overhead in bytes for the atomic_small_frames limit (CPython: 4).
  std::uint32_t frame_header_bytes = 4;
};

// What processes that survive see after another process was SIGKILLed in the
// middle of a queue operation (`queue.killed.consumer`,
// `queue.killed.producer`).
enum class KilledProcessEffect : std::uint8_t {
  // The queue keeps working: every item but the one the killed process was
  // moving is delivered exactly once, and every call keeps its deadline.
  unaffected,
  // Survivors' calls report `broken` within their deadlines; no item is
  // fabricated or duplicated.
  reports_broken,
  // CPython's hazard: survivors' calls may block indefinitely, or report
  // empty/full while items are present. Still no item is fabricated.
  may_wedge,
};

// What put_encoded does when the encoder fails
// (`queue.put.serialization-failure`).
enum class SerializationFailureEffect : std::uint8_t {
  reported_by_put,   // put_encoded returns serialization_failed; nothing is queued
  dropped_silently,  // CPython Queue: put succeeds, the item is never delivered, its slot is freed
};

// Whether a process that put items nobody has taken yet can end
// (`queue.flush.unconsumed-exit`).
enum class UnconsumedExitEffect : std::uint8_t {
  exits_at_once,        // it ends at once; its items stay in the queue
  waits_for_consumers,  // CPython: its end waits until consumers made room for its buffered items
};

// What the spec leaves to the implementation, for Queue, SimpleQueue and
// JoinableQueue (spec/queue.md). A kind left false is reported UNSUPPORTED.
struct QueueCapabilities {
  bool queue = false;
  bool simple_queue = false;
  bool joinable_queue = false;
  // qsize() is implemented for queue and joinable_queue (CPython on macOS:
  // false). simple_queue's qsize and full may always be unsupported.
  bool qsize = true;
  // After put returns, every process sees the item at once: empty() is false
  // and get_nowait() succeeds (`queue.size.visibility`). CPython Queue: false
  // (its feeder thread writes later); the spec then bounds the delay.
  bool put_visible_at_once = false;
  // Largest bounded maxsize accepted (CPython: SEM_VALUE_MAX).
  std::int64_t max_maxsize = 2147483647;
  // Largest item accepted; larger ones are refused with message_too_large.
  // spec/queue.md requires at least 16 MiB.
  std::uint64_t max_item_bytes = std::uint64_t{16} << 20;
  // A queue holds at least this many item bytes at once (each item counted
  // with 64 bytes of overhead); within it an unbounded queue never blocks or
  // fails a put. Beyond it put may report resource_exhausted.
  std::uint64_t min_storage_bytes = std::uint64_t{32} << 20;
  SerializationFailureEffect serialization_failure = SerializationFailureEffect::reported_by_put;
  UnconsumedExitEffect unconsumed_exit = UnconsumedExitEffect::exits_at_once;
  KilledProcessEffect killed_consumer = KilledProcessEffect::unaffected;
  KilledProcessEffect killed_producer = KilledProcessEffect::unaffected;
  // The highest priority Queue::put_with_priority accepts on a queue of kind
  // `queue` (`queue.priority.*`); 0 (the default) means no priorities:
  // put_with_priority reports unsupported and the priority clauses are
  // UNSUPPORTED. A plain put is priority 0.
  std::uint32_t max_priority = 0;
};

// What other processes observe after the owner of a Lock or RLock ended
// (killed, _exit, or a normal end) while holding it (`lock.owner-death.declared`).
enum class OwnerDeathEffect : std::uint8_t {
  // CPython: the lock stays held forever; acquire with a deadline reports
  // timeout, acquire without one never returns.
  stays_held,
  // The lock is freed: the next acquire succeeds with previous_owner_died false.
  released,
  // The next acquire succeeds and reports previous_owner_died (a robust
  // mutex's EOWNERDEAD); exactly one acquirer is told.
  reported_to_next,
};

// What the spec leaves to the implementation, for Lock, RLock, Semaphore,
// BoundedSemaphore, Event, Condition and Barrier (spec/lock.md and the
// files beside it). A primitive left false is reported UNSUPPORTED.
struct SyncCapabilities {
  bool lock = false;
  bool rlock = false;
  bool semaphore = false;
  bool bounded_semaphore = false;
  bool event = false;
  bool condition = false;
  bool barrier = false;
  // Semaphore::get_value is implemented (CPython on macOS: false).
  bool get_value = true;
  // The largest semaphore value (CPython on Linux: SEM_VALUE_MAX).
  std::int64_t max_semaphore_value = 2147483647;
  OwnerDeathEffect lock_owner_death = OwnerDeathEffect::stays_held;
  OwnerDeathEffect rlock_owner_death = OwnerDeathEffect::stays_held;
};

struct Capabilities {
  bool fork = true;   // primitives survive fork() and work in the child
  bool spawn = true;  // export/import to an exec'd process works
  PipeCapabilities pipe;
  QueueCapabilities queue;
  SyncCapabilities sync;
};

struct PipeEnds {
  std::unique_ptr<Connection> first;   // simplex: the receive-only end
  std::unique_ptr<Connection> second;  // simplex: the send-only end
};

class Backend {
 public:
  virtual ~Backend() = default;

  // A short stable name used in reports and expectations ("reference").
  virtual std::string name() const = 0;
  virtual Capabilities capabilities() const = 0;

  // make_pipe: creates a Pipe. Errors: resource_exhausted (file descriptors
  // or memory ran out; Error::native holds errno; nothing is leaked);
  // unsupported.
  virtual Result<PipeEnds> make_pipe(bool duplex) = 0;

  // import_connection: re-attaches an end exported by another process. The
  // token's fds are already this process's descriptors. Errors:
  // invalid_argument (a token this adapter did not make); unsupported.
  virtual Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) = 0;

  // make_queue: creates a Queue, SimpleQueue or JoinableQueue. Errors:
  // invalid_argument (maxsize above max_maxsize, or non-zero for
  // simple_queue); resource_exhausted; unsupported (the default).
  virtual Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) {
    (void)options;
    return fail(errc::unsupported);
  }

  // import_queue: re-attaches a queue exported by another process; as
  // import_connection.
  virtual Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) {
    (void)token;
    return fail(errc::unsupported);
  }

  // make_lock, make_semaphore, make_event, make_condition, make_barrier:
  // create a synchronisation primitive (ipcc/sync.h). Errors:
  // invalid_argument (a semaphore value below 0 or above
  // max_semaphore_value; barrier parties below 1); resource_exhausted;
  // unsupported (the default).
  virtual Result<std::unique_ptr<Lock>> make_lock(LockKind kind) {
    (void)kind;
    return fail(errc::unsupported);
  }
  virtual Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) {
    (void)options;
    return fail(errc::unsupported);
  }
  virtual Result<std::unique_ptr<Event>> make_event() { return fail(errc::unsupported); }
  virtual Result<std::unique_ptr<Condition>> make_condition(const ConditionOptions& options) {
    (void)options;
    return fail(errc::unsupported);
  }
  virtual Result<std::unique_ptr<Barrier>> make_barrier(const BarrierOptions& options) {
    (void)options;
    return fail(errc::unsupported);
  }

  // import_*: re-attach a primitive exported by another process; as
  // import_connection.
  virtual Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) {
    (void)token;
    return fail(errc::unsupported);
  }
  virtual Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) {
    (void)token;
    return fail(errc::unsupported);
  }
  virtual Result<std::unique_ptr<Event>> import_event(const HandleToken& token) {
    (void)token;
    return fail(errc::unsupported);
  }
  virtual Result<std::unique_ptr<Condition>> import_condition(const HandleToken& token) {
    (void)token;
    return fail(errc::unsupported);
  }
  virtual Result<std::unique_ptr<Barrier>> import_barrier(const HandleToken& token) {
    (void)token;
    return fail(errc::unsupported);
  }

  // delegate_processes: the processes that carry out the calling process's
  // operations on its behalf, for an adapter whose primitives live in
  // another process (an out-of-process agent's twin). The harness calls it in
  // each worker before the worker's first operation and judges the worker
  // "blocked in an operation" only while the worker and all of these are
  // asleep. Default: none (operations run in the calling process).
  virtual std::vector<int> delegate_processes() { return {}; }
};

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

}  // namespace ipcc

#endif  // IPCC_BACKEND_H_
