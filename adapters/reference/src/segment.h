// Internal to the reference (queue.cpp, sync.cpp): the sealed memfd segments
// its shared primitives live in, and the parsing of their handle tokens.
#ifndef IPCC_REFERENCE_SRC_SEGMENT_H_
#define IPCC_REFERENCE_SRC_SEGMENT_H_

#include <charconv>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "ipcc/result.h"

namespace ipcc::reference::internal {

// A failed system call `what` as an adapter error: resource_exhausted for
// the errno values that mean "out of descriptors, memory or space", broken
// for any other.
Failure os_failure(int error_number, std::string_view what);

struct SegmentMapping {
  int fd;      // close-on-exec, the caller's
  void* base;  // `bytes` mapped MAP_SHARED, zero-filled
};

// A new memfd named `name` of `bytes`, sealed against shrinking, growing and
// further seals, and mapped. On failure nothing is left open.
Result<SegmentMapping> create_sealed_segment(const char* name, std::size_t bytes);

// Maps the segment `fd` (from a token) after checking it is a sealed memfd
// of exactly `bytes`; `not_ours` words the refusal (its text follows "not a
// reference ... token: "), and `segment` names it in that text ("segment",
// "queue segment"). resource_exhausted when mmap runs out of memory. On any
// failure `fd` stays open; on success it is still the caller's.
Result<void*> map_sealed_segment(int fd, std::size_t bytes, std::string_view segment,
                                 const std::function<Failure(std::string)>& not_ours);

// Parses the whole of `text` as a decimal number.
template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size();
}

// The value of `key=value` in token data of `;`-separated items; empty when
// absent.
std::string_view field(std::string_view data, std::string_view key);

}  // namespace ipcc::reference::internal

#endif  // IPCC_REFERENCE_SRC_SEGMENT_H_
