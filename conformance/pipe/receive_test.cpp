// Pipe conformance: receiving and sending with arguments (spec/pipe.md,
// "Buffering and blocking", "recv_bytes(maxlength)", "recv_bytes_into",
// "send_bytes ranges").
#include "pipe_support.h"

namespace ipcc::conformance::pipe {
namespace {

// Runs `body` with a fresh Pipe of the kind given (first end receives).
void with_pipe(Expect& expect, bool duplex, const std::function<void(Connection&, Connection&)>& body) {
  auto ends = backend().make_pipe(duplex);
  if (!expect.ok(ends, "make_pipe")) return;
  body(*ends->first, *ends->second);
}

// The largest message a single process may send to itself before receiving:
// the buffering the adapter promises, less room for a second small message.
std::int64_t self_message_limit() {
  const auto& caps = capabilities().pipe;
  return static_cast<std::int64_t>(caps.min_buffer_bytes) - 2 * caps.frame_header_bytes - 64;
}

}  // namespace

// recv_bytes on an empty Pipe blocks until a message arrives (the reader is
// seen asleep in the kernel before anything is sent) and returns that
// message, never one before it was sent.
IPCC_CONFORMANCE_TEST(PipeConformance, ReceiveBlocksUntilMessage, "pipe.recv.blocks") {
  check_property(10, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const auto size = *message_size(70000);
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), size);
    replay_cached_failure(key);
    Scenario scenario = writer_reader(duplex, start, {wait_gate(), send(kSecond, size)}, {recv(kFirst)});
    scenario.control = {step(ControlKind::await_blocked, 1, 0), step(ControlKind::open_gate, 0)};
    fail_case_if(key, run_pipe_case(scenario, [](const Scenario&, const RunResult& run) {
      std::vector<Violation> found;
      auto blocked = control_record(run, 0);
      if (!blocked || !blocked->completed) {
        found.push_back({"pipe.recv.blocks", "recv_bytes returned before any message was sent"});
      }
      auto got = first_record(run, 1, 0);
      auto more = expect_outcome(got, errc::ok,
                                 "pipe.recv.blocks", "p1#0 recv_bytes");
      found.insert(found.end(), more.begin(), more.end());
      return found;
    }));
  });
}

// recv_bytes(maxlength): a message of exactly maxlength bytes is returned; a
// longer one reports message_too_large and the end can no longer receive
// (duplex: wrong_direction, and sending still works; simplex: closed).
IPCC_CONFORMANCE_TEST(PipeConformance, ReceiveWithMaxlength, "pipe.recv.maxlength") {
  check_property(20, [] {
    const bool duplex = *duplex_choice();
    const auto length = *message_size(self_message_limit());
    const auto maxlength = *rc::gen::inRange<std::int64_t>(0, length + 3);
    replay_cached_failure(std::make_tuple(duplex, length, maxlength));
    auto result = run_isolated([&](Expect& expect) {
      with_pipe(expect, duplex, [&](Connection& reader, Connection& writer) {
        auto message = fixtures::make_payload(5, static_cast<std::size_t>(length));
        expect.ok(writer.send_bytes(message), "send_bytes");
        auto got = reader.recv_bytes(maxlength, soon());
        if (length <= maxlength) {
          expect.that(got && *got == message, "a message of " + std::to_string(length) +
                                                  " bytes was not returned with maxlength " + std::to_string(maxlength));
          return;
        }
        expect.outcome(got, errc::message_too_large, "recv_bytes(maxlength) of a longer message");
        if (duplex) {
          expect.that(!reader.readable(), "the duplex end is still readable after a message above maxlength");
          expect.outcome(reader.recv_bytes(std::nullopt, Deadline::now()), errc::wrong_direction,
                         "recv_bytes after message_too_large (duplex)");
          auto reply = fixtures::make_payload(6, 10);
          expect.ok(reader.send_bytes(reply), "send_bytes after message_too_large (duplex)");
          auto back = writer.recv_bytes(std::nullopt, soon());
          expect.that(back && *back == reply, "the reply sent after message_too_large did not arrive");
        } else {
          expect.that(reader.closed(), "the simplex end is not closed after message_too_large");
          expect.outcome(reader.recv_bytes(std::nullopt, Deadline::now()), errc::closed,
                         "recv_bytes after message_too_large (simplex)");
          expect.outcome(writer.send_bytes(message), errc::broken_pipe,
                         "the peer's send_bytes once the simplex receive end closed itself");
        }
      });
    });
    fail_case_if(std::make_tuple(duplex, length, maxlength), result);
  });
}

// A negative maxlength is refused with invalid_argument before anything is
// consumed.
IPCC_CONFORMANCE_TEST(PipeConformance, ReceiveNegativeMaxlength, "pipe.recv.maxlength-negative") {
  check_property(10, [] {
    const bool duplex = *duplex_choice();
    const auto maxlength = *rc::gen::inRange<std::int64_t>(-1000, 0);
    const auto length = *message_size(std::min<std::int64_t>(5000, self_message_limit()));
    replay_cached_failure(std::make_tuple(duplex, maxlength, length));
    auto result = run_isolated([&](Expect& expect) {
      with_pipe(expect, duplex, [&](Connection& reader, Connection& writer) {
        auto message = fixtures::make_payload(8, static_cast<std::size_t>(length));
        expect.ok(writer.send_bytes(message), "send_bytes");
        expect.outcome(reader.recv_bytes(maxlength, soon()), errc::invalid_argument,
                       "recv_bytes(maxlength=" + std::to_string(maxlength) + ")");
        auto got = reader.recv_bytes(std::nullopt, soon());
        expect.that(got && *got == message, "the message did not survive a refused recv_bytes");
      });
    });
    fail_case_if(std::make_tuple(duplex, maxlength, length), result);
  });
}

// recv_bytes_into(buffer, offset) writes the message at byte offset, returns
// its length, and leaves every other byte as it was.
IPCC_CONFORMANCE_TEST(PipeConformance, ReceiveIntoAtOffset, "pipe.recv-into.offset") {
  check_property(25, [] {
    const bool duplex = *duplex_choice();
    const auto buffer_size = *rc::gen::inRange<std::int64_t>(0, 9000);
    const auto offset = *rc::gen::inRange<std::int64_t>(0, buffer_size + 1);
    const auto length = *rc::gen::inRange<std::int64_t>(0, buffer_size - offset + 1);
    replay_cached_failure(std::make_tuple(duplex, buffer_size, offset, length));
    auto result = run_isolated([&](Expect& expect) {
      with_pipe(expect, duplex, [&](Connection& reader, Connection& writer) {
        auto message = fixtures::make_payload(11, static_cast<std::size_t>(length));
        auto original = fixtures::make_payload(12, static_cast<std::size_t>(buffer_size));
        Bytes buffer = original;
        expect.ok(writer.send_bytes(message), "send_bytes");
        auto got = reader.recv_bytes_into(buffer, offset, soon());
        if (!expect.ok(got, "recv_bytes_into")) return;
        expect.that(*got == length, "recv_bytes_into returned " + std::to_string(*got) + ", not " +
                                        std::to_string(length));
        Bytes expected = original;
        std::copy(message.begin(), message.end(), expected.begin() + offset);
        expect.that(buffer == expected, "the buffer is not the original with the message at offset " +
                                            std::to_string(offset));
      });
    });
    fail_case_if(std::make_tuple(duplex, buffer_size, offset, length), result);
  });
}

// A negative offset or one past the buffer's end is refused with
// invalid_argument before anything is consumed.
IPCC_CONFORMANCE_TEST(PipeConformance, ReceiveIntoBadOffset, "pipe.recv-into.offset-invalid") {
  check_property(15, [] {
    const bool duplex = *duplex_choice();
    const auto buffer_size = *rc::gen::inRange<std::int64_t>(0, 5000);
    const bool negative = *rc::gen::arbitrary<bool>();
    const auto offset = negative ? *rc::gen::inRange<std::int64_t>(-5000, 0)
                                 : *rc::gen::inRange<std::int64_t>(buffer_size + 1, buffer_size + 5000);
    replay_cached_failure(std::make_tuple(duplex, buffer_size, offset));
    auto result = run_isolated([&](Expect& expect) {
      with_pipe(expect, duplex, [&](Connection& reader, Connection& writer) {
        auto message = fixtures::make_payload(13, 40);
        expect.ok(writer.send_bytes(message), "send_bytes");
        Bytes buffer(static_cast<std::size_t>(buffer_size));
        expect.outcome(reader.recv_bytes_into(buffer, offset, soon()),
                       errc::invalid_argument, "recv_bytes_into(offset=" + std::to_string(offset) + ")");
        auto got = reader.recv_bytes(std::nullopt, soon());
        expect.that(got && *got == message, "the message did not survive a refused recv_bytes_into");
      });
    });
    fail_case_if(std::make_tuple(duplex, buffer_size, offset), result);
  });
}

// A message that does not fit reports buffer_too_short carrying the whole
// message, is consumed, and the next message arrives normally; the buffer is
// not modified.
IPCC_CONFORMANCE_TEST(PipeConformance, ReceiveIntoTooShort, "pipe.recv-into.too-short") {
  check_property(20, [] {
    const bool duplex = *duplex_choice();
    const auto buffer_size = *rc::gen::inRange<std::int64_t>(0, 5000);
    const auto offset = *rc::gen::inRange<std::int64_t>(0, buffer_size + 1);
    const auto length = *rc::gen::inRange<std::int64_t>(
        buffer_size - offset + 1, std::max(buffer_size - offset + 2, self_message_limit()));
    replay_cached_failure(std::make_tuple(duplex, buffer_size, offset, length));
    auto result = run_isolated([&](Expect& expect) {
      with_pipe(expect, duplex, [&](Connection& reader, Connection& writer) {
        auto message = fixtures::make_payload(14, static_cast<std::size_t>(length));
        auto next = fixtures::make_payload(15, 21);
        expect.ok(writer.send_bytes(message), "send_bytes");
        expect.ok(writer.send_bytes(next), "send_bytes");
        auto original = fixtures::make_payload(16, static_cast<std::size_t>(buffer_size));
        Bytes buffer = original;
        auto got = reader.recv_bytes_into(buffer, offset, soon());
        expect.outcome(got, errc::buffer_too_short, "recv_bytes_into with too little room");
        if (!got && got.error().code == errc::buffer_too_short) {
          expect.that(got.error().message == message, "buffer_too_short does not carry the whole message (" +
                                                          std::to_string(got.error().message.size()) + " of " +
                                                          std::to_string(length) + " bytes)");
        }
        expect.that(buffer == original, "recv_bytes_into changed the buffer although the message did not fit");
        auto after = reader.recv_bytes(std::nullopt, soon());
        expect.that(after && *after == next, "the message after buffer_too_short was not received normally");
      });
    });
    fail_case_if(std::make_tuple(duplex, buffer_size, offset, length), result);
  });
}

// send_bytes(buffer, offset, size): invalid ranges are refused with
// invalid_argument and send nothing; valid ones send exactly that slice.
IPCC_CONFORMANCE_TEST(PipeConformance, SendByteRanges, "pipe.send.range") {
  check_property(40, [] {
    const bool duplex = *duplex_choice();
    const auto length = *rc::gen::inRange<std::int64_t>(0, 300);
    const auto offset = *rc::gen::inRange<std::int64_t>(-3, length + 4);
    const bool with_size = *rc::gen::arbitrary<bool>();
    const auto size = *rc::gen::inRange<std::int64_t>(-3, length + 4);
    const bool valid = offset >= 0 && offset <= length && (!with_size || (size >= 0 && offset + size <= length));
    RC_TAG(valid ? "valid range" : "invalid range");
    replay_cached_failure(std::make_tuple(duplex, length, offset, with_size, size));
    auto result = run_isolated([&](Expect& expect) {
      with_pipe(expect, duplex, [&](Connection& reader, Connection& writer) {
        auto buffer = fixtures::make_payload(17, static_cast<std::size_t>(length));
        auto sent = with_size ? writer.send_bytes(buffer, offset, size) : writer.send_bytes(buffer, offset);
        const std::string call = "send_bytes(len=" + std::to_string(length) + ", offset=" +
                                  std::to_string(offset) + (with_size ? ", size=" + std::to_string(size) : "") + ")";
        auto marker = fixtures::make_payload(18, 9);
        expect.ok(writer.send_bytes(marker), "send_bytes(marker)");
        if (!valid) {
          expect.outcome(sent, errc::invalid_argument, call);
        } else if (expect.ok(sent, call)) {
          auto got = reader.recv_bytes(std::nullopt, soon());
          const auto count = with_size ? size : length - offset;
          Bytes slice(buffer.begin() + offset, buffer.begin() + offset + count);
          expect.that(got && *got == slice, call + " did not send exactly that slice");
        }
        auto first = reader.recv_bytes(std::nullopt, soon());
        expect.that(first && *first == marker, call + ": something other than the marker followed");
      });
    });
    fail_case_if(std::make_tuple(duplex, length, offset, with_size, size), result);
  });
}

}  // namespace ipcc::conformance::pipe
