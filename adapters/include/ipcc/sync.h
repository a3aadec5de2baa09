// ipcc/sync.h: process-shared synchronisation primitives (Python's `Lock`,
// `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`, `Condition`, `Barrier`).
//
// What: each object is one process's copy of a primitive that several
// processes share (inherited across fork, or exported and re-imported across
// spawn). spec/lock.md, spec/semaphore.md, spec/event.md, spec/condition.md
// and spec/barrier.md define every observable behaviour; clause IDs are cited
// below.
//
// Safety: an object is not safe for concurrent use by several threads of one
// process. Ownership (RLock, Condition) belongs to the calling thread; the
// suite runs one thread per process, so an owner is a process there. A forked
// child is never the owner of anything its parent owned (`rlock.fork.not-owner`).
//
// Blocking: acquire and wait take a Deadline (ipcc/deadline.h).
// Deadline::now() is Python's `block=False` (and a timeout <= 0): try once,
// never wait. No call blocks past its deadline, whatever other processes do
// or did (died holding a lock, stopped mid-operation): `lock.acquire.timeout`.
// Returning `timeout` before the deadline is a conformance failure.
//
// Errors: every operation returns a Result; the codes are listed per method.
//
// Lifetime: destroying an object ends this process's use of the primitive.
// It never releases a lock this process holds (Python: a Lock is not released
// when its holder ends; see SyncCapabilities::lock_owner_death for what
// others then observe). The primitive lives until the last process's copy is
// gone.
#ifndef IPCC_SYNC_H_
#define IPCC_SYNC_H_

#include <cstdint>
#include <string_view>

#include "ipcc/connection.h"
#include "ipcc/deadline.h"
#include "ipcc/result.h"

namespace ipcc {

enum class LockKind : std::uint8_t {
  lock,   // not recursive; any process may release (`lock.release.any-process`)
  rlock,  // recursive; only the owner releases (`rlock.release.owner-only`)
};

enum class SemaphoreKind : std::uint8_t {
  semaphore,          // release may raise the value above the initial one
  bounded_semaphore,  // release above the initial value is an error
};

std::string_view to_string(LockKind kind);
std::string_view to_string(SemaphoreKind kind);

// What a successful acquire learned.
struct Acquired {
  // The previous owner ended while holding the lock and this acquire took it
  // over (SyncCapabilities::lock_owner_death == reported_to_next). The state
  // the lock protected may be half-updated. Reported to exactly one acquirer.
  bool previous_owner_died = false;
};

// Lock and RLock.
class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  virtual ~Lock() = default;

  // acquire: takes the lock, waiting until `deadline` while another holds it.
  // A Lock held by the caller is not re-entered: a second acquire waits like
  // any other (`lock.acquire.not-recursive`). An RLock held by the caller is
  // re-entered at once and its count goes up (`rlock.acquire.recursive`).
  // Errors: timeout (still held by another at the deadline); broken.
  virtual Result<Acquired> acquire(Deadline deadline = Deadline::never()) = 0;

  // release: Lock: any process may release a held Lock; releasing an
  // unlocked one is released_too_many_times. RLock: the owner's count goes
  // down, freeing it at zero; a caller that is not the owner gets not_owner
  // and nothing changes. Never blocks.
  virtual Result<void> release() = 0;

  virtual LockKind kind() const = 0;

  // export_handle: describes the lock so a spawned process can re-attach it
  // with Backend::import_lock. Errors: unsupported.
  virtual Result<HandleToken> export_handle() = 0;
};

struct SemaphoreOptions {
  SemaphoreKind kind = SemaphoreKind::semaphore;
  // The initial value; also the bound of a bounded_semaphore. Must lie in
  // [0, SyncCapabilities::max_semaphore_value] (`semaphore.create.invalid-value`).
  std::int64_t value = 1;
};

// Semaphore and BoundedSemaphore.
class Semaphore {
 public:
  Semaphore() = default;
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;

  // acquire: decrements the value, waiting until `deadline` while it is 0.
  // Errors: timeout; broken.
  virtual Result<void> acquire(Deadline deadline = Deadline::never()) = 0;

  // release: increments the value and wakes one waiter. Any process may
  // release. Errors: released_too_many_times (bounded_semaphore at its
  // initial value, or any semaphore at max_semaphore_value; nothing changes).
  virtual Result<void> release() = 0;

  // get_value: the current value, a snapshot. Errors: unsupported (declared
  // by SyncCapabilities::get_value).
  virtual Result<std::int64_t> get_value() = 0;

  virtual SemaphoreKind kind() const = 0;
  virtual Result<HandleToken> export_handle() = 0;
};

// Event: a flag with blocking waits.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  virtual ~Event() = default;

  // set: raises the flag and wakes every waiter in every process
  // (`event.set.wakes-all`). Idempotent. Errors: broken.
  virtual Result<void> set() = 0;
  // clear: lowers the flag. Errors: broken.
  virtual Result<void> clear() = 0;
  virtual Result<bool> is_set() = 0;
  // wait: returns true once the flag is raised, or false when `deadline`
  // passed with it lowered (Python returns the flag, never raises on
  // timeout). Errors: broken.
  virtual Result<bool> wait(Deadline deadline = Deadline::never()) = 0;

  virtual Result<HandleToken> export_handle() = 0;
};

struct ConditionOptions {
  // The kind of the condition's own lock (Python's default is a new RLock).
  LockKind lock = LockKind::rlock;
};

// Condition: a lock plus wait/notify.
class Condition {
 public:
  Condition() = default;
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  virtual ~Condition() = default;

  // acquire / release: of the condition's lock, as Lock::acquire/release.
  virtual Result<Acquired> acquire(Deadline deadline = Deadline::never()) = 0;
  virtual Result<void> release() = 0;

  // wait: releases the lock, waits for a notify or `deadline`, takes the lock
  // back (however long that takes) and returns true when notified, false on
  // timeout. Errors: not_owner (the caller does not hold the lock; nothing
  // changes); broken.
  virtual Result<bool> wait(Deadline deadline = Deadline::never()) = 0;

  // notify: wakes up to `n` waiters; notify_all: every waiter. No waiter is a
  // no-op. Errors: not_owner (the caller does not hold the lock);
  // invalid_argument (n < 0).
  virtual Result<void> notify(std::int64_t n = 1) = 0;
  virtual Result<void> notify_all() = 0;

  virtual Result<HandleToken> export_handle() = 0;
};

struct BarrierOptions {
  std::int64_t parties = 2;  // at least 1 (`barrier.create.invalid-parties`)
};

// Barrier: `parties` processes meet.
class Barrier {
 public:
  Barrier() = default;
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;
  virtual ~Barrier() = default;

  // wait: blocks until `parties` waits of one generation have arrived, then
  // returns this party's distinct index in [0, parties). Errors: broken (the
  // barrier is or becomes broken: abort(), reset() while waiting, or a wait
  // of this generation passed its deadline, this one included: Python's
  // BrokenBarrierError).
  virtual Result<std::int64_t> wait(Deadline deadline = Deadline::never()) = 0;
  // reset: back to the empty, unbroken state; current waiters get broken.
  virtual Result<void> reset() = 0;
  // abort: breaks the barrier; current and later waits get broken until reset.
  virtual Result<void> abort() = 0;
  virtual Result<std::int64_t> n_waiting() = 0;
  virtual Result<bool> broken() = 0;
  virtual std::int64_t parties() const = 0;

  virtual Result<HandleToken> export_handle() = 0;
};

}  // namespace ipcc

#endif  // IPCC_SYNC_H_
