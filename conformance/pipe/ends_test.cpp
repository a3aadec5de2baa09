// Pipe conformance: the two ends, their directions, and close
// (spec/pipe.md, "Ends and direction", "close").
#include "pipe_support.h"

namespace ipcc::conformance::pipe {
namespace {

bool has_duplex() { return capabilities().pipe.duplex_pipes; }
bool has_simplex() { return capabilities().pipe.simplex_pipes; }

std::vector<bool> pipe_kinds() {
  std::vector<bool> kinds;
  if (has_simplex()) kinds.push_back(false);
  if (has_duplex()) kinds.push_back(true);
  return kinds;
}

std::string kind_name(bool duplex) { return duplex ? "Pipe(duplex=true)" : "Pipe(duplex=false)"; }

}  // namespace

// Both ends of a duplex Pipe are readable and writable, and a message sent on
// one end arrives at the other end only, in both directions and across
// processes.
IPCC_CONFORMANCE_TEST(PipeConformance, DuplexEndsBothWays, "pipe.ends.duplex") {
  IPCC_REQUIRE(has_duplex(), "duplex_pipes");
  expect_isolated([](Expect& expect) {
    auto ends = backend().make_pipe(true);
    if (!expect.ok(ends, "make_pipe(duplex=true)")) return;
    auto& a = *ends->first;
    auto& b = *ends->second;
    expect.that(a.readable() && a.writable() && b.readable() && b.writable(),
                "an end of a duplex Pipe is not both readable and writable");
    for (auto [from, to, label] : {std::tuple{&a, &b, "first -> second"}, std::tuple{&b, &a, "second -> first"}}) {
      auto message = fixtures::make_payload(7, 100);
      expect.ok(from->send_bytes(message), std::string("send_bytes ") + label);
      auto looped = from->poll();
      expect.that(looped && !*looped, std::string("the message sent ") + label + " came back to its sender");
      auto got = to->recv_bytes(std::nullopt, soon());
      expect.that(got && *got == message, std::string("the message sent ") + label + " did not arrive");
    }
  });
  check_property(10, [] {
    const auto start = *start_method_choice();
    const auto there = *rc::gen::container<std::vector<std::int64_t>>(message_size(5000));
    const auto back = *rc::gen::container<std::vector<std::int64_t>>(message_size(5000));
    // p0 sends on the first end then receives the replies; p1 receives then
    // replies on the second end.
    Scenario scenario;
    scenario.duplex = true;
    scenario.start = start;
    ProcessPlan p0{{kFirst}, {}};
    ProcessPlan p1{{kSecond}, {}};
    for (auto size : there) p0.ops.push_back(send(kFirst, size));
    for (std::size_t i = 0; i < back.size(); ++i) p0.ops.push_back(recv(kFirst));
    for (std::size_t i = 0; i < there.size(); ++i) p1.ops.push_back(recv(kSecond));
    for (auto size : back) p1.ops.push_back(send(kSecond, size));
    scenario.processes = {p0, p1};
    auto key = std::make_tuple(std::string(fixtures::to_string(start)), there, back);
    replay_cached_failure(key);
    fail_case_if(key, run_pipe_case(scenario, [](const Scenario& sc, const RunResult& run) {
      std::vector<Violation> found;
      for (std::uint32_t p = 0; p < 2; ++p) {
        for (const auto& r : run.history.by_process[p]) {
          if (r.completed && r.outcome != errc::ok) {
            found.push_back({"pipe.ends.duplex", "p" + std::to_string(p) + "#" + std::to_string(r.op) + " " +
                                                     std::string(fixtures::to_string(r.kind)) + " got " +
                                                     std::string(to_string(r.outcome))});
          }
        }
        if (run.history.by_process[p].size() != sc.processes[p].ops.size()) {
          found.push_back({"pipe.ends.duplex", "p" + std::to_string(p) + " did not complete every operation"});
        }
      }
      return found;
    }));
  });
}

// Pipe(duplex=false) returns (receive-only end, send-only end).
IPCC_CONFORMANCE_TEST(PipeConformance, SimplexEndDirections, "pipe.ends.simplex") {
  IPCC_REQUIRE(has_simplex(), "simplex_pipes");
  expect_isolated([](Expect& expect) {
    auto ends = backend().make_pipe(false);
    if (!expect.ok(ends, "make_pipe(duplex=false)")) return;
    auto& reader = *ends->first;
    auto& writer = *ends->second;
    expect.that(reader.readable() && !reader.writable(), "the first end is not receive-only");
    expect.that(writer.writable() && !writer.readable(), "the second end is not send-only");
    auto message = fixtures::make_payload(9, 33);
    expect.ok(writer.send_bytes(message), "send_bytes on the second end");
    auto got = reader.recv_bytes(std::nullopt, soon());
    expect.that(got && *got == message, "the message sent on the second end did not arrive at the first");
  });
}

// send_bytes on the receive-only end reports wrong_direction, whatever the
// arguments, and writes nothing.
IPCC_CONFORMANCE_TEST(PipeConformance, SendOnReceiveEnd, "pipe.direction.send-on-read-end") {
  IPCC_REQUIRE(has_simplex(), "simplex_pipes");
  check_property(20, [] {
    const auto length = *message_size(5000);
    const auto offset = *rc::gen::inRange<std::int64_t>(-3, length + 4);
    replay_cached_failure(std::make_pair(length, offset));
    auto result = run_isolated([&](Expect& expect) {
      auto ends = backend().make_pipe(false);
      if (!expect.ok(ends, "make_pipe")) return;
      auto& reader = *ends->first;
      auto& writer = *ends->second;
      auto payload = fixtures::make_payload(1, static_cast<std::size_t>(length));
      expect.outcome(reader.send_bytes(payload), errc::wrong_direction, "send_bytes on the receive-only end");
      expect.outcome(reader.send_bytes(payload, offset), errc::wrong_direction,
                     "send_bytes(offset=" + std::to_string(offset) + ") on the receive-only end");
      // Nothing may have been written: the next message is the first one seen.
      auto marker = fixtures::make_payload(2, 16);
      expect.ok(writer.send_bytes(marker), "send_bytes on the send-only end");
      auto got = reader.recv_bytes(std::nullopt, soon());
      expect.that(got && *got == marker, "a refused send left data in the pipe");
      auto more = reader.poll();
      expect.that(more && !*more, "a refused send left data in the pipe");
    });
    fail_case_if(std::make_pair(length, offset), result);
  });
}

// recv_bytes, recv_bytes_into and poll on the send-only end report
// wrong_direction.
IPCC_CONFORMANCE_TEST(PipeConformance, ReceiveOnSendEnd, "pipe.direction.recv-on-write-end") {
  IPCC_REQUIRE(has_simplex(), "simplex_pipes");
  expect_isolated([](Expect& expect) {
    auto ends = backend().make_pipe(false);
    if (!expect.ok(ends, "make_pipe")) return;
    auto& writer = *ends->second;
    Bytes buffer(64);
    expect.outcome(writer.recv_bytes(std::nullopt, Deadline::now()), errc::wrong_direction, "recv_bytes");
    expect.outcome(writer.recv_bytes(-1, Deadline::now()), errc::wrong_direction,
                   "recv_bytes(maxlength=-1) (direction is checked before arguments)");
    expect.outcome(writer.recv_bytes_into(buffer, 0, Deadline::now()), errc::wrong_direction, "recv_bytes_into");
    expect.outcome(writer.recv_bytes_into(buffer, -1, Deadline::now()), errc::wrong_direction,
                   "recv_bytes_into(offset=-1)");
    expect.outcome(writer.poll(), errc::wrong_direction, "poll()");
    expect.outcome(writer.poll_for(std::chrono::milliseconds(1)), errc::wrong_direction, "poll(0.001)");
  });
}

// close() may be repeated on any end; closed() is true afterwards.
IPCC_CONFORMANCE_TEST(PipeConformance, CloseIsIdempotent, "pipe.close.idempotent") {
  expect_isolated([](Expect& expect) {
    for (bool duplex : pipe_kinds()) {
      auto ends = backend().make_pipe(duplex);
      if (!expect.ok(ends, "make_pipe")) return;
      for (auto* end : {ends->first.get(), ends->second.get()}) {
        expect.that(!end->closed(), kind_name(duplex) + ": a new end reports closed()");
        expect.ok(end->close(), kind_name(duplex) + ": first close()");
        expect.ok(end->close(), kind_name(duplex) + ": second close()");
        expect.ok(end->close(), kind_name(duplex) + ": third close()");
        expect.that(end->closed(), kind_name(duplex) + ": closed() is false after close()");
      }
    }
  });
}

// After close(), every operation reports closed, and closed is reported even
// where the direction would also be wrong.
IPCC_CONFORMANCE_TEST(PipeConformance, OperationsAfterClose, "pipe.close.then-closed") {
  expect_isolated([](Expect& expect) {
    for (bool duplex : pipe_kinds()) {
      auto ends = backend().make_pipe(duplex);
      if (!expect.ok(ends, "make_pipe")) return;
      const std::string kind = kind_name(duplex);
      for (auto* end : {ends->first.get(), ends->second.get()}) {
        (void)end->close();
        Bytes buffer(16);
        auto payload = fixtures::make_payload(3, 8);
        expect.outcome(end->send_bytes(payload), errc::closed, kind + ": send_bytes after close");
        expect.outcome(end->send_bytes(payload, -1), errc::closed, kind + ": send_bytes(offset=-1) after close");
        expect.outcome(end->recv_bytes(std::nullopt, Deadline::now()), errc::closed, kind + ": recv_bytes after close");
        expect.outcome(end->recv_bytes(-1, Deadline::now()), errc::closed, kind + ": recv_bytes(-1) after close");
        expect.outcome(end->recv_bytes_into(buffer, 0, Deadline::now()), errc::closed,
                       kind + ": recv_bytes_into after close");
        expect.outcome(end->poll(), errc::closed, kind + ": poll after close");
      }
    }
  });
}

}  // namespace ipcc::conformance::pipe
