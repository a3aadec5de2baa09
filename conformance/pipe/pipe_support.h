// Helpers shared by the Pipe conformance tests: the fixture, scenario
// builders and RapidCheck generators. Tests stay one behaviour each; only
// harness mechanics live here.
#ifndef IPCC_CONFORMANCE_PIPE_SUPPORT_H_
#define IPCC_CONFORMANCE_PIPE_SUPPORT_H_

#include <cstdint>

#include <rapidcheck.h>

#include <optional>
#include <string>
#include <vector>

#include "../common/case_support.h"
#include "ipcc/conformance/property.h"
#include "ipcc/conformance/suite.h"
#include "ipcc/fixtures/payload.h"
#include "ipcc/fixtures/scenario.h"

namespace ipcc::conformance::pipe {

class PipeConformance : public ConformanceTest {};

// Handles of a Pipe in a Scenario.
inline constexpr std::uint16_t kFirst = 0;   // simplex: receive-only
inline constexpr std::uint16_t kSecond = 1;  // simplex: send-only

// Ops.
Op send(std::uint16_t handle, std::int64_t length, std::uint32_t delay_us = 0);
Op recv(std::uint16_t handle, std::int64_t wait_ns = kNoLimit, std::int64_t maxlength = -1);
Op recv_until_end(std::uint16_t handle, std::int64_t wait_ns = kNoLimit);
Op poll(std::uint16_t handle, std::int64_t wait_ns);
Op close(std::uint16_t handle);

// The scenario skeleton used by most stream tests: a writer process holding
// the send end and a reader process holding the receive end.
Scenario writer_reader(bool duplex, StartMethod start, std::vector<Op> writer_ops, std::vector<Op> reader_ops);

// Sizes of ordinary messages: weighted toward the interesting edges (0, 1,
// 7, 8, around PIPE_BUF minus the header, 16 KiB, 64 KiB) but up to
// `max_bytes` and the declared max_message_bytes. Shrinks toward 0.
rc::Gen<std::int64_t> message_size(std::int64_t max_bytes = 256 * 1024);

// The kinds of Pipe the adapter supports.
rc::Gen<bool> duplex_choice();

// Largest capacity spec/pipe.md allows; a message above it must block a
// sender that nobody reads from.
inline constexpr std::int64_t kCapacityCeiling = 16 * 1024 * 1024;
inline constexpr std::int64_t kOverCapacity = kCapacityCeiling + 4 * 1024 * 1024;

// A generated two-party case; shown in counterexamples.
struct StreamCase {
  bool duplex = false;
  StartMethod start = StartMethod::fork;
  std::vector<std::int64_t> sizes;
  std::vector<std::uint32_t> delays_us;
  bool writer_closes = true;  // close explicitly, or just exit
};
void showValue(const StreamCase& c, std::ostream& os);
rc::Gen<StreamCase> stream_case(int max_messages, rc::Gen<std::int64_t> sizes);
Scenario stream_scenario(const StreamCase& c);
// Cuts `c` to its longest prefix within the buffer the adapter promises
// (min_buffer_bytes and min_buffered_messages), so that a writer with no
// reader yet can finish; filtering whole cases instead would discard most of
// them when messages may be large.
void keep_buffered_prefix(StreamCase& c);

}  // namespace ipcc::conformance::pipe

#endif  // IPCC_CONFORMANCE_PIPE_SUPPORT_H_
