#include "ipcc/queue.h"

namespace ipcc {

std::string_view to_string(QueueKind kind) {
  switch (kind) {
    case QueueKind::queue: return "queue";
    case QueueKind::simple_queue: return "simple_queue";
    case QueueKind::joinable_queue: return "joinable_queue";
  }
  return "?";
}

}  // namespace ipcc
