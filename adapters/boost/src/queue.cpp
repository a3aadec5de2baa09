// Queue, SimpleQueue and JoinableQueue over boost::interprocess::message_queue.
// See ipcc/boost/backend.h for the mapping.
#include <memory>
#include <new>
#include <string>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/sync/interprocess_condition.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include "common.h"
#include "internal.h"

namespace ipcc::boost::detail {
namespace {

constexpr std::string_view kQueueKind = "ipcc.boost.queue/1";
// A plain put's priority. message_queue orders by priority, FIFO among equal
// ones, so plain puts, all at one priority, are FIFO.
constexpr unsigned int kPlainPriority = 0;

// JoinableQueue's count of unfinished tasks: the Boost pieces the library
// offers for it (a mutex, a condition and a counter in shared memory).
struct JoinState {
  bip::interprocess_mutex mutex;
  bip::interprocess_condition all_done;
  std::int64_t unfinished = 0;
};

class MessageQueue final : public Queue {
 public:
  MessageQueue(QueueKind kind, std::int64_t maxsize, std::shared_ptr<bip::message_queue> queue, std::string name,
               std::unique_ptr<NameOwner> owner, std::unique_ptr<SharedBlock> join_block)
      : kind_(kind),
        maxsize_(maxsize),
        queue_(std::move(queue)),
        name_(std::move(name)),
        owner_(std::move(owner)),
        join_block_(std::move(join_block)) {}

  ~MessageQueue() override { (void)close(); }

  // Every item is in the queue's shared memory when put returns: nothing to
  // flush, no helper thread, so close and destruction only unmap.
  Result<void> close() override {
    closed_ = true;
    queue_.reset();
    owner_.reset();
    join_block_.reset();
    scratch_.reset();
    return ok();
  }
  bool closed() const override { return closed_; }

  Result<std::int64_t> qsize() override {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    try {
      return static_cast<std::int64_t>(queue_->get_num_msg());
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "message_queue::get_num_msg"));
    }
  }
  Result<bool> empty() override {
    auto size = qsize();
    if (!size) return fail(std::move(size).error());
    return *size == 0;
  }
  Result<bool> full() override {
    auto size = qsize();
    if (!size) return fail(std::move(size).error());
    return maxsize_ > 0 && *size >= maxsize_;
  }

  Result<void> task_done() override {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    if (kind_ != QueueKind::joinable_queue) return fail(errc::unsupported, 0, "not a JoinableQueue");
    try {
      bip::scoped_lock<bip::interprocess_mutex> lock(join().mutex);
      if (join().unfinished == 0) return fail(errc::too_many_task_done, 0, "task_done() called too many times");
      if (--join().unfinished == 0) join().all_done.notify_all();
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "task_done"));
    }
    return ok();
  }

  Result<void> join(Deadline deadline) override {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    if (kind_ != QueueKind::joinable_queue) return fail(errc::unsupported, 0, "not a JoinableQueue");
    try {
      bip::scoped_lock<bip::interprocess_mutex> lock(join().mutex, bip::defer_lock);
      if (!wait_for(deadline, [&] { lock.lock(); }, [&] { return lock.try_lock(); },
                    [&](const WallTime& until) { return lock.timed_lock(until); })) {
        return fail(errc::timeout, 0, "join: lock not taken before the deadline");
      }
      while (join().unfinished > 0) {
        if (deadline.is_never()) {
          join().all_done.wait(lock);
        } else if (deadline.expired()) {
          return fail(errc::timeout, 0, "unfinished tasks at the deadline");
        } else {
          (void)join().all_done.timed_wait(lock, wall_time(deadline));
        }
      }
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "join"));
    }
    return ok();
  }

  Result<void> cancel_join_thread() override {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    return ok();
  }
  QueueKind kind() const override { return kind_; }
  std::int64_t maxsize() const override { return maxsize_; }

  Result<HandleToken> export_handle() override {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    if (!owner_) return fail(errc::unsupported, 0, "only the creating process exports");
    auto handoff = owner_->handoff_fd();
    if (!handoff) return fail(std::move(handoff).error());
    HandleToken token;
    token.kind = std::string(kQueueKind);
    token.data = "name=" + name_ + ";kind=" + std::to_string(static_cast<int>(kind_)) +
                 ";maxsize=" + std::to_string(maxsize_);
    token.fds.push_back(*handoff);
    if (join_block_) token.fds.push_back(join_block_->fd());
    return token;
  }

  static Result<std::unique_ptr<Queue>> import(const HandleToken& token) {
    if (token.kind != kQueueKind) return fail(errc::invalid_argument, 0, "not a Boost queue token");
    const std::string name = token_field(token.data, "name");
    const std::string kind_text = token_field(token.data, "kind");
    const std::string maxsize_text = token_field(token.data, "maxsize");
    if (name.empty() || kind_text.empty() || maxsize_text.empty()) return fail(errc::invalid_argument, 0, "malformed token");
    const auto kind = static_cast<QueueKind>(std::stoi(kind_text));
    const bool joinable = kind == QueueKind::joinable_queue;
    if (token.fds.size() != (joinable ? 2u : 1u)) return fail(errc::invalid_argument, 0, "malformed token");
    std::unique_ptr<SharedBlock> block;
    if (joinable) {
      auto attached = SharedBlock::attach(token.fds[1]);
      if (!attached) return fail(std::move(attached).error());
      block = std::move(*attached);
    }
    std::shared_ptr<bip::message_queue> queue;
    try {
      queue = std::make_shared<bip::message_queue>(bip::open_only, name.c_str());
    } catch (const bip::interprocess_exception& error) {
      NameOwner::imported(token.fds[0], {{name, &bip::message_queue::remove}});
      return fail(map_exception(error, "message_queue(open_only)"));
    }
    NameOwner::imported(token.fds[0], {{name, &bip::message_queue::remove}});
    return std::unique_ptr<Queue>(
        new MessageQueue(kind, std::stoll(maxsize_text), std::move(queue), name, nullptr, std::move(block)));
  }

 protected:
  Result<void> do_put(std::span<const std::byte> item, Deadline deadline) override {
    return send(item, kPlainPriority, deadline);
  }

  // Boost's priority is an unsigned int: every std::uint32_t is in range.
  Result<void> do_put_with_priority(std::span<const std::byte> item, std::uint32_t priority,
                                    Deadline deadline) override {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    if (kind_ != QueueKind::queue) return fail(errc::unsupported, 0, "priorities are for Queue only");
    return send(item, priority, deadline);
  }

  Result<void> send(std::span<const std::byte> item, unsigned int priority, Deadline deadline) {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    // Boost's own limit, checked before anything is counted or queued (its
    // send would throw size_error just the same).
    if (item.size() > queue_->get_max_msg_size()) {
      return fail(errc::message_too_large, 0, "item longer than the queue's max_msg_size");
    }
    static const std::byte kNothing{};
    const void* data = item.empty() ? &kNothing : item.data();
    try {
      // A JoinableQueue counts the task before the item becomes visible, so a
      // task_done for it can never come first; a put that fails takes it back.
      if (join_block_) change_unfinished(+1);
      bool sent = false;
      try {
        sent = wait_for(
            deadline, [&] { queue_->send(data, item.size(), priority); },
            [&] { return queue_->try_send(data, item.size(), priority); },
            [&](const WallTime& until) { return queue_->timed_send(data, item.size(), priority, until); });
      } catch (...) {
        if (join_block_) change_unfinished(-1);
        throw;
      }
      if (!sent) {
        if (join_block_) change_unfinished(-1);
        return fail(errc::full, 0, "queue is full");
      }
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "message_queue::send"));
    }
    return ok();
  }

  Result<Bytes> do_get(Deadline deadline) override {
    if (closed_) return fail(errc::closed, 0, "queue is closed");
    const std::size_t capacity = queue_->get_max_msg_size();
    try {
      // Boost receives only into a buffer of max_msg_size bytes.
      if (!scratch_) scratch_ = std::make_unique_for_overwrite<std::byte[]>(capacity);
      bip::message_queue::size_type received = 0;
      unsigned int priority = 0;
      std::byte* data = scratch_.get();
      const bool got = wait_for(
          deadline, [&] { queue_->receive(data, capacity, received, priority); },
          [&] { return queue_->try_receive(data, capacity, received, priority); },
          [&](const WallTime& until) { return queue_->timed_receive(data, capacity, received, priority, until); });
      if (!got) return fail(errc::empty, 0, "queue is empty");
      return Bytes(data, data + received);
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "message_queue::receive"));
    } catch (const std::bad_alloc& error) {
      return fail(map_exception(error, "receive buffer"));
    }
  }

 private:
  JoinState& join() { return *static_cast<JoinState*>(join_block_->address()); }

  void change_unfinished(int delta) {
    bip::scoped_lock<bip::interprocess_mutex> lock(join().mutex);
    join().unfinished += delta;
    if (join().unfinished == 0) join().all_done.notify_all();
  }

  QueueKind kind_;
  std::int64_t maxsize_;
  std::shared_ptr<bip::message_queue> queue_;
  std::string name_;
  std::unique_ptr<NameOwner> owner_;
  std::unique_ptr<SharedBlock> join_block_;
  bool closed_ = false;
  std::unique_ptr<std::byte[]> scratch_;
};

}  // namespace

Result<std::unique_ptr<Queue>> make_message_queue(const QueueOptions& options) {
  if (options.kind == QueueKind::simple_queue && options.maxsize != 0) {
    return fail(errc::invalid_argument, 0, "a SimpleQueue has no maxsize");
  }
  if (options.maxsize > static_cast<std::int64_t>(kQueueSlots)) {
    return fail(errc::invalid_argument, 0, "maxsize above max_maxsize");
  }
  // message_queue needs a bound: an unbounded queue gets kQueueSlots slots
  // (max_num_msg = 0 would make a queue that accepts nothing).
  const std::int64_t maxsize = options.maxsize > 0 ? options.maxsize : 0;
  const std::size_t slots = maxsize > 0 ? static_cast<std::size_t>(maxsize) : kQueueSlots;
  std::unique_ptr<SharedBlock> block;
  if (options.kind == QueueKind::joinable_queue) {
    auto created = SharedBlock::create(sizeof(JoinState));
    if (!created) return fail(std::move(created).error());
    block = std::move(*created);
    try {
      new (block->address()) JoinState();
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "JoinableQueue state"));
    }
  }
  auto owner = std::make_unique<NameOwner>();
  std::string name = unique_name("queue");
  owner->add(name, &bip::message_queue::remove);  // also if creation fails half way
  try {
    auto queue = std::make_shared<bip::message_queue>(bip::create_only, name.c_str(), slots, kQueueItemBytes);
    return std::unique_ptr<Queue>(
        new MessageQueue(options.kind, maxsize, std::move(queue), name, std::move(owner), std::move(block)));
  } catch (const bip::interprocess_exception& error) {
    return fail(map_exception(error, "message_queue(create_only)"));
  }
}

Result<std::unique_ptr<Queue>> import_message_queue(const HandleToken& token) {
  return MessageQueue::import(token);
}

}  // namespace ipcc::boost::detail
