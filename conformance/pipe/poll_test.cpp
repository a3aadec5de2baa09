// Pipe conformance: poll (spec/pipe.md, "poll").
#include <chrono>

#include "ipcc/fixtures/timing.h"
#include "pipe_support.h"

namespace ipcc::conformance::pipe {
namespace {

using std::chrono::steady_clock;

// How the immediate forms are spelled: Python's poll(), poll(0), poll(-t).
enum class Immediate { no_argument, zero, negative };

std::string name(Immediate form) {
  switch (form) {
    case Immediate::no_argument: return "poll()";
    case Immediate::zero: return "poll(0)";
    case Immediate::negative: return "poll(negative)";
  }
  return "?";
}

Result<bool> poll_immediately(Connection& reader, Immediate form, double negative_seconds) {
  switch (form) {
    case Immediate::no_argument: return reader.poll();
    case Immediate::zero: return reader.poll(Deadline::from_seconds(0.0));
    case Immediate::negative: return reader.poll(Deadline::from_seconds(-negative_seconds));
  }
  return reader.poll();
}

}  // namespace

// poll(), poll(0) and poll(negative) return at once: false on an empty Pipe,
// true when messages are pending, and consume nothing.
IPCC_CONFORMANCE_TEST(PipeConformance, PollImmediate, "pipe.poll.immediate") {
  check_property(20, [] {
    const bool duplex = *duplex_choice();
    const auto form = *rc::gen::element(Immediate::no_argument, Immediate::zero, Immediate::negative);
    const double negative = *rc::gen::element(0.001, 1.0, 1e6);
    const auto pending = *rc::gen::inRange<int>(0, 4);
    replay_cached_failure(std::make_tuple(duplex, name(form), negative, pending));
    auto result = run_isolated(
        [&](Expect& expect) {
          auto ends = backend().make_pipe(duplex);
          if (!expect.ok(ends, "make_pipe")) return;
          auto& reader = *ends->first;
          std::vector<Bytes> sent;
          for (int i = 0; i < pending; ++i) {
            sent.push_back(fixtures::make_payload(20 + i, 10 * i));
            expect.ok(ends->second->send_bytes(sent.back()), "send_bytes");
          }
          const auto start = steady_clock::now();
          auto ready = poll_immediately(reader, form, negative);
          const auto elapsed = steady_clock::now() - start;
          if (!expect.ok(ready, name(form))) return;
          expect.that(*ready == (pending > 0), name(form) + " returned " + (*ready ? "true" : "false") +
                                                   " with " + std::to_string(pending) + " message(s) pending");
          expect.that(elapsed < fixtures::timing::scaled(std::chrono::milliseconds(250)),
                      name(form) + " took " +
                          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
                          " ms; it must not wait");
          for (const auto& message : sent) {
            auto got = reader.recv_bytes(std::nullopt, soon());
            expect.that(got && *got == message, "a pending message was not received after " + name(form));
          }
        },
        std::chrono::milliseconds(2000));
    fail_case_if(std::make_tuple(duplex, name(form), negative, pending), result);
  });
}

// poll(t) on an empty Pipe returns false no earlier than t; and returns true
// once a message arrives within t, long before t ends.
IPCC_CONFORMANCE_TEST(PipeConformance, PollTimeout, "pipe.poll.timeout") {
  check_property(12, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const bool message_arrives = *rc::gen::arbitrary<bool>();
    const auto wait_ms = message_arrives ? 5000 : *rc::gen::sizedElement<std::int64_t>(1, 5, 20, 60);
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), message_arrives, wait_ms);
    replay_cached_failure(key);
    Scenario scenario = writer_reader(duplex, start, {wait_gate(), send(kSecond, 64)},
                                      {poll(kFirst, ms(wait_ms)), recv_until_end(kFirst)});
    if (message_arrives) {
      scenario.control = {step(ControlKind::await_blocked, 1, 0), step(ControlKind::open_gate, 0)};
    } else {
      scenario.control = {step(ControlKind::await_completed, 1, 0), step(ControlKind::open_gate, 0)};
    }
    fail_case_if(key, run_pipe_case(scenario, [=](const Scenario&, const RunResult& run) {
      std::vector<Violation> found;
      auto polled = records_of(run, 1, 0);
      auto sent = records_of(run, 0, 1);
      if (polled.empty() || !polled.front().completed) return found;  // the checker reports it
      const auto& p = polled.front();
      if (message_arrives) {
        if (p.value != 1) {
          found.push_back({"pipe.poll.timeout", "poll(5s) returned false although a message arrived while it waited"});
        } else if (!sent.empty() && sent.front().completed &&
                   p.t_complete - sent.front().t_complete >
                       fixtures::timing::upper_bound(std::chrono::milliseconds(0)).count()) {
          found.push_back({"pipe.poll.timeout", "poll(5s) returned long after the message arrived"});
        }
      }
      return found;
    }));
  });
}

// poll(None) blocks until a message or end of stream is readable, then
// returns true.
IPCC_CONFORMANCE_TEST(PipeConformance, PollWithoutLimit, "pipe.poll.infinite") {
  check_property(8, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const bool by_message = *rc::gen::arbitrary<bool>();
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), by_message);
    replay_cached_failure(key);
    std::vector<Op> writer = {wait_gate()};
    if (by_message) writer.push_back(send(kSecond, 10));
    writer.push_back(close(kSecond));
    Scenario scenario = writer_reader(duplex, start, writer, {poll(kFirst, kNoLimit), recv_until_end(kFirst)});
    scenario.control = {step(ControlKind::await_blocked, 1, 0), step(ControlKind::open_gate, 0)};
    scenario.deadline_ms = 5000;
    fail_case_if(key, run_pipe_case(scenario, [](const Scenario&, const RunResult& run) {
      std::vector<Violation> found;
      auto blocked = control_record(run, 0);
      if (!blocked || !blocked->completed) {
        found.push_back({"pipe.poll.infinite", "poll(None) returned before anything was readable"});
      }
      auto polled = records_of(run, 1, 0);
      if (!polled.empty() && polled.front().completed && polled.front().value != 1) {
        found.push_back({"pipe.poll.infinite", "poll(None) returned false"});
      }
      return found;
    }));
  });
}

// poll never consumes a message: however often it is called, every message
// is still received.
IPCC_CONFORMANCE_TEST(PipeConformance, PollConsumesNothing, "pipe.poll.consumes-nothing") {
  check_property(15, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const auto sizes = *rc::gen::resize(20, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(message_size(3000))));
    const auto polls = *rc::gen::container<std::vector<int>>(sizes.size(), rc::gen::inRange(0, 4));
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), sizes, polls);
    replay_cached_failure(key);
    std::vector<Op> writer;
    for (auto size : sizes) writer.push_back(send(kSecond, size));
    writer.push_back(close(kSecond));
    std::vector<Op> reader;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      for (int k = 0; k < polls[i]; ++k) reader.push_back(poll(kFirst, k % 2 == 0 ? ms(5000) : 0));
      reader.push_back(recv(kFirst));
    }
    reader.push_back(recv_until_end(kFirst));
    fail_case_if(key, run_pipe_case(writer_reader(duplex, start, writer, reader)));
  });
}

}  // namespace ipcc::conformance::pipe
