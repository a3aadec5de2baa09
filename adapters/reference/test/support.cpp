#include "support.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ipcc::reference::testing {

std::set<int> open_fds() {
  std::set<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) throw std::system_error(errno, std::generic_category(), "opendir");
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::stoi(entry->d_name);
    if (fd != own) fds.insert(fd);
  }
  ::closedir(dir);
  return fds;
}

void ReferencePipeTest::SetUp() { fds_before_ = open_fds(); }

void ReferencePipeTest::TearDown() {
  EXPECT_EQ(open_fds(), fds_before_) << "the test leaked (or closed) a descriptor";
}

PipeEnds make_ends(bool duplex, const PipeOptions& options) {
  auto made = make_pipe(duplex, options);
  if (!made) throw std::runtime_error("make_pipe failed: " + describe(made.error()));
  return std::move(*made);
}

int fd_of(const Connection& end) {
  const int fd = native_handle(end);
  if (fd < 0) throw std::runtime_error("not an open reference connection");
  return fd;
}

Wire be32(std::uint32_t length) {
  return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
}

Wire extended(std::uint64_t length) {
  Wire header{0xff, 0xff, 0xff, 0xff};
  for (int shift = 56; shift >= 0; shift -= 8) header.push_back(static_cast<std::uint8_t>(length >> shift));
  return header;
}

Wire text(std::string_view chars) { return Wire(chars.begin(), chars.end()); }

Wire frame(std::string_view payload) {
  return concat({be32(static_cast<std::uint32_t>(payload.size())), text(payload)});
}

Wire concat(std::initializer_list<Wire> parts) {
  Wire all;
  for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

void write_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) throw std::system_error(errno, std::generic_category(), "write");
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
}

bool readable_now(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, 0) > 0;
}

Wire read_available(int fd, std::chrono::milliseconds wait, std::size_t limit) {
  Wire got;
  pollfd entry{fd, POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(wait.count())) <= 0) return got;
  while (got.size() < limit && readable_now(fd)) {
    std::uint8_t chunk[4096];
    const ssize_t n = ::read(fd, chunk, std::min(sizeof chunk, limit - got.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.insert(got.end(), chunk, chunk + n);
  }
  return got;
}

Bytes pattern(std::size_t length, std::uint32_t seed) {
  Bytes bytes(length);
  std::uint32_t state = seed * 2654435761u + 1;
  for (auto& b : bytes) {
    state = state * 1664525u + 1013904223u;
    b = static_cast<std::byte>(state >> 24);
  }
  return bytes;
}

Wire to_wire(std::span<const std::byte> bytes) {
  Wire wire(bytes.size());
  std::memcpy(wire.data(), bytes.data(), bytes.size());
  return wire;
}

Result<Bytes> recv_soon(Connection& end) { return end.recv_bytes(std::nullopt, Deadline::after(10s)); }

void block_test_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGPIPE);
  sigaddset(&signals, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

bool spin_until(const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

Dribbler::Dribbler(int write_fd, int read_fd, Wire bytes, std::vector<std::size_t> pieces,
                   std::function<bool()> between)
    : thread_(&Dribbler::run, this, write_fd, read_fd, std::move(bytes), std::move(pieces),
              std::move(between)) {}

Dribbler::~Dribbler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool Dribbler::finish() {
  if (thread_.joinable()) thread_.join();
  return done_;
}

void Dribbler::run(int write_fd, int read_fd, Wire bytes, std::vector<std::size_t> pieces,
                   std::function<bool()> between) try {
  block_test_signals();
  std::size_t at = 0;
  for (std::size_t i = 0; at < bytes.size(); ++i) {
    const std::size_t size = std::min(pieces[i % pieces.size()], bytes.size() - at);
    write_all(write_fd, std::span(bytes).subspan(at, size));
    at += size;
    // The receiver's progress is the synchronisation, not a sleep.
    const bool taken = spin_until([&] {
      int queued = 0;
      return stop_ || ::ioctl(read_fd, FIONREAD, &queued) != 0 || queued == 0;
    });
    if (!taken || stop_) return;
    if (between && !between()) return;
  }
  done_ = true;
} catch (const std::exception&) {
  // done_ stays false: finish() reports the failure.
}

}  // namespace ipcc::reference::testing
