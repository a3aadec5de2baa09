#include "common.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <new>

namespace ipcc::boost::detail {

WallTime wall_time(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.remaining());
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now()) + left;
}

bool wait_for(Deadline deadline, const std::function<void()>& block, const std::function<bool()>& try_once,
              const std::function<bool(const WallTime&)>& timed) {
  if (deadline.is_never()) {
    block();
    return true;
  }
  if (deadline.expired()) return try_once();
  for (;;) {
    if (timed(wall_time(deadline))) return true;
    if (deadline.expired()) return false;
  }
}

Error map_exception(const bip::interprocess_exception& error, std::string_view what) {
  const int native = error.get_native_error();
  const int code = native != 0 ? native : static_cast<int>(error.get_error_code());
  std::string detail = std::string(what) + ": " + error.what();
  switch (error.get_error_code()) {
    case bip::size_error:
      return Error(errc::message_too_large, code, std::move(detail));
    case bip::out_of_memory_error:
    case bip::out_of_space_error:
    case bip::out_of_resource_error:
      return Error(errc::resource_exhausted, native != 0 ? native : ENOMEM, std::move(detail));
    default:
      break;
  }
  if (native == EMFILE || native == ENFILE || native == ENOMEM || native == ENOSPC) {
    return Error(errc::resource_exhausted, native, std::move(detail));
  }
  return Error(errc::broken, code, std::move(detail));
}

Error map_exception(const std::exception& error, std::string_view what) {
  if (dynamic_cast<const std::bad_alloc*>(&error) != nullptr) {
    return Error(errc::resource_exhausted, ENOMEM, std::string(what) + ": " + error.what());
  }
  return Error(errc::broken, 0, std::string(what) + ": " + error.what());
}

std::string unique_name(std::string_view what) {
  static std::atomic<std::uint64_t> counter{0};
  return "ipcc-boost-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::string(what);
}

namespace {

// Closes `fd` and reports whether no other process still holds its open file
// description (whose shared flock the exporter took).
bool last_to_let_go(int fd) {
  const int fresh = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC);
  ::close(fd);
  if (fresh < 0) return false;
  const bool last = ::flock(fresh, LOCK_EX | LOCK_NB) == 0;
  ::close(fresh);
  return last;
}

void remove_all(const std::vector<NameOwner::Name>& names) {
  for (const auto& entry : names) (void)entry.remove(entry.name.c_str());
}

}  // namespace

NameOwner::~NameOwner() {
  if (::getpid() != creator_) {
    if (handoff_ >= 0) ::close(handoff_);
    return;
  }
  if (handoff_ < 0 || last_to_let_go(handoff_)) remove_all(names_);
}

Result<int> NameOwner::handoff_fd() {
  if (handoff_ >= 0) return handoff_;
  const int fd = ::memfd_create("ipcc-boost-handoff", MFD_CLOEXEC);
  if (fd < 0) return fail(errno == EMFILE || errno == ENFILE ? errc::resource_exhausted : errc::broken, errno, "memfd_create");
  if (::flock(fd, LOCK_SH) != 0) {
    const int saved = errno;
    ::close(fd);
    return fail(errc::broken, saved, "flock");
  }
  handoff_ = fd;
  return fd;
}

void NameOwner::imported(int handoff_fd, const std::vector<Name>& names) {
  if (last_to_let_go(handoff_fd)) remove_all(names);
}

Result<std::unique_ptr<SharedBlock>> SharedBlock::create(std::size_t bytes) {
  const int fd = ::memfd_create("ipcc-boost", MFD_CLOEXEC);
  if (fd < 0) return fail(errno == EMFILE || errno == ENFILE || errno == ENOMEM ? errc::resource_exhausted : errc::broken, errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int saved = errno;
    ::close(fd);
    return fail(errc::resource_exhausted, saved, "ftruncate");
  }
  void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    const int saved = errno;
    ::close(fd);
    return fail(errc::resource_exhausted, saved, "mmap");
  }
  return std::unique_ptr<SharedBlock>(new SharedBlock(fd, address, bytes));
}

Result<std::unique_ptr<SharedBlock>> SharedBlock::attach(int fd) {
  struct stat info {};
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || ::fstat(fd, &info) != 0 || info.st_size <= 0) {
    const int saved = errno;
    ::close(fd);
    return fail(errc::invalid_argument, saved, "not a shared block");
  }
  const auto bytes = static_cast<std::size_t>(info.st_size);
  void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    const int saved = errno;
    ::close(fd);
    return fail(errc::resource_exhausted, saved, "mmap");
  }
  return std::unique_ptr<SharedBlock>(new SharedBlock(fd, address, bytes));
}

SharedBlock::~SharedBlock() {
  ::munmap(address_, bytes_);
  ::close(fd_);
}

std::string token_field(const std::string& data, std::string_view key) {
  std::size_t at = 0;
  while (at <= data.size()) {
    const std::size_t end = std::min(data.find(';', at), data.size());
    const std::string_view field(data.data() + at, end - at);
    if (field.size() > key.size() && field.substr(0, key.size()) == key && field[key.size()] == '=') {
      return std::string(field.substr(key.size() + 1));
    }
    at = end + 1;
  }
  return {};
}

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    const auto v = static_cast<unsigned>(b);
    out.push_back(kDigits[v >> 4]);
    out.push_back(kDigits[v & 15]);
  }
  return out;
}

bool from_hex(std::string_view hex, Bytes& out) {
  if (hex.size() % 2 != 0) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.resize(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = digit(hex[2 * i]);
    const int lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::byte>(hi * 16 + lo);
  }
  return true;
}

}  // namespace ipcc::boost::detail
