// ipcc/reference/sync.h: the reference Lock, RLock, Semaphore,
// BoundedSemaphore, Event, Condition and Barrier.
//
// What: the primitives of ipcc/sync.h, each over one small shared memory
// segment of its own: a memfd (close-on-exec, sealed against resizing) that
// every process holding a copy maps MAP_SHARED. There is no named object and
// no helper thread, so nothing is left in /dev/shm or anywhere else: the
// segment is freed when the last process holding its descriptor or a mapping
// is gone, even after SIGKILL. A forked child inherits the mapping; a spawned
// process re-attaches with export_handle() and the matching import_*().
// Tokens: kind "ipcc.reference.<lock|semaphore|event|condition|barrier>/1",
// one descriptor, printable data naming the variant ("v=1;kind=rlock",
// "v=1;kind=semaphore", "v=1;kind=bounded_semaphore;bound=3", "v=1",
// "v=1;lock=rlock", "v=1;parties=4").
//
// Every primitive is a few atomic words in its segment; blocking uses
// futexes on those words (never a process-shared pthread condition variable
// or mutex, which a process killed inside them can wedge). Ownership is the
// calling thread's kernel TID, kept in a thread-local cache that a
// pthread_atfork child handler clears, so the fast paths make no system
// call: acquiring and releasing a free Lock or RLock, or a Semaphore whose
// value is above 0, is one compare-and-swap each; a release makes a
// FUTEX_WAKE only when a sleeper announced itself (a waiters bit or count).
//
// Lock and RLock: the lock word holds the owner's TID (0 when free) plus a
// waiters bit. Acquire is a compare-and-swap 0 -> TID, and when the lock is
// taken it sleeps at once, without spinning (a spin only delays a holder
// that shares the waiter's CPU); release swaps 0 back in. Lock: any process may release, so
// the word cannot be a robust pthread mutex (unlocking one you do not own is
// EPERM), and the kernel's robust list cannot be used either: the owning
// thread links an entry at acquire and unlinks it at release, which a
// release from another process cannot do.
// RLock: a recursion count beside the word, touched only by the owner; a
// forked child has another TID, so it is never the owner
// (`rlock.fork.not-owner`).
//
// Owner death (SyncCapabilities: reported_to_next for both kinds): a waiter
// sleeps on the lock word in slices of at most kOwnerCheckInterval; when a
// slice ends with the word still naming the same owner, and whenever an
// acquire is about to report timeout (Deadline::now() included), it reads
// /proc/<tid>/stat: a missing entry, or state Z or X (a killed holder is a
// zombie until reaped), means the owner has ended. The waiter then takes the
// word over with one compare-and-swap from the dead owner's value to its own
// TID, so exactly one acquirer wins it and is told (Acquired::
// previous_owner_died; an RLock's count restarts at 1). Any way the owner
// ends counts: SIGKILL, _exit, a normal exit without release, and the end of
// the owning thread alone. So a holder killed while others wait lets one of
// them in within about kOwnerCheckInterval (plus the time the kernel takes to
// tear the process down), whatever their deadlines.
// Limits, by design: (1) the TID of the dead owner may be reused by a new
// thread before anyone looks (Linux hands TIDs out in increasing order and
// wraps at pid_max, so this needs pid_max new threads in the meantime); the
// lock then looks held by the new thread until it ends, and acquires keep
// their deadlines. (2) Every process sharing a lock must be in one PID
// namespace: import_* refuses a token from a process in another one when
// /proc/self/ns/pid tells. (3) A process that makes a child with a raw
// clone() (no atfork handlers) must not use a primitive in that child.
// (4) Where /proc/<tid> cannot be read (no /proc, or hidepid= hiding
// another user's processes) liveness falls back to kill(tid, 0), which
// sees zombies as alive: a holder killed but not yet reaped then keeps the
// lock until its parent reaps it. Condition::wait re-acquires its lock like
// acquire() and takes a dead owner's lock over the same way, but its result
// (a bool) cannot carry the report: the takeover then goes unreported.
//
// Semaphore and BoundedSemaphore: the value is the futex word, in
// [0, kMaxSemaphoreValue]; acquire and release are compare-and-swap loops,
// so a BoundedSemaphore never exceeds its bound, even under concurrent
// releases (CPython's check is racy); a count of sleepers beside it decides
// whether a release wakes one. (A sleeper killed in its sleep leaves that
// count, and the Event's, one too high: later calls then make a FUTEX_WAKE
// nobody needed; no outcome changes.)
//
// Event: one word, generation << 1 | flag. set raises the flag and advances
// the generation in one step and wakes every sleeper (FUTEX_WAKE all); a
// wait returns true when it sees the flag up or the generation moved since
// it began, so a wait that was waiting when set() happened returns true even
// when clear() followed at once (`event.wait.no-lost-wakeup`).
//
// Condition: its own Lock or RLock (ConditionOptions::lock) plus tickets. A
// waiter takes a ticket under the lock, releases the lock fully (an RLock
// held k times is re-acquired to depth k afterwards), sleeps until the
// tickets served so far include its own or its deadline passes, then
// re-acquires the lock without a deadline (as Python does). notify(n) under
// the lock serves the next n live tickets, skipping those of waiters that
// timed out, so it wakes at most n of the waiters that were waiting when it
// was called and at least min(n, those waiting); a waiter whose deadline
// passed but whose ticket was served before it got the lock back counts as
// notified and returns true, so no notification is lost. notify_all serves
// every ticket. At most kConditionMaxWaiters tickets may be outstanding;
// a wait beyond that reports broken. A waiter killed while waiting keeps its
// ticket, and a notify may be spent on it (as CPython's would be).
//
// Barrier: one 64-bit state word (phase, broken flag, outcome of the last
// phase, number arrived) changed by compare-and-swap, a wake-up word, and a
// bitmap that keeps the outcome (completed or reset) of the last
// kBarrierPhaseHistory phases, so a waiter that sleeps through later phases
// still learns how its own ended. The last to arrive gets index parties-1
// (as CPython) and starts the next phase; a wait that passes its deadline
// breaks the barrier (broken for every waiter of the phase and every later
// wait until reset()); abort() breaks it; reset() ends the phase as broken
// for its waiters and opens a fresh one. A party killed while waiting can
// only keep its phase from completing: the others' waits end at their
// deadlines, break the barrier, and reset() makes it usable again. A waiter
// that sleeps (stopped) through more than kBarrierPhaseHistory phases
// reports broken.
//
// Blocking: every wait takes an absolute CLOCK_MONOTONIC deadline
// (FUTEX_WAIT_BITSET; ipcc::Deadline is steady_clock), retries EINTR and
// spurious wake-ups, never reports timeout (or false, or broken for a
// barrier's own deadline) before its deadline and never sleeps past it.
// Deadline::now() tries once. Sleepers also re-check every
// kOwnerCheckInterval, so a process killed between a change and its wake-up
// delays the others by that much at most.
//
// Errors: never thrown. invalid_argument for bad creation arguments and for
// tokens this library did not make; broken when the shared state fails a
// sanity check (someone wrote garbage into the segment); resource_exhausted
// when memfd_create, ftruncate or mmap fail (Error::native holds errno).
//
// Safety: an object is used by one thread at a time (ipcc/sync.h); several
// objects for the same primitive may be used by several threads and
// processes at once. Ownership is per thread.
//
// Lifetime: destroying an object unmaps this process's view and closes its
// descriptor; it never releases a lock the process holds.
#ifndef IPCC_REFERENCE_SYNC_H_
#define IPCC_REFERENCE_SYNC_H_

#include <chrono>
#include <cstdint>
#include <memory>

#include "ipcc/backend.h"
#include "ipcc/sync.h"

namespace ipcc::reference {

// Largest semaphore value (CPython's SEM_VALUE_MAX on Linux).
inline constexpr std::int64_t kMaxSemaphoreValue = 2147483647;
// Largest Barrier parties.
inline constexpr std::int64_t kMaxBarrierParties = 2147483647;
// Waiters a Condition can hold at once.
inline constexpr std::uint32_t kConditionMaxWaiters = 4096;
// Phases a Barrier remembers the outcome of.
inline constexpr std::uint32_t kBarrierPhaseHistory = 32768;
// How often a sleeper looks again without being woken (and checks a lock
// owner's liveness).
inline constexpr std::chrono::milliseconds kOwnerCheckInterval{100};

// What the reference declares: every primitive, get_value,
// max_semaphore_value kMaxSemaphoreValue, and reported_to_next for the
// owner death of both lock kinds.
SyncCapabilities sync_capabilities();

// make_lock: a new unlocked Lock or RLock. Errors: invalid_argument (an
// unknown kind); resource_exhausted.
Result<std::unique_ptr<Lock>> make_lock(LockKind kind);

// import_*: re-attach a primitive exported by export_handle() in another
// process (or this one). The token's descriptor must be this process's; on
// success the new object owns it (and sets close-on-exec on it), on failure
// it is left open for the caller. Errors: invalid_argument for anything this
// library did not make (another kind or format, a descriptor that is not a
// sealed segment of the expected size, a segment header that does not match
// the token, a segment from another PID namespace); resource_exhausted.
Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token);

// make_semaphore: value in [0, kMaxSemaphoreValue], else invalid_argument;
// also invalid_argument for an unknown kind. A BoundedSemaphore's bound is
// its initial value.
Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options);
Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token);

Result<std::unique_ptr<Event>> make_event();
Result<std::unique_ptr<Event>> import_event(const HandleToken& token);

// make_condition: options.lock is the kind of the condition's own lock.
// Errors: invalid_argument (an unknown kind); resource_exhausted.
Result<std::unique_ptr<Condition>> make_condition(const ConditionOptions& options);
Result<std::unique_ptr<Condition>> import_condition(const HandleToken& token);

// make_barrier: parties in [1, kMaxBarrierParties], else invalid_argument.
Result<std::unique_ptr<Barrier>> make_barrier(const BarrierOptions& options);
Result<std::unique_ptr<Barrier>> import_barrier(const HandleToken& token);

}  // namespace ipcc::reference

#endif  // IPCC_REFERENCE_SYNC_H_
