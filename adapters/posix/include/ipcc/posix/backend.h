// ipcc/posix/backend.h: the posix adapter, what a careful C++ programmer gets
// from Linux and glibc alone (sockets, POSIX message queues, process-shared
// pthread objects, POSIX semaphores), mapped onto the adapter contract 0.3.
// It is the suite's baseline: every divergence below is the operating
// system's, passed through on purpose.
//
// Mapping
//
//   spec primitive        Linux / glibc feature
//   --------------------  ---------------------------------------------------
//   Pipe (duplex)         socketpair(AF_UNIX, SOCK_SEQPACKET)
//   Pipe (simplex)        the same, made one-way with shutdown(first, SHUT_WR)
//   Queue, SimpleQueue    a POSIX message queue (mq_open, unlinked at once)
//   JoinableQueue         unsupported
//   Lock                  robust process-shared pthread mutex, NORMAL type
//   RLock                 robust process-shared pthread mutex, RECURSIVE type
//   Semaphore             sem_init(pshared = 1)
//   BoundedSemaphore      unsupported (the OS has none)
//   Event                 composed: flag + robust mutex + condition variable
//   Condition, Barrier    unsupported
//
// Pipe. SOCK_SEQPACKET keeps message boundaries and reports end of stream
// when every copy of the peer is closed, so the adapter adds no framing: one
// send(MSG_NOSIGNAL) is one message (MSG_NOSIGNAL: no SIGPIPE, disposition
// untouched), and concurrent small sends never interleave
// (atomic_small_frames, frame_header_bytes = 0). Both kinds use the same
// socket type; a simplex Pipe is one that the adapter's direction checks and
// a shutdown make one-way, so it keeps the datagram semantics instead of
// needing a length-prefix layer over pipe2() that would hide them. A receive
// peeks first (MSG_PEEK | MSG_TRUNC gives the whole length), so a short
// buffer never truncates silently: recv_bytes allocates exactly, and
// recv_bytes_into reports buffer_too_short carrying the message.
// Composed by the adapter: (1) recv() returns 0 both for an empty message and
// at end of stream; the adapter sets SO_PASSCRED, so every real message
// carries credentials and a 0 without control data is end of stream.
// (2) After a message above maxlength the end stops being readable, as in
// CPython (a simplex receive end is closed; a duplex end answers
// wrong_direction); the message stays in the socket.
// Deadlines: ppoll with the time left on CLOCK_MONOTONIC, re-armed after EINTR
// and early wake-ups. send has no deadline (as Python's).
// Passed through: (1) a message must fit in SO_SNDBUF minus 32 bytes, so
// max_message_bytes is net.core.wmem_default - 32 (below the spec's 64 MiB)
// and a larger send is refused at once, never blocked; (2) when the peer
// closes with data unread, Linux reports ECONNRESET once, on the next
// receive, before the messages the peer sent are delivered, and not at all
// when the unread data were only empty messages (`pipe.peer-gone.duplex-unread`).
//
// Queue and SimpleQueue. The mqd_t is a descriptor: a forked child inherits
// it and a spawned process gets it in the token, so the name is unlinked as
// soon as the queue exists and nothing outlives the last descriptor. Every
// plain put has priority 0, so mq's priority order is FIFO for them.
// Priorities (Queue only): put_with_priority sends at the priority given, up
// to max_priority = sysconf(_SC_MQ_PRIO_MAX) - 1 (32 767 here), and a
// receive takes the oldest message of the highest priority, which is the
// spec's optional extension (`queue.priority.*`); a priority above it is
// invalid_argument (mq_send would report EINVAL). put and get are
// mq_timedsend and mq_timedreceive, whose absolute CLOCK_REALTIME time the
// adapter computes from the monotonic Deadline's remaining time; an
// ETIMEDOUT before the monotonic deadline (a wall-clock step) waits again.
// qsize and empty come from mq_getattr (exact); an item is in the kernel when
// put returns (put_visible_at_once), nothing is buffered (exits_at_once), and
// a process killed inside a call cannot damage the queue (unaffected).
// Limits, read at run time from /proc/sys/fs/mqueue: maxsize is at most
// msg_max (10 by default), an item at most msgsize_max bytes (8192), far
// below the spec's 16 MiB. A maxsize above msg_max is invalid_argument. An
// unbounded queue (maxsize <= 0, and every SimpleQueue) is the deepest the
// system allows, msg_max items; when that is full, put reports
// resource_exhausted at once rather than waiting (min_storage_bytes is
// msg_max * 64, the least those msg_max items can weigh), and full() stays
// false. Deadline::now() is a past absolute time: the call tries once.
// Every queue reserves msg_max * msgsize_max bytes against the user's
// RLIMIT_MSGQUEUE (819 200 by default), so one user can have only about seven
// queues at once (seven here); make_queue then reports resource_exhausted
// (EMFILE).
//
// Lock and RLock. A robust process-shared mutex in a memfd segment (one
// descriptor in the token for spawn; fork inherits the mapping). acquire is
// pthread_mutex_clocklock(CLOCK_MONOTONIC) (pthread_mutex_lock without a
// deadline; a past time tries once). EOWNERDEAD is answered with
// pthread_mutex_consistent at once and reported as previous_owner_died, so
// both kinds declare reported_to_next and a mutex never becomes not
// recoverable (which, with glibc 2.36's trylock, would leave its word held).
// A copy whose process acquired the lock more often than it released it keeps
// its mapping when destroyed, so that the kernel's robust-list walk at thread
// exit still finds the mutex and reports the owner's death. A forked child
// has another TID, so it never owns what its parent held.
// Passed through: a robust mutex refuses pthread_mutex_unlock by any thread
// but its owner with EPERM, whether another thread holds it or nobody does.
// The adapter reports EPERM as not_owner, so a Lock cannot be released by
// another process (`lock.release.any-process`) and a release of a free Lock
// reports not_owner, not released_too_many_times (`lock.release.unlocked`).
//
// Semaphore: sem_clockwait(CLOCK_MONOTONIC), sem_trywait for try once,
// sem_post (EOVERFLOW at SEM_VALUE_MAX is released_too_many_times),
// sem_getvalue. A holder's death gives nothing back (the spec asks nothing
// else of semaphores).
//
// Event, composed (the OS has no event): a flag and a generation count under
// a robust mutex, with a process-shared condition variable on
// CLOCK_MONOTONIC (pthread_condattr_setclock). set raises the flag, advances
// the generation and broadcasts; wait returns true when the flag is up or
// the generation moved since it began, so a waiter that a set woke returns
// true even if clear came first, as CPython's Event.wait does. A holder of
// the internal mutex that dies is recovered with pthread_mutex_consistent
// (the state is one flag and a counter, always consistent). is_set reads the
// flag without the mutex.
//
// Not provided, and why: JoinableQueue (a message queue has no task count;
// composing one would be the adapter's queue, not the OS's); BoundedSemaphore
// (sem_post has no bound; a check before the post is racy); Condition
// (pthread_cond_wait over a recursive mutex held more than once is undefined,
// and pthread_cond_signal does not check the caller holds the mutex, so the
// SHOULD clauses would not hold without an owner layer of the adapter's own);
// Barrier (pthread_barrier has no timeout, abort or reset).
//
// Blocking: every wait takes the Deadline (ppoll, mq_timed*, clocklock,
// sem_clockwait, pthread_cond_timedwait); none blocks past it except
// Event::set/clear, which wait for the internal mutex without a limit (held
// only for a few instructions by any caller).
//
// Errors: never thrown. EMFILE, ENFILE, ENOMEM, ENOSPC and ENOBUFS are
// resource_exhausted with errno in Error::native; other unexpected errno
// values are broken. Tokens this adapter did not make are invalid_argument.
//
// Safety: as ipcc/backend.h. The Backend starts no thread and opens no
// descriptor; capabilities() reads net.core.wmem_default and
// fs.mqueue.{msg_max,msgsize_max} each time it is called.
//
// Lifetime: memfd segments and message queues are freed by the kernel when
// the last descriptor and mapping is gone, even after SIGKILL; no name is
// left in /dev/shm or in the mqueue filesystem.
#ifndef IPCC_POSIX_BACKEND_H_
#define IPCC_POSIX_BACKEND_H_

#include <memory>

#include "ipcc/backend.h"

namespace ipcc::posix {

// make_backend: the posix Backend. Capabilities (read from the system at run
// time): fork and spawn; duplex and simplex Pipes with max_message_bytes =
// net.core.wmem_default - 32 (212 960 here, below the spec's 64 MiB),
// min_buffer_bytes 32 KiB, min_buffered_messages 32,
// duplex_close_with_unread = connection_reset, atomic_small_frames,
// frame_header_bytes 0; queue and simple_queue with qsize,
// put_visible_at_once, max_maxsize = fs.mqueue.msg_max, max_item_bytes =
// fs.mqueue.msgsize_max, min_storage_bytes = 64 * msg_max, reported_by_put,
// exits_at_once, unaffected by killed consumers and producers, max_priority =
// sysconf(_SC_MQ_PRIO_MAX) - 1; lock, rlock,
// semaphore (get_value, max_semaphore_value = SEM_VALUE_MAX) and event, with
// reported_to_next owner death for both lock kinds.
std::unique_ptr<Backend> make_backend();

}  // namespace ipcc::posix

#endif  // IPCC_POSIX_BACKEND_H_
