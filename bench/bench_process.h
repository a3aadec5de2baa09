// Plumbing shared by the benchmark programs: the command line, CPU pinning,
// forked pinned child processes that are always reaped, and the descriptor
// count for the leak check. Header-only.
#ifndef IPCC_BENCH_BENCH_PROCESS_H_
#define IPCC_BENCH_BENCH_PROCESS_H_

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace ipcc::bench {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Child exit statuses.
constexpr int kChildOk = 0;           // stopped because the parent closed its end / said stop
constexpr int kChildSetupFailed = 2;  // could not pin itself / arm the death signal
constexpr int kChildIoFailed = 3;     // an operation failed or returned unexpected data
constexpr int kChildBadItem = 4;      // a queue item of the wrong length, producer or order

// Where the two sides of a benchmark run: both on CPU 0, or one CPU each.
enum class Placement { same, cross };

// The command line: our --placement=same|cross|both is taken out, and
// --benchmark_min_time defaults to 0.2 s; the rest (args, argc, with a
// trailing null) goes to Google Benchmark.
struct CommandLine {
  std::vector<Placement> placements = {Placement::same, Placement::cross};
  std::vector<char*> args;
  int argc = 0;
  double min_time_seconds = 0.2;
};

// False for a --placement value other than same, cross or both.
inline bool parse_command_line(int argc, char** argv, CommandLine& out) {
  static char default_min_time[] = "--benchmark_min_time=0.2";
  bool min_time_given = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--placement=", 0) == 0) {
      const std::string value = arg.substr(12);
      if (value == "same") {
        out.placements = {Placement::same};
      } else if (value == "cross") {
        out.placements = {Placement::cross};
      } else if (value == "both") {
        out.placements = {Placement::same, Placement::cross};
      } else {
        return false;
      }
      continue;
    }
    if (arg.rfind("--benchmark_min_time=", 0) == 0) {
      min_time_given = true;
      out.min_time_seconds = std::atof(arg.c_str() + 21);
      if (!(out.min_time_seconds > 0)) out.min_time_seconds = 0.2;
    }
    out.args.push_back(argv[i]);
  }
  if (!min_time_given) out.args.insert(out.args.begin() + 1, default_min_time);
  out.argc = static_cast<int>(out.args.size());
  out.args.push_back(nullptr);
  return true;
}

// Descriptors open in this process (a leak check around the whole run).
inline int count_open_fds() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (::readdir(dir) != nullptr) ++count;
    ::closedir(dir);
  }
  return count;
}

inline std::string errno_text(const char* what, int error_number) {
  return std::string(what) + ": " + std::strerror(error_number);
}

inline bool pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

// Pins this process to one CPU for the lifetime of the object, then restores
// the previous affinity (so Google Benchmark's own work is not left pinned).
class ScopedPin {
 public:
  explicit ScopedPin(int cpu) {
    saved_ok_ = ::sched_getaffinity(0, sizeof saved_, &saved_) == 0;
    ok_ = pin_self(cpu);
  }
  ~ScopedPin() {
    if (saved_ok_) ::sched_setaffinity(0, sizeof saved_, &saved_);
  }
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_{};
  bool saved_ok_ = false;
  bool ok_ = false;
};

// A forked child process that is always reaped: explicitly with reap(), or by
// the destructor (immediate SIGKILL). PR_SET_PDEATHSIG kills it if we die.
class Child {
 public:
  // Forks. The child arms PR_SET_PDEATHSIG, pins itself to `cpu`, runs
  // `body` (which returns an exit status) and leaves with _exit(), so no
  // atexit handlers or stdio buffers of the parent run twice.
  template <class Body>
  static Child spawn(int cpu, Body&& body) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      int status = kChildSetupFailed;
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && ::getppid() == parent && pin_self(cpu)) {
        try {
          status = body();
        } catch (...) {
          status = kChildIoFailed;
        }
      }
      ::_exit(status);
    }
    Child child;
    child.pid_ = pid;
    child.fork_errno_ = pid < 0 ? errno : 0;
    return child;
  }

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), fork_errno_(other.fork_errno_) {}
  ~Child() {
    if (pid_ > 0) reap(0ms);
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string fork_error() const { return errno_text("fork", fork_errno_); }

  // Waits up to `grace` for the child to exit, then SIGKILLs it; always reaps.
  // Returns "" when it exited with kChildOk, else what went wrong.
  std::string reap(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return "no child";
    bool exited = false;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd entry{pidfd, POLLIN, 0};
      int ready;
      do {
        ready = ::poll(&entry, 1, static_cast<int>(grace.count()));
      } while (ready < 0 && errno == EINTR);
      exited = ready > 0;
      ::close(pidfd);
    } else {  // no pidfd (kernel < 5.3): poll for the exit until the deadline
      const auto until = Clock::now() + grace;
      int status;
      for (;;) {
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) return describe(status);
        if (Clock::now() >= until) break;
        ::usleep(1000);
      }
    }
    if (!exited) ::kill(pid_, SIGKILL);
    int status = 0;
    pid_t done;
    do {
      done = ::waitpid(pid_, &status, 0);
    } while (done < 0 && errno == EINTR);
    pid_ = -1;
    if (!exited) return "child did not exit within the deadline (killed)";
    return describe(status);
  }

 private:
  std::string describe(int status) {
    pid_ = -1;
    if (WIFEXITED(status)) {
      switch (WEXITSTATUS(status)) {
        case kChildOk: return "";
        case kChildSetupFailed: return "child could not pin itself to its CPU";
        case kChildIoFailed: return "child failed: an operation failed or returned unexpected data";
        case kChildBadItem: return "child failed: wrong item (length, producer or order)";
        default: return "child exited with status " + std::to_string(WEXITSTATUS(status));
      }
    }
    if (WIFSIGNALED(status)) return "child killed by signal " + std::to_string(WTERMSIG(status));
    return "child ended oddly";
  }

  pid_t pid_ = -1;
  int fork_errno_ = 0;
};

}  // namespace ipcc::bench

#endif  // IPCC_BENCH_BENCH_PROCESS_H_
