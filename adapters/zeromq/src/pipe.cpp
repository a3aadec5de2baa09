// The ZeroMQ Pipe: PAIR<->PAIR or PULL<-PUSH over an abstract-namespace ipc://
// endpoint, with the libzmq context and sockets made per process on first use
// (ipcc/zeromq/backend.h explains the mapping and its divergences).
#include "pipe.h"

#include <pthread.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <dirent.h>
#include <unistd.h>

#include <zmq.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipcc/zeromq/backend.h"

namespace ipcc::zeromq::internal {
namespace {

constexpr std::string_view kTokenKind = "ipcc.zeromq.connection/1";
constexpr std::string_view kScheme = "ipc://";

// Running out of descriptors or memory is resource_exhausted; any other
// native failure leaves the end unusable.
Error native_error(int err, std::string what) {
  const bool exhausted = err == EMFILE || err == ENFILE || err == ENOMEM;
  return Error(exhausted ? errc::resource_exhausted : errc::broken, err,
               std::move(what) + ": " + zmq_strerror(err));
}

// This process's libzmq context and the number of sockets open in it. A
// process id other than ours means the state was inherited through fork():
// the parent's context is abandoned, never closed or terminated here, since
// its I/O threads do not exist in this process.
struct ProcessContext {
  pid_t pid = 0;
  void* context = nullptr;
  int sockets = 0;
};

ProcessContext& process_context() {
  static ProcessContext state;
  const pid_t self = ::getpid();
  if (state.pid != self) state = ProcessContext{self, nullptr, 0};
  return state;
}

void release_context_if_idle(ProcessContext& state) {
  if (state.sockets != 0 || state.context == nullptr) return;
  // Waits up to ZMQ_LINGER for messages still queued in this process to
  // reach a peer.
  while (zmq_ctx_term(state.context) != 0 && zmq_errno() == EINTR) {
  }
  state.context = nullptr;
}

// The listening descriptors of the endpoints this process has bound. A
// forked child inherits them with the parent's (abandoned) context, and an
// inherited copy keeps the abstract name bound in the child: nobody accepts
// on it there, yet it makes the child's own bind fail with EADDRINUSE and
// swallows other processes' connections. The fork handler closes the child's
// copies; the parent's stay with its context.
std::vector<int>& bound_listeners() {
  static std::vector<int> fds;
  return fds;
}

void close_inherited_listeners() {
  for (int fd : bound_listeners()) ::close(fd);
  bound_listeners().clear();
}

// The descriptor listening on abstract `name` (without its '@'), or -1.
// libzmq creates it inside zmq_bind, in the calling thread, and exposes no
// option that returns it.
int find_listener(std::string_view name) {
  int found = -1;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd == ::dirfd(dir)) continue;
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    sockaddr_un address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    if (address.sun_family != AF_UNIX || length <= offsetof(sockaddr_un, sun_path) + 1) continue;
    const std::string_view bound(address.sun_path + 1, length - offsetof(sockaddr_un, sun_path) - 1);
    if (address.sun_path[0] == '\0' && bound == name) {
      found = fd;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

void register_fork_handler() {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, &close_inherited_listeners);
    return true;
  }();
  (void)registered;
}

Result<void*> open_socket(int type) {
  ProcessContext& state = process_context();
  if (state.context == nullptr) {
    state.context = zmq_ctx_new();
    if (state.context == nullptr) return fail(native_error(errno, "zmq_ctx_new"));
  }
  void* socket = zmq_socket(state.context, type);
  if (socket == nullptr) {
    const int err = zmq_errno();
    release_context_if_idle(state);
    return fail(native_error(err, "zmq_socket"));
  }
  ++state.sockets;
  // A bounded linger instead of the default -1: the contract's close() does
  // not wait for a peer, and with -1 zmq_ctx_term would wait forever for a
  // peer that is gone or not yet started (the backend header explains).
  const int linger = kLingerMilliseconds;
  if (zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger) != 0) {
    const int err = zmq_errno();
    zmq_close(socket);
    --state.sockets;
    release_context_if_idle(state);
    return fail(native_error(err, "zmq_setsockopt(ZMQ_LINGER)"));
  }
  return socket;
}

void close_socket(void* socket) {
  ProcessContext& state = process_context();
  zmq_close(socket);
  --state.sockets;
  release_context_if_idle(state);
}

// zmq_poll's timeout in milliseconds: -1 for no limit, rounded up so a wait
// never ends before the deadline.
long poll_timeout_ms(Deadline deadline) {
  if (deadline.is_never()) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
  return left > LONG_MAX ? LONG_MAX : static_cast<long>(left);
}

// Waits until `socket` has a whole message queued. False once the deadline
// has passed.
Result<bool> wait_readable(void* socket, Deadline deadline) {
  for (;;) {
    zmq_pollitem_t item{socket, 0, ZMQ_POLLIN, 0};
    const int ready = zmq_poll(&item, 1, poll_timeout_ms(deadline));
    if (ready < 0) {
      const int err = zmq_errno();
      if (err == EINTR) continue;
      return fail(native_error(err, "zmq_poll"));
    }
    if (ready > 0 && (item.revents & ZMQ_POLLIN) != 0) return true;
    if (deadline.expired()) return false;
  }
}

// Takes one queued message without waiting; nullopt when none is queued.
Result<std::optional<zmq::message_t>> take_queued(void* socket) {
  zmq::socket_ref ref(zmq::from_handle, socket);
  for (;;) {
    zmq::message_t message;
    try {
      if (ref.recv(message, zmq::recv_flags::dontwait)) return std::optional<zmq::message_t>(std::move(message));
      return std::optional<zmq::message_t>();
    } catch (const zmq::error_t& error) {
      if (error.num() == EINTR) continue;
      return fail(native_error(error.num(), "zmq_msg_recv"));
    }
  }
}

Result<Bytes> to_owned(const zmq::message_t& message) {
  try {
    const auto* data = static_cast<const std::byte*>(message.data());
    return Bytes(data, data + message.size());
  } catch (const std::bad_alloc&) {
    return fail(errc::resource_exhausted, ENOMEM, "cannot allocate the received message");
  }
}

std::string to_hex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    text.push_back(kDigits[std::to_integer<unsigned>(b) >> 4]);
    text.push_back(kDigits[std::to_integer<unsigned>(b) & 0xf]);
  }
  return text;
}

std::optional<Bytes> from_hex(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return std::nullopt;
  Bytes bytes(text.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = nibble(text[2 * i]);
    const int low = nibble(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<std::byte>(high * 16 + low);
  }
  return bytes;
}

// The value of `key` in "k1=v1;k2=v2", empty when absent.
std::string_view field(std::string_view data, std::string_view key) {
  while (!data.empty()) {
    const auto end = data.find(';');
    const auto item = data.substr(0, end);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
      return item.substr(key.size() + 1);
    }
    if (end == std::string_view::npos) break;
    data.remove_prefix(end + 1);
  }
  return {};
}

// What both ends of one Pipe share within a process (a forked child gets a
// copy with the rest of the address space). End 0 binds the endpoint, end 1
// connects to it.
struct PipeShared {
  std::string endpoint;
  bool duplex = false;
  struct End {
    bool open = false;        // this process still holds a copy of the end
    void* socket = nullptr;   // its socket, valid only in process `owner`
    pid_t owner = 0;
    int listener = -1;        // the bound end's listening descriptor, in `owner`
  } ends[2];

  int socket_type(int end) const {
    if (duplex) return ZMQ_PAIR;
    return end == 0 ? ZMQ_PULL : ZMQ_PUSH;
  }

  Result<void> open_end_socket(int end) {
    auto made = open_socket(socket_type(end));
    if (!made) return fail(made.error());
    void* socket = *made;
    if (duplex || end == 0) {
      const std::int64_t limit = static_cast<std::int64_t>(kMaxMessageBytes);
      if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &limit, sizeof limit) != 0) {
        const int err = zmq_errno();
        close_socket(socket);
        return fail(native_error(err, "zmq_setsockopt(ZMQ_MAXMSGSIZE)"));
      }
    }
    const int rc = end == 0 ? zmq_bind(socket, endpoint.c_str()) : zmq_connect(socket, endpoint.c_str());
    if (rc != 0) {
      const int err = zmq_errno();
      close_socket(socket);
      return fail(native_error(err, end == 0 ? "zmq_bind " + endpoint : "zmq_connect " + endpoint));
    }
    if (end == 0) {
      register_fork_handler();
      ends[end].listener = find_listener(std::string_view(endpoint).substr(kScheme.size() + 1));
      if (ends[end].listener >= 0) bound_listeners().push_back(ends[end].listener);
    }
    ends[end].socket = socket;
    ends[end].owner = ::getpid();
    return ok();
  }

  // The socket of `end` in this process, made on first use together with
  // the socket of the other end if this process holds it too.
  Result<void*> socket_of(int end) {
    const pid_t self = ::getpid();
    for (auto& e : ends) {
      if (e.socket != nullptr && e.owner != self) {  // the parent's: abandoned
        e.socket = nullptr;
        e.listener = -1;
      }
    }
    if (ends[end].socket != nullptr) return ends[end].socket;
    for (int e = 0; e < 2; ++e) {  // the binding end first, so the other connects at once
      if (ends[e].socket != nullptr || !(e == end || ends[e].open)) continue;
      auto made = open_end_socket(e);
      if (!made && e == end) return fail(made.error());
    }
    return ends[end].socket;
  }

  void close_end(int end) {
    End& e = ends[end];
    e.open = false;
    if (e.socket != nullptr && e.owner == ::getpid()) {
      if (e.listener >= 0) std::erase(bound_listeners(), e.listener);
      close_socket(e.socket);
    }
    e.socket = nullptr;
    e.listener = -1;
  }
};

class ZmqConnection final : public Connection {
 public:
  ZmqConnection(std::shared_ptr<PipeShared> pipe, int end, bool readable, bool writable)
      : pipe_(std::move(pipe)), end_(end), readable_(readable), writable_(writable) {
    pipe_->ends[end_].open = true;
  }
  ~ZmqConnection() override { (void)close(); }

  Result<void> close() override {
    if (closed_) return ok();
    closed_ = true;
    ahead_.clear();
    pipe_->close_end(end_);
    return ok();
  }
  bool closed() const override { return closed_; }
  bool readable() const override { return readable_; }
  bool writable() const override { return writable_; }

  void adopt_read_ahead(std::deque<Bytes> ahead) { ahead_ = std::move(ahead); }

  Result<HandleToken> export_handle() override {
    if (closed_) return fail(errc::closed, 0, "handle is closed");
    // ZeroMQ's read-ahead is what this process's socket has already queued;
    // it belongs to the token. A socket inherited from a parent is not ours.
    const auto& mine = pipe_->ends[end_];
    if (readable_ && mine.socket != nullptr && mine.owner == ::getpid()) {
      for (;;) {
        auto queued = take_queued(mine.socket);
        if (!queued) return fail(queued.error());
        if (!*queued) break;
        auto owned = to_owned(**queued);
        if (!owned) return fail(owned.error());
        ahead_.push_back(std::move(*owned));
      }
    }
    std::string ahead;
    for (const auto& message : ahead_) {
      if (!ahead.empty()) ahead.push_back(',');
      ahead += "x" + to_hex(message);
    }
    HandleToken token;
    token.kind = std::string(kTokenKind);
    token.data = "ep=" + pipe_->endpoint.substr(kScheme.size()) + ";end=" + std::to_string(end_) +
                 ";duplex=" + (pipe_->duplex ? "1" : "0") + ";r=" + (readable_ ? "1" : "0") +
                 ";w=" + (writable_ ? "1" : "0") + ";ahead=" + ahead;
    return token;
  }

 protected:
  Result<void> do_send_bytes(std::span<const std::byte> buffer, std::int64_t offset,
                             std::optional<std::int64_t> size) override {
    if (closed_) return fail(errc::closed, 0, "handle is closed");
    if (!writable_) return fail(errc::wrong_direction, 0, "connection is read-only");
    const auto length = static_cast<std::int64_t>(buffer.size());
    if (offset < 0) return fail(errc::invalid_argument, 0, "offset is negative");
    if (offset > length) return fail(errc::invalid_argument, 0, "buffer length < offset");
    const std::int64_t count = size.value_or(length - offset);
    if (count < 0) return fail(errc::invalid_argument, 0, "size is negative");
    if (count > length - offset) return fail(errc::invalid_argument, 0, "buffer length < offset + size");
    if (static_cast<std::uint64_t>(count) > kMaxMessageBytes) {
      return fail(errc::message_too_large, 0, "message longer than max_message_bytes");
    }
    auto socket = pipe_->socket_of(end_);
    if (!socket) return fail(socket.error());
    zmq::socket_ref ref(zmq::from_handle, *socket);
    try {
      zmq::message_t message(buffer.data() + offset, static_cast<std::size_t>(count));
      for (;;) {
        try {
          (void)ref.send(message, zmq::send_flags::none);
          return ok();
        } catch (const zmq::error_t& error) {
          if (error.num() != EINTR) return fail(native_error(error.num(), "zmq_msg_send"));
        }
      }
    } catch (const zmq::error_t& error) {
      return fail(native_error(error.num(), "zmq_msg_init_size"));
    } catch (const std::bad_alloc&) {
      return fail(errc::resource_exhausted, ENOMEM, "cannot allocate the message");
    }
  }

  Result<Bytes> do_recv_bytes(std::optional<std::int64_t> maxlength, Deadline deadline) override {
    if (closed_) return fail(errc::closed, 0, "handle is closed");
    if (!readable_) return fail(errc::wrong_direction, 0, "connection is write-only");
    if (maxlength && *maxlength < 0) return fail(errc::invalid_argument, 0, "negative maxlength");
    auto message = next_message(deadline);
    if (!message) return message;
    if (maxlength && static_cast<std::int64_t>(message->size()) > *maxlength) {
      stop_reading();
      return fail(errc::message_too_large, 0, "bad message length");
    }
    return message;
  }

  Result<std::int64_t> do_recv_bytes_into(std::span<std::byte> buffer, std::int64_t offset,
                                          Deadline deadline) override {
    if (closed_) return fail(errc::closed, 0, "handle is closed");
    if (!readable_) return fail(errc::wrong_direction, 0, "connection is write-only");
    const auto capacity = static_cast<std::int64_t>(buffer.size());
    if (offset < 0) return fail(errc::invalid_argument, 0, "negative offset");
    if (offset > capacity) return fail(errc::invalid_argument, 0, "offset too large");
    auto message = next_message(deadline);
    if (!message) return fail(message.error());
    const auto length = static_cast<std::int64_t>(message->size());
    if (length > capacity - offset) {
      Error error(errc::buffer_too_short, 0, "buffer too short for the message");
      error.message = std::move(*message);
      return fail(std::move(error));
    }
    if (length > 0) std::memcpy(buffer.data() + offset, message->data(), message->size());
    return length;
  }

  Result<bool> do_poll(Deadline deadline) override {
    if (closed_) return fail(errc::closed, 0, "handle is closed");
    if (!readable_) return fail(errc::wrong_direction, 0, "connection is write-only");
    if (!ahead_.empty()) return true;
    auto socket = pipe_->socket_of(end_);
    if (!socket) return fail(socket.error());
    return wait_readable(*socket, deadline);
  }

 private:
  // The next message: read-ahead carried by a token first, then the socket.
  Result<Bytes> next_message(Deadline deadline) {
    if (!ahead_.empty()) {
      Bytes message = std::move(ahead_.front());
      ahead_.pop_front();
      return message;
    }
    auto socket = pipe_->socket_of(end_);
    if (!socket) return fail(socket.error());
    for (;;) {
      auto ready = wait_readable(*socket, deadline);
      if (!ready) return fail(ready.error());
      if (!*ready) return fail(errc::timeout, EAGAIN, "no message before the deadline");
      auto queued = take_queued(*socket);
      if (!queued) return fail(queued.error());
      if (*queued) return to_owned(**queued);
    }
  }

  // After a message longer than maxlength (pipe.recv.maxlength): a duplex end
  // stops being readable, a simplex receive end is closed.
  void stop_reading() {
    if (pipe_->duplex) {
      readable_ = false;
      ahead_.clear();
    } else {
      (void)close();
    }
  }

  std::shared_ptr<PipeShared> pipe_;
  int end_;
  bool readable_;
  bool writable_;
  bool closed_ = false;
  std::deque<Bytes> ahead_;  // messages handed over in a token, delivered first
};

std::string unique_endpoint() {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t salt = 0;
  if (::getrandom(&salt, sizeof salt, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof salt)) {
    salt = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  Bytes salt_bytes(sizeof salt);
  std::memcpy(salt_bytes.data(), &salt, sizeof salt);
  return std::string(kScheme) + "@ipcc-zeromq-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1)) + "-" + to_hex(salt_bytes);
}

}  // namespace

Result<PipeEnds> make_pipe(bool duplex) {
  try {
    auto pipe = std::make_shared<PipeShared>();
    pipe->endpoint = unique_endpoint();
    pipe->duplex = duplex;
    PipeEnds ends;
    ends.first = std::make_unique<ZmqConnection>(pipe, 0, true, duplex);
    ends.second = std::make_unique<ZmqConnection>(pipe, 1, duplex, true);
    return ends;
  } catch (const std::bad_alloc&) {
    return fail(errc::resource_exhausted, ENOMEM, "cannot allocate a Pipe");
  }
}

Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) {
  if (token.kind != kTokenKind || !token.fds.empty()) {
    return fail(errc::invalid_argument, 0, "not a zeromq connection token: " + token.kind);
  }
  const auto name = field(token.data, "ep");
  const auto end = field(token.data, "end");
  if (name.empty() || name.front() != '@' || (end != "0" && end != "1")) {
    return fail(errc::invalid_argument, 0, "malformed zeromq connection token");
  }
  std::deque<Bytes> ahead;
  std::string_view list = field(token.data, "ahead");
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    auto message = item.empty() || item.front() != 'x' ? std::nullopt : from_hex(item.substr(1));
    if (!message) return fail(errc::invalid_argument, 0, "malformed read-ahead in a zeromq token");
    ahead.push_back(std::move(*message));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  auto pipe = std::make_shared<PipeShared>();
  pipe->endpoint = std::string(kScheme) + std::string(name);
  pipe->duplex = field(token.data, "duplex") == "1";
  auto connection = std::make_unique<ZmqConnection>(pipe, end == "1" ? 1 : 0, field(token.data, "r") == "1",
                                                    field(token.data, "w") == "1");
  connection->adopt_read_ahead(std::move(ahead));
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace ipcc::zeromq::internal
