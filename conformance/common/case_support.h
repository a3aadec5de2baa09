// Helpers every family of conformance tests uses to build scenarios and read
// their histories: harness ops and controller steps, record lookup, and the
// start-method generator. Primitive-specific builders live beside their tests
// (pipe/pipe_support.h, queue/queue_support.h).
#ifndef IPCC_CONFORMANCE_CASE_SUPPORT_H_
#define IPCC_CONFORMANCE_CASE_SUPPORT_H_

#include <cstdint>

#include <rapidcheck.h>

#include <chrono>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "ipcc/conformance/suite.h"
#include "ipcc/fixtures/scenario.h"

namespace ipcc::conformance {

using fixtures::ControlKind;
using fixtures::ControlStep;
using fixtures::kNoLimit;
using fixtures::Op;
using fixtures::OpKind;
using fixtures::ProcessPlan;
using fixtures::Record;
using fixtures::RunResult;
using fixtures::Scenario;
using fixtures::Violation;

// Milliseconds as the nanoseconds an Op takes.
constexpr std::int64_t ms(std::int64_t milliseconds) { return milliseconds * 1'000'000; }

Op wait_gate();
Op exit_now();

ControlStep step(ControlKind kind, std::uint32_t process, std::uint32_t op = 0, std::uint32_t limit_ms = 0);

// The records of process `p` for op `op` (several for looping ops).
std::vector<Record> records_of(const RunResult& run, std::uint32_t p, std::uint32_t op);
// The first / last record of process p for op `op`, or nullopt.
std::optional<Record> first_record(const RunResult& run, std::uint32_t p, std::uint32_t op);
std::optional<Record> final_record(const RunResult& run, std::uint32_t p, std::uint32_t op);
// The last record of process p, or nullopt.
std::optional<Record> last_record(const RunResult& run, std::uint32_t p);
// The controller's record of step `index`.
std::optional<Record> control_record(const RunResult& run, std::uint32_t index);

// A Violation when the record's outcome is not `expected`.
std::vector<Violation> expect_outcome(const std::optional<Record>& record, errc expected,
                                      const std::string& clause, const std::string& what);

// Elapsed time of `call`, in nanoseconds, with its result.
template <typename Call>
auto timed(Call&& call) {
  const auto start = std::chrono::steady_clock::now();
  auto result = call();
  return std::make_pair(std::move(result), std::chrono::steady_clock::now() - start);
}
// Notes when `elapsed` is below `expected` (less the clock slack) or above
// the loose upper bound.
void expect_duration(Expect& expect, std::chrono::nanoseconds elapsed, std::chrono::nanoseconds expected,
                     const std::string& what);

// A value in [min, max), every one equally likely whatever the case's size
// (rc::gen::inRange grows with the size, so the first cases of a small budget
// would only see `min`). Shrinks toward `min`.
template <typename T>
rc::Gen<T> any_in_range(T min, T max) {
  std::vector<T> values;
  for (T value = min; value < max; ++value) values.push_back(value);
  return rc::gen::elementOf(values);
}

// The start methods the adapter supports.
rc::Gen<StartMethod> start_method_choice();

}  // namespace ipcc::conformance

#endif  // IPCC_CONFORMANCE_CASE_SUPPORT_H_
