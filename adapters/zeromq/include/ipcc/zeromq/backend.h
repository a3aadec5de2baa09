// ipcc/zeromq/backend.h: the ZeroMQ adapter (libzmq 4.3.4 through cppzmq 4.9).
//
// What: the spec's Pipe mapped onto ZeroMQ sockets over `ipc://` endpoints.
// Everything else the contract offers is declared unsupported, because ZeroMQ
// has no such thing.
//
//   spec primitive       ZeroMQ feature
//   -------------------  ----------------------------------------------------
//   Pipe(duplex=true)    ZMQ_PAIR <-> ZMQ_PAIR; the first end binds, the
//                        second end connects
//   Pipe(duplex=false)   first end (receive-only) ZMQ_PULL, binds;
//                        second end (send-only) ZMQ_PUSH, connects
//   send_bytes           zmq_msg_send of one single-part message, blocking
//                        (no ZMQ_SNDTIMEO: the contract's send has no limit)
//   recv_bytes,          zmq_poll(ZMQ_POLLIN) for the Deadline's remaining
//   recv_bytes_into      time, then zmq_msg_recv(ZMQ_DONTWAIT) into a
//                        zmq::message_t (never the truncating fixed-buffer
//                        zmq_recv)
//   poll                 zmq_poll(ZMQ_POLLIN) for the remaining time
//   close                zmq_close; the last socket of a process also ends its
//                        context with zmq_ctx_term (bounded by ZMQ_LINGER)
//   Queue, Lock,         unsupported (capabilities declare none). Queue: a
//   Semaphore, Event,    multiprocessing queue is many-producer and
//   Condition, Barrier   many-consumer, and any copy may get; PUSH/PULL has
//                        exactly one binding consumer, and empty()/full()
//                        have no ZeroMQ counterpart, so a natural mapping
//                        would need a broker process. The synchronisation
//                        primitives have no ZeroMQ feature at all.
//
// Endpoints: each Pipe gets one endpoint in the Linux abstract socket
// namespace, `ipc://@ipcc-zeromq-<pid>-<counter>-<random>` (libzmq turns a
// leading '@' into the abstract namespace). Nothing is created in the file
// system, so no socket file or directory can outlive the Pipe, even when a
// process holding the bound end is killed; the kernel drops the name when the
// bound socket closes. The endpoint name is all a copy needs, so it is what
// the HandleToken carries for spawn (no descriptors).
//
// What the adapter composes, and why:
//   - Message framing is ZeroMQ's own: one send is one message, delivered
//     whole or not at all. The adapter only checks the contract's arguments
//     (closed, direction, ranges, max_message_bytes) before calling libzmq,
//     and sets ZMQ_MAXMSGSIZE = max_message_bytes on receiving sockets, so a
//     peer announcing a larger frame is disconnected before anything is
//     allocated.
//   - recv_bytes(maxlength) receives the whole message and, if it is longer,
//     reports message_too_large and makes the end unreadable as the spec
//     says (duplex: readable() false; simplex: this copy is closed). The
//     message is lost, as the spec says it is.
//   - Contexts are not fork-safe, and the suite forks the test process, so
//     no library state is created before an end is used. The context and
//     sockets are created per process on first use (a send, receive or
//     poll); a process id that differs from the one that created them means
//     an inherited copy: the parent's context and sockets are abandoned
//     untouched (never closed or terminated in the child) and fresh ones are
//     made. When an end is first used in a process, every end of the same
//     Pipe still open in that process gets its socket at the same time (a
//     careful user creates both sockets of a pair together; otherwise a PAIR
//     end used alone in one process would wait for a peer that is never
//     created). The context is terminated when the last socket of the
//     process is closed, so no I/O thread or descriptor survives the ends.
//   - export_handle() moves the messages already queued in this process's
//     socket (ZeroMQ's read-ahead) into the token, as the contract requires.
//
// ZMQ_LINGER is 1000 ms (kLingerMilliseconds), not the library default -1.
// The contract's close() never waits for a peer; with -1, closing the last
// end of a process blocks in zmq_ctx_term until every queued message has
// been handed to a peer, and forever when that peer is gone or starts only
// after the close (the suite's test process closes its copies before the
// workers start, which hung it). LINGER 0 would drop messages that were
// merely not yet written out at every close (the research saw 0 of 20
// messages of short-lived producers arrive). A bounded linger keeps the
// delivery of a normal close and bounds the wait: close() of the last end in
// a process may take up to 1 s, after which undelivered messages are lost.
// HWMs are the defaults (1000 messages each way); ZeroMQ counts messages,
// not bytes.
//
// Fork: a forked child inherits the descriptors of its parent's context,
// among them the listening socket of every endpoint the parent bound. An
// inherited listener keeps the abstract name bound in the child (nobody
// accepts on it there), so the child's own bind would fail with EADDRINUSE
// and peers' connections would queue on it forever. The adapter records the
// listening descriptor after each zmq_bind and closes the child's copies in
// a pthread_atfork child handler; this is descriptor plumbing for fork, the
// parent's context is otherwise left untouched.
//
// Divergences the adapter knowingly passes through (the suite shows them):
//   - No end of stream. ZeroMQ reports neither a closed nor a vanished peer:
//     a receive after the peer's last close waits for its deadline (timeout)
//     or forever, never eof, truncated or connection_reset. A peer's
//     disconnection is visible only through zmq_socket_monitor events, on a
//     separate channel and racy against the data (a reconnecting copy looks
//     the same), so the adapter does not synthesise one. For the same reason
//     a send with no reader left never reports broken_pipe: it is queued up
//     to the HWM, then blocks.
//   - Delivery is asynchronous: zmq_msg_send returns once the message is in
//     the sender's queue, and an I/O thread moves it to the receiving socket
//     later, so a poll(0) right after a completed send may still be false.
//   - A send may block while no peer is connected: a binding PAIR has no
//     outgoing queue until its peer process has created its socket. The
//     connecting ends (the second end, and every PUSH) queue at once.
//   - Capacity is counted in messages: a single message of any size is
//     accepted without a reader (up to memory), so no send of one large
//     message blocks for capacity.
//   - make_pipe opens no descriptor (sockets are made on first use), so it
//     cannot report resource_exhausted; running out of descriptors shows at
//     the first use of an end instead, as resource_exhausted with errno.
//   - A receive's deadline bounds the wait for a whole message: ZeroMQ
//     delivers only complete messages, so a long message that started to
//     arrive before the deadline and ended after it reports timeout and is
//     delivered by the next receive.
//   - Copies of one end in several processes: copies of a PUSH end each
//     connect and are fair-queued by the PULL; a second copy of a PAIR end is
//     refused by its exclusive peer (its messages wait or are lost); a second
//     process binding the same end gets EADDRINUSE (reported as broken).
//   - Messages in a socket's queue when its process closes it, exits or
//     forks are lost to other copies: a forked child cannot use its
//     parent's socket, so read-ahead does not survive fork.
//   - A worker that ends without closing (the harness's exit_now, _exit,
//     SIGKILL) loses the messages its context had not yet written out.
//
// Capabilities: both Pipe kinds, fork and spawn, max_message_bytes 2^32 - 1
// (a limit the adapter enforces; ZeroMQ has none of its own),
// min_buffer_bytes 32 KiB and min_buffered_messages 32 (a connecting end
// queues up to its HWM of 1000 messages of any size; declared lower to keep
// the generated cases small), atomic_small_frames (ZeroMQ messages are
// atomic at every size), frame_header_bytes 9 (ZMTP's long-frame header),
// duplex_close_with_unread eof (the contract allows only eof or
// connection_reset; ZeroMQ gives neither). No queue kind and no
// synchronisation primitive.
//
// Blocking: send_bytes has no time limit (like the contract's). Receives and
// poll honour their Deadline through zmq_poll; a receive waiting for an end
// of stream that ZeroMQ never reports waits for its whole deadline, or
// forever without one. close() may wait up to kLingerMilliseconds, as
// described under ZMQ_LINGER.
//
// Safety: a Backend and its Connections are used from one thread; every
// end of every Pipe in a process shares that process's one context.
#ifndef IPCC_ZEROMQ_BACKEND_H_
#define IPCC_ZEROMQ_BACKEND_H_

#include <cstdint>
#include <memory>

#include "ipcc/backend.h"

namespace ipcc::zeromq {

// ZMQ_LINGER of every socket: how long closing the last end in a process
// waits for its queued messages to reach a peer before dropping them.
inline constexpr int kLingerMilliseconds = 1000;

// The largest message the adapter sends or accepts.
inline constexpr std::uint64_t kMaxMessageBytes = (std::uint64_t{1} << 32) - 1;

// make_backend: the ZeroMQ adapter's Backend. Starts no thread and opens no
// descriptor: libzmq state is created on the first use of an end.
std::unique_ptr<Backend> make_backend();

}  // namespace ipcc::zeromq

#endif  // IPCC_ZEROMQ_BACKEND_H_
