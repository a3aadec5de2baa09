// Internal: the faulty synchronisation variants. Each is the reference
// Backend whose Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition or
// Barrier has exactly one defect; its other primitives are the reference's.
#ifndef IPCC_FAULTY_SRC_FAULTY_SYNC_H_
#define IPCC_FAULTY_SRC_FAULTY_SYNC_H_

#include <vector>

#include "ipcc/faulty/faulty.h"

namespace ipcc::faulty {

// Lock, RLock, Semaphore and BoundedSemaphore variants (faulty_lock.cpp).
std::vector<Variant> lock_variants();
// Event, Condition and Barrier variants (faulty_signal.cpp).
std::vector<Variant> signal_variants();

}  // namespace ipcc::faulty

#endif  // IPCC_FAULTY_SRC_FAULTY_SYNC_H_
