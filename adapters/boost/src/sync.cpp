// Lock (named_mutex), RLock (interprocess_recursive_mutex), Semaphore
// (interprocess_semaphore) and Event (composed). See ipcc/boost/backend.h.
#include <semaphore.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <new>
#include <string>

#include <boost/interprocess/sync/interprocess_condition.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/interprocess_recursive_mutex.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <boost/interprocess/sync/named_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include "common.h"
#include "internal.h"

namespace ipcc::boost::detail {
namespace {

constexpr std::string_view kLockKind = "ipcc.boost.lock/1";
constexpr std::string_view kRLockKind = "ipcc.boost.rlock/1";
constexpr std::string_view kSemaphoreKind = "ipcc.boost.semaphore/1";
constexpr std::string_view kEventKind = "ipcc.boost.event/1";

// Lock: a named_mutex, which Boost builds on Linux from a sem_open semaphore.
class NamedMutexLock final : public Lock {
 public:
  NamedMutexLock(std::unique_ptr<bip::named_mutex> mutex, std::string name, std::unique_ptr<NameOwner> owner)
      : mutex_(std::move(mutex)), name_(std::move(name)), owner_(std::move(owner)) {}

  Result<Acquired> acquire(Deadline deadline) override {
    try {
      if (!wait_for(deadline, [&] { mutex_->lock(); }, [&] { return mutex_->try_lock(); },
                    [&](const WallTime& until) { return mutex_->timed_lock(until); })) {
        return fail(errc::timeout, 0, "lock still held at the deadline");
      }
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "named_mutex::lock"));
    }
    return Acquired{};
  }

  // named_mutex::unlock is sem_post: it succeeds whoever calls it and
  // whatever the count, so an unlocked Lock is released once more.
  Result<void> release() override {
    try {
      mutex_->unlock();
    } catch (const bip::interprocess_exception& error) {
      if (error.get_native_error() == EOVERFLOW) {
        return fail(errc::released_too_many_times, EOVERFLOW, "named_mutex::unlock: count at SEM_VALUE_MAX");
      }
      return fail(map_exception(error, "named_mutex::unlock"));
    }
    return ok();
  }

  LockKind kind() const override { return LockKind::lock; }

  Result<HandleToken> export_handle() override {
    if (!owner_) return fail(errc::unsupported, 0, "only the creating process exports");
    auto handoff = owner_->handoff_fd();
    if (!handoff) return fail(std::move(handoff).error());
    HandleToken token;
    token.kind = std::string(kLockKind);
    token.data = "name=" + name_;
    token.fds.push_back(*handoff);
    return token;
  }

 private:
  std::unique_ptr<bip::named_mutex> mutex_;
  std::string name_;
  std::unique_ptr<NameOwner> owner_;
};

// RLock: an interprocess_recursive_mutex (a robust, recursive, process-shared
// pthread mutex) placed in a memfd block.
class RecursiveMutexLock final : public Lock {
 public:
  explicit RecursiveMutexLock(std::unique_ptr<SharedBlock> block) : block_(std::move(block)) {}

  Result<Acquired> acquire(Deadline deadline) override {
    try {
      if (!wait_for(deadline, [&] { mutex().lock(); }, [&] { return mutex().try_lock(); },
                    [&](const WallTime& until) { return mutex().timed_lock(until); })) {
        return fail(errc::timeout, 0, "rlock still held at the deadline");
      }
    } catch (const bip::interprocess_exception& error) {
      // lock_exception(not_recoverable): the owner died and Boost made the
      // mutex unusable for good.
      return fail(map_exception(error, "interprocess_recursive_mutex::lock"));
    }
    return Acquired{};
  }

  // pthread_mutex_unlock's EPERM (the caller is not the owner) is dropped by
  // Boost in release builds: the call returns and nothing changes.
  Result<void> release() override {
    mutex().unlock();
    return ok();
  }

  LockKind kind() const override { return LockKind::rlock; }

  Result<HandleToken> export_handle() override {
    HandleToken token;
    token.kind = std::string(kRLockKind);
    token.fds.push_back(block_->fd());
    return token;
  }

 private:
  bip::interprocess_recursive_mutex& mutex() {
    return *static_cast<bip::interprocess_recursive_mutex*>(block_->address());
  }
  std::unique_ptr<SharedBlock> block_;
};

// Semaphore: an interprocess_semaphore (sem_init with pshared) in a memfd block.
class UnnamedSemaphore final : public Semaphore {
 public:
  explicit UnnamedSemaphore(std::unique_ptr<SharedBlock> block) : block_(std::move(block)) {}

  Result<void> acquire(Deadline deadline) override {
    try {
      if (!wait_for(deadline, [&] { semaphore().wait(); }, [&] { return semaphore().try_wait(); },
                    [&](const WallTime& until) { return semaphore().timed_wait(until); })) {
        return fail(errc::timeout, 0, "no unit before the deadline");
      }
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "interprocess_semaphore::wait"));
    }
    return ok();
  }

  Result<void> release() override {
    try {
      semaphore().post();
    } catch (const bip::interprocess_exception& error) {
      if (error.get_native_error() == EOVERFLOW) {
        return fail(errc::released_too_many_times, EOVERFLOW, "interprocess_semaphore::post: at SEM_VALUE_MAX");
      }
      return fail(map_exception(error, "interprocess_semaphore::post"));
    }
    return ok();
  }

  Result<std::int64_t> get_value() override {
    return fail(errc::unsupported, 0, "Boost semaphores have no way to read the value");
  }
  SemaphoreKind kind() const override { return SemaphoreKind::semaphore; }

  Result<HandleToken> export_handle() override {
    HandleToken token;
    token.kind = std::string(kSemaphoreKind);
    token.fds.push_back(block_->fd());
    return token;
  }

 private:
  bip::interprocess_semaphore& semaphore() { return *static_cast<bip::interprocess_semaphore*>(block_->address()); }
  std::unique_ptr<SharedBlock> block_;
};

// Event: composed, as Boost has none: a flag guarded by an interprocess_mutex,
// with an interprocess_condition to wait for it. `sets` counts the set()
// calls, so a waiter woken by a set returns true even if a clear() came
// before it got the mutex back (threading.Event's promise).
struct EventState {
  bip::interprocess_mutex mutex;
  bip::interprocess_condition changed;
  bool flag = false;
  std::uint64_t sets = 0;
};

class ComposedEvent final : public Event {
 public:
  explicit ComposedEvent(std::unique_ptr<SharedBlock> block) : block_(std::move(block)) {}

  Result<void> set() override {
    try {
      bip::scoped_lock<bip::interprocess_mutex> lock(state().mutex);
      state().flag = true;
      ++state().sets;
      state().changed.notify_all();
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "Event::set"));
    }
    return ok();
  }

  Result<void> clear() override {
    try {
      bip::scoped_lock<bip::interprocess_mutex> lock(state().mutex);
      state().flag = false;
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "Event::clear"));
    }
    return ok();
  }

  Result<bool> is_set() override {
    try {
      bip::scoped_lock<bip::interprocess_mutex> lock(state().mutex);
      return state().flag;
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "Event::is_set"));
    }
  }

  Result<bool> wait(Deadline deadline) override {
    try {
      // The state's mutex is held only for a few instructions by anyone, so
      // it is taken without a deadline: a try-once wait that gave up on a
      // busy mutex would return false with the flag set.
      bip::scoped_lock<bip::interprocess_mutex> lock(state().mutex);
      const std::uint64_t sets_before = state().sets;
      while (!state().flag && state().sets == sets_before) {
        if (deadline.is_never()) {
          state().changed.wait(lock);
        } else if (deadline.expired()) {
          return false;
        } else {
          (void)state().changed.timed_wait(lock, wall_time(deadline));
        }
      }
      return true;
    } catch (const bip::interprocess_exception& error) {
      return fail(map_exception(error, "Event::wait"));
    }
  }

  Result<HandleToken> export_handle() override {
    HandleToken token;
    token.kind = std::string(kEventKind);
    token.fds.push_back(block_->fd());
    return token;
  }

 private:
  EventState& state() { return *static_cast<EventState*>(block_->address()); }
  std::unique_ptr<SharedBlock> block_;
};

// Creates a block holding a T built by `construct`; Boost constructors throw.
template <typename T, typename Construct>
Result<std::unique_ptr<SharedBlock>> make_block(Construct construct) {
  auto block = SharedBlock::create(sizeof(T));
  if (!block) return fail(std::move(block).error());
  try {
    construct((*block)->address());
  } catch (const bip::interprocess_exception& error) {
    return fail(map_exception(error, "constructing a Boost object in shared memory"));
  }
  return std::move(*block);
}

Result<std::unique_ptr<SharedBlock>> attach_block(const HandleToken& token, std::string_view kind) {
  if (token.kind != kind || token.fds.size() != 1) return fail(errc::invalid_argument, 0, "not a token of this adapter");
  return SharedBlock::attach(token.fds[0]);
}

}  // namespace

std::int64_t max_semaphore_value() {
  const long value = ::sysconf(_SC_SEM_VALUE_MAX);
  return value > 0 ? value : SEM_VALUE_MAX;
}

Result<std::unique_ptr<Lock>> make_lock(LockKind kind) {
  if (kind == LockKind::rlock) {
    auto block = make_block<bip::interprocess_recursive_mutex>([](void* at) { new (at) bip::interprocess_recursive_mutex(); });
    if (!block) return fail(std::move(block).error());
    return std::unique_ptr<Lock>(new RecursiveMutexLock(std::move(*block)));
  }
  auto owner = std::make_unique<NameOwner>();
  std::string name = unique_name("lock");
  owner->add(name, &bip::named_mutex::remove);
  try {
    auto mutex = std::make_unique<bip::named_mutex>(bip::create_only, name.c_str());
    return std::unique_ptr<Lock>(new NamedMutexLock(std::move(mutex), name, std::move(owner)));
  } catch (const bip::interprocess_exception& error) {
    return fail(map_exception(error, "named_mutex(create_only)"));
  }
}

Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) {
  if (token.kind == kRLockKind) {
    auto block = attach_block(token, kRLockKind);
    if (!block) return fail(std::move(block).error());
    return std::unique_ptr<Lock>(new RecursiveMutexLock(std::move(*block)));
  }
  if (token.kind != kLockKind || token.fds.size() != 1) return fail(errc::invalid_argument, 0, "not a Boost lock token");
  const std::string name = token_field(token.data, "name");
  if (name.empty()) return fail(errc::invalid_argument, 0, "malformed token");
  std::unique_ptr<bip::named_mutex> mutex;
  try {
    mutex = std::make_unique<bip::named_mutex>(bip::open_only, name.c_str());
  } catch (const bip::interprocess_exception& error) {
    NameOwner::imported(token.fds[0], {{name, &bip::named_mutex::remove}});
    return fail(map_exception(error, "named_mutex(open_only)"));
  }
  NameOwner::imported(token.fds[0], {{name, &bip::named_mutex::remove}});
  return std::unique_ptr<Lock>(new NamedMutexLock(std::move(mutex), name, nullptr));
}

Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) {
  if (options.kind != SemaphoreKind::semaphore) return fail(errc::unsupported, 0, "Boost has no bounded semaphore");
  if (options.value < 0 || options.value > max_semaphore_value()) {
    return fail(errc::invalid_argument, 0, "semaphore value out of range");
  }
  const auto initial = static_cast<unsigned int>(options.value);
  auto block = make_block<bip::interprocess_semaphore>([initial](void* at) { new (at) bip::interprocess_semaphore(initial); });
  if (!block) return fail(std::move(block).error());
  return std::unique_ptr<Semaphore>(new UnnamedSemaphore(std::move(*block)));
}

Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) {
  auto block = attach_block(token, kSemaphoreKind);
  if (!block) return fail(std::move(block).error());
  return std::unique_ptr<Semaphore>(new UnnamedSemaphore(std::move(*block)));
}

Result<std::unique_ptr<Event>> make_event() {
  auto block = make_block<EventState>([](void* at) { new (at) EventState(); });
  if (!block) return fail(std::move(block).error());
  return std::unique_ptr<Event>(new ComposedEvent(std::move(*block)));
}

Result<std::unique_ptr<Event>> import_event(const HandleToken& token) {
  auto block = attach_block(token, kEventKind);
  if (!block) return fail(std::move(block).error());
  return std::unique_ptr<Event>(new ComposedEvent(std::move(*block)));
}

}  // namespace ipcc::boost::detail
