// The reference Pipe's framing, seen on the descriptors: what send_bytes puts
// on the wire, and what recv_bytes makes of raw (possibly hostile, split or
// cut) bytes written straight into the send end's descriptor.
#include <chrono>
#include <cstdint>
#include <string>

#include "alloc_probe.h"
#include "support.h"

namespace ipcc::reference::testing {
namespace {

// ---------------------------------------------------------------------------
// What send_bytes writes.

struct SentFrame {
  std::string name;
  bool duplex;
  std::string buffer;
  std::int64_t offset;
  std::optional<std::int64_t> size;
  Wire expected;
};

void PrintTo(const SentFrame& f, std::ostream* os) { *os << f.name; }

class WireFormat : public ReferencePipeTest, public ::testing::WithParamInterface<SentFrame> {};

TEST_P(WireFormat, SendPutsBigEndianLengthThenPayloadOnTheWire) {
  const auto& param = GetParam();
  auto ends = make_ends(param.duplex);
  ASSERT_EQ(ends.second->send_bytes(as_bytes(param.buffer), param.offset, param.size).code(), errc::ok);
  EXPECT_EQ(read_available(fd_of(*ends.first), 1000ms), param.expected);
  EXPECT_FALSE(readable_now(fd_of(*ends.first))) << "bytes beyond the frame";
}

Wire large_frame() {
  std::string payload(300, 'x');
  return concat({Wire{0x00, 0x00, 0x01, 0x2c}, text(payload)});
}

INSTANTIATE_TEST_SUITE_P(
    Frames, WireFormat,
    ::testing::Values(
        SentFrame{"Hi", false, "hi", 0, std::nullopt, {0x00, 0x00, 0x00, 0x02, 'h', 'i'}},
        SentFrame{"Empty", false, "", 0, std::nullopt, {0x00, 0x00, 0x00, 0x00}},
        SentFrame{"OffsetAndSize", false, "hello world", 6, 3, concat({be32(3), text("wor")})},
        SentFrame{"OffsetToTheEnd", false, "hello world", 6, std::nullopt, frame("world")},
        SentFrame{"LengthAboveOneByte", false, std::string(300, 'x'), 0, std::nullopt, large_frame()},
        SentFrame{"DuplexHi", true, "hi", 0, std::nullopt, {0x00, 0x00, 0x00, 0x02, 'h', 'i'}}),
    [](const auto& info) { return info.param.name; });

TEST_F(ReferencePipeTest, DuplexFramesGoBothWays) {
  auto ends = make_ends(true);
  ASSERT_EQ(ends.first->send_bytes(as_bytes("ab")).code(), errc::ok);
  EXPECT_EQ(read_available(fd_of(*ends.second), 1000ms), frame("ab"));
}

// ---------------------------------------------------------------------------
// What recv_bytes makes of raw bytes.

TEST_F(ReferencePipeTest, ReceivesFramesWrittenRaw) {
  auto ends = make_ends(false);
  write_all(fd_of(*ends.second), concat({frame("abc"), frame(""), frame("de")}));
  auto a = recv_soon(*ends.first);
  auto empty = recv_soon(*ends.first);
  auto de = recv_soon(*ends.first);
  ASSERT_TRUE(a && empty && de);
  EXPECT_EQ(*a, to_bytes("abc"));
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(*de, to_bytes("de"));
}

TEST_F(ReferencePipeTest, ExtendedHeaderForASmallLengthStillDecodes) {
  auto ends = make_ends(false, {.max_message_bytes = kSmallLimit});
  write_all(fd_of(*ends.second), concat({extended(5), text("hello"), frame("next")}));
  auto hello = recv_soon(*ends.first);
  auto next = recv_soon(*ends.first);
  ASSERT_TRUE(hello && next);
  EXPECT_EQ(*hello, to_bytes("hello"));
  EXPECT_EQ(*next, to_bytes("next"));
}

struct HostileHeader {
  std::string name;
  Wire header;
  std::uint64_t declared;
};

void PrintTo(const HostileHeader& h, std::ostream* os) { *os << h.name; }

class OversizedHeader : public ReferencePipeTest,
                        public ::testing::WithParamInterface<HostileHeader> {};

// A length above max_message_bytes is refused before anything is allocated
// for it: the probe sees no allocation anywhere near the declared length.
TEST_P(OversizedHeader, IsRefusedWithMessageTooLargeWithoutAllocating) {
  auto ends = make_ends(false, {.max_message_bytes = kSmallLimit});
  write_all(fd_of(*ends.second), concat({frame("ok"), GetParam().header}));
  // Without a writer, an implementation that trusted the length would report
  // truncated instead of waiting forever for the payload.
  ASSERT_EQ(ends.second->close().code(), errc::ok);
  auto ok = recv_soon(*ends.first);  // also allocates the read-ahead buffer
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, to_bytes("ok"));

  std::optional<Result<Bytes>> refused;
  std::size_t largest = 0;
  const auto start = std::chrono::steady_clock::now();
  {
    AllocationProbe probe;
    EXPECT_NO_THROW(refused.emplace(recv_soon(*ends.first)));
    largest = probe.largest();
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code(), errc::message_too_large)
      << (*refused ? std::string("a message") : describe(refused->error()));
  EXPECT_LT(largest, std::min<std::uint64_t>(GetParam().declared, kSmallLimit));
  EXPECT_LT(took, 1s);
  // CPython's rule: the rest of the stream is unusable, a simplex end closes.
  EXPECT_TRUE(ends.first->closed());
  EXPECT_EQ(native_handle(*ends.first), -1);
}

INSTANTIATE_TEST_SUITE_P(
    Lengths, OversizedHeader,
    ::testing::Values(HostileHeader{"JustAboveLimit", be32(kSmallLimit + 1), kSmallLimit + 1},
                      HostileHeader{"TwoGiB", be32(0x7fffffff), 0x7fffffff},
                      HostileHeader{"ExtendedJustAboveLimit", extended(kSmallLimit + 1), kSmallLimit + 1},
                      HostileHeader{"ExtendedTwoToThe62", extended(std::uint64_t{1} << 62),
                                    std::uint64_t{1} << 62},
                      HostileHeader{"ExtendedAllOnes", extended(~std::uint64_t{0}), ~std::uint64_t{0}}),
    [](const auto& info) { return info.param.name; });

class NegativeLength : public ReferencePipeTest,
                       public ::testing::WithParamInterface<std::uint32_t> {};

TEST_P(NegativeLength, MakesTheEndBroken) {
  auto ends = make_ends(false);
  write_all(fd_of(*ends.second), concat({be32(GetParam()), frame("after")}));
  auto first = recv_soon(*ends.first);
  EXPECT_EQ(first.code(), errc::broken);
  // The stream is out of sync for good: later receives fail at once.
  auto again = ends.first->recv_bytes(std::nullopt, Deadline::now());
  EXPECT_EQ(again.code(), errc::broken);
}

INSTANTIATE_TEST_SUITE_P(Headers, NegativeLength,
                         ::testing::Values(0x80000000u, 0xfffffffeu, 0xffff0000u, 0x80000005u),
                         [](const auto& info) { return std::to_string(info.param); });

// ---------------------------------------------------------------------------
// Short reads: frames arriving a little at a time reassemble.

TEST_F(ReferencePipeTest, FramesWrittenOneByteAtATimeReassemble) {
  auto ends = make_ends(false, {.max_message_bytes = kSmallLimit});
  const Bytes ten = pattern(10, 1);
  const Wire wire = concat({be32(10), to_wire(ten), extended(3), text("xyz"), frame("")});
  Dribbler writer(fd_of(*ends.second), fd_of(*ends.first), wire, {1});
  auto a = recv_soon(*ends.first);
  auto b = recv_soon(*ends.first);
  auto c = recv_soon(*ends.first);
  EXPECT_TRUE(writer.finish());
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, ten);
  EXPECT_EQ(*b, to_bytes("xyz"));
  EXPECT_TRUE(c->empty());
}

TEST_F(ReferencePipeTest, LargeFrameInIrregularPiecesReassembles) {
  auto ends = make_ends(false);
  const Bytes big = pattern(200'000, 2);  // past the direct-read threshold
  const Bytes small = pattern(1000, 3);
  const Wire wire = concat({be32(200'000), to_wire(big), be32(1000), to_wire(small)});
  Dribbler writer(fd_of(*ends.second), fd_of(*ends.first), wire, {1, 3, 4093, 7, 40'000, 2, 31'999});
  auto a = recv_soon(*ends.first);
  Bytes into(1200);
  auto b = ends.first->recv_bytes_into(into, 100, Deadline::after(10s));
  EXPECT_TRUE(writer.finish());
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, big);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, 1000);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), into.begin() + 100));
}

// ---------------------------------------------------------------------------
// A writer that vanished mid-frame: truncated, then eof.

struct CutFrame {
  std::string name;
  Wire written;
};

void PrintTo(const CutFrame& f, std::ostream* os) { *os << f.name; }

class CutOff : public ReferencePipeTest, public ::testing::WithParamInterface<CutFrame> {};

TEST_P(CutOff, GivesTruncatedThenEof) {
  auto ends = make_ends(false);
  write_all(fd_of(*ends.second), GetParam().written);
  ASSERT_EQ(ends.second->close().code(), errc::ok);
  EXPECT_EQ(recv_soon(*ends.first).code(), errc::truncated);
  EXPECT_EQ(recv_soon(*ends.first).code(), errc::eof);
  EXPECT_EQ(recv_soon(*ends.first).code(), errc::eof);
}

Wire half_of_a_large_payload() {
  return concat({be32(100'000), to_wire(pattern(50'000, 4))});
}

INSTANTIATE_TEST_SUITE_P(
    Frames, CutOff,
    ::testing::Values(CutFrame{"HalfAHeader", {0x00, 0x00}},
                      CutFrame{"HalfAnExtendedHeader", {0xff, 0xff, 0xff, 0xff, 0x00, 0x00}},
                      CutFrame{"PartOfASmallPayload", concat({be32(10), text("abcd")})},
                      CutFrame{"PartOfALargePayload", half_of_a_large_payload()}),
    [](const auto& info) { return info.param.name; });

// Whole frames before the cut are still delivered.
TEST_F(ReferencePipeTest, DeliversWholeFramesBeforeTheCut) {
  auto ends = make_ends(false);
  write_all(fd_of(*ends.second), concat({frame("whole"), Wire{0x00, 0x00}}));
  ASSERT_EQ(ends.second->close().code(), errc::ok);
  auto whole = recv_soon(*ends.first);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, to_bytes("whole"));
  EXPECT_EQ(recv_soon(*ends.first).code(), errc::truncated);
  EXPECT_EQ(recv_soon(*ends.first).code(), errc::eof);
}

}  // namespace
}  // namespace ipcc::reference::testing
