// The reference Pipe's descriptors: close-on-exec, export/import round trips
// (within this process, through dup'd descriptors), bad tokens, and the
// lower bound of a Deadline-limited wait.
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "support.h"

namespace ipcc::reference::testing {
namespace {

bool cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

std::string kind_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "Duplex" : "Simplex";
}

class Descriptors : public ReferencePipeTest, public ::testing::WithParamInterface<bool> {};

TEST_P(Descriptors, BothEndsAreCloseOnExec) {
  auto ends = make_ends(GetParam());
  EXPECT_TRUE(cloexec(fd_of(*ends.first)));
  EXPECT_TRUE(cloexec(fd_of(*ends.second)));
}

TEST_P(Descriptors, NativeHandleIsMinusOneOnceClosed) {
  auto ends = make_ends(GetParam());
  ASSERT_EQ(ends.first->close().code(), errc::ok);
  EXPECT_EQ(native_handle(*ends.first), -1);
  EXPECT_EQ(ends.first->close().code(), errc::ok);  // idempotent
}

// A Deadline-limited wait on an empty pipe ends with timeout no earlier than
// its deadline (1 ms slack for clock granularity) and not absurdly late.
TEST_P(Descriptors, TimedWaitsOnAnEmptyPipeEndNoEarlierThanTheDeadline) {
  auto ends = make_ends(GetParam());
  for (auto wait : {0ms, 1ms, 15ms, 40ms}) {
    SCOPED_TRACE(std::to_string(wait.count()) + " ms");
    const auto start = Deadline::Clock::now();
    const auto recv_deadline = Deadline::after(wait);
    auto received = ends.first->recv_bytes(std::nullopt, recv_deadline);
    const auto received_at = Deadline::Clock::now();
    EXPECT_EQ(received.code(), errc::timeout);
    EXPECT_GE(received_at + 1ms, recv_deadline.when());
    EXPECT_LT(received_at - start, 1s);

    Bytes buffer(16);
    const auto into_deadline = Deadline::after(wait);
    auto into = ends.first->recv_bytes_into(buffer, 0, into_deadline);
    const auto into_at = Deadline::Clock::now();
    EXPECT_EQ(into.code(), errc::timeout);
    EXPECT_GE(into_at + 1ms, into_deadline.when());

    const auto poll_deadline = Deadline::after(wait);
    auto polled = ends.first->poll(poll_deadline);
    const auto polled_at = Deadline::Clock::now();
    ASSERT_TRUE(polled);
    EXPECT_FALSE(*polled);
    EXPECT_GE(polled_at + 1ms, poll_deadline.when());
    EXPECT_LT(polled_at - start, 1s);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, Descriptors, ::testing::Bool(), kind_name);

// ---------------------------------------------------------------------------
// export_handle / import_connection

// The token with its descriptor replaced by a dup, as the launcher would
// hand it to a spawned process.
HandleToken with_dup(HandleToken token) {
  for (auto& fd : token.fds) fd = ::dup(fd);
  return token;
}

std::unique_ptr<Connection> import_or_throw(const HandleToken& token) {
  auto imported = import_connection(token);
  if (!imported) throw std::runtime_error("import failed: " + describe(imported.error()));
  return std::move(*imported);
}

TEST_F(ReferencePipeTest, ReadAheadBytesTravelInTheToken) {
  auto ends = make_ends(false);
  for (const char* m : {"one", "two", "three"}) {
    ASSERT_EQ(ends.second->send_bytes(as_bytes(m)).code(), errc::ok);
  }
  auto one = recv_soon(*ends.first);  // one read(2) takes all three frames
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, to_bytes("one"));
  EXPECT_FALSE(readable_now(fd_of(*ends.first))) << "the other frames should be read ahead";

  auto token = ends.first->export_handle();
  ASSERT_TRUE(token);
  EXPECT_EQ(token->kind, "ipcc.reference.connection/1");
  ASSERT_EQ(token->fds.size(), 1u);
  EXPECT_EQ(token->fds[0], fd_of(*ends.first));
  auto imported = import_or_throw(with_dup(*token));
  ASSERT_EQ(ends.first->close().code(), errc::ok);  // the exporter lets go

  EXPECT_TRUE(cloexec(fd_of(*imported)));
  EXPECT_TRUE(imported->readable());
  EXPECT_FALSE(imported->writable());
  auto two = recv_soon(*imported);
  auto three = recv_soon(*imported);
  ASSERT_TRUE(two && three);
  EXPECT_EQ(*two, to_bytes("two"));
  EXPECT_EQ(*three, to_bytes("three"));
  ASSERT_EQ(ends.second->close().code(), errc::ok);
  EXPECT_EQ(recv_soon(*imported).code(), errc::eof);
}

TEST_F(ReferencePipeTest, ReadAheadOfAPartialFrameTravelsInTheToken) {
  auto ends = make_ends(false);
  const Bytes big = pattern(100'000, 7);
  const Wire payload = to_wire(big);
  // A whole frame and the start of a large one: both land in the read-ahead.
  write_all(fd_of(*ends.second),
            concat({frame("a"), be32(100'000), Wire(payload.begin(), payload.begin() + 1000)}));
  auto a = recv_soon(*ends.first);
  ASSERT_TRUE(a);
  auto token = ends.first->export_handle();
  ASSERT_TRUE(token);
  auto imported = import_or_throw(with_dup(*token));
  ASSERT_EQ(ends.first->close().code(), errc::ok);
  // The rest comes from a thread: it is more than a pipe's buffer holds.
  Dribbler writer(fd_of(*ends.second), fd_of(*imported), Wire(payload.begin() + 1000, payload.end()),
                  {4096});
  auto got = recv_soon(*imported);
  EXPECT_TRUE(writer.finish());
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == big);
}

TEST_P(Descriptors, ImportedSendEndReplacesTheExportedOne) {
  auto ends = make_ends(GetParam());
  auto token = ends.second->export_handle();
  ASSERT_TRUE(token);
  auto imported = import_or_throw(with_dup(*token));
  ASSERT_EQ(ends.second->close().code(), errc::ok);
  EXPECT_TRUE(imported->writable());
  EXPECT_EQ(imported->readable(), GetParam());
  ASSERT_EQ(imported->send_bytes(as_bytes("via import")).code(), errc::ok);
  auto got = recv_soon(*ends.first);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, to_bytes("via import"));
  // The imported copy was the last one: closing it ends the stream.
  ASSERT_EQ(imported->close().code(), errc::ok);
  EXPECT_EQ(recv_soon(*ends.first).code(), errc::eof);
}

TEST_F(ReferencePipeTest, ImportedEndKeepsTheMessageLimit) {
  auto ends = make_ends(false, {.max_message_bytes = kSmallLimit});
  auto token = ends.second->export_handle();
  ASSERT_TRUE(token);
  auto imported = import_or_throw(with_dup(*token));
  Bytes too_big(kSmallLimit + 1);
  EXPECT_EQ(imported->send_bytes(too_big).code(), errc::message_too_large);
  Bytes fits(kSmallLimit);
  EXPECT_EQ(imported->send_bytes(fits).code(), errc::ok);
}

TEST_F(ReferencePipeTest, ExportOfAClosedEndFails) {
  auto ends = make_ends(false);
  ASSERT_EQ(ends.first->close().code(), errc::ok);
  EXPECT_EQ(ends.first->export_handle().code(), errc::closed);
}

// Bad tokens: the importer refuses them and takes no descriptor.
struct BadToken {
  std::string name;
  HandleToken (*make)(const HandleToken& good);
};

void PrintTo(const BadToken& t, std::ostream* os) { *os << t.name; }

class ImportOf : public ReferencePipeTest, public ::testing::WithParamInterface<BadToken> {};

TEST_P(ImportOf, IsAnInvalidArgument) {
  auto ends = make_ends(false);
  auto good = ends.first->export_handle();
  ASSERT_TRUE(good);
  const HandleToken bad = GetParam().make(*good);
  auto imported = import_connection(bad);
  EXPECT_EQ(imported.code(), errc::invalid_argument);
  for (int fd : bad.fds) {
    if (fd != good->fds[0] && fcntl(fd, F_GETFD) >= 0) ::close(fd);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tokens, ImportOf,
    ::testing::Values(
        BadToken{"WrongKind",
                 [](const HandleToken& good) {
                   auto t = with_dup(good);
                   t.kind = "ipcc.other.connection/1";
                   return t;
                 }},
        BadToken{"EmptyKind",
                 [](const HandleToken& good) {
                   auto t = with_dup(good);
                   t.kind.clear();
                   return t;
                 }},
        BadToken{"NoDescriptor",
                 [](const HandleToken& good) {
                   auto t = good;
                   t.fds.clear();
                   return t;
                 }},
        BadToken{"TwoDescriptors",
                 [](const HandleToken& good) {
                   auto t = with_dup(good);
                   t.fds.push_back(::dup(t.fds[0]));
                   return t;
                 }},
        BadToken{"ClosedDescriptor",
                 [](const HandleToken& good) {
                   auto t = with_dup(good);
                   ::close(t.fds[0]);
                   return t;
                 }},
        BadToken{"NegativeDescriptor",
                 [](const HandleToken& good) {
                   auto t = good;
                   t.fds = {-1};
                   return t;
                 }}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ipcc::reference::testing
