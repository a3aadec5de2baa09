// Internal: the process-wide state of a conformance run.
#ifndef IPCC_CONFORMANCE_RUNNER_STATE_H_
#define IPCC_CONFORMANCE_RUNNER_STATE_H_

#include <memory>
#include <string>

#include "ipcc/backend.h"
#include "ipcc/conformance/suite.h"

namespace ipcc::conformance::internal {

struct RunnerState {
  std::unique_ptr<Backend> backend;
  std::string adapter;
  Capabilities capabilities;
  Verdict noted_verdict = Verdict::pass;
};

RunnerState& state();

}  // namespace ipcc::conformance::internal

#endif  // IPCC_CONFORMANCE_RUNNER_STATE_H_
