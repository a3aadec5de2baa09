// ipcc/conformance/runner.h: the main() of a conformance executable.
//
// A conformance executable links the suite (ipcc::conformance) and one or
// more adapters and calls run_main() with them. The CMake function
// ipcc_add_conformance_test() generates that main for one adapter.
//
// Command line (everything else goes to GoogleTest):
//   --ipcc-adapter=NAME        the adapter to test (required when the catalog
//                              has more than one)
//   --ipcc-expectations=FILE   the adapter's expectations manifest
//   --ipcc-only-expected       run only the tests the manifest expects a
//                              specific non-ANY verdict from (faulty adapters)
//   --ipcc-results=DIR         append one line per test to DIR/<adapter>.tsv
//                              (default: $IPCC_RESULTS_DIR, or none)
//   --ipcc-list-adapters       print the catalog and exit
//   --ipcc-list-tests          print "test<TAB>clauses" per test and exit
//   --ipcc-worker=N            (internal) run as worker N of a spawned case
//
// Exit status: 0 when every verdict is accepted by the manifest (PASS or
// UNSUPPORTED without one), 1 otherwise (unexpected failure or unexpected
// pass), 2 for bad command-line input or an unreadable manifest.
#ifndef IPCC_CONFORMANCE_RUNNER_H_
#define IPCC_CONFORMANCE_RUNNER_H_

#include <string>
#include <vector>

#include "ipcc/backend.h"

namespace ipcc::conformance {

struct AdapterEntry {
  std::string name;
  BackendFactory factory;
};

int run_main(int argc, char** argv, const std::vector<AdapterEntry>& catalog);

}  // namespace ipcc::conformance

#endif  // IPCC_CONFORMANCE_RUNNER_H_
