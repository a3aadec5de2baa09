#include "segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace ipcc::reference::internal {

Failure os_failure(int error_number, std::string_view what) {
  switch (error_number) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOSPC:
    case EAGAIN:
    case EFBIG:
      return fail(errc::resource_exhausted, error_number,
                  std::string(what) + ": " + std::strerror(error_number));
    default:
      return fail(errc::broken, error_number,
                  std::string(what) + ": " + std::strerror(error_number));
  }
}

Result<SegmentMapping> create_sealed_segment(const char* name, std::size_t bytes) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return os_failure(errno, "memfd_create");
  auto give_up = [fd](int error_number, std::string_view what) {
    ::close(fd);
    return os_failure(error_number, what);
  };
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) return give_up(errno, "ftruncate");
  // A segment that cannot shrink cannot SIGBUS a process that maps it.
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return give_up(errno, "F_ADD_SEALS");
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return give_up(errno, "mmap");
  return SegmentMapping{fd, base};
}

Result<void*> map_sealed_segment(int fd, std::size_t bytes, std::string_view segment,
                                 const std::function<Failure(std::string)>& not_ours) {
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) return not_ours("no open descriptor");
  if (!S_ISREG(info.st_mode) || static_cast<std::uint64_t>(info.st_size) != bytes) {
    return not_ours("the descriptor is not a " + std::string(segment) + " of " + std::to_string(bytes) + " bytes");
  }
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
    return not_ours("the descriptor is not a sealed segment");
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    if (errno == ENOMEM) return os_failure(ENOMEM, "mmap");
    return not_ours(std::string("mmap: ") + std::strerror(errno));
  }
  return base;
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

}  // namespace ipcc::reference::internal
