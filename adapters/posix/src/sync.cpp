// The posix Lock, RLock, Semaphore and Event: pthread and sem_t objects in a
// memfd segment (see ipcc/posix/backend.h for the mapping and what passes
// through).
#include <pthread.h>
#include <semaphore.h>

#include <cerrno>
#include <climits>
#include <new>
#include <string>

#include "common.h"
#include "internal.h"

namespace ipcc::posix::internal {
namespace {

constexpr std::string_view kLockToken = "ipcc.posix.lock/1";
constexpr std::string_view kSemaphoreToken = "ipcc.posix.semaphore/1";
constexpr std::string_view kEventToken = "ipcc.posix.event/1";

struct LockState {
  pthread_mutex_t mutex;
};

struct SemaphoreState {
  sem_t semaphore;
};

struct EventState {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  std::uint32_t flag;        // written under the mutex, read without it by is_set
  std::uint64_t generation;  // advanced by every set, under the mutex
};

Result<void> init_mutex(pthread_mutex_t* mutex, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype(&attr, type);
  const int error = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (error != 0) return os_failure(error, "pthread_mutex_init");
  return ok();
}

// Locks `mutex` before `deadline`; true when the previous owner died holding
// it. EOWNERDEAD is answered with pthread_mutex_consistent at once, so the
// mutex never becomes not recoverable (and never reaches the glibc 2.36
// trylock path that leaves such a mutex's word held).
Result<bool> lock_mutex(pthread_mutex_t* mutex, Deadline deadline) {
  for (;;) {
    int error;
    if (deadline.is_never()) {
      error = pthread_mutex_lock(mutex);
    } else {
      const timespec until = absolute(deadline, CLOCK_MONOTONIC);
      error = pthread_mutex_clocklock(mutex, CLOCK_MONOTONIC, &until);
    }
    switch (error) {
      case 0:
        return false;
      case EOWNERDEAD:
        pthread_mutex_consistent(mutex);
        return true;
      case ETIMEDOUT:
        if (deadline.expired()) return fail(errc::timeout, ETIMEDOUT, "still held at the deadline");
        continue;
      case ENOTRECOVERABLE:
        return fail(errc::broken, error, "mutex not recoverable");
      default:
        return os_failure(error, "pthread_mutex_clocklock");
    }
  }
}

Result<void> unlock_mutex(pthread_mutex_t* mutex) {
  const int error = pthread_mutex_unlock(mutex);
  if (error == 0) return ok();
  // A robust mutex refuses an unlock by any thread but its owner, also when
  // nobody holds it (POSIX; glibc checks the owner TID in the lock word).
  if (error == EPERM) return fail(errc::not_owner, error, "the calling thread does not own the mutex");
  return os_failure(error, "pthread_mutex_unlock");
}

Result<void> check_token(const HandleToken& token, std::string_view kind) {
  if (token.kind != kind || token.fds.size() != 1 || field(token.data, "v") != "1") {
    return fail(errc::invalid_argument, 0, "not a posix adapter token of kind " + std::string(kind));
  }
  return ok();
}

HandleToken make_token(std::string_view kind, std::string data, int fd) {
  HandleToken token;
  token.kind = std::string(kind);
  token.data = std::move(data);
  token.fds = {fd};
  return token;
}

class MutexLock final : public Lock {
 public:
  MutexLock(Segment segment, LockKind kind) : segment_(segment), kind_(kind) {}
  // A mutex this thread holds stays on its robust list, which the kernel
  // walks when the thread ends: the mapping must outlive the thread for the
  // owner's death to be reported, so a holder's copy keeps it.
  ~MutexLock() override { release_segment(segment_, held_here_ > 0); }

  Result<Acquired> acquire(Deadline deadline) override {
    auto died = lock_mutex(&state()->mutex, deadline);
    if (!died) return fail(std::move(died).error());
    ++held_here_;
    return Acquired{*died};
  }
  Result<void> release() override {
    auto done = unlock_mutex(&state()->mutex);
    if (done && held_here_ > 0) --held_here_;
    return done;
  }
  LockKind kind() const override { return kind_; }
  Result<HandleToken> export_handle() override {
    return make_token(kLockToken, "v=1;kind=" + std::string(to_string(kind_)), segment_.fd);
  }

 private:
  LockState* state() { return static_cast<LockState*>(segment_.base); }
  Segment segment_;
  LockKind kind_;
  // Acquires minus releases by this copy; never trusted for ownership (the
  // mutex decides), only to keep the mapping of a holder.
  std::int64_t held_here_ = 0;
};

class PosixSemaphore final : public Semaphore {
 public:
  explicit PosixSemaphore(Segment segment) : segment_(segment) {}
  ~PosixSemaphore() override { release_segment(segment_, false); }

  Result<void> acquire(Deadline deadline) override {
    sem_t* semaphore = &state()->semaphore;
    for (;;) {
      int done;
      if (deadline.is_never()) {
        done = sem_wait(semaphore);
      } else if (deadline.expired()) {
        done = sem_trywait(semaphore);
        if (done != 0 && errno == EAGAIN) return fail(errc::timeout, EAGAIN, "no unit");
      } else {
        const timespec until = absolute(deadline, CLOCK_MONOTONIC);
        done = sem_clockwait(semaphore, CLOCK_MONOTONIC, &until);
      }
      if (done == 0) return ok();
      if (errno == EINTR) continue;
      if (errno == ETIMEDOUT) {
        if (deadline.expired()) return fail(errc::timeout, ETIMEDOUT, "no unit before the deadline");
        continue;
      }
      return os_failure(errno, "sem_clockwait");
    }
  }
  Result<void> release() override {
    if (sem_post(&state()->semaphore) == 0) return ok();
    if (errno == EOVERFLOW) return fail(errc::released_too_many_times, errno, "at SEM_VALUE_MAX");
    return os_failure(errno, "sem_post");
  }
  Result<std::int64_t> get_value() override {
    int value = 0;
    if (sem_getvalue(&state()->semaphore, &value) != 0) return os_failure(errno, "sem_getvalue");
    return static_cast<std::int64_t>(value);
  }
  SemaphoreKind kind() const override { return SemaphoreKind::semaphore; }
  Result<HandleToken> export_handle() override {
    return make_token(kSemaphoreToken, "v=1;kind=semaphore", segment_.fd);
  }

 private:
  SemaphoreState* state() { return static_cast<SemaphoreState*>(segment_.base); }
  Segment segment_;
};

class ConditionEvent final : public Event {
 public:
  explicit ConditionEvent(Segment segment) : segment_(segment) {}
  ~ConditionEvent() override { release_segment(segment_, false); }

  Result<void> set() override {
    EventState* event = state();
    auto locked = lock_mutex(&event->mutex, Deadline::never());
    if (!locked) return fail(std::move(locked).error());
    __atomic_store_n(&event->flag, 1u, __ATOMIC_RELEASE);
    ++event->generation;
    pthread_cond_broadcast(&event->changed);
    return unlock_mutex(&event->mutex);
  }
  Result<void> clear() override {
    EventState* event = state();
    auto locked = lock_mutex(&event->mutex, Deadline::never());
    if (!locked) return fail(std::move(locked).error());
    __atomic_store_n(&event->flag, 0u, __ATOMIC_RELEASE);
    return unlock_mutex(&event->mutex);
  }
  Result<bool> is_set() override { return __atomic_load_n(&state()->flag, __ATOMIC_ACQUIRE) != 0; }

  // As CPython's Event.wait (a Condition and a flag): a waiter that a set()
  // woke returns true even if clear() came first, which the generation
  // tells; one that timed out returns the flag.
  Result<bool> wait(Deadline deadline) override {
    EventState* event = state();
    auto locked = lock_mutex(&event->mutex, deadline);
    if (!locked) {
      if (locked.code() == errc::timeout) return __atomic_load_n(&event->flag, __ATOMIC_ACQUIRE) != 0;
      return fail(std::move(locked).error());
    }
    const std::uint64_t start = event->generation;
    while (event->flag == 0 && event->generation == start && !deadline.expired()) {
      int error;
      if (deadline.is_never()) {
        error = pthread_cond_wait(&event->changed, &event->mutex);
      } else {
        const timespec until = absolute(deadline, CLOCK_MONOTONIC);
        error = pthread_cond_timedwait(&event->changed, &event->mutex, &until);
      }
      if (error == EOWNERDEAD) {
        pthread_mutex_consistent(&event->mutex);
      } else if (error != 0 && error != ETIMEDOUT) {
        return os_failure(error, "pthread_cond_timedwait");
      }
    }
    const bool raised = event->flag != 0 || event->generation != start;
    auto unlocked = unlock_mutex(&event->mutex);
    if (!unlocked) return fail(std::move(unlocked).error());
    return raised;
  }

  Result<HandleToken> export_handle() override { return make_token(kEventToken, "v=1", segment_.fd); }

 private:
  EventState* state() { return static_cast<EventState*>(segment_.base); }
  Segment segment_;
};

template <typename T>
Result<std::unique_ptr<T>> own(Segment segment, auto make) {
  try {
    return make(segment);
  } catch (const std::bad_alloc&) {
    release_segment(segment, false);
    return fail(errc::resource_exhausted, ENOMEM, "out of memory");
  }
}

}  // namespace

Result<std::unique_ptr<Lock>> make_lock(LockKind kind) {
  auto segment = create_segment("ipcc-posix-lock", sizeof(LockState));
  if (!segment) return fail(std::move(segment).error());
  auto* lock = new (segment->base) LockState;
  const int type = kind == LockKind::rlock ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL;
  if (auto done = init_mutex(&lock->mutex, type); !done) {
    release_segment(*segment, false);
    return fail(std::move(done).error());
  }
  return own<Lock>(*segment, [kind](Segment s) { return std::unique_ptr<Lock>(std::make_unique<MutexLock>(s, kind)); });
}

Result<std::unique_ptr<Semaphore>> make_semaphore(const SemaphoreOptions& options) {
  if (options.kind != SemaphoreKind::semaphore) return fail(errc::unsupported, 0, "no bounded semaphore");
  if (options.value < 0 || options.value > SEM_VALUE_MAX) {
    return fail(errc::invalid_argument, 0, "value outside [0, SEM_VALUE_MAX]");
  }
  auto segment = create_segment("ipcc-posix-semaphore", sizeof(SemaphoreState));
  if (!segment) return fail(std::move(segment).error());
  auto* semaphore = new (segment->base) SemaphoreState;
  if (sem_init(&semaphore->semaphore, 1, static_cast<unsigned>(options.value)) != 0) {
    const int error = errno;
    release_segment(*segment, false);
    if (error == EINVAL) return fail(errc::invalid_argument, error, "sem_init");
    return os_failure(error, "sem_init");
  }
  return own<Semaphore>(*segment, [](Segment s) { return std::unique_ptr<Semaphore>(std::make_unique<PosixSemaphore>(s)); });
}

Result<std::unique_ptr<Event>> make_event() {
  auto segment = create_segment("ipcc-posix-event", sizeof(EventState));
  if (!segment) return fail(std::move(segment).error());
  auto* event = new (segment->base) EventState{};
  if (auto done = init_mutex(&event->mutex, PTHREAD_MUTEX_NORMAL); !done) {
    release_segment(*segment, false);
    return fail(std::move(done).error());
  }
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  const int error = pthread_cond_init(&event->changed, &attr);
  pthread_condattr_destroy(&attr);
  if (error != 0) {
    release_segment(*segment, false);
    return os_failure(error, "pthread_cond_init");
  }
  return own<Event>(*segment, [](Segment s) { return std::unique_ptr<Event>(std::make_unique<ConditionEvent>(s)); });
}

Result<std::unique_ptr<Lock>> import_lock(const HandleToken& token) {
  if (auto checked = check_token(token, kLockToken); !checked) return fail(std::move(checked).error());
  const auto kind_text = field(token.data, "kind");
  if (kind_text != "lock" && kind_text != "rlock") return fail(errc::invalid_argument, 0, "malformed posix lock token");
  const LockKind kind = kind_text == "rlock" ? LockKind::rlock : LockKind::lock;
  auto segment = map_segment(token.fds[0], sizeof(LockState));
  if (!segment) return fail(std::move(segment).error());
  set_cloexec(segment->fd);
  return own<Lock>(*segment, [kind](Segment s) { return std::unique_ptr<Lock>(std::make_unique<MutexLock>(s, kind)); });
}

Result<std::unique_ptr<Semaphore>> import_semaphore(const HandleToken& token) {
  if (auto checked = check_token(token, kSemaphoreToken); !checked) return fail(std::move(checked).error());
  if (field(token.data, "kind") != "semaphore") return fail(errc::invalid_argument, 0, "malformed posix semaphore token");
  auto segment = map_segment(token.fds[0], sizeof(SemaphoreState));
  if (!segment) return fail(std::move(segment).error());
  set_cloexec(segment->fd);
  return own<Semaphore>(*segment, [](Segment s) { return std::unique_ptr<Semaphore>(std::make_unique<PosixSemaphore>(s)); });
}

Result<std::unique_ptr<Event>> import_event(const HandleToken& token) {
  if (auto checked = check_token(token, kEventToken); !checked) return fail(std::move(checked).error());
  auto segment = map_segment(token.fds[0], sizeof(EventState));
  if (!segment) return fail(std::move(segment).error());
  set_cloexec(segment->fd);
  return own<Event>(*segment, [](Segment s) { return std::unique_ptr<Event>(std::make_unique<ConditionEvent>(s)); });
}

}  // namespace ipcc::posix::internal
