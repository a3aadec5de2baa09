// ipcc/conformance/suite.h: what a conformance test is written with.
//
// A conformance test is a GoogleTest test declared with
//   IPCC_CONFORMANCE_TEST(PipeConformance, EofAfterDrain, "pipe.eof.after-drain") { ... }
// which registers the clause IDs it encodes (so reports, the expectations
// manifest and the traceability check know them before the test runs) and
// records them in the JUnit XML as the `clause` property.
//
// Rules every test follows:
//   - Adapter operations that can block never run in the test process: multi-process cases
//     go through run_case() (fixtures/executor.h), single-process checks
//     through run_isolated(), which runs the body in a forked child under a
//     deadline. A hung adapter therefore becomes a TIMEOUT verdict, and an
//     adapter's threads never exist when the harness forks.
//   - A needed capability the adapter lacks skips the test as UNSUPPORTED
//     (IPCC_REQUIRE), never a silent pass.
//   - Properties generate the whole case in the test process, then execute it
//     (check_property); a failing case reports its clause, the shrunk case,
//     the history and RapidCheck's reproduce string.
//   - The fixture takes a leak snapshot before and after every test.
#ifndef IPCC_CONFORMANCE_SUITE_H_
#define IPCC_CONFORMANCE_SUITE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "ipcc/backend.h"
#include "ipcc/fixtures/executor.h"
#include "ipcc/fixtures/leak_check.h"
#include "ipcc/fixtures/pipe_checker.h"
#include "ipcc/fixtures/queue_checker.h"
#include "ipcc/fixtures/scenario.h"
#include "ipcc/fixtures/sync_checker.h"

namespace ipcc::conformance {

// The verdict vocabulary of spec/README.md.
enum class Verdict { pass, fail, unsupported, timeout, crash, broken };
std::string_view to_string(Verdict verdict);
// Parses "PASS", "FAIL", ...; false for anything else.
bool parse_verdict(std::string_view text, Verdict& verdict);

// The adapter under test in this process (set by run_main). Requires: called
// from a test run by run_main.
Backend& backend();
const std::string& adapter_name();
const Capabilities& capabilities();

// Registers `clauses` for the test "Suite.Name"; used by IPCC_CONFORMANCE_TEST.
bool register_test_clauses(const char* test_name, std::initializer_list<const char*> clauses);
const std::vector<std::string>& clauses_of(const std::string& test_name);
// Every registered test with its clauses, in registration order.
const std::vector<std::pair<std::string, std::vector<std::string>>>& registered_tests();

// Raises the verdict recorded for the running test (FAIL < TIMEOUT, CRASH,
// BROKEN in reports); used when a case ended abnormally.
void note_verdict(Verdict verdict);
Verdict noted_verdict();
// Sets the verdict outright: a property's verdict is the one of the case it
// finally reports (the shrunk one), not the worst seen while shrinking.
void set_case_verdict(Verdict verdict);

// The fixture of every conformance test: leak snapshot before, comparison
// after (a leak fails the test).
class ConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

 private:
  fixtures::Snapshot before_;
};

// Skips the running test as UNSUPPORTED when `available` is false.
#define IPCC_REQUIRE(available, capability)                                      \
  do {                                                                           \
    if (!(available)) GTEST_SKIP() << "UNSUPPORTED: adapter lacks " capability; \
  } while (0)

#define IPCC_CONFORMANCE_TEST(Fixture, Name, ...)                                       \
  [[maybe_unused]] static const bool ipcc_clauses_##Fixture##_##Name =                  \
      ::ipcc::conformance::register_test_clauses(#Fixture "." #Name, {__VA_ARGS__}); \
  TEST_F(Fixture, Name)

// ---------------------------------------------------------------------------
// Isolated single-process checks.

// Collects failed expectations inside an isolated child (GoogleTest
// assertions must not be used there).
class Expect {
 public:
  void that(bool condition, const std::string& what);
  template <typename T>
  void outcome(const Result<T>& result, errc expected, const std::string& what) {
    if (result.code() != expected) {
      failures_ += what + ": expected " + std::string(to_string(expected)) + ", got " +
                   (result ? std::string("ok") : describe(result.error())) + "\n";
    }
  }
  template <typename T>
  bool ok(const Result<T>& result, const std::string& what) {
    outcome(result, errc::ok, what);
    return result.has_value();
  }
  const std::string& failures() const { return failures_; }

 private:
  std::string failures_;
};

struct IsolatedResult {
  Verdict verdict = Verdict::pass;
  std::string report;  // failed expectations, or why the child ended badly
};

// Runs `body` in a forked child (with SIGPIPE at its default action) and
// waits at most `limit` (scaled by the timing multiplier). A child still
// running then is killed (TIMEOUT); one killed by a signal is a CRASH.
IsolatedResult run_isolated(const std::function<void(Expect&)>& body,
                            std::chrono::milliseconds limit = std::chrono::milliseconds(5000));

// The deadline for receiving, in an isolated check, a message the same
// process already sent: 1 s, scaled. A message that does not come is then a
// prompt FAIL with its story, not a TIMEOUT of the whole check.
Deadline soon();

// Runs `body` isolated and reports its failures to GoogleTest.
void expect_isolated(const std::function<void(Expect&)>& body,
                     std::chrono::milliseconds limit = std::chrono::milliseconds(5000));

// ---------------------------------------------------------------------------
// Multi-process cases.

struct CaseOutcome {
  Verdict verdict = Verdict::pass;
  std::string report;  // empty on pass
  fixtures::RunResult run;
};

// Test-specific judgement of a history, in addition to the pipe checker:
// return violations (clause + message); empty when satisfied.
using HistoryJudge =
    std::function<std::vector<fixtures::Violation>(const fixtures::Scenario&, const fixtures::RunResult&)>;

// Runs `scenario` on the adapter, checks it with check_pipe_history and
// `judge`, and verifies nothing leaked.
CaseOutcome run_pipe_case(const fixtures::Scenario& scenario, const HistoryJudge& judge = nullptr);

// Runs `scenario` once as a plain (non-generated) test and reports to
// GoogleTest.
void expect_pipe_case(const fixtures::Scenario& scenario, const HistoryJudge& judge = nullptr);

// The same for a Queue scenario, checked with check_queue_history(`checks`).
CaseOutcome run_queue_case(const fixtures::Scenario& scenario, const fixtures::QueueCheckOptions& checks,
                           const HistoryJudge& judge = nullptr);
void expect_queue_case(const fixtures::Scenario& scenario, const fixtures::QueueCheckOptions& checks,
                       const HistoryJudge& judge = nullptr);

// The same for a synchronisation scenario (Lock, RLock, Semaphore,
// BoundedSemaphore, Event, Condition, Barrier), checked with
// check_sync_history(`checks`).
CaseOutcome run_sync_case(const fixtures::Scenario& scenario, const fixtures::SyncCheckOptions& checks,
                          const HistoryJudge& judge = nullptr);
void expect_sync_case(const fixtures::Scenario& scenario, const fixtures::SyncCheckOptions& checks,
                      const HistoryJudge& judge = nullptr);

// The start methods the adapter supports, fork first.
std::vector<StartMethod> supported_start_methods();

}  // namespace ipcc::conformance

#endif  // IPCC_CONFORMANCE_SUITE_H_
