// Internal: what the faulty Queue, Lock/Semaphore and Event/Condition/Barrier
// wrappers share: the MAP_SHARED memfd region a variant keeps its
// cross-process state in, the wrapping of the reference's handle token
// around it, and the timing helpers their defects are built from.
#ifndef IPCC_FAULTY_SRC_FAULTY_SUPPORT_H_
#define IPCC_FAULTY_SRC_FAULTY_SUPPORT_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "ipcc/backend.h"

namespace ipcc::faulty {

// A MAP_SHARED memfd mapping of `size` bytes. It survives fork, and its
// descriptor travels in a wrapped token so an imported copy maps the same
// memory. Move-only; destruction unmaps, and closes the descriptor if owned.
class SharedMemory {
 public:
  // A new zero-filled region (close-on-exec); resource_exhausted on failure.
  static Result<SharedMemory> create(const char* name, std::size_t size);
  // Maps the region `fd` (from a token) refers to. The result does not own
  // `fd` until keep_fd(): if the import fails after this, the descriptor
  // stays the caller's. invalid_argument ("not a faulty <what>'s shared
  // region") if `fd` is smaller than `size`; on any failure `fd` stays open.
  static Result<SharedMemory> attach(int fd, std::size_t size, std::string_view what);

  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&&) = delete;
  ~SharedMemory();

  // Takes ownership of an attached descriptor and marks it close-on-exec.
  void keep_fd();
  void* address() const { return at_; }
  int fd() const { return fd_; }

 private:
  SharedMemory(int fd, void* at, std::size_t size, bool owns_fd) : fd_(fd), at_(at), size_(size), owns_fd_(owns_fd) {}

  int fd_;
  void* at_;
  std::size_t size_;
  bool owns_fd_;
};

// A SharedMemory holding one `State` (a struct of process-shared atomics or
// semaphores) that every process's copy of one primitive uses.
template <typename State>
class SharedRegion {
 public:
  // A new region whose State is value-initialised (all zero); the caller
  // sets any other starting values.
  static Result<std::unique_ptr<SharedRegion>> create(const char* name) {
    auto memory = SharedMemory::create(name, sizeof(State));
    if (!memory) return fail(std::move(memory).error());
    new (memory->address()) State{};
    return std::unique_ptr<SharedRegion>(new SharedRegion(std::move(*memory)));
  }
  // As SharedMemory::attach: `fd` becomes the region's only with keep_fd().
  static Result<std::unique_ptr<SharedRegion>> attach(int fd, std::string_view what) {
    auto memory = SharedMemory::attach(fd, sizeof(State), what);
    if (!memory) return fail(std::move(memory).error());
    return std::unique_ptr<SharedRegion>(new SharedRegion(std::move(*memory)));
  }

  void keep_fd() { memory_.keep_fd(); }
  State& state() { return *static_cast<State*>(memory_.address()); }
  int fd() const { return memory_.fd(); }

 private:
  explicit SharedRegion(SharedMemory memory) : memory_(std::move(memory)) {}

  SharedMemory memory_;
};

// A faulty variant's token is the reference's with `prefix` before its kind,
// `header` (what the wrapper needs to rebuild itself) and ':' before its
// data, and the shared region's descriptor, if any (`shared_fd` >= 0), after
// its descriptors.
HandleToken wrap_token(HandleToken token, std::string_view prefix, std::string_view header, int shared_fd);

struct UnwrappedToken {
  HandleToken inner;   // the reference's token, the shared region's descriptor still last in its fds
  std::string header;  // as given to wrap_token
};

// Undoes wrap_token but for the descriptor. invalid_argument, naming `what`
// ("lock", "queue", ...): "not a faulty <what> token" without `prefix`;
// "malformed faulty <what> token" without a header or when `header_valid`
// rejects it.
Result<UnwrappedToken> unwrap_token(const HandleToken& token, std::string_view prefix, std::string_view what,
                                    const std::function<bool(std::string_view header)>& header_valid);

// Removes the shared region's descriptor (the last) from an unwrapped
// token's fds and returns it, still the caller's; invalid_argument ("faulty
// <what> token without its shared region") if there is none.
Result<int> take_shared_fd(HandleToken& inner, std::string_view what);

// Sleeps for `length`, resuming after signals.
void nap(std::chrono::nanoseconds length);

// The deadline of a timed wait that gives up after a quarter of its time;
// never and already-expired deadlines are kept.
Deadline quarter_of(Deadline deadline);

}  // namespace ipcc::faulty

#endif  // IPCC_FAULTY_SRC_FAULTY_SUPPORT_H_
