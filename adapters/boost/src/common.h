// Internal plumbing shared by the Boost.Interprocess adapter's primitives:
// deadline conversion, exception mapping, unique names with their owner, and
// the memfd-backed block that holds unnamed Boost objects.
#ifndef IPCC_BOOST_SRC_COMMON_H_
#define IPCC_BOOST_SRC_COMMON_H_

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/interprocess/exceptions.hpp>

#include "ipcc/bytes.h"
#include "ipcc/connection.h"
#include "ipcc/deadline.h"
#include "ipcc/error.h"
#include "ipcc/result.h"

namespace ipcc::boost::detail {

namespace bip = ::boost::interprocess;

// Boost's timed calls take an absolute CLOCK_REALTIME time point; the
// contract's Deadline is monotonic. The conversion is made at each call, so a
// wall-clock step during the wait still distorts it (the library's hazard).
using WallTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;
WallTime wall_time(Deadline deadline);

// Runs a Boost wait in the form `deadline` asks for: `block()` for never(),
// `try_once()` for an expired deadline, else `timed(wall_time)` until it
// succeeds or the monotonic deadline has passed (a REALTIME wait can end a
// little before the monotonic one). Returns whether the wait succeeded.
bool wait_for(Deadline deadline, const std::function<void()>& block, const std::function<bool()>& try_once,
              const std::function<bool(const WallTime&)>& timed);

// Maps a Boost exception onto the contract. lock_exception (a robust mutex
// whose holder died, made not recoverable by Boost) is `broken`; size_error is
// `message_too_large`; descriptor and memory shortages are
// `resource_exhausted` with errno; the rest is `broken`. `native` carries
// errno when Boost has one, else Boost's error_code_t.
Error map_exception(const bip::interprocess_exception& error, std::string_view what);
Error map_exception(const std::exception& error, std::string_view what);

// A name unique on the machine: "ipcc-boost-<pid>-<counter>-<what>".
std::string unique_name(std::string_view what);

// Owns the names of named Boost objects (message_queue segments, sem_open
// semaphores) and removes them as early as the handoff allows.
//
// Without export, the creating process removes them when its last object
// goes (a forked child holds a copy of the owner but never removes: its pid
// differs). With export, a spawned worker must still find the names when it
// imports, and the harness gives no signal that it has: the token carries a
// handoff descriptor, a memfd on which the exporter holds a shared flock.
// Every spawned worker holds that open file description from its start.
// The exporter (at its end) and each importer (once it opened the names) let
// go of it, then try an exclusive flock on a fresh description: the one that
// gets it is the last, and removes the names.
class NameOwner {
 public:
  using Remover = bool (*)(const char*);
  struct Name {
    std::string name;
    Remover remove;
  };
  NameOwner() : creator_(::getpid()) {}
  NameOwner(const NameOwner&) = delete;
  NameOwner& operator=(const NameOwner&) = delete;
  ~NameOwner();
  void add(std::string name, Remover remove) { names_.push_back({std::move(name), remove}); }
  // The handoff descriptor for a token, made at the first export.
  Result<int> handoff_fd();

  // In an importer, once every name is open: lets go of the token's handoff
  // descriptor and removes `names` if nobody else still needs them.
  static void imported(int handoff_fd, const std::vector<Name>& names);

 private:
  pid_t creator_;
  std::vector<Name> names_;
  int handoff_ = -1;
};

// A MAP_SHARED mapping of a memfd: survives fork, and its descriptor travels
// in a HandleToken for spawn. Unnamed Boost objects (interprocess_semaphore,
// interprocess_recursive_mutex, ...) are placed in it with placement new and
// never destroyed: the memory goes when the last process unmaps it.
class SharedBlock {
 public:
  static Result<std::unique_ptr<SharedBlock>> create(std::size_t bytes);
  // Maps an imported descriptor (taking ownership) and sets FD_CLOEXEC again.
  static Result<std::unique_ptr<SharedBlock>> attach(int fd);
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;
  ~SharedBlock();
  void* address() const { return address_; }
  int fd() const { return fd_; }

 private:
  SharedBlock(int fd, void* address, std::size_t bytes) : fd_(fd), address_(address), bytes_(bytes) {}
  int fd_;
  void* address_;
  std::size_t bytes_;
};

// Token data is "key=value;key=value"; values are printable ASCII.
std::string token_field(const std::string& data, std::string_view key);
std::string to_hex(std::span<const std::byte> bytes);
bool from_hex(std::string_view hex, Bytes& out);

}  // namespace ipcc::boost::detail

#endif  // IPCC_BOOST_SRC_COMMON_H_
