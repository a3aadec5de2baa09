// Internal to the posix adapter: errno mapping, Deadline conversion, token
// parsing and the memfd segments the synchronisation primitives live in.
#ifndef IPCC_POSIX_SRC_COMMON_H_
#define IPCC_POSIX_SRC_COMMON_H_

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipcc/deadline.h"
#include "ipcc/result.h"

namespace ipcc::posix::internal {

// A failed call `what` as an adapter error: resource_exhausted for the errno
// values that mean "out of descriptors, memory or space", broken otherwise.
Failure os_failure(int error_number, std::string_view what);

// The deadline as an absolute time on `clock` (CLOCK_MONOTONIC for pthread
// and sem_clockwait, CLOCK_REALTIME for mq_timed*). Not for Deadline::never().
timespec absolute(Deadline deadline, clockid_t clock);

// The first line of a /proc/sys file as a number, or nullopt.
std::optional<std::int64_t> read_sysctl(const char* path);

// The value of `key=value` in token data of `;`-separated items; empty when
// absent.
std::string_view field(std::string_view data, std::string_view key);
bool parse_int(std::string_view text, std::int64_t& out);

// Sets FD_CLOEXEC again on a descriptor that arrived in a token.
void set_cloexec(int fd);

// A shared segment: a memfd of `bytes`, mapped MAP_SHARED. The descriptor is
// kept so export_handle can pass it on; a forked child inherits the mapping.
struct Segment {
  int fd = -1;
  void* base = nullptr;
  std::size_t bytes = 0;
};

// A new zero-filled segment. On failure nothing is left open.
Result<Segment> create_segment(const char* name, std::size_t bytes);
// Maps a segment received in a token after checking it is a memfd of
// exactly `bytes`; invalid_argument otherwise (the fd stays the caller's).
Result<Segment> map_segment(int fd, std::size_t bytes);
// Closes the descriptor; unmaps unless `keep_mapping` (see sync.cpp).
void release_segment(Segment& segment, bool keep_mapping);

}  // namespace ipcc::posix::internal

#endif  // IPCC_POSIX_SRC_COMMON_H_
