#include "ipcc/agent/backend.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "session.h"

namespace ipcc::agent {
namespace {

using nlohmann::json;

json timeout_of(Deadline deadline) {
  if (deadline.is_never()) return nullptr;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.remaining()).count();
}

Result<void> as_void(Result<Message> reply) {
  if (!reply) return fail(std::move(reply).error());
  return ok();
}

// The primitive's own reply value, checked for its JSON type.
template <typename T>
Result<T> value_of(Result<Message> reply) {
  if (!reply) return fail(std::move(reply).error());
  auto value = reply->body.find("value");
  if (value == reply->body.end()) return fail(errc::broken, 0, "agent: a reply without a value");
  if constexpr (std::is_same_v<T, json>) {
    return *value;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value->is_boolean()) return fail(errc::broken, 0, "agent: a value that is not a boolean");
  } else {
    if (!value->is_number_integer()) return fail(errc::broken, 0, "agent: a value that is not an integer");
  }
  return value->get<T>();
}

Result<Acquired> acquired_of(Result<Message> reply) {
  if (!reply) return fail(std::move(reply).error());
  Acquired acquired;
  auto value = reply->body.find("value");
  if (value != reply->body.end() && value->is_object()) {
    acquired.previous_owner_died = value->value("previous_owner_died", false);
  }
  return acquired;
}

// One object of this process's twin. Copies made by fork belong to the
// child's twin, which inherited the same id.
class Remote {
 public:
  explicit Remote(std::uint64_t id) : id_(id) { retain(); }
  Remote(const Remote&) = delete;
  Remote& operator=(const Remote&) = delete;
  ~Remote() { release(id_); }

  Result<Message> call(const char* method, json args = json::object(), std::span<const std::byte> blob = {}) const {
    return request(json{{"op", "call"}, {"obj", id_}, {"method", method}, {"args", std::move(args)}}, blob);
  }

 private:
  std::uint64_t id_;
};

class AgentConnection final : public Connection {
 public:
  AgentConnection(std::uint64_t id, bool readable, bool writable)
      : remote_(id), readable_(readable), writable_(writable) {}

  Result<void> close() override {
    auto closed = as_void(remote_.call("close"));
    if (closed) closed_ = true;
    return closed;
  }
  bool closed() const override { return closed_; }
  bool readable() const override { return readable_; }
  bool writable() const override { return writable_; }
  Result<HandleToken> export_handle() override { return fail(errc::unsupported, 0, "agent handles stay in the agent"); }

 protected:
  Result<void> do_send_bytes(std::span<const std::byte> buffer, std::int64_t offset,
                             std::optional<std::int64_t> size) override {
    json args{{"offset", offset}, {"size", size ? json(*size) : json(nullptr)}};
    return as_void(call("send_bytes", std::move(args), buffer));
  }
  Result<Bytes> do_recv_bytes(std::optional<std::int64_t> maxlength, Deadline deadline) override {
    json args{{"maxlength", maxlength ? json(*maxlength) : json(nullptr)}, {"timeout_ns", timeout_of(deadline)}};
    auto reply = call("recv_bytes", std::move(args));
    if (!reply) return fail(std::move(reply).error());
    return std::move(reply->blob);
  }
  Result<std::int64_t> do_recv_bytes_into(std::span<std::byte> buffer, std::int64_t offset,
                                          Deadline deadline) override {
    json args{{"length", buffer.size()}, {"offset", offset}, {"timeout_ns", timeout_of(deadline)}};
    auto reply = call("recv_bytes_into", std::move(args));
    if (!reply) return fail(std::move(reply).error());
    const Bytes& message = reply->blob;
    if (offset < 0 || static_cast<std::size_t>(offset) + message.size() > buffer.size()) {
      return fail(errc::broken, 0, "agent: recv_bytes_into returned a message that does not fit");
    }
    std::copy(message.begin(), message.end(), buffer.begin() + offset);
    return static_cast<std::int64_t>(message.size());
  }
  Result<bool> do_poll(Deadline deadline) override {
    return value_of<bool>(call("poll", json{{"timeout_ns", timeout_of(deadline)}}));
  }

 private:
  // A runtime may close an end or stop reading it by itself when a call
  // fails (CPython does on a too-long message), so a failure is followed by
  // asking how the runtime now sees the end.
  Result<Message> call(const char* method, json args = json::object(), std::span<const std::byte> blob = {}) {
    auto reply = remote_.call(method, std::move(args), blob);
    if (!reply && !closed_) {
      auto state = value_of<json>(remote_.call("state"));
      if (state && state->is_object()) {
        closed_ = state->value("closed", closed_);
        readable_ = state->value("readable", readable_);
        writable_ = state->value("writable", writable_);
      }
    }
    return reply;
  }

  Remote remote_;
  bool readable_;
  bool writable_;
  bool closed_ = false;
};

class AgentQueue final : public Queue {
 public:
  AgentQueue(std::uint64_t id, QueueOptions options, std::uint32_t max_priority)
      : remote_(id), options_(options), max_priority_(max_priority) {}

  Result<void> put_encoded(const ItemEncoder& encode, Deadline deadline) override {
    auto bytes = encode();
    // The agent's runtime meets an item it cannot serialise in its own way.
    if (!bytes) return as_void(remote_.call("put_unencodable", json{{"timeout_ns", timeout_of(deadline)}}));
    return do_put(*bytes, deadline);
  }
  Result<std::int64_t> qsize() override { return value_of<std::int64_t>(remote_.call("qsize")); }
  Result<bool> empty() override { return value_of<bool>(remote_.call("empty")); }
  Result<bool> full() override { return value_of<bool>(remote_.call("full")); }
  Result<void> task_done() override { return as_void(remote_.call("task_done")); }
  Result<void> join(Deadline deadline) override {
    return as_void(remote_.call("join", json{{"timeout_ns", timeout_of(deadline)}}));
  }
  Result<void> close() override {
    auto closed = as_void(remote_.call("close"));
    if (closed) closed_ = true;
    return closed;
  }
  bool closed() const override { return closed_; }
  Result<void> cancel_join_thread() override { return as_void(remote_.call("cancel_join_thread")); }
  QueueKind kind() const override { return options_.kind; }
  // CPython keeps no maxsize a caller can read; the contract's is the
  // requested bound, 0 for unbounded.
  std::int64_t maxsize() const override {
    return options_.kind == QueueKind::simple_queue ? 0 : std::max<std::int64_t>(options_.maxsize, 0);
  }
  Result<HandleToken> export_handle() override { return fail(errc::unsupported, 0, "agent handles stay in the agent"); }

 protected:
  Result<void> do_put(std::span<const std::byte> item, Deadline deadline) override {
    return as_void(remote_.call("put", json{{"timeout_ns", timeout_of(deadline)}}, item));
  }
  // Only an agent that declares max_priority receives a priority; the range
  // and the kinds are the agent's to check, as every other argument is.
  Result<void> do_put_with_priority(std::span<const std::byte> item, std::uint32_t priority,
                                    Deadline deadline) override {
    if (max_priority_ == 0) return Queue::do_put_with_priority(item, priority, deadline);
    return as_void(remote_.call("put", json{{"timeout_ns", timeout_of(deadline)}, {"priority", priority}}, item));
  }
  Result<Bytes> do_get(Deadline deadline) override {
    auto reply = remote_.call("get", json{{"timeout_ns", timeout_of(deadline)}});
    if (!reply) return fail(std::move(reply).error());
    return std::move(reply->blob);
  }

 private:
  Remote remote_;
  QueueOptions options_;
  std::uint32_t max_priority_;
  bool closed_ = false;
};

class AgentLock final : public Lock {
 public:
  AgentLock(std::uint64_t id, LockKind kind) : remote_(id), kind_(kind) {}
  Result<Acquired> acquire(Deadline deadline) override {
    return acquired_of(remote_.call("acquire", json{{"timeout_ns", timeout_of(deadline)}}));
  }
  Result<void> release() override { return as_void(remote_.call("release")); }
  LockKind kind() const override { return kind_; }
  Result<HandleToken> export_handle() override { return fail(errc::unsupported, 0, "agent handles stay in the agent"); }

 private:
  Remote remote_;
  LockKind kind_;
};

class AgentSemaphore final : public Semaphore {
 public:
  AgentSemaphore(std::uint64_t id, SemaphoreKind kind) : remote_(id), kind_(kind) {}
  Result<void> acquire(Deadline deadline) override {
    return as_void(remote_.call("acquire", json{{"timeout_ns", timeout_of(deadline)}}));
  }
  Result<void> release() override { return as_void(remote_.call("release")); }
  Result<std::int64_t> get_value() override { return value_of<std::int64_t>(remote_.call("get_value")); }
  SemaphoreKind kind() const override { return kind_; }
  Result<HandleToken> export_handle() override { return fail(errc::unsupported, 0, "agent handles stay in the agent"); }

 private:
  Remote remote_;
  SemaphoreKind kind_;
};

class AgentEvent final : public Event {
 public:
  explicit AgentEvent(std::uint64_t id) : remote_(id) {}
  Result<void> set() override { return as_void(remote_.call("set")); }
  Result<void> clear() override { return as_void(remote_.call("clear")); }
  Result<bool> is_set() override { return value_of<bool>(remote_.call("is_set")); }
  Result<bool> wait(Deadline deadline) override {
    return value_of<bool>(remote_.call("wait", json{{"timeout_ns", timeout_of(deadline)}}));
  }
  Result<HandleToken> export_handle() override { return fail(errc::unsupported, 0, "agent handles stay in the agent"); }

 private:
  Remote remote_;
};

class AgentCondition final : public Condition {
 public:
  explicit AgentCondition(std::uint64_t id) : remote_(id) {}
  Result<Acquired> acquire(Deadline deadline) override {
    return acquired_of(remote_.call("acquire", json{{"timeout_ns", timeout_of(deadline)}}));
  }
  Result<void> release() override { return as_void(remote_.call("release")); }
  Result<bool> wait(Deadline deadline) override {
    return value_of<bool>(remote_.call("wait", json{{"timeout_ns", timeout_of(deadline)}}));
  }
  Result<void> notify(std::int64_t n) override { return as_void(remote_.call("notify", json{{"n", n}})); }
  Result<void> notify_all() override { return as_void(remote_.call("notify_all")); }
  Result<HandleToken> export_handle() override { return fail(errc::unsupported, 0, "agent handles stay in the agent"); }

 private:
  Remote remote_;
};

class AgentBarrier final : public Barrier {
 public:
  AgentBarrier(std::uint64_t id, std::int64_t parties) : remote_(id), parties_(parties) {}
  Result<std::int64_t> wait(Deadline deadline) override {
    return value_of<std::int64_t>(remote_.call("wait", json{{"timeout_ns", timeout_of(deadline)}}));
  }
  Result<void> reset() override { return as_void(remote_.call("reset")); }
  Result<void> abort() override { return as_void(remote_.call("abort")); }
  Result<std::int64_t> n_waiting() override { return value_of<std::int64_t>(remote_.call("n_waiting")); }
  Result<bool> broken() override { return value_of<bool>(remote_.call("broken")); }
  std::int64_t parties() const override { return parties_; }
  Result<HandleToken> export_handle() override { return fail(errc::unsupported, 0, "agent handles stay in the agent"); }

 private:
  Remote remote_;
  std::int64_t parties_;
};

// The new objects' ids, `count` of them.
Result<std::vector<std::uint64_t>> make(json body, std::size_t count) {
  body["op"] = "make";
  auto reply = request(std::move(body));
  if (!reply) {
    idle();
    return fail(std::move(reply).error());
  }
  auto objects = reply->body.find("objects");
  if (objects == reply->body.end() || !objects->is_array() || objects->size() != count) {
    return fail(errc::broken, 0, "agent: make returned " + reply->body.dump());
  }
  std::vector<std::uint64_t> ids;
  for (const auto& id : *objects) {
    if (!id.is_number_unsigned()) return fail(errc::broken, 0, "agent: an object id is not a number");
    ids.push_back(id.get<std::uint64_t>());
  }
  return ids;
}

template <typename Enum>
void read_enum(const json& from, const char* key, Enum& into, std::initializer_list<std::pair<const char*, Enum>> names) {
  auto found = from.find(key);
  if (found == from.end() || !found->is_string()) return;
  for (const auto& [name, value] : names) {
    if (*found == name) into = value;
  }
}

template <typename T>
void read(const json& from, const char* key, T& into) {
  auto found = from.find(key);
  if (found == from.end()) return;
  if constexpr (std::is_same_v<T, bool>) {
    if (found->is_boolean()) into = found->get<bool>();
  } else {
    if (found->is_number_integer()) into = found->get<T>();
  }
}

Capabilities capabilities_from(const json& map) {
  Capabilities caps;
  read(map, "fork", caps.fork);
  caps.spawn = false;  // see backend.h
  if (auto pipe = map.find("pipe"); pipe != map.end() && pipe->is_object()) {
    read(*pipe, "duplex_pipes", caps.pipe.duplex_pipes);
    read(*pipe, "simplex_pipes", caps.pipe.simplex_pipes);
    read(*pipe, "max_message_bytes", caps.pipe.max_message_bytes);
    read(*pipe, "min_buffer_bytes", caps.pipe.min_buffer_bytes);
    read(*pipe, "min_buffered_messages", caps.pipe.min_buffered_messages);
    if (auto unread = pipe->find("duplex_close_with_unread"); unread != pipe->end() && unread->is_string()) {
      caps.pipe.duplex_close_with_unread = errc_from(unread->get<std::string>());
    }
    read(*pipe, "atomic_small_frames", caps.pipe.atomic_small_frames);
    read(*pipe, "frame_header_bytes", caps.pipe.frame_header_bytes);
  }
  if (auto queue = map.find("queue"); queue != map.end() && queue->is_object()) {
    auto& q = caps.queue;
    read(*queue, "queue", q.queue);
    read(*queue, "simple_queue", q.simple_queue);
    read(*queue, "joinable_queue", q.joinable_queue);
    read(*queue, "qsize", q.qsize);
    read(*queue, "put_visible_at_once", q.put_visible_at_once);
    read(*queue, "max_maxsize", q.max_maxsize);
    read(*queue, "max_item_bytes", q.max_item_bytes);
    read(*queue, "min_storage_bytes", q.min_storage_bytes);
    read(*queue, "max_priority", q.max_priority);  // optional: absent is 0, no priorities
    read_enum(*queue, "serialization_failure", q.serialization_failure,
              {{"reported_by_put", SerializationFailureEffect::reported_by_put},
               {"dropped_silently", SerializationFailureEffect::dropped_silently}});
    read_enum(*queue, "unconsumed_exit", q.unconsumed_exit,
              {{"exits_at_once", UnconsumedExitEffect::exits_at_once},
               {"waits_for_consumers", UnconsumedExitEffect::waits_for_consumers}});
    std::initializer_list<std::pair<const char*, KilledProcessEffect>> killed{
        {"unaffected", KilledProcessEffect::unaffected},
        {"reports_broken", KilledProcessEffect::reports_broken},
        {"may_wedge", KilledProcessEffect::may_wedge}};
    read_enum(*queue, "killed_consumer", q.killed_consumer, killed);
    read_enum(*queue, "killed_producer", q.killed_producer, killed);
  }
  if (auto sync = map.find("sync"); sync != map.end() && sync->is_object()) {
    auto& s = caps.sync;
    read(*sync, "lock", s.lock);
    read(*sync, "rlock", s.rlock);
    read(*sync, "semaphore", s.semaphore);
    read(*sync, "bounded_semaphore", s.bounded_semaphore);
    read(*sync, "event", s.event);
    read(*sync, "condition", s.condition);
    read(*sync, "barrier", s.barrier);
    read(*sync, "get_value", s.get_value);
    read(*sync, "max_semaphore_value", s.max_semaphore_value);
    std::initializer_list<std::pair<const char*, OwnerDeathEffect>> death{
        {"stays_held", OwnerDeathEffect::stays_held},
        {"released", OwnerDeathEffect::released},
        {"reported_to_next", OwnerDeathEffect::reported_to_next}};
    read_enum(*sync, "lock_owner_death", s.lock_owner_death, death);
    read_enum(*sync, "rlock_owner_death", s.rlock_owner_death, death);
  }
  return caps;
}

class AgentBackend final : public Backend {
 public:
  explicit AgentBackend(AgentOptions options) : options_(std::move(options)) { configure(options_.command); }

  std::string name() const override { return options_.name; }
  std::vector<int> delegate_processes() override {
    const pid_t twin = twin_pid();
    if (twin > 0) return {twin};
    return {};
  }

  // An agent that cannot start declares nothing, so every test reports
  // UNSUPPORTED and the reason is printed once.
  Capabilities capabilities() const override {
    auto greeting = hello();
    if (!greeting) {
      std::fprintf(stderr, "ipcc: adapter '%s': %s\n", options_.name.c_str(), describe(greeting.error()).c_str());
      Capabilities none;
      none.fork = none.spawn = false;
      none.pipe.duplex_pipes = none.pipe.simplex_pipes = false;
      return none;
    }
    auto map = greeting->find("capabilities");
    return capabilities_from(map != greeting->end() && map->is_object() ? *map : json::object());
  }

  Result<PipeEnds> make_pipe(bool duplex) override {
    auto ids = make(json{{"kind", "pipe"}, {"duplex", duplex}}, 2);
    if (!ids) return fail(std::move(ids).error());
    PipeEnds ends;
    ends.first = std::make_unique<AgentConnection>((*ids)[0], true, duplex);
    ends.second = std::make_unique<AgentConnection>((*ids)[1], duplex, true);
    return ends;
  }
  Result<std::unique_ptr<Connection>> import_connection(const HandleToken&) override {
    return fail(errc::unsupported, 0, "agent handles stay in the agent");
  }

  Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) override {
    auto ids = make(json{{"kind", "queue"}, {"queue_kind", to_string(options.kind)}, {"maxsize", options.maxsize}}, 1);
    if (!ids) return fail(std::move(ids).error());
    return std::unique_ptr<Queue>(std::make_unique<AgentQueue>((*ids)[0], options, capabilities().queue.max_priority));
  }
  Result<std::unique_ptr<Lock>> make_lock(LockKind kind) override {
    auto ids = make(json{{"kind", "lock"}, {"lock_kind", to_string(kind)}}, 1);
    if (!ids) return fail(std::move(ids).error());
    return std::unique_ptr<Lock>(std::make_unique<AgentLock>((*ids)[0], kind));
  }
  Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) override {
    auto ids = make(json{{"kind", "semaphore"}, {"semaphore_kind", to_string(options.kind)}, {"value", options.value}}, 1);
    if (!ids) return fail(std::move(ids).error());
    return std::unique_ptr<Semaphore>(std::make_unique<AgentSemaphore>((*ids)[0], options.kind));
  }
  Result<std::unique_ptr<Event>> make_event() override {
    auto ids = make(json{{"kind", "event"}}, 1);
    if (!ids) return fail(std::move(ids).error());
    return std::unique_ptr<Event>(std::make_unique<AgentEvent>((*ids)[0]));
  }
  Result<std::unique_ptr<Condition>> make_condition(const ConditionOptions& options) override {
    auto ids = make(json{{"kind", "condition"}, {"lock_kind", to_string(options.lock)}}, 1);
    if (!ids) return fail(std::move(ids).error());
    return std::unique_ptr<Condition>(std::make_unique<AgentCondition>((*ids)[0]));
  }
  Result<std::unique_ptr<Barrier>> make_barrier(const BarrierOptions& options) override {
    auto ids = make(json{{"kind", "barrier"}, {"parties", options.parties}}, 1);
    if (!ids) return fail(std::move(ids).error());
    return std::unique_ptr<Barrier>(std::make_unique<AgentBarrier>((*ids)[0], options.parties));
  }

 private:
  AgentOptions options_;
};

}  // namespace

std::unique_ptr<Backend> make_backend(AgentOptions options) {
  return std::make_unique<AgentBackend>(std::move(options));
}

std::unique_ptr<Backend> make_cpython_backend(const std::string& start_method) {
  const char* python = std::getenv("IPCC_PYTHON");
  const char* script = std::getenv("IPCC_CPYTHON_AGENT");
  AgentOptions options;
  options.name = "cpython-" + start_method;
  options.command = {python && *python ? python : "/usr/bin/python3",
                     script && *script ? script : IPCC_CPYTHON_AGENT_SCRIPT, "--start-method=" + start_method};
  return make_backend(std::move(options));
}

}  // namespace ipcc::agent
