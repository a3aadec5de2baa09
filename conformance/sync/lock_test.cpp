// Lock and RLock conformance (spec/lock.md): creation, mutual exclusion,
// timeouts, release rules, recursion, ownership across fork, owner death,
// and the seeds' shared-state examples (a counter and a ticket file).
#include "sync_support.h"

namespace ipcc::conformance::sync {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// One round of the seeds' pattern: take the lock, touch the shared state,
// give the lock back.
void locked_round(std::vector<Op>& ops, Op touch, std::uint32_t delay_us) {
  ops.push_back(acquire(long_wait(), delay_us));
  ops.push_back(touch);
  ops.push_back(unlock());
}

std::vector<Violation> expect_timeout_after(const std::optional<Record>& record, std::int64_t wait_ns,
                                            const std::string& clause, const std::string& what) {
  auto violations = expect_outcome(record, errc::timeout, clause, what);
  if (!violations.empty()) return violations;
  const auto took = record->t_complete - record->t_invoke;
  if (wait_ns > 0 && took < wait_ns - fixtures::timing::kClockSlack.count()) {
    violations.push_back({clause, what + " gave up after " + std::to_string(took / 1000) + " us, before its " +
                                      std::to_string(wait_ns / 1000) + " us"});
  }
  auto late = expect_prompt(record, std::max<std::int64_t>(wait_ns, 0), clause, what);
  violations.insert(violations.end(), late.begin(), late.end());
  return violations;
}

}  // namespace

// A new Lock or RLock is unlocked, in the process that made it and in every
// process that received it.
IPCC_CONFORMANCE_TEST(SyncConformance, LockCreatedUnlocked, "lock.create.unlocked") {
  IPCC_REQUIRE(!supported_lock_kinds().empty(), "lock or rlock");
  for (auto kind : supported_lock_kinds()) {
    SCOPED_TRACE(std::string(to_string(kind)));
    expect_isolated([&](Expect& expect) {
      auto lock = make_lock_or_note(expect, kind);
      if (!lock) return;
      expect.that(lock->kind() == kind, "kind() of a new lock");
      auto got = lock->acquire(Deadline::now());
      if (expect.ok(got, "acquire(block=False) of a new lock")) {
        expect.that(!got->previous_owner_died, "a new lock reported a dead previous owner");
        expect.ok(lock->release(), "release after the first acquire");
      }
    });
    for (auto start : supported_start_methods()) {
      SCOPED_TRACE(std::string(to_string(start)));
      auto scenario = lock_scenario(kind, start, {{acquire(0), unlock()}});
      expect_sync_case(scenario, checks_for(scenario), [](const Scenario&, const RunResult& run) {
        auto v = expect_value(first_record(run, 0, 0), 0, "lock.create.unlocked",
                              "acquire(block=False) of a new lock in another process");
        auto w = expect_outcome(first_record(run, 0, 1), errc::ok, "lock.create.unlocked", "release");
        v.insert(v.end(), w.begin(), w.end());
        return v;
      });
    }
  }
}

// 2 to 6 processes take the lock in turns around a read-modify-write of a
// shared counter: no two critical sections overlap (history sweep).
IPCC_CONFORMANCE_TEST(SyncConformance, LockMutualExclusion, "lock.acquire.mutual-exclusion") {
  IPCC_REQUIRE(!supported_lock_kinds().empty(), "lock or rlock");
  check_property(15, [] {
    const auto kind = *lock_kind_choice({LockKind::lock, LockKind::rlock});
    const auto start = *start_method_choice();
    const auto processes = *any_in_range(2, 7);
    std::vector<std::vector<Op>> plans(processes);
    for (auto& ops : plans) {
      const auto rounds = *any_in_range(1, 6);
      for (int r = 0; r < rounds; ++r) {
        locked_round(ops, counter_add(*section_pause()), *rc::gen::inRange<std::uint32_t>(0, 200));
      }
    }
    auto scenario = lock_scenario(kind, start, std::move(plans));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario)));
  });
}

// A Lock is not recursive: its holder's second acquire waits like anyone's
// and gives up at its deadline; the lock was taken once, not twice.
IPCC_CONFORMANCE_TEST(SyncConformance, LockNotRecursive, "lock.acquire.not-recursive") {
  IPCC_REQUIRE(supports(LockKind::lock), "lock");
  expect_isolated([](Expect& expect) {
    auto lock = make_lock_or_note(expect, LockKind::lock);
    if (!lock || !expect.ok(lock->acquire(Deadline::now()), "first acquire")) return;
    auto [again, at_once] = timed([&] { return lock->acquire(Deadline::now()); });
    expect.outcome(again, errc::timeout, "the holder's acquire(block=False)");
    expect_duration(expect, at_once, nanoseconds(0), "the holder's acquire(block=False)");
    const auto wait = milliseconds(50);
    auto [timed_again, waited] = timed([&] { return lock->acquire(Deadline::after(wait)); });
    expect.outcome(timed_again, errc::timeout, "the holder's acquire(timeout=0.05)");
    expect_duration(expect, waited, wait, "the holder's acquire(timeout=0.05)");
    // Held once: one release frees it.
    expect.ok(lock->release(), "release");
    expect.ok(lock->acquire(Deadline::now()), "acquire after the one release");
    expect.ok(lock->release(), "release");
  });
}

// acquire with a deadline on a lock another process holds reports timeout,
// never before the deadline; block=False and a negative timeout try once.
IPCC_CONFORMANCE_TEST(SyncConformance, LockAcquireTimeout, "lock.acquire.timeout") {
  IPCC_REQUIRE(!supported_lock_kinds().empty(), "lock or rlock");
  check_property(12, [] {
    const auto kind = *lock_kind_choice({LockKind::lock, LockKind::rlock});
    const auto start = *start_method_choice();
    const auto once_ns = *try_once_wait();
    const auto wait_ns = *positive_wait();
    auto scenario = lock_scenario(kind, start,
                                  {{acquire(0), wait_gate(), unlock()},
                                   {wait_gate(), acquire(once_ns), acquire(wait_ns)}});
    scenario.control = {step(ControlKind::await_invoked, 0, 1), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 2), step(ControlKind::open_gate, 0)};
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [once_ns, wait_ns](const Scenario&, const RunResult& run) {
      auto v = expect_timeout_after(first_record(run, 1, 1), once_ns, "lock.acquire.timeout",
                                    "acquire(block=False or timeout <= 0) while another process holds the lock");
      auto w = expect_timeout_after(first_record(run, 1, 2), wait_ns, "lock.acquire.timeout",
                                    "acquire(timeout) while another process holds the lock");
      v.insert(v.end(), w.begin(), w.end());
      return v;
    }));
  });
}

// A process blocked in acquire gets the lock once the holder releases it.
IPCC_CONFORMANCE_TEST(SyncConformance, LockBlocksUntilRelease, "lock.acquire.blocks-until-release") {
  IPCC_REQUIRE(!supported_lock_kinds().empty(), "lock or rlock");
  check_property(8, [] {
    const auto kind = *lock_kind_choice({LockKind::lock, LockKind::rlock});
    const auto start = *start_method_choice();
    const bool unlimited = *rc::gen::arbitrary<bool>();
    auto scenario = lock_scenario(kind, start,
                                  {{acquire(0), wait_gate(), unlock()},
                                   {wait_gate(), acquire(unlimited ? kNoLimit : long_wait()), unlock()}});
    scenario.control = {step(ControlKind::await_invoked, 0, 1), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_blocked, 1, 1), step(ControlKind::open_gate, 0),
                        step(ControlKind::await_completed, 1, 2)};
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [](const Scenario&, const RunResult& run) {
      const std::string clause = "lock.acquire.blocks-until-release";
      auto v = expect_outcome(first_record(run, 1, 1), errc::ok, clause, "the blocked acquire after the holder released");
      auto w = expect_woken_by(first_record(run, 1, 1), first_record(run, 0, 2), clause, "the blocked acquire");
      v.insert(v.end(), w.begin(), w.end());
      return v;
    }));
  });
}

// Any process may release a held Lock (it has no owner); it is then free.
IPCC_CONFORMANCE_TEST(SyncConformance, LockReleasedByAnotherProcess, "lock.release.any-process") {
  IPCC_REQUIRE(supports(LockKind::lock), "lock");
  for (auto start : supported_start_methods()) {
    SCOPED_TRACE(std::string(to_string(start)));
    auto scenario = lock_scenario(LockKind::lock, start,
                                  {{acquire(0), wait_gate()},
                                   {wait_gate(), unlock(), acquire(0), unlock()}});
    scenario.control = {step(ControlKind::await_invoked, 0, 1), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 3), step(ControlKind::open_gate, 0)};
    expect_sync_case(scenario, checks_for(scenario), [](const Scenario&, const RunResult& run) {
      const std::string clause = "lock.release.any-process";
      auto v = expect_outcome(first_record(run, 1, 1), errc::ok, clause, "release by a process that did not acquire");
      auto w = expect_outcome(first_record(run, 1, 2), errc::ok, clause, "acquire(block=False) after that release");
      v.insert(v.end(), w.begin(), w.end());
      return v;
    });
  }
}

// Releasing an unlocked Lock is an error and changes nothing: the lock can
// then be taken exactly once.
IPCC_CONFORMANCE_TEST(SyncConformance, LockReleaseUnlocked, "lock.release.unlocked") {
  IPCC_REQUIRE(supports(LockKind::lock), "lock");
  expect_isolated([](Expect& expect) {
    auto lock = make_lock_or_note(expect, LockKind::lock);
    if (!lock) return;
    expect.outcome(lock->release(), errc::released_too_many_times, "release of a new (unlocked) Lock");
    expect.ok(lock->acquire(Deadline::now()), "acquire after the refused release");
    expect.outcome(lock->acquire(Deadline::now()), errc::timeout, "a second acquire: the refused release added nothing");
    expect.ok(lock->release(), "release of the held Lock");
    expect.outcome(lock->release(), errc::released_too_many_times, "a second release");
    expect.ok(lock->acquire(Deadline::now()), "acquire after it");
    expect.outcome(lock->acquire(Deadline::now()), errc::timeout, "a further acquire");
  });
  for (auto start : supported_start_methods()) {
    SCOPED_TRACE(std::string(to_string(start)));
    auto scenario = lock_scenario(LockKind::lock, start,
                                  {{acquire(0), unlock()},
                                   {wait_gate(), unlock(), acquire(0), acquire(0), unlock()}});
    scenario.control = {step(ControlKind::await_completed, 0, 1), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 4)};
    expect_sync_case(scenario, checks_for(scenario), [](const Scenario&, const RunResult& run) {
      const std::string clause = "lock.release.unlocked";
      auto v = expect_outcome(first_record(run, 1, 1), errc::released_too_many_times, clause,
                              "release of a Lock another process released");
      auto w = expect_outcome(first_record(run, 1, 3), errc::timeout, clause, "second acquire(block=False)");
      v.insert(v.end(), w.begin(), w.end());
      return v;
    });
  }
  // Racing releases of a held Lock: exactly one is accepted, and the Lock
  // can then be taken exactly once.
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto releasers = *any_in_range(2, 6);
    std::vector<std::vector<Op>> plans;
    for (int r = 0; r < releasers; ++r) plans.push_back({unlock(*rc::gen::inRange<std::uint32_t>(0, 50))});
    plans.push_back({wait_gate(), acquire(0), acquire(0)});
    auto scenario = lock_scenario(LockKind::lock, start, std::move(plans));
    scenario.prelude = {acquire(0)};
    for (int r = 0; r < releasers; ++r) scenario.control.push_back(step(ControlKind::await_exit, r));
    scenario.control.push_back(step(ControlKind::open_gate, releasers));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [releasers](const Scenario&, const RunResult& run) {
      const std::string clause = "lock.release.unlocked";
      int accepted = 0;
      for (int r = 0; r < releasers; ++r) {
        auto record = first_record(run, r, 0);
        if (record && record->completed && record->outcome == errc::ok) ++accepted;
      }
      std::vector<Violation> v;
      if (accepted != 1) {
        v.push_back({clause, std::to_string(accepted) + " of " + std::to_string(releasers) +
                                 " racing releases of a held Lock accepted; exactly one must be"});
      }
      auto w = expect_outcome(first_record(run, releasers, 2), errc::timeout, clause, "a second acquire after the race");
      v.insert(v.end(), w.begin(), w.end());
      return v;
    }));
  });
}

// An RLock's owner re-acquires at once; k acquires need k releases, and
// others cannot take it until the k-th.
IPCC_CONFORMANCE_TEST(SyncConformance, RLockRecursive, "rlock.acquire.recursive") {
  IPCC_REQUIRE(supports(LockKind::rlock), "rlock");
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto k = *any_in_range<std::uint32_t>(1, 6);
    std::vector<Op> owner;
    for (std::uint32_t i = 0; i < k; ++i) owner.push_back(acquire(0));  // 0..k-1
    owner.push_back(wait_gate());                                        // k
    for (std::uint32_t i = 1; i < k; ++i) owner.push_back(unlock());     // k+1..2k-1
    owner.push_back(wait_gate());                                        // 2k
    owner.push_back(unlock());                                           // 2k+1
    owner.push_back(wait_gate());                                        // 2k+2
    const std::vector<Op> other = {wait_gate(), acquire(0), wait_gate(), acquire(0), wait_gate(), acquire(0), unlock()};
    auto scenario = lock_scenario(LockKind::rlock, start, {owner, other});
    scenario.control = {step(ControlKind::await_invoked, 0, k),         step(ControlKind::open_gate, 1),
                        step(ControlKind::await_invoked, 1, 2),         step(ControlKind::open_gate, 0),
                        step(ControlKind::await_invoked, 0, 2 * k),     step(ControlKind::open_gate, 1),
                        step(ControlKind::await_invoked, 1, 4),         step(ControlKind::open_gate, 0),
                        step(ControlKind::await_invoked, 0, 2 * k + 2), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 6),       step(ControlKind::open_gate, 0)};
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [k](const Scenario&, const RunResult& run) {
      const std::string clause = "rlock.acquire.recursive";
      std::vector<Violation> v;
      auto add = [&v](std::vector<Violation> more) { v.insert(v.end(), more.begin(), more.end()); };
      for (std::uint32_t i = 0; i < k; ++i) {
        add(expect_outcome(first_record(run, 0, i), errc::ok, clause, "the owner's acquire #" + std::to_string(i + 1)));
      }
      for (std::uint32_t i = k + 1; i < 2 * k; ++i) {
        add(expect_outcome(first_record(run, 0, i), errc::ok, clause, "the owner's release #" + std::to_string(i - k)));
      }
      add(expect_outcome(first_record(run, 0, 2 * k + 1), errc::ok, clause, "the owner's last release"));
      add(expect_outcome(first_record(run, 1, 1), errc::timeout, clause, "another's acquire while held " + std::to_string(k) + " times"));
      add(expect_outcome(first_record(run, 1, 3), errc::timeout, clause, "another's acquire after k-1 releases"));
      add(expect_outcome(first_record(run, 1, 5), errc::ok, clause, "another's acquire after the k-th release"));
      return v;
    }));
  });
}

// Only the owner releases an RLock: another process's release, or a release
// of an unowned RLock, is not_owner and changes nothing.
IPCC_CONFORMANCE_TEST(SyncConformance, RLockOwnerOnlyRelease, "rlock.release.owner-only") {
  IPCC_REQUIRE(supports(LockKind::rlock), "rlock");
  for (auto start : supported_start_methods()) {
    SCOPED_TRACE(std::string(to_string(start)));
    auto scenario = lock_scenario(LockKind::rlock, start,
                                  {{acquire(0), wait_gate(), unlock(), wait_gate()},
                                   {wait_gate(), unlock(), acquire(0), wait_gate(), unlock(), acquire(0), unlock()}});
    scenario.control = {step(ControlKind::await_invoked, 0, 1), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_invoked, 1, 3), step(ControlKind::open_gate, 0),
                        step(ControlKind::await_invoked, 0, 3), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 6), step(ControlKind::open_gate, 0)};
    expect_sync_case(scenario, checks_for(scenario), [](const Scenario&, const RunResult& run) {
      const std::string clause = "rlock.release.owner-only";
      std::vector<Violation> v;
      auto add = [&v](std::vector<Violation> more) { v.insert(v.end(), more.begin(), more.end()); };
      add(expect_outcome(first_record(run, 1, 1), errc::not_owner, clause, "release by a process that does not own it"));
      add(expect_outcome(first_record(run, 1, 2), errc::timeout, clause, "acquire(block=False): still the owner's"));
      add(expect_outcome(first_record(run, 0, 2), errc::ok, clause, "the owner's release"));
      add(expect_outcome(first_record(run, 1, 4), errc::not_owner, clause, "release of an unowned RLock"));
      add(expect_outcome(first_record(run, 1, 5), errc::ok, clause, "acquire: the refused releases changed nothing"));
      return v;
    });
  }
}

// A child started while its parent owns an RLock does not own it.
IPCC_CONFORMANCE_TEST(SyncConformance, RLockChildIsNotOwner, "rlock.fork.not-owner") {
  IPCC_REQUIRE(supports(LockKind::rlock), "rlock");
  for (auto start : supported_start_methods()) {
    SCOPED_TRACE(std::string(to_string(start)));
    const auto wait_ns = ms(50);
    auto scenario = lock_scenario(LockKind::rlock, start, {{unlock(), acquire(wait_ns)}});
    scenario.prelude = {acquire(0)};
    expect_sync_case(scenario, checks_for(scenario), [wait_ns](const Scenario&, const RunResult& run) {
      const std::string clause = "rlock.fork.not-owner";
      auto v = expect_outcome(first_record(run, 0, 0), errc::not_owner, clause,
                              "the child's release of the RLock its parent owns");
      auto w = expect_timeout_after(first_record(run, 0, 1), wait_ns, clause, "the child's acquire(timeout=0.05)");
      v.insert(v.end(), w.begin(), w.end());
      return v;
    });
  }
}

// When a Lock or RLock owner ends while holding it (SIGKILL, _exit, or a
// normal end), the others observe the declared OwnerDeathEffect, and an
// acquire with a deadline never hangs.
IPCC_CONFORMANCE_TEST(SyncConformance, LockOwnerDeath, "lock.owner-death.declared") {
  IPCC_REQUIRE(!supported_lock_kinds().empty(), "lock or rlock");
  enum class End { killed, exit_now, normal };
  check_property(12, [] {
    const auto kind = *lock_kind_choice({LockKind::lock, LockKind::rlock});
    const auto start = *start_method_choice();
    const auto end = *rc::gen::element(End::killed, End::exit_now, End::normal);
    const bool waiter_blocked = *rc::gen::arbitrary<bool>();
    const auto effect = owner_death_of(kind);
    const bool stays_held = effect == OwnerDeathEffect::stays_held;
    const std::int64_t wait_ns = stays_held ? scaled_ms(300) : long_wait();

    std::vector<Op> owner = {acquire(0), wait_gate()};
    if (end == End::exit_now) owner.push_back(exit_now());
    // The waiter starts once the owner holds the lock: blocked in acquire
    // when the owner ends, or only afterwards.
    std::vector<Op> waiter = {wait_gate()};
    const std::uint32_t first = 1;
    waiter.push_back(acquire(wait_ns));
    if (!stays_held) {
      waiter.push_back(unlock());
      waiter.push_back(acquire(0));
      waiter.push_back(unlock());
    }
    auto scenario = lock_scenario(kind, start, {owner, waiter});
    scenario.control.push_back(step(ControlKind::await_invoked, 0, 1));
    if (waiter_blocked) {
      scenario.control.push_back(step(ControlKind::open_gate, 1));
      scenario.control.push_back(step(ControlKind::await_blocked, 1, first));
    }
    scenario.control.push_back(end == End::killed ? step(ControlKind::kill, 0) : step(ControlKind::open_gate, 0));
    scenario.control.push_back(step(ControlKind::await_exit, 0));
    if (!waiter_blocked) scenario.control.push_back(step(ControlKind::open_gate, 1));
    scenario.control.push_back(step(ControlKind::await_completed, 1, static_cast<std::uint32_t>(waiter.size() - 1)));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      const std::string clause = "lock.owner-death.declared";
      if (stays_held) {
        return expect_timeout_after(first_record(run, 1, first), wait_ns, clause,
                                    "acquire after the owner ended holding the lock (declared stays_held)");
      }
      const bool reported = effect == OwnerDeathEffect::reported_to_next;
      auto v = expect_value(first_record(run, 1, first), reported ? 1 : 0, clause,
                            std::string("acquire after the owner ended holding the lock: previous_owner_died (declared ") +
                                (reported ? "reported_to_next" : "released") + ")");
      auto w = expect_value(first_record(run, 1, first + 2), 0, clause,
                            "the next acquire: the death is reported to exactly one acquirer");
      v.insert(v.end(), w.begin(), w.end());
      return v;
    }));
  });
}

// The seeds' counter: N processes each add 1 to a shared counter M times
// under the lock; no update is lost.
IPCC_CONFORMANCE_TEST(SyncConformance, LockProtectsCounter, "lock.shared-state.counter") {
  IPCC_REQUIRE(!supported_lock_kinds().empty(), "lock or rlock");
  check_property(12, [] {
    const auto kind = *lock_kind_choice({LockKind::lock, LockKind::rlock});
    const auto start = *start_method_choice();
    const auto processes = *any_in_range(2, 7);
    const auto rounds = *any_in_range(1, 9);
    const auto pause = *rc::gen::inRange<std::uint32_t>(0, 300);
    std::vector<std::vector<Op>> plans(processes);
    for (auto& ops : plans) {
      for (int r = 0; r < rounds; ++r) locked_round(ops, counter_add(pause), 0);
    }
    auto scenario = lock_scenario(kind, start, std::move(plans));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario)));
  });
}

// The seeds' ticket office: buyers read the ticket file, pause, and write it
// back one less, under the lock; no ticket is sold twice or invented.
IPCC_CONFORMANCE_TEST(SyncConformance, LockProtectsTicketFile, "lock.shared-state.tickets") {
  IPCC_REQUIRE(!supported_lock_kinds().empty(), "lock or rlock");
  check_property(12, [] {
    const auto kind = *lock_kind_choice({LockKind::lock, LockKind::rlock});
    const auto start = *start_method_choice();
    const auto buyers = *any_in_range(2, 7);
    const auto pause = *rc::gen::inRange<std::uint32_t>(0, 300);
    std::vector<std::vector<Op>> plans(buyers);
    for (auto& ops : plans) {
      const auto attempts = *any_in_range(1, 3);
      for (int a = 0; a < attempts; ++a) locked_round(ops, buy_ticket(pause), 0);
    }
    auto scenario = lock_scenario(kind, start, std::move(plans));
    scenario.sync.tickets = *any_in_range<std::int64_t>(0, 8);
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario)));
  });
}

}  // namespace ipcc::conformance::sync
