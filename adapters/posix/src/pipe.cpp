// The posix Pipe: both kinds are an AF_UNIX SOCK_SEQPACKET socketpair (see
// ipcc/posix/backend.h for why, and for what passes through).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>

#include "common.h"
#include "internal.h"

namespace ipcc::posix::internal {
namespace {

constexpr std::string_view kTokenKind = "ipcc.posix.connection/1";

// What a peek at the head of the receive queue found.
struct Head {
  enum { message, end_of_stream, nothing } what = nothing;
  std::size_t length = 0;
};

class SeqpacketConnection final : public Connection {
 public:
  SeqpacketConnection(int fd, bool readable, bool writable, std::uint64_t max_message_bytes,
                      bool unreadable = false)
      : fd_(fd), readable_(readable), writable_(writable), unreadable_(unreadable),
        max_message_bytes_(max_message_bytes) {}
  ~SeqpacketConnection() override { (void)close(); }

  Result<void> close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return ok();
  }
  bool closed() const override { return fd_ < 0; }
  bool readable() const override { return readable_ && !unreadable_; }
  bool writable() const override { return writable_; }

  Result<HandleToken> export_handle() override {
    if (closed()) return fail(errc::closed, 0, "handle is closed");
    HandleToken token;
    token.kind = std::string(kTokenKind);
    token.data = std::string("v=1;r=") + (readable_ ? "1" : "0") + ";w=" + (writable_ ? "1" : "0") +
                 ";gone=" + (unreadable_ ? "1" : "0") + ";max=" + std::to_string(max_message_bytes_);
    token.fds = {fd_};
    return token;
  }

 protected:
  Result<void> do_send_bytes(std::span<const std::byte> buffer, std::int64_t offset,
                             std::optional<std::int64_t> size) override {
    if (closed()) return fail(errc::closed, 0, "handle is closed");
    if (!writable_) return fail(errc::wrong_direction, 0, "connection is read-only");
    const auto length = static_cast<std::int64_t>(buffer.size());
    if (offset < 0) return fail(errc::invalid_argument, 0, "offset is negative");
    if (offset > length) return fail(errc::invalid_argument, 0, "buffer length < offset");
    const std::int64_t count = size.value_or(length - offset);
    if (count < 0) return fail(errc::invalid_argument, 0, "size is negative");
    if (count > length - offset) return fail(errc::invalid_argument, 0, "buffer length < offset + size");
    if (static_cast<std::uint64_t>(count) > max_message_bytes_) {
      return fail(errc::message_too_large, 0, "message longer than the socket send buffer allows");
    }
    const auto* data = buffer.data() + offset;
    for (;;) {
      // One send is one message; MSG_NOSIGNAL keeps a send without reader
      // from raising SIGPIPE without touching the process's disposition.
      const ssize_t sent = ::send(fd_, data, static_cast<std::size_t>(count), MSG_NOSIGNAL);
      if (sent >= 0) return ok();
      if (errno == EINTR) continue;
      // ECONNRESET: the peer closed with our data unread; it is gone as well.
      if (errno == EPIPE || errno == ECONNRESET) return fail(errc::broken_pipe, errno, "no reader left");
      if (errno == EMSGSIZE) return fail(errc::message_too_large, errno, "send");
      return os_failure(errno, "send");
    }
  }

  Result<Bytes> do_recv_bytes(std::optional<std::int64_t> maxlength, Deadline deadline) override {
    if (auto refused = check_receive()) return fail(std::move(*refused));
    if (maxlength && *maxlength < 0) return fail(errc::invalid_argument, 0, "negative maxlength");
    for (;;) {
      auto head = wait_head(deadline);
      if (!head) return fail(std::move(head).error());
      if (head->what == Head::end_of_stream) return fail(errc::eof, 0, "end of stream");
      if (head->what == Head::nothing) continue;  // a copy elsewhere took it
      if (maxlength && head->length > static_cast<std::uint64_t>(*maxlength)) {
        return refuse_oversized();
      }
      auto taken = take(head->length);
      if (!taken) return fail(std::move(taken).error());
      if (!taken->has_value()) continue;
      return std::move(**taken);
    }
  }

  Result<std::int64_t> do_recv_bytes_into(std::span<std::byte> buffer, std::int64_t offset,
                                          Deadline deadline) override {
    if (auto refused = check_receive()) return fail(std::move(*refused));
    const auto size = static_cast<std::int64_t>(buffer.size());
    if (offset < 0) return fail(errc::invalid_argument, 0, "negative offset");
    if (offset > size) return fail(errc::invalid_argument, 0, "offset out of bounds");
    for (;;) {
      auto head = wait_head(deadline);
      if (!head) return fail(std::move(head).error());
      if (head->what == Head::end_of_stream) return fail(errc::eof, 0, "end of stream");
      if (head->what == Head::nothing) continue;
      auto taken = take(head->length);
      if (!taken) return fail(std::move(taken).error());
      if (!taken->has_value()) continue;
      Bytes& message = **taken;
      if (static_cast<std::int64_t>(message.size()) > size - offset) {
        Error error(errc::buffer_too_short, 0, "buffer too small for the message");
        error.message = std::move(message);
        return fail(std::move(error));
      }
      if (!message.empty()) std::memcpy(buffer.data() + offset, message.data(), message.size());
      return static_cast<std::int64_t>(message.size());
    }
  }

  Result<bool> do_poll(Deadline deadline) override {
    if (auto refused = check_receive()) return fail(std::move(*refused));
    return wait_readable(deadline);
  }

 private:
  std::optional<Error> check_receive() const {
    if (closed()) return Error(errc::closed, 0, "handle is closed");
    if (!readable_ || unreadable_) return Error(errc::wrong_direction, 0, "connection is write-only");
    return std::nullopt;
  }

  // A message longer than maxlength: the end stops being readable, as in
  // CPython (a simplex receive end is closed, a duplex end turns write-only).
  // The message stays in the socket.
  Failure refuse_oversized() {
    if (writable_) {
      unreadable_ = true;
    } else {
      (void)close();
    }
    return fail(errc::message_too_large, 0, "message longer than maxlength");
  }

  Result<bool> wait_readable(Deadline deadline) {
    pollfd entry{fd_, POLLIN, 0};
    for (;;) {
      timespec limit{};
      timespec* limit_ptr = nullptr;
      if (!deadline.is_never()) {
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.remaining()).count();
        limit.tv_sec = static_cast<time_t>(left / 1'000'000'000);
        limit.tv_nsec = static_cast<long>(left % 1'000'000'000);
        limit_ptr = &limit;
      }
      const int ready = ::ppoll(&entry, 1, limit_ptr, nullptr);
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) return os_failure(errno, "ppoll");
      if (deadline.expired()) return false;
    }
  }

  // Waits for the head of the queue and peeks at it: its length (MSG_TRUNC
  // reports the whole length into an empty buffer) and whether it is a
  // message at all. recv returns 0 both for an empty message and at end of
  // stream; SO_PASSCRED (set at creation) attaches credentials to every
  // message, so a 0 with no control data is the end of stream.
  Result<Head> wait_head(Deadline deadline) {
    auto ready = wait_readable(deadline);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready) return fail(errc::timeout, 0, "no message before the deadline");
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr header{};
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    const ssize_t length = ::recvmsg(fd_, &header, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (length < 0) {
      if (errno == EAGAIN || errno == EINTR) return Head{};
      if (errno == ECONNRESET) return fail(errc::connection_reset, errno, "peer closed with data unread");
      return os_failure(errno, "recvmsg");
    }
    if (length == 0 && header.msg_controllen == 0) return Head{Head::end_of_stream, 0};
    return Head{Head::message, static_cast<std::size_t>(length)};
  }

  // Receives the head message, `length` bytes long when peeked. nullopt when
  // another copy took it first.
  Result<std::optional<Bytes>> take(std::size_t length) {
    Bytes message;
    try {
      message.resize(length);
    } catch (const std::bad_alloc&) {
      return fail(errc::resource_exhausted, ENOMEM, "cannot allocate the message");
    }
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec part{message.data(), message.size()};
    msghdr header{};
    header.msg_iov = &part;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    const ssize_t got = ::recvmsg(fd_, &header, MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) return std::optional<Bytes>{};
      if (errno == ECONNRESET) return fail(errc::connection_reset, errno, "peer closed with data unread");
      return os_failure(errno, "recvmsg");
    }
    if (got == 0 && header.msg_controllen == 0) return std::optional<Bytes>{};
    // Concurrent readers of one end are unspecified; a different message
    // may have been at the head by now.
    if ((header.msg_flags & MSG_TRUNC) != 0) return fail(errc::broken, EMSGSIZE, "message changed under a concurrent reader");
    message.resize(static_cast<std::size_t>(got));
    return std::optional<Bytes>{std::move(message)};
  }

  int fd_;
  bool readable_;
  bool writable_;
  bool unreadable_;
  std::uint64_t max_message_bytes_;
};

Result<void> prepare(int fd) {
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) return os_failure(errno, "SO_PASSCRED");
  return ok();
}

}  // namespace

std::uint64_t max_message_bytes() {
  // A SOCK_SEQPACKET message must fit in the sender's SO_SNDBUF minus 32
  // bytes (net/unix/af_unix.c, unix_dgram_sendmsg), and a new socket's
  // SO_SNDBUF is net.core.wmem_default.
  const auto sndbuf = read_sysctl("/proc/sys/net/core/wmem_default").value_or(212992);
  return sndbuf > 32 ? static_cast<std::uint64_t>(sndbuf - 32) : 0;
}

Result<PipeEnds> make_pipe(bool duplex) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return os_failure(errno, "socketpair");
  auto give_up = [&fds](Failure failure) {
    ::close(fds[0]);
    ::close(fds[1]);
    return failure;
  };
  if (auto done = prepare(fds[0]); !done) return give_up(fail(std::move(done).error()));
  if (auto done = prepare(fds[1]); !done) return give_up(fail(std::move(done).error()));
  // Simplex: the first end only receives. Shutting its sending side makes
  // the socket itself one-way (the peer's receiving side goes with it).
  if (!duplex && ::shutdown(fds[0], SHUT_WR) != 0) return give_up(os_failure(errno, "shutdown"));
  const auto limit = max_message_bytes();
  PipeEnds ends;
  try {
    ends.first = std::make_unique<SeqpacketConnection>(fds[0], true, duplex, limit);
  } catch (const std::bad_alloc&) {
    return give_up(fail(errc::resource_exhausted, ENOMEM, "make_pipe"));
  }
  try {
    ends.second = std::make_unique<SeqpacketConnection>(fds[1], duplex, true, limit);
  } catch (const std::bad_alloc&) {
    ::close(fds[1]);
    return fail(errc::resource_exhausted, ENOMEM, "make_pipe");
  }
  return ends;
}

Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) {
  if (token.kind != kTokenKind || token.fds.size() != 1) {
    return fail(errc::invalid_argument, 0, "not a posix connection token");
  }
  const std::string_view data = token.data;
  const auto readable = field(data, "r");
  const auto writable = field(data, "w");
  const auto gone = field(data, "gone");
  std::int64_t limit = 0;
  if ((readable != "0" && readable != "1") || (writable != "0" && writable != "1") ||
      (gone != "0" && gone != "1") || !parse_int(field(data, "max"), limit) || limit < 0) {
    return fail(errc::invalid_argument, 0, "malformed posix connection token");
  }
  const int fd = token.fds[0];
  int type = 0;
  socklen_t size = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_SEQPACKET) {
    return fail(errc::invalid_argument, 0, "the descriptor is not a SOCK_SEQPACKET socket");
  }
  set_cloexec(fd);
  return std::unique_ptr<Connection>(std::make_unique<SeqpacketConnection>(
      fd, readable == "1", writable == "1", static_cast<std::uint64_t>(limit), gone == "1"));
}

}  // namespace ipcc::posix::internal
