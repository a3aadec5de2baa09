// support.h: helpers for the reference Pipe's unit tests, which work below
// the adapter contract, on the descriptors themselves.
#ifndef IPCC_REFERENCE_TEST_SUPPORT_H_
#define IPCC_REFERENCE_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "ipcc/reference/pipe.h"

namespace ipcc::reference::testing {

using namespace std::chrono_literals;
using Wire = std::vector<std::uint8_t>;  // raw bytes on a descriptor

// The limit the hostile-input tests configure.
inline constexpr std::uint64_t kSmallLimit = 1024;

// Every test derives from this: it fails a test that leaves open a
// descriptor the process did not have before it.
class ReferencePipeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

 private:
  std::set<int> fds_before_;
};

std::set<int> open_fds();

// make_pipe, or throws (gtest reports the exception as the test's failure).
PipeEnds make_ends(bool duplex, const PipeOptions& options = {});

// The descriptor of an open reference end (throws for a closed one).
int fd_of(const Connection& end);

// Frame headers as CPython writes them.
Wire be32(std::uint32_t length);
Wire extended(std::uint64_t length);  // ff ff ff ff, then 8 bytes big-endian
Wire frame(std::string_view payload);
Wire concat(std::initializer_list<Wire> parts);
Wire text(std::string_view chars);

// write(2) until everything is written (retrying EINTR); throws on error.
void write_all(int fd, std::span<const std::uint8_t> bytes);

// Reads whatever arrives on `fd` within `wait` (one poll, then every byte
// readable without blocking), at most `limit` bytes.
Wire read_available(int fd, std::chrono::milliseconds wait, std::size_t limit = 1 << 16);

// Blocks SIGPIPE and SIGALRM for the calling thread (helper threads use it).
void block_test_signals();

// Yields until `done()` or 10 s passed; returns done().
bool spin_until(const std::function<bool()>& done);

// True when `fd` has something to read (or end of stream) right now.
bool readable_now(int fd);

// A deterministic, position-dependent byte pattern.
Bytes pattern(std::size_t length, std::uint32_t seed);
Wire to_wire(std::span<const std::byte> bytes);

// Receives one message with a generous deadline on its start.
Result<Bytes> recv_soon(Connection& end);

// Writes `bytes` to `write_fd` from a thread, in pieces of the given sizes
// (cycled), each only once the previous one was read out of the pipe (watched
// with FIONREAD on `read_fd`), so every read(2) of the receiver sees a single
// short piece. `between`, if given, runs after each piece was taken (false:
// give up). The thread blocks SIGPIPE and SIGALRM, so those signals go to the
// receiver. Joins in the destructor; gives up after 10 s without progress.
class Dribbler {
 public:
  Dribbler(int write_fd, int read_fd, Wire bytes, std::vector<std::size_t> pieces,
           std::function<bool()> between = {});
  ~Dribbler();
  Dribbler(const Dribbler&) = delete;
  Dribbler& operator=(const Dribbler&) = delete;
  // Waits for the thread; true when every byte was written and read out.
  bool finish();

 private:
  void run(int write_fd, int read_fd, Wire bytes, std::vector<std::size_t> pieces,
           std::function<bool()> between);
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace ipcc::reference::testing

#endif  // IPCC_REFERENCE_TEST_SUPPORT_H_
