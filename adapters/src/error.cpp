#include "ipcc/error.h"

#include <string>

namespace ipcc {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::eof: return "eof";
    case errc::empty: return "empty";
    case errc::full: return "full";
    case errc::timeout: return "timeout";
    case errc::closed: return "closed";
    case errc::wrong_direction: return "wrong_direction";
    case errc::invalid_argument: return "invalid_argument";
    case errc::message_too_large: return "message_too_large";
    case errc::buffer_too_short: return "buffer_too_short";
    case errc::broken_pipe: return "broken_pipe";
    case errc::connection_reset: return "connection_reset";
    case errc::truncated: return "truncated";
    case errc::resource_exhausted: return "resource_exhausted";
    case errc::not_owner: return "not_owner";
    case errc::released_too_many_times: return "released_too_many_times";
    case errc::too_many_task_done: return "too_many_task_done";
    case errc::serialization_failed: return "serialization_failed";
    case errc::broken: return "broken";
    case errc::unsupported: return "unsupported";
  }
  return "unknown";
}

namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ipcc"; }
  std::string message(int value) const override {
    return std::string(to_string(static_cast<errc>(value)));
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc code) noexcept {
  return {static_cast<int>(code), error_category()};
}

std::string describe(const Error& error) {
  std::string text(to_string(error.code));
  if (error.native != 0 || !error.detail.empty()) {
    text += " (";
    if (error.native != 0) text += "native " + std::to_string(error.native);
    if (error.native != 0 && !error.detail.empty()) text += ": ";
    text += error.detail;
    text += ")";
  }
  if (error.code == errc::buffer_too_short) {
    text += " [carries " + std::to_string(error.message.size()) + " bytes]";
  }
  return text;
}

}  // namespace ipcc
