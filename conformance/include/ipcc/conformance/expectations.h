// ipcc/conformance/expectations.h: an adapter's expectations manifest.
//
// A manifest lists the verdicts an adapter is known to get where they are not
// PASS, each with its reason. Format: one entry per line,
//
//   <key>  <VERDICT>[|<VERDICT>...]  <reason, free text up to the end of line>
//
// where <key> is a clause ID (pipe.eof.after-drain), a test name
// (PipeConformance.EofAfterDrain) or `*` (every test not matched otherwise),
// and VERDICT is PASS, FAIL, UNSUPPORTED, TIMEOUT, CRASH or ANY (BROKEN is
// a harness failure and can never be expected). Several verdicts joined by
// '|' accept any of them (a known intermittent result). A line whose first
// non-blank character is '#' is a comment, so a reason may contain '#'
// ("upstream issue #12"); blank lines are ignored. A test name entry
// wins over clause entries, which win over `*`. A test without any entry is
// expected to PASS or be UNSUPPORTED.
//
// An observed verdict that the manifest does not accept fails the gate: an
// unexpected failure, and equally an unexpected pass (XPASS), so manifests
// never go stale.
#ifndef IPCC_CONFORMANCE_EXPECTATIONS_H_
#define IPCC_CONFORMANCE_EXPECTATIONS_H_

#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "ipcc/conformance/suite.h"

namespace ipcc::conformance {

struct Expectation {
  std::string key;
  std::vector<Verdict> verdicts;  // empty means ANY
  std::string reason;
  int line = 0;
};

class Expectations {
 public:
  // Parses a manifest. Errors: std::invalid_argument naming `source`, the
  // line number and what is wrong; nothing is kept from a bad manifest.
  static Expectations parse(std::istream& in, const std::string& source);
  // Reads and parses a file; std::invalid_argument if it cannot be read.
  static Expectations load(const std::string& path);

  // The entry that applies to a test with these clauses, or nullopt.
  const Expectation* find(const std::string& test, const std::vector<std::string>& clauses) const;

  // True when `observed` is acceptable for the test.
  bool accepts(const std::string& test, const std::vector<std::string>& clauses, Verdict observed) const;

  // Whether the manifest names this test or one of its clauses explicitly
  // with a verdict other than ANY (used to select the tests a faulty adapter
  // must fail).
  bool targets(const std::string& test, const std::vector<std::string>& clauses) const;

  const std::vector<Expectation>& entries() const { return entries_; }

 private:
  std::vector<Expectation> entries_;
};

}  // namespace ipcc::conformance

#endif  // IPCC_CONFORMANCE_EXPECTATIONS_H_
