// Semaphore and BoundedSemaphore conformance (spec/semaphore.md): initial
// and invalid values, the holder bound across processes, timeouts, release
// rules and get_value.
#include <limits>

#include "sync_support.h"

namespace ipcc::conformance::sync {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

const std::vector<SemaphoreKind> kBothKinds = {SemaphoreKind::semaphore, SemaphoreKind::bounded_semaphore};

// get_value's record: the value, or `unsupported` when the adapter declares
// get_value unsupported.
std::vector<Violation> expect_get_value(const std::optional<Record>& record, std::int64_t value, const std::string& clause,
                                        const std::string& what) {
  if (!capabilities().sync.get_value) {
    return expect_outcome(record, errc::unsupported, "semaphore.get-value.tracks",
                          what + " (get_value declared unsupported)");
  }
  return expect_value(record, value, clause, what);
}

}  // namespace

// Semaphore(n) and BoundedSemaphore(n) admit exactly n acquires, in any
// process, and get_value() starts at n.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreInitialValue, "semaphore.create.initial-value") {
  IPCC_REQUIRE(!supported_semaphore_kinds().empty(), "semaphore or bounded_semaphore");
  check_property(10, [] {
    const auto kind = *semaphore_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto n = *any_in_range<std::int64_t>(0, 9);
    std::vector<Op> ops = {call(OpKind::get_value)};
    for (std::int64_t i = 0; i <= n; ++i) ops.push_back(acquire(0));
    ops.push_back(call(OpKind::get_value));
    auto scenario = semaphore_scenario({kind, n}, start, {ops});
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [n](const Scenario&, const RunResult& run) {
      const std::string clause = "semaphore.create.initial-value";
      auto v = expect_get_value(first_record(run, 0, 0), n, clause, "get_value() of a new semaphore");
      for (std::int64_t i = 0; i < n; ++i) {
        v = merge(v, expect_outcome(first_record(run, 0, static_cast<std::uint32_t>(1 + i)), errc::ok, clause,
                                    "acquire(block=False) #" + std::to_string(i + 1)));
      }
      v = merge(v, expect_outcome(first_record(run, 0, static_cast<std::uint32_t>(1 + n)), errc::timeout, clause,
                                  "acquire(block=False) #" + std::to_string(n + 1) + " of " + std::to_string(n)));
      return merge(v, expect_get_value(first_record(run, 0, static_cast<std::uint32_t>(2 + n)), 0, clause,
                                       "get_value() after taking every unit"));
    }));
  });
}

// A negative value, or one above max_semaphore_value, is refused at creation.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreInvalidValue, "semaphore.create.invalid-value") {
  IPCC_REQUIRE(!supported_semaphore_kinds().empty(), "semaphore or bounded_semaphore");
  const auto max = capabilities().sync.max_semaphore_value;
  // POSIX's smallest SEM_VALUE_MAX; a declared maximum below it is not a semaphore.
  EXPECT_GE(max, 32767) << "max_semaphore_value is declared below 32767 (semaphore.create.invalid-value)";
  if (max < 32767) note_verdict(Verdict::fail);
  for (auto kind : supported_semaphore_kinds()) {
    SCOPED_TRACE(std::string(to_string(kind)));
    expect_isolated([&](Expect& expect) {
      std::vector<std::int64_t> bad = {-1, -2, std::numeric_limits<std::int32_t>::min(),
                                       std::numeric_limits<std::int64_t>::min()};
      if (max < std::numeric_limits<std::int64_t>::max()) {
        bad.push_back(max + 1);
        bad.push_back(std::numeric_limits<std::int64_t>::max());
      }
      for (auto value : bad) {
        expect.outcome(backend().make_semaphore({kind, value}), errc::invalid_argument,
                       "make_semaphore(" + std::to_string(value) + ")");
      }
      for (std::int64_t value : {std::int64_t{0}, std::int64_t{1}, max}) {
        auto made = backend().make_semaphore({kind, value});
        if (!expect.ok(made, "make_semaphore(" + std::to_string(value) + ")")) continue;
        if (capabilities().sync.get_value) {
          auto got = (*made)->get_value();
          expect.that(got && *got == value, "get_value() of Semaphore(" + std::to_string(value) + ")");
        }
      }
    });
  }
}

// 2 to 6 processes hold units of a Semaphore(n) for a while: at no instant
// are more than n + (releases so far) units held.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreBound, "semaphore.acquire.bound") {
  IPCC_REQUIRE(!supported_semaphore_kinds().empty(), "semaphore or bounded_semaphore");
  check_property(15, [] {
    const auto kind = *semaphore_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto n = *any_in_range<std::int64_t>(1, 5);
    const auto processes = *any_in_range(2, 7);
    std::vector<std::vector<Op>> plans(processes);
    for (auto& ops : plans) {
      const auto rounds = *any_in_range(1, 5);
      for (int r = 0; r < rounds; ++r) {
        // The unit is held for the pause before the release.
        ops.push_back(acquire(long_wait(), *rc::gen::inRange<std::uint32_t>(0, 200)));
        ops.push_back(unlock(*section_pause()));
      }
    }
    auto scenario = semaphore_scenario({kind, n}, start, std::move(plans));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario)));
  });
}

// acquire with a deadline at value 0 reports timeout, never early;
// block=False and negative timeouts try once.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreAcquireTimeout, "semaphore.acquire.timeout") {
  IPCC_REQUIRE(!supported_semaphore_kinds().empty(), "semaphore or bounded_semaphore");
  check_property(10, [] {
    const auto kind = *semaphore_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto n = *any_in_range<std::int64_t>(0, 3);
    const auto once_ns = *try_once_wait();
    const auto wait_ns = *positive_wait();
    std::vector<Op> taker;
    for (std::int64_t i = 0; i < n; ++i) taker.push_back(acquire(0));
    taker.push_back(acquire(once_ns));
    taker.push_back(acquire(wait_ns));
    auto scenario = semaphore_scenario({kind, n}, start, {taker});
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [n, once_ns, wait_ns](const Scenario&, const RunResult& run) {
      const std::string clause = "semaphore.acquire.timeout";
      std::vector<Violation> v;
      for (std::uint32_t i = 0; i < 2; ++i) {
        const auto wait = i == 0 ? once_ns : wait_ns;
        const auto record = first_record(run, 0, static_cast<std::uint32_t>(n) + i);
        const std::string what = i == 0 ? "acquire(block=False or timeout <= 0) at value 0" : "acquire(timeout) at value 0";
        auto found = expect_outcome(record, errc::timeout, clause, what);
        if (found.empty()) {
          const auto took = record->t_complete - record->t_invoke;
          if (wait > 0 && took < wait - fixtures::timing::kClockSlack.count()) {
            found.push_back({clause, what + " gave up after " + std::to_string(took / 1000) + " us"});
          }
          found = merge(found, expect_prompt(record, std::max<std::int64_t>(wait, 0), clause, what));
        }
        v = merge(v, found);
      }
      return v;
    }));
  });
}

// A process blocked in acquire at value 0 proceeds once another releases.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreBlocksUntilRelease, "semaphore.acquire.blocks-until-release") {
  IPCC_REQUIRE(!supported_semaphore_kinds().empty(), "semaphore or bounded_semaphore");
  check_property(8, [] {
    const auto kind = *semaphore_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto waiters = *any_in_range(1, 4);
    const bool unlimited = *rc::gen::arbitrary<bool>();
    // Bounded(waiters) with every unit taken by the releaser first, so its
    // releases stay within the bound.
    std::vector<Op> releaser;
    for (int i = 0; i < waiters; ++i) releaser.push_back(acquire(0));
    releaser.push_back(wait_gate());
    for (int i = 0; i < waiters; ++i) releaser.push_back(unlock());
    std::vector<std::vector<Op>> plans = {releaser};
    for (int w = 0; w < waiters; ++w) plans.push_back({wait_gate(), acquire(unlimited ? kNoLimit : long_wait())});
    auto scenario = semaphore_scenario({kind, waiters}, start, std::move(plans));
    scenario.control.push_back(step(ControlKind::await_invoked, 0, static_cast<std::uint32_t>(waiters)));
    for (int w = 1; w <= waiters; ++w) scenario.control.push_back(step(ControlKind::open_gate, w));
    for (int w = 1; w <= waiters; ++w) scenario.control.push_back(step(ControlKind::await_blocked, w, 1));
    scenario.control.push_back(step(ControlKind::open_gate, 0));
    for (int w = 1; w <= waiters; ++w) scenario.control.push_back(step(ControlKind::await_completed, w, 1));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [waiters](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (int w = 1; w <= waiters; ++w) {
        const std::string what = "waiter " + std::to_string(w) + "'s blocked acquire";
        v = merge(v, expect_outcome(first_record(run, w, 1), errc::ok, "semaphore.acquire.blocks-until-release",
                                    what + " after the releases"));
        v = merge(v, expect_woken_by(first_record(run, w, 1), last_record(run, 0), "semaphore.acquire.blocks-until-release", what));
      }
      return v;
    }));
  });
}

// A Semaphore has no owner: a process that never acquired may release, and
// the value may rise above the initial one.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreReleaseWithoutOwner, "semaphore.release.no-owner") {
  IPCC_REQUIRE(supports(SemaphoreKind::semaphore), "semaphore");
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto n = *any_in_range<std::int64_t>(0, 4);
    const auto extra = *any_in_range<std::int64_t>(1, 5);
    std::vector<Op> releaser;
    for (std::int64_t i = 0; i < extra; ++i) releaser.push_back(unlock());
    releaser.push_back(call(OpKind::get_value));
    std::vector<Op> taker = {wait_gate()};
    for (std::int64_t i = 0; i <= n + extra; ++i) taker.push_back(acquire(0));
    auto scenario = semaphore_scenario({SemaphoreKind::semaphore, n}, start, {releaser, taker});
    scenario.control = {step(ControlKind::await_completed, 0, static_cast<std::uint32_t>(extra)),
                        step(ControlKind::open_gate, 1)};
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [n, extra](const Scenario&, const RunResult& run) {
      const std::string clause = "semaphore.release.no-owner";
      std::vector<Violation> v;
      for (std::int64_t i = 0; i < extra; ++i) {
        v = merge(v, expect_outcome(first_record(run, 0, static_cast<std::uint32_t>(i)), errc::ok, clause,
                                    "release #" + std::to_string(i + 1) + " by a process that never acquired"));
      }
      v = merge(v, expect_get_value(first_record(run, 0, static_cast<std::uint32_t>(extra)), n + extra, clause,
                                    "get_value() after the releases"));
      for (std::int64_t i = 0; i < n + extra; ++i) {
        v = merge(v, expect_outcome(first_record(run, 1, static_cast<std::uint32_t>(1 + i)), errc::ok, clause,
                                    "acquire(block=False) #" + std::to_string(i + 1)));
      }
      return merge(v, expect_outcome(first_record(run, 1, static_cast<std::uint32_t>(1 + n + extra)), errc::timeout,
                                     clause, "one acquire more than initial + releases"));
    }));
  });
}

// BoundedSemaphore(n): a release at the bound is refused and changes
// nothing, also when several processes release at once.
IPCC_CONFORMANCE_TEST(SyncConformance, BoundedSemaphoreOverRelease, "semaphore.release.bounded") {
  IPCC_REQUIRE(supports(SemaphoreKind::bounded_semaphore), "bounded_semaphore");
  expect_isolated([](Expect& expect) {
    for (std::int64_t n : {0, 1, 3}) {
      auto sem = make_semaphore_or_note(expect, {SemaphoreKind::bounded_semaphore, n});
      if (!sem) return;
      const std::string name = "BoundedSemaphore(" + std::to_string(n) + ")";
      expect.outcome(sem->release(), errc::released_too_many_times, "release of a full " + name);
      for (std::int64_t i = 0; i < n; ++i) expect.ok(sem->acquire(Deadline::now()), name + " acquire");
      expect.outcome(sem->acquire(Deadline::now()), errc::timeout, name + ": the refused release added nothing");
      if (n > 0) {
        expect.ok(sem->release(), name + " release after an acquire");
        expect.ok(sem->acquire(Deadline::now()), name + " acquire after it");
      }
    }
  });
  check_property(10, [] {
    const auto start = *start_method_choice();
    const auto n = *any_in_range<std::int64_t>(1, 4);
    const auto releasers = static_cast<int>(n) + *any_in_range<int>(1, 4);  // more than fit
    // The test process takes every unit; then releasers race to give back
    // more than it took.
    std::vector<std::vector<Op>> plans;
    for (int r = 0; r < releasers; ++r) plans.push_back({unlock(*rc::gen::inRange<std::uint32_t>(0, 50))});
    plans.push_back({wait_gate(), call(OpKind::get_value)});
    for (std::int64_t i = 0; i <= n; ++i) plans.back().push_back(acquire(0));
    auto scenario = semaphore_scenario({SemaphoreKind::bounded_semaphore, n}, start, std::move(plans));
    for (std::int64_t i = 0; i < n; ++i) scenario.prelude.push_back(acquire(0));
    for (int r = 0; r < releasers; ++r) scenario.control.push_back(step(ControlKind::await_exit, r));
    scenario.control.push_back(step(ControlKind::open_gate, releasers));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [n, releasers](const Scenario&, const RunResult& run) {
      const std::string clause = "semaphore.release.bounded";
      std::int64_t accepted = 0;
      for (int r = 0; r < releasers; ++r) {
        auto record = first_record(run, r, 0);
        if (record && record->completed && record->outcome == errc::ok) ++accepted;
      }
      std::vector<Violation> v;
      if (accepted != std::min<std::int64_t>(n, releasers)) {
        v.push_back({clause, std::to_string(accepted) + " of " + std::to_string(releasers) +
                                 " racing releases accepted; exactly " + std::to_string(n) + " fit under the bound"});
      }
      const auto last = static_cast<std::uint32_t>(releasers);
      v = merge(v, expect_get_value(first_record(run, last, 1), n, clause, "get_value() after the race"));
      return merge(v, expect_outcome(first_record(run, last, static_cast<std::uint32_t>(2 + n)), errc::timeout, clause,
                                     "acquire beyond the bound after the race"));
    }));
  });
}

// A release at max_semaphore_value is refused and changes nothing.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreReleaseAtMaximum, "semaphore.release.max-value") {
  IPCC_REQUIRE(supports(SemaphoreKind::semaphore), "semaphore");
  expect_isolated([](Expect& expect) {
    const auto max = capabilities().sync.max_semaphore_value;
    auto sem = make_semaphore_or_note(expect, {SemaphoreKind::semaphore, max});
    if (!sem) return;
    expect.outcome(sem->release(), errc::released_too_many_times, "release at max_semaphore_value");
    if (capabilities().sync.get_value) {
      auto value = sem->get_value();
      expect.that(value && *value == max, "get_value() after the refused release");
    }
    expect.ok(sem->acquire(Deadline::now()), "acquire at the maximum");
    expect.ok(sem->release(), "release back to the maximum");
    expect.outcome(sem->release(), errc::released_too_many_times, "a second release at the maximum");
  });
}

// get_value() follows acquires and releases made by other processes: exact
// when nobody is acting.
IPCC_CONFORMANCE_TEST(SyncConformance, SemaphoreValueTracks, "semaphore.get-value.tracks") {
  IPCC_REQUIRE(!supported_semaphore_kinds().empty(), "semaphore or bounded_semaphore");
  check_property(10, [] {
    const auto kind = *semaphore_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    // A BoundedSemaphore(0) can neither be acquired nor released.
    const auto n = *any_in_range<std::int64_t>(kind == SemaphoreKind::bounded_semaphore ? 1 : 0, 6);
    const auto actions = *rc::gen::container<std::vector<bool>>(*any_in_range<std::size_t>(1, 8), rc::gen::arbitrary<bool>());
    // One actor acquires (true) or releases (false) a unit per step; an
    // observer reads get_value after each step. Acquires that would find 0
    // and releases past a bound are replaced so every step succeeds.
    std::vector<Op> actor = {wait_gate()}, observer = {call(OpKind::get_value)};
    std::vector<std::int64_t> expected = {n};
    std::int64_t value = n;
    for (bool take : actions) {
      const bool can_release = kind == SemaphoreKind::semaphore || value < n;
      if ((take && value > 0) || !can_release) {
        actor.push_back(acquire(0));
        --value;
      } else {
        actor.push_back(unlock());
        ++value;
      }
      actor.push_back(wait_gate());
      observer.push_back(wait_gate());
      observer.push_back(call(OpKind::get_value));
      expected.push_back(value);
    }
    // Step i (1-based) of the actor is its op 2i-1; the observer reads
    // get_value as its op 2i once that step is done and the actor waits.
    auto scenario = semaphore_scenario({kind, n}, start, {actor, observer});
    scenario.control.push_back(step(ControlKind::await_completed, 1, 0));
    for (std::uint32_t i = 1; i <= actions.size(); ++i) {
      scenario.control.push_back(step(ControlKind::open_gate, 0));
      scenario.control.push_back(step(ControlKind::await_invoked, 0, 2 * i));
      scenario.control.push_back(step(ControlKind::open_gate, 1));
      scenario.control.push_back(step(ControlKind::await_completed, 1, 2 * i));
    }
    scenario.control.push_back(step(ControlKind::open_gate, 0));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [expected](const Scenario&, const RunResult& run) {
      std::vector<Violation> v;
      for (std::uint32_t i = 0; i < expected.size(); ++i) {
        v = merge(v, expect_get_value(first_record(run, 1, 2 * i), expected[i], "semaphore.get-value.tracks",
                                      "get_value() after step " + std::to_string(i) + " of another process"));
      }
      return v;
    }));
  });
}

}  // namespace ipcc::conformance::sync
