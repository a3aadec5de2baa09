// session.h: the calling process's session with its twin (PROTOCOL.md,
// "The model"). One per process; a forked child gets its own at fork time.
//
// Lifetime: the test process's session (the root) lasts until exit. A forked
// child's session holds one reference per live primitive; when the last one
// goes, the child ends its twin normally and waits for it (see backend.h).
//
// Errors: requests fail with errc::broken when there is no agent for this
// process or it ended; otherwise with the reply's error.
#ifndef IPCC_AGENT_SESSION_H_
#define IPCC_AGENT_SESSION_H_

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "channel.h"
#include "ipcc/result.h"

namespace ipcc::agent {

// The agent command to start when this process needs a root agent; set by
// the backend (the same for every backend of one process).
void configure(const std::vector<std::string>& command);

// Sends `request` (an "id" is added) with `blob`, and returns the reply when
// it is {"ok": true}, else the reply's error (a buffer_too_short error
// carries the reply's blob as Error::message).
Result<Message> request(nlohmann::json request, std::span<const std::byte> blob = {});

// The root agent's hello reply, starting the root if needed.
Result<nlohmann::json> hello();

// The agent process serving this process's session, or -1 when there is
// none yet (or it ended).
pid_t twin_pid();

// A primitive was made in (or inherited by) this process / is gone.
void retain();
void release(std::uint64_t object);
// A request made nothing: a forked process that holds no primitive ends its
// session, as after its last release.
void idle();

// errc from its spelling; errc::broken for an unknown one.
errc errc_from(const std::string& spelling);

}  // namespace ipcc::agent

#endif  // IPCC_AGENT_SESSION_H_
