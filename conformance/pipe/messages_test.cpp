// Pipe conformance: messages (spec/pipe.md, "Messages").
#include "pipe_support.h"

namespace ipcc::conformance::pipe {
namespace {

// Runs a generated stream case: a writer sends, a reader receives to the end.
void check_stream(const StreamCase& c) {
  replay_cached_failure(c);
  RC_TAG(c.duplex ? "duplex" : "simplex", fixtures::to_string(c.start));
  fail_case_if(c, run_pipe_case(stream_scenario(c)));
}

}  // namespace

// Every send_bytes is one recv_bytes with identical bytes, for sizes around
// the header, PIPE_BUF and buffer edges.
IPCC_CONFORMANCE_TEST(PipeConformance, MessageBoundaries, "pipe.message.boundaries") {
  check_property(25, [] { check_stream(*stream_case(12, message_size())); });
}

// Many small messages arrive in the order they were sent, with generated
// pauses on the sender's side.
IPCC_CONFORMANCE_TEST(PipeConformance, MessageFifo, "pipe.message.fifo") {
  check_property(25, [] { check_stream(*stream_case(200, message_size(64))); });
}

// Every message is received exactly once, also when the reader starts only
// after the writer finished and when the writer just exits.
IPCC_CONFORMANCE_TEST(PipeConformance, MessageNoLoss, "pipe.message.no-loss") {
  check_property(25, [] {
    const StreamCase c = *stream_case(60, message_size(2048));
    const bool reader_late = *rc::gen::arbitrary<bool>();
    const auto key = std::make_pair(c, reader_late);
    replay_cached_failure(key);
    Scenario scenario = stream_scenario(c);
    if (reader_late) {
      auto& reader = scenario.processes[1].ops;
      reader.insert(reader.begin(), wait_gate());
      scenario.control = {step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1)};
      // A late reader needs everything to fit in the buffer the adapter
      // promises, or the writer could never finish.
      std::int64_t total = 0;
      for (auto size : c.sizes) total += size;
      RC_PRE(static_cast<std::uint64_t>(total) <= capabilities().pipe.min_buffer_bytes &&
             c.sizes.size() <= capabilities().pipe.min_buffered_messages);
    }
    RC_TAG(reader_late ? "reader starts late" : "reader concurrent");
    fail_case_if(key, run_pipe_case(scenario));
  });
}

namespace {

// How the writer of an OutlivesSenderCase ends right after its last send.
enum class SenderEnd : std::uint8_t {
  closes,  // close(), then the process's normal end
  exits,   // _exit(0) with the end still open
  killed,  // SIGKILL from the controller once the last send returned
};

std::string_view to_string(SenderEnd end) {
  switch (end) {
    case SenderEnd::closes: return "closes";
    case SenderEnd::exits: return "exits";
    case SenderEnd::killed: return "killed";
  }
  return "?";
}

void showValue(SenderEnd end, std::ostream& os) { os << to_string(end); }

struct OutlivesSenderCase {
  StreamCase stream;
  SenderEnd end = SenderEnd::closes;
  bool reader_late = false;  // the reader starts only after the writer ended
};

void showValue(const OutlivesSenderCase& c, std::ostream& os) {
  showValue(c.stream, os);
  os << " writer_end=" << to_string(c.end) << " reader=" << (c.reader_late ? "late" : "concurrent");
}

// The writer sends, then ends at once (close and return, _exit, or SIGKILL
// right after its last send returned); the reader is seen through to the end
// of the writer and then receives until eof, or until a receive has waited
// the delivery grace, so implementations without end of stream are judged
// too. A concurrent reader reads before and after the writer's end.
Scenario outlives_sender_scenario(const OutlivesSenderCase& c) {
  std::vector<Op> writer;
  for (std::size_t i = 0; i < c.stream.sizes.size(); ++i) {
    writer.push_back(send(kSecond, c.stream.sizes[i], c.stream.delays_us[i]));
  }
  const auto last_send = static_cast<std::uint32_t>(writer.size() - 1);
  switch (c.end) {
    case SenderEnd::closes: writer.push_back(close(kSecond)); break;
    case SenderEnd::exits: writer.push_back(exit_now()); break;
    case SenderEnd::killed: writer.push_back(wait_gate()); break;  // never opened: killed there
  }
  const std::int64_t grace = fixtures::timing::delivery_grace().count();
  std::vector<Op> reader;
  if (!c.reader_late) reader.push_back(recv_until_end(kFirst, grace));
  reader.push_back(wait_gate());
  reader.push_back(recv_until_end(kFirst, grace));
  Scenario scenario = writer_reader(c.stream.duplex, c.stream.start, std::move(writer), std::move(reader));
  if (c.end == SenderEnd::killed) {
    scenario.control.push_back(step(ControlKind::await_completed, 0, last_send));
    scenario.control.push_back(step(ControlKind::kill, 0));
  }
  scenario.control.push_back(step(ControlKind::await_exit, 0));
  scenario.control.push_back(step(ControlKind::open_gate, 1));
  return scenario;
}

}  // namespace

// A message whose send returned is received, however its sender then ends:
// by close and a normal end, by _exit with the end open, or killed by SIGKILL
// right after the send returned, with the reader reading meanwhile or
// starting only after the writer is gone. No end of stream is needed: the
// reader gives up after the delivery grace.
IPCC_CONFORMANCE_TEST(PipeConformance, MessageOutlivesSender, "pipe.message.outlives-sender") {
  check_property(15, [] {
    OutlivesSenderCase c = *rc::gen::exec([] {
      OutlivesSenderCase generated;
      generated.stream = *stream_case(8, message_size(4096));
      generated.end = *rc::gen::element(SenderEnd::closes, SenderEnd::exits, SenderEnd::killed);
      generated.stream.writer_closes = generated.end == SenderEnd::closes;
      generated.reader_late = *rc::gen::arbitrary<bool>();
      // A late reader needs everything in the buffer the adapter promises,
      // or the writer could never finish.
      if (generated.reader_late) keep_buffered_prefix(generated.stream);
      return generated;
    });
    RC_PRE(!c.stream.sizes.empty());
    replay_cached_failure(c);
    RC_TAG(to_string(c.end), c.reader_late ? "reader late" : "reader concurrent");
    fail_case_if(c, run_pipe_case(outlives_sender_scenario(c)));
  });
}

// Zero-length messages are messages: mixed into a stream they arrive in
// place, and a lone pending empty message makes poll() true.
IPCC_CONFORMANCE_TEST(PipeConformance, ZeroLengthMessages, "pipe.message.zero-length") {
  check_property(20, [] {
    auto sizes = rc::gen::weightedOneOf<std::int64_t>({{3, rc::gen::just<std::int64_t>(0)},
                                                        {1, message_size(100)}});
    check_stream(*stream_case(20, sizes));
  });
  expect_isolated([](Expect& expect) {
    for (bool duplex : {false, true}) {
      if (duplex ? !capabilities().pipe.duplex_pipes : !capabilities().pipe.simplex_pipes) continue;
      auto ends = backend().make_pipe(duplex);
      if (!expect.ok(ends, "make_pipe")) return;
      auto& reader = *ends->first;
      auto& writer = *ends->second;
      expect.ok(writer.send_bytes({}), "send_bytes(b'')");
      auto pending = reader.poll();
      expect.that(pending && *pending, "poll() with only an empty message pending returned false");
      auto got = reader.recv_bytes(std::nullopt, soon());
      expect.that(got && got->empty(), "recv_bytes() did not return the empty message");
      auto after = reader.poll();
      expect.that(after && !*after, "poll() returned true after the empty message was received");
    }
  });
}

// Messages of several MiB, including above the tutorials' "32 MB", arrive
// intact; 64 MiB is the least an implementation must carry.
IPCC_CONFORMANCE_TEST(PipeConformance, LargeMessages, "pipe.message.large") {
  const std::uint64_t declared = capabilities().pipe.max_message_bytes;
  ASSERT_GE(declared, 64ull << 20) << "the adapter declares max_message_bytes = " << declared
                                   << "; spec/pipe.md requires at least 64 MiB";
  const std::int64_t limit = 64ll << 20;
  // The sizes the clause names, on every kind of Pipe, every time.
  for (bool duplex : {false, true}) {
    if (duplex ? !capabilities().pipe.duplex_pipes : !capabilities().pipe.simplex_pipes) continue;
    StreamCase fixed;
    fixed.duplex = duplex;
    fixed.start = supported_start_methods().front();
    fixed.sizes = {(32ll << 20) + 1, limit};
    fixed.delays_us = {0, 0};
    expect_pipe_case(stream_scenario(fixed));
  }
  check_property(4, [] {
    auto big = rc::gen::inRange<std::int64_t>(1 << 20, 9 << 20);
    StreamCase c = *stream_case(3, big);
    RC_PRE(!c.sizes.empty());
    check_stream(c);
  });
}

}  // namespace ipcc::conformance::pipe
