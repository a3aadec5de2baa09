// The Boost.Interprocess adapter's Backend: capabilities and factories.
#include "ipcc/boost/backend.h"

#include <cstdint>
#include <memory>
#include <string>

#include "internal.h"

namespace ipcc::boost {
namespace {

static_assert(kContractVersionMajor == 0 && kContractVersionMinor >= 3, "written against adapter contract 0.3");

class BoostBackend final : public Backend {
 public:
  std::string name() const override { return "boost"; }

  Capabilities capabilities() const override {
    Capabilities caps;
    caps.fork = true;
    caps.spawn = true;

    caps.pipe.duplex_pipes = true;
    caps.pipe.simplex_pipes = true;
    caps.pipe.max_message_bytes = detail::kPipeMessageBytes;
    // Any 32 messages of up to 32 KiB in all fit in the kPipeSlots slots.
    caps.pipe.min_buffer_bytes = 32 * 1024;
    caps.pipe.min_buffered_messages = 32;
    caps.pipe.duplex_close_with_unread = errc::eof;
    caps.pipe.atomic_small_frames = true;  // one send is one message, copied under the queue's mutex
    caps.pipe.frame_header_bytes = 0;      // the adapter adds no framing

    caps.queue.queue = true;
    caps.queue.simple_queue = true;
    caps.queue.joinable_queue = true;
    caps.queue.qsize = true;
    caps.queue.put_visible_at_once = true;
    caps.queue.max_maxsize = static_cast<std::int64_t>(detail::kQueueSlots);
    caps.queue.max_item_bytes = detail::kQueueItemBytes;
    // kQueueSlots items of any size, each counted as its length plus 64.
    caps.queue.min_storage_bytes = detail::kQueueSlots * 64;
    caps.queue.serialization_failure = SerializationFailureEffect::reported_by_put;
    caps.queue.unconsumed_exit = UnconsumedExitEffect::exits_at_once;
    // A peer killed inside message_queue's robust mutex makes it not
    // recoverable (calls then throw: broken); one killed while it waits on
    // the queue's process-shared condition can leave the survivors' timed
    // calls blocked past their deadlines. Only may_wedge covers both.
    caps.queue.killed_consumer = KilledProcessEffect::may_wedge;
    caps.queue.killed_producer = KilledProcessEffect::may_wedge;
    // message_queue's priority is an unsigned int, and its order is the
    // spec's priority extension; plain puts all go at priority 0.
    caps.queue.max_priority = UINT32_MAX;

    caps.sync.lock = true;
    caps.sync.rlock = true;
    caps.sync.semaphore = true;
    caps.sync.bounded_semaphore = false;
    caps.sync.event = true;
    caps.sync.condition = false;
    caps.sync.barrier = false;
    caps.sync.get_value = false;
    caps.sync.max_semaphore_value = detail::max_semaphore_value();
    caps.sync.lock_owner_death = OwnerDeathEffect::stays_held;
    caps.sync.rlock_owner_death = OwnerDeathEffect::stays_held;
    return caps;
  }

  Result<PipeEnds> make_pipe(bool duplex) override { return detail::make_message_queue_pipe(duplex); }
  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    return detail::import_message_queue_end(token);
  }
  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override {
    return detail::make_message_queue(options);
  }
  Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) override {
    return detail::import_message_queue(token);
  }
  Result<std::unique_ptr<Lock>> make_lock(LockKind kind) override { return detail::make_lock(kind); }
  Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) override { return detail::import_lock(token); }
  Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) override {
    return detail::make_semaphore(options);
  }
  Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) override {
    return detail::import_semaphore(token);
  }
  Result<std::unique_ptr<Event>> make_event() override { return detail::make_event(); }
  Result<std::unique_ptr<Event>> import_event(const HandleToken& token) override {
    return detail::import_event(token);
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() { return std::make_unique<BoostBackend>(); }

}  // namespace ipcc::boost
