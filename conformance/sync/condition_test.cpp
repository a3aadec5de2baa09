// Condition conformance (spec/condition.md): wait and notify need the lock,
// timed waits, waking waiters in other processes, getting the lock back
// after a wait, and notifies that find nobody waiting. Both kinds of the
// condition's own lock (RLock, Python's default, and Lock) are exercised.
#include <algorithm>

#include "sync_support.h"

namespace ipcc::conformance::sync {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

const std::vector<LockKind> kBothKinds = {LockKind::rlock, LockKind::lock};

bool condition_supported() { return capabilities().sync.condition && !supported_lock_kinds().empty(); }

Scenario condition_scenario(LockKind kind, StartMethod start, std::vector<std::vector<Op>> processes) {
  SyncSubject sync;
  sync.lock = kind;
  return sync_scenario(SubjectKind::condition, sync, start, std::move(processes));
}

// Appends `op` and returns its index.
std::uint32_t push(std::vector<Op>& ops, Op op) {
  ops.push_back(op);
  return static_cast<std::uint32_t>(ops.size() - 1);
}

std::string name_of(LockKind kind) { return "Condition(" + std::string(to_string(kind)) + ")"; }

std::string wait_text(std::int64_t wait_ns) {
  if (wait_ns == kNoLimit) return "wait()";
  return "wait(" + std::to_string(wait_ns / 1'000'000) + " ms)";
}

std::string us_text(std::int64_t ns) { return std::to_string(ns / 1000) + " us"; }

// A wait that must time out: false, not before its deadline, not long after.
std::vector<Violation> expect_false_after(const std::optional<Record>& record, std::int64_t wait_ns,
                                          const std::string& clause, const std::string& what) {
  auto v = expect_value(record, 0, clause, what);
  if (!v.empty()) return v;
  const auto took = record->t_complete - record->t_invoke;
  if (wait_ns > 0 && took < wait_ns - fixtures::timing::kClockSlack.count()) {
    v.push_back({clause, what + " returned false after " + us_text(took) + ", before its " + us_text(wait_ns)});
  }
  return merge(v, expect_prompt(record, std::max<std::int64_t>(wait_ns, 0), clause, what));
}

// Short timed waits: try-once (0, negative) and 1 to 120 ms.
rc::Gen<std::int64_t> short_wait() {
  return rc::gen::oneOf(rc::gen::element<std::int64_t>(0, -ms(1)),
                        rc::gen::map(any_in_range<std::int64_t>(1, 121), [](std::int64_t m) { return ms(m); }));
}

// One call that needs the lock: a wait (several deadlines), notify(n) or
// notify_all.
rc::Gen<Op> lock_needing_call() {
  return rc::gen::oneOf(
      // A refused wait returns at once whatever its deadline; 1 s (scaled)
      // stands for "long" and keeps a defective wait that does wait within
      // the case's deadline.
      rc::gen::map(rc::gen::element<std::int64_t>(0, -ms(1), ms(50), scaled_ms(1000)), [](std::int64_t w) { return wait(w); }),
      rc::gen::map(any_in_range<std::int64_t>(0, 4), [](std::int64_t n) { return notify(n); }),
      rc::gen::just(call(OpKind::notify_all)));
}

std::string call_text(const Op& op) {
  switch (op.kind) {
    case OpKind::wait: return wait_text(op.wait_ns);
    case OpKind::notify: return "notify(" + std::to_string(op.length) + ")";
    default: return std::string(to_string(op.kind)) + "()";
  }
}

}  // namespace

// wait, notify and notify_all need the condition's lock: without it they
// report not_owner at once and change nothing, whether the lock is free,
// held by another process, or held by the parent of a forked child; with
// it they work.
IPCC_CONFORMANCE_TEST(SyncConformance, ConditionRequiresLock, "condition.wait.requires-lock") {
  IPCC_REQUIRE(condition_supported(), "condition (with lock or rlock)");
  const std::string clause = "condition.wait.requires-lock";
  for (auto kind : supported_lock_kinds(kBothKinds)) {
    SCOPED_TRACE(std::string(to_string(kind)));
    expect_isolated([kind](Expect& expect) {
      auto cond = make_condition_or_note(expect, {kind});
      if (!cond) return;
      const std::string name = name_of(kind);
      const auto long_deadline = fixtures::timing::scaled(milliseconds(2000));
      auto [refused, took] = timed([&] { return cond->wait(Deadline::after(long_deadline)); });
      expect.outcome(refused, errc::not_owner, name + ": wait(2 s) without the lock");
      expect.that(took <= fixtures::timing::upper_bound(nanoseconds(0)),
                  name + ": the refused wait(2 s) took " + std::to_string(took.count() / 1000) + " us, not at once");
      expect.outcome(cond->wait(Deadline::now()), errc::not_owner, name + ": wait(0) without the lock");
      for (std::int64_t n : {0, 1, 3}) {
        expect.outcome(cond->notify(n), errc::not_owner, name + ": notify(" + std::to_string(n) + ") without the lock");
      }
      expect.outcome(cond->notify_all(), errc::not_owner, name + ": notify_all() without the lock");
      // Nothing changed: the lock is free, and with it the calls work.
      if (!expect.ok(cond->acquire(Deadline::now()), name + ": acquire(block=False) after the refused calls")) return;
      expect.ok(cond->wait(Deadline::now()), name + ": wait(0) holding the lock");
      expect.ok(cond->notify(1), name + ": notify(1) holding the lock");
      expect.ok(cond->notify(0), name + ": notify(0) holding the lock");
      expect.ok(cond->notify_all(), name + ": notify_all() holding the lock");
      expect.ok(cond->release(), name + ": release after the calls");
      // Released: refused again.
      expect.outcome(cond->wait(Deadline::now()), errc::not_owner, name + ": wait(0) after release");
      expect.outcome(cond->notify(1), errc::not_owner, name + ": notify(1) after release");
      expect.outcome(cond->notify_all(), errc::not_owner, name + ": notify_all() after release");
    });
  }
  enum class Holder { none, other_process, parent };
  check_property(12, [clause] {
    const auto kind = *lock_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto holder = *rc::gen::element(Holder::none, Holder::other_process, Holder::parent);
    const auto bad = *rc::gen::container<std::vector<Op>>(*any_in_range<std::size_t>(1, 4), lock_needing_call());
    const auto good = *rc::gen::container<std::vector<Op>>(*any_in_range<std::size_t>(1, 4),
                                                          rc::gen::oneOf(rc::gen::just(wait(0)), lock_needing_call()));
    const auto after = *lock_needing_call();

    const std::uint32_t tester = holder == Holder::other_process ? 1 : 0;
    std::vector<Op> ops;
    push(ops, wait_gate());
    std::vector<std::uint32_t> bad_at, good_at;
    for (const auto& op : bad) bad_at.push_back(push(ops, op));
    const auto try_at = push(ops, acquire(0));
    std::uint32_t gate_at = 0, acquire_at = 0, unlock_at = 0, after_at = 0;
    const bool gets_lock = holder != Holder::parent;
    if (holder == Holder::other_process) {
      gate_at = push(ops, wait_gate());
      acquire_at = push(ops, acquire(long_wait()));
    }
    if (gets_lock) {
      // Holding the lock; waits are tries so the case stays short.
      for (auto op : good) {
        if (op.kind == OpKind::wait) op.wait_ns = 0;
        good_at.push_back(push(ops, op));
      }
      unlock_at = push(ops, unlock());
      after_at = push(ops, after);
    }
    std::vector<std::vector<Op>> plans;
    if (holder == Holder::other_process) plans.push_back({acquire(0), wait_gate(), unlock()});
    plans.push_back(ops);
    auto scenario = condition_scenario(kind, start, std::move(plans));
    if (holder == Holder::parent) scenario.prelude = {acquire(0)};
    if (holder == Holder::other_process) {
      scenario.control = {step(ControlKind::await_invoked, 0, 1), step(ControlKind::open_gate, tester),
                          step(ControlKind::await_invoked, tester, gate_at), step(ControlKind::open_gate, 0),
                          step(ControlKind::await_exit, 0), step(ControlKind::open_gate, tester)};
    } else {
      scenario.control = {step(ControlKind::open_gate, tester)};
    }
    scenario.control.push_back(step(ControlKind::await_exit, tester));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario& s, const RunResult& run) {
      const std::string held_by = holder == Holder::none            ? "while nobody holds the lock"
                                  : holder == Holder::other_process ? "while another process holds the lock"
                                                                    : "while the parent holds the lock";
      std::vector<Violation> v;
      for (std::size_t i = 0; i < bad_at.size(); ++i) {
        const auto record = first_record(run, tester, bad_at[i]);
        const std::string what = call_text(bad[i]) + " " + held_by;
        v = merge(v, expect_outcome(record, errc::not_owner, clause, what));
        v = merge(v, expect_prompt(record, 0, clause, what + " (refused)"));
      }
      v = merge(v, expect_outcome(first_record(run, tester, try_at), gets_lock && holder == Holder::none ? errc::ok : errc::timeout,
                                  clause, "acquire(block=False) after the refused calls " + held_by + ": nothing changed"));
      if (holder == Holder::other_process) {
        v = merge(v, expect_outcome(first_record(run, 0, 2), errc::ok, clause,
                                    "the holder's release after the refused calls: its lock was untouched"));
        v = merge(v, expect_outcome(first_record(run, tester, acquire_at), errc::ok, clause,
                                    "acquire after the holder released"));
      }
      if (!gets_lock) return v;
      bool notified = false;
      for (std::size_t i = 0; i < good_at.size(); ++i) {
        const auto& op = s.processes[tester].ops[good_at[i]];
        const auto record = first_record(run, tester, good_at[i]);
        const std::string what = call_text(op) + " holding the lock";
        auto outcome = expect_outcome(record, errc::ok, clause, what);
        v = merge(v, outcome);
        if (op.kind != OpKind::wait) {
          notified = true;
        } else if (outcome.empty() && record->value != 0) {
          // A try-once wait nobody else could notify: false. After this
          // process's own notifies, that is their business.
          v.push_back({notified ? "condition.notify.no-waiters" : "condition.wait.timeout",
                       what + (notified ? " after notifies that found nobody waiting" : " with no notifier") +
                           " returned true"});
        }
      }
      v = merge(v, expect_outcome(first_record(run, tester, unlock_at), errc::ok, clause,
                                  "release after the calls: the lock was still held"));
      return merge(v, expect_outcome(first_record(run, tester, after_at), errc::not_owner, clause,
                                     call_text(after) + " after releasing the lock"));
    }));
  });
}

// wait(t) with nobody notifying returns false no earlier than t (try-once
// at once), and returns holding the lock again: another process cannot take
// it until the waiter releases it.
IPCC_CONFORMANCE_TEST(SyncConformance, ConditionWaitTimeout, "condition.wait.timeout") {
  IPCC_REQUIRE(condition_supported(), "condition (with lock or rlock)");
  const std::string clause = "condition.wait.timeout";
  for (auto kind : supported_lock_kinds(kBothKinds)) {
    SCOPED_TRACE(std::string(to_string(kind)));
    expect_isolated([kind](Expect& expect) {
      auto cond = make_condition_or_note(expect, {kind});
      if (!cond || !expect.ok(cond->acquire(Deadline::now()), "acquire")) return;
      const std::string name = name_of(kind);
      for (auto wait : {nanoseconds(0), nanoseconds(ms(30))}) {
        const std::string what = name + ": wait(" + std::to_string(wait.count() / 1'000'000) + " ms) with no notifier";
        auto [waited, took] = timed([&] { return cond->wait(wait.count() == 0 ? Deadline::now() : Deadline::after(wait)); });
        expect.that(waited && !*waited, what + " returns false");
        expect_duration(expect, took, wait, what);
      }
      expect.ok(cond->release(), name + ": release after the waits: the lock was held again");
    });
  }
  check_property(10, [clause] {
    const auto kind = *lock_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto waits = *rc::gen::container<std::vector<std::int64_t>>(*any_in_range<std::size_t>(1, 4), short_wait());
    // p0 waits with nobody notifying, then sits holding the lock at a gate;
    // p1 tries the lock then, and again after p0 released it.
    std::vector<Op> waiter = {acquire(0)};
    for (auto w : waits) waiter.push_back(wait(w));
    const auto gate_at = push(waiter, wait_gate());
    const auto unlock_at = push(waiter, unlock());
    const std::vector<Op> other = {wait_gate(), acquire(0), wait_gate(), acquire(0), unlock()};
    auto scenario = condition_scenario(kind, start, {waiter, other});
    scenario.control = {step(ControlKind::await_invoked, 0, gate_at), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 1),     step(ControlKind::open_gate, 0),
                        step(ControlKind::await_completed, 0, unlock_at), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 4)};
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      std::vector<Violation> v = expect_outcome(first_record(run, 0, 0), errc::ok, clause, "the waiter's acquire");
      for (std::uint32_t i = 0; i < waits.size(); ++i) {
        v = merge(v, expect_false_after(first_record(run, 0, 1 + i), waits[i], clause,
                                        wait_text(waits[i]) + " #" + std::to_string(i + 1) + " with no notifier"));
      }
      v = merge(v, expect_outcome(first_record(run, 1, 1), errc::timeout, clause,
                                  "another process's acquire(block=False) after the waits returned: the waiter holds the lock again"));
      v = merge(v, expect_outcome(first_record(run, 0, unlock_at), errc::ok, clause, "the waiter's release after its waits"));
      return merge(v, expect_outcome(first_record(run, 1, 3), errc::ok, clause,
                                     "another process's acquire(block=False) after the waiter released"));
    }));
  });
}

// k processes (1 to 5) wait on the condition; another process then takes
// the lock and calls notify_all() (every waiter returns true) or notify(n)
// (exactly min(n, k) return true, the others time out). The waiters are
// either seen blocked first, or the notifier races the last one going to
// sleep. A true return comes after the notify was called, and promptly
// after the notifier let the lock go.
IPCC_CONFORMANCE_TEST(SyncConformance, ConditionNotifyWakes, "condition.notify.wakes") {
  IPCC_REQUIRE(condition_supported(), "condition (with lock or rlock)");
  const std::string clause = "condition.notify.wakes";
  for (auto kind : supported_lock_kinds(kBothKinds)) {
    SCOPED_TRACE(std::string(to_string(kind)));
    expect_isolated([kind](Expect& expect) {
      auto cond = make_condition_or_note(expect, {kind});
      if (!cond || !expect.ok(cond->acquire(Deadline::now()), "acquire")) return;
      expect.outcome(cond->notify(-1), errc::invalid_argument, name_of(kind) + ": notify(-1) holding the lock");
      expect.ok(cond->release(), "release");
    });
  }
  check_property(8, [clause] {
    const auto kind = *lock_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto k = *any_in_range(1, 6);
    // notify_all, notify(n) for fewer than the waiters, or notify(n) for any n.
    const auto mode = *any_in_range(0, 3);
    const bool all = mode == 0;
    const auto n = all ? std::int64_t{-1} : *any_in_range<std::int64_t>(0, mode == 1 ? k : k + 2);
    const auto hold_us = *rc::gen::inRange<std::uint32_t>(0, 3000);
    // Waiters that should not be woken need a finite deadline, short enough
    // for the case, long enough that nobody times out before the notify.
    const bool everyone = all || n >= k;
    const std::int64_t wait_ns = everyone ? long_wait() : scaled_ms(600);
    // Blocked: every waiter is seen asleep in wait before the notifier
    // starts. Racing: the notifier starts once every waiter took the lock,
    // so it gets the lock the moment the last waiter's wait lets it go and
    // notifies while that waiter is on its way to sleep (a wakeup lost in
    // that window shows).
    const bool racing = *rc::gen::arbitrary<bool>();
    std::vector<std::vector<Op>> plans;
    // Racing waiters hold the lock a moment before waiting, so the notifier
    // is already blocked on it when the wait lets it go.
    const std::uint32_t before_wait_us = racing ? 2000 : 0;
    for (int w = 0; w < k; ++w) plans.push_back({acquire(long_wait()), wait(wait_ns, before_wait_us), unlock()});
    plans.push_back({wait_gate(), acquire(long_wait()), all ? call(OpKind::notify_all) : notify(n), unlock(hold_us)});
    auto scenario = condition_scenario(kind, start, std::move(plans));
    for (int w = 0; w < k; ++w) {
      scenario.control.push_back(racing ? step(ControlKind::await_completed, w, 0) : step(ControlKind::await_blocked, w, 1));
    }
    scenario.control.push_back(step(ControlKind::open_gate, k));
    scenario.control.push_back(step(ControlKind::await_completed, k, 3));
    for (int w = 0; w < k; ++w) scenario.control.push_back(step(ControlKind::await_completed, w, 2));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario&, const RunResult& run) {
      const auto notifier = static_cast<std::uint32_t>(k);
      const std::string call = all ? "notify_all()" : "notify(" + std::to_string(n) + ")";
      auto v = expect_outcome(first_record(run, notifier, 1), errc::ok, clause, "the notifier's acquire");
      const auto notified = first_record(run, notifier, 2);
      v = merge(v, expect_outcome(notified, errc::ok, clause, call + " holding the lock"));
      const auto released = first_record(run, notifier, 3);
      v = merge(v, expect_outcome(released, errc::ok, clause, "the notifier's release"));
      if (!v.empty()) return v;
      int pending = 0, woken = 0;
      for (int w = 0; w < k; ++w) {
        const auto record = first_record(run, w, 1);
        const std::string who = "waiter " + std::to_string(w);
        v = merge(v, expect_outcome(first_record(run, w, 0), errc::ok, clause, who + "'s acquire"));
        auto outcome = expect_outcome(record, errc::ok, clause, who + "'s " + wait_text(wait_ns));
        if (!outcome.empty()) {
          v = merge(v, outcome);
          continue;
        }
        const bool was_pending = record->t_complete > notified->t_invoke;
        pending += was_pending ? 1 : 0;
        if (record->value == 1) {
          ++woken;
          if (!was_pending) {
            v.push_back({clause, who + "'s wait returned true " + us_text(notified->t_invoke - record->t_complete) +
                                     " before " + call + " was called"});
          }
          if (released->completed) {
            Record since_release = *record;
            since_release.t_invoke = released->t_complete;
            v = merge(v, expect_prompt(since_release, 0, clause,
                                       who + "'s wait returning true after the notifier released the lock"));
          }
        } else {
          v = merge(v, expect_false_after(record, wait_ns, clause, who + "'s " + wait_text(wait_ns) + " not woken"));
        }
        v = merge(v, expect_outcome(first_record(run, w, 2), errc::ok, clause, who + "'s release after its wait"));
      }
      const int expected = all ? pending : static_cast<int>(std::min<std::int64_t>(n, pending));
      if (woken != expected) {
        v.push_back({clause, std::to_string(woken) + " of " + std::to_string(k) + " waiters returned true after " + call +
                                 " with " + std::to_string(pending) + " waiting; expected " + std::to_string(expected)});
      }
      return v;
    }));
  });
}

// Waiters and a notifier in 2 to 6 processes: every wait returns holding
// the lock (to the same recursion depth for an RLock), so the unprotected
// read-modify-writes of a shared counter before and after each wait, and in
// the notifier's sections, never overlap: every value is read exactly once.
IPCC_CONFORMANCE_TEST(SyncConformance, ConditionWaitReacquires, "condition.wait.reacquires") {
  IPCC_REQUIRE(condition_supported(), "condition (with lock or rlock)");
  const std::string clause = "condition.wait.reacquires";
  for (auto kind : supported_lock_kinds(kBothKinds)) {
    SCOPED_TRACE(std::string(to_string(kind)));
    expect_isolated([kind](Expect& expect) {
      auto cond = make_condition_or_note(expect, {kind});
      if (!cond) return;
      const std::string name = name_of(kind);
      const int depth = kind == LockKind::rlock ? 3 : 1;
      for (int i = 0; i < depth; ++i) {
        if (!expect.ok(cond->acquire(Deadline::now()), name + ": acquire #" + std::to_string(i + 1))) return;
      }
      for (auto deadline : {Deadline::now(), Deadline::after(milliseconds(20))}) {
        auto waited = cond->wait(deadline);
        expect.that(waited && !*waited, name + ": timed wait holding the lock " + std::to_string(depth) + " time(s)");
      }
      if (kind == LockKind::lock) {
        expect.outcome(cond->acquire(Deadline::now()), errc::timeout, name + ": acquire(block=False) after wait: still held");
      }
      for (int i = 0; i < depth; ++i) {
        expect.ok(cond->release(), name + ": release #" + std::to_string(i + 1) + " of " + std::to_string(depth) + " after wait");
      }
      if (kind == LockKind::rlock) {
        expect.outcome(cond->release(), errc::not_owner, name + ": one release more than the depth before the wait");
      } else {
        expect.outcome(cond->release(), errc::released_too_many_times, name + ": a second release");
      }
      expect.outcome(cond->wait(Deadline::now()), errc::not_owner, name + ": wait after the last release");
      if (expect.ok(cond->acquire(Deadline::now()), name + ": acquire after the releases")) expect.ok(cond->release(), "release");
    });
  }
  check_property(12, [clause] {
    const auto kind = *lock_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const auto waiters = *any_in_range(1, 6);
    std::vector<std::vector<Op>> plans;
    std::int64_t adds = 0;
    for (int w = 0; w < waiters; ++w) {
      std::vector<Op> ops;
      const auto rounds = *any_in_range(1, 4);
      for (int r = 0; r < rounds; ++r) {
        const int depth = kind == LockKind::rlock ? *any_in_range(1, 4) : 1;
        ops.push_back(acquire(long_wait(), *rc::gen::inRange<std::uint32_t>(0, 2000)));
        for (int d = 1; d < depth; ++d) ops.push_back(acquire(0));
        ops.push_back(counter_add(*section_pause()));
        ops.push_back(wait(*rc::gen::oneOf(rc::gen::just<std::int64_t>(0),
                                           rc::gen::map(any_in_range<std::int64_t>(1, 31), [](std::int64_t m) { return ms(m); }))));
        ops.push_back(counter_add(*section_pause()));
        for (int d = 0; d < depth; ++d) ops.push_back(unlock());
        adds += 2;
      }
      plans.push_back(std::move(ops));
    }
    std::vector<Op> notifier;
    const auto rounds = *any_in_range(1, 7);
    for (int r = 0; r < rounds; ++r) {
      notifier.push_back(acquire(long_wait(), *rc::gen::inRange<std::uint32_t>(0, 5000)));
      notifier.push_back(counter_add(*section_pause()));
      notifier.push_back(*rc::gen::element(call(OpKind::notify_all), notify(1), notify(2)));
      notifier.push_back(unlock());
      ++adds;
    }
    plans.push_back(std::move(notifier));
    auto scenario = condition_scenario(kind, start, std::move(plans));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario& s, const RunResult& run) {
      std::vector<Violation> v;
      std::vector<std::int64_t> seen;
      for (std::uint32_t p = 0; p < s.processes.size(); ++p) {
        const auto& ops = s.processes[p].ops;
        for (std::uint32_t i = 0; i < ops.size(); ++i) {
          const auto record = first_record(run, p, i);
          const std::string what = "p" + std::to_string(p) + " #" + std::to_string(i) + " " + call_text(ops[i]);
          switch (ops[i].kind) {
            case OpKind::counter_add:
              if (record && record->completed) seen.push_back(record->value);
              break;
            case OpKind::unlock:
              v = merge(v, expect_outcome(record, errc::ok, clause, what + " (a release after wait: the lock is held as deep as before)"));
              break;
            default:
              v = merge(v, expect_outcome(record, errc::ok, clause, what));
          }
        }
      }
      std::sort(seen.begin(), seen.end());
      for (std::size_t i = 0; i < seen.size(); ++i) {
        if (seen[i] != static_cast<std::int64_t>(i)) {
          v.push_back({clause, "the shared counter's reads under the lock are not 0.." + std::to_string(seen.size() - 1) +
                                   " each once (read " + std::to_string(seen[i]) + " as the " + std::to_string(i + 1) +
                                   "th smallest): two sections overlapped"});
          break;
        }
      }
      if (run.history.shared.present && run.history.shared.counter != adds) {
        v.push_back({clause, "the shared counter ended at " + std::to_string(run.history.shared.counter) + " after " +
                                 std::to_string(adds) + " increments under the lock"});
      }
      return v;
    }));
  });
}

// notify(n) and notify_all() with nobody waiting succeed and are not
// remembered: a later wait, in the same or another process, times out.
// Also when an earlier waiter gave up before the notifies, and when the
// notifies found fewer waiters (0 to 2) than they could wake: the surplus
// is not kept for later waits either.
IPCC_CONFORMANCE_TEST(SyncConformance, ConditionNotifyNoWaiters, "condition.notify.no-waiters") {
  IPCC_REQUIRE(condition_supported(), "condition (with lock or rlock)");
  const std::string clause = "condition.notify.no-waiters";
  for (auto kind : supported_lock_kinds(kBothKinds)) {
    SCOPED_TRACE(std::string(to_string(kind)));
    expect_isolated([kind](Expect& expect) {
      auto cond = make_condition_or_note(expect, {kind});
      if (!cond || !expect.ok(cond->acquire(Deadline::now()), "acquire")) return;
      const std::string name = name_of(kind);
      for (std::int64_t n : {1, 0, 5}) expect.ok(cond->notify(n), name + ": notify(" + std::to_string(n) + ") with nobody waiting");
      expect.ok(cond->notify_all(), name + ": notify_all() with nobody waiting");
      const auto wait = milliseconds(30);
      auto [waited, took] = timed([&] { return cond->wait(Deadline::after(wait)); });
      expect.that(waited && !*waited, name + ": wait(30 ms) after notifies with nobody waiting returns false");
      expect_duration(expect, took, wait, name + ": wait(30 ms) after notifies with nobody waiting");
      expect.ok(cond->release(), name + ": release");
    });
  }
  check_property(10, [clause] {
    const auto kind = *lock_kind_choice(kBothKinds);
    const auto start = *start_method_choice();
    const bool same_process = *rc::gen::arbitrary<bool>();
    const bool stale = *rc::gen::arbitrary<bool>();
    // Waiters blocked during the notifies (0 to 2): a final notify_all()
    // wakes them; what the notifies had beyond them is not kept either.
    const auto blocked = *any_in_range(0, 3);
    auto calls = *rc::gen::container<std::vector<Op>>(
        *any_in_range<std::size_t>(1, 5),
        rc::gen::oneOf(rc::gen::just(call(OpKind::notify_all)),
                       rc::gen::map(any_in_range<std::int64_t>(0, 4), [](std::int64_t n) { return notify(n); })));
    if (blocked > 0) calls.push_back(call(OpKind::notify_all));
    const auto stale_wait = ms(*any_in_range<std::int64_t>(1, 21));
    const auto wait_ns = ms(*any_in_range<std::int64_t>(20, 151));
    // The waiter (optionally a wait that gives up first), then the
    // notifier's calls (in the waiter's process or another), then the
    // waiter's wait that must time out.
    std::vector<Op> waiter, notifier;
    std::uint32_t stale_at = 0;
    if (stale) {
      push(waiter, acquire(long_wait()));
      stale_at = push(waiter, wait(stale_wait));
      push(waiter, unlock());
    }
    std::vector<Op>& first = same_process ? waiter : notifier;
    push(first, wait_gate());
    push(first, acquire(long_wait()));
    std::vector<std::uint32_t> call_at;
    for (const auto& op : calls) call_at.push_back(push(first, op));
    push(first, unlock());
    if (!same_process) push(waiter, wait_gate());
    push(waiter, acquire(long_wait()));
    const auto wait_at = push(waiter, wait(wait_ns));
    push(waiter, unlock());
    std::vector<std::vector<Op>> plans = {waiter};
    if (!same_process) plans.push_back(notifier);
    const auto notifier_p = static_cast<std::uint32_t>(same_process ? 0 : 1);
    const auto first_blocked = static_cast<std::uint32_t>(plans.size());
    for (int b = 0; b < blocked; ++b) plans.push_back({acquire(long_wait()), wait(long_wait()), unlock()});
    auto scenario = condition_scenario(kind, start, plans);
    auto& control = scenario.control;
    if (stale) control.push_back(step(ControlKind::await_completed, 0, stale_at + 1));
    for (int b = 0; b < blocked; ++b) control.push_back(step(ControlKind::await_blocked, first_blocked + b, 1));
    control.push_back(step(ControlKind::open_gate, notifier_p));
    if (!same_process) {
      control.push_back(step(ControlKind::await_exit, notifier_p));
      control.push_back(step(ControlKind::open_gate, 0));
    }
    for (std::uint32_t p = 0; p < plans.size(); ++p) control.push_back(step(ControlKind::await_exit, p));
    replay_cached_failure(scenario);
    fail_case_if(scenario, run_sync_case(scenario, checks_for(scenario), [=](const Scenario& s, const RunResult& run) {
      std::vector<Violation> v;
      for (std::uint32_t p = 0; p < s.processes.size(); ++p) {
        const auto& ops = s.processes[p].ops;
        for (std::uint32_t i = 0; i < ops.size(); ++i) {
          if (ops[i].kind == OpKind::acquire || ops[i].kind == OpKind::unlock) {
            v = merge(v, expect_outcome(first_record(run, p, i), errc::ok, clause,
                                        "p" + std::to_string(p) + " #" + std::to_string(i) + " " + call_text(ops[i])));
          }
        }
      }
      if (stale) {
        v = merge(v, expect_false_after(first_record(run, 0, stale_at), stale_wait, clause,
                                        "an earlier " + wait_text(stale_wait) + " with no notifier"));
      }
      const std::string waiting = blocked == 0 ? "nobody" : std::to_string(blocked);
      for (std::size_t i = 0; i < call_at.size(); ++i) {
        v = merge(v, expect_outcome(first_record(run, notifier_p, call_at[i]), errc::ok, clause,
                                    call_text(calls[i]) + " with " + waiting + " waiting"));
      }
      for (int b = 0; b < blocked; ++b) {
        v = merge(v, expect_value(first_record(run, first_blocked + b, 1), 1, "condition.notify.wakes",
                                  "blocked waiter " + std::to_string(b) + "'s wait() when notify_all() was called"));
      }
      return merge(v, expect_false_after(first_record(run, 0, wait_at), wait_ns, clause,
                                         wait_text(wait_ns) + " begun after notifies that found " + waiting + " waiting"));
    }));
  });
}

}  // namespace ipcc::conformance::sync
