#include "ipcc/conformance/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "ipcc/conformance/expectations.h"
#include "ipcc/conformance/suite.h"
#include "ipcc/fixtures/executor.h"
#include "ipcc/fixtures/timing.h"
#include "ipcc/fixtures/watchdog.h"
#include "runner_state.h"

namespace ipcc::conformance {
namespace internal {
RunnerState& state() {
  static RunnerState instance;
  return instance;
}
}  // namespace internal

namespace {

struct Options {
  std::string adapter;
  std::string expectations;
  std::string results_dir;
  bool only_expected = false;
  bool list_adapters = false;
  bool list_tests = false;
};

bool take(std::string_view arg, std::string_view flag, std::string& value) {
  if (!arg.starts_with(flag)) return false;
  value = std::string(arg.substr(flag.size()));
  return true;
}

// Removes --ipcc-* options from argv (except the worker flags, which the
// spawned worker path reads) and returns them.
Options parse_options(int& argc, char** argv) {
  Options options;
  if (const char* dir = std::getenv("IPCC_RESULTS_DIR")) options.results_dir = dir;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (take(arg, "--ipcc-adapter=", options.adapter) ||
        take(arg, "--ipcc-expectations=", options.expectations) ||
        take(arg, "--ipcc-results=", options.results_dir)) {
      continue;
    }
    if (arg == "--ipcc-only-expected") { options.only_expected = true; continue; }
    if (arg == "--ipcc-list-adapters") { options.list_adapters = true; continue; }
    if (arg == "--ipcc-list-tests") { options.list_tests = true; continue; }
    if (arg.starts_with("--ipcc-") && !arg.starts_with("--ipcc-worker=")) {
      throw std::invalid_argument("unknown option '" + std::string(arg) +
                                  "' (see ipcc/conformance/runner.h for the --ipcc-* options)");
    }
    argv[kept++] = argv[i];
  }
  argc = kept;
  argv[argc] = nullptr;
  return options;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

// What the watchdog does if the test process itself hangs in adapter code:
// the TIMEOUT result of the running test, prepared when it started, is
// appended and the process exits with the status the manifest implies.
struct PreparedTimeout {
  char results_path[4096] = {};
  char line[4096] = {};
  char message[1024] = {};
  int exit_code = 1;
};
PreparedTimeout g_timeout;

void on_watchdog() noexcept {
  if (g_timeout.results_path[0] != '\0') {
    int fd = ::open(g_timeout.results_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, g_timeout.line, std::strlen(g_timeout.line));
      ::close(fd);
    }
  }
  (void)!::write(1, g_timeout.message, std::strlen(g_timeout.message));
  ::_exit(g_timeout.exit_code);
}

void copy_text(char* out, std::size_t size, const std::string& text) {
  const std::size_t n = std::min(size - 1, text.size());
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

// Tabs and newlines would break the results TSV.
std::string one_field(std::string text) {
  for (char& c : text) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// Records verdicts, compares them with the manifest and writes results.
class VerdictListener : public ::testing::EmptyTestEventListener {
 public:
  VerdictListener(const Expectations* manifest, std::string results_path)
      : manifest_(manifest), results_path_(std::move(results_path)) {}

  void OnTestStart(const ::testing::TestInfo& info) override {
    internal::state().noted_verdict = Verdict::pass;
    const std::string test = name_of(info);
    const auto& clauses = clauses_of(test);
    if (!clauses.empty()) ::testing::Test::RecordProperty("clause", join(clauses, " "));
    ::testing::Test::RecordProperty("adapter", adapter_name());
    prepare_timeout(test, clauses);
    // Far above any case deadline: only a hang in the test process reaches it.
    watchdog_.emplace(fixtures::timing::scaled(std::chrono::seconds(500)));
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    watchdog_.reset();
    const std::string test = name_of(info);
    const auto& clauses = clauses_of(test);
    const auto* result = info.result();
    Verdict verdict = Verdict::pass;
    if (result->Skipped()) {
      verdict = Verdict::unsupported;
    } else if (result->Failed()) {
      verdict = noted_verdict() == Verdict::pass ? Verdict::fail : noted_verdict();
    }
    const Expectation* entry = manifest_ ? manifest_->find(test, clauses) : nullptr;
    const bool accepted = manifest_ ? manifest_->accepts(test, clauses, verdict)
                                    : verdict == Verdict::pass || verdict == Verdict::unsupported;
    const std::string expected = expected_text(entry);
    const std::string reason = entry ? entry->reason : "";
    if (!accepted) {
      ++unexpected_;
      std::printf("[ UNEXPECTED ] %s: %s, expected %s (adapter %s)%s%s\n", test.c_str(),
                  std::string(to_string(verdict)).c_str(), expected.c_str(), adapter_name().c_str(),
                  reason.empty() ? "" : "; manifest: ", reason.c_str());
    } else if (verdict != Verdict::pass && verdict != Verdict::unsupported) {
      std::printf("[ XFAIL      ] %s: %s as expected (%s)\n", test.c_str(),
                  std::string(to_string(verdict)).c_str(), reason.c_str());
    } else if (verdict == Verdict::unsupported) {
      std::printf("[ UNSUPPORTED] %s\n", test.c_str());
    }
    std::fflush(stdout);
    append_result(test, clauses, verdict, expected, accepted, reason);
  }

  int exit_code() const { return unexpected_ == 0 ? 0 : 1; }

 private:
  std::string expected_text(const Expectation* entry) const {
    if (!entry) return "PASS";
    if (entry->verdicts.empty()) return "ANY";
    std::string text;
    for (auto v : entry->verdicts) text += (text.empty() ? "" : "|") + std::string(to_string(v));
    return text;
  }

  void prepare_timeout(const std::string& test, const std::vector<std::string>& clauses) {
    const Expectation* entry = manifest_ ? manifest_->find(test, clauses) : nullptr;
    const bool accepted = manifest_ && manifest_->accepts(test, clauses, Verdict::timeout);
    copy_text(g_timeout.results_path, sizeof g_timeout.results_path, results_path_);
    copy_text(g_timeout.line, sizeof g_timeout.line,
              result_line(test, clauses, Verdict::timeout, expected_text(entry), accepted,
                          entry ? entry->reason : ""));
    copy_text(g_timeout.message, sizeof g_timeout.message,
              "[ " + std::string(accepted ? "XFAIL      " : "UNEXPECTED ") + "] " + test +
                  ": TIMEOUT (the test process was blocked in adapter code; watchdog)\n");
    g_timeout.exit_code = accepted ? 0 : 1;
    fixtures::set_watchdog_action(&on_watchdog);
  }

  std::string result_line(const std::string& test, const std::vector<std::string>& clauses, Verdict verdict,
                          const std::string& expected, bool accepted, const std::string& reason) const {
    return adapter_name() + "\t" + test + "\t" + join(clauses, ",") + "\t" + std::string(to_string(verdict)) +
           "\t" + expected + "\t" + (accepted ? "ok" : "unexpected") + "\t" + one_field(reason) + "\n";
  }

  static std::string name_of(const ::testing::TestInfo& info) {
    return std::string(info.test_suite_name()) + "." + info.name();
  }

  void append_result(const std::string& test, const std::vector<std::string>& clauses, Verdict verdict,
                     const std::string& expected, bool accepted, const std::string& reason) {
    if (results_path_.empty()) return;
    const std::string line = result_line(test, clauses, verdict, expected, accepted, reason);
    // One write(2) on an O_APPEND file: lines from tests run in parallel do
    // not interleave.
    int fd = ::open(results_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::fprintf(stderr, "ipcc: cannot append to %s: %s\n", results_path_.c_str(), std::strerror(errno));
      return;
    }
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::fprintf(stderr, "ipcc: short write to %s\n", results_path_.c_str());
    }
    ::close(fd);
  }

  const Expectations* manifest_;
  std::string results_path_;
  int unexpected_ = 0;
  std::optional<fixtures::WatchdogScope> watchdog_;
};

}  // namespace

int run_main(int argc, char** argv, const std::vector<AdapterEntry>& catalog) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "ipcc: %s\n", error.what());
    return 2;
  }
  if (options.list_adapters) {
    for (const auto& entry : catalog) std::printf("%s\n", entry.name.c_str());
    return 0;
  }
  if (options.list_tests) {
    for (const auto& [test, clauses] : registered_tests()) {
      std::printf("%s\t%s\n", test.c_str(), join(clauses, ",").c_str());
    }
    return 0;
  }
  const AdapterEntry* chosen = nullptr;
  if (options.adapter.empty() && catalog.size() == 1) chosen = &catalog.front();
  for (const auto& entry : catalog) {
    if (entry.name == options.adapter) chosen = &entry;
  }
  if (chosen == nullptr) {
    std::string names;
    for (const auto& entry : catalog) names += " " + entry.name;
    std::fprintf(stderr, "ipcc: %s; available:%s\n",
                 options.adapter.empty() ? "choose an adapter with --ipcc-adapter=NAME"
                                         : ("unknown adapter '" + options.adapter + "'").c_str(),
                 names.c_str());
    return 2;
  }
  if (fixtures::is_worker_invocation(argc, argv)) return fixtures::worker_main(argc, argv, chosen->factory);
  auto& state = internal::state();
  state.adapter = chosen->name;
  state.backend = chosen->factory();
  if (!state.backend) {
    std::fprintf(stderr, "ipcc: the factory of adapter '%s' returned no backend\n", chosen->name.c_str());
    return 2;
  }
  state.capabilities = state.backend->capabilities();
  if (!state.capabilities.fork && !state.capabilities.spawn) {
    std::fprintf(stderr, "ipcc: adapter '%s' declares no start method (fork or spawn); spec/README.md requires one\n",
                 chosen->name.c_str());
    return 2;
  }
  if (!state.capabilities.pipe.duplex_pipes && !state.capabilities.pipe.simplex_pipes) {
    std::fprintf(stderr, "ipcc: adapter '%s' declares no pipe kind (duplex or simplex); spec/README.md requires one\n",
                 chosen->name.c_str());
    return 2;
  }

  std::optional<Expectations> manifest;
  if (!options.expectations.empty()) {
    try {
      manifest = Expectations::load(options.expectations);
    } catch (const std::invalid_argument& error) {
      std::fprintf(stderr, "ipcc: %s\n", error.what());
      return 2;
    }
  }
  // The harness writes to its own pipes whose readers may have exited; it
  // must see EPIPE, not die. Workers restore the default action.
  ::signal(SIGPIPE, SIG_IGN);
  fixtures::become_subreaper();
  (void)fixtures::timing::multiplier();  // report a bad multiplier once, up front

  ::testing::InitGoogleTest(&argc, argv);
  if (options.only_expected) {
    if (!manifest) {
      std::fprintf(stderr, "ipcc: --ipcc-only-expected needs --ipcc-expectations\n");
      return 2;
    }
    std::string filter;
    for (const auto& [test, clauses] : registered_tests()) {
      if (manifest->targets(test, clauses)) filter += (filter.empty() ? "" : ":") + test;
    }
    if (filter.empty()) {
      std::fprintf(stderr, "ipcc: the manifest %s targets no test\n", options.expectations.c_str());
      return 2;
    }
    // An explicit --gtest_filter (one test, from ctest) is kept as it is.
    if (::testing::GTEST_FLAG(filter) == "*") ::testing::GTEST_FLAG(filter) = filter;
  }
  std::string results_path;
  if (!options.results_dir.empty()) {
    std::error_code ignored;
    std::filesystem::create_directories(options.results_dir, ignored);
    results_path = options.results_dir + "/" + state.adapter + ".tsv";
  }
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  auto* listener = new VerdictListener(manifest ? &*manifest : nullptr, results_path);
  listeners.Append(listener);  // owned by GoogleTest
  // GoogleTest's own status counts expected failures as failures; the gate
  // is the listener's comparison with the manifest.
  [[maybe_unused]] const int gtest_status = RUN_ALL_TESTS();
  const int code = listener->exit_code();
  if (manifest && code == 0) {
    std::printf("[ ipcc       ] every verdict matched the expectations of '%s'\n", state.adapter.c_str());
  }
  return code;
}

}  // namespace ipcc::conformance
