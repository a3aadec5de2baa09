// alloc_probe.h: measures the largest single allocation made through the
// global operator new while a probe is alive. The test executable replaces
// operator new/delete (alloc_probe.cpp) with malloc/free plus this record.
#ifndef IPCC_REFERENCE_TEST_ALLOC_PROBE_H_
#define IPCC_REFERENCE_TEST_ALLOC_PROBE_H_

#include <cstddef>

namespace ipcc::reference::testing {

class AllocationProbe {
 public:
  AllocationProbe();
  ~AllocationProbe();
  AllocationProbe(const AllocationProbe&) = delete;
  AllocationProbe& operator=(const AllocationProbe&) = delete;

  // The largest size requested from operator new since construction (any thread).
  std::size_t largest() const;
};

}  // namespace ipcc::reference::testing

#endif  // IPCC_REFERENCE_TEST_ALLOC_PROBE_H_
