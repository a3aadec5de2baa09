// The Boost adapter's primitives, as the backend (backend.cpp) reaches them.
// The sizes below are the choices documented in ipcc/boost/backend.h.
#ifndef IPCC_BOOST_SRC_INTERNAL_H_
#define IPCC_BOOST_SRC_INTERNAL_H_

#include <cstddef>
#include <memory>

#include "ipcc/backend.h"

namespace ipcc::boost::detail {

// Pipe: each direction is a message_queue of kPipeSlots messages of at most
// kPipeMessageBytes each. Boost preallocates (posix_fallocate) every slot.
inline constexpr std::size_t kPipeSlots = 64;
inline constexpr std::size_t kPipeMessageBytes = 64 * 1024;

// Queue: max_msg_size of every queue, and the max_num_msg of an unbounded
// queue, which is also the largest bound accepted.
inline constexpr std::size_t kQueueItemBytes = 64 * 1024;
inline constexpr std::size_t kQueueSlots = 2048;

Result<PipeEnds> make_message_queue_pipe(bool duplex);
Result<std::unique_ptr<Connection>> import_message_queue_end(const HandleToken& token);

Result<std::unique_ptr<Queue>> make_message_queue(const QueueOptions& options);
Result<std::unique_ptr<Queue>> import_message_queue(const HandleToken& token);

Result<std::unique_ptr<Lock>> make_lock(LockKind kind);
Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token);
Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options);
Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token);
Result<std::unique_ptr<Event>> make_event();
Result<std::unique_ptr<Event>> import_event(const HandleToken& token);
std::int64_t max_semaphore_value();

}  // namespace ipcc::boost::detail

#endif  // IPCC_BOOST_SRC_INTERNAL_H_
