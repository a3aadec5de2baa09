// Internal, for the reference's own unit tests: fault injection into the
// reference Queue (queue.cpp). Not installed; not part of any contract.
#ifndef IPCC_REFERENCE_SRC_QUEUE_INTERNAL_H_
#define IPCC_REFERENCE_SRC_QUEUE_INTERNAL_H_

#include <cstdint>

#include "ipcc/queue.h"

namespace ipcc::reference::internal {

// Where a hook runs, inside put or get with the lock held: *_before_commit
// once the item is copied (into the ring, or out of it) and the new state is
// prepared but not committed; put_after_commit once it is committed, before
// the lock is released and sleepers are woken.
enum class QueueStep { put_before_commit, get_before_commit, put_after_commit };
using QueueHook = void (*)(QueueStep step);

// Installs `hook` for every reference queue of this process; nullptr removes
// it. A hook may block or end the process (that is its use).
void set_queue_hook(QueueHook hook) noexcept;

// Takes the lock of `queue` (a reference queue) and keeps it, so a forked
// child can end while holding it. False if `queue` is not an open reference
// queue or the lock could not be taken.
bool hold_queue_lock(Queue& queue) noexcept;

// How many times this process took over the lock from a dead holder.
std::uint64_t queue_lock_recoveries() noexcept;

}  // namespace ipcc::reference::internal

#endif  // IPCC_REFERENCE_SRC_QUEUE_INTERNAL_H_
