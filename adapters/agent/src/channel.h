// channel.h: one session's framing over a connected AF_UNIX stream socket
// (adapters/agent/PROTOCOL.md, "Transport"): a JSON object per line, an
// optional raw blob after it, and at most one descriptor per message.
//
// Errors: every failure (the peer ended, a malformed line, an I/O error) is
// errc::broken with a detail; the channel is unusable afterwards.
#ifndef IPCC_AGENT_CHANNEL_H_
#define IPCC_AGENT_CHANNEL_H_

#include <cstddef>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "ipcc/bytes.h"
#include "ipcc/result.h"

namespace ipcc::agent {

struct Message {
  nlohmann::json body;
  Bytes blob;
};

class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}  // takes ownership
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel();

  int fd() const { return fd_; }
  // Closes the descriptor without telling the peer anything (a forked child
  // dropping its parent's channel).
  void abandon();

  // Sends `body` (plus `blob` when it is not empty, announced as "blob"),
  // passing `fd_to_pass` with it when it is not -1.
  Result<void> send(nlohmann::json body, std::span<const std::byte> blob = {}, int fd_to_pass = -1);
  Result<Message> receive();
  // Blocks until the peer closes its end; true when it did.
  bool await_peer_end();

 private:
  Result<void> fill();  // reads more into buffer_

  int fd_;
  std::string buffer_;
  std::size_t start_ = 0;  // unread data begins here
};

}  // namespace ipcc::agent

#endif  // IPCC_AGENT_CHANNEL_H_
