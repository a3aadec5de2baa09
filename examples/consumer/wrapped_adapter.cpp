#include "wrapped_adapter.h"

#include <ipcc/reference/pipe.h>

namespace example {
namespace {

class WrappedBackend final : public ipcc::Backend {
 public:
  std::string name() const override { return "wrapped"; }
  ipcc::Capabilities capabilities() const override { return inner_->capabilities(); }
  ipcc::Result<ipcc::PipeEnds> make_pipe(bool duplex) override { return inner_->make_pipe(duplex); }
  ipcc::Result<std::unique_ptr<ipcc::Connection>> import_connection(const ipcc::HandleToken& token) override {
    return inner_->import_connection(token);
  }
  ipcc::Result<std::unique_ptr<ipcc::Queue>> make_queue(const ipcc::QueueOptions& options) override {
    return inner_->make_queue(options);
  }
  ipcc::Result<std::unique_ptr<ipcc::Queue>> import_queue(const ipcc::HandleToken& token) override {
    return inner_->import_queue(token);
  }
  ipcc::Result<std::unique_ptr<ipcc::Lock>> make_lock(ipcc::LockKind kind) override { return inner_->make_lock(kind); }
  ipcc::Result<std::unique_ptr<ipcc::Lock>> import_lock(const ipcc::HandleToken& token) override {
    return inner_->import_lock(token);
  }
  ipcc::Result<std::unique_ptr<ipcc::Semaphore>> make_semaphore(const ipcc::SemaphoreOptions& options) override {
    return inner_->make_semaphore(options);
  }
  ipcc::Result<std::unique_ptr<ipcc::Semaphore>> import_semaphore(const ipcc::HandleToken& token) override {
    return inner_->import_semaphore(token);
  }
  ipcc::Result<std::unique_ptr<ipcc::Event>> make_event() override { return inner_->make_event(); }
  ipcc::Result<std::unique_ptr<ipcc::Event>> import_event(const ipcc::HandleToken& token) override {
    return inner_->import_event(token);
  }
  ipcc::Result<std::unique_ptr<ipcc::Condition>> make_condition(const ipcc::ConditionOptions& options) override {
    return inner_->make_condition(options);
  }
  ipcc::Result<std::unique_ptr<ipcc::Condition>> import_condition(const ipcc::HandleToken& token) override {
    return inner_->import_condition(token);
  }
  ipcc::Result<std::unique_ptr<ipcc::Barrier>> make_barrier(const ipcc::BarrierOptions& options) override {
    return inner_->make_barrier(options);
  }
  ipcc::Result<std::unique_ptr<ipcc::Barrier>> import_barrier(const ipcc::HandleToken& token) override {
    return inner_->import_barrier(token);
  }

 private:
  std::unique_ptr<ipcc::Backend> inner_ = ipcc::reference::make_backend();
};

}  // namespace

std::unique_ptr<ipcc::Backend> make_wrapped_backend() { return std::make_unique<WrappedBackend>(); }

}  // namespace example
