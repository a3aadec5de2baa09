// Queue conformance: delivery and ordering across producer and consumer
// processes (spec/queue.md, "Ordering and delivery").
#include "queue_support.h"

namespace ipcc::conformance::queue {
namespace {

const std::vector<QueueKind> kAllKinds = {QueueKind::queue, QueueKind::simple_queue, QueueKind::joinable_queue};

// Puts in a fixed global order, one at a time: entry i is put by producer
// `producer[i]` only after put i-1 returned. One consumer then takes all.
struct SequencedCase {
  QueueKind kind = QueueKind::queue;
  StartMethod start = StartMethod::fork;
  std::vector<std::uint32_t> producer;
  std::vector<std::int64_t> sizes;
};

void showValue(const SequencedCase& c, std::ostream& os) {
  os << to_string(c.kind) << " start=" << fixtures::to_string(c.start) << " puts=[";
  for (std::size_t i = 0; i < c.sizes.size(); ++i) os << (i ? "," : "") << "p" << c.producer[i] << ":" << c.sizes[i];
  os << "]";
}

Scenario sequenced_scenario(const SequencedCase& c, std::uint32_t producers) {
  std::vector<std::vector<Op>> processes(producers + 1);
  std::vector<ControlStep> control;
  for (std::size_t i = 0; i < c.sizes.size(); ++i) {
    auto& ops = processes[c.producer[i]];
    ops.push_back(wait_gate());
    ops.push_back(put(c.sizes[i]));
    control.push_back(step(ControlKind::open_gate, c.producer[i]));
    control.push_back(step(ControlKind::await_completed, c.producer[i], static_cast<std::uint32_t>(ops.size() - 1)));
  }
  for (std::uint32_t p = 0; p < producers; ++p) control.push_back(step(ControlKind::await_exit, p));
  processes[producers] = {wait_gate(), get_until_empty(0)};
  control.push_back(step(ControlKind::open_gate, producers));
  Scenario scenario = queue_scenario(QueueOptions{c.kind, 0}, c.start, std::move(processes));
  scenario.control = std::move(control);
  return scenario;
}

}  // namespace

// Several producers and consumers in separate processes: every item put is
// got exactly once, byte-exact, and nothing else is got.
IPCC_CONFORMANCE_TEST(QueueConformance, DeliveryExactlyOnce, "queue.delivery.exactly-once") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  check_property(25, [] {
    FlowCase c = *flow_case(kAllKinds, 4, 4, 8, item_size());
    replay_cached_failure(c);
    fail_case_if(c, run_queue_case(flow_scenario(c), checks_for(c.kind, true)));
  });
}

// Items of one producer are got in the order it put them, by one consumer or
// by several.
IPCC_CONFORMANCE_TEST(QueueConformance, PerProducerFifo, "queue.order.per-producer-fifo") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  check_property(20, [] {
    FlowCase c = *flow_case(kAllKinds, 3, 2, 12, item_size(4096));
    RC_PRE(std::any_of(c.producers.begin(), c.producers.end(), [](const auto& items) { return items.size() >= 2; }));
    replay_cached_failure(c);
    fail_case_if(c, run_queue_case(flow_scenario(c), checks_for(c.kind, true)));
  });
}

// An item whose put returned before another put began is got first, whoever
// the producers are (SimpleQueue always; Queue when put_visible_at_once).
IPCC_CONFORMANCE_TEST(QueueConformance, RealTimeOrder, "queue.order.real-time") {
  std::vector<QueueKind> kinds = {QueueKind::simple_queue};
  if (capabilities().queue.put_visible_at_once) {
    kinds.push_back(QueueKind::queue);
    kinds.push_back(QueueKind::joinable_queue);
  }
  IPCC_REQUIRE(!supported_kinds(kinds).empty(), "simple_queue or put_visible_at_once");
  check_property(15, [kinds] {
    SequencedCase c;
    c.kind = *kind_choice(kinds);
    c.start = *start_method_choice();
    const auto producers = *rc::gen::inRange<std::uint32_t>(2, 4);
    c.sizes = *rc::gen::resize(8, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(item_size(4096))));
    c.producer = *rc::gen::container<std::vector<std::uint32_t>>(c.sizes.size(), rc::gen::inRange<std::uint32_t>(0, producers));
    replay_cached_failure(c);
    auto checks = checks_for(c.kind, true);
    checks.real_time_order = true;
    fail_case_if(c, run_queue_case(sequenced_scenario(c, producers), checks));
  });
}

// SimpleQueue's put is synchronous: as soon as it returned, another process
// sees the queue non-empty and gets the item.
IPCC_CONFORMANCE_TEST(QueueConformance, SimplePutSynchronous, "simple-queue.put.synchronous") {
  IPCC_REQUIRE(supports(QueueKind::simple_queue), "simple_queue");
  check_property(10, [] {
    const auto start = *start_method_choice();
    const auto size = *stored_item_size();  // the put must return with no consumer
    const auto key = std::make_tuple(std::string(fixtures::to_string(start)), size);
    replay_cached_failure(key);
    // p0 puts and waits; p1 looks only once the put returned.
    Scenario scenario = queue_scenario(QueueOptions{QueueKind::simple_queue, 0}, start,
                                       {{put(size), wait_gate()}, {wait_gate(), call(OpKind::empty), get(item_wait())}});
    scenario.control = {step(ControlKind::await_completed, 0, 0), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_completed, 1, 2), step(ControlKind::open_gate, 0)};
    fail_case_if(key, run_queue_case(scenario, checks_for(QueueKind::simple_queue, false),
                                     [](const Scenario&, const RunResult& run) {
                                       std::vector<Violation> found;
                                       auto seen = first_record(run, 1, 1);
                                       if (seen && seen->completed && seen->outcome == errc::ok && seen->value != 0) {
                                         found.push_back({"simple-queue.put.synchronous",
                                                          "empty() answered true after another process's put returned"});
                                       }
                                       auto got = expect_outcome(first_record(run, 1, 2), errc::ok,
                                                                 "simple-queue.put.synchronous", "the get after the put");
                                       found.insert(found.end(), got.begin(), got.end());
                                       return found;
                                     }));
  });
}

}  // namespace ipcc::conformance::queue
