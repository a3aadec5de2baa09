// ipcc/conformance/property.h: RapidCheck properties with per-test budgets.
//
// check_property(cases, property) runs `property` under RapidCheck as the
// running GoogleTest test, with `cases` generated cases (times
// IPCC_PBT_SCALE, default 1; an explicit RC_PARAMS max_success wins). The
// test id "Suite/Name" keys RapidCheck's reproduce string, so
//   RC_PARAMS="reproduce=..." ./ipcc_conformance_reference --gtest_filter=Suite.Name
// replays a printed failure.
//
// A property whose case timed out is not shrunk: every shrink step would wait
// out the case deadline again (tens of seconds each, against an adapter that
// never wakes a reader). Once a case of the running property reported
// TIMEOUT, run_*_case and run_isolated skip further cases (as passing, so
// RapidCheck keeps the case that timed out), and the report is that case's.
//
// Multi-process cases are not always deterministic, and RapidCheck re-runs
// the minimal case once more to print it; a verdict cache keyed by the
// printed case makes that re-run report the failure actually observed (with
// its history) instead of "no exceptions thrown".
//
// This header is the only place that uses rapidcheck::detail.
#ifndef IPCC_CONFORMANCE_PROPERTY_H_
#define IPCC_CONFORMANCE_PROPERTY_H_

#include <cstdint>

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <map>
#include <sstream>
#include <string>

#include "ipcc/conformance/suite.h"

namespace ipcc::conformance {

namespace internal {
rc::detail::TestParams property_params(int cases);
std::string current_test_id();
void report_property_failure(const std::string& message);
// Remembers failure reports by printed case, per test.
std::map<std::string, std::pair<Verdict, std::string>>& verdict_cache();
// True once a case of the running property timed out (see above).
bool& property_timed_out();
}  // namespace internal

// Fails the running RapidCheck case with `outcome`'s report (and remembers it
// for RapidCheck's final re-run of the minimal case).
template <typename Case>
void fail_case_if(const Case& generated, Verdict verdict, const std::string& report) {
  if (verdict == Verdict::pass) return;
  set_case_verdict(verdict);
  if (verdict == Verdict::timeout) internal::property_timed_out() = true;
  std::ostringstream key;
  rc::show(generated, key);
  const std::string text = std::string(to_string(verdict)) + " on adapter '" + adapter_name() + "'\n" + report;
  internal::verdict_cache()[key.str()] = {verdict, text};
  RC_FAIL(text);
}
template <typename Case>
void fail_case_if(const Case& generated, const CaseOutcome& outcome) {
  fail_case_if(generated, outcome.verdict, outcome.report);
}
template <typename Case>
void fail_case_if(const Case& generated, const IsolatedResult& result) {
  fail_case_if(generated, result.verdict, result.report);
}

// Replays a remembered failure for an identical case, if any.
template <typename Case>
void replay_cached_failure(const Case& generated) {
  std::ostringstream key;
  rc::show(generated, key);
  auto& cache = internal::verdict_cache();
  if (auto it = cache.find(key.str()); it != cache.end()) {
    set_case_verdict(it->second.first);
    RC_FAIL(it->second.second);
  }
}

template <typename Property>
void check_property(int cases, Property&& property) {
  internal::verdict_cache().clear();
  internal::property_timed_out() = false;
  rc::detail::TestMetadata metadata;
  metadata.id = internal::current_test_id();
  metadata.description = metadata.id;
  const auto result = rc::detail::checkTestable(std::forward<Property>(property), metadata,
                                                internal::property_params(cases));
  internal::property_timed_out() = false;
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream text;
    rc::detail::printResultMessage(result, text);
    internal::report_property_failure(text.str());
  }
}

}  // namespace ipcc::conformance

#endif  // IPCC_CONFORMANCE_PROPERTY_H_
