#include "channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ipcc::agent {
namespace {

Result<void> send_all(int fd, const char* data, std::size_t size, int fd_to_pass) {
  while (size > 0) {
    iovec part{const_cast<char*>(data), size};
    msghdr header{};
    header.msg_iov = &part;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (fd_to_pass >= 0) {
      header.msg_control = control;
      header.msg_controllen = sizeof(control);
      cmsghdr* entry = CMSG_FIRSTHDR(&header);
      entry->cmsg_level = SOL_SOCKET;
      entry->cmsg_type = SCM_RIGHTS;
      entry->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(entry), &fd_to_pass, sizeof(int));
    }
    ssize_t sent = ::sendmsg(fd, &header, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return fail(errc::broken, errno, std::string("agent channel: ") + std::strerror(errno));
    }
    fd_to_pass = -1;  // travels with the first byte only
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return ok();
}

}  // namespace

Channel::~Channel() {
  if (fd_ >= 0) ::close(fd_);
}

void Channel::abandon() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<void> Channel::send(nlohmann::json body, std::span<const std::byte> blob, int fd_to_pass) {
  if (fd_ < 0) return fail(errc::broken, 0, "agent channel: closed");
  if (!blob.empty()) body["blob"] = blob.size();
  std::string line = body.dump();
  line.push_back('\n');
  // Small blobs ride in the same write as their line.
  if (blob.size() <= 64 * 1024) {
    line.append(reinterpret_cast<const char*>(blob.data()), blob.size());
    return send_all(fd_, line.data(), line.size(), fd_to_pass);
  }
  auto sent = send_all(fd_, line.data(), line.size(), fd_to_pass);
  if (!sent) return sent;
  return send_all(fd_, reinterpret_cast<const char*>(blob.data()), blob.size(), -1);
}

Result<void> Channel::fill() {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  char chunk[64 * 1024];
  for (;;) {
    ssize_t got = ::read(fd_, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail(errc::broken, errno, std::string("agent channel: ") + std::strerror(errno));
    if (got == 0) return fail(errc::broken, 0, "the agent process ended");
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return ok();
  }
}

Result<Message> Channel::receive() {
  if (fd_ < 0) return fail(errc::broken, 0, "agent channel: closed");
  std::size_t newline;
  while ((newline = buffer_.find('\n', start_)) == std::string::npos) {
    auto more = fill();
    if (!more) return fail(std::move(more).error());
  }
  Message message;
  message.body = nlohmann::json::parse(buffer_.begin() + static_cast<std::ptrdiff_t>(start_),
                                       buffer_.begin() + static_cast<std::ptrdiff_t>(newline), nullptr, false);
  start_ = newline + 1;
  if (message.body.is_discarded() || !message.body.is_object()) {
    return fail(errc::broken, 0, "agent channel: a reply is not a JSON object");
  }
  auto blob = message.body.find("blob");
  if (blob == message.body.end()) return message;
  if (!blob->is_number_unsigned()) return fail(errc::broken, 0, "agent channel: a bad blob size");
  const auto size = blob->get<std::size_t>();
  message.blob.resize(size);
  std::size_t have = std::min(size, buffer_.size() - start_);
  std::memcpy(message.blob.data(), buffer_.data() + start_, have);
  start_ += have;
  while (have < size) {
    ssize_t got = ::read(fd_, message.blob.data() + have, size - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail(errc::broken, errno, std::string("agent channel: ") + std::strerror(errno));
    if (got == 0) return fail(errc::broken, 0, "the agent process ended inside a reply");
    have += static_cast<std::size_t>(got);
  }
  return message;
}

bool Channel::await_peer_end() {
  if (fd_ < 0) return true;
  char chunk[4096];
  for (;;) {
    ssize_t got = ::read(fd_, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return true;
  }
}

}  // namespace ipcc::agent
