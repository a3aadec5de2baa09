// ipcc/queue.h: a process-shared queue of byte items (Python's `Queue`,
// `SimpleQueue` and `JoinableQueue`).
//
// What: any number of processes put items (byte strings) into one queue and
// any number get them. spec/queue.md defines every observable behaviour;
// clause IDs are cited below. Which of the three kinds a Queue object is
// follows from the QueueOptions it was made with:
//   - queue: optionally bounded (maxsize), timed put/get, qsize/empty/full;
//   - simple_queue: unbounded; put and get block without limit in Python, but
//     an adapter may honour deadlines; qsize and full may be unsupported;
//   - joinable_queue: a queue plus task_done/join accounting.
//
// Priorities (optional, `queue.priority.*`): an adapter that declares
// QueueCapabilities::max_priority > 0 takes put_with_priority on a queue of
// kind `queue`: a get returns an item of the highest priority certainly
// queued, and among equal priorities the order rules of plain puts hold. A
// plain put is priority 0.
//
// Safety: a Queue object is not safe for concurrent use by several threads.
// Several *processes* hold copies (after fork, or after export/import); that is
// the point of a queue and is fully specified (`queue.delivery.exactly-once`,
// `queue.order.per-producer-fifo`).
//
// Blocking: put, get and join take a Deadline (ipcc/deadline.h). For put and
// get, Deadline::now() is Python's `block=False` (also `timeout <= 0`): try
// once, never wait. No call may block past its deadline, whatever other
// processes do or did (crashed mid-operation, stopped while holding a lock):
// `queue.get.timeout`, `queue.put.timeout`.
//
// Errors: every operation returns a Result. The codes used are listed per
// method; `closed` is checked first, then the arguments, then the state.
//
// Lifetime: close() and destruction end *this process's* use of the queue;
// other processes' copies are unaffected (`queue.close.local`). Destruction is
// also a process's normal exit path: it first flushes every item this process
// put that is not yet visible to other processes (an implementation that
// buffers items, as CPython's feeder thread does, may block here until
// consumers make room) unless cancel_join_thread() was called
// (`queue.flush.on-exit`, `queue.flush.opt-out`). The queue itself lives until
// the last process's copy is gone.
#ifndef IPCC_QUEUE_H_
#define IPCC_QUEUE_H_

#include <cstdint>
#include <functional>
#include <span>

#include "ipcc/bytes.h"
#include "ipcc/connection.h"
#include "ipcc/deadline.h"
#include "ipcc/result.h"

namespace ipcc {

enum class QueueKind : std::uint8_t { queue, simple_queue, joinable_queue };

std::string_view to_string(QueueKind kind);

struct QueueOptions {
  QueueKind kind = QueueKind::queue;
  // queue and joinable_queue: at most this many items are queued at once;
  // zero or negative means unbounded (`queue.create.unbounded`). Must be 0
  // for simple_queue.
  std::int64_t maxsize = 0;
};

// Produces an item's bytes, or an Error (code serialization_failed) when the
// item cannot be serialised: the C++ stand-in for pickling an object. An
// adapter may call it in put (synchronously) or later (CPython pickles in a
// feeder thread), at most once, from any thread of the putting process.
using ItemEncoder = std::function<Result<Bytes>()>;

class Queue {
 public:
  Queue() = default;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  virtual ~Queue() = default;

  // put: appends `item`. Blocks while the queue is full, until `deadline`.
  // Errors: closed; message_too_large (item above max_item_bytes: nothing is
  // queued); full (still full at the deadline: nothing is queued);
  // resource_exhausted (an unbounded queue ran out of storage: nothing is
  // queued, never a wait); broken (the queue is unusable, see
  // QueueCapabilities::killed_producer / killed_consumer).
  Result<void> put(std::span<const std::byte> item, Deadline deadline = Deadline::never()) {
    return do_put(item, deadline);
  }
  Result<void> put_nowait(std::span<const std::byte> item) { return do_put(item, Deadline::now()); }

  // put_with_priority: put() of `item` at `priority` (0 is a plain put's),
  // on a queue of kind `queue` whose adapter declares
  // QueueCapabilities::max_priority > 0. A get never returns an item while
  // one of higher priority was certainly queued throughout it
  // (`queue.priority.highest-first`). Blocks as put does, until `deadline`.
  // Errors: closed; unsupported (simple_queue, joinable_queue, or no
  // priorities declared: the default hook); invalid_argument (priority above
  // the declared max_priority: nothing is queued, `queue.priority.range`);
  // then as put: message_too_large, full, resource_exhausted, broken.
  Result<void> put_with_priority(std::span<const std::byte> item, std::uint32_t priority,
                                 Deadline deadline = Deadline::never()) {
    return do_put_with_priority(item, priority, deadline);
  }

  // put_encoded: put() of the item `encode` produces. When encoding fails the
  // outcome is QueueCapabilities::serialization_failure
  // (`queue.put.serialization-failure`). The default encodes at once and
  // reports the encoder's error, having queued nothing.
  virtual Result<void> put_encoded(const ItemEncoder& encode, Deadline deadline = Deadline::never()) {
    auto bytes = encode();
    if (!bytes) return fail(std::move(bytes).error());
    return do_put(*bytes, deadline);
  }

  // get: removes and returns the oldest item of some producer. Blocks while
  // the queue is empty, until `deadline`.
  // Errors: closed; empty (still empty at the deadline); broken.
  Result<Bytes> get(Deadline deadline = Deadline::never()) { return do_get(deadline); }
  Result<Bytes> get_nowait() { return do_get(Deadline::now()); }

  // qsize / empty / full: advisory snapshots (`queue.size.*`). They never
  // block. Errors: closed; unsupported (declared by QueueCapabilities::qsize
  // or ::full for this kind).
  virtual Result<std::int64_t> qsize() = 0;
  virtual Result<bool> empty() = 0;
  virtual Result<bool> full() = 0;

  // task_done (joinable_queue only): marks one put item as processed.
  // Errors: closed; too_many_task_done (more task_done than put calls: the
  // count is unchanged); unsupported (other kinds).
  virtual Result<void> task_done() = 0;

  // join (joinable_queue only): blocks until every item ever put has had its
  // task_done, in any process, or until `deadline` (Python's join() has no
  // deadline; the suite always passes one so it never hangs).
  // Errors: closed; timeout; unsupported (other kinds).
  virtual Result<void> join(Deadline deadline) = 0;

  // close: ends this process's use of the queue; afterwards put, get and join
  // report closed in this process. Idempotent; never blocks; does not flush
  // (destruction does).
  virtual Result<void> close() = 0;
  virtual bool closed() const = 0;

  // cancel_join_thread: this process will not wait, when it ends, for items it
  // put to be flushed; they may be lost but never corrupted
  // (`queue.flush.opt-out`). Idempotent. Errors: closed.
  virtual Result<void> cancel_join_thread() = 0;

  virtual QueueKind kind() const = 0;
  // The maxsize the queue was made with; 0 when unbounded.
  virtual std::int64_t maxsize() const = 0;

  // export_handle: describes this queue so a spawned process can re-attach it
  // with Backend::import_queue. The exporting process keeps its copy.
  // Errors: closed; unsupported.
  virtual Result<HandleToken> export_handle() = 0;

 protected:
  virtual Result<void> do_put(std::span<const std::byte> item, Deadline deadline) = 0;
  virtual Result<Bytes> do_get(Deadline deadline) = 0;
  // Contract 0.5. The default is for adapters without priorities.
  virtual Result<void> do_put_with_priority(std::span<const std::byte> item, std::uint32_t priority,
                                            Deadline deadline) {
    (void)item;
    (void)priority;
    (void)deadline;
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    return fail(errc::unsupported, 0, "no queue priorities");
  }
};

}  // namespace ipcc

#endif  // IPCC_QUEUE_H_
