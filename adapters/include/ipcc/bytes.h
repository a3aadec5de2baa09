// ipcc/bytes.h: the owned byte buffer that carries messages.
//
// `ipcc::Bytes` is a `std::vector<std::byte>` whose resize() leaves new bytes
// uninitialised, so receiving a 64 MiB message does not first zero 64 MiB.
// Treat bytes added by resize() as indeterminate until written.
#ifndef IPCC_BYTES_H_
#define IPCC_BYTES_H_

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace ipcc {

// An allocator that default-initialises instead of value-initialising.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using Bytes = std::vector<std::byte, DefaultInitAllocator<std::byte>>;

inline std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

inline Bytes to_bytes(std::string_view text) {
  auto view = as_bytes(text);
  return Bytes(view.begin(), view.end());
}

}  // namespace ipcc

#endif  // IPCC_BYTES_H_
