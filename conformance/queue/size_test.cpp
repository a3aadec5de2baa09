// Queue conformance: qsize, empty and full, which are advisory under
// concurrency yet never nonsense, exact once the queue is quiet, and catch up
// with a put within a bounded delay (spec/queue.md, "qsize / empty / full").
#include "queue_support.h"

namespace ipcc::conformance::queue {
namespace {

const std::vector<QueueKind> kAllKinds = {QueueKind::queue, QueueKind::simple_queue, QueueKind::joinable_queue};

// Records of kind `kind` of process p, in order.
std::vector<Record> records_of_kind(const RunResult& run, std::uint32_t p, OpKind kind) {
  std::vector<Record> found;
  for (const auto& r : run.history.by_process[p]) {
    if (r.kind == kind && r.completed) found.push_back(r);
  }
  return found;
}

}  // namespace

// Producers and consumers ask qsize/empty/full among their puts and gets; a
// further process keeps asking throughout. Every answer lies within what the
// history makes possible.
IPCC_CONFORMANCE_TEST(QueueConformance, SizeAnswersWithinBounds, "queue.size.bounds") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  const bool qsize_supported = capabilities().queue.qsize;
  check_property(20, [qsize_supported] {
    FlowCase c = *flow_case(kAllKinds, 3, 3, 8, item_size(4096));
    c.queries = true;
    replay_cached_failure(c);
    Scenario scenario = flow_scenario(c);
    // The observer asks from the start, interleaved with everyone.
    std::vector<Op> observer;
    for (std::uint32_t i = 0; i < 24; ++i) {
      observer.push_back(call(c.kind == QueueKind::simple_queue ? OpKind::empty
                                                                : (i % 3 == 0 ? OpKind::qsize : i % 3 == 1 ? OpKind::empty : OpKind::full),
                              i * 50));
    }
    scenario.processes.push_back(ProcessPlan{{kQueue}, observer});
    fail_case_if(c, run_queue_case(scenario, checks_for(c.kind, true), [qsize_supported, kind = c.kind](const Scenario& s, const RunResult& run) {
      std::vector<Violation> found;
      if (kind == QueueKind::simple_queue || qsize_supported) return found;
      // qsize declared unsupported must say so, never answer a number.
      for (std::uint32_t p = 0; p < s.processes.size(); ++p) {
        for (const auto& r : records_of_kind(run, p, OpKind::qsize)) {
          if (r.outcome != errc::unsupported) {
            found.push_back({"queue.size.bounds", "qsize is declared unsupported but answered " +
                                                      std::string(to_string(r.outcome)) + " " + std::to_string(r.value)});
          }
        }
      }
      return found;
    }));
  });
}

// Once every producer and consumer ended, qsize, empty and full are exact at
// once in a further process, also as it takes items itself.
IPCC_CONFORMANCE_TEST(QueueConformance, SizeExactWhenQuiet, "queue.size.quiescent-exact") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  const bool qsize_supported = capabilities().queue.qsize;
  check_property(15, [qsize_supported] {
    FlowCase c = *flow_case(kAllKinds, 3, 2, 8, item_size(4096));
    const auto takes = *rc::gen::inRange<std::uint32_t>(0, 4);
    const auto key = std::make_tuple(c, takes);
    replay_cached_failure(key);
    Scenario scenario = flow_scenario(c);
    // The drainer first inspects, takes a few items inspecting after each,
    // then drains and inspects the empty queue.
    auto& inspector = scenario.processes[drainer_of(c)].ops;
    const std::vector<Op> inspect = c.kind == QueueKind::simple_queue
                                        ? std::vector<Op>{call(OpKind::empty)}
                                        : std::vector<Op>{call(OpKind::qsize), call(OpKind::empty), call(OpKind::full)};
    inspector = {wait_gate()};
    inspector.insert(inspector.end(), inspect.begin(), inspect.end());
    for (std::uint32_t i = 0; i < takes; ++i) {
      inspector.push_back(get(0));
      inspector.insert(inspector.end(), inspect.begin(), inspect.end());
    }
    inspector.push_back(get_until_empty(0));
    inspector.insert(inspector.end(), inspect.begin(), inspect.end());
    const auto me = drainer_of(c);
    fail_case_if(key, run_queue_case(scenario, checks_for(c.kind, true), [&c, me, qsize_supported](const Scenario&, const RunResult& run) {
      const std::string clause = "queue.size.quiescent-exact";
      std::vector<Violation> found;
      // Items left when the inspector starts: put minus got by consumers.
      std::int64_t left = items_put(run);
      for (std::uint32_t p = static_cast<std::uint32_t>(c.producers.size()); p < me; ++p) {
        for (const auto& r : records_of_kind(run, p, OpKind::get)) left -= r.outcome == errc::ok ? 1 : 0;
      }
      for (const auto& r : run.history.by_process[me]) {
        if (!r.completed) continue;
        if ((r.kind == OpKind::get || r.kind == OpKind::get_until_empty) && r.outcome == errc::ok) --left;
        auto wrong = [&](const std::string& answer) {
          found.push_back({clause, "with " + std::to_string(left) + " items in a quiet queue, " + answer});
        };
        if (r.kind == OpKind::qsize && qsize_supported && (r.outcome != errc::ok || r.value != left)) {
          wrong("qsize answered " + std::string(to_string(r.outcome)) + " " + std::to_string(r.value));
        }
        if (r.kind == OpKind::empty && (r.outcome != errc::ok || r.value != (left == 0))) {
          wrong("empty() answered " + std::string(to_string(r.outcome)) + " " + (r.value ? "true" : "false"));
        }
        if (r.kind == OpKind::full && (r.outcome != errc::ok || r.value != (c.maxsize > 0 && left == c.maxsize))) {
          wrong("full() answered " + std::string(to_string(r.outcome)) + " " + (r.value ? "true" : "false"));
        }
      }
      return found;
    }));
  });
}

// After a put returned, another process sees the item within the bounded
// delay (at once when put_visible_at_once): empty() turns false and
// get_nowait succeeds.
IPCC_CONFORMANCE_TEST(QueueConformance, PutBecomesVisible, "queue.size.visibility") {
  const std::vector<QueueKind> kinds = {QueueKind::queue, QueueKind::joinable_queue};
  IPCC_REQUIRE(!supported_kinds(kinds).empty(), "queue or joinable_queue");
  const bool at_once = capabilities().queue.put_visible_at_once;
  check_property(10, [&kinds, at_once] {
    const auto kind = *kind_choice(kinds);
    const auto maxsize = *maxsize_choice(kind);
    const auto start = *start_method_choice();
    const auto size = *stored_item_size();  // the put must return with no consumer
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, std::string(fixtures::to_string(start)), size);
    replay_cached_failure(key);
    const Op look = at_once ? call(OpKind::empty) : await_visible(scaled_ms(1000));
    Scenario scenario = queue_scenario({kind, maxsize}, start, {{put(size), wait_gate()}, {wait_gate(), look, get(0)}});
    scenario.control = {step(ControlKind::await_completed, 0, 0), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_exit, 1), step(ControlKind::open_gate, 0)};
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, false), [at_once](const Scenario&, const RunResult& run) {
      const std::string clause = "queue.size.visibility";
      std::vector<Violation> found;
      auto seen = first_record(run, 1, 1);
      const bool visible = seen && seen->completed && seen->outcome == errc::ok && seen->value == (at_once ? 0 : 1);
      if (!visible) {
        found.push_back({clause, at_once ? "empty() answered true after another process's put returned (put_visible_at_once)"
                                         : "empty() still answered true 1 s after another process's put returned"});
      }
      auto got = expect_outcome(first_record(run, 1, 2), errc::ok, clause, "get_nowait once the item was visible");
      found.insert(found.end(), got.begin(), got.end());
      return found;
    }));
  });
}

}  // namespace ipcc::conformance::queue
