// The posix adapter's Backend: capabilities read from the running system,
// and the factories of pipe.cpp, queue.cpp and sync.cpp.
#include <semaphore.h>

#include <climits>

#include "internal.h"
#include "ipcc/posix/backend.h"

static_assert(ipcc::kContractVersionMajor == 0 && ipcc::kContractVersionMinor >= 3,
              "written against adapter contract 0.3");

namespace ipcc::posix {
namespace {

class PosixBackend final : public Backend {
 public:
  std::string name() const override { return "posix"; }

  Capabilities capabilities() const override {
    Capabilities caps;
    caps.fork = true;
    caps.spawn = true;
    caps.pipe.duplex_pipes = true;
    caps.pipe.simplex_pipes = true;
    caps.pipe.max_message_bytes = internal::max_message_bytes();
    // A SOCK_SEQPACKET sender blocks when the buffers of its unread messages
    // (each charged its payload plus about 1 KiB of skb overhead) reach
    // SO_SNDBUF, 208 KiB by default: 32 messages or 32 KiB fit easily.
    caps.pipe.min_buffer_bytes = 32 * 1024;
    caps.pipe.min_buffered_messages = 32;
    caps.pipe.duplex_close_with_unread = errc::connection_reset;
    caps.pipe.atomic_small_frames = true;  // every send is one datagram
    caps.pipe.frame_header_bytes = 0;      // the kernel keeps the boundaries

    const internal::MqLimits mq = internal::mq_limits();
    caps.queue.queue = true;
    caps.queue.simple_queue = true;
    caps.queue.joinable_queue = false;
    caps.queue.qsize = true;
    caps.queue.put_visible_at_once = true;
    caps.queue.max_maxsize = mq.msg_max;
    caps.queue.max_item_bytes = static_cast<std::uint64_t>(mq.msgsize_max);
    // An unbounded queue is msg_max messages; the fewest bytes that can fill
    // it are msg_max empty items, each counted as 64 bytes.
    caps.queue.min_storage_bytes = static_cast<std::uint64_t>(mq.msg_max) * 64;
    caps.queue.serialization_failure = SerializationFailureEffect::reported_by_put;
    caps.queue.unconsumed_exit = UnconsumedExitEffect::exits_at_once;
    caps.queue.killed_consumer = KilledProcessEffect::unaffected;
    caps.queue.killed_producer = KilledProcessEffect::unaffected;
    caps.queue.max_priority = internal::mq_max_priority();

    caps.sync.lock = true;
    caps.sync.rlock = true;
    caps.sync.semaphore = true;
    caps.sync.bounded_semaphore = false;
    caps.sync.event = true;
    caps.sync.condition = false;
    caps.sync.barrier = false;
    caps.sync.get_value = true;
    caps.sync.max_semaphore_value = SEM_VALUE_MAX;
    caps.sync.lock_owner_death = OwnerDeathEffect::reported_to_next;
    caps.sync.rlock_owner_death = OwnerDeathEffect::reported_to_next;
    return caps;
  }

  Result<PipeEnds> make_pipe(bool duplex) override { return internal::make_pipe(duplex); }
  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    return internal::import_connection(token);
  }
  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override {
    return internal::make_queue(options);
  }
  Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) override {
    return internal::import_queue(token);
  }
  Result<std::unique_ptr<Lock>> make_lock(LockKind kind) override { return internal::make_lock(kind); }
  Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) override {
    return internal::make_semaphore(options);
  }
  Result<std::unique_ptr<Event>> make_event() override { return internal::make_event(); }
  Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) override {
    return internal::import_lock(token);
  }
  Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) override {
    return internal::import_semaphore(token);
  }
  Result<std::unique_ptr<Event>> import_event(const HandleToken& token) override {
    return internal::import_event(token);
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() { return std::make_unique<PosixBackend>(); }

}  // namespace ipcc::posix
