// Internal: the ZeroMQ Pipe behind the Backend (pipe.cpp).
#ifndef IPCC_ZEROMQ_SRC_PIPE_H_
#define IPCC_ZEROMQ_SRC_PIPE_H_

#include <memory>

#include "ipcc/backend.h"
#include "ipcc/connection.h"

namespace ipcc::zeromq::internal {

// Creates both ends of a Pipe on a fresh endpoint. Opens nothing: sockets are
// made where and when an end is first used.
Result<PipeEnds> make_pipe(bool duplex);

// Re-attaches an end from a token export_handle() made in another process.
// Errors: invalid_argument for a token this adapter did not make.
Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token);

}  // namespace ipcc::zeromq::internal

#endif  // IPCC_ZEROMQ_SRC_PIPE_H_
