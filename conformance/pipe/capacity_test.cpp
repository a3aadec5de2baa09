// Pipe conformance: buffering, capacity, limits, resources, sharing an end
// and handing an end to another process (spec/pipe.md).
#include <dirent.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <map>

#include "pipe_support.h"

namespace ipcc::conformance::pipe {
namespace {

std::map<int, std::string> open_fds() {
  std::map<int, std::string> fds;
  for (const auto& [fd, target] : fixtures::take_snapshot().fds) fds[fd] = target;
  return fds;
}

// The readers' last outcome and every writer send must be as planned.
std::vector<Violation> reader_reaches_eof(const RunResult& run, std::uint32_t reader, const std::string& clause) {
  auto last = last_record(run, reader);
  return expect_outcome(last, errc::eof, clause, "the last receive of p" + std::to_string(reader));
}

}  // namespace

// Messages sent before anyone receives, within the capacity the adapter
// promises, do not block the sender and are all delivered later.
IPCC_CONFORMANCE_TEST(PipeConformance, SendsBufferedBeforeReceive, "pipe.buffering.before-recv") {
  const auto& caps = capabilities().pipe;
  ASSERT_GE(caps.min_buffer_bytes, 4096u) << "declared min_buffer_bytes is below the spec's floor";
  ASSERT_GE(caps.min_buffered_messages, 16u) << "declared min_buffered_messages is below the spec's floor";
  check_property(15, [&caps] {
    StreamCase c = *stream_case(static_cast<int>(caps.min_buffered_messages),
                                message_size(static_cast<std::int64_t>(caps.min_buffer_bytes)));
    keep_buffered_prefix(c);
    RC_PRE(!c.sizes.empty());
    replay_cached_failure(c);
    Scenario scenario = stream_scenario(c);
    auto& reader = scenario.processes[1].ops;
    reader.insert(reader.begin(), wait_gate());
    const auto last_send = static_cast<std::uint32_t>(c.sizes.size() - 1);
    scenario.control = {step(ControlKind::await_completed, 0, last_send, 2000), step(ControlKind::open_gate, 1)};
    fail_case_if(c, run_pipe_case(scenario, [](const Scenario&, const RunResult& run) {
      return reader_reaches_eof(run, 1, "pipe.buffering.before-recv");
    }));
  });
}

// A message larger than any capacity blocks its sender while nobody reads
// (the sender is seen asleep in the kernel), and completes intact only after
// a reader started draining it.
IPCC_CONFORMANCE_TEST(PipeConformance, LargeSendBlocksUntilRead, "pipe.capacity.blocks-sender") {
  check_property(4, [] {
    const bool duplex = *duplex_choice();
    const auto start = *start_method_choice();
    const auto key = std::make_tuple(duplex, std::string(fixtures::to_string(start)));
    replay_cached_failure(key);
    Scenario scenario = writer_reader(duplex, start, {send(kSecond, kOverCapacity), close(kSecond)},
                                      {wait_gate(), recv_until_end(kFirst)});
    scenario.control = {step(ControlKind::await_blocked, 0, 0), step(ControlKind::open_gate, 1)};
    fail_case_if(key, run_pipe_case(scenario, [](const Scenario&, const RunResult& run) {
      std::vector<Violation> found;
      const std::string clause = "pipe.capacity.blocks-sender";
      auto blocked = control_record(run, 0);
      if (!blocked || !blocked->completed) {
        found.push_back({clause, "send_bytes of " + std::to_string(kOverCapacity) +
                                     " bytes completed although nobody was receiving"});
      }
      auto sent = records_of(run, 0, 0);
      auto got = records_of(run, 1, 1);
      if (!sent.empty() && sent.front().completed && !got.empty() &&
          sent.front().t_complete < got.front().t_invoke) {
        found.push_back({clause, "send_bytes completed before the receiver started reading"});
      }
      auto more = reader_reaches_eof(run, 1, clause);
      found.insert(found.end(), more.begin(), more.end());
      return found;
    }));
  });
}

// A message above max_message_bytes is refused with message_too_large and
// nothing is sent. (The buffer is address space only: an adapter that obeys
// never touches it.)
IPCC_CONFORMANCE_TEST(PipeConformance, MessageAboveLimitRefused, "pipe.message.limit") {
  const std::uint64_t limit = capabilities().pipe.max_message_bytes;
  IPCC_REQUIRE(limit < (std::uint64_t{1} << 44), "a testable max_message_bytes (below 16 TiB)");
  for (bool duplex : {false, true}) {
    if (duplex ? !capabilities().pipe.duplex_pipes : !capabilities().pipe.simplex_pipes) continue;
    expect_isolated(
        [duplex, limit](Expect& expect) {
          auto ends = backend().make_pipe(duplex);
          if (!expect.ok(ends, "make_pipe")) return;
          const std::size_t bytes = static_cast<std::size_t>(limit) + 1;
          void* huge = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
          if (huge == MAP_FAILED) {
            expect.that(false, "harness: cannot reserve " + std::to_string(bytes) + " bytes of address space");
            return;
          }
          std::span<const std::byte> over(static_cast<const std::byte*>(huge), bytes);
          expect.outcome(ends->second->send_bytes(over), errc::message_too_large,
                         "send_bytes of max_message_bytes + 1 = " + std::to_string(bytes) + " bytes");
          auto pending = ends->first->poll();
          expect.that(pending && !*pending, "a refused message left data in the pipe");
          auto normal = fixtures::make_payload(30, 100);
          expect.ok(ends->second->send_bytes(normal), "send_bytes after the refusal");
          auto got = ends->first->recv_bytes(std::nullopt, soon());
          expect.that(got && *got == normal, "the Pipe does not work normally after the refusal");
          ::munmap(huge, bytes);
        },
        std::chrono::milliseconds(3000));
  }
}

// Running out of descriptors makes Pipe creation report resource_exhausted
// without leaking a descriptor; creation works again once some are freed.
IPCC_CONFORMANCE_TEST(PipeConformance, DescriptorExhaustion, "pipe.resources.fd-exhaustion") {
  for (bool duplex : {false, true}) {
    if (duplex ? !capabilities().pipe.duplex_pipes : !capabilities().pipe.simplex_pipes) continue;
    expect_isolated([duplex](Expect& expect) {
      const auto initial = open_fds();
      // The kernel hands out the lowest free number below the limit, and the
      // runner may leave descriptors open high up: leave exactly 9 free
      // numbers below the limit (one for reading /proc/self/fd).
      int limit = 0;
      for (int free_slots = 0; free_slots < 9; ++limit) {
        if (!initial.count(limit)) ++free_slots;
      }
      rlimit lowered{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
      rlimit saved;
      ::getrlimit(RLIMIT_NOFILE, &saved);
      lowered.rlim_max = saved.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &lowered) != 0) {
        expect.that(false, "harness: cannot lower RLIMIT_NOFILE");
        return;
      }
      std::vector<PipeEnds> made;
      Error failure;
      bool failed = false;
      std::map<int, std::string> before_failure;
      for (int i = 0; i < 64 && !failed; ++i) {
        before_failure = open_fds();
        auto ends = backend().make_pipe(duplex);
        if (ends) {
          made.push_back(std::move(*ends));
        } else {
          failure = ends.error();
          failed = true;
        }
      }
      const std::string kind = duplex ? "Pipe(duplex=true)" : "Pipe(duplex=false)";
      expect.that(failed, kind + ": 64 Pipes were created under a limit of " + std::to_string(lowered.rlim_cur) + " descriptors");
      if (!failed) return;
      expect.that(failure.code == errc::resource_exhausted,
                  kind + ": creation under an exhausted descriptor table reported " + describe(failure) +
                      ", not resource_exhausted");
      const auto after_failure = open_fds();
      expect.that(after_failure == before_failure,
                  kind + ": the failed creation changed the descriptor table (" + std::to_string(before_failure.size()) +
                      " open before, " + std::to_string(after_failure.size()) + " after)");
      // Objects are destroyed with the limit restored: destructors (and
      // sanitizer runtimes) may need a descriptor of their own.
      ::setrlimit(RLIMIT_NOFILE, &saved);
      if (!made.empty()) {
        made.pop_back();
        ::setrlimit(RLIMIT_NOFILE, &lowered);
        auto again = backend().make_pipe(duplex);
        ::setrlimit(RLIMIT_NOFILE, &saved);
        expect.that(again.has_value(), kind + ": creation failed again after a Pipe was closed");
      }
      made.clear();
      expect.that(open_fds() == initial, kind + ": descriptors remain after every Pipe was destroyed");
    });
  }
}

// Several writers on one simplex send end never interleave messages whose
// frame fits in PIPE_BUF (a SHOULD, checked when the adapter declares it).
IPCC_CONFORMANCE_TEST(PipeConformance, SmallFramesFromManyWritersStayWhole, "pipe.sharing.atomic-small-frames") {
  const auto& caps = capabilities().pipe;
  IPCC_REQUIRE(caps.simplex_pipes, "simplex_pipes");
  IPCC_REQUIRE(caps.atomic_small_frames, "atomic_small_frames");
  const std::int64_t max_payload = 4096 - static_cast<std::int64_t>(caps.frame_header_bytes);
  check_property(10, [max_payload] {
    const auto start = *start_method_choice();
    const auto writers = *rc::gen::inRange(2, 5);
    auto sizes = rc::gen::oneOf(rc::gen::inRange<std::int64_t>(0, max_payload + 1), rc::gen::just(max_payload));
    const auto streams = *rc::gen::container<std::vector<std::vector<std::int64_t>>>(
        static_cast<std::size_t>(writers), rc::gen::resize(150, rc::gen::container<std::vector<std::int64_t>>(sizes)));
    const auto key = std::make_tuple(std::string(fixtures::to_string(start)), streams);
    replay_cached_failure(key);
    Scenario scenario;
    scenario.duplex = false;
    scenario.start = start;
    for (const auto& stream : streams) {
      ProcessPlan writer{{kSecond}, {}};
      for (auto size : stream) writer.ops.push_back(send(kSecond, size));
      scenario.processes.push_back(writer);
    }
    scenario.processes.push_back(ProcessPlan{{kFirst}, {recv_until_end(kFirst)}});
    fail_case_if(key, run_pipe_case(scenario));
  });
}

namespace {

// A stream that starts in the test process (which receives part of it, so
// read-ahead may exist) and continues in two workers started by `start`.
void check_handoff(StartMethod start, const std::string& clause) {
  check_property(10, [start, clause] {
    const bool duplex = *duplex_choice();
    const auto early = *rc::gen::resize(8, rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(message_size(600))));
    const auto taken = *rc::gen::inRange<std::size_t>(0, early.size());
    const auto late = *rc::gen::resize(8, rc::gen::container<std::vector<std::int64_t>>(message_size(600)));
    const auto key = std::make_tuple(duplex, early, taken, late);
    replay_cached_failure(key);
    Scenario scenario;
    scenario.duplex = duplex;
    scenario.start = start;
    for (auto size : early) scenario.prelude.push_back(send(kSecond, size));
    for (std::size_t i = 0; i < taken; ++i) scenario.prelude.push_back(recv(kFirst, ms(5000)));
    ProcessPlan writer{{kSecond}, {}};
    for (auto size : late) writer.ops.push_back(send(kSecond, size));
    writer.ops.push_back(close(kSecond));
    scenario.processes = {writer, ProcessPlan{{kFirst}, {recv_until_end(kFirst)}}};
    fail_case_if(key, run_pipe_case(scenario, [clause](const Scenario& sc, const RunResult& run) {
      auto found = reader_reaches_eof(run, 1, clause);
      for (const auto& r : run.history.by_process[0]) {
        if (r.completed && r.outcome != errc::ok) {
          found.push_back({clause, "the writer's p0#" + std::to_string(r.op) + " got " + std::string(to_string(r.outcome))});
        }
      }
      (void)sc;
      return found;
    }));
  });
}

}  // namespace

// An end exported to a spawned (exec'd) process and re-attached there works
// as the original, including messages the exporter had already read ahead.
IPCC_CONFORMANCE_TEST(PipeConformance, HandoffToSpawnedProcess, "pipe.handoff.spawn") {
  IPCC_REQUIRE(capabilities().spawn, "spawn");
  check_handoff(StartMethod::spawn, "pipe.handoff.spawn");
}

// An end inherited by a forked child works there exactly as in the parent.
IPCC_CONFORMANCE_TEST(PipeConformance, HandoffToForkedProcess, "pipe.handoff.fork") {
  IPCC_REQUIRE(capabilities().fork, "fork");
  check_handoff(StartMethod::fork, "pipe.handoff.fork");
}

}  // namespace ipcc::conformance::pipe
