#include "case_support.h"

#include "ipcc/fixtures/timing.h"

namespace ipcc::conformance {

Op wait_gate() {
  Op op;
  op.kind = OpKind::wait_gate;
  return op;
}

Op exit_now() {
  Op op;
  op.kind = OpKind::exit_now;
  return op;
}

ControlStep step(ControlKind kind, std::uint32_t process, std::uint32_t op, std::uint32_t limit_ms) {
  return ControlStep{kind, process, op, limit_ms};
}

std::vector<Record> records_of(const RunResult& run, std::uint32_t p, std::uint32_t op) {
  std::vector<Record> found;
  if (p >= run.history.by_process.size()) return found;
  for (const auto& r : run.history.by_process[p]) {
    if (r.op == op && r.kind != OpKind::control) found.push_back(r);
  }
  return found;
}

std::optional<Record> first_record(const RunResult& run, std::uint32_t p, std::uint32_t op) {
  auto found = records_of(run, p, op);
  return found.empty() ? std::nullopt : std::optional(found.front());
}

std::optional<Record> final_record(const RunResult& run, std::uint32_t p, std::uint32_t op) {
  auto found = records_of(run, p, op);
  return found.empty() ? std::nullopt : std::optional(found.back());
}

std::optional<Record> last_record(const RunResult& run, std::uint32_t p) {
  if (p >= run.history.by_process.size() || run.history.by_process[p].empty()) return std::nullopt;
  return run.history.by_process[p].back();
}

std::optional<Record> control_record(const RunResult& run, std::uint32_t index) {
  for (const auto& r : run.history.by_process.back()) {
    if (r.kind == OpKind::control && r.op == index) return r;
  }
  return std::nullopt;
}

std::vector<Violation> expect_outcome(const std::optional<Record>& record, errc expected,
                                      const std::string& clause, const std::string& what) {
  if (!record) return {{clause, what + ": the operation never ran"}};
  if (!record->completed) return {{clause, what + ": the operation never completed"}};
  if (record->outcome != expected) {
    return {{clause, what + ": expected " + std::string(to_string(expected)) + ", got " +
                         std::string(to_string(record->outcome))}};
  }
  return {};
}

void expect_duration(Expect& expect, std::chrono::nanoseconds elapsed, std::chrono::nanoseconds expected,
                     const std::string& what) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  const auto lower = expected - fixtures::timing::kClockSlack;
  expect.that(elapsed >= lower, what + " returned after " + std::to_string(duration_cast<microseconds>(elapsed).count()) +
                                    " us, before its " + std::to_string(duration_cast<microseconds>(expected).count()) +
                                    " us had passed");
  const auto upper = fixtures::timing::upper_bound(expected);
  expect.that(elapsed <= upper, what + " returned after " + std::to_string(duration_cast<microseconds>(elapsed).count()) +
                                    " us, beyond the loose bound of " +
                                    std::to_string(duration_cast<microseconds>(upper).count()) + " us");
}

rc::Gen<StartMethod> start_method_choice() {
  auto methods = supported_start_methods();
  return rc::gen::sizedElementOf(methods);
}

}  // namespace ipcc::conformance
