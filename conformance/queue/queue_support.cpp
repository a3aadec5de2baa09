#include "queue_support.h"

#include <algorithm>
#include <ostream>

namespace ipcc::conformance::queue {

namespace {

Op queue_op(OpKind kind, std::int64_t wait_ns = kNoLimit, std::uint32_t delay_us = 0) {
  Op op;
  op.kind = kind;
  op.handle = kQueue;
  op.wait_ns = wait_ns;
  op.delay_us = delay_us;
  return op;
}

}  // namespace

Op put(std::int64_t length, std::int64_t wait_ns, std::uint32_t delay_us) {
  Op op = queue_op(OpKind::put, wait_ns, delay_us);
  op.length = length;
  return op;
}
Op put_priority(std::int64_t length, std::uint32_t priority, std::int64_t wait_ns, std::uint32_t delay_us) {
  Op op = queue_op(OpKind::put_priority, wait_ns, delay_us);
  op.length = length;
  op.priority = priority;
  return op;
}
Op put_unencodable(std::int64_t wait_ns) { return queue_op(OpKind::put_unencodable, wait_ns); }
Op get(std::int64_t wait_ns, std::uint32_t delay_us) { return queue_op(OpKind::get, wait_ns, delay_us); }
Op get_until_empty(std::int64_t wait_ns) { return queue_op(OpKind::get_until_empty, wait_ns); }
Op join(std::int64_t wait_ns) { return queue_op(OpKind::join, wait_ns); }
Op await_visible(std::int64_t wait_ns) { return queue_op(OpKind::await_visible, wait_ns); }
Op call(OpKind kind, std::uint32_t delay_us) { return queue_op(kind, kNoLimit, delay_us); }

std::int64_t scaled_ms(std::int64_t milliseconds) {
  return fixtures::timing::scaled(std::chrono::milliseconds(milliseconds)).count();
}

std::int64_t item_wait() { return scaled_ms(3000); }

bool supports(QueueKind kind) {
  const auto& caps = capabilities().queue;
  switch (kind) {
    case QueueKind::queue: return caps.queue;
    case QueueKind::simple_queue: return caps.simple_queue;
    case QueueKind::joinable_queue: return caps.joinable_queue;
  }
  return false;
}

std::vector<QueueKind> supported_kinds(std::vector<QueueKind> wanted) {
  std::erase_if(wanted, [](QueueKind kind) { return !supports(kind); });
  return wanted;
}

rc::Gen<QueueKind> kind_choice(const std::vector<QueueKind>& wanted) {
  return rc::gen::elementOf(supported_kinds(wanted));
}

rc::Gen<std::int64_t> maxsize_choice(QueueKind kind, bool bounded) {
  if (kind == QueueKind::simple_queue) return rc::gen::just<std::int64_t>(0);
  if (bounded) return rc::gen::inRange<std::int64_t>(1, 9);
  return rc::gen::oneOf(rc::gen::element<std::int64_t>(0, -1), rc::gen::inRange<std::int64_t>(1, 9));
}

rc::Gen<std::int64_t> item_size(std::int64_t max_bytes) {
  max_bytes = static_cast<std::int64_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(max_bytes), capabilities().queue.max_item_bytes));
  static const std::vector<std::int64_t> edges = {0, 1, 7, 8, 9, 4095, 4096, 4097, 65535, 65536, 65537};
  std::vector<std::int64_t> usable;
  for (auto edge : edges) {
    if (edge <= max_bytes) usable.push_back(edge);
  }
  return rc::gen::oneOf(rc::gen::inRange<std::int64_t>(0, std::min<std::int64_t>(max_bytes, 100) + 1),
                        rc::gen::sizedElementOf(usable), rc::gen::inRange<std::int64_t>(0, max_bytes + 1));
}

rc::Gen<std::int64_t> stored_item_size() {
  const auto storage = std::min<std::uint64_t>(capabilities().queue.min_storage_bytes, storage_bytes(64 * 1024));
  return item_size(static_cast<std::int64_t>(storage > kItemOverheadBytes ? storage - kItemOverheadBytes : 0));
}

Scenario queue_scenario(QueueOptions options, StartMethod start, std::vector<std::vector<Op>> processes) {
  Scenario scenario;
  scenario.subject = fixtures::SubjectKind::queue;
  scenario.queue = options;
  scenario.start = start;
  for (auto& ops : processes) scenario.processes.push_back(ProcessPlan{{kQueue}, std::move(ops)});
  return scenario;
}

fixtures::QueueCheckOptions checks_for(QueueKind kind, bool drained) {
  fixtures::QueueCheckOptions checks;
  checks.drained = drained;
  const bool at_once = kind == QueueKind::simple_queue || capabilities().queue.put_visible_at_once;
  checks.real_time_order = at_once;
  if (at_once) checks.visibility_bound = std::chrono::nanoseconds(0);
  checks.max_priority = capabilities().queue.max_priority;
  return checks;
}

void showValue(const FlowCase& c, std::ostream& os) {
  os << to_string(c.kind) << "(maxsize=" << c.maxsize << ") start=" << fixtures::to_string(c.start)
     << (c.queries ? " with queries" : "") << " producers=[";
  for (std::size_t p = 0; p < c.producers.size(); ++p) {
    os << (p ? " " : "") << "[";
    for (std::size_t i = 0; i < c.producers[p].size(); ++i) {
      os << (i ? "," : "") << c.producers[p][i];
      if (c.delays_us[p][i]) os << "+" << c.delays_us[p][i] << "us";
    }
    os << "]";
  }
  os << "] consumer_gets=[";
  for (std::size_t i = 0; i < c.consumer_gets.size(); ++i) os << (i ? "," : "") << c.consumer_gets[i];
  os << "]";
}

rc::Gen<FlowCase> flow_case(const std::vector<QueueKind>& kinds, int max_producers, int max_consumers,
                            int max_items, rc::Gen<std::int64_t> sizes) {
  return rc::gen::exec([=] {
    FlowCase c;
    c.kind = *kind_choice(kinds);
    c.maxsize = *maxsize_choice(c.kind);
    c.start = *start_method_choice();
    const int producers = *rc::gen::inRange(1, max_producers + 1);
    std::int64_t total = 0;
    // Every item may be queued at once (consumers may lag), so all of them
    // together stay within the declared min_storage_bytes (storage_bytes
    // each): beyond it a put may legitimately fail, and then
    // consumers would wait for items that never come. The first item that
    // does not fit ends the case's puts.
    std::uint64_t storage_left = capabilities().queue.min_storage_bytes;
    for (int p = 0; p < producers; ++p) {
      auto items = *rc::gen::resize(max_items, rc::gen::container<std::vector<std::int64_t>>(sizes));
      std::size_t fit = 0;
      while (fit < items.size() && storage_bytes(items[fit]) <= storage_left) {
        storage_left -= storage_bytes(items[fit++]);
      }
      if (fit < items.size()) storage_left = 0;
      items.resize(fit);
      c.producers.push_back(std::move(items));
      c.delays_us.push_back(*rc::gen::container<std::vector<std::uint32_t>>(
          c.producers.back().size(), rc::gen::sizedElement<std::uint32_t>(0, 0, 0, 20, 300)));
      total += static_cast<std::int64_t>(c.producers.back().size());
    }
    // Consumers take between what a bounded queue cannot hold and
    // everything: producers never block for good, consumers never wait for
    // an item that will not come.
    const std::int64_t least = c.maxsize > 0 ? std::max<std::int64_t>(0, total - c.maxsize) : 0;
    std::int64_t gets = *rc::gen::inRange<std::int64_t>(least, total + 1);
    const int consumers = *rc::gen::inRange(1, max_consumers + 1);
    c.consumer_gets.assign(static_cast<std::size_t>(consumers), 0);
    for (std::int64_t i = 0; i < gets; ++i) {
      ++c.consumer_gets[*rc::gen::inRange<std::size_t>(0, c.consumer_gets.size())];
    }
    return c;
  });
}

namespace {

// qsize/empty/full in turn (empty only for SimpleQueue, which may lack the
// others).
Op query(const FlowCase& c, std::size_t turn) {
  if (c.kind == QueueKind::simple_queue) return call(OpKind::empty);
  static constexpr OpKind kinds[] = {OpKind::qsize, OpKind::empty, OpKind::full};
  return call(kinds[turn % 3]);
}

}  // namespace

Scenario flow_scenario(const FlowCase& c) {
  std::vector<std::vector<Op>> processes;
  std::size_t turn = 0;
  for (std::size_t p = 0; p < c.producers.size(); ++p) {
    std::vector<Op> ops;
    for (std::size_t i = 0; i < c.producers[p].size(); ++i) {
      ops.push_back(put(c.producers[p][i], kNoLimit, c.delays_us[p][i]));
      if (c.queries) ops.push_back(query(c, turn++));
    }
    processes.push_back(std::move(ops));
  }
  for (auto gets : c.consumer_gets) {
    std::vector<Op> ops;
    for (std::uint32_t i = 0; i < gets; ++i) {
      ops.push_back(get(item_wait()));
      if (c.queries) ops.push_back(query(c, turn++));
    }
    processes.push_back(std::move(ops));
  }
  processes.push_back({wait_gate(), get_until_empty(0)});
  Scenario scenario = queue_scenario(QueueOptions{c.kind, c.maxsize}, c.start, std::move(processes));
  const auto drainer = drainer_of(c);
  for (std::uint32_t p = 0; p < drainer; ++p) scenario.control.push_back(step(ControlKind::await_exit, p));
  scenario.control.push_back(step(ControlKind::open_gate, drainer));
  return scenario;
}

std::uint32_t drainer_of(const FlowCase& c) {
  return static_cast<std::uint32_t>(c.producers.size() + c.consumer_gets.size());
}

std::unique_ptr<Queue> make_queue_or_note(Expect& expect, QueueOptions options) {
  auto made = backend().make_queue(options);
  if (!expect.ok(made, "make_queue(" + std::string(to_string(options.kind)) + ", maxsize=" +
                           std::to_string(options.maxsize) + ")")) {
    return nullptr;
  }
  return std::move(*made);
}

Bytes item(std::uint32_t n, std::size_t length) { return fixtures::make_payload(fixtures::payload_tag(0, n), length); }

std::int64_t items_put(const RunResult& run) {
  std::int64_t count = 0;
  for (const auto& records : run.history.by_process) {
    for (const auto& r : records) {
      const bool is_put = r.kind == OpKind::put || r.kind == OpKind::put_priority;
      if (is_put && r.completed && r.outcome == errc::ok) ++count;
    }
  }
  return count;
}

}  // namespace ipcc::conformance::queue
