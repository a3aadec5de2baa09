// Event conformance (spec/event.md): the initial state, set/clear/is_set
// across processes, timed waits, waking every waiter, and generated
// set/clear/wait interleavings judged as a register with blocking reads.
#include "sync_support.h"

namespace ipcc::conformance::sync {
namespace {

Scenario event_scenario(StartMethod start, std::vector<std::vector<Op>> processes) {
  return sync_scenario(SubjectKind::event, {}, start, std::move(processes));
}

rc::Gen<std::int64_t> short_wait() {
  return rc::gen::oneOf(rc::gen::element<std::int64_t>(0, -ms(1)),
                        rc::gen::map(any_in_range<std::int64_t>(1, 80), [](std::int64_t m) { return ms(m); }));
}

}  // namespace

// A new Event is unset, in every process: is_set() is false and
// wait(block=False) returns false at once.
IPCC_CONFORMANCE_TEST(SyncConformance, EventCreatedUnset, "event.create.unset") {
  IPCC_REQUIRE(capabilities().sync.event, "event");
  expect_isolated([](Expect& expect) {
    auto event = make_event_or_note(expect);
    if (!event) return;
    auto set = event->is_set();
    expect.that(set && !*set, "is_set() of a new Event");
    auto [waited, took] = timed([&] { return event->wait(Deadline::now()); });
    expect.that(waited && !*waited, "wait(0) of a new Event returns false");
    expect_duration(expect, took, std::chrono::nanoseconds(0), "wait(0) of a new Event");
  });
  for (auto start : supported_start_methods()) {
    SCOPED_TRACE(std::string(to_string(start)));
    auto scenario = event_scenario(start, {{call(OpKind::is_set), wait(0)}});
    expect_sync_case(scenario, checks_for(scenario), [](const Scenario&, const RunResult& run) {
      auto v = expect_value(first_record(run, 0, 0), 0, "event.create.unset", "is_set() of a new Event in another process");
      v = merge(v, expect_value(first_record(run, 0, 1), 0, "event.create.unset", "wait(0) of a new Event in another process"));
      return merge(v, expect_prompt(first_record(run, 0, 1), 0, "event.create.unset", "wait(0)"));
    });
  }
}

// set() is seen by every process, clear() too; both are idempotent.
IPCC_CONFORMANCE_TEST(SyncConformance, EventSetClearVisible, "event.set.is-set") {
  IPCC_REQUIRE(capabilities().sync.event, "event");
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto observers = *any_in_range(1, 5);
    const auto sets = *any_in_range(1, 3);
    const auto clears = *any_in_range(1, 3);
    // p0: set (x sets), gate, clear (x clears), gate. Observers: gate, is_set,
    // wait(0), gate, is_set.
    std::vector<Op> writer;
    for (int i = 0; i < sets; ++i) writer.push_back(call(OpKind::set));
    writer.push_back(wait_gate());
    for (int i = 0; i < clears; ++i) writer.push_back(call(OpKind::clear));
    std::vector<std::vector<Op>> plans = {writer};
    for (int o = 0; o < observers; ++o) {
      plans.push_back({wait_gate(), call(OpKind::is_set), wait(0), wait_gate(), call(OpKind::is_set), wait(0)});
    }
    auto scenario = event_scenario(start, std::move(plans));
    scenario.control.push_back(step(ControlKind::await_invoked, 0, static_cast<std::uint32_t>(sets)));
    for (int o = 1; o <= observers; ++o) scenario.control.push_back(step(ControlKind::open_gate, o));
    for (int o = 1; o <= observers; ++o) scenario.control.push_back(step(ControlKind::await_invoked, o, 3));
    scenario.control.push_back(step(ControlKind::open_gate, 0));
    scenario.control.push_back(step(ControlKind::await_exit, 0));
    for (int o = 1; o <= observers; ++o) scenario.control.push_back(step(ControlKind::open_gate, o));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [observers](const Scenario&, const RunResult& run) {
      const std::string clause = "event.set.is-set";
      std::vector<Violation> v;
      for (int o = 1; o <= observers; ++o) {
        const std::string who = "process " + std::to_string(o);
        v = merge(v, expect_value(first_record(run, o, 1), 1, clause, who + ": is_set() after set()"));
        v = merge(v, expect_value(first_record(run, o, 2), 1, clause, who + ": wait(0) after set()"));
        v = merge(v, expect_value(first_record(run, o, 4), 0, clause, who + ": is_set() after clear()"));
        v = merge(v, expect_value(first_record(run, o, 5), 0, clause, who + ": wait(0) after clear()"));
      }
      return v;
    }));
  });
}

// wait(t) on an unset Event returns false no earlier than t; wait(0) and a
// negative timeout return false at once.
IPCC_CONFORMANCE_TEST(SyncConformance, EventWaitTimeout, "event.wait.timeout") {
  IPCC_REQUIRE(capabilities().sync.event, "event");
  check_property(10, [] {
    const auto start = *start_method_choice();
    // Always one try-once wait and one positive one, then any.
    auto waits = std::vector<std::int64_t>{*try_once_wait(), *positive_wait()};
    const auto more = *rc::gen::container<std::vector<std::int64_t>>(*any_in_range<std::size_t>(0, 3), short_wait());
    waits.insert(waits.end(), more.begin(), more.end());
    std::vector<Op> ops;
    for (auto w : waits) ops.push_back(wait(w));
    auto scenario = event_scenario(start, {ops});
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [waits](const Scenario&, const RunResult& run) {
      const std::string clause = "event.wait.timeout";
      std::vector<Violation> v;
      for (std::uint32_t i = 0; i < waits.size(); ++i) {
        const auto record = first_record(run, 0, i);
        const std::string what = "wait(" + std::to_string(waits[i] / 1'000'000) + " ms) on an unset Event";
        v = merge(v, expect_value(record, 0, clause, what));
        if (record && record->completed && waits[i] > 0 &&
            record->t_complete - record->t_invoke < waits[i] - fixtures::timing::kClockSlack.count()) {
          v.push_back({clause, what + " returned early"});
        }
        v = merge(v, expect_prompt(record, std::max<std::int64_t>(waits[i], 0), clause, what));
      }
      return v;
    }));
  });
}

// wait on a set Event returns true at once, whatever its timeout.
IPCC_CONFORMANCE_TEST(SyncConformance, EventWaitWhenSet, "event.wait.already-set") {
  IPCC_REQUIRE(capabilities().sync.event, "event");
  for (auto start : supported_start_methods()) {
    SCOPED_TRACE(std::string(to_string(start)));
    const std::vector<std::int64_t> waits = {0, -ms(1), ms(200), kNoLimit};
    std::vector<Op> waiter = {wait_gate()};
    for (auto w : waits) waiter.push_back(wait(w));
    auto scenario = event_scenario(start, {{call(OpKind::set)}, waiter});
    scenario.control = {step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1)};
    expect_sync_case(scenario, checks_for(scenario), [waits](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (std::uint32_t i = 0; i < waits.size(); ++i) {
        const auto record = first_record(run, 1, i + 1);
        const std::string what = "wait #" + std::to_string(i + 1) + " on a set Event";
        v = merge(v, expect_value(record, 1, "event.wait.already-set", what));
        v = merge(v, expect_prompt(record, 0, "event.wait.already-set", what));
      }
      return v;
    });
  }
}

// One set() from another process wakes every waiting process with true.
IPCC_CONFORMANCE_TEST(SyncConformance, EventSetWakesAll, "event.set.wakes-all") {
  IPCC_REQUIRE(capabilities().sync.event, "event");
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto waiters = *any_in_range(1, 6);
    const bool unlimited = *rc::gen::arbitrary<bool>();
    std::vector<std::vector<Op>> plans = {{wait_gate(), call(OpKind::set)}};
    for (int w = 0; w < waiters; ++w) plans.push_back({wait(unlimited ? kNoLimit : long_wait())});
    auto scenario = event_scenario(start, std::move(plans));
    for (int w = 1; w <= waiters; ++w) scenario.control.push_back(step(ControlKind::await_blocked, w, 0));
    scenario.control.push_back(step(ControlKind::open_gate, 0));
    for (int w = 1; w <= waiters; ++w) scenario.control.push_back(step(ControlKind::await_completed, w, 0));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [waiters](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (int w = 1; w <= waiters; ++w) {
        const std::string what = "waiter " + std::to_string(w) + " blocked in wait when set() was called";
        v = merge(v, expect_value(first_record(run, w, 0), 1, "event.set.wakes-all", what));
        v = merge(v, expect_woken_by(first_record(run, w, 0), first_record(run, 0, 1), "event.set.wakes-all", what));
      }
      return v;
    }));
  });
}

// Generated interleavings of set, clear, is_set and timed waits in 2 to 5
// processes: every answer is explained by some real-time order of the set
// and clear calls, and no wait that was waiting when a set completed misses
// it unless a clear may have come between.
IPCC_CONFORMANCE_TEST(SyncConformance, EventNoLostWakeup, "event.wait.no-lost-wakeup") {
  IPCC_REQUIRE(capabilities().sync.event, "event");
  // A pulse: waiters are seen blocked, then another process sets and at once
  // clears the event. Every waiter was waiting when the set happened, so
  // every wait returns true (threading.Event's promise; CPython's
  // multiprocessing.Event re-reads the flag and may return false).
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto waiters = *any_in_range(1, 5);
    const auto pulses = *any_in_range(1, 3);
    std::vector<Op> pulser = {wait_gate()};
    for (int i = 0; i < pulses; ++i) {
      pulser.push_back(call(OpKind::set));
      pulser.push_back(call(OpKind::clear));
    }
    std::vector<std::vector<Op>> plans = {pulser};
    for (int w = 0; w < waiters; ++w) plans.push_back({wait(long_wait())});
    auto scenario = event_scenario(start, std::move(plans));
    for (int w = 1; w <= waiters; ++w) scenario.control.push_back(step(ControlKind::await_blocked, w, 0));
    scenario.control.push_back(step(ControlKind::open_gate, 0));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [waiters](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (int w = 1; w <= waiters; ++w) {
        v = merge(v, expect_value(first_record(run, w, 0), 1, "event.wait.no-lost-wakeup",
                                  "waiter " + std::to_string(w) + ", seen blocked before a set that a clear followed at once"));
      }
      return v;
    }));
  });
  // A race: a waiter starts a timed wait while another process sets the
  // event a few milliseconds later, with no clear: the wait returns true.
  check_property(10, [] {
    const auto start = *start_method_choice();
    const auto wait_ns = ms(*any_in_range<std::int64_t>(10, 41));
    const auto set_delay_us = *any_in_range<std::uint32_t>(0, 9) * 1000;
    auto scenario = event_scenario(start, {{wait(wait_ns)}, {call(OpKind::set, set_delay_us)}});
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [wait_ns](const Scenario&, const RunResult& run) {
      const auto waited = first_record(run, 0, 0);
      const auto set = first_record(run, 1, 0);
      if (!waited || !set || !set->completed ||
          set->t_complete >= waited->t_invoke + wait_ns - fixtures::timing::kClockSlack.count()) {
        return std::vector<Violation>{};  // the set came too late to count
      }
      return expect_value(waited, 1, "event.wait.no-lost-wakeup", "a wait during which another process set the event");
    }));
  });
  check_property(20, [] {
    const auto start = *start_method_choice();
    const auto processes = *any_in_range(2, 6);
    std::vector<std::vector<Op>> plans(processes);
    for (auto& ops : plans) {
      const auto count = *any_in_range(1, 7);
      for (int i = 0; i < count; ++i) {
        const auto delay = *rc::gen::oneOf(rc::gen::just<std::uint32_t>(0), rc::gen::inRange<std::uint32_t>(0, 3000));
        switch (*any_in_range(0, 6)) {  // waits are 2 in 6
          case 0: ops.push_back(call(OpKind::set, delay)); break;
          case 1: ops.push_back(call(OpKind::clear, delay)); break;
          case 2:  // a pulse: set then clear at once
            ops.push_back(call(OpKind::set, delay));
            ops.push_back(call(OpKind::clear));
            break;
          case 3: ops.push_back(call(OpKind::is_set, delay)); break;
          default:
            ops.push_back(wait(*rc::gen::map(any_in_range<std::int64_t>(0, 30), [](std::int64_t m) { return ms(m); }), delay));
        }
      }
    }
    auto scenario = event_scenario(start, std::move(plans));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario)));
  });
}

}  // namespace ipcc::conformance::sync
