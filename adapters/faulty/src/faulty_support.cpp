#include "faulty_support.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace ipcc::faulty {

Result<SharedMemory> SharedMemory::create(const char* name, std::size_t size) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return fail(errc::resource_exhausted, errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int error = errno;
    ::close(fd);
    return fail(errc::resource_exhausted, error, "ftruncate");
  }
  void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (at == MAP_FAILED) {
    const int error = errno;
    ::close(fd);
    return fail(errc::resource_exhausted, error, "mmap");
  }
  return SharedMemory(fd, at, size, true);
}

Result<SharedMemory> SharedMemory::attach(int fd, std::size_t size, std::string_view what) {
  struct stat info {};
  if (::fstat(fd, &info) != 0 || static_cast<std::size_t>(info.st_size) < size) {
    return fail(errc::invalid_argument, 0, "not a faulty " + std::string(what) + "'s shared region");
  }
  void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (at == MAP_FAILED) return fail(errc::resource_exhausted, errno, "mmap");
  return SharedMemory(fd, at, size, false);
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : fd_(other.fd_), at_(other.at_), size_(other.size_), owns_fd_(other.owns_fd_) {
  other.at_ = nullptr;
  other.owns_fd_ = false;
}

SharedMemory::~SharedMemory() {
  if (at_ != nullptr) ::munmap(at_, size_);
  if (owns_fd_) ::close(fd_);
}

void SharedMemory::keep_fd() {
  ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
  owns_fd_ = true;
}

HandleToken wrap_token(HandleToken token, std::string_view prefix, std::string_view header, int shared_fd) {
  token.kind = std::string(prefix) + token.kind;
  token.data = std::string(header) + ":" + token.data;
  if (shared_fd >= 0) token.fds.push_back(shared_fd);
  return token;
}

Result<UnwrappedToken> unwrap_token(const HandleToken& token, std::string_view prefix, std::string_view what,
                                    const std::function<bool(std::string_view header)>& header_valid) {
  if (!token.kind.starts_with(prefix)) {
    return fail(errc::invalid_argument, 0, "not a faulty " + std::string(what) + " token");
  }
  const auto colon = token.data.find(':');
  if (colon == std::string::npos || !header_valid(std::string_view(token.data).substr(0, colon))) {
    return fail(errc::invalid_argument, 0, "malformed faulty " + std::string(what) + " token");
  }
  UnwrappedToken out{token, token.data.substr(0, colon)};
  out.inner.kind = token.kind.substr(prefix.size());
  out.inner.data = token.data.substr(colon + 1);
  return out;
}

Result<int> take_shared_fd(HandleToken& inner, std::string_view what) {
  if (inner.fds.empty()) {
    return fail(errc::invalid_argument, 0, "faulty " + std::string(what) + " token without its shared region");
  }
  const int fd = inner.fds.back();
  inner.fds.pop_back();
  return fd;
}

void nap(std::chrono::nanoseconds length) {
  const auto ns = length.count();
  timespec pause{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

Deadline quarter_of(Deadline deadline) {
  if (deadline.is_never() || deadline.expired()) return deadline;
  return Deadline::after(deadline.remaining() / 4);
}

}  // namespace ipcc::faulty
