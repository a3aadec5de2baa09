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

 private:
  std::unique_ptr<ipcc::Backend> inner_ = ipcc::reference::make_backend();
};

}  // namespace

std::unique_ptr<ipcc::Backend> make_wrapped_backend() { return std::make_unique<WrappedBackend>(); }

}  // namespace example
