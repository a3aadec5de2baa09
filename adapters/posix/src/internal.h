// Internal to the posix adapter: the factories behind the Backend
// (backend.cpp) and the limits its capabilities report.
#ifndef IPCC_POSIX_SRC_INTERNAL_H_
#define IPCC_POSIX_SRC_INTERNAL_H_

#include <cstdint>
#include <memory>

#include "ipcc/backend.h"

namespace ipcc::posix::internal {

// pipe.cpp
std::uint64_t max_message_bytes();
Result<PipeEnds> make_pipe(bool duplex);
Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token);

// queue.cpp
struct MqLimits {
  std::int64_t msg_max;      // /proc/sys/fs/mqueue/msg_max
  std::int64_t msgsize_max;  // /proc/sys/fs/mqueue/msgsize_max
};
MqLimits mq_limits();
// The highest priority mq_send accepts: sysconf(_SC_MQ_PRIO_MAX) - 1.
std::uint32_t mq_max_priority();
Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options);
Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token);

// sync.cpp
Result<std::unique_ptr<Lock>> make_lock(LockKind kind);
Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options);
Result<std::unique_ptr<Event>> make_event();
Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token);
Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token);
Result<std::unique_ptr<Event>> import_event(const HandleToken& token);

}  // namespace ipcc::posix::internal

#endif  // IPCC_POSIX_SRC_INTERNAL_H_
