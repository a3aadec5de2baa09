// Queue conformance: JoinableQueue's task accounting (spec/queue.md,
// "JoinableQueue").
#include "queue_support.h"

namespace ipcc::conformance::queue {

// task_done beyond the unfinished count is refused and changes nothing.
IPCC_CONFORMANCE_TEST(QueueConformance, TaskDoneTooMany, "joinable-queue.task-done.too-many") {
  IPCC_REQUIRE(supports(QueueKind::joinable_queue), "joinable_queue");
  check_property(6, [] {
    const auto maxsize = *maxsize_choice(QueueKind::joinable_queue);
    const auto count = static_cast<int>(std::min<std::int64_t>(*rc::gen::inRange(0, 4), maxsize > 0 ? maxsize : 4));
    const auto key = std::make_tuple(maxsize, count);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) {
      auto q = make_queue_or_note(expect, {QueueKind::joinable_queue, maxsize});
      if (!q) return;
      for (int i = 0; i < count; ++i) expect.ok(q->put(item(static_cast<std::uint32_t>(i)), soon()), "put");
      for (int i = 0; i < count; ++i) expect.ok(q->task_done(), "task_done #" + std::to_string(i));
      expect.outcome(q->task_done(), errc::too_many_task_done, "task_done once every put had one");
      expect.outcome(q->task_done(), errc::too_many_task_done, "task_done again");
      expect.ok(q->join(soon()), "join with no unfinished task");
      for (int i = 0; i < count; ++i) expect.ok(q->get(soon()), "get");
      // The refused calls left the count at zero: one put needs one task_done.
      expect.ok(q->put(item(50), soon()), "put after the refused task_done");
      expect.outcome(q->join(Deadline::after(std::chrono::milliseconds(20))), errc::timeout,
                     "join with one unfinished task");
      expect.ok(q->task_done(), "task_done for that put");
      expect.ok(q->join(soon()), "join after it");
    }));
  });
}

// The unfinished count follows put, not get: another process may call
// task_done for every put before anyone got an item.
IPCC_CONFORMANCE_TEST(QueueConformance, TaskDoneCountsPuts, "joinable-queue.task-done.counts-puts") {
  IPCC_REQUIRE(supports(QueueKind::joinable_queue), "joinable_queue");
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto count = *rc::gen::inRange(1, 6);
    const auto key = std::make_tuple(std::string(fixtures::to_string(start)), count);
    replay_cached_failure(key);
    std::vector<Op> producer(static_cast<std::size_t>(count), put(32));
    std::vector<Op> marker = {wait_gate()};
    for (int i = 0; i < count; ++i) marker.push_back(call(OpKind::task_done));
    marker.push_back(join(scaled_ms(2000)));
    marker.push_back(get_until_empty(0));
    Scenario scenario = queue_scenario({QueueKind::joinable_queue, 0}, start, {producer, marker});
    scenario.control = {step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1)};
    fail_case_if(key, run_queue_case(scenario, checks_for(QueueKind::joinable_queue, true),
                                     [count](const Scenario&, const RunResult& run) {
                                       std::vector<Violation> found;
                                       for (std::uint32_t op = 1; op <= static_cast<std::uint32_t>(count) + 1; ++op) {
                                         auto more = expect_outcome(first_record(run, 1, op), errc::ok,
                                                                    "joinable-queue.task-done.counts-puts",
                                                                    "p1's op " + std::to_string(op) + " before any get");
                                         found.insert(found.end(), more.begin(), more.end());
                                       }
                                       return found;
                                     }));
  });
}

// join() blocks while any task is unfinished, also the last one, and returns
// once the last task_done came, from whichever process.
IPCC_CONFORMANCE_TEST(QueueConformance, JoinWaitsForAll, "joinable-queue.join.waits-for-all") {
  IPCC_REQUIRE(supports(QueueKind::joinable_queue), "joinable_queue");
  check_property(8, [] {
    const auto start = *start_method_choice();
    const auto count = *rc::gen::inRange(1, 5);
    const auto workers = *rc::gen::inRange(1, 3);
    const auto key = std::make_tuple(std::string(fixtures::to_string(start)), count, workers);
    replay_cached_failure(key);
    // p0 puts everything; p1 joins; workers take items and mark them done;
    // the last task_done waits at its own gate.
    std::vector<std::vector<Op>> processes;
    processes.push_back(std::vector<Op>(static_cast<std::size_t>(count), put(16)));
    processes.push_back({wait_gate(), join(0), join(kNoLimit)});
    for (int w = 0; w < workers; ++w) processes.push_back({wait_gate()});
    for (int i = 0; i < count; ++i) {
      auto& ops = processes[2 + static_cast<std::size_t>(i % workers)];
      ops.push_back(get(item_wait()));
      if (i == count - 1) ops.push_back(wait_gate());
      ops.push_back(call(OpKind::task_done));
    }
    const auto last_worker = static_cast<std::uint32_t>(2 + (count - 1) % workers);
    Scenario scenario = queue_scenario({QueueKind::joinable_queue, 0}, start, std::move(processes));
    scenario.control.push_back(step(ControlKind::await_exit, 0));
    scenario.control.push_back(step(ControlKind::open_gate, 1));
    scenario.control.push_back(step(ControlKind::await_completed, 1, 1));
    for (int w = 0; w < workers; ++w) scenario.control.push_back(step(ControlKind::open_gate, 2 + static_cast<std::uint32_t>(w)));
    // Every worker but the last is done; the last holds its final task.
    for (int w = 0; w < workers; ++w) {
      const auto p = 2 + static_cast<std::uint32_t>(w);
      if (p != last_worker) scenario.control.push_back(step(ControlKind::await_exit, p));
    }
    const auto gate_op = static_cast<std::uint32_t>(scenario.processes[last_worker].ops.size() - 2);
    scenario.control.push_back(step(ControlKind::await_invoked, last_worker, gate_op));
    scenario.control.push_back(step(ControlKind::await_blocked, 1, 2));
    scenario.control.push_back(step(ControlKind::open_gate, last_worker));
    const auto blocked_step = static_cast<std::uint32_t>(scenario.control.size() - 2);
    fail_case_if(key, run_queue_case(scenario, checks_for(QueueKind::joinable_queue, false),
                                     [blocked_step](const Scenario&, const RunResult& run) {
                                       const std::string clause = "joinable-queue.join.waits-for-all";
                                       std::vector<Violation> found =
                                           expect_outcome(first_record(run, 1, 1), errc::timeout, clause,
                                                          "a try-once join with every task unfinished");
                                       auto joined = expect_outcome(first_record(run, 1, 2), errc::ok, clause, "the blocking join");
                                       found.insert(found.end(), joined.begin(), joined.end());
                                       auto blocked = control_record(run, blocked_step);
                                       if (!blocked || !blocked->completed) {
                                         found.push_back({clause, "join was not blocked while one task was unfinished"});
                                       }
                                       return found;
                                     }));
  });
  expect_isolated([](Expect& expect) {
    auto q = make_queue_or_note(expect, {QueueKind::joinable_queue, 0});
    if (!q) return;
    auto [result, elapsed] = timed([&] { return q->join(Deadline::never()); });
    expect.ok(result, "join on a new JoinableQueue");
    expect.that(elapsed <= fixtures::timing::upper_bound(std::chrono::nanoseconds(0)), "join with nothing unfinished waited");
  });
}

}  // namespace ipcc::conformance::queue
