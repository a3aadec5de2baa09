#include "pipe_support.h"

#include <ostream>

namespace ipcc::conformance::pipe {

Op send(std::uint16_t handle, std::int64_t length, std::uint32_t delay_us) {
  Op op;
  op.kind = OpKind::send;
  op.handle = handle;
  op.length = length;
  op.delay_us = delay_us;
  return op;
}

Op recv(std::uint16_t handle, std::int64_t wait_ns, std::int64_t maxlength) {
  Op op;
  op.kind = OpKind::recv;
  op.handle = handle;
  op.wait_ns = wait_ns;
  op.maxlength = maxlength;
  return op;
}

Op recv_until_end(std::uint16_t handle, std::int64_t wait_ns) {
  Op op;
  op.kind = OpKind::recv_until_end;
  op.handle = handle;
  op.wait_ns = wait_ns;
  return op;
}

Op poll(std::uint16_t handle, std::int64_t wait_ns) {
  Op op;
  op.kind = OpKind::poll;
  op.handle = handle;
  op.wait_ns = wait_ns;
  return op;
}

Op close(std::uint16_t handle) {
  Op op;
  op.kind = OpKind::close;
  op.handle = handle;
  return op;
}

Scenario writer_reader(bool duplex, StartMethod start, std::vector<Op> writer_ops,
                       std::vector<Op> reader_ops) {
  Scenario scenario;
  scenario.duplex = duplex;
  scenario.start = start;
  scenario.processes.push_back(ProcessPlan{{kSecond}, std::move(writer_ops)});
  scenario.processes.push_back(ProcessPlan{{kFirst}, std::move(reader_ops)});
  return scenario;
}

rc::Gen<std::int64_t> message_size(std::int64_t max_bytes) {
  // Only pipe.message.limit and pipe.message.large judge the declared limit.
  max_bytes = static_cast<std::int64_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(max_bytes), capabilities().pipe.max_message_bytes));
  // Index 0 first so shrinking heads for the empty message.
  static const std::vector<std::int64_t> edges = {0,    1,    7,    8,     9,     4091,  4092,
                                                  4093, 4096, 16383, 16384, 65535, 65536, 65537};
  std::vector<std::int64_t> usable;
  for (auto edge : edges) {
    if (edge <= max_bytes) usable.push_back(edge);
  }
  return rc::gen::oneOf(rc::gen::inRange<std::int64_t>(0, std::min<std::int64_t>(max_bytes, 300) + 1),
                        rc::gen::sizedElementOf(usable),
                        rc::gen::inRange<std::int64_t>(0, max_bytes + 1));
}

rc::Gen<bool> duplex_choice() {
  const auto& caps = capabilities().pipe;
  if (caps.duplex_pipes && caps.simplex_pipes) return rc::gen::arbitrary<bool>();
  return rc::gen::just(caps.duplex_pipes);
}

void showValue(const StreamCase& c, std::ostream& os) {
  os << "Pipe(duplex=" << (c.duplex ? "true" : "false") << ") start=" << fixtures::to_string(c.start)
     << " writer_closes=" << c.writer_closes << " sizes=[";
  for (std::size_t i = 0; i < c.sizes.size(); ++i) os << (i ? "," : "") << c.sizes[i];
  os << "] delays_us=[";
  for (std::size_t i = 0; i < c.delays_us.size(); ++i) os << (i ? "," : "") << c.delays_us[i];
  os << "]";
}

rc::Gen<StreamCase> stream_case(int max_messages, rc::Gen<std::int64_t> sizes) {
  return rc::gen::exec([=] {
    StreamCase c;
    c.duplex = *duplex_choice();
    c.start = *start_method_choice();
    c.sizes = *rc::gen::resize(max_messages, rc::gen::container<std::vector<std::int64_t>>(sizes));
    c.delays_us = *rc::gen::container<std::vector<std::uint32_t>>(
        c.sizes.size(), rc::gen::sizedElement<std::uint32_t>(0, 0, 0, 10, 200));
    c.writer_closes = *rc::gen::arbitrary<bool>();
    return c;
  });
}

Scenario stream_scenario(const StreamCase& c) {
  std::vector<Op> writer;
  for (std::size_t i = 0; i < c.sizes.size(); ++i) writer.push_back(send(kSecond, c.sizes[i], c.delays_us[i]));
  if (c.writer_closes) writer.push_back(close(kSecond));
  return writer_reader(c.duplex, c.start, std::move(writer), {recv_until_end(kFirst)});
}

void keep_buffered_prefix(StreamCase& c) {
  const auto& caps = capabilities().pipe;
  std::uint64_t total = 0;
  std::size_t fit = 0;
  while (fit < c.sizes.size() && fit < caps.min_buffered_messages &&
         total + static_cast<std::uint64_t>(c.sizes[fit]) <= caps.min_buffer_bytes) {
    total += static_cast<std::uint64_t>(c.sizes[fit++]);
  }
  c.sizes.resize(fit);
  c.delays_us.resize(fit);
}

}  // namespace ipcc::conformance::pipe
