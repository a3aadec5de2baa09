// Internal: the faulty Queue variants (faulty_queue.cpp). Each is the
// reference Backend whose Queue has exactly one defect; its Pipes are the
// plain reference's.
#ifndef IPCC_FAULTY_SRC_FAULTY_QUEUE_H_
#define IPCC_FAULTY_SRC_FAULTY_QUEUE_H_

#include <vector>

#include "ipcc/faulty/faulty.h"

namespace ipcc::faulty {

// Every faulty Queue variant, in a stable order; variants() lists them after
// the Pipe variants.
std::vector<Variant> queue_variants();

}  // namespace ipcc::faulty

#endif  // IPCC_FAULTY_SRC_FAULTY_QUEUE_H_
