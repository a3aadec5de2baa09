#include "ipcc/reference/pipe.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

namespace ipcc::reference {
namespace {

constexpr std::size_t kReadAheadBytes = 64 * 1024;
// Frames up to PIPE_BUF are copied into one buffer and written at once.
constexpr std::size_t kSmallFrameBytes = PIPE_BUF;
// Payload remainders at least this large bypass the read-ahead buffer.
constexpr std::size_t kDirectReadBytes = kReadAheadBytes / 2;
constexpr std::string_view kTokenKind = "ipcc.reference.connection/1";
constexpr std::int64_t kExtendedLengthMarker = -1;
constexpr std::uint64_t kMaxShortLength = 0x7fffffff;

// Blocks SIGPIPE for the calling thread while a pipe write runs, so writing to
// a pipe without readers reports EPIPE instead of killing the process, whatever
// the process's SIGPIPE disposition. consume() removes the SIGPIPE the failed
// write queued, unless one was already pending before the write.
class SigpipeBlocker {
 public:
  explicit SigpipeBlocker(bool active) : active_(active) {
    if (!active_) return;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &saved_);
    // A pending SIGPIPE can only exist if it was already blocked before us.
    if (sigismember(&saved_, SIGPIPE)) {
      sigset_t pending;
      sigpending(&pending);
      was_pending_ = sigismember(&pending, SIGPIPE);
    }
  }
  SigpipeBlocker(const SigpipeBlocker&) = delete;
  SigpipeBlocker& operator=(const SigpipeBlocker&) = delete;
  ~SigpipeBlocker() {
    if (active_) pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }

  void consume() {
    if (!active_ || was_pending_) return;
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, SIGPIPE);
    const timespec zero{};
    while (sigtimedwait(&only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }

 private:
  bool active_;
  bool was_pending_ = false;
  sigset_t saved_{};
};

Failure io_failure(int error_number, std::string_view what) {
  switch (error_number) {
    case EPIPE: return fail(errc::broken_pipe, EPIPE, "broken pipe");
    case ECONNRESET: return fail(errc::connection_reset, ECONNRESET, "connection reset by peer");
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS: return fail(errc::resource_exhausted, error_number, std::strerror(error_number));
    default:
      return fail(errc::broken, error_number,
                  std::string(what) + ": " + std::strerror(error_number));
  }
}

// Waits until `fd` is readable or `deadline` passes; never returns false before
// the deadline (ppoll may wake early by rounding, so expiry is re-checked).
Result<bool> wait_readable(int fd, Deadline deadline) {
  pollfd entry{fd, POLLIN, 0};
  for (;;) {
    timespec limit{};
    timespec* limit_ptr = nullptr;
    if (!deadline.is_never()) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.remaining());
      limit.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000);
      limit.tv_nsec = static_cast<long>(left.count() % 1'000'000'000);
      limit_ptr = &limit;
    }
    int ready = ::ppoll(&entry, 1, limit_ptr, nullptr);
    if (ready > 0) return true;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return io_failure(errno, "ppoll");
    }
    if (deadline.expired() || deadline.remaining() == Deadline::Clock::duration::zero()) {
      return false;
    }
  }
}

void store_be32(std::byte* out, std::uint32_t value) {
  for (int i = 3; i >= 0; --i) {
    out[i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
}
void store_be64(std::byte* out, std::uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
}
std::uint64_t load_be(const std::byte* in, int count) {
  std::uint64_t value = 0;
  for (int i = 0; i < count; ++i) value = (value << 8) | std::to_integer<std::uint64_t>(in[i]);
  return value;
}

class FramedConnection final : public Connection {
 public:
  FramedConnection(int fd, bool readable, bool writable, bool socket, std::uint64_t max_bytes,
                   bool host_ignores_sigpipe = false)
      : fd_(fd), readable_(readable), writable_(writable), socket_(socket), max_(max_bytes),
        mask_sigpipe_(!socket && !host_ignores_sigpipe) {}
  ~FramedConnection() override { release(); }

  Result<void> close() override {
    release();
    return ok();
  }
  bool closed() const override { return fd_ < 0; }
  bool readable() const override { return readable_; }
  bool writable() const override { return writable_; }
  int fd() const noexcept { return fd_; }

  Result<HandleToken> export_handle() override {
    if (closed()) return fail(errc::closed, 0, "handle is closed");
    std::string data = "r=" + std::to_string(readable_) + ";w=" + std::to_string(writable_) +
                       ";s=" + std::to_string(socket_) + ";max=" + std::to_string(max_) +
                       ";broken=" + std::to_string(broken_) + ";ahead=";
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = begin_; i < end_; ++i) {
      auto byte = std::to_integer<unsigned>(ahead_[i]);
      data += kHex[byte >> 4];
      data += kHex[byte & 0xf];
    }
    begin_ = end_ = 0;  // the buffered bytes now belong to the token
    return HandleToken{std::string(kTokenKind), std::move(data), {fd_}};
  }

  // Restores read-ahead bytes carried by a token.
  void adopt_read_ahead(std::string_view hex, bool broken) {
    broken_ = broken;
    if (hex.empty()) return;
    ensure_buffer();
    for (std::size_t i = 0; i + 1 < hex.size() && end_ < kReadAheadBytes; i += 2) {
      unsigned value = 0;
      std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
      ahead_[end_++] = static_cast<std::byte>(value);
    }
  }

 protected:
  Result<void> do_send_bytes(std::span<const std::byte> buffer, std::int64_t offset,
                             std::optional<std::int64_t> size) override {
    if (closed()) return fail(errc::closed, 0, "handle is closed");
    if (!writable_) return fail(errc::wrong_direction, 0, "connection is read-only");
    const std::uint64_t length = buffer.size();
    if (offset < 0) return fail(errc::invalid_argument, 0, "offset is negative");
    if (static_cast<std::uint64_t>(offset) > length) {
      return fail(errc::invalid_argument, 0, "buffer length < offset");
    }
    std::uint64_t count = length - static_cast<std::uint64_t>(offset);
    if (size) {
      if (*size < 0) return fail(errc::invalid_argument, 0, "size is negative");
      if (static_cast<std::uint64_t>(*size) > count) {
        return fail(errc::invalid_argument, 0, "buffer length < offset + size");
      }
      count = static_cast<std::uint64_t>(*size);
    }
    if (count > max_) {
      return fail(errc::message_too_large, 0,
                  "message of " + std::to_string(count) + " bytes exceeds the limit of " +
                      std::to_string(max_));
    }
    std::byte header[12];
    std::size_t header_bytes = 4;
    if (count <= kMaxShortLength) {
      store_be32(header, static_cast<std::uint32_t>(count));
    } else {
      store_be32(header, static_cast<std::uint32_t>(kExtendedLengthMarker));
      store_be64(header + 4, count);
      header_bytes = 12;
    }
    return write_frame(header, header_bytes, buffer.data() + offset, count);
  }

  Result<Bytes> do_recv_bytes(std::optional<std::int64_t> maxlength, Deadline deadline) override {
    if (auto usable = check_receivable(); !usable) return fail(std::move(usable).error());
    if (maxlength && *maxlength < 0) return fail(errc::invalid_argument, 0, "negative maxlength");
    if (broken_) return broken_failure();
    auto length = read_header(deadline);
    if (!length) return fail(std::move(length).error());
    if (maxlength && *length > static_cast<std::uint64_t>(*maxlength)) {
      return bad_message_length(*length);
    }
    Bytes message;
    try {
      message.resize(*length);
    } catch (const std::bad_alloc&) {
      broken_ = true;  // the payload cannot be skipped without reading it
      return fail(errc::resource_exhausted, ENOMEM,
                  "cannot allocate " + std::to_string(*length) + " bytes");
    }
    if (auto read = read_payload(message.data(), *length); !read) {
      return fail(std::move(read).error());
    }
    return message;
  }

  Result<std::int64_t> do_recv_bytes_into(std::span<std::byte> buffer, std::int64_t offset,
                                          Deadline deadline) override {
    if (auto usable = check_receivable(); !usable) return fail(std::move(usable).error());
    if (offset < 0) return fail(errc::invalid_argument, 0, "negative offset");
    if (static_cast<std::uint64_t>(offset) > buffer.size()) {
      return fail(errc::invalid_argument, 0, "offset too large");
    }
    if (broken_) return broken_failure();
    auto length = read_header(deadline);
    if (!length) return fail(std::move(length).error());
    const std::uint64_t space = buffer.size() - static_cast<std::uint64_t>(offset);
    if (*length > space) {
      Error error(errc::buffer_too_short, 0,
                  "message of " + std::to_string(*length) + " bytes, room for " +
                      std::to_string(space));
      try {
        error.message.resize(*length);
      } catch (const std::bad_alloc&) {
        broken_ = true;
        return fail(errc::resource_exhausted, ENOMEM, "cannot hold the whole message");
      }
      if (auto read = read_payload(error.message.data(), *length); !read) {
        return fail(std::move(read).error());
      }
      return fail(std::move(error));
    }
    if (auto read = read_payload(buffer.data() + offset, *length); !read) {
      return fail(std::move(read).error());
    }
    return static_cast<std::int64_t>(*length);
  }

  Result<bool> do_poll(Deadline deadline) override {
    if (closed()) return fail(errc::closed, 0, "handle is closed");
    if (!readable_) return fail(errc::wrong_direction, 0, "connection is write-only");
    if (broken_ || end_ > begin_) return true;
    return wait_readable(fd_, deadline);
  }

 private:
  // The checks before the arguments': closed, then direction.
  Result<void> check_receivable() const {
    if (closed()) return fail(errc::closed, 0, "handle is closed");
    if (!readable_) return fail(errc::wrong_direction, 0, "connection is write-only");
    return ok();
  }

  static Failure broken_failure() {
    return fail(errc::broken, 0, "the stream is out of sync after a malformed frame");
  }

  // CPython's rule for a message longer than allowed: the payload stays
  // unread, so the end can no longer be read; a simplex end is closed.
  Failure bad_message_length(std::uint64_t length) {
    if (writable_) {
      readable_ = false;
    } else {
      release();
    }
    return fail(errc::message_too_large, 0,
                "bad message length: " + std::to_string(length) + " bytes");
  }

  Result<void> write_frame(const std::byte* header, std::size_t header_bytes,
                           const std::byte* payload, std::uint64_t payload_bytes) {
    // A small frame goes out as one contiguous buffer: one write(2), which
    // on a pipe is atomic up to PIPE_BUF, and cheaper than writev.
    std::byte small[kSmallFrameBytes];
    iovec parts[2] = {{const_cast<std::byte*>(header), header_bytes},
                      {const_cast<std::byte*>(payload), static_cast<std::size_t>(payload_bytes)}};
    int count = payload_bytes > 0 ? 2 : 1;
    if (header_bytes + payload_bytes <= kSmallFrameBytes) {
      std::memcpy(small, header, header_bytes);
      if (payload_bytes > 0) std::memcpy(small + header_bytes, payload, payload_bytes);
      parts[0] = {small, header_bytes + static_cast<std::size_t>(payload_bytes)};
      count = 1;
    }
    iovec* next = parts;
    SigpipeBlocker blocker(mask_sigpipe_);
    while (count > 0) {
      ssize_t written;
      if (socket_) {
        msghdr message{};
        message.msg_iov = next;
        message.msg_iovlen = static_cast<std::size_t>(count);
        written = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
      } else if (count == 1) {
        written = ::write(fd_, next->iov_base, next->iov_len);
      } else {
        written = ::writev(fd_, next, count);
      }
      if (written < 0) {
        if (errno == EINTR) continue;
        const int error_number = errno;
        if (error_number == EPIPE) blocker.consume();
        return io_failure(error_number, "write");
      }
      auto left = static_cast<std::size_t>(written);
      while (count > 0 && left >= next->iov_len) {
        left -= next->iov_len;
        ++next;
        --count;
      }
      if (count > 0) {
        next->iov_base = static_cast<std::byte*>(next->iov_base) + left;
        next->iov_len -= left;
      }
    }
    return ok();
  }

  void ensure_buffer() {
    if (!ahead_) ahead_.reset(new std::byte[kReadAheadBytes]);
  }

  // Makes at least `need` (<= kReadAheadBytes) bytes available in the
  // read-ahead buffer. `frame_started` says whether bytes of the current frame
  // were already taken; the deadline only applies before that.
  Result<void> fill(std::size_t need, Deadline deadline, bool frame_started) {
    if (end_ - begin_ >= need) return ok();
    ensure_buffer();
    if (begin_ > 0) {
      std::memmove(ahead_.get(), ahead_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    while (end_ < need) {
      const bool at_frame_start = end_ == 0 && !frame_started;
      if (at_frame_start && !deadline.is_never()) {
        auto ready = wait_readable(fd_, deadline);
        if (!ready) return fail(std::move(ready).error());
        if (!*ready) return fail(errc::timeout, 0, "no message arrived before the deadline");
      }
      ssize_t got = ::read(fd_, ahead_.get() + end_, kReadAheadBytes - end_);
      if (got < 0 && errno == EINTR) continue;
      // A reset peer is an orderly end of stream at a frame boundary.
      if (got == 0 || (got < 0 && errno == ECONNRESET)) {
        if (at_frame_start) return fail(errc::eof, 0, "end of stream");
        // Every writer is gone, so nothing follows: later receives see eof.
        begin_ = end_ = 0;
        return fail(errc::truncated, 0, "got end of file during message");
      }
      if (got < 0) return io_failure(errno, "read");
      end_ += static_cast<std::size_t>(got);
    }
    return ok();
  }

  Result<std::uint64_t> read_header(Deadline deadline) {
    if (auto filled = fill(4, deadline, false); !filled) return fail(std::move(filled).error());
    auto length = static_cast<std::int32_t>(load_be(ahead_.get() + begin_, 4));
    std::uint64_t size;
    if (length == kExtendedLengthMarker) {
      if (auto filled = fill(12, deadline, true); !filled) return fail(std::move(filled).error());
      size = load_be(ahead_.get() + begin_ + 4, 8);
      begin_ += 12;
    } else if (length < 0) {
      broken_ = true;
      return fail(errc::broken, 0, "malformed frame header: length " + std::to_string(length));
    } else {
      size = static_cast<std::uint64_t>(length);
      begin_ += 4;
    }
    // Checked before anything is allocated: a hostile length costs nothing.
    if (size > max_) return bad_message_length(size);
    return size;
  }

  Result<void> read_payload(std::byte* out, std::uint64_t length) {
    std::uint64_t done = std::min<std::uint64_t>(length, end_ - begin_);
    if (done > 0) std::memcpy(out, ahead_.get() + begin_, done);
    begin_ += done;
    while (done < length) {
      const std::uint64_t left = length - done;
      if (left < kDirectReadBytes) {
        if (auto filled = fill(static_cast<std::size_t>(left), Deadline::never(), true); !filled) {
          return fail(std::move(filled).error());
        }
        std::memcpy(out + done, ahead_.get() + begin_, left);
        begin_ += left;
        return ok();
      }
      ssize_t got = ::read(fd_, out + done, std::min<std::uint64_t>(left, 1u << 30));
      if (got < 0 && errno == EINTR) continue;
      if (got == 0 || (got < 0 && errno == ECONNRESET)) {
        return fail(errc::truncated, 0, "got end of file during message");
      }
      if (got < 0) return io_failure(errno, "read");
      done += static_cast<std::uint64_t>(got);
    }
    return ok();
  }

  void release() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ahead_.reset();
    begin_ = end_ = 0;
  }

  int fd_;
  bool readable_;
  bool writable_;
  bool socket_;
  std::uint64_t max_;
  bool mask_sigpipe_;
  bool broken_ = false;
  std::unique_ptr<std::byte[]> ahead_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// Parses "key=value;key=value" token data.
std::string_view field(std::string_view data, std::string_view key) {
  while (!data.empty()) {
    auto end = data.find(';');
    auto item = data.substr(0, end);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
      return item.substr(key.size() + 1);
    }
    if (end == std::string_view::npos) break;
    data.remove_prefix(end + 1);
  }
  return {};
}

}  // namespace

Result<PipeEnds> make_pipe(bool duplex, const PipeOptions& options) {
  int fds[2];
  const int made = duplex ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)
                          : ::pipe2(fds, O_CLOEXEC);
  if (made != 0) return io_failure(errno, duplex ? "socketpair" : "pipe2");
  const std::uint64_t max_bytes = options.max_message_bytes;
  PipeEnds ends;
  const bool ignores = options.host_ignores_sigpipe;
  ends.first = std::make_unique<FramedConnection>(fds[0], true, duplex, duplex, max_bytes, ignores);
  ends.second = std::make_unique<FramedConnection>(fds[1], duplex, true, duplex, max_bytes, ignores);
  return ends;
}

Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) {
  if (token.kind != kTokenKind || token.fds.size() != 1) {
    return fail(errc::invalid_argument, 0, "not a reference connection token: " + token.kind);
  }
  const int fd = token.fds[0];
  if (fd < 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return fail(errc::invalid_argument, errno, "token names no open descriptor");
  }
  auto flag = [&](std::string_view key) { return field(token.data, key) == "1"; };
  std::uint64_t max_bytes = kDefaultMaxMessageBytes;
  auto max_text = field(token.data, "max");
  std::from_chars(max_text.data(), max_text.data() + max_text.size(), max_bytes);
  auto connection =
      std::make_unique<FramedConnection>(fd, flag("r"), flag("w"), flag("s"), max_bytes);
  connection->adopt_read_ahead(field(token.data, "ahead"), flag("broken"));
  return std::unique_ptr<Connection>(std::move(connection));
}

int native_handle(const Connection& connection) noexcept {
  auto* framed = dynamic_cast<const FramedConnection*>(&connection);
  return framed ? framed->fd() : -1;
}

}  // namespace ipcc::reference
