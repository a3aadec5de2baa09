// ipcc/reference/pipe.h: the reference Pipe/Connection.
//
// What: message Pipes over kernel byte streams. A duplex Pipe is an AF_UNIX
// SOCK_STREAM socketpair; a simplex Pipe is a pipe2() pair. Both are created
// O_CLOEXEC, so only processes they are explicitly handed to (by fork, or by
// export/import into a spawned process) hold copies.
//
// Wire format (the same as CPython's `multiprocessing.connection`, so the two
// can talk): a 4-byte big-endian signed length, then the payload; above
// 0x7fffffff the length is -1 followed by an 8-byte big-endian length. Header
// and payload leave in one writev(2), so a frame of at most PIPE_BUF bytes on
// a simplex pipe is written atomically even with several writers.
//
// Reading: the receiver reads ahead into a 64 KiB buffer (one read(2) serves
// many small messages) and reads large payloads straight into the destination.
// A length header is checked against `max_message_bytes` before any memory is
// allocated, so a hostile 8-byte length cannot make it allocate gigabytes. A
// malformed header (negative, other than the -1 marker) makes the end `broken`.
// Read-ahead is why an end must not be received on by two processes at once;
// a hand-off is safe: a forked child inherits a copy of the buffer, and
// export_handle() moves the buffered bytes into the token.
//
// Signals: sending never raises SIGPIPE in the caller, whatever the process's
// SIGPIPE disposition: sockets use MSG_NOSIGNAL; pipe writes block SIGPIPE for
// the calling thread around the write and consume a SIGPIPE they caused
// (unless PipeOptions::host_ignores_sigpipe says the process ignores it).
// A frame of at most PIPE_BUF bytes is copied and written with one write(2).
// EINTR and short reads/writes are retried.
//
// Safety: one Connection object per thread at a time (see ipcc/connection.h).
#ifndef IPCC_REFERENCE_PIPE_H_
#define IPCC_REFERENCE_PIPE_H_

#include <cstdint>
#include <memory>

#include "ipcc/backend.h"
#include "ipcc/connection.h"

namespace ipcc::reference {

// Default largest message: 4 GiB - 1, above CPython's 2 GiB extended-header
// threshold, so every message CPython can exchange in practice fits.
inline constexpr std::uint64_t kDefaultMaxMessageBytes = (std::uint64_t{1} << 32) - 1;

struct PipeOptions {
  std::uint64_t max_message_bytes = kDefaultMaxMessageBytes;
  // Promise that this process ignores SIGPIPE for its whole life (CPython
  // does so at start-up). Simplex sends then skip the two signal-mask system
  // calls that otherwise keep a write to a pipe without reader from raising
  // SIGPIPE; that is most of a small message's cost. If the promise is broken,
  // such a write kills the process. Not carried across export/import: the
  // importing process decides for itself. Default off.
  bool host_ignores_sigpipe = false;
};

// make_pipe: creates a Pipe. Errors: resource_exhausted with errno
// (EMFILE/ENFILE) when descriptors ran out; nothing is leaked.
Result<PipeEnds> make_pipe(bool duplex, const PipeOptions& options = {});

// import_connection: re-attaches an end exported by export_handle() in another
// process. Errors: invalid_argument for a token not made by this library.
Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token);

// The file descriptor behind `connection` if it is a reference Connection that
// is open, else -1. For benchmarks and fault injection; do not close it.
int native_handle(const Connection& connection) noexcept;

// The Backend of the bundled reference adapter.
std::unique_ptr<Backend> make_backend(const PipeOptions& options = {});

}  // namespace ipcc::reference

#endif  // IPCC_REFERENCE_PIPE_H_
