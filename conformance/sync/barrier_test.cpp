// Barrier conformance (spec/barrier.md): the parties argument, the indices
// of one generation, consecutive generations, a wait that expires breaking
// the barrier, abort, and reset.
#include <algorithm>
#include <limits>
#include <set>

#include "sync_support.h"

namespace ipcc::conformance::sync {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

Scenario barrier_scenario(std::int64_t parties, StartMethod start, std::vector<std::vector<Op>> processes) {
  SyncSubject sync;
  sync.barrier.parties = parties;
  return sync_scenario(SubjectKind::barrier, sync, start, std::move(processes));
}

std::uint32_t push(std::vector<Op>& ops, Op op) {
  ops.push_back(op);
  return static_cast<std::uint32_t>(ops.size() - 1);
}

std::string us_text(std::int64_t ns) { return std::to_string(ns / 1000) + " us"; }

std::string wait_text(std::int64_t wait_ns) {
  if (wait_ns == kNoLimit) return "wait()";
  return "wait(" + std::to_string(wait_ns / 1'000'000) + " ms)";
}

// A wait that must report broken promptly: within the loose bound of an
// immediate return, measured from `since` (its own invocation when 0).
std::vector<Violation> expect_broken_promptly(const std::optional<Record>& record, std::int64_t since,
                                              const std::string& clause, const std::string& what) {
  auto v = expect_outcome(record, errc::broken, clause, what);
  if (!v.empty()) return v;
  Record measured = *record;
  if (since != 0) measured.t_invoke = std::max(since, record->t_invoke);
  return expect_prompt(measured, 0, clause, what);
}

// The indices of one generation: each wait ok, indices distinct and in
// [0, parties), and none returned before the last party's wait was invoked.
std::vector<Violation> expect_generation(const RunResult& run, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& waits,
                                         std::int64_t parties, const std::string& clause, const std::string& generation) {
  std::vector<Violation> v;
  std::vector<Record> done;
  for (auto [p, op] : waits) {
    const auto record = first_record(run, p, op);
    auto outcome = expect_outcome(record, errc::ok, clause, generation + ": p" + std::to_string(p) + "'s wait");
    if (!outcome.empty()) {
      v = merge(v, outcome);
      continue;
    }
    done.push_back(*record);
  }
  std::set<std::int64_t> indices;
  for (const auto& r : done) {
    if (r.value < 0 || r.value >= parties) {
      v.push_back({clause, generation + ": p" + std::to_string(r.process) + "'s wait returned index " + std::to_string(r.value) +
                               ", outside [0, " + std::to_string(parties) + ")"});
    } else if (!indices.insert(r.value).second) {
      v.push_back({clause, generation + ": index " + std::to_string(r.value) + " returned to more than one party"});
    }
  }
  if (done.size() != waits.size()) return v;
  const auto last = std::max_element(done.begin(), done.end(),
                                     [](const Record& a, const Record& b) { return a.t_invoke < b.t_invoke; });
  for (const auto& r : done) {
    if (r.t_complete < last->t_invoke) {
      v.push_back({clause, generation + ": p" + std::to_string(r.process) + "'s wait returned " +
                               us_text(last->t_invoke - r.t_complete) + " before the last party (p" +
                               std::to_string(last->process) + ") called wait"});
    }
  }
  return v;
}

}  // namespace

// parties < 1 is refused at creation; a Barrier(1) lets every wait through
// at once with index 0, in any process.
IPCC_CONFORMANCE_TEST(SyncConformance, BarrierInvalidParties, "barrier.create.invalid-parties") {
  IPCC_REQUIRE(capabilities().sync.barrier, "barrier");
  const std::string clause = "barrier.create.invalid-parties";
  expect_isolated([](Expect& expect) {
    for (std::int64_t parties : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{-2},
                                 std::int64_t{std::numeric_limits<std::int32_t>::min()},
                                 std::numeric_limits<std::int64_t>::min()}) {
      expect.outcome(backend().make_barrier({parties}), errc::invalid_argument,
                     "make_barrier(" + std::to_string(parties) + ")");
    }
    auto barrier = make_barrier_or_note(expect, {1});
    if (!barrier) return;
    expect.that(barrier->parties() == 1, "parties() of Barrier(1)");
    for (int i = 0; i < 3; ++i) {
      const std::string what = "Barrier(1) wait #" + std::to_string(i + 1);
      auto [index, took] = timed([&] { return barrier->wait(soon()); });
      expect.that(index && *index == 0, what + " returns index 0");
      expect.that(took <= fixtures::timing::upper_bound(nanoseconds(0)), what + " returns at once");
      auto now = barrier->wait(Deadline::now());
      expect.that(now && *now == 0, what + ": wait(0) returns index 0 (the one party arrived)");
    }
    auto broken = barrier->broken();
    expect.that(broken && !*broken, "Barrier(1) is not broken after its waits");
  });
  for (auto start : supported_start_methods()) {
    SCOPED_TRACE(std::string(fixtures::to_string(start)));
    auto scenario = barrier_scenario(1, start, {{wait(long_wait()), wait(0), wait(long_wait()), call(OpKind::broken)}});
    expect_sync_case(scenario, checks_for(scenario), [clause](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (std::uint32_t i = 0; i < 3; ++i) {
        const std::string what = "Barrier(1) wait #" + std::to_string(i + 1) + " in another process";
        v = merge(v, expect_value(first_record(run, 0, i), 0, clause, what));
        v = merge(v, expect_prompt(first_record(run, 0, i), 0, clause, what));
      }
      return merge(v, expect_value(first_record(run, 0, 3), 0, clause, "broken() of Barrier(1) after its waits"));
    });
  }
}

// n parties (1 to 6 processes) meet: every wait returns a distinct index in
// [0, n), none before the n-th party called wait; with the first n-1
// parties seen blocked first, n_waiting() is n-1 just before the last
// arrives, and the last arrival passes whatever its deadline (try-once
// included).
IPCC_CONFORMANCE_TEST(SyncConformance, BarrierIndices, "barrier.wait.indices") {
  IPCC_REQUIRE(capabilities().sync.barrier, "barrier");
  const std::string clause = "barrier.wait.indices";
  check_property(12, [clause] {
    const auto start = *start_method_choice();
    const auto n = *any_in_range(1, 7);
    const bool gated = n > 1 && *rc::gen::arbitrary<bool>();
    std::vector<std::vector<Op>> plans;
    for (int p = 0; p < n; ++p) plans.push_back({wait(long_wait(), *rc::gen::inRange<std::uint32_t>(0, 20000))});
    // Gated: the last party waits at a gate until the others are blocked,
    // then reads n_waiting and arrives.
    std::uint32_t last_wait = 0;
    if (gated) {
      // The last arrival completes the generation without waiting, so even
      // a try-once or short deadline lets it through.
      const auto last_deadline = *rc::gen::element<std::int64_t>(long_wait(), 0, -ms(1), ms(20));
      plans.back() = {wait_gate(), call(OpKind::n_waiting), wait(last_deadline)};
      last_wait = 2;
    }
    for (auto& ops : plans) ops.push_back(call(OpKind::broken));
    auto scenario = barrier_scenario(n, start, std::move(plans));
    if (gated) {
      for (int p = 0; p + 1 < n; ++p) scenario.control.push_back(step(ControlKind::await_blocked, p, 0));
      scenario.control.push_back(step(ControlKind::open_gate, n - 1));
    }
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      std::vector<std::pair<std::uint32_t, std::uint32_t>> waits;
      for (int p = 0; p < n; ++p) waits.emplace_back(p, p == n - 1 ? last_wait : 0);
      auto v = expect_generation(run, waits, n, clause, "Barrier(" + std::to_string(n) + ")");
      if (gated) {
        v = merge(v, expect_value(first_record(run, n - 1, 1), n - 1, clause,
                                  "n_waiting() with the other " + std::to_string(n - 1) + " parties blocked in wait"));
      }
      for (auto [p, op] : waits) {
        v = merge(v, expect_value(first_record(run, p, op + 1), 0, clause,
                                  "p" + std::to_string(p) + "'s broken() after the generation completed"));
      }
      return v;
    }));
  });
}

// n processes (1 to 6) pass a Barrier(n) g times (2 to 4) in a row: every
// generation completes with its own distinct indices, and no wait of a
// generation returns before its last party arrived.
IPCC_CONFORMANCE_TEST(SyncConformance, BarrierReusable, "barrier.wait.reusable") {
  IPCC_REQUIRE(capabilities().sync.barrier, "barrier");
  const std::string clause = "barrier.wait.reusable";
  check_property(10, [clause] {
    const auto start = *start_method_choice();
    const auto n = *any_in_range(1, 7);
    const auto g = *any_in_range(2, 5);
    std::vector<std::vector<Op>> plans(n);
    for (auto& ops : plans) {
      for (int i = 0; i < g; ++i) {
        ops.push_back(wait(long_wait(), *rc::gen::oneOf(rc::gen::just<std::uint32_t>(0), rc::gen::inRange<std::uint32_t>(0, 5000))));
      }
      ops.push_back(call(OpKind::broken));
      ops.push_back(call(OpKind::n_waiting));
    }
    auto scenario = barrier_scenario(n, start, std::move(plans));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (int i = 0; i < g; ++i) {
        std::vector<std::pair<std::uint32_t, std::uint32_t>> waits;
        for (int p = 0; p < n; ++p) waits.emplace_back(p, i);
        v = merge(v, expect_generation(run, waits, n, clause, "generation " + std::to_string(i + 1) + " of Barrier(" + std::to_string(n) + ")"));
      }
      for (int p = 0; p < n; ++p) {
        const std::string who = "p" + std::to_string(p);
        v = merge(v, expect_value(first_record(run, p, g), 0, clause, who + "'s broken() after " + std::to_string(g) + " generations"));
        v = merge(v, expect_value(first_record(run, p, g + 1), 0, clause, who + "'s n_waiting() after the last generation"));
      }
      return v;
    }));
  });
}

// k parties (0 to 4) blocked with long deadlines, then one wait(t) that
// expires: it reports broken no earlier than t; the blocked ones report
// broken promptly once it expired (long before their own deadlines); the
// barrier is then broken() and later waits report broken at once.
IPCC_CONFORMANCE_TEST(SyncConformance, BarrierTimeoutBreaks, "barrier.wait.timeout-breaks") {
  IPCC_REQUIRE(capabilities().sync.barrier, "barrier");
  const std::string clause = "barrier.wait.timeout-breaks";
  check_property(10, [clause] {
    const auto start = *start_method_choice();
    const auto k = *any_in_range(0, 5);
    const auto extra = *any_in_range(1, 3);
    const std::int64_t parties = k + 1 + extra;  // never complete
    const auto t = *rc::gen::oneOf(rc::gen::element<std::int64_t>(0, -ms(1)),
                                   rc::gen::map(any_in_range<std::int64_t>(10, 201), [](std::int64_t m) { return ms(m); }));
    const bool late_elsewhere = *rc::gen::arbitrary<bool>();
    std::vector<std::vector<Op>> plans;
    for (int w = 0; w < k; ++w) plans.push_back({wait(long_wait())});
    // The timed waiter, then its later calls.
    plans.push_back({wait_gate(), wait(t), call(OpKind::broken), wait(0), wait(long_wait())});
    const auto timed_p = static_cast<std::uint32_t>(k);
    if (late_elsewhere) plans.push_back({wait_gate(), call(OpKind::broken), wait(long_wait())});
    auto scenario = barrier_scenario(parties, start, std::move(plans));
    for (int w = 0; w < k; ++w) scenario.control.push_back(step(ControlKind::await_blocked, w, 0));
    scenario.control.push_back(step(ControlKind::open_gate, timed_p));
    if (late_elsewhere) {
      scenario.control.push_back(step(ControlKind::await_completed, timed_p, 1));
      scenario.control.push_back(step(ControlKind::open_gate, timed_p + 1));
    }
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      const auto expired = first_record(run, timed_p, 1);
      auto v = expect_outcome(expired, errc::broken, clause, wait_text(t) + " of Barrier(" + std::to_string(parties) +
                                                                  ") with " + std::to_string(k) + " others waiting");
      if (!v.empty()) return v;
      const auto took = expired->t_complete - expired->t_invoke;
      if (t > 0 && took < t - fixtures::timing::kClockSlack.count()) {
        v.push_back({clause, wait_text(t) + " reported broken after " + us_text(took) + ", before its " + us_text(t)});
      }
      v = merge(v, expect_prompt(expired, std::max<std::int64_t>(t, 0), clause, wait_text(t) + " that expired"));
      // The moment the barrier broke: the timed wait's deadline.
      const auto broke_at = expired->t_invoke + std::max<std::int64_t>(t, 0);
      for (int w = 0; w < k; ++w) {
        const auto record = first_record(run, w, 0);
        const std::string what = "waiter " + std::to_string(w) + "'s " + wait_text(long_wait()) + " when another wait expired";
        v = merge(v, expect_broken_promptly(record, broke_at, clause, what));
        if (record && record->completed && record->t_complete < broke_at - fixtures::timing::kClockSlack.count()) {
          v.push_back({clause, what + " returned " + us_text(broke_at - record->t_complete) + " before that wait expired"});
        }
      }
      v = merge(v, expect_value(first_record(run, timed_p, 2), 1, clause, "broken() after the wait expired"));
      v = merge(v, expect_broken_promptly(first_record(run, timed_p, 3), 0, clause, "a later wait(0)"));
      v = merge(v, expect_broken_promptly(first_record(run, timed_p, 4), 0, clause, "a later " + wait_text(long_wait())));
      if (late_elsewhere) {
        v = merge(v, expect_value(first_record(run, timed_p + 1, 1), 1, clause, "broken() in another process"));
        v = merge(v, expect_broken_promptly(first_record(run, timed_p + 1, 2), 0, clause,
                                            "a later " + wait_text(long_wait()) + " in another process"));
      }
      return v;
    }));
  });
}

// abort() from another process: the k waiters blocked then (0 to 4) report
// broken promptly; broken() is true; later waits report broken at once,
// even one that would complete the generation.
IPCC_CONFORMANCE_TEST(SyncConformance, BarrierAbort, "barrier.abort.breaks") {
  IPCC_REQUIRE(capabilities().sync.barrier, "barrier");
  const std::string clause = "barrier.abort.breaks";
  check_property(10, [clause] {
    const auto start = *start_method_choice();
    const auto k = *any_in_range(0, 5);
    const auto extra = *any_in_range(0, 3);
    // With extra == 0 the aborter's own later wait would be the last party.
    const std::int64_t parties = k + 1 + extra;
    const auto aborts = *any_in_range(1, 3);
    std::vector<std::vector<Op>> plans;
    for (int w = 0; w < k; ++w) plans.push_back({wait(long_wait())});
    std::vector<Op> aborter = {wait_gate()};
    for (int i = 0; i < aborts; ++i) aborter.push_back(call(OpKind::abort));
    const auto broken_at = push(aborter, call(OpKind::broken));
    const auto wait_at = push(aborter, wait(long_wait()));
    push(aborter, wait(0));
    plans.push_back(aborter);
    const auto aborter_p = static_cast<std::uint32_t>(k);
    plans.push_back({wait_gate(), call(OpKind::broken), wait(long_wait())});  // a late process
    auto scenario = barrier_scenario(parties, start, std::move(plans));
    for (int w = 0; w < k; ++w) scenario.control.push_back(step(ControlKind::await_blocked, w, 0));
    scenario.control.push_back(step(ControlKind::open_gate, aborter_p));
    scenario.control.push_back(step(ControlKind::await_completed, aborter_p, static_cast<std::uint32_t>(aborts)));
    scenario.control.push_back(step(ControlKind::open_gate, aborter_p + 1));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (int i = 0; i < aborts; ++i) {
        v = merge(v, expect_outcome(first_record(run, aborter_p, 1 + i), errc::ok, clause, "abort() #" + std::to_string(i + 1)));
      }
      if (!v.empty()) return v;
      const auto aborted = first_record(run, aborter_p, 1);
      for (int w = 0; w < k; ++w) {
        const auto record = first_record(run, w, 0);
        const std::string what = "waiter " + std::to_string(w) + "'s " + wait_text(long_wait()) + " blocked at abort()";
        v = merge(v, expect_broken_promptly(record, aborted->t_invoke, clause, what));
        if (record && record->completed && record->t_complete < aborted->t_invoke) {
          v.push_back({clause, what + " returned " + us_text(aborted->t_invoke - record->t_complete) + " before abort() was called"});
        }
      }
      v = merge(v, expect_value(first_record(run, aborter_p, broken_at), 1, clause, "broken() after abort()"));
      v = merge(v, expect_broken_promptly(first_record(run, aborter_p, wait_at), 0, clause,
                                          "a later " + wait_text(long_wait()) + (extra == 0 ? " (the last party of the generation)" : "")));
      v = merge(v, expect_broken_promptly(first_record(run, aborter_p, wait_at + 1), 0, clause, "a later wait(0)"));
      v = merge(v, expect_value(first_record(run, aborter_p + 1, 1), 1, clause, "broken() after abort() in another process"));
      return merge(v, expect_broken_promptly(first_record(run, aborter_p + 1, 2), 0, clause,
                                             "a later " + wait_text(long_wait()) + " in another process"));
    }));
  });
}

// reset(): waiters blocked during it report broken; after it (also after an
// abort or an expired wait broke the barrier) broken() is false and a full
// set of n parties completes a new generation.
IPCC_CONFORMANCE_TEST(SyncConformance, BarrierReset, "barrier.reset.restores") {
  IPCC_REQUIRE(capabilities().sync.barrier, "barrier");
  const std::string clause = "barrier.reset.restores";
  enum class Before { nothing, abort, expired_wait };
  check_property(10, [clause] {
    const auto start = *start_method_choice();
    const auto before = *rc::gen::element(Before::nothing, Before::abort, Before::expired_wait);
    // An expired wait needs a generation it cannot complete: k + 1 < n.
    const bool expiring = before == Before::expired_wait;
    const auto n = *any_in_range(expiring ? 2 : 1, 5);
    const auto k = *any_in_range(0, expiring ? n - 1 : n);
    const auto t = ms(*any_in_range<std::int64_t>(1, 51));
    const auto resets = *any_in_range(1, 3);
    // k waiters blocked, the resetter, and n - k - 1 fresh parties for the
    // new generation.
    std::vector<std::vector<Op>> plans;
    for (int w = 0; w < k; ++w) plans.push_back({wait(long_wait()), wait_gate(), wait(long_wait())});
    std::vector<Op> resetter = {wait_gate()};
    std::uint32_t before_at = 0;
    if (before == Before::abort) before_at = push(resetter, call(OpKind::abort));
    if (before == Before::expired_wait) before_at = push(resetter, wait(t));
    const auto reset_at = push(resetter, call(OpKind::reset));
    for (int i = 1; i < resets; ++i) push(resetter, call(OpKind::reset));
    const auto broken_at = push(resetter, call(OpKind::broken));
    push(resetter, wait_gate());
    const auto resetter_wait = push(resetter, wait(long_wait()));
    const auto resetter_p = static_cast<std::uint32_t>(k);
    plans.push_back(resetter);
    for (int f = k + 1; f < n; ++f) plans.push_back({wait_gate(), wait(long_wait())});
    auto scenario = barrier_scenario(n, start, std::move(plans));
    auto& control = scenario.control;
    for (int w = 0; w < k; ++w) control.push_back(step(ControlKind::await_blocked, w, 0));
    control.push_back(step(ControlKind::open_gate, resetter_p));
    control.push_back(step(ControlKind::await_completed, resetter_p, broken_at));
    for (int w = 0; w < k; ++w) control.push_back(step(ControlKind::await_invoked, w, 1));
    for (int p = 0; p < n; ++p) control.push_back(step(ControlKind::open_gate, p));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      if (before == Before::abort) v = expect_outcome(first_record(run, resetter_p, before_at), errc::ok, clause, "abort()");
      if (before == Before::expired_wait) {
        v = expect_outcome(first_record(run, resetter_p, before_at), errc::broken, clause, wait_text(t) + " that expired");
      }
      for (int i = 0; i < resets; ++i) {
        v = merge(v, expect_outcome(first_record(run, resetter_p, reset_at + i), errc::ok, clause, "reset() #" + std::to_string(i + 1)));
      }
      if (!v.empty()) return v;
      const auto reset = first_record(run, resetter_p, reset_at);
      const auto broke = before == Before::nothing ? reset : first_record(run, resetter_p, before_at);
      const auto broke_at = before == Before::expired_wait ? broke->t_invoke + t : broke->t_invoke;
      for (int w = 0; w < k; ++w) {
        const auto record = first_record(run, w, 0);
        const std::string what = "waiter " + std::to_string(w) + "'s " + wait_text(long_wait()) + " blocked when the barrier was " +
                                 (before == Before::nothing ? "reset" : before == Before::abort ? "aborted" : "broken by an expired wait");
        v = merge(v, expect_broken_promptly(record, broke_at, clause, what));
        if (record && record->completed && record->t_complete < broke_at - fixtures::timing::kClockSlack.count()) {
          v.push_back({clause, what + " returned " + us_text(broke_at - record->t_complete) + " before that"});
        }
      }
      v = merge(v, expect_value(first_record(run, resetter_p, broken_at), 0, clause, "broken() after reset()"));
      std::vector<std::pair<std::uint32_t, std::uint32_t>> waits;
      for (int w = 0; w < k; ++w) waits.emplace_back(w, 2);
      waits.emplace_back(resetter_p, resetter_wait);
      for (int f = k + 1; f < n; ++f) waits.emplace_back(f, 1);
      return merge(v, expect_generation(run, waits, n, clause,
                                        "the generation after reset() of Barrier(" + std::to_string(n) + ")"));
    }));
  });
}

}  // namespace ipcc::conformance::sync
