// The faulty variants: one wrapper around the reference Connection whose
// behaviour departs from the spec in exactly one way, chosen by `Defect`.
// Defects are written the way real implementations get them wrong, not as
// special cases for the tests.
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <optional>
#include <vector>

#include "faulty_queue.h"
#include "faulty_sync.h"
#include "ipcc/faulty/faulty.h"
#include "ipcc/reference/pipe.h"

namespace ipcc::faulty {
namespace {

enum class Defect {
  duplex_one_way,            // a "duplex" Pipe that is really one-way
  simplex_flags_swapped,     // readable()/writable() answers swapped
  send_on_read_end,          // the receive-only end accepts (and drops) sends
  recv_on_write_end,         // receiving on the send-only end times out / polls false
  merge_adjacent,            // small messages are coalesced with the next one
  reorder,                   // consecutive messages leave in swapped pairs
  drop_message,              // every third message is silently dropped
  drop_empty,                // zero-length messages are never sent
  truncate_large,            // payloads are cut at 64 KiB
  no_size_limit,             // declares a limit it does not enforce
  sync_send,                 // send waits until the peer has read everything
  recv_no_wait,              // recv on an empty Pipe returns an empty message
  poll_expired_blocks,       // a deadline already passed is treated as "no limit"
  poll_early,                // a timed poll waits only a quarter of its time
  poll_infinite_false,       // poll(None) returns false at once
  poll_consumes,             // poll reads and discards the pending message
  ignore_maxlength,          // recv_bytes ignores maxlength
  negative_maxlength_consumes,  // a negative maxlength consumes the message
  recv_into_ignores_offset,  // recv_bytes_into writes at byte 0
  recv_into_offset_consumes, // a bad offset is reported after consuming
  too_short_truncates,       // buffer_too_short carries only what fitted
  send_range_unchecked,      // bad offset/size are clamped, not refused
  eof_early,                 // eof as soon as the peer hung up, data or not
  eof_on_first_close,        // close() sends an end marker: eof on the first copy closed
  never_eof,                 // a receiver at end of stream blocks forever
  leak_write_end,            // close() keeps the descriptor; export hands the peer's end too
  truncated_as_eof,          // a message cut by a dying writer reads as eof
  close_twice_errors,        // a second close() reports closed
  use_after_close,           // direction is checked before closed
  sigpipe,                   // writes with SIGPIPE unmasked: the writer dies
  reset_loses_data,          // duplex peer gone: reset reported before its data
  fd_leak_on_error,          // a failed creation leaks a descriptor
  split_writes,              // header and payload in two writes: frames interleave
  export_drops_readahead,    // export forgets the bytes already read ahead
  fork_unsafe,               // works only in the process that created it
  buffered_send,             // sends wait in the process's memory until close, a receive or 16 pending
};

constexpr std::string_view kEndMarker = "\xff" "ipcc-faulty-end-of-stream";
constexpr std::string_view kTokenPrefix = "ipcc.faulty/1:";

bool peer_hung_up(int fd) {
  pollfd entry{fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&entry, 1, 0) > 0 && (entry.revents & (POLLHUP | POLLRDHUP));
}

void nap_us(long micros) {
  timespec pause{0, micros * 1000};
  ::nanosleep(&pause, nullptr);
}

[[noreturn]] void block_forever() {
  for (;;) ::pause();
}

bool write_all(int fd, const void* data, std::size_t size) {
  auto* at = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, at, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::array<std::byte, 4> header_of(std::size_t length) {
  std::array<std::byte, 4> header;
  for (int i = 3; i >= 0; --i) {
    header[i] = static_cast<std::byte>(length & 0xff);
    length >>= 8;
  }
  return header;
}

class FaultyConnection final : public Connection {
 public:
  FaultyConnection(Defect defect, std::unique_ptr<Connection> inner, int peer_fd)
      : defect_(defect), inner_(std::move(inner)), peer_fd_(peer_fd), creator_(::getpid()) {}
  // buffered_send: a normal end writes what is pending, as a buffered
  // writer's destructor would; _exit and SIGKILL skip this.
  ~FaultyConnection() override {
    if (!inner_->closed()) (void)flush_buffered();
  }

  Result<void> close() override {
    if (defect_ == Defect::close_twice_errors && inner_->closed()) return fail(errc::closed, 0, "already closed");
    if (defect_ == Defect::leak_write_end) {
      fake_closed_ = true;  // the descriptor stays open in this process
      return ok();
    }
    if (defect_ == Defect::eof_on_first_close && !inner_->closed() && inner_->writable()) {
      (void)flush_held();
      (void)inner_->send_bytes(as_bytes(kEndMarker));
    }
    if (!inner_->closed()) {
      (void)flush_held();
      (void)flush_buffered();
    }
    return inner_->close();
  }
  bool closed() const override { return fake_closed_ || inner_->closed(); }
  bool readable() const override {
    if (defect_ == Defect::simplex_flags_swapped || defect_ == Defect::duplex_one_way) {
      return defect_ == Defect::duplex_one_way ? true : inner_->writable();
    }
    return inner_->readable();
  }
  bool writable() const override {
    if (defect_ == Defect::simplex_flags_swapped) return inner_->readable();
    if (defect_ == Defect::duplex_one_way) return true;
    return inner_->writable();
  }

  Result<HandleToken> export_handle() override {
    auto token = inner_->export_handle();
    if (!token) return token;
    if (defect_ == Defect::export_drops_readahead) {
      auto at = token->data.find("ahead=");
      if (at != std::string::npos) token->data.erase(at + 6);
    }
    if (defect_ == Defect::leak_write_end && peer_fd_ >= 0) token->fds.push_back(peer_fd_);
    token->kind = std::string(kTokenPrefix) + token->kind;
    return token;
  }

 protected:
  Result<void> do_send_bytes(std::span<const std::byte> buffer, std::int64_t offset,
                             std::optional<std::int64_t> size) override {
    if (auto wrong = foreign()) return *wrong;
    if (fake_closed_) return fail(errc::closed, 0, "handle is closed");
    if (defect_ == Defect::use_after_close && !inner_->writable()) {
      return fail(errc::wrong_direction, 0, "connection is read-only");
    }
    if (defect_ == Defect::send_on_read_end && !inner_->closed() && !inner_->writable()) return ok();
    const auto length = static_cast<std::int64_t>(buffer.size());
    if (defect_ == Defect::send_range_unchecked) {
      offset = std::clamp<std::int64_t>(offset, 0, length);
      if (size) size = std::clamp<std::int64_t>(*size, 0, length - offset);
    }
    const bool valid_range = offset >= 0 && offset <= length && (!size || (*size >= 0 && *size <= length - offset));
    // Whatever the reference refuses (closed, direction, range) it reports itself.
    if (inner_->closed() || !inner_->writable() || !valid_range) return inner_->send_bytes(buffer, offset, size);
    const auto start = static_cast<std::size_t>(offset);
    return send_message(buffer.subspan(start, size ? static_cast<std::size_t>(*size) : buffer.size() - start));
  }

  Result<Bytes> do_recv_bytes(std::optional<std::int64_t> maxlength, Deadline deadline) override {
    if (auto wrong = foreign()) return *wrong;
    if (defect_ == Defect::use_after_close && !inner_->readable()) {
      return fail(errc::wrong_direction, 0, "connection is write-only");
    }
    if (defect_ == Defect::recv_on_write_end && !inner_->readable() && !inner_->closed()) {
      return fail(errc::timeout, 0, "nothing arrived");
    }
    if (defect_ == Defect::negative_maxlength_consumes && maxlength && *maxlength < 0) {
      (void)inner_->recv_bytes(std::nullopt, deadline);
      return fail(errc::invalid_argument, 0, "negative maxlength");
    }
    if (defect_ == Defect::ignore_maxlength) maxlength.reset();
    if (auto flushed = flush_buffered(); !flushed) return fail(std::move(flushed).error());
    if (auto early = early_end()) return *early;
    if (defect_ == Defect::recv_no_wait && !inner_->closed()) {
      auto ready = inner_->poll();
      if (ready && !*ready) return Bytes{};
    }
    auto got = inner_->recv_bytes(maxlength, deadline);
    return filter_received(std::move(got));
  }

  Result<std::int64_t> do_recv_bytes_into(std::span<std::byte> buffer, std::int64_t offset,
                                          Deadline deadline) override {
    if (auto wrong = foreign()) return *wrong;
    if (defect_ == Defect::use_after_close && !inner_->readable()) {
      return fail(errc::wrong_direction, 0, "connection is write-only");
    }
    if (defect_ == Defect::recv_on_write_end && !inner_->readable() && !inner_->closed()) {
      return fail(errc::timeout, 0, "nothing arrived");
    }
    if (defect_ == Defect::recv_into_offset_consumes &&
        (offset < 0 || static_cast<std::size_t>(offset) > buffer.size())) {
      (void)inner_->recv_bytes(std::nullopt, deadline);
      return fail(errc::invalid_argument, 0, "bad offset");
    }
    if (defect_ == Defect::recv_into_ignores_offset && offset >= 0 &&
        static_cast<std::size_t>(offset) <= buffer.size()) {
      offset = 0;
    }
    auto got = inner_->recv_bytes_into(buffer, offset, deadline);
    if (!got && got.error().code == errc::buffer_too_short && defect_ == Defect::too_short_truncates) {
      Error error = got.error();
      error.message.resize(buffer.size() - static_cast<std::size_t>(offset));
      return fail(std::move(error));
    }
    if (!got && got.error().code == errc::truncated && defect_ == Defect::truncated_as_eof) {
      return fail(errc::eof, 0, "end of stream");
    }
    return got;
  }

  Result<bool> do_poll(Deadline deadline) override {
    if (auto wrong = foreign()) return *wrong;
    if (defect_ == Defect::use_after_close && !inner_->readable()) {
      return fail(errc::wrong_direction, 0, "connection is write-only");
    }
    if (defect_ == Defect::recv_on_write_end && !inner_->readable() && !inner_->closed()) return false;
    if (auto flushed = flush_buffered(); !flushed) return fail(std::move(flushed).error());
    if (defect_ == Defect::poll_infinite_false && deadline.is_never()) return false;
    if (defect_ == Defect::poll_expired_blocks && !deadline.is_never() && deadline.expired()) {
      deadline = Deadline::never();
    }
    if (defect_ == Defect::poll_early && !deadline.is_never() && !deadline.expired()) {
      deadline = Deadline::after(deadline.remaining() / 4);
    }
    auto ready = inner_->poll(deadline);
    if (ready && *ready && defect_ == Defect::poll_consumes) (void)inner_->recv_bytes(std::nullopt, Deadline::now());
    if (ready && *ready && defect_ == Defect::never_eof && at_end_of_stream()) block_forever();
    return ready;
  }

 private:
  // fork_unsafe: every operation in a process other than the creator fails.
  std::optional<Failure> foreign() const {
    if (defect_ == Defect::fork_unsafe && ::getpid() != creator_) {
      return fail(errc::broken, 0, "connection used outside the process that created it");
    }
    return std::nullopt;
  }

  int fd() const { return reference::native_handle(*inner_); }

  bool at_end_of_stream() {
    auto peeked = inner_->poll();
    if (!peeked || !*peeked) return false;
    pollfd entry{fd(), POLLIN, 0};
    int available = 0;
    return ::poll(&entry, 1, 0) > 0 && ::ioctl(fd(), FIONREAD, &available) == 0 && available == 0;
  }

  std::optional<Failure> early_end() {
    if (inner_->closed() || !inner_->readable()) return std::nullopt;
    if (defect_ == Defect::eof_early && peer_hung_up(fd())) return fail(errc::eof, 0, "end of stream");
    if (defect_ == Defect::reset_loses_data && inner_->writable() && peer_hung_up(fd())) {
      return fail(errc::connection_reset, ECONNRESET, "connection reset by peer");
    }
    return std::nullopt;
  }

  Result<Bytes> filter_received(Result<Bytes> got) {
    if (got && defect_ == Defect::eof_on_first_close &&
        std::equal(got->begin(), got->end(), as_bytes(kEndMarker).begin(), as_bytes(kEndMarker).end())) {
      return fail(errc::eof, 0, "end of stream");
    }
    if (!got && got.error().code == errc::eof && defect_ == Defect::never_eof) block_forever();
    if (!got && got.error().code == errc::truncated && defect_ == Defect::truncated_as_eof) {
      return fail(errc::eof, 0, "end of stream");
    }
    return got;
  }

  Result<void> send_message(std::span<const std::byte> message) {
    ++sent_;
    switch (defect_) {
      case Defect::drop_message:
        if (sent_ % 3 == 0) return ok();
        break;
      case Defect::drop_empty:
        if (message.empty()) return ok();
        break;
      case Defect::truncate_large:
        if (message.size() > 65536) message = message.first(65536);
        break;
      case Defect::merge_adjacent:
        if (message.size() < 64 && !held_) {
          held_.emplace(message.begin(), message.end());
          return ok();
        }
        if (held_) {
          Bytes both = std::move(*held_);
          held_.reset();
          both.insert(both.end(), message.begin(), message.end());
          return inner_->send_bytes(both);
        }
        break;
      case Defect::reorder:
        if (!held_) {
          held_.emplace(message.begin(), message.end());
          return ok();
        } else {
          auto sent = inner_->send_bytes(message);
          if (!sent) return sent;
          return flush_held();
        }
      case Defect::sync_send: {
        auto sent = inner_->send_bytes(message);
        if (sent) wait_until_drained();
        return sent;
      }
      case Defect::sigpipe:
      case Defect::split_writes:
        return raw_send(message);
      case Defect::buffered_send:
        buffered_.emplace_back(message.begin(), message.end());
        if (buffered_.size() >= 16) return flush_buffered();
        return ok();
      default:
        break;
    }
    return inner_->send_bytes(message);
  }

  Result<void> flush_held() {
    if (!held_) return ok();
    Bytes message = std::move(*held_);
    held_.reset();
    return inner_->send_bytes(message);
  }

  Result<void> flush_buffered() {
    std::vector<Bytes> pending = std::move(buffered_);
    buffered_.clear();
    for (const auto& message : pending) {
      if (auto sent = inner_->send_bytes(message); !sent) return sent;
    }
    return ok();
  }

  // Waits until the receiver has taken every byte (a rendezvous send).
  void wait_until_drained() {
    for (;;) {
      int queued = 0;
      const unsigned long request = inner_->readable() ? SIOCOUTQ : FIONREAD;
      if (::ioctl(fd(), request, &queued) != 0 || queued == 0) return;
      nap_us(200);
    }
  }

  // Writes the frame with plain write(2): no SIGPIPE protection, and for
  // split_writes, header and payload separately with a yield in between.
  Result<void> raw_send(std::span<const std::byte> message) {
    if (message.size() > 0x7fffffff) return inner_->send_bytes(message);
    auto header = header_of(message.size());
    if (defect_ == Defect::split_writes) {
      // Only the split is wrong here: SIGPIPE stays blocked as the reference does.
      sigset_t block, saved;
      sigemptyset(&block);
      sigaddset(&block, SIGPIPE);
      ::pthread_sigmask(SIG_BLOCK, &block, &saved);
      struct Restore {
        sigset_t mask;
        ~Restore() {
          sigset_t pipe_only;
          sigemptyset(&pipe_only);
          sigaddset(&pipe_only, SIGPIPE);
          const timespec zero{};
          while (::sigtimedwait(&pipe_only, nullptr, &zero) > 0) {
          }
          ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
        }
      } restore{saved};
      if (!write_all(fd(), header.data(), header.size())) return fail(errc::broken_pipe, errno, "write");
      ::sched_yield();
      if (!write_all(fd(), message.data(), message.size())) return fail(errc::broken_pipe, errno, "write");
      return ok();
    }
    iovec parts[2] = {{header.data(), header.size()}, {const_cast<std::byte*>(message.data()), message.size()}};
    ssize_t n = ::writev(fd(), parts, message.empty() ? 1 : 2);
    if (n < 0) return fail(errno == EPIPE ? errc::broken_pipe : errc::broken, errno, "writev");
    const std::size_t total = header.size() + message.size();
    if (static_cast<std::size_t>(n) < total) {
      std::size_t done = static_cast<std::size_t>(n);
      if (done < 4) {
        if (!write_all(fd(), header.data() + done, 4 - done)) return fail(errc::broken_pipe, errno, "write");
        done = 4;
      }
      if (!write_all(fd(), message.data() + (done - 4), message.size() - (done - 4))) {
        return fail(errc::broken_pipe, errno, "write");
      }
    }
    return ok();
  }

  Defect defect_;
  std::unique_ptr<Connection> inner_;
  int peer_fd_;
  pid_t creator_;
  bool fake_closed_ = false;
  std::uint64_t sent_ = 0;
  std::optional<Bytes> held_;
  std::vector<Bytes> buffered_;
};

class FaultyBackend final : public Backend {
 public:
  FaultyBackend(std::string name, Defect defect) : name_(std::move(name)), defect_(defect), inner_(reference::make_backend()) {}

  std::string name() const override { return name_; }

  Capabilities capabilities() const override {
    Capabilities caps = inner_->capabilities();
    if (defect_ == Defect::no_size_limit) caps.pipe.max_message_bytes = 64ull << 20;
    if (defect_ == Defect::reset_loses_data) caps.pipe.duplex_close_with_unread = errc::connection_reset;
    return caps;
  }

  Result<PipeEnds> make_pipe(bool duplex) override {
    std::optional<int> spare;
    if (defect_ == Defect::fd_leak_on_error) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd >= 0) spare = fd;
    }
    auto ends = defect_ == Defect::duplex_one_way ? inner_->make_pipe(false) : inner_->make_pipe(duplex);
    if (!ends) return ends;  // the spare descriptor is leaked here
    if (spare) ::close(*spare);
    const int first_fd = reference::native_handle(*ends->first);
    const int second_fd = reference::native_handle(*ends->second);
    PipeEnds wrapped;
    wrapped.first = std::make_unique<FaultyConnection>(defect_, std::move(ends->first), second_fd);
    wrapped.second = std::make_unique<FaultyConnection>(defect_, std::move(ends->second), first_fd);
    return wrapped;
  }

  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    if (!token.kind.starts_with(kTokenPrefix)) return fail(errc::invalid_argument, 0, "not a faulty token");
    HandleToken inner = token;
    inner.kind = token.kind.substr(kTokenPrefix.size());
    // leak_write_end hands over the peer's descriptor too; it stays open,
    // unowned, for the life of this process.
    if (inner.fds.size() > 1) inner.fds.resize(1);
    auto imported = inner_->import_connection(inner);
    if (!imported) return imported;
    return std::unique_ptr<Connection>(std::make_unique<FaultyConnection>(defect_, std::move(*imported), -1));
  }

  // The defect is in the Pipe: queues are the reference's, unchanged.
  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override { return inner_->make_queue(options); }
  Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) override { return inner_->import_queue(token); }

 private:
  std::string name_;
  Defect defect_;
  std::unique_ptr<Backend> inner_;
};

struct Entry {
  const char* name;
  Defect defect;
  const char* text;
};

constexpr Entry kEntries[] = {
    {"duplex-one-way", Defect::duplex_one_way, "a duplex Pipe that only carries messages one way"},
    {"simplex-flags-swapped", Defect::simplex_flags_swapped, "readable() and writable() answers are swapped"},
    {"send-on-read-end", Defect::send_on_read_end, "the receive-only end accepts sends and drops them"},
    {"recv-on-write-end", Defect::recv_on_write_end, "receiving on the send-only end times out instead of wrong_direction"},
    {"merge-adjacent", Defect::merge_adjacent, "a small message is coalesced with the next one"},
    {"reorder", Defect::reorder, "consecutive messages leave in swapped pairs"},
    {"drop-message", Defect::drop_message, "every third message is silently dropped"},
    {"drop-empty", Defect::drop_empty, "zero-length messages are never sent"},
    {"truncate-large", Defect::truncate_large, "payloads are cut at the 64 KiB capacity boundary"},
    {"no-size-limit", Defect::no_size_limit, "declares a 64 MiB limit it does not enforce"},
    {"sync-send", Defect::sync_send, "send waits until the receiver has read everything"},
    {"recv-no-wait", Defect::recv_no_wait, "recv on an empty Pipe returns an empty message"},
    {"poll-expired-blocks", Defect::poll_expired_blocks, "poll with a deadline already passed blocks without limit"},
    {"poll-early", Defect::poll_early, "a timed poll returns after a quarter of its time"},
    {"poll-infinite-false", Defect::poll_infinite_false, "poll(None) returns false at once"},
    {"poll-consumes", Defect::poll_consumes, "poll reads and discards the pending message"},
    {"ignore-maxlength", Defect::ignore_maxlength, "recv_bytes ignores maxlength"},
    {"negative-maxlength-consumes", Defect::negative_maxlength_consumes, "a negative maxlength is reported after consuming a message"},
    {"recv-into-ignores-offset", Defect::recv_into_ignores_offset, "recv_bytes_into writes at byte 0 whatever the offset"},
    {"recv-into-offset-consumes", Defect::recv_into_offset_consumes, "a bad offset is reported after consuming a message"},
    {"too-short-truncates", Defect::too_short_truncates, "buffer_too_short carries only the bytes that fitted"},
    {"send-range-unchecked", Defect::send_range_unchecked, "bad offset and size are clamped instead of refused"},
    {"eof-early", Defect::eof_early, "eof is reported once the peer hung up, even with messages buffered"},
    {"eof-on-first-close", Defect::eof_on_first_close, "close() sends an end marker, so eof comes when the first copy closes"},
    {"never-eof", Defect::never_eof, "a receiver at end of stream blocks forever"},
    {"leak-write-end", Defect::leak_write_end, "close() keeps the descriptor and export hands over the peer's end too"},
    {"truncated-as-eof", Defect::truncated_as_eof, "a message cut by a dying writer is reported as eof"},
    {"close-twice-errors", Defect::close_twice_errors, "a second close() reports closed"},
    {"use-after-close", Defect::use_after_close, "direction is checked before closed"},
    {"sigpipe", Defect::sigpipe, "writes with SIGPIPE unmasked, so a writer without reader dies"},
    {"reset-loses-data", Defect::reset_loses_data, "a duplex peer gone is reported as reset before its messages"},
    {"fd-leak-on-error", Defect::fd_leak_on_error, "a failed Pipe creation leaks a descriptor"},
    {"split-writes", Defect::split_writes, "header and payload go in separate writes, so frames interleave"},
    {"export-drops-readahead", Defect::export_drops_readahead, "export forgets the bytes already read ahead"},
    {"fork-unsafe", Defect::fork_unsafe, "a connection only works in the process that created it"},
    {"buffered-send", Defect::buffered_send,
     "send returns with the message still in the sender's memory; it is written at close, a receive, 16 pending, or a normal end"},
};

}  // namespace

const std::vector<Variant>& variants() {
  static const std::vector<Variant> all = [] {
    std::vector<Variant> list;
    for (const auto& entry : kEntries) {
      std::string name = std::string("faulty.") + entry.name;
      Defect defect = entry.defect;
      list.push_back({name, entry.text, [name, defect] { return std::make_unique<FaultyBackend>(name, defect); }});
    }
    for (auto& variant : queue_variants()) list.push_back(std::move(variant));
    for (auto& variant : lock_variants()) list.push_back(std::move(variant));
    for (auto& variant : signal_variants()) list.push_back(std::move(variant));
    return list;
  }();
  return all;
}

}  // namespace ipcc::faulty
