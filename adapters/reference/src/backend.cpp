// The reference adapter's Backend: the reference Pipe (pipe.cpp), Queue
// (queue.cpp) and synchronisation primitives (sync.cpp) behind the contract
// of ipcc/backend.h.
#include <memory>
#include <string>

#include "ipcc/reference/pipe.h"
#include "ipcc/reference/queue.h"
#include "ipcc/reference/sync.h"

namespace ipcc::reference {
namespace {

class ReferenceBackend final : public Backend {
 public:
  explicit ReferenceBackend(PipeOptions options) : options_(options) {}
  std::string name() const override { return "reference"; }
  Capabilities capabilities() const override {
    Capabilities caps;
    caps.pipe.max_message_bytes = options_.max_message_bytes;
    caps.pipe.min_buffer_bytes = 32 * 1024;
    caps.pipe.min_buffered_messages = 32;
    caps.pipe.duplex_close_with_unread = errc::eof;
    caps.pipe.atomic_small_frames = true;
    caps.pipe.frame_header_bytes = 4;
    caps.queue = queue_capabilities();
    caps.sync = sync_capabilities();
    return caps;
  }
  Result<PipeEnds> make_pipe(bool duplex) override { return reference::make_pipe(duplex, options_); }
  Result<std::unique_ptr<Connection>> import_connection(const HandleToken& token) override {
    return reference::import_connection(token);
  }
  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override {
    return reference::make_queue(options);
  }
  Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) override {
    return reference::import_queue(token);
  }
  Result<std::unique_ptr<Lock>> make_lock(LockKind kind) override {
    return reference::make_lock(kind);
  }
  Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) override {
    return reference::make_semaphore(options);
  }
  Result<std::unique_ptr<Event>> make_event() override { return reference::make_event(); }
  Result<std::unique_ptr<Condition>> make_condition(const ConditionOptions& options) override {
    return reference::make_condition(options);
  }
  Result<std::unique_ptr<Barrier>> make_barrier(const BarrierOptions& options) override {
    return reference::make_barrier(options);
  }
  Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) override {
    return reference::import_lock(token);
  }
  Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) override {
    return reference::import_semaphore(token);
  }
  Result<std::unique_ptr<Event>> import_event(const HandleToken& token) override {
    return reference::import_event(token);
  }
  Result<std::unique_ptr<Condition>> import_condition(const HandleToken& token) override {
    return reference::import_condition(token);
  }
  Result<std::unique_ptr<Barrier>> import_barrier(const HandleToken& token) override {
    return reference::import_barrier(token);
  }

 private:
  PipeOptions options_;
};

}  // namespace

std::unique_ptr<Backend> make_backend(const PipeOptions& options) {
  return std::make_unique<ReferenceBackend>(options);
}

}  // namespace ipcc::reference
