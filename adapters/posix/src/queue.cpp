// The posix Queue and SimpleQueue: one POSIX message queue each (see
// ipcc/posix/backend.h for the mapping and what passes through).
#include <fcntl.h>
#include <mqueue.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <new>
#include <string>

#include "common.h"
#include "internal.h"

namespace ipcc::posix::internal {
namespace {

constexpr std::string_view kTokenKind = "ipcc.posix.queue/1";
// A plain put's priority: every plain put gets the same one, so a queue used
// without put_with_priority is FIFO (mq_receive takes the oldest message of
// the highest priority).
constexpr unsigned kPriority = 0;

std::atomic<unsigned> name_counter{0};

class MqQueue final : public Queue {
 public:
  MqQueue(mqd_t mq, QueueKind kind, std::int64_t maxsize, std::size_t msgsize)
      : mq_(mq), kind_(kind), maxsize_(maxsize), msgsize_(msgsize) {}
  ~MqQueue() override { (void)close(); }

  Result<std::int64_t> qsize() override {
    auto attr = attributes();
    if (!attr) return fail(std::move(attr).error());
    return static_cast<std::int64_t>(attr->mq_curmsgs);
  }
  Result<bool> empty() override {
    auto attr = attributes();
    if (!attr) return fail(std::move(attr).error());
    return attr->mq_curmsgs == 0;
  }
  Result<bool> full() override {
    auto attr = attributes();
    if (!attr) return fail(std::move(attr).error());
    // An unbounded queue never waits for room (do_put), so it is never full.
    return maxsize_ > 0 && attr->mq_curmsgs >= attr->mq_maxmsg;
  }
  Result<void> task_done() override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    return fail(errc::unsupported, 0, "task_done is for joinable queues");
  }
  Result<void> join(Deadline) override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    return fail(errc::unsupported, 0, "join is for joinable queues");
  }
  Result<void> close() override {
    if (mq_ != static_cast<mqd_t>(-1)) ::mq_close(mq_);
    mq_ = static_cast<mqd_t>(-1);
    return ok();
  }
  bool closed() const override { return mq_ == static_cast<mqd_t>(-1); }
  // Nothing is buffered in the process: a put is in the kernel when it
  // returns, so there is nothing to wait for at exit.
  Result<void> cancel_join_thread() override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    return ok();
  }
  QueueKind kind() const override { return kind_; }
  std::int64_t maxsize() const override { return maxsize_; }

  Result<HandleToken> export_handle() override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    HandleToken token;
    token.kind = std::string(kTokenKind);
    token.data = "v=1;kind=" + std::string(to_string(kind_)) + ";maxsize=" + std::to_string(maxsize_);
    token.fds = {static_cast<int>(mq_)};
    return token;
  }

 protected:
  Result<void> do_put(std::span<const std::byte> item, Deadline deadline) override {
    return send(item, kPriority, deadline);
  }

  Result<void> do_put_with_priority(std::span<const std::byte> item, std::uint32_t priority,
                                    Deadline deadline) override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    if (kind_ != QueueKind::queue) return fail(errc::unsupported, 0, "priorities are for Queue only");
    if (priority > mq_max_priority()) return fail(errc::invalid_argument, EINVAL, "priority above MQ_PRIO_MAX - 1");
    return send(item, priority, deadline);
  }

  Result<void> send(std::span<const std::byte> item, unsigned priority, Deadline deadline) {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    if (item.size() > msgsize_) return fail(errc::message_too_large, EMSGSIZE, "item above mq_msgsize");
    const char* data = reinterpret_cast<const char*>(item.data());
    for (;;) {
      int done;
      if (maxsize_ == 0) {
        // An unbounded queue is the deepest the system allows; once that is
        // full its storage has run out, which put reports at once instead of
        // waiting (the contract's choice for storage beyond
        // min_storage_bytes). A past absolute time makes mq_timedsend try
        // once.
        const timespec once{0, 0};
        if (::mq_timedsend(mq_, data, item.size(), priority, &once) == 0) return ok();
        if (errno == EINTR) continue;
        if (errno == ETIMEDOUT) return fail(errc::resource_exhausted, EAGAIN, "fs.mqueue.msg_max items queued");
        if (errno == EMSGSIZE) return fail(errc::message_too_large, errno, "mq_send");
        return os_failure(errno, "mq_send");
      }
      if (deadline.is_never()) {
        done = ::mq_send(mq_, data, item.size(), priority);
      } else {
        // mq_timedsend wants an absolute CLOCK_REALTIME time; a past one
        // still tries once.
        const timespec until = absolute(deadline, CLOCK_REALTIME);
        done = ::mq_timedsend(mq_, data, item.size(), priority, &until);
      }
      if (done == 0) return ok();
      if (errno == EINTR) continue;
      if (errno == ETIMEDOUT) {
        // The wall clock may have stepped: only the monotonic deadline counts.
        if (deadline.expired()) return fail(errc::full, ETIMEDOUT, "queue is full");
        continue;
      }
      if (errno == EMSGSIZE) return fail(errc::message_too_large, errno, "mq_send");
      return os_failure(errno, "mq_send");
    }
  }

  Result<Bytes> do_get(Deadline deadline) override {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    Bytes item;
    try {
      // mq_receive refuses a buffer shorter than mq_msgsize (EMSGSIZE).
      item.resize(msgsize_);
    } catch (const std::bad_alloc&) {
      return fail(errc::resource_exhausted, ENOMEM, "cannot allocate the item");
    }
    char* data = reinterpret_cast<char*>(item.data());
    for (;;) {
      ssize_t got;
      if (deadline.is_never()) {
        got = ::mq_receive(mq_, data, item.size(), nullptr);
      } else {
        const timespec until = absolute(deadline, CLOCK_REALTIME);
        got = ::mq_timedreceive(mq_, data, item.size(), nullptr, &until);
      }
      if (got >= 0) {
        item.resize(static_cast<std::size_t>(got));
        return item;
      }
      if (errno == EINTR) continue;
      if (errno == ETIMEDOUT) {
        if (deadline.expired()) return fail(errc::empty, ETIMEDOUT, "queue is empty");
        continue;
      }
      return os_failure(errno, "mq_receive");
    }
  }

 private:
  Result<mq_attr> attributes() {
    if (closed()) return fail(errc::closed, 0, "queue is closed");
    mq_attr attr{};
    if (::mq_getattr(mq_, &attr) != 0) return os_failure(errno, "mq_getattr");
    return attr;
  }

  mqd_t mq_;
  QueueKind kind_;
  std::int64_t maxsize_;
  std::size_t msgsize_;
};

}  // namespace

std::uint32_t mq_max_priority() {
  // Without a stated limit (-1), declare only the 32 priorities POSIX
  // guarantees rather than promise ones mq_send may refuse.
  const long prio_max = ::sysconf(_SC_MQ_PRIO_MAX);
  if (prio_max < 1) return 31;
  return static_cast<std::uint32_t>(std::min<long>(prio_max, UINT_MAX) - 1);
}

MqLimits mq_limits() {
  // The Linux defaults, should /proc/sys/fs/mqueue be unreadable.
  return MqLimits{read_sysctl("/proc/sys/fs/mqueue/msg_max").value_or(10),
                  read_sysctl("/proc/sys/fs/mqueue/msgsize_max").value_or(8192)};
}

Result<std::unique_ptr<Queue>> make_queue(const QueueOptions& options) {
  const MqLimits limits = mq_limits();
  if (options.kind == QueueKind::joinable_queue) return fail(errc::unsupported, 0, "no joinable queue");
  if (options.kind == QueueKind::simple_queue && options.maxsize != 0) {
    return fail(errc::invalid_argument, 0, "a simple queue has no maxsize");
  }
  if (options.maxsize > limits.msg_max) {
    return fail(errc::invalid_argument, 0, "maxsize above fs.mqueue.msg_max");
  }
  const std::int64_t maxsize = options.maxsize > 0 ? options.maxsize : 0;
  mq_attr attr{};
  // An unbounded queue is the largest the system allows.
  attr.mq_maxmsg = maxsize > 0 ? maxsize : limits.msg_max;
  attr.mq_msgsize = limits.msgsize_max;
  for (;;) {
    const std::string name = "/ipcc-posix-" + std::to_string(::getpid()) + "-" +
                             std::to_string(name_counter.fetch_add(1));
    const mqd_t mq = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
    if (mq == static_cast<mqd_t>(-1)) {
      if (errno == EEXIST) continue;  // left by an earlier process with this pid
      return os_failure(errno, "mq_open");
    }
    // The descriptor is all any process needs (fork inherits it, spawn gets
    // it in the token), so the name goes at once: nothing outlives the last
    // descriptor, even after SIGKILL.
    ::mq_unlink(name.c_str());
    try {
      return std::unique_ptr<Queue>(std::make_unique<MqQueue>(mq, options.kind, maxsize,
                                                              static_cast<std::size_t>(limits.msgsize_max)));
    } catch (const std::bad_alloc&) {
      ::mq_close(mq);
      return fail(errc::resource_exhausted, ENOMEM, "make_queue");
    }
  }
}

Result<std::unique_ptr<Queue>> import_queue(const HandleToken& token) {
  if (token.kind != kTokenKind || token.fds.size() != 1) {
    return fail(errc::invalid_argument, 0, "not a posix queue token");
  }
  const std::string_view kind_text = field(token.data, "kind");
  QueueKind kind;
  if (kind_text == "queue") {
    kind = QueueKind::queue;
  } else if (kind_text == "simple_queue") {
    kind = QueueKind::simple_queue;
  } else {
    return fail(errc::invalid_argument, 0, "malformed posix queue token");
  }
  std::int64_t maxsize = 0;
  if (!parse_int(field(token.data, "maxsize"), maxsize) || maxsize < 0) {
    return fail(errc::invalid_argument, 0, "malformed posix queue token");
  }
  const mqd_t mq = token.fds[0];
  mq_attr attr{};
  if (::mq_getattr(mq, &attr) != 0) return fail(errc::invalid_argument, errno, "not a message queue descriptor");
  set_cloexec(mq);
  return std::unique_ptr<Queue>(std::make_unique<MqQueue>(mq, kind, maxsize, static_cast<std::size_t>(attr.mq_msgsize)));
}

}  // namespace ipcc::posix::internal
