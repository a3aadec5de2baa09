// ipcc/error.h: the one outcome vocabulary of the adapter contract.
//
// Every outcome the spec calls normal (end of stream, a full queue, a closed
// handle, a timed wait that expired, ...) is a value of `ipcc::errc`, never an
// exception. Each value corresponds to exactly one Python `multiprocessing`
// outcome; two Python outcomes are never merged into one code and one is never
// split into adapter-specific codes (spec/README.md, "Outcomes").
//
// `ipcc::Error` carries the code, the library's native error number (errno, a
// Boost error code, ...) kept separately so reports can show it, a free-text
// detail, and, for `buffer_too_short` only, the complete message that did not
// fit (Python's `BufferTooShort.args[0]`).
//
// `errc` plugs into <system_error> through `ipcc::error_category()`, so a thin
// throwing layer can raise `std::system_error(make_error_code(e))`.
#ifndef IPCC_ERROR_H_
#define IPCC_ERROR_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ipcc/bytes.h"

namespace ipcc {

enum class errc {
  ok = 0,
  eof,                      // Python EOFError: nothing left and every writer closed.
  empty,                    // queue.Empty
  full,                     // queue.Full
  timeout,                  // a timed wait expired (Python: False / no result)
  closed,                   // OSError("handle is closed") / ValueError on a closed queue
  wrong_direction,          // OSError("connection is read-only" / "write-only")
  invalid_argument,         // ValueError for a bad argument (offset, size, maxlength, ...)
  message_too_large,        // OSError("bad message length"); a size above the limit
  buffer_too_short,         // BufferTooShort; Error::message holds the whole message
  broken_pipe,              // BrokenPipeError (EPIPE): no reader is left
  connection_reset,         // ConnectionResetError (ECONNRESET)
  truncated,                // OSError("got end of file during message")
  resource_exhausted,       // OSError(EMFILE/ENFILE/ENOMEM): Error::native has errno
  not_owner,                // RLock/Lock released by a process that does not own it
  released_too_many_times,  // BoundedSemaphore over-release, Lock.release() unlocked
  too_many_task_done,       // JoinableQueue.task_done() beyond the unfinished count
  serialization_failed,     // pickle.PicklingError (or any error raised while pickling an item)
  broken,                   // the primitive is unusable (peer died mid-operation, bad frame)
  unsupported,              // the adapter does not implement this operation
};

// Returns the stable lowercase name of `code` ("eof", "wrong_direction", ...),
// the spelling used in spec/ and in reports.
std::string_view to_string(errc code) noexcept;

// The <system_error> category of `ipcc::errc`; its name() is "ipcc".
const std::error_category& error_category() noexcept;
std::error_code make_error_code(errc code) noexcept;

// A non-ok outcome with its evidence.
struct Error {
  errc code = errc::broken;
  int native = 0;              // library-native code, 0 when there is none
  std::string detail;          // human-readable context, may be empty
  Bytes message;               // only for buffer_too_short: the whole message

  Error() = default;
  Error(errc c, int native_code = 0, std::string text = {})
      : code(c), native(native_code), detail(std::move(text)) {}
};

// Renders "wrong_direction (native 9: detail)" for logs and failure reports.
std::string describe(const Error& error);

}  // namespace ipcc

template <>
struct std::is_error_code_enum<ipcc::errc> : std::true_type {};

#endif  // IPCC_ERROR_H_
