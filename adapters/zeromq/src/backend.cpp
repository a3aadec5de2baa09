// The ZeroMQ adapter's Backend: Pipes only (pipe.cpp); every other primitive
// keeps the contract's default, unsupported.
#include "ipcc/zeromq/backend.h"

#include <memory>
#include <string>

#include "pipe.h"

static_assert(ipcc::kContractVersionMajor == 0 && ipcc::kContractVersionMinor >= 3,
              "written against adapter contract 0.3");

namespace ipcc::zeromq {
namespace {

class ZeromqBackend final : public Backend {
 public:
  std::string name() const override { return "zeromq"; }

  Capabilities capabilities() const override {
    Capabilities caps;
    caps.fork = true;
    caps.spawn = true;
    caps.pipe.duplex_pipes = true;
    caps.pipe.simplex_pipes = true;
    caps.pipe.max_message_bytes = kMaxMessageBytes;
    caps.pipe.min_buffer_bytes = 32 * 1024;
    caps.pipe.min_buffered_messages = 32;
    caps.pipe.duplex_close_with_unread = errc::eof;
    caps.pipe.atomic_small_frames = true;
    caps.pipe.frame_header_bytes = 9;
    // caps.queue and caps.sync keep their defaults: nothing declared.
    return caps;
  }

  Result<PipeEnds> make_pipe(bool duplex) override { return internal::make_pipe(duplex); }

  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    return internal::import_connection(token);
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() { return std::make_unique<ZeromqBackend>(); }

}  // namespace ipcc::zeromq
