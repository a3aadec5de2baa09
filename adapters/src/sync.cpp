#include "ipcc/sync.h"

namespace ipcc {

std::string_view to_string(LockKind kind) {
  switch (kind) {
    case LockKind::lock: return "lock";
    case LockKind::rlock: return "rlock";
  }
  return "?";
}

std::string_view to_string(SemaphoreKind kind) {
  switch (kind) {
    case SemaphoreKind::semaphore: return "semaphore";
    case SemaphoreKind::bounded_semaphore: return "bounded_semaphore";
  }
  return "?";
}

}  // namespace ipcc
