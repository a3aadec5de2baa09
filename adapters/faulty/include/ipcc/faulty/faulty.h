// ipcc/faulty/faulty.h: deliberately defective adapters.
//
// Each faulty variant is the reference Pipe with exactly one defect of the
// kind real implementations have (a dropped message, an EOF reported while
// data is buffered, a poll that ignores its timeout, a write end leaked into
// children, ...). They exist to prove that the conformance suite can fail:
// the project's own test run executes, for every variant, the tests of the
// clause it violates and requires them to fail (see
// adapters/faulty/expectations/<variant>.txt). A test that passes against
// its variant is a test that cannot fail, and breaks the build.
//
// Never use these for anything else.
#ifndef IPCC_FAULTY_FAULTY_H_
#define IPCC_FAULTY_FAULTY_H_

#include <string>
#include <vector>

#include "ipcc/backend.h"

namespace ipcc::faulty {

struct Variant {
  std::string name;    // "faulty.drop-message": the adapter name in reports
  std::string defect;  // one sentence: what is wrong
  BackendFactory factory;
};

// Every faulty variant, in a stable order.
const std::vector<Variant>& variants();

}  // namespace ipcc::faulty

#endif  // IPCC_FAULTY_FAULTY_H_
