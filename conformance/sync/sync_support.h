// Helpers shared by the synchronisation conformance tests (spec/lock.md,
// spec/semaphore.md, spec/event.md, spec/condition.md, spec/barrier.md): the
// fixture, the operations, which primitives the adapter supports, and
// scenario builders.
#ifndef IPCC_CONFORMANCE_SYNC_SUPPORT_H_
#define IPCC_CONFORMANCE_SYNC_SUPPORT_H_

#include <cstdint>

#include <rapidcheck.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../common/case_support.h"
#include "ipcc/conformance/property.h"
#include "ipcc/fixtures/sync_checker.h"
#include "ipcc/fixtures/timing.h"

namespace ipcc::conformance::sync {

using fixtures::SubjectKind;
using fixtures::SyncSubject;
using fixtures::to_string;  // StartMethod, SubjectKind, OpKind (the ipcc:: ones are found by ADL)

class SyncConformance : public ConformanceTest {};

// The primitive's handle in a Scenario.
inline constexpr std::uint16_t kPrimitive = 0;

Op acquire(std::int64_t wait_ns = kNoLimit, std::uint32_t delay_us = 0);
// release() of a Lock, RLock, Condition or Semaphore (OpKind::unlock).
Op unlock(std::uint32_t delay_us = 0);
// Event, Condition or Barrier wait.
Op wait(std::int64_t wait_ns = kNoLimit, std::uint32_t delay_us = 0);
Op notify(std::int64_t n);
// The shared counter / ticket file read-modify-write, with a pause between
// the read and the write.
Op counter_add(std::uint32_t pause_us);
Op buy_ticket(std::uint32_t pause_us);
// An operation without arguments: get_value, set, clear, is_set, notify_all,
// reset, abort, n_waiting, broken, release.
Op call(OpKind kind, std::uint32_t delay_us = 0);

// A wait as an Op takes it, scaled by the timing multiplier.
std::int64_t scaled_ms(std::int64_t milliseconds);
// The deadline of an operation that is expected to succeed once another
// process acts (a release, a set, a notify): long, so a slow machine never
// fails it, but finite, so a defective adapter ends as FAIL, not TIMEOUT.
std::int64_t long_wait();

bool supports(LockKind kind);
bool supports(SemaphoreKind kind);
// The lock kinds among `wanted` the adapter supports (UNSUPPORTED when empty).
std::vector<LockKind> supported_lock_kinds(std::vector<LockKind> wanted = {LockKind::lock, LockKind::rlock});
std::vector<SemaphoreKind> supported_semaphore_kinds(
    std::vector<SemaphoreKind> wanted = {SemaphoreKind::semaphore, SemaphoreKind::bounded_semaphore});
OwnerDeathEffect owner_death_of(LockKind kind);

// A scenario in which every process holds the primitive.
Scenario sync_scenario(SubjectKind subject, SyncSubject sync, StartMethod start,
                       std::vector<std::vector<Op>> processes);
Scenario lock_scenario(LockKind kind, StartMethod start, std::vector<std::vector<Op>> processes);
Scenario semaphore_scenario(SemaphoreOptions options, StartMethod start, std::vector<std::vector<Op>> processes);

// The checker's options for a case: the declared owner-death effect.
fixtures::SyncCheckOptions checks_for(const Scenario& scenario);

// Generators.
rc::Gen<LockKind> lock_kind_choice(const std::vector<LockKind>& kinds);
rc::Gen<SemaphoreKind> semaphore_kind_choice(const std::vector<SemaphoreKind>& kinds);
// Critical-section pauses in microseconds, weighted toward 0 and short ones.
rc::Gen<std::uint32_t> section_pause();

// Isolated checks: make a primitive, noting the failure and returning null
// when the adapter cannot.
std::unique_ptr<Lock> make_lock_or_note(Expect& expect, LockKind kind);
std::unique_ptr<Semaphore> make_semaphore_or_note(Expect& expect, SemaphoreOptions options);
std::unique_ptr<Event> make_event_or_note(Expect& expect);
std::unique_ptr<Condition> make_condition_or_note(Expect& expect, ConditionOptions options);
std::unique_ptr<Barrier> make_barrier_or_note(Expect& expect, BarrierOptions options);


// Judges: a Violation of `clause` when the record's outcome/value differs, or
// when it took longer than the loose upper bound for `expected_ns`.
std::vector<Violation> expect_value(const std::optional<Record>& record, std::int64_t value, const std::string& clause,
                                    const std::string& what);
std::vector<Violation> expect_prompt(const std::optional<Record>& record, std::int64_t expected_ns,
                                     const std::string& clause, const std::string& what);
// A Violation when `woken` (a blocked operation) completed later than the
// loose upper bound after `cause` (the release, set or notify that should
// wake it) completed.
std::vector<Violation> expect_woken_by(const std::optional<Record>& woken, const std::optional<Record>& cause,
                                       const std::string& clause, const std::string& what);
// `a` followed by `b`: the violations of two judges as one verdict.
std::vector<Violation> merge(std::vector<Violation> a, const std::vector<Violation>& b);
// A try-once wait (0 or negative) and a positive one of 5 to 120 ms, for
// timeout tests: every case shows both "at once" and "not before".
rc::Gen<std::int64_t> try_once_wait();
rc::Gen<std::int64_t> positive_wait();

}  // namespace ipcc::conformance::sync

#endif  // IPCC_CONFORMANCE_SYNC_SUPPORT_H_
