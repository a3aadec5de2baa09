#include "ipcc/conformance/suite.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "ipcc/conformance/property.h"
#include "ipcc/fixtures/history.h"
#include "ipcc/fixtures/isolated.h"
#include "ipcc/fixtures/timing.h"
#include "runner_state.h"

namespace ipcc::conformance {

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass: return "PASS";
    case Verdict::fail: return "FAIL";
    case Verdict::unsupported: return "UNSUPPORTED";
    case Verdict::timeout: return "TIMEOUT";
    case Verdict::crash: return "CRASH";
    case Verdict::broken: return "BROKEN";
  }
  return "?";
}

bool parse_verdict(std::string_view text, Verdict& verdict) {
  for (auto candidate : {Verdict::pass, Verdict::fail, Verdict::unsupported, Verdict::timeout,
                         Verdict::crash, Verdict::broken}) {
    if (text == to_string(candidate)) {
      verdict = candidate;
      return true;
    }
  }
  return false;
}

Backend& backend() { return *internal::state().backend; }
const std::string& adapter_name() { return internal::state().adapter; }
const Capabilities& capabilities() { return internal::state().capabilities; }

namespace {
auto& test_registry() {
  static std::vector<std::pair<std::string, std::vector<std::string>>> tests;
  return tests;
}
}  // namespace

bool register_test_clauses(const char* test_name, std::initializer_list<const char*> clauses) {
  test_registry().emplace_back(test_name, std::vector<std::string>(clauses.begin(), clauses.end()));
  return true;
}

const std::vector<std::string>& clauses_of(const std::string& test_name) {
  static const std::vector<std::string> none;
  for (const auto& [name, clauses] : test_registry()) {
    if (name == test_name) return clauses;
  }
  return none;
}

const std::vector<std::pair<std::string, std::vector<std::string>>>& registered_tests() {
  return test_registry();
}

void note_verdict(Verdict verdict) {
  auto& noted = internal::state().noted_verdict;
  // A harness-level verdict (timeout, crash, broken) outranks a plain FAIL.
  if (noted == Verdict::pass || noted == Verdict::fail) noted = verdict;
}
Verdict noted_verdict() { return internal::state().noted_verdict; }
void set_case_verdict(Verdict verdict) { internal::state().noted_verdict = verdict; }

void ConformanceTest::SetUp() { before_ = fixtures::take_snapshot(); }

void ConformanceTest::TearDown() {
  auto found = fixtures::leaks(before_, fixtures::take_snapshot());
  if (!found.empty()) {
    std::string text;
    for (const auto& leak : found) text += "  " + leak + "\n";
    ADD_FAILURE() << "LEAK: the test left resources behind:\n" << text;
  }
}

void Expect::that(bool condition, const std::string& what) {
  if (!condition) failures_ += what + "\n";
}

namespace {

// A plain (non-property) check's failure: its verdict and its story.
void fail_test_if(Verdict verdict, const std::string& report) {
  if (verdict == Verdict::pass) return;
  note_verdict(verdict);
  ADD_FAILURE() << to_string(verdict) << " on adapter '" << adapter_name() << "'\n" << report;
}

}  // namespace

namespace internal {
bool& property_timed_out() {
  static bool timed_out = false;
  return timed_out;
}
}  // namespace internal

IsolatedResult run_isolated(const std::function<void(Expect&)>& body, std::chrono::milliseconds limit) {
  if (internal::property_timed_out()) return {};  // a shrink step after a TIMEOUT (property.h)
  auto run = fixtures::run_isolated(
      [&body]() -> std::string {
        Expect expect;
        try {
          body(expect);
        } catch (const std::exception& error) {
          expect.that(false, std::string("exception: ") + error.what());
        }
        return expect.failures();
      },
      fixtures::timing::scaled(limit));
  IsolatedResult result;
  result.report = run.output;
  switch (run.status) {
    case fixtures::RunStatus::completed:
      result.verdict = run.output.empty() ? Verdict::pass : Verdict::fail;
      break;
    case fixtures::RunStatus::timeout: result.verdict = Verdict::timeout; break;
    case fixtures::RunStatus::crash: result.verdict = Verdict::crash; break;
    case fixtures::RunStatus::broken: result.verdict = Verdict::broken; break;
    case fixtures::RunStatus::exited: result.verdict = Verdict::fail; break;
  }
  if (!run.note.empty()) result.report += std::string(to_string(result.verdict)) + ": " + run.note + "\n";
  return result;
}

Deadline soon() { return Deadline::after(fixtures::timing::scaled(std::chrono::seconds(1))); }

void expect_isolated(const std::function<void(Expect&)>& body, std::chrono::milliseconds limit) {
  auto result = run_isolated(body, limit);
  fail_test_if(result.verdict, result.report);
}

namespace {

using HistoryChecker = std::function<std::vector<fixtures::Violation>(const fixtures::Scenario&,
                                                                      const fixtures::History&)>;

CaseOutcome run_case(const fixtures::Scenario& scenario, const HistoryChecker& checker,
                     const HistoryJudge& judge) {
  CaseOutcome outcome;
  if (internal::property_timed_out()) return outcome;  // a shrink step after a TIMEOUT (property.h)
  auto before = fixtures::take_snapshot();
  fixtures::RunOptions options;
  options.adapter_name = adapter_name();
  outcome.run = fixtures::run_scenario(backend(), scenario, options);
  auto leaked = fixtures::leaks(before, fixtures::take_snapshot());
  auto violations = checker(scenario, outcome.run.history);
  if (judge) {
    auto more = judge(scenario, outcome.run);
    violations.insert(violations.end(), more.begin(), more.end());
  }
  switch (outcome.run.status) {
    case fixtures::RunStatus::timeout: outcome.verdict = Verdict::timeout; break;
    case fixtures::RunStatus::crash: outcome.verdict = Verdict::crash; break;
    case fixtures::RunStatus::broken: outcome.verdict = Verdict::broken; break;
    case fixtures::RunStatus::exited: outcome.verdict = Verdict::fail; break;
    case fixtures::RunStatus::completed:
      outcome.verdict = violations.empty() && leaked.empty() ? Verdict::pass : Verdict::fail;
      break;
  }
  static const bool trace = std::getenv("IPCC_TRACE") != nullptr;
  if (trace) {
    std::printf("[ ipcc trace ] %s\n%s%s", std::string(to_string(outcome.verdict)).c_str(),
                fixtures::describe(scenario).c_str(), fixtures::format_history(outcome.run.history).c_str());
  }
  if (outcome.verdict == Verdict::pass) return outcome;
  std::string& report = outcome.report;
  if (!outcome.run.note.empty()) report += outcome.run.note + "\n";
  if (!violations.empty()) report += "violations:\n" + fixtures::format_violations(violations);
  if (!leaked.empty()) {
    report += "leaked:\n";
    for (const auto& leak : leaked) report += "  " + leak + "\n";
  }
  report += "case:\n" + fixtures::describe(scenario);
  report += "history (CLOCK_MONOTONIC, relative to the first operation):\n" +
            fixtures::format_history(outcome.run.history);
  return outcome;
}

}  // namespace

CaseOutcome run_pipe_case(const fixtures::Scenario& scenario, const HistoryJudge& judge) {
  return run_case(
      scenario,
      [](const fixtures::Scenario& s, const fixtures::History& h) { return fixtures::check_pipe_history(s, h); },
      judge);
}

CaseOutcome run_queue_case(const fixtures::Scenario& scenario, const fixtures::QueueCheckOptions& checks,
                           const HistoryJudge& judge) {
  return run_case(
      scenario,
      [&checks](const fixtures::Scenario& s, const fixtures::History& h) {
        return fixtures::check_queue_history(s, h, checks);
      },
      judge);
}

CaseOutcome run_sync_case(const fixtures::Scenario& scenario, const fixtures::SyncCheckOptions& checks,
                          const HistoryJudge& judge) {
  return run_case(
      scenario,
      [&checks](const fixtures::Scenario& s, const fixtures::History& h) {
        return fixtures::check_sync_history(s, h, checks);
      },
      judge);
}

void expect_sync_case(const fixtures::Scenario& scenario, const fixtures::SyncCheckOptions& checks,
                      const HistoryJudge& judge) {
  auto outcome = run_sync_case(scenario, checks, judge);
  fail_test_if(outcome.verdict, outcome.report);
}

void expect_pipe_case(const fixtures::Scenario& scenario, const HistoryJudge& judge) {
  auto outcome = run_pipe_case(scenario, judge);
  fail_test_if(outcome.verdict, outcome.report);
}

void expect_queue_case(const fixtures::Scenario& scenario, const fixtures::QueueCheckOptions& checks,
                       const HistoryJudge& judge) {
  auto outcome = run_queue_case(scenario, checks, judge);
  fail_test_if(outcome.verdict, outcome.report);
}

std::vector<StartMethod> supported_start_methods() {
  std::vector<StartMethod> methods;
  if (capabilities().fork) methods.push_back(StartMethod::fork);
  if (capabilities().spawn) methods.push_back(StartMethod::spawn);
  return methods;
}

namespace internal {

rc::detail::TestParams property_params(int cases) {
  auto params = rc::detail::configuration().testParams;
  const char* explicit_params = std::getenv("RC_PARAMS");
  const bool explicit_count = explicit_params && std::string(explicit_params).find("max_success") != std::string::npos;
  if (!explicit_count) {
    double scale = 1.0;
    if (const char* text = std::getenv("IPCC_PBT_SCALE")) {
      char* end = nullptr;
      double parsed = std::strtod(text, &end);
      if (end != text && *end == '\0' && parsed > 0) scale = parsed;
    }
    params.maxSuccess = std::max(1, static_cast<int>(cases * scale));
  }
  return params;
}

std::string current_test_id() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "/" + info->name();
}

void report_property_failure(const std::string& message) {
  if (noted_verdict() == Verdict::pass) note_verdict(Verdict::fail);
  ADD_FAILURE() << "adapter '" << adapter_name() << "', clause(s):"
                << [] {
                     std::string text;
                     const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
                     for (const auto& c : clauses_of(std::string(info->test_suite_name()) + "." + info->name())) {
                       text += " " + c;
                     }
                     return text;
                   }()
                << "\n" << message
                << "\nTo replay: rerun this test with the RC_PARAMS=\"reproduce=...\" line RapidCheck "
                   "prints at exit.";
}

std::map<std::string, std::pair<Verdict, std::string>>& verdict_cache() {
  static std::map<std::string, std::pair<Verdict, std::string>> cache;
  return cache;
}

}  // namespace internal
}  // namespace ipcc::conformance
