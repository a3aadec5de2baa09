#include "session.h"

#include <pthread.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "ipcc/error.h"

extern char** environ;

namespace ipcc::agent {
namespace {

struct State {
  pid_t owner = 0;                   // the process this state describes
  std::unique_ptr<Channel> channel;  // to this process's twin, or to a root we started
  pid_t root_pid = -1;               // a root agent this process started (and reaps)
  pid_t twin_pid = -1;               // the agent process serving this process's channel
  bool persistent = false;           // the process that made the backend keeps its session
  long live = 0;                     // primitives alive in this process
  std::uint64_t next_id = 1;
  std::vector<std::string> command;
  nlohmann::json hello;
  int child_end = -1;  // between atfork prepare and parent/child: the child's channel
  pid_t child_twin_pid = -1;  // and the twin serving it

  ~State() {
    if (owner == ::getpid() && root_pid > 0) end_session();
  }

  // Ends this process's agent normally and waits until it has ended.
  void end_session() {
    if (channel) {
      nlohmann::json end{{"id", next_id++}, {"op", "end"}};
      if (channel->send(end)) channel->await_peer_end();
      channel.reset();
    }
    if (root_pid > 0) {
      while (::waitpid(root_pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      root_pid = -1;
    }
  }
};

State& state() {
  static State instance;
  return instance;
}

void after_fork_in_child();

Result<void> start_root() {
  State& s = state();
  if (s.command.empty()) return fail(errc::broken, 0, "agent: no command configured");
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return fail(errc::resource_exhausted, errno, std::string("agent: socketpair: ") + std::strerror(errno));
  }
  // posix_spawn runs no atfork handler, so starting the root never asks a
  // twin for a child.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, ends[1], 0);
  posix_spawn_file_actions_adddup2(&actions, ends[1], 1);
  std::vector<char*> argv;
  for (auto& arg : s.command) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int spawned = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(ends[1]);
  if (spawned != 0) {
    ::close(ends[0]);
    return fail(errc::broken, spawned, "agent: cannot start " + s.command[0] + ": " + std::strerror(spawned));
  }
  s.channel = std::make_unique<Channel>(ends[0]);
  s.root_pid = pid;
  s.twin_pid = pid;
  nlohmann::json hello{{"id", s.next_id++}, {"op", "hello"}, {"protocol", 1}};
  auto sent = s.channel->send(hello);
  auto reply = sent ? s.channel->receive() : Result<Message>(fail(sent.error()));
  if (!reply || !reply->body.value("ok", false)) {
    std::string why = reply ? reply->body.dump() : describe(reply.error());
    s.end_session();
    std::string command;
    for (const auto& arg : s.command) command += (command.empty() ? "" : " ") + arg;
    return fail(errc::broken, 0, "agent: no hello from `" + command + "`: " + why);
  }
  s.hello = std::move(reply->body);
  return ok();
}

Result<void> ensure_channel() {
  State& s = state();
  if (s.owner != ::getpid()) {  // forked by a path that ran no atfork handler
    after_fork_in_child();
  }
  if (s.channel) return ok();
  if (s.live > 0) return fail(errc::broken, 0, "agent: this process's twin has ended");
  return start_root();
}

void prepare_fork() {
  State& s = state();
  s.child_end = -1;
  if (s.owner != ::getpid() || !s.channel || s.live == 0) return;
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return;
  nlohmann::json twin{{"id", s.next_id++}, {"op", "twin"}};
  auto sent = s.channel->send(twin, {}, ends[1]);
  ::close(ends[1]);
  auto reply = sent ? s.channel->receive() : Result<Message>(fail(sent.error()));
  if (reply && reply->body.value("ok", false)) {
    s.child_end = ends[0];
    s.child_twin_pid = reply->body.value("pid", -1);
  } else {
    ::close(ends[0]);
    if (!reply) s.channel.reset();
  }
}

void after_fork_in_parent() {
  State& s = state();
  if (s.child_end >= 0) ::close(s.child_end);
  s.child_end = -1;
}

void after_fork_in_child() {
  State& s = state();
  if (s.channel) s.channel->abandon();
  s.channel.reset();
  s.owner = ::getpid();
  s.persistent = false;
  s.root_pid = -1;  // the parent's root is not our child
  s.twin_pid = -1;
  if (s.child_end >= 0) {
    s.channel = std::make_unique<Channel>(s.child_end);
    s.twin_pid = s.child_twin_pid;
  } else {
    s.live = 0;
  }
  s.child_end = -1;
}

}  // namespace

void configure(const std::vector<std::string>& command) {
  State& s = state();
  if (!s.command.empty()) return;
  s.command = command;
  s.owner = ::getpid();
  s.persistent = true;
  ::pthread_atfork(prepare_fork, after_fork_in_parent, after_fork_in_child);
}

errc errc_from(const std::string& spelling) {
  for (int code = static_cast<int>(errc::ok); code <= static_cast<int>(errc::unsupported); ++code) {
    if (to_string(static_cast<errc>(code)) == spelling) return static_cast<errc>(code);
  }
  return errc::broken;
}

Result<Message> request(nlohmann::json body, std::span<const std::byte> blob) {
  auto ready = ensure_channel();
  if (!ready) return fail(std::move(ready).error());
  State& s = state();
  const auto id = s.next_id++;
  body["id"] = id;
  auto sent = s.channel->send(std::move(body), blob);
  auto reply = sent ? s.channel->receive() : Result<Message>(fail(sent.error()));
  if (!reply) {
    s.channel.reset();
    return reply;
  }
  if (reply->body.value("id", std::uint64_t{0}) != id) {
    s.channel.reset();
    return fail(errc::broken, 0, "agent: a reply to another request: " + reply->body.dump());
  }
  if (reply->body.value("ok", false)) return reply;
  Error error(errc_from(reply->body.value("error", std::string("broken"))), reply->body.value("native", 0),
              reply->body.value("detail", std::string()));
  if (error.code == errc::buffer_too_short) error.message = std::move(reply->blob);
  return fail(std::move(error));
}

Result<nlohmann::json> hello() {
  auto ready = ensure_channel();
  if (!ready) return fail(std::move(ready).error());
  if (state().hello.is_null()) return fail(errc::broken, 0, "agent: this process's session has no hello");
  return state().hello;
}

pid_t twin_pid() {
  const State& s = state();
  return s.owner == ::getpid() && s.channel ? s.twin_pid : -1;
}

void retain() { ++state().live; }

void idle() {
  State& s = state();
  if (s.owner == ::getpid() && s.live == 0 && !s.persistent) s.end_session();
}

void release(std::uint64_t object) {
  State& s = state();
  if (s.owner != ::getpid() || !s.channel) return;
  (void)request(nlohmann::json{{"op", "drop"}, {"obj", object}});
  if (--s.live > 0 || s.persistent) return;
  s.end_session();
}

}  // namespace ipcc::agent
