#include "common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace ipcc::posix::internal {

Failure os_failure(int error_number, std::string_view what) {
  const std::string text = std::string(what) + ": " + std::strerror(error_number);
  switch (error_number) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOSPC:
    case ENOBUFS:
      return fail(errc::resource_exhausted, error_number, text);
    default:
      return fail(errc::broken, error_number, text);
  }
}

timespec absolute(Deadline deadline, clockid_t clock) {
  using namespace std::chrono;
  timespec now{};
  ::clock_gettime(clock, &now);
  // The remaining time is measured on steady_clock (CLOCK_MONOTONIC), then
  // added to `clock`'s now: for CLOCK_MONOTONIC this is the deadline itself.
  const auto left = duration_cast<nanoseconds>(deadline.remaining()).count();
  std::int64_t sec = now.tv_sec + left / 1'000'000'000;
  std::int64_t nsec = now.tv_nsec + left % 1'000'000'000;
  if (nsec >= 1'000'000'000) {
    sec += 1;
    nsec -= 1'000'000'000;
  }
  return timespec{static_cast<time_t>(sec), static_cast<long>(nsec)};
}

std::optional<std::int64_t> read_sysctl(const char* path) {
  std::FILE* file = std::fopen(path, "re");
  if (file == nullptr) return std::nullopt;
  long long value = 0;
  const bool ok = std::fscanf(file, "%lld", &value) == 1;
  std::fclose(file);
  if (!ok) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

std::string_view field(std::string_view data, std::string_view key) {
  while (!data.empty()) {
    const auto end = data.find(';');
    const auto item = data.substr(0, end);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
      return item.substr(key.size() + 1);
    }
    if (end == std::string_view::npos) break;
    data.remove_prefix(end + 1);
  }
  return {};
}

bool parse_int(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size();
}

void set_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

Result<Segment> create_segment(const char* name, std::size_t bytes) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return os_failure(errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int saved = errno;
    ::close(fd);
    return os_failure(saved, "ftruncate");
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int saved = errno;
    ::close(fd);
    return os_failure(saved, "mmap");
  }
  return Segment{fd, base, bytes};
}

Result<Segment> map_segment(int fd, std::size_t bytes) {
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) ||
      static_cast<std::size_t>(info.st_size) != bytes) {
    return fail(errc::invalid_argument, 0, "not a posix adapter segment");
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return os_failure(errno, "mmap");
  return Segment{fd, base, bytes};
}

void release_segment(Segment& segment, bool keep_mapping) {
  if (segment.base != nullptr && !keep_mapping) ::munmap(segment.base, segment.bytes);
  segment.base = nullptr;
  if (segment.fd >= 0) ::close(segment.fd);
  segment.fd = -1;
}

}  // namespace ipcc::posix::internal
