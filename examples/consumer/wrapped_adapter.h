// An adapter written outside ipcc-conformance: a Backend that forwards to the
// bundled reference implementation under its own name. A real adapter
// implements ipcc::Connection, ipcc::Queue and the ipcc/sync.h primitives over
// its own library instead.
#ifndef EXAMPLE_WRAPPED_ADAPTER_H_
#define EXAMPLE_WRAPPED_ADAPTER_H_

#include <memory>

#include <ipcc/backend.h>

namespace example {

std::unique_ptr<ipcc::Backend> make_wrapped_backend();

}  // namespace example

#endif  // EXAMPLE_WRAPPED_ADAPTER_H_
