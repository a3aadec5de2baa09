// ipcc/connection.h: one end of a message Pipe (Python's `Connection`).
//
// What: a `Connection` sends and receives whole messages (byte strings) to and
// from the other end of its Pipe. A duplex end both sends and receives; a
// simplex Pipe has a receive-only first end and a send-only second end.
// spec/pipe.md defines every observable behaviour; clause IDs are cited below.
//
// Safety: a Connection is not safe for concurrent use by several threads.
// Several *processes* may hold copies of one end (after fork, or after
// export/import); spec/pipe.md says what is and is not guaranteed then
// (`pipe.sharing.atomic-small-frames`; concurrent readers are unspecified).
//
// Blocking: `send_bytes` may block while the channel is full (no time limit,
// like Python). `recv_bytes`, `recv_bytes_into` and `poll` take a Deadline
// (ipcc/deadline.h); the deadline bounds the wait for a message to *start*
// arriving. Once the first byte of a message has been read, the call completes
// the message (or reports `truncated` if the writer vanished mid-message).
//
// Errors: every operation returns a Result; the codes used are listed per
// method. The checks run in a fixed order: closed, then direction, then the
// arguments, then I/O (`pipe.close.then-closed`).
//
// Lifetime: destroying a Connection closes it. Copies held by other processes
// are independent: closing one copy does not close the others, and end of
// stream is reported only when every copy of the peer's send end is closed
// (`pipe.eof.requires-all-copies`).
//
// Adapter authors implement the protected `do_*` hooks; the public front end
// only normalises timed forms into a Deadline. Argument validation is the
// adapter's job (the suite tests it), so the front end passes arguments on
// unchanged.
#ifndef IPCC_CONNECTION_H_
#define IPCC_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ipcc/bytes.h"
#include "ipcc/deadline.h"
#include "ipcc/result.h"

namespace ipcc {

// A serialisable reference to a primitive, for handing it to a process that
// was spawned (exec'd), not forked. `fds` are file descriptors the receiving
// process must inherit; the launcher renumbers them and the importer receives
// the child's numbers in the same order. `data` is adapter-defined text.
struct HandleToken {
  std::string kind;      // adapter-defined type tag, e.g. "ipcc.reference.connection/1"
  std::string data;      // adapter-defined, printable ASCII, no newlines
  std::vector<int> fds;  // descriptors to inherit, in order
};

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virtual ~Connection() = default;

  // send_bytes: sends `buffer[offset, offset + size)` as one message; `size`
  // defaults to the rest of the buffer. Offsets and sizes count bytes. May
  // block while the channel is full.
  // Errors: closed; wrong_direction (receive-only end); invalid_argument
  // (negative offset, offset past the end, negative size, range past the end:
  // nothing is sent); message_too_large (above max_message_bytes, nothing
  // sent); broken_pipe (no reader is left; the process is not killed).
  Result<void> send_bytes(std::span<const std::byte> buffer, std::int64_t offset = 0,
                          std::optional<std::int64_t> size = std::nullopt) {
    return do_send_bytes(buffer, offset, size);
  }

  // recv_bytes: blocks until a whole message is available and returns it.
  // Errors: closed; wrong_direction; invalid_argument (negative maxlength,
  // nothing consumed); message_too_large (longer than maxlength: the end is no
  // longer readable afterwards); eof; truncated; timeout (only the Deadline
  // forms, when no message started arriving in time); connection_reset.
  Result<Bytes> recv_bytes(std::optional<std::int64_t> maxlength = std::nullopt) {
    return do_recv_bytes(maxlength, Deadline::never());
  }
  Result<Bytes> recv_bytes(std::optional<std::int64_t> maxlength, Deadline deadline) {
    return do_recv_bytes(maxlength, deadline);
  }

  // recv_bytes_into: receives one message into `buffer` at byte `offset` and
  // returns its length; other bytes of `buffer` are left untouched.
  // Errors: as recv_bytes, plus invalid_argument (negative offset or offset
  // past the end, checked before anything is consumed) and buffer_too_short
  // (the message is consumed and carried whole in Error::message).
  Result<std::int64_t> recv_bytes_into(std::span<std::byte> buffer, std::int64_t offset = 0,
                                       Deadline deadline = Deadline::never()) {
    return do_recv_bytes_into(buffer, offset, deadline);
  }

  // poll: true when recv would not block (a message or end of stream is
  // readable). poll() tries once (Python poll() / poll(0)); poll_forever()
  // blocks without limit (Python poll(None)). Never consumes a message.
  // Errors: closed; wrong_direction.
  Result<bool> poll() { return do_poll(Deadline::now()); }
  Result<bool> poll(Deadline deadline) { return do_poll(deadline); }
  Result<bool> poll_for(std::chrono::nanoseconds timeout) {
    return do_poll(Deadline::after(timeout));
  }
  Result<bool> poll_forever() { return do_poll(Deadline::never()); }

  // close: releases this process's copy of the end. Idempotent: a second call
  // succeeds and does nothing. Never blocks.
  virtual Result<void> close() = 0;

  virtual bool closed() const = 0;
  virtual bool readable() const = 0;
  virtual bool writable() const = 0;

  // export_handle: describes this end so a spawned process can re-attach it
  // with Backend::import_connection. The exporting process keeps its copy
  // (close it once the child has started) and must not receive on it again:
  // anything it had read ahead belongs to the token.
  // Errors: closed; unsupported.
  virtual Result<HandleToken> export_handle() = 0;

 protected:
  virtual Result<void> do_send_bytes(std::span<const std::byte> buffer, std::int64_t offset,
                                     std::optional<std::int64_t> size) = 0;
  virtual Result<Bytes> do_recv_bytes(std::optional<std::int64_t> maxlength,
                                      Deadline deadline) = 0;
  virtual Result<std::int64_t> do_recv_bytes_into(std::span<std::byte> buffer,
                                                  std::int64_t offset, Deadline deadline) = 0;
  virtual Result<bool> do_poll(Deadline deadline) = 0;
};

}  // namespace ipcc

#endif  // IPCC_CONNECTION_H_
