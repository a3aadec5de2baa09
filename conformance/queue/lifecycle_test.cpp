// Queue conformance: close, the flush at a process's end, and processes
// killed in the middle of an operation (spec/queue.md, "Lifecycle" and
// "Killed processes").
#include <algorithm>

#include "queue_support.h"

namespace ipcc::conformance::queue {
namespace {

const std::vector<QueueKind> kAllKinds = {QueueKind::queue, QueueKind::simple_queue, QueueKind::joinable_queue};

// A generated case of one or more producers whose items a consumer takes
// only after they all ended.
struct ProducersCase {
  QueueKind kind = QueueKind::queue;
  StartMethod start = StartMethod::fork;
  std::vector<std::vector<std::int64_t>> items;
  std::vector<bool> explicit_release;  // release the copy, then _exit (no other cleanup)
};

void showValue(const ProducersCase& c, std::ostream& os) {
  os << to_string(c.kind) << " start=" << fixtures::to_string(c.start) << " producers=[";
  for (std::size_t p = 0; p < c.items.size(); ++p) {
    os << (p ? " " : "") << (c.explicit_release[p] ? "release+_exit" : "end") << ":[";
    for (std::size_t i = 0; i < c.items[p].size(); ++i) os << (i ? "," : "") << c.items[p][i];
    os << "]";
  }
  os << "]";
}

rc::Gen<ProducersCase> producers_case(const std::vector<QueueKind>& kinds, int max_items) {
  return rc::gen::exec([=] {
    ProducersCase c;
    c.kind = *kind_choice(kinds);
    c.start = *start_method_choice();
    const int producers = *rc::gen::inRange(1, 4);
    for (int p = 0; p < producers; ++p) {
      c.items.push_back(*rc::gen::resize(max_items, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(item_size()))));
      c.explicit_release.push_back(*rc::gen::arbitrary<bool>());
    }
    return c;
  });
}

// Producers put and end; the last process starts after they all exited and
// drains the queue.
Scenario producers_then_consumer(const ProducersCase& c, std::vector<Op> producer_end) {
  std::vector<std::vector<Op>> processes;
  for (std::size_t p = 0; p < c.items.size(); ++p) {
    std::vector<Op> ops;
    for (auto size : c.items[p]) ops.push_back(put(size));
    ops.insert(ops.end(), producer_end.begin(), producer_end.end());
    if (c.explicit_release[p]) {
      ops.push_back(call(OpKind::release));
      ops.push_back(exit_now());
    }
    processes.push_back(std::move(ops));
  }
  processes.push_back({wait_gate(), get_until_empty(0)});
  Scenario scenario = queue_scenario({c.kind, 0}, c.start, std::move(processes));
  const auto consumer = static_cast<std::uint32_t>(c.items.size());
  for (std::uint32_t p = 0; p < consumer; ++p) scenario.control.push_back(step(ControlKind::await_exit, p, 0, 5000));
  scenario.control.push_back(step(ControlKind::open_gate, consumer));
  return scenario;
}

// Every control step of `run` was reached; else a violation of `clause`.
std::vector<Violation> steps_reached(const RunResult& run, const std::string& clause, const std::string& what) {
  std::vector<Violation> found;
  for (const auto& r : run.history.by_process.back()) {
    if (r.kind == OpKind::control && r.control == ControlKind::await_exit && !r.completed) {
      found.push_back({clause, what + " (controller step " + std::to_string(r.op) + ")"});
    }
  }
  return found;
}

}  // namespace

namespace {

// Fills a `kind` queue with `queued` items, closes it, and expects every
// operation of this process to report closed, and a second close() to
// succeed.
void expect_closed_after_close(Expect& expect, QueueKind kind, std::int64_t maxsize, int queued) {
  auto q = make_queue_or_note(expect, {kind, maxsize});
  if (!q) return;
  for (int i = 0; i < queued; ++i) expect.ok(q->put(item(static_cast<std::uint32_t>(i)), soon()), "put");
  expect.ok(q->close(), "close()");
  expect.that(q->closed(), "closed() is false after close()");
  expect.outcome(q->put(item(100)), errc::closed, "put after close()");
  expect.outcome(q->put_nowait(item(101)), errc::closed, "put_nowait after close()");
  expect.outcome(q->get(soon()), errc::closed, "get after close()");
  expect.outcome(q->get_nowait(), errc::closed, "get_nowait after close()");
  if (kind == QueueKind::joinable_queue) {
    expect.outcome(q->task_done(), errc::closed, "task_done after close()");
    expect.outcome(q->join(soon()), errc::closed, "join after close()");
  }
  expect.ok(q->close(), "a second close()");
}

}  // namespace

// After close(), this process's put, get, join and task_done report closed;
// a second close() succeeds. Every supported kind every run (one item
// queued), then generated kinds, bounds and fill levels.
IPCC_CONFORMANCE_TEST(QueueConformance, CloseThenClosed, "queue.close.then-closed") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  expect_isolated([](Expect& expect) {
    for (auto kind : supported_kinds(kAllKinds)) expect_closed_after_close(expect, kind, 0, 1);
  });
  check_property(6, [] {
    const auto kind = *kind_choice(kAllKinds);
    const auto maxsize = *maxsize_choice(kind);
    const auto queued = static_cast<int>(std::min<std::int64_t>(*rc::gen::inRange(0, 3), maxsize > 0 ? maxsize : 3));
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, queued);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) { expect_closed_after_close(expect, kind, maxsize, queued); }));
  });
}

// close() in one process leaves the others' copies working, and items put
// before the close are still delivered.
IPCC_CONFORMANCE_TEST(QueueConformance, CloseIsLocal, "queue.close.local") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  check_property(8, [] {
    const auto kind = *kind_choice(kAllKinds);
    const auto start = *start_method_choice();
    const auto count = *rc::gen::inRange(1, 5);
    const auto key = std::make_tuple(std::string(to_string(kind)), std::string(fixtures::to_string(start)), count);
    replay_cached_failure(key);
    std::vector<Op> closer(static_cast<std::size_t>(count), put(64));
    closer.push_back(call(OpKind::close));
    closer.push_back(wait_gate());
    std::vector<Op> other = {wait_gate()};
    for (int i = 0; i < count; ++i) other.push_back(get(item_wait()));
    other.push_back(put(32));
    other.push_back(get(item_wait()));
    Scenario scenario = queue_scenario({kind, 0}, start, {closer, other});
    scenario.control = {step(ControlKind::await_completed, 0, static_cast<std::uint32_t>(count)),
                        step(ControlKind::open_gate, 1), step(ControlKind::await_exit, 1), step(ControlKind::open_gate, 0)};
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, false), [count](const Scenario&, const RunResult& run) {
      const std::string clause = "queue.close.local";
      std::vector<Violation> found = expect_outcome(first_record(run, 0, static_cast<std::uint32_t>(count)), errc::ok,
                                                    clause, "close() in p0");
      for (std::uint32_t op = 1; op <= static_cast<std::uint32_t>(count) + 2; ++op) {
        auto more = expect_outcome(first_record(run, 1, op), errc::ok, clause,
                                   "p1's op " + std::to_string(op) + " after p0 closed its copy");
        found.insert(found.end(), more.begin(), more.end());
      }
      return found;
    }));
  });
}

// Everything a producer put before its normal end is delivered, although no
// consumer ran until it had ended.
IPCC_CONFORMANCE_TEST(QueueConformance, FlushOnExit, "queue.flush.on-exit") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  check_property(12, [] {
    ProducersCase c = *producers_case(kAllKinds, 6);
    replay_cached_failure(c);
    fail_case_if(c, run_queue_case(producers_then_consumer(c, {}), checks_for(c.kind, true),
                                   [](const Scenario&, const RunResult& run) {
                                     return steps_reached(run, "queue.flush.on-exit", "a producer did not end");
                                   }));
  });
}

// A producer whose items nobody took yet ends as declared: at once, or only
// once a consumer took them. Either way every item is delivered.
IPCC_CONFORMANCE_TEST(QueueConformance, UnconsumedExit, "queue.flush.unconsumed-exit") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  const auto effect = capabilities().queue.unconsumed_exit;
  check_property(6, [effect] {
    const auto kind = *kind_choice(kAllKinds);
    const auto start = *start_method_choice();
    // waits_for_consumers: at least 256 KiB, more than a pipe buffer holds.
    // exits_at_once: within the declared storage (storage_bytes each).
    auto items = *rc::gen::inRange(4, 17);
    std::int64_t item_bytes = 64 * 1024;
    if (effect == UnconsumedExitEffect::exits_at_once) {
      const auto storage = static_cast<std::int64_t>(std::min<std::uint64_t>(capabilities().queue.min_storage_bytes, 1u << 30));
      constexpr auto overhead = static_cast<std::int64_t>(kItemOverheadBytes);
      items = static_cast<int>(std::clamp<std::int64_t>(storage / overhead, 1, items));
      item_bytes = std::clamp<std::int64_t>(storage / items - overhead, 0, item_bytes);
    }
    const auto key = std::make_tuple(std::string(to_string(kind)), std::string(fixtures::to_string(start)), items);
    replay_cached_failure(key);
    std::vector<Op> producer(static_cast<std::size_t>(items), put(item_bytes));
    std::vector<Op> consumer(static_cast<std::size_t>(items), get(item_wait()));
    consumer.insert(consumer.begin(), wait_gate());
    consumer.push_back(get_until_empty(0));
    Scenario scenario = queue_scenario({kind, 0}, start, {producer, consumer});
    if (effect == UnconsumedExitEffect::exits_at_once) {
      scenario.control = {step(ControlKind::await_exit, 0, 0, 5000), step(ControlKind::open_gate, 1)};
    } else {
      // Puts beyond min_storage_bytes may block until a consumer runs (a
      // simple_queue writes to its pipe in put); the producer then cannot
      // end either, which is what the clause asks.
      ControlStep puts_done = step(ControlKind::await_completed, 0, static_cast<std::uint32_t>(items - 1), 1000);
      puts_done.may_time_out = true;
      ControlStep still_running = step(ControlKind::await_exit, 0, 0, 100);
      still_running.may_time_out = true;
      scenario.control = {puts_done, still_running, step(ControlKind::open_gate, 1), step(ControlKind::await_exit, 0)};
    }
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, false), [effect, items](const Scenario&, const RunResult& run) {
      const std::string clause = "queue.flush.unconsumed-exit";
      std::vector<Violation> found;
      std::int64_t got = 0;
      for (const auto& r : run.history.by_process[1]) {
        if ((r.kind == OpKind::get || r.kind == OpKind::get_until_empty) && r.outcome == errc::ok) ++got;
      }
      if (got != items) {
        found.push_back({clause, "the consumer got " + std::to_string(got) + " of " + std::to_string(items) + " items"});
      }
      if (effect == UnconsumedExitEffect::waits_for_consumers) {
        auto early = control_record(run, 1);
        if (early && early->completed) found.push_back({clause, "the producer ended before anyone took its items (declared waits_for_consumers)"});
      }
      return found;
    }));
  });
}

// After cancel_join_thread(), a producer ends without waiting; what it put
// may be lost but never arrives corrupted, duplicated or reordered, and the
// queue keeps working for the others.
IPCC_CONFORMANCE_TEST(QueueConformance, FlushOptOut, "queue.flush.opt-out") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  check_property(10, [] {
    ProducersCase c = *producers_case(kAllKinds, 6);
    replay_cached_failure(c);
    Scenario scenario = producers_then_consumer(c, {call(OpKind::cancel_join)});
    const auto user = static_cast<std::uint32_t>(scenario.processes.size());
    scenario.processes.push_back(ProcessPlan{{kQueue}, {wait_gate(), put(48), get(item_wait())}});
    scenario.control.push_back(step(ControlKind::await_exit, user - 1));
    scenario.control.push_back(step(ControlKind::open_gate, user));
    fail_case_if(c, run_queue_case(scenario, checks_for(c.kind, false), [user](const Scenario&, const RunResult& run) {
      const std::string clause = "queue.flush.opt-out";
      auto found = steps_reached(run, clause, "a producer that opted out did not end promptly");
      auto more = expect_outcome(first_record(run, user, 2), errc::ok, clause, "a get after the opted-out producers ended");
      found.insert(found.end(), more.begin(), more.end());
      return found;
    }));
  });
}

namespace {

// Under `may_wedge`: the step that gives a survivor 4 s (scaled) to end and
// then lets the script go on, so that the case's kill_stragglers kills it as
// wedged instead of a TIMEOUT. Two such steps fit in the case deadline.
ControlStep wedge_window(std::uint32_t survivor) {
  ControlStep ended = step(ControlKind::await_exit, survivor, 0, 4000);
  ended.may_time_out = true;
  return ended;
}

std::vector<Violation> judge_survivors(const RunResult& run, KilledProcessEffect effect, const std::string& clause,
                                       const std::vector<std::uint32_t>& survivors) {
  std::vector<Violation> found;
  for (auto p : survivors) {
    for (const auto& r : run.history.by_process[p]) {
      if (r.kind == OpKind::wait_gate || r.kind == OpKind::control) continue;
      const bool fine = r.completed && (r.outcome == errc::ok || (r.kind == OpKind::get_until_empty && r.outcome == errc::empty));
      if (fine) continue;
      if (effect == KilledProcessEffect::may_wedge) continue;
      if (effect == KilledProcessEffect::reports_broken && r.completed && r.outcome == errc::broken) continue;
      found.push_back({clause, "survivor " + fixtures::format_record(r, 0) + " (declared " +
                                   (effect == KilledProcessEffect::unaffected ? "unaffected" : "reports_broken") + ")"});
    }
  }
  return found;
}

}  // namespace

// A consumer killed while blocked in get leaves the queue as declared; with
// `unaffected`, producers and consumers after it keep working and every item
// is delivered.
IPCC_CONFORMANCE_TEST(QueueConformance, KilledConsumer, "queue.killed.consumer") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  const auto effect = capabilities().queue.killed_consumer;
  check_property(8, [effect] {
    const auto kind = *kind_choice(kAllKinds);
    const auto maxsize = *maxsize_choice(kind);
    const auto start = *start_method_choice();
    const auto count = *rc::gen::inRange(1, 5);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, std::string(fixtures::to_string(start)), count);
    replay_cached_failure(key);
    const std::int64_t wait = item_wait();
    std::vector<Op> producer = {wait_gate()};
    for (int i = 0; i < count; ++i) producer.push_back(put(256, wait));
    std::vector<Op> consumer = {wait_gate()};
    for (int i = 0; i < count; ++i) consumer.push_back(get(wait));
    consumer.push_back(put(8, wait));
    consumer.push_back(get_until_empty(0));
    Scenario scenario = queue_scenario({kind, maxsize}, start, {{get()}, producer, consumer});
    scenario.control = {step(ControlKind::await_blocked, 0, 0), step(ControlKind::kill, 0), step(ControlKind::await_exit, 0),
                        step(ControlKind::open_gate, 1), step(ControlKind::open_gate, 2)};
    const bool wedge = effect == KilledProcessEffect::may_wedge;
    if (wedge) {
      // Survivors may wait for ever: they get a window to end, and whoever
      // is still waiting after it is killed, not a TIMEOUT.
      scenario.control.push_back(wedge_window(1));
      scenario.control.push_back(wedge_window(2));
      scenario.kill_stragglers = true;
    }
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, !wedge), [effect](const Scenario&, const RunResult& run) {
      return judge_survivors(run, effect, "queue.killed.consumer", {1, 2});
    }));
  });
}

// A producer killed in the middle of a put (copying a large item, or asleep
// on a full queue) leaves the queue as declared; its item arrives whole or
// not at all.
IPCC_CONFORMANCE_TEST(QueueConformance, KilledProducer, "queue.killed.producer") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  const auto effect = capabilities().queue.killed_producer;
  check_property(10, [effect] {
    const auto kind = *kind_choice(kAllKinds);
    const bool on_full = kind != QueueKind::simple_queue && *rc::gen::arbitrary<bool>();
    const auto maxsize = on_full ? *maxsize_choice(kind, true) : std::int64_t{0};
    const auto start = *start_method_choice();
    const auto large = static_cast<std::int64_t>(std::min<std::uint64_t>(capabilities().queue.max_item_bytes, 16u << 20));
    const auto count = *rc::gen::inRange(1, 5);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, std::string(fixtures::to_string(start)), count);
    replay_cached_failure(key);
    const std::int64_t wait = item_wait();
    std::vector<Op> producer = {wait_gate()};
    for (int i = 0; i < count; ++i) producer.push_back(put(256, wait));
    // The consumer drains only once the surviving producer ended: the killed
    // put may have completed, and then the counted gets leave one of the
    // survivor's items for the drain.
    std::vector<Op> consumer = {wait_gate()};
    for (int i = 0; i < count + maxsize; ++i) consumer.push_back(get(wait));
    consumer.push_back(wait_gate());
    consumer.push_back(get_until_empty(0));
    Scenario scenario = queue_scenario({kind, maxsize}, start, {{put(on_full ? 64 : large)}, producer, consumer});
    for (std::int64_t i = 0; i < maxsize; ++i) scenario.prelude.push_back(put(16));
    const bool wedge = effect == KilledProcessEffect::may_wedge;
    // Its puts or its end may wait for ever.
    const ControlStep survivor_ended = wedge ? wedge_window(1) : step(ControlKind::await_exit, 1);
    // On a full queue the put sleeps; a large put is killed as soon as it
    // started, mostly in the middle of its copy.
    scenario.control = {step(on_full ? ControlKind::await_blocked : ControlKind::await_invoked, 0, 0),
                        step(ControlKind::kill, 0), step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1),
                        step(ControlKind::open_gate, 2), survivor_ended, step(ControlKind::open_gate, 2)};
    if (wedge) {
      scenario.control.push_back(wedge_window(2));
      scenario.kill_stragglers = true;  // whoever still waits after that is accepted
    }
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, !wedge), [effect](const Scenario&, const RunResult& run) {
      return judge_survivors(run, effect, "queue.killed.producer", {1, 2});
    }));
  });
}

}  // namespace ipcc::conformance::queue
