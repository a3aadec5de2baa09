// Pipe ends over boost::interprocess::message_queue: one queue per direction.
// See ipcc/boost/backend.h for the mapping and what it cannot express.
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/interprocess/ipc/message_queue.hpp>

#include "common.h"
#include "internal.h"

namespace ipcc::boost::detail {
namespace {

constexpr std::string_view kConnectionKind = "ipcc.boost.connection/1";

class MessageQueueEnd final : public Connection {
 public:
  MessageQueueEnd(std::shared_ptr<bip::message_queue> rx, std::string rx_name, std::shared_ptr<bip::message_queue> tx,
                  std::string tx_name, std::shared_ptr<NameOwner> owner)
      : rx_(std::move(rx)),
        tx_(std::move(tx)),
        rx_name_(std::move(rx_name)),
        tx_name_(std::move(tx_name)),
        owner_(std::move(owner)),
        readable_(rx_ != nullptr),
        writable_(tx_ != nullptr) {}

  ~MessageQueueEnd() override { (void)close(); }

  // Releases this process's mapping only: message_queue has no notion of a
  // closed peer, so nothing reaches the other end (no eof, no broken_pipe).
  Result<void> close() override {
    closed_ = true;
    rx_.reset();
    tx_.reset();
    owner_.reset();
    ahead_.reset();
    scratch_.reset();
    return ok();
  }
  bool closed() const override { return closed_; }
  bool readable() const override { return readable_; }
  bool writable() const override { return writable_; }

  Result<HandleToken> export_handle() override {
    if (closed_) return fail(errc::closed, 0, "handle is closed");
    if (!owner_) return fail(errc::unsupported, 0, "only the creating process exports");
    auto handoff = owner_->handoff_fd();
    if (!handoff) return fail(std::move(handoff).error());
    HandleToken token;
    token.kind = std::string(kConnectionKind);
    token.fds.push_back(*handoff);
    token.data = "rx=" + (readable_ ? rx_name_ : std::string("-")) + ";tx=" + (writable_ ? tx_name_ : std::string("-")) +
                 ";ahead=" + (ahead_ ? "m" + to_hex(*ahead_) : std::string("-"));
    ahead_.reset();  // the read-ahead now belongs to the token
    return token;
  }

  static Result<std::unique_ptr<Connection>> import(const HandleToken& token) {
    if (token.kind != kConnectionKind || token.fds.size() != 1) {
      return fail(errc::invalid_argument, 0, "not a Boost connection token");
    }
    const std::string rx_name = token_field(token.data, "rx");
    const std::string tx_name = token_field(token.data, "tx");
    const std::string ahead = token_field(token.data, "ahead");
    if (rx_name.empty() || tx_name.empty() || ahead.empty()) return fail(errc::invalid_argument, 0, "malformed token");
    std::shared_ptr<bip::message_queue> rx, tx;
    std::vector<NameOwner::Name> names;
    if (rx_name != "-") names.push_back({rx_name, &bip::message_queue::remove});
    if (tx_name != "-" && tx_name != rx_name) names.push_back({tx_name, &bip::message_queue::remove});
    try {
      if (rx_name != "-") rx = std::make_shared<bip::message_queue>(bip::open_only, rx_name.c_str());
      if (tx_name != "-") tx = std::make_shared<bip::message_queue>(bip::open_only, tx_name.c_str());
    } catch (const bip::interprocess_exception& error) {
      NameOwner::imported(token.fds[0], names);
      return fail(map_exception(error, "message_queue(open_only)"));
    }
    NameOwner::imported(token.fds[0], names);
    auto end = std::make_unique<MessageQueueEnd>(std::move(rx), rx_name, std::move(tx), tx_name, nullptr);
    if (ahead != "-") {
      Bytes message;
      if (ahead[0] != 'm' || !from_hex(std::string_view(ahead).substr(1), message)) {
        return fail(errc::invalid_argument, 0, "malformed read-ahead");
      }
      end->ahead_ = std::move(message);
    }
    return std::unique_ptr<Connection>(std::move(end));
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
    static const std::byte kNothing{};
    const void* data = count == 0 ? &kNothing : buffer.data() + offset;
    try {
      // Boost refuses a message above max_msg_size with size_error before it
      // queues anything: message_too_large.
      tx_->send(data, static_cast<std::size_t>(count), 0);
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "message_queue::send"));
    }
    return ok();
  }

  Result<Bytes> do_recv_bytes(std::optional<std::int64_t> maxlength, Deadline deadline) override {
    if (auto usable = check_receivable(); !usable) return fail(std::move(usable).error());
    if (maxlength && *maxlength < 0) return fail(errc::invalid_argument, 0, "negative maxlength");
    auto message = next_message(deadline);
    if (!message) return fail(std::move(message).error());
    if (!*message) return fail(errc::timeout, 0, "no message before the deadline");
    if (maxlength && (*message)->size() > static_cast<std::uint64_t>(*maxlength)) {
      // CPython's rule: the message is lost and the end stops being readable.
      if (writable_) {
        readable_ = false;
      } else {
        (void)close();
      }
      return fail(errc::message_too_large, 0, "bad message length");
    }
    return std::move(**message);
  }

  Result<std::int64_t> do_recv_bytes_into(std::span<std::byte> buffer, std::int64_t offset,
                                          Deadline deadline) override {
    if (auto usable = check_receivable(); !usable) return fail(std::move(usable).error());
    if (offset < 0) return fail(errc::invalid_argument, 0, "negative offset");
    if (static_cast<std::uint64_t>(offset) > buffer.size()) return fail(errc::invalid_argument, 0, "offset too large");
    auto message = next_message(deadline);
    if (!message) return fail(std::move(message).error());
    if (!*message) return fail(errc::timeout, 0, "no message before the deadline");
    Bytes& bytes = **message;
    const std::uint64_t space = buffer.size() - static_cast<std::uint64_t>(offset);
    if (bytes.size() > space) {
      Error error(errc::buffer_too_short, 0,
                  "message of " + std::to_string(bytes.size()) + " bytes, room for " + std::to_string(space));
      error.message = std::move(bytes);
      return fail(std::move(error));
    }
    if (!bytes.empty()) std::memcpy(buffer.data() + offset, bytes.data(), bytes.size());
    return static_cast<std::int64_t>(bytes.size());
  }

  // message_queue has no peek: poll receives the next message into a
  // read-ahead slot that the next receive (or the token) delivers first.
  Result<bool> do_poll(Deadline deadline) override {
    if (auto usable = check_receivable(); !usable) return fail(std::move(usable).error());
    if (ahead_) return true;
    auto message = next_message(deadline);
    if (!message) return fail(std::move(message).error());
    if (!*message) return false;
    ahead_ = std::move(**message);
    return true;
  }

 private:
  Result<void> check_receivable() const {
    if (closed_) return fail(errc::closed, 0, "handle is closed");
    if (!readable_) return fail(errc::wrong_direction, 0, "connection is write-only");
    return ok();
  }

  // The read-ahead, else the next message of the queue, or nullopt at the
  // deadline. Boost receives only into a buffer of max_msg_size bytes.
  Result<std::optional<Bytes>> next_message(Deadline deadline) {
    if (ahead_) {
      std::optional<Bytes> message = std::move(ahead_);
      ahead_.reset();
      return message;
    }
    const std::size_t capacity = rx_->get_max_msg_size();
    try {
      if (!scratch_) scratch_ = std::make_unique_for_overwrite<std::byte[]>(capacity);
      bip::message_queue::size_type received = 0;
      unsigned int priority = 0;
      std::byte* data = scratch_.get();
      const bool got = wait_for(
          deadline, [&] { rx_->receive(data, capacity, received, priority); },
          [&] { return rx_->try_receive(data, capacity, received, priority); },
          [&](const WallTime& until) { return rx_->timed_receive(data, capacity, received, priority, until); });
      if (!got) return std::optional<Bytes>();
      return std::optional<Bytes>(Bytes(data, data + received));
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "message_queue::receive"));
    } catch (const std::bad_alloc& error) {
      return fail(map_exception(error, "receive buffer"));
    }
  }

  std::shared_ptr<bip::message_queue> rx_;
  std::shared_ptr<bip::message_queue> tx_;
  std::string rx_name_;
  std::string tx_name_;
  std::shared_ptr<NameOwner> owner_;
  bool readable_;
  bool writable_;
  bool closed_ = false;
  std::optional<Bytes> ahead_;
  std::unique_ptr<std::byte[]> scratch_;
};

}  // namespace

Result<PipeEnds> make_message_queue_pipe(bool duplex) {
  auto owner = std::make_shared<NameOwner>();
  auto create = [&](std::string_view what) {
    std::string name = unique_name(what);
    owner->add(name, &bip::message_queue::remove);  // also if creation fails half way
    auto queue = std::make_shared<bip::message_queue>(bip::create_only, name.c_str(), kPipeSlots, kPipeMessageBytes);
    return std::make_pair(std::move(queue), std::move(name));
  };
  try {
    // Simplex: first is the receive-only end, second the send-only end.
    auto [forward, forward_name] = create("pipe");
    if (!duplex) {
      PipeEnds ends;
      ends.first = std::make_unique<MessageQueueEnd>(forward, forward_name, nullptr, "", owner);
      ends.second = std::make_unique<MessageQueueEnd>(nullptr, "", forward, forward_name, owner);
      return ends;
    }
    auto [backward, backward_name] = create("pipe-back");
    PipeEnds ends;
    ends.first = std::make_unique<MessageQueueEnd>(forward, forward_name, backward, backward_name, owner);
    ends.second = std::make_unique<MessageQueueEnd>(backward, backward_name, forward, forward_name, owner);
    return ends;
  } catch (const bip::interprocess_exception& error) {
    return fail(map_exception(error, "message_queue(create_only)"));
  } catch (const std::bad_alloc& error) {
    return fail(map_exception(error, "make_pipe"));
  }
}

Result<std::unique_ptr<Connection>> import_message_queue_end(const HandleToken& token) {
  return MessageQueueEnd::import(token);
}

}  // namespace ipcc::boost::detail
