// ipcc/posix/backend.h: the posix adapter, what a careful C++ programmer gets
// from Linux and glibc alone (sockets, POSIX message queues, process-shared
// pthread objects and POSIX semaphores), mapped onto the adapter contract.
//
// (The full mapping is documented below; see make_backend.)
#ifndef IPCC_POSIX_BACKEND_H_
#define IPCC_POSIX_BACKEND_H_

#include <memory>

#include "ipcc/backend.h"

namespace ipcc::posix {

// make_backend: the posix Backend. Starts no thread and opens no descriptor;
// capabilities() reads the system limits it reports each time it is called.
std::unique_ptr<Backend> make_backend();

}  // namespace ipcc::posix

#endif  // IPCC_POSIX_BACKEND_H_
