// Queue conformance: put and get, blocking, non-blocking and timed, item
// sizes and serialisation failures (spec/queue.md, "put / get").
#include <algorithm>
#include <limits>

#include "queue_support.h"

namespace ipcc::conformance::queue {
namespace {

using namespace std::chrono_literals;

const std::vector<QueueKind> kBoundedKinds = {QueueKind::queue, QueueKind::joinable_queue};
const std::vector<QueueKind> kAllKinds = {QueueKind::queue, QueueKind::simple_queue, QueueKind::joinable_queue};

// The "try once" forms a caller can write: block=False, timeout=0 and a
// negative timeout.
std::vector<std::pair<std::string, Deadline>> try_once_forms() {
  return {{"Deadline::now()", Deadline::now()},
          {"timeout 0", Deadline::after(0ns)},
          {"timeout -1 ms", Deadline::after(-1ms)}};
}

// Fills `q` with `n` items numbered from 0; false if a put failed.
bool fill(Expect& expect, Queue& q, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (!expect.ok(q.put_nowait(item(static_cast<std::uint32_t>(i))), "put_nowait #" + std::to_string(i))) return false;
  }
  return true;
}

// Takes exactly the items numbered [0, n) back in order, then finds the
// queue empty.
void expect_contents(Expect& expect, Queue& q, std::int64_t n, const std::string& what) {
  for (std::int64_t i = 0; i < n; ++i) {
    auto got = q.get(soon());
    if (!expect.ok(got, what + ": get #" + std::to_string(i))) return;
    expect.that(*got == item(static_cast<std::uint32_t>(i)), what + ": get #" + std::to_string(i) + " returned another item");
  }
  auto last = q.get_nowait();
  if (last.code() != errc::unsupported || q.kind() != QueueKind::simple_queue) {
    expect.outcome(last, errc::empty, what + ": get_nowait once the queued items are taken");
  }
}

}  // namespace

// A try-once put on a full queue reports full without waiting and queues
// nothing.
IPCC_CONFORMANCE_TEST(QueueConformance, PutNowaitOnFull, "queue.put.nowait-full") {
  IPCC_REQUIRE(!supported_kinds(kBoundedKinds).empty(), "queue or joinable_queue");
  check_property(10, [] {
    const auto kind = *kind_choice(kBoundedKinds);
    const auto maxsize = *maxsize_choice(kind, true);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) {
      auto q = make_queue_or_note(expect, {kind, maxsize});
      if (!q || !fill(expect, *q, maxsize)) return;
      for (const auto& [form, deadline] : try_once_forms()) {
        auto [result, elapsed] = timed([&, d = deadline] { return q->put(item(999), d); });
        expect.outcome(result, errc::full, "put with " + form + " on a full queue");
        expect.that(elapsed <= fixtures::timing::upper_bound(0ns), "put with " + form + " waited on a full queue");
      }
      expect_contents(expect, *q, maxsize, "after the refused puts");
    }));
  });
}

// A timed put on a queue that stays full reports full no earlier than its
// timeout, and not much later.
IPCC_CONFORMANCE_TEST(QueueConformance, PutTimeoutOnFull, "queue.put.timeout") {
  IPCC_REQUIRE(!supported_kinds(kBoundedKinds).empty(), "queue or joinable_queue");
  check_property(6, [] {
    const auto kind = *kind_choice(kBoundedKinds);
    const auto maxsize = *maxsize_choice(kind, true);
    const auto wait_ms = *rc::gen::inRange<std::int64_t>(5, 150);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, wait_ms);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) {
      auto q = make_queue_or_note(expect, {kind, maxsize});
      if (!q || !fill(expect, *q, maxsize)) return;
      const std::chrono::milliseconds wait(wait_ms);
      auto [result, elapsed] = timed([&] { return q->put(item(999), Deadline::after(wait)); });
      expect.outcome(result, errc::full, "put with a " + std::to_string(wait_ms) + " ms timeout on a full queue");
      expect_duration(expect, elapsed, wait, "the timed put");
      expect_contents(expect, *q, maxsize, "after the timed-out put");
    }));
  });
}

// A blocking put on a full queue sleeps until another process's get makes
// room, then completes, and its item is delivered.
IPCC_CONFORMANCE_TEST(QueueConformance, PutBlocksUntilRoom, "queue.put.blocks-until-room") {
  IPCC_REQUIRE(!supported_kinds(kBoundedKinds).empty(), "queue or joinable_queue");
  check_property(8, [] {
    const auto kind = *kind_choice(kBoundedKinds);
    const auto maxsize = *maxsize_choice(kind, true);
    const auto start = *start_method_choice();
    const auto size = *stored_item_size();  // its producer ends before the last get
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, std::string(fixtures::to_string(start)), size);
    replay_cached_failure(key);
    Scenario scenario = queue_scenario({kind, maxsize}, start,
                                       {{put(size)}, {wait_gate(), get(item_wait()), wait_gate(), get_until_empty(0)}});
    for (std::int64_t i = 0; i < maxsize; ++i) scenario.prelude.push_back(put(16));
    scenario.control = {step(ControlKind::await_blocked, 0, 0), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1)};
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, true), [](const Scenario&, const RunResult& run) {
      const std::string clause = "queue.put.blocks-until-room";
      std::vector<Violation> found;
      auto blocked = control_record(run, 0);
      if (!blocked || !blocked->completed) found.push_back({clause, "the put on a full queue was never seen blocked"});
      auto put_record = first_record(run, 0, 0);
      auto get_record = first_record(run, 1, 1);
      auto outcome = expect_outcome(put_record, errc::ok, clause, "the blocking put");
      found.insert(found.end(), outcome.begin(), outcome.end());
      if (put_record && put_record->completed && get_record && put_record->t_complete < get_record->t_invoke) {
        found.push_back({clause, "the blocking put completed before any get made room"});
      }
      return found;
    }));
  });
}

// A try-once get on an empty queue reports empty without waiting.
IPCC_CONFORMANCE_TEST(QueueConformance, GetNowaitOnEmpty, "queue.get.nowait-empty") {
  IPCC_REQUIRE(!supported_kinds(kAllKinds).empty(), "every queue kind");
  check_property(6, [] {
    const auto kind = *kind_choice(kAllKinds);
    const auto maxsize = *maxsize_choice(kind);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) {
      auto q = make_queue_or_note(expect, {kind, maxsize});
      if (!q) return;
      for (int round = 0; round < 2; ++round) {
        const std::string when = round == 0 ? "on a new queue" : "once its item was taken";
        for (const auto& [form, deadline] : try_once_forms()) {
          auto [result, elapsed] = timed([&, d = deadline] { return q->get(d); });
          if (kind == QueueKind::simple_queue && result.code() == errc::unsupported) continue;
          expect.outcome(result, errc::empty, "get with " + form + " " + when);
          expect.that(elapsed <= fixtures::timing::upper_bound(0ns), "get with " + form + " waited " + when);
        }
        if (round == 0 && (!expect.ok(q->put(item(0)), "put") || !expect.ok(q->get(soon()), "get"))) return;
      }
    }));
  });
}

// A timed get on a queue that stays empty reports empty no earlier than its
// timeout, and not much later.
IPCC_CONFORMANCE_TEST(QueueConformance, GetTimeoutOnEmpty, "queue.get.timeout") {
  IPCC_REQUIRE(!supported_kinds(kBoundedKinds).empty(), "queue or joinable_queue");
  check_property(6, [] {
    const auto kind = *kind_choice(kBoundedKinds);
    const auto maxsize = *maxsize_choice(kind);
    const auto wait_ms = *rc::gen::inRange<std::int64_t>(5, 150);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, wait_ms);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) {
      auto q = make_queue_or_note(expect, {kind, maxsize});
      if (!q) return;
      const std::chrono::milliseconds wait(wait_ms);
      auto [result, elapsed] = timed([&] { return q->get(Deadline::after(wait)); });
      expect.outcome(result, errc::empty, "get with a " + std::to_string(wait_ms) + " ms timeout on an empty queue");
      expect_duration(expect, elapsed, wait, "the timed get");
    }));
  });
}

// A blocking get on an empty queue sleeps until another process puts, then
// returns that item.
IPCC_CONFORMANCE_TEST(QueueConformance, GetBlocksUntilItem, "queue.get.blocks-until-item") {
  IPCC_REQUIRE(!supported_kinds(kAllKinds).empty(), "every queue kind");
  check_property(8, [] {
    const auto kind = *kind_choice(kAllKinds);
    const auto maxsize = *maxsize_choice(kind);
    const auto start = *start_method_choice();
    const auto size = *item_size();
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, std::string(fixtures::to_string(start)), size);
    replay_cached_failure(key);
    Scenario scenario = queue_scenario({kind, maxsize}, start, {{get()}, {wait_gate(), put(size)}});
    scenario.control = {step(ControlKind::await_blocked, 0, 0), step(ControlKind::open_gate, 1)};
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, false), [](const Scenario&, const RunResult& run) {
      const std::string clause = "queue.get.blocks-until-item";
      std::vector<Violation> found = expect_outcome(first_record(run, 0, 0), errc::ok, clause, "the blocking get");
      auto blocked = control_record(run, 0);
      if (!blocked || !blocked->completed) found.push_back({clause, "the get on an empty queue was never seen blocked"});
      auto got = first_record(run, 0, 0);
      if (got && got->completed && got->outcome == errc::ok && got->tag != fixtures::payload_tag(1, 1) && got->value >= 8) {
        found.push_back({clause, "the blocking get returned an item p1 did not put"});
      }
      return found;
    }));
  });
}

// Items of every size up to the declared limit arrive byte-exact in another
// process; a larger one is refused and queues nothing. An adapter with no
// limit declares 2^64 - 1, and no item above it can exist to be refused.
// Items are generated up to 64 MiB at most, to keep cases cheap.
IPCC_CONFORMANCE_TEST(QueueConformance, ItemSizes, "queue.item.sizes") {
  IPCC_REQUIRE(!supported_kinds(kAllKinds).empty(), "every queue kind");
  const auto limit = capabilities().queue.max_item_bytes;
  ASSERT_GE(limit, std::uint64_t{16} << 20) << "declared max_item_bytes is below the spec's floor of 16 MiB";
  const auto largest = static_cast<std::int64_t>(std::min<std::uint64_t>(limit, std::uint64_t{64} << 20));
  check_property(8, [largest] {
    const auto kind = *kind_choice(kAllKinds);
    const auto start = *start_method_choice();
    std::vector<std::int64_t> sizes = *rc::gen::resize(
        4, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(rc::gen::oneOf(
               item_size(), rc::gen::element<std::int64_t>(0, (1 << 20) + 1, largest)))));
    const auto key = std::make_tuple(std::string(to_string(kind)), std::string(fixtures::to_string(start)), sizes);
    replay_cached_failure(key);
    std::vector<Op> producer;
    for (auto size : sizes) producer.push_back(put(size));
    std::vector<Op> consumer(sizes.size(), get(item_wait()));
    consumer.insert(consumer.begin(), wait_gate());
    consumer.push_back(get_until_empty(0));
    Scenario scenario = queue_scenario({kind, 0}, start, {producer, consumer});
    // The consumer starts once the producer ended when the queue promises to
    // hold them all; otherwise at once, and the producer's end follows.
    std::uint64_t total = 0;
    for (auto size : sizes) total += storage_bytes(size);
    if (total <= capabilities().queue.min_storage_bytes) {
      scenario.control = {step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1)};
    } else {
      scenario.control = {step(ControlKind::open_gate, 1), step(ControlKind::await_exit, 0)};
    }
    fail_case_if(key, run_queue_case(scenario, checks_for(kind, true)));
  });
  if (limit == std::numeric_limits<std::uint64_t>::max()) return;
  expect_isolated([limit](Expect& expect) {
    for (auto kind : supported_kinds(kAllKinds)) {
      auto q = make_queue_or_note(expect, {kind, 0});
      if (!q) return;
      const std::string what = std::string(to_string(kind)) + ": ";
      expect.outcome(q->put(item(1, static_cast<std::size_t>(limit) + 1)), errc::message_too_large,
                     what + "put of max_item_bytes + 1");
      auto after = q->get_nowait();
      if (after.code() != errc::unsupported || kind != QueueKind::simple_queue) {
        expect.outcome(after, errc::empty, what + "get_nowait after the refused put");
      }
      if (expect.ok(q->put(item(2)), what + "put after the refused put")) {
        auto got = q->get(soon());
        expect.that(got && *got == item(2), what + "the next item did not come back intact");
      }
    }
  }, std::chrono::milliseconds(20000));
}

// When an item cannot be encoded, put_encoded behaves as the adapter
// declares: an error and nothing queued, or success and the item dropped
// with its slot freed. Either way the queue stays usable and exact.
IPCC_CONFORMANCE_TEST(QueueConformance, SerializationFailure, "queue.put.serialization-failure") {
  IPCC_REQUIRE(!supported_kinds(kAllKinds).empty(), "every queue kind");
  const auto effect = capabilities().queue.serialization_failure;
  check_property(8, [effect] {
    const auto kind = *kind_choice(kAllKinds);
    const auto maxsize = *maxsize_choice(kind);
    const auto failures = *rc::gen::inRange(1, 4);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize, failures);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) {
      auto q = make_queue_or_note(expect, {kind, maxsize});
      if (!q) return;
      const ItemEncoder unencodable = [] { return Result<Bytes>(fail(errc::serialization_failed, 0, "cannot encode")); };
      for (int i = 0; i < failures; ++i) {
        auto result = q->put_encoded(unencodable, soon());
        // SimpleQueue encodes in put whatever the adapter declares for Queue.
        if (effect == SerializationFailureEffect::reported_by_put || kind == QueueKind::simple_queue) {
          expect.outcome(result, errc::serialization_failed, "put_encoded of an unencodable item");
        } else {
          expect.outcome(result, errc::ok, "put_encoded of an unencodable item (declared dropped_silently)");
        }
      }
      if (effect == SerializationFailureEffect::dropped_silently && kind != QueueKind::simple_queue) {
        // The slot comes back within the visibility bound.
        const Deadline settle = Deadline::after(fixtures::timing::scaled(1s));
        for (auto size = q->qsize(); size && *size != 0 && !settle.expired(); size = q->qsize()) {
        }
      }
      if (kind != QueueKind::simple_queue && capabilities().queue.qsize) {
        auto size = q->qsize();
        expect.that(size && *size == 0, "qsize after only failed puts is not 0");
      }
      // Every slot is still there: a bounded queue takes exactly maxsize
      // items, and only those come back.
      const std::int64_t n = maxsize > 0 ? maxsize : 3;
      if (!fill(expect, *q, n)) return;
      if (maxsize > 0) expect.outcome(q->put_nowait(item(999)), errc::full, "put_nowait beyond maxsize");
      expect_contents(expect, *q, n, "after the failed puts");
    }));
  });
}

}  // namespace ipcc::conformance::queue
