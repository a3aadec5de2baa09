// Helpers shared by the Queue conformance tests (spec/queue.md): the fixture,
// queue ops, the kinds the adapter supports, and the generated
// producers/consumers case most delivery tests run.
#ifndef IPCC_CONFORMANCE_QUEUE_SUPPORT_H_
#define IPCC_CONFORMANCE_QUEUE_SUPPORT_H_

#include <cstdint>

#include <rapidcheck.h>

#include <chrono>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../common/case_support.h"
#include "ipcc/conformance/property.h"
#include "ipcc/fixtures/payload.h"
#include "ipcc/fixtures/queue_checker.h"
#include "ipcc/fixtures/timing.h"

namespace ipcc::conformance::queue {

class QueueConformance : public ConformanceTest {};

// The queue's handle in a Scenario.
inline constexpr std::uint16_t kQueue = 0;

Op put(std::int64_t length, std::int64_t wait_ns = kNoLimit, std::uint32_t delay_us = 0);
Op put_priority(std::int64_t length, std::uint32_t priority, std::int64_t wait_ns = kNoLimit,
                std::uint32_t delay_us = 0);
Op put_unencodable(std::int64_t wait_ns = kNoLimit);
Op get(std::int64_t wait_ns = kNoLimit, std::uint32_t delay_us = 0);
Op get_until_empty(std::int64_t wait_ns = 0);
Op join(std::int64_t wait_ns);
Op await_visible(std::int64_t wait_ns);
// An operation without arguments: qsize, empty, full, task_done, cancel_join,
// close, release.
Op call(OpKind kind, std::uint32_t delay_us = 0);

// A wait as an Op takes it, scaled by the timing multiplier.
std::int64_t scaled_ms(std::int64_t milliseconds);
// The wait of a get that expects an item another process is about to put.
std::int64_t item_wait();

bool supports(QueueKind kind);
// The kinds among `wanted` the adapter supports; the test is UNSUPPORTED when
// this is empty (check with IPCC_REQUIRE before generating).
std::vector<QueueKind> supported_kinds(std::vector<QueueKind> wanted = {QueueKind::queue, QueueKind::simple_queue,
                                                                        QueueKind::joinable_queue});
rc::Gen<QueueKind> kind_choice(const std::vector<QueueKind>& wanted);
// A maxsize for `kind`: 0 or a negative number (unbounded) or 1..8; always 0
// for simple_queue; only bounded ones when `bounded`.
rc::Gen<std::int64_t> maxsize_choice(QueueKind kind, bool bounded = false);
// Item sizes weighted toward the edges (0, 1, 7, 8, 9, 4 KiB, 64 KiB) up to
// `max_bytes` and the declared max_item_bytes; shrinks toward 0.
rc::Gen<std::int64_t> item_size(std::int64_t max_bytes = 64 * 1024);
// The part of the declared min_storage_bytes an item of `length` bytes takes:
// its length plus 64 bytes of overhead (QueueCapabilities::min_storage_bytes).
inline constexpr std::uint64_t kItemOverheadBytes = 64;
constexpr std::uint64_t storage_bytes(std::int64_t length) {
  return static_cast<std::uint64_t>(length) + kItemOverheadBytes;
}
// item_size() for an item that must be stored with no consumer running: its
// storage_bytes within the declared min_storage_bytes.
rc::Gen<std::int64_t> stored_item_size();

// Every process holds the queue.
Scenario queue_scenario(QueueOptions options, StartMethod start, std::vector<std::vector<Op>> processes);

// The checker's options for a case of `kind`: real-time order and immediate
// visibility where the spec or the adapter promises them, and the declared
// max_priority.
fixtures::QueueCheckOptions checks_for(QueueKind kind, bool drained);

// Producers and consumers in separate processes, then a drainer that starts
// once every other process ended and takes what is left with get_nowait.
struct FlowCase {
  QueueKind kind = QueueKind::queue;
  std::int64_t maxsize = 0;
  StartMethod start = StartMethod::fork;
  std::vector<std::vector<std::int64_t>> producers;  // item sizes per producer
  std::vector<std::vector<std::uint32_t>> delays_us; // pause before each put
  std::vector<std::uint32_t> consumer_gets;          // timed gets per consumer
  bool queries = false;  // qsize/empty/full calls among the puts and gets
};
void showValue(const FlowCase& c, std::ostream& os);
rc::Gen<FlowCase> flow_case(const std::vector<QueueKind>& kinds, int max_producers, int max_consumers,
                            int max_items, rc::Gen<std::int64_t> sizes);
Scenario flow_scenario(const FlowCase& c);
// The drainer's process index in flow_scenario(c).
std::uint32_t drainer_of(const FlowCase& c);

// Makes a queue in an isolated check; notes the failure and returns null when
// the adapter cannot.
std::unique_ptr<Queue> make_queue_or_note(Expect& expect, QueueOptions options);
// Item number `n` of an isolated check, `length` bytes.
Bytes item(std::uint32_t n, std::size_t length = 16);

// The number of items whose put (plain or with a priority) succeeded, in all
// processes of `run`.
std::int64_t items_put(const RunResult& run);

}  // namespace ipcc::conformance::queue

#endif  // IPCC_CONFORMANCE_QUEUE_SUPPORT_H_
