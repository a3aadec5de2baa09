// Pipe conformance: end of stream and a peer that is gone (spec/pipe.md,
// "EOF", "Peer gone").
#include "pipe_support.h"

namespace ipcc::conformance::pipe {
namespace {

std::string describe_record(const Record& r) {
  return "p" + std::to_string(r.process) + "#" + std::to_string(r.op) + " " +
         std::string(fixtures::to_string(r.kind)) + " -> " + std::string(to_string(r.outcome));
}

// The outcome of the last record of process p.
std::vector<Violation> last_outcome_is(const RunResult& run, std::uint32_t p, errc expected,
                                       const std::string& clause) {
  auto last = last_record(run, p);
  if (last && last->kind == OpKind::control) last.reset();
  return expect_outcome(last, expected, clause, "the last receive of p" + std::to_string(p));
}

template <typename... Lists>
std::vector<Violation> joined(Lists... lists) {
  std::vector<Violation> all;
  (all.insert(all.end(), lists.begin(), lists.end()), ...);
  return all;
}

}  // namespace

// Once every copy of the send end is closed, every message sent earlier is
// received in order, then recv reports eof, and keeps reporting it.
IPCC_CONFORMANCE_TEST(PipeConformance, EofAfterDrain, "pipe.eof.after-drain") {
  check_property(15, [] {
    StreamCase c = *stream_case(static_cast<int>(capabilities().pipe.min_buffered_messages),
                                message_size(static_cast<std::int64_t>(capabilities().pipe.min_buffer_bytes) / 16));
    std::int64_t total = 0;
    for (auto size : c.sizes) total += size;
    RC_PRE(static_cast<std::uint64_t>(total) <= capabilities().pipe.min_buffer_bytes);
    replay_cached_failure(c);
    Scenario scenario = stream_scenario(c);
    auto& reader = scenario.processes[1].ops;
    reader.insert(reader.begin(), wait_gate());
    reader.push_back(recv(kFirst));
    reader.push_back(recv(kFirst));
    scenario.control = {step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1)};
    fail_case_if(c, run_pipe_case(scenario, [](const Scenario& sc, const RunResult& run) {
      std::vector<Violation> found;
      for (const auto& r : run.history.by_process[1]) {
        if (r.kind == OpKind::recv_until_end && r.outcome != errc::ok && r.outcome != errc::eof) {
          found.push_back({"pipe.eof.after-drain", describe_record(r) + " where eof was due"});
        }
      }
      for (std::uint32_t op = 2; op <= 3; ++op) {
        auto again = first_record(run, 1, op);
        auto more = expect_outcome(again, errc::eof,
                                   "pipe.eof.after-drain", "a receive after eof");
        found.insert(found.end(), more.begin(), more.end());
      }
      (void)sc;
      return found;
    }));
  });
}

// eof is not reported while another process (a forked child that inherited
// it, or a spawned child it was handed to) holds a copy of the send end; it
// comes once the last copy is closed or its process exits.
IPCC_CONFORMANCE_TEST(PipeConformance, EofWaitsForEveryCopy, "pipe.eof.requires-all-copies") {
  check_property(10, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const auto holders = *rc::gen::inRange(1, 4);
    const auto sizes = *rc::gen::resize(8, rc::gen::container<std::vector<std::int64_t>>(message_size(2000)));
    const auto holder_closes = *rc::gen::container<std::vector<bool>>(static_cast<std::size_t>(holders),
                                                                       rc::gen::arbitrary<bool>());
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), sizes, holder_closes);
    replay_cached_failure(key);
    Scenario scenario;
    scenario.duplex = duplex;
    scenario.start = start;
    ProcessPlan writer{{kSecond}, {}};
    for (auto size : sizes) writer.ops.push_back(send(kSecond, size));
    writer.ops.push_back(close(kSecond));
    scenario.processes.push_back(writer);
    for (int h = 0; h < holders; ++h) {
      ProcessPlan holder{{kSecond}, {wait_gate()}};
      if (holder_closes[static_cast<std::size_t>(h)]) holder.ops.push_back(close(kSecond));
      scenario.processes.push_back(holder);
    }
    ProcessPlan reader{{kFirst}, {}};
    for (std::size_t i = 0; i < sizes.size(); ++i) reader.ops.push_back(recv(kFirst));
    const auto absence_op = static_cast<std::uint32_t>(reader.ops.size());
    reader.ops.push_back(poll(kFirst, fixtures::timing::absence_window().count()));
    reader.ops.push_back(recv_until_end(kFirst));
    const auto reader_index = static_cast<std::uint32_t>(scenario.processes.size());
    scenario.processes.push_back(reader);
    scenario.control.push_back(step(ControlKind::await_exit, 0));
    scenario.control.push_back(step(ControlKind::await_completed, reader_index, absence_op));
    for (int h = 1; h <= holders; ++h) {
      scenario.control.push_back(step(ControlKind::open_gate, static_cast<std::uint32_t>(h)));
      scenario.control.push_back(step(ControlKind::await_exit, static_cast<std::uint32_t>(h)));
    }
    fail_case_if(key, run_pipe_case(scenario, [=](const Scenario&, const RunResult& run) {
      std::vector<Violation> found;
      auto polled = records_of(run, reader_index, absence_op);
      if (!polled.empty() && polled.front().completed && polled.front().value != 0) {
        found.push_back({"pipe.eof.requires-all-copies",
                         "poll returned true after the writer closed while other copies of the send end were open"});
      }
      auto last = last_outcome_is(run, reader_index, errc::eof, "pipe.eof.requires-all-copies");
      found.insert(found.end(), last.begin(), last.end());
      return found;
    }));
  });
}

// A reader blocked in recv or poll(None) wakes with eof (poll: true) when the
// last copy of the send end closes: it never hangs.
IPCC_CONFORMANCE_TEST(PipeConformance, EofWakesBlockedReader, "pipe.eof.never-without-close") {
  check_property(10, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const bool via_poll = *rc::gen::arbitrary<bool>();
    const bool writer_exits = *rc::gen::arbitrary<bool>();
    const auto sent = *rc::gen::inRange(0, 3);
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), via_poll, writer_exits, sent);
    replay_cached_failure(key);
    std::vector<Op> writer = {wait_gate()};
    for (int i = 0; i < sent; ++i) writer.push_back(send(kSecond, 100));
    if (!writer_exits) writer.push_back(close(kSecond));
    std::vector<Op> reader;
    if (via_poll) reader.push_back(poll(kFirst, kNoLimit));
    reader.push_back(recv_until_end(kFirst));
    Scenario scenario = writer_reader(duplex, start, writer, reader);
    scenario.control = {step(ControlKind::await_blocked, 1, 0), step(ControlKind::open_gate, 0)};
    scenario.deadline_ms = 5000;
    fail_case_if(key, run_pipe_case(scenario, [](const Scenario&, const RunResult& run) {
      return last_outcome_is(run, 1, errc::eof, "pipe.eof.never-without-close");
    }));
  });
}

// A writer that dies in the middle of a message leaves the reader with
// truncated (after every complete message), not eof and not a short message;
// later receives report eof.
IPCC_CONFORMANCE_TEST(PipeConformance, TruncatedMessageIsNotEof, "pipe.eof.truncated-frame") {
  check_property(6, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const auto complete = *rc::gen::resize(5, rc::gen::container<std::vector<std::int64_t>>(message_size(1000)));
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), complete);
    replay_cached_failure(key);
    std::vector<Op> writer;
    for (auto size : complete) writer.push_back(send(kSecond, size));
    const auto big = static_cast<std::uint32_t>(writer.size());
    writer.push_back(send(kSecond, kOverCapacity));
    Scenario scenario = writer_reader(duplex, start, writer, {wait_gate(), recv_until_end(kFirst), recv(kFirst)});
    scenario.control = {step(ControlKind::await_blocked, 0, big), step(ControlKind::kill, 0),
                        step(ControlKind::await_exit, 0), step(ControlKind::open_gate, 1)};
    fail_case_if(key, run_pipe_case(scenario, [](const Scenario&, const RunResult& run) {
      std::vector<Violation> found;
      auto blocked = control_record(run, 0);
      if (!blocked || !blocked->completed) {
        found.push_back({"pipe.eof.truncated-frame",
                         "the sender of a message above the capacity ceiling never blocked, so it was not cut"});
        return found;
      }
      auto last = final_record(run, 1, 1);
      found = expect_outcome(last, errc::truncated, "pipe.eof.truncated-frame", "the receive of the cut message");
      auto after = first_record(run, 1, 2);
      auto more = expect_outcome(after, errc::eof,
                                 "pipe.eof.truncated-frame", "the receive after truncated");
      found.insert(found.end(), more.begin(), more.end());
      return found;
    }));
  });
}

// Sending when every receive end is closed reports broken_pipe, and the
// sender lives on although SIGPIPE is at its default action.
IPCC_CONFORMANCE_TEST(PipeConformance, SendWithoutReaderIsBrokenPipe, "pipe.peer-gone.broken-pipe") {
  check_property(10, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const bool reader_exits = *rc::gen::arbitrary<bool>();
    const auto sizes = *rc::gen::resize(4, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(
                                               message_size(300000))));
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)), reader_exits, sizes);
    replay_cached_failure(key);
    std::vector<Op> writer = {wait_gate()};
    for (auto size : sizes) writer.push_back(send(kSecond, size));
    Scenario scenario = writer_reader(duplex, start, writer, {reader_exits ? Op{OpKind::exit_now} : close(kFirst), wait_gate()});
    scenario.control = {step(reader_exits ? ControlKind::await_exit : ControlKind::await_completed, 1, 0),
                        step(ControlKind::open_gate, 0), step(ControlKind::await_exit, 0)};
    if (!reader_exits) scenario.control.push_back(step(ControlKind::open_gate, 1));
    scenario.deadline_ms = 5000;
    fail_case_if(key, run_pipe_case(scenario, [](const Scenario& sc, const RunResult& run) {
      std::vector<Violation> found;
      for (std::uint32_t op = 1; op < sc.processes[0].ops.size(); ++op) {
        auto sent = first_record(run, 0, op);
        auto more = expect_outcome(sent, errc::broken_pipe,
                                   "pipe.peer-gone.broken-pipe", "send_bytes with no receiver left");
        found.insert(found.end(), more.begin(), more.end());
      }
      return found;
    }));
  });
}

// A duplex peer that closes with data still unread delivers what it sent
// first; then the outcome the adapter declares (eof or connection_reset),
// then eof; sending to it reports broken_pipe.
IPCC_CONFORMANCE_TEST(PipeConformance, DuplexPeerClosedWithUnreadData, "pipe.peer-gone.duplex-unread") {
  IPCC_REQUIRE(capabilities().pipe.duplex_pipes, "duplex_pipes");
  const errc declared_outcome = capabilities().pipe.duplex_close_with_unread;
  ASSERT_TRUE(declared_outcome == errc::eof || declared_outcome == errc::connection_reset)
      << "duplex_close_with_unread must be eof or connection_reset, not " << to_string(declared_outcome);
  check_property(10, [] {
    const auto start = *start_method_choice();
    const auto unread = *rc::gen::resize(5, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(message_size(2000))));
    const auto replies = *rc::gen::resize(5, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(message_size(2000))));
    const bool peer_exits = *rc::gen::arbitrary<bool>();
    const auto key = std::make_tuple(std::string(fixtures::to_string(start)), unread, replies, peer_exits);
    replay_cached_failure(key);
    Scenario scenario;
    scenario.duplex = true;
    scenario.start = start;
    ProcessPlan a{{kFirst}, {}};
    for (auto size : unread) a.ops.push_back(send(kFirst, size));
    const auto gate_op = static_cast<std::uint32_t>(a.ops.size());
    a.ops.push_back(wait_gate());
    a.ops.push_back(recv_until_end(kFirst));
    a.ops.push_back(recv(kFirst));
    a.ops.push_back(send(kFirst, 10));
    ProcessPlan b{{kSecond}, {wait_gate()}};
    for (auto size : replies) b.ops.push_back(send(kSecond, size));
    if (!peer_exits) b.ops.push_back(close(kSecond));
    scenario.processes = {a, b};
    scenario.control = {step(ControlKind::await_completed, 0, gate_op - 1), step(ControlKind::open_gate, 1),
                        step(ControlKind::await_exit, 1), step(ControlKind::open_gate, 0)};
    const errc declared = capabilities().pipe.duplex_close_with_unread;
    fail_case_if(key, run_pipe_case(scenario, [=](const Scenario&, const RunResult& run) {
      const std::string clause = "pipe.peer-gone.duplex-unread";
      auto terminal = final_record(run, 0, gate_op + 1);
      auto again = first_record(run, 0, gate_op + 2);
      auto sent = first_record(run, 0, gate_op + 3);
      return joined(
          expect_outcome(terminal, declared, clause, "the receive after the peer's messages (declared outcome)"),
          expect_outcome(again, errc::eof, clause,
                         "the receive after that"),
          expect_outcome(sent, errc::broken_pipe, clause,
                         "send_bytes to the closed peer"));
    }));
  });
}

}  // namespace ipcc::conformance::pipe
