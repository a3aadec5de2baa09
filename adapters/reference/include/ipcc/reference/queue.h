// ipcc/reference/queue.h: the reference Queue, SimpleQueue and JoinableQueue.
//
// What: ipcc::Queue (ipcc/queue.h) over one shared memory segment per queue,
// a memfd (close-on-exec, sealed against resizing) that every process holding
// a copy maps MAP_SHARED. There is no helper thread and no named object, so
// nothing outlives the last process that holds the descriptor or a mapping,
// even after SIGKILL. A forked child inherits the mapping; a spawned process
// re-attaches with export_handle() and import_queue(). put() is synchronous:
// when it returns, the item is in the segment and every process sees it, so
// cancel_join_thread() and destruction have nothing to flush.
//
// Storage: items are length-prefixed records in a byte ring of
// QueueStorageOptions::storage_bytes. The default, 256 MiB, is *virtual*:
// pages are allocated when first written, and a queue that becomes empty
// starts again at the ring's first page, so steady low-occupancy traffic
// keeps reusing the same few pages. A record takes 8 bytes plus the item
// rounded up to 8, so the ring holds at least storage_bytes of items counted
// with the contract's 64 bytes of overhead each (QueueCapabilities::
// min_storage_bytes). An item above kQueueMaxItemBytes is refused with
// message_too_large; an item larger than the free part of the ring with
// resource_exhausted, at once: put waits only while maxsize items are
// queued, never for bytes.
//
// Crash consistency: one robust process-shared mutex guards the queue. The
// queue's state (head, tail, count, unfinished tasks) is double-buffered and
// every change is published by one store of a commit counter, after the item
// bytes are in place. A process killed at any instant, even in the middle of
// copying a 64 MiB item in or out, leaves the last committed state: its
// unfinished put or get has no effect, and the next process to lock recovers
// the mutex (EOWNERDEAD) and carries on. QueueCapabilities declares survivors
// `unaffected` by a killed producer or consumer.
//
// Blocking: waits for an item, for room or for unfinished tasks use futex
// eventcounts in the segment, never condition variables (a waiter killed
// inside a shared pthread_cond can wedge it). Such a wait never reports
// empty, full or timeout before its deadline, and never lasts beyond it. A
// sleeper also looks at the queue every 100 ms, so a process killed between
// its commit and its wake-up delays survivors by that much at most.
// qsize(), empty(), full() and the decision that a queue is empty or full
// read the committed state without the lock, so they never block.
//
// The lock: it is held for a few hundred nanoseconds plus the copy of one
// item, with the pages on both sides of the copy faulted in beforehand (a
// 64 MiB item holds it for a few milliseconds). A call that finds it taken
// polls it for a few microseconds, then sleeps on it, until its deadline or
// kQueueLockGrace after it first found the lock taken, whichever is later:
// Deadline::now() means "try once", and trying needs the lock. If it is
// still held then (its holder is stopped, or copying an enormous item on a
// starved CPU), put reports full and get reports empty, as Python's
// get(block=False) does when another reader holds the lock; Deadline::never()
// waits for it without limit. task_done() has no deadline and, like Python's,
// waits for the lock without limit. The lock is not fair: a process that
// releases it may take it again before a waiter's next poll, which lets
// small items move in batches instead of one cache miss at a time.
//
// Errors: never thrown. closed is checked first, then the arguments, then
// the state; broken means the shared state failed a sanity check (someone
// wrote garbage into the segment) or the mutex is unrecoverable.
//
// Safety: a Queue object is used by one thread at a time (ipcc/queue.h).
// It works in a forked child (glibc re-registers the robust-mutex list of the
// child's thread). Do not fork while another thread of the process is inside
// a queue call: the child would inherit a lock held by a thread it lacks.
//
// Lifetime: close() (and destruction) unmaps this process's view and closes
// its descriptor; the segment is freed when the last copy is gone.
#ifndef IPCC_REFERENCE_QUEUE_H_
#define IPCC_REFERENCE_QUEUE_H_

#include <chrono>
#include <cstdint>
#include <memory>

#include "ipcc/backend.h"
#include "ipcc/queue.h"

namespace ipcc::reference {

// Largest item put() accepts.
inline constexpr std::uint64_t kQueueMaxItemBytes = std::uint64_t{64} << 20;
// Largest bounded maxsize (CPython's SEM_VALUE_MAX).
inline constexpr std::int64_t kQueueMaxMaxsize = 2147483647;
// Default size of the item ring: virtual memory, allocated as it is used.
inline constexpr std::uint64_t kDefaultQueueStorageBytes = std::uint64_t{256} << 20;
// Accepted ring sizes; storage_bytes is rounded up to a multiple of 64.
inline constexpr std::uint64_t kMinQueueStorageBytes = 64;
inline constexpr std::uint64_t kMaxQueueStorageBytes = std::uint64_t{1} << 40;
// How long past its deadline a call may wait for the lock (see above).
inline constexpr std::chrono::milliseconds kQueueLockGrace{20};

struct QueueStorageOptions {
  // Bytes of the item ring, in [kMinQueueStorageBytes, kMaxQueueStorageBytes].
  // Small rings are for tests of wrap-around and resource_exhausted.
  std::uint64_t storage_bytes = kDefaultQueueStorageBytes;
};

// make_queue: creates a Queue, SimpleQueue or JoinableQueue (options.kind).
// maxsize <= 0 makes Queue and JoinableQueue unbounded (maxsize() is then 0).
// Errors: invalid_argument (an unknown kind, maxsize above kQueueMaxMaxsize,
// a non-zero maxsize for simple_queue, storage_bytes out of range);
// resource_exhausted (memfd_create, ftruncate or mmap failed: Error::native
// holds errno). Nothing is left behind on failure.
Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options,
                                          const QueueStorageOptions& storage = {});

// import_queue: re-attaches a queue exported by export_handle() in another
// process (or this one). The token's descriptor must be this process's; on
// success the new Queue owns it (and sets close-on-exec on it), on failure it
// is left open for the caller. Errors: invalid_argument for anything this
// library did not make: another kind or format, a descriptor that is not a
// sealed segment of the announced size, a segment header that does not match
// the token; resource_exhausted (mmap failed for lack of memory).
Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token);

// What the reference declares for queues made with `storage`: every kind,
// qsize, put_visible_at_once, max_maxsize kQueueMaxMaxsize, max_item_bytes
// kQueueMaxItemBytes, min_storage_bytes = the ring size, serialization
// failures reported by put, producers that exit at once, and survivors
// unaffected by a killed producer or consumer.
QueueCapabilities queue_capabilities(const QueueStorageOptions& storage = {});

}  // namespace ipcc::reference

#endif  // IPCC_REFERENCE_QUEUE_H_
