// Queue conformance: the optional priorities of a Queue (spec/queue.md,
// "Priorities"), for adapters that declare max_priority above 0.
#include <algorithm>
#include <limits>
#include <ostream>

#include "queue_support.h"

namespace ipcc::conformance::queue {
namespace {

struct PriorityItem {
  std::int64_t size = 0;
  std::uint32_t priority = 0;
  bool plain = false;  // a plain put, which is priority 0
  std::uint32_t delay_us = 0;
};

// Producers put items at mixed priorities; one consumer takes them all,
// either once every producer has ended (`gated`: the order of its gets is
// then fully determined) or while they put.
struct PriorityCase {
  std::int64_t maxsize = 0;
  StartMethod start = StartMethod::fork;
  bool gated = true;
  std::uint32_t consumer_delay_us = 0;
  std::vector<std::vector<PriorityItem>> producers;
};

void showValue(const PriorityCase& c, std::ostream& os) {
  os << "queue(maxsize=" << c.maxsize << ") start=" << fixtures::to_string(c.start)
     << (c.gated ? " consumer after the producers" : " consumer concurrent");
  if (c.consumer_delay_us) os << "+" << c.consumer_delay_us << "us";
  os << " producers=[";
  for (std::size_t p = 0; p < c.producers.size(); ++p) {
    os << (p ? " " : "") << "[";
    for (std::size_t i = 0; i < c.producers[p].size(); ++i) {
      const auto& item = c.producers[p][i];
      os << (i ? "," : "") << item.size << "B:" << (item.plain ? "put" : "p" + std::to_string(item.priority));
      if (item.delay_us) os << "+" << item.delay_us << "us";
    }
    os << "]";
  }
  os << "]";
}

std::int64_t item_count(const PriorityCase& c) {
  std::int64_t count = 0;
  for (const auto& items : c.producers) count += static_cast<std::int64_t>(items.size());
  return count;
}

// Priorities from 0 to min(max_priority, 7), and max_priority itself now and
// then; a priority 0 is a plain put half of the time.
rc::Gen<PriorityItem> priority_item(std::uint32_t max_priority, std::int64_t max_size) {
  const std::uint32_t low = std::min<std::uint32_t>(max_priority, 7);
  return rc::gen::exec([=] {
    PriorityItem item;
    // At least 8 bytes: every item carries its own tag, so no two look alike.
    item.size = *any_in_range<std::int64_t>(8, max_size + 1);
    item.priority = *rc::gen::weightedOneOf<std::uint32_t>(
        {{5, any_in_range<std::uint32_t>(0, low + 1)}, {1, rc::gen::just(max_priority)}});
    item.plain = item.priority == 0 && *rc::gen::arbitrary<bool>();
    item.delay_us = *rc::gen::sizedElement<std::uint32_t>(0, 0, 0, 20, 300);
    return item;
  });
}

rc::Gen<PriorityCase> priority_case() {
  return rc::gen::exec([] {
    const auto& caps = capabilities().queue;
    PriorityCase c;
    c.start = *start_method_choice();
    // Shrinks toward the gated consumer, whose order is fully determined.
    c.gated = !*rc::gen::arbitrary<bool>();
    c.consumer_delay_us = c.gated ? 0 : *rc::gen::element<std::uint32_t>(0, 200, 1000);
    const std::int64_t max_size =
        static_cast<std::int64_t>(std::min<std::uint64_t>(caps.max_item_bytes, 32));
    // 1 to 3 producers of 1 to 10 items each; shrinking drops any of them.
    const auto items = rc::gen::resize(
        10, rc::gen::nonEmpty(rc::gen::container<std::vector<PriorityItem>>(priority_item(caps.max_priority, max_size))));
    c.producers = *rc::gen::resize(3, rc::gen::nonEmpty(rc::gen::container<std::vector<std::vector<PriorityItem>>>(items)));
    // Every item must fit with no consumer running (the gated consumer
    // starts after the producers ended): storage sizes within
    // min_storage_bytes. The longest producer gives up its last item first.
    const auto storage = [&c] {
      std::uint64_t total = 0;
      for (const auto& items : c.producers) {
        for (const auto& item : items) total += storage_bytes(item.size);
      }
      return total;
    };
    while (storage() > caps.min_storage_bytes) {
      auto longest = std::max_element(c.producers.begin(), c.producers.end(),
                                      [](const auto& a, const auto& b) { return a.size() < b.size(); });
      longest->pop_back();
      if (longest->empty()) c.producers.erase(longest);
    }
    // min_storage_bytes holds at least one smallest item (64 * msg_max for posix).
    if (c.producers.empty()) c.producers.push_back({PriorityItem{8, 0, false, 0}});
    // Unbounded, or bounded with room for every item.
    const std::int64_t total = item_count(c);
    if (caps.max_maxsize >= total && *rc::gen::arbitrary<bool>()) {
      c.maxsize = *any_in_range<std::int64_t>(total, std::min<std::int64_t>(caps.max_maxsize, total + 3) + 1);
    }
    return c;
  });
}

Scenario priority_scenario(const PriorityCase& c) {
  std::vector<std::vector<Op>> processes;
  for (const auto& items : c.producers) {
    std::vector<Op> ops;
    for (const auto& item : items) {
      ops.push_back(item.plain ? put(item.size, kNoLimit, item.delay_us)
                               : put_priority(item.size, item.priority, kNoLimit, item.delay_us));
    }
    processes.push_back(std::move(ops));
  }
  const auto consumer = static_cast<std::uint32_t>(processes.size());
  std::vector<Op> gets;
  std::vector<ControlStep> control;
  if (c.gated) {
    // Every item is in the queue before the first get: a try-once drain (or
    // one that waits out the visibility bound) takes them all.
    const std::int64_t wait = capabilities().queue.put_visible_at_once ? 0 : scaled_ms(1000);
    gets = {wait_gate(), get_until_empty(wait)};
    for (std::uint32_t p = 0; p < consumer; ++p) control.push_back(step(ControlKind::await_exit, p));
    control.push_back(step(ControlKind::open_gate, consumer));
  } else {
    // One blocking get per item, then a try-once get that finds the queue empty.
    for (std::int64_t i = 0; i < item_count(c); ++i) {
      gets.push_back(get(item_wait(), i == 0 ? c.consumer_delay_us : 0));
    }
    gets.push_back(get_until_empty(0));
  }
  processes.push_back(std::move(gets));
  Scenario scenario = queue_scenario(QueueOptions{QueueKind::queue, c.maxsize}, c.start, std::move(processes));
  scenario.control = std::move(control);
  return scenario;
}

}  // namespace

// Producers in separate processes put items at mixed priorities; a get never
// passes over an item of higher priority that was certainly queued
// throughout it, and items of equal priority keep the order clauses.
IPCC_CONFORMANCE_TEST(QueueConformance, PriorityHighestFirst, "queue.priority.highest-first") {
  IPCC_REQUIRE(capabilities().queue.max_priority > 0, "queue.max_priority (priorities)");
  IPCC_REQUIRE(supports(QueueKind::queue), "queue");
  check_property(20, [] {
    const PriorityCase c = *priority_case();
    RC_TAG(c.gated ? "consumer after the producers" : "consumer concurrent");
    replay_cached_failure(c);
    fail_case_if(c, run_queue_case(priority_scenario(c), checks_for(QueueKind::queue, true)));
  });
}

// A priority above max_priority is refused and queues nothing, also on a
// full queue; max_priority itself is accepted. Priorities belong to Queue:
// SimpleQueue and JoinableQueue report unsupported.
IPCC_CONFORMANCE_TEST(QueueConformance, PriorityRange, "queue.priority.range") {
  IPCC_REQUIRE(capabilities().queue.max_priority > 0, "queue.max_priority (priorities)");
  IPCC_REQUIRE(supports(QueueKind::queue), "queue");
  const std::uint32_t top = capabilities().queue.max_priority;
  expect_isolated([top](Expect& expect) {
    auto q = make_queue_or_note(expect, {QueueKind::queue, 0});
    if (!q) return;
    if (top < std::numeric_limits<std::uint32_t>::max()) {
      expect.outcome(q->put_with_priority(item(1), top + 1, soon()), errc::invalid_argument,
                     "put_with_priority at max_priority + 1 (" + std::to_string(top + 1) + ")");
      expect.outcome(q->get_nowait(), errc::empty, "get_nowait after the refused put");
      if (expect.ok(q->put_with_priority(item(2), top, soon()), "put_with_priority at max_priority")) {
        auto got = q->get(soon());
        expect.that(got && *got == item(2), "the item put at max_priority did not come back intact");
      }
      // The argument comes before the state: a full queue refuses it at once.
      if (capabilities().queue.max_maxsize >= 1) {
        auto bounded = make_queue_or_note(expect, {QueueKind::queue, 1});
        if (bounded && expect.ok(bounded->put(item(3), soon()), "plain put into Queue(1)")) {
          expect.outcome(bounded->put_with_priority(item(4), top + 1, Deadline::now()), errc::invalid_argument,
                         "put_with_priority at max_priority + 1 on a full queue");
          auto got = bounded->get(soon());
          expect.that(got && *got == item(3), "Queue(1) did not give back its one plain item");
          expect.outcome(bounded->get_nowait(), errc::empty, "get_nowait once the plain item was taken");
        }
      }
    } else {
      // No priority lies above 2^32 - 1: check the top of the range instead.
      // The item put there must be accepted as the highest, and overtake a
      // plain (priority 0) item queued before it.
      if (!expect.ok(q->put(item(1), soon()), "plain put")) return;
      if (!expect.ok(q->put_with_priority(item(2), top, soon()), "put_with_priority at max_priority (2^32 - 1)")) return;
      auto first = q->get(soon());
      expect.that(first && *first == item(2), "the item at max_priority was not got before the plain item queued earlier");
      auto second = q->get(soon());
      expect.that(second && *second == item(1), "the plain item did not come back second");
    }
    for (auto kind : supported_kinds({QueueKind::simple_queue, QueueKind::joinable_queue})) {
      auto other = make_queue_or_note(expect, {kind, 0});
      if (!other) continue;
      const std::string what = std::string(to_string(kind)) + ": ";
      expect.outcome(other->put_with_priority(item(5), 0, soon()), errc::unsupported, what + "put_with_priority");
      auto after = other->get_nowait();
      if (after.code() != errc::unsupported || kind != QueueKind::simple_queue) {
        expect.outcome(after, errc::empty, what + "get_nowait after the refused put_with_priority");
      }
    }
  });
}

}  // namespace ipcc::conformance::queue
