// Queue conformance: creation, bounded and unbounded capacity
// (spec/queue.md, "Creation and capacity").
#include <dirent.h>

#include "queue_support.h"

namespace ipcc::conformance::queue {
namespace {

const std::vector<QueueKind> kBoundedKinds = {QueueKind::queue, QueueKind::joinable_queue};

std::size_t open_fd_count() {
  std::size_t count = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (::readdir(dir) != nullptr) ++count;
    ::closedir(dir);
  }
  return count;
}

}  // namespace

// maxsize <= 0 is unbounded: with nobody getting, puts of the declared
// storage never block or fail, and full() stays false.
IPCC_CONFORMANCE_TEST(QueueConformance, UnboundedAcceptsStorage, "queue.create.unbounded") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  const auto storage = capabilities().queue.min_storage_bytes;
  // Every kind and every spelling of "unbounded", each in its own process.
  for (auto kind : supported_kinds()) {
    const std::vector<std::int64_t> spellings =
        kind == QueueKind::simple_queue ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{0, -1};
    for (auto maxsize : spellings) {
      SCOPED_TRACE(std::string(to_string(kind)) + "(maxsize=" + std::to_string(maxsize) + ")");
      expect_isolated([&](Expect& expect) {
        auto q = make_queue_or_note(expect, {kind, maxsize});
        if (!q) return;
        expect.that(q->maxsize() == 0, "maxsize() of an unbounded queue is " + std::to_string(q->maxsize()));
        // Many small items (as many as the declared storage holds, up to
        // 2000), then large ones up to the declared storage.
        const auto kSmall = static_cast<std::uint32_t>(std::min<std::uint64_t>(2000, storage / storage_bytes(8)));
        constexpr std::size_t kLarge = 1 << 20;
        std::uint64_t used = 0;
        std::uint32_t n = 0;
        for (; n < kSmall; ++n, used += storage_bytes(8)) {
          if (!expect.ok(q->put_nowait(item(n, 8)), "put_nowait #" + std::to_string(n) + " into an unbounded queue")) return;
        }
        // The declared storage once per kind; other spellings of unbounded
        // only the small items.
        for (; maxsize == 0 && used + storage_bytes(kLarge) <= storage; ++n, used += storage_bytes(kLarge)) {
          if (!expect.ok(q->put_nowait(item(n, kLarge)), "put_nowait #" + std::to_string(n) + " (1 MiB) into an unbounded queue")) return;
        }
        auto full = q->full();
        if (full.code() != errc::unsupported || kind != QueueKind::simple_queue) {
          expect.that(full && !*full, "full() on an unbounded queue holding " + std::to_string(n) + " items");
        }
        for (std::uint32_t i = 0; i < n; ++i) {
          auto got = q->get(soon());
          if (!expect.ok(got, "get #" + std::to_string(i))) return;
          if (*got != item(i, i < kSmall ? 8 : kLarge)) {
            expect.that(false, "get #" + std::to_string(i) + " returned another item");
            return;
          }
        }
      }, std::chrono::milliseconds(20000));
    }
  }
}

// Queue(n) holds exactly n items: n puts succeed with nobody getting, the
// next reports full, and one get makes room for exactly one more.
IPCC_CONFORMANCE_TEST(QueueConformance, BoundedCapacityExact, "queue.create.bounded-capacity") {
  IPCC_REQUIRE(!supported_kinds(kBoundedKinds).empty(), "queue or joinable_queue");
  check_property(10, [] {
    const auto kind = *kind_choice(kBoundedKinds);
    const auto maxsize = *rc::gen::inRange<std::int64_t>(1, std::min<std::int64_t>(capabilities().queue.max_maxsize, 32) + 1);
    const auto key = std::make_tuple(std::string(to_string(kind)), maxsize);
    replay_cached_failure(key);
    fail_case_if(key, run_isolated([&](Expect& expect) {
      auto q = make_queue_or_note(expect, {kind, maxsize});
      if (!q) return;
      expect.that(q->maxsize() == maxsize, "maxsize() is " + std::to_string(q->maxsize()));
      for (std::int64_t i = 0; i < maxsize; ++i) {
        if (!expect.ok(q->put_nowait(item(static_cast<std::uint32_t>(i))), "put_nowait #" + std::to_string(i))) return;
      }
      expect.outcome(q->put_nowait(item(1000)), errc::full, "put_nowait beyond maxsize");
      auto full = q->full();
      expect.that(full && *full, "full() is not true with maxsize items queued");
      if (capabilities().queue.qsize) {
        auto size = q->qsize();
        expect.that(size && *size == maxsize, "qsize() with maxsize items queued is not maxsize");
      }
      expect.ok(q->get(soon()), "get");
      expect.ok(q->put_nowait(item(1001)), "put_nowait after one get");
      expect.outcome(q->put_nowait(item(1002)), errc::full, "a second put_nowait after one get");
    }));
  });
}

// make_queue refuses options outside the contract with invalid_argument and
// leaves nothing behind.
IPCC_CONFORMANCE_TEST(QueueConformance, InvalidOptionsRefused, "queue.create.invalid-options") {
  IPCC_REQUIRE(!supported_kinds().empty(), "every queue kind");
  expect_isolated([](Expect& expect) {
    const auto max = capabilities().queue.max_maxsize;
    std::vector<std::pair<QueueOptions, std::string>> refused;
    if (max < INT64_MAX) {
      for (auto kind : supported_kinds(kBoundedKinds)) {
        refused.push_back({{kind, max + 1}, std::string(to_string(kind)) + "(maxsize=max_maxsize+1)"});
        refused.push_back({{kind, INT64_MAX}, std::string(to_string(kind)) + "(maxsize=INT64_MAX)"});
      }
    }
    if (supports(QueueKind::simple_queue)) {
      refused.push_back({{QueueKind::simple_queue, 5}, "simple_queue(maxsize=5)"});
      refused.push_back({{QueueKind::simple_queue, -1}, "simple_queue(maxsize=-1)"});
    }
    const auto fds = open_fd_count();
    for (const auto& [options, what] : refused) {
      expect.outcome(backend().make_queue(options), errc::invalid_argument, "make_queue " + what);
    }
    expect.that(open_fd_count() == fds, "refused make_queue calls left descriptors open");
    for (auto kind : supported_kinds(kBoundedKinds)) {
      auto q = backend().make_queue({kind, max});
      expect.ok(q, "make_queue " + std::string(to_string(kind)) + "(maxsize=max_maxsize)");
    }
  });
}

}  // namespace ipcc::conformance::queue
