#include "sync_support.h"

#include <algorithm>

namespace ipcc::conformance::sync {

namespace {

Op primitive_op(OpKind kind, std::int64_t wait_ns = kNoLimit, std::uint32_t delay_us = 0) {
  Op op;
  op.kind = kind;
  op.handle = kPrimitive;
  op.wait_ns = wait_ns;
  op.delay_us = delay_us;
  return op;
}

template <typename T>
std::unique_ptr<T> take_or_note(Expect& expect, Result<std::unique_ptr<T>> made, const std::string& what) {
  if (!expect.ok(made, what)) return nullptr;
  if (!*made) {
    expect.that(false, what + " returned no object");
    return nullptr;
  }
  return std::move(*made);
}

}  // namespace

Op acquire(std::int64_t wait_ns, std::uint32_t delay_us) { return primitive_op(OpKind::acquire, wait_ns, delay_us); }
Op unlock(std::uint32_t delay_us) { return primitive_op(OpKind::unlock, kNoLimit, delay_us); }
Op wait(std::int64_t wait_ns, std::uint32_t delay_us) { return primitive_op(OpKind::wait, wait_ns, delay_us); }
Op notify(std::int64_t n) {
  Op op = primitive_op(OpKind::notify);
  op.length = n;
  return op;
}
Op counter_add(std::uint32_t pause_us) {
  Op op = primitive_op(OpKind::counter_add);
  op.length = pause_us;
  return op;
}
Op buy_ticket(std::uint32_t pause_us) {
  Op op = primitive_op(OpKind::buy_ticket);
  op.length = pause_us;
  return op;
}
Op call(OpKind kind, std::uint32_t delay_us) { return primitive_op(kind, kNoLimit, delay_us); }

std::int64_t scaled_ms(std::int64_t milliseconds) {
  return fixtures::timing::scaled(std::chrono::milliseconds(milliseconds)).count();
}

std::int64_t long_wait() { return scaled_ms(5000); }

bool supports(LockKind kind) {
  const auto& caps = capabilities().sync;
  return kind == LockKind::lock ? caps.lock : caps.rlock;
}

bool supports(SemaphoreKind kind) {
  const auto& caps = capabilities().sync;
  return kind == SemaphoreKind::semaphore ? caps.semaphore : caps.bounded_semaphore;
}

std::vector<LockKind> supported_lock_kinds(std::vector<LockKind> wanted) {
  std::erase_if(wanted, [](LockKind kind) { return !supports(kind); });
  return wanted;
}

std::vector<SemaphoreKind> supported_semaphore_kinds(std::vector<SemaphoreKind> wanted) {
  std::erase_if(wanted, [](SemaphoreKind kind) { return !supports(kind); });
  return wanted;
}

OwnerDeathEffect owner_death_of(LockKind kind) {
  const auto& caps = capabilities().sync;
  return kind == LockKind::lock ? caps.lock_owner_death : caps.rlock_owner_death;
}

Scenario sync_scenario(SubjectKind subject, SyncSubject sync, StartMethod start,
                       std::vector<std::vector<Op>> processes) {
  Scenario scenario;
  scenario.subject = subject;
  scenario.sync = sync;
  scenario.start = start;
  for (auto& ops : processes) scenario.processes.push_back(ProcessPlan{{kPrimitive}, std::move(ops)});
  return scenario;
}

Scenario lock_scenario(LockKind kind, StartMethod start, std::vector<std::vector<Op>> processes) {
  SyncSubject sync;
  sync.lock = kind;
  return sync_scenario(SubjectKind::lock, sync, start, std::move(processes));
}

Scenario semaphore_scenario(SemaphoreOptions options, StartMethod start, std::vector<std::vector<Op>> processes) {
  SyncSubject sync;
  sync.semaphore = options;
  return sync_scenario(SubjectKind::semaphore, sync, start, std::move(processes));
}

fixtures::SyncCheckOptions checks_for(const Scenario& scenario) {
  fixtures::SyncCheckOptions checks;
  checks.owner_death = owner_death_of(scenario.sync.lock);
  return checks;
}

rc::Gen<LockKind> lock_kind_choice(const std::vector<LockKind>& kinds) {
  return rc::gen::elementOf(supported_lock_kinds(kinds));
}

rc::Gen<SemaphoreKind> semaphore_kind_choice(const std::vector<SemaphoreKind>& kinds) {
  return rc::gen::elementOf(supported_semaphore_kinds(kinds));
}

rc::Gen<std::uint32_t> section_pause() {
  return rc::gen::oneOf(rc::gen::just<std::uint32_t>(0), rc::gen::inRange<std::uint32_t>(1, 50),
                        rc::gen::inRange<std::uint32_t>(50, 400));
}

std::unique_ptr<Lock> make_lock_or_note(Expect& expect, LockKind kind) {
  return take_or_note(expect, backend().make_lock(kind), "make_lock(" + std::string(to_string(kind)) + ")");
}

std::unique_ptr<Semaphore> make_semaphore_or_note(Expect& expect, SemaphoreOptions options) {
  return take_or_note(expect, backend().make_semaphore(options),
                      "make_semaphore(" + std::string(to_string(options.kind)) + ", " + std::to_string(options.value) + ")");
}

std::unique_ptr<Event> make_event_or_note(Expect& expect) {
  return take_or_note(expect, backend().make_event(), "make_event()");
}

std::unique_ptr<Condition> make_condition_or_note(Expect& expect, ConditionOptions options) {
  return take_or_note(expect, backend().make_condition(options),
                      "make_condition(" + std::string(to_string(options.lock)) + ")");
}

std::unique_ptr<Barrier> make_barrier_or_note(Expect& expect, BarrierOptions options) {
  return take_or_note(expect, backend().make_barrier(options),
                      "make_barrier(" + std::to_string(options.parties) + ")");
}

std::vector<Violation> expect_value(const std::optional<Record>& record, std::int64_t value, const std::string& clause,
                                    const std::string& what) {
  auto violations = expect_outcome(record, errc::ok, clause, what);
  if (violations.empty() && record->value != value) {
    violations.push_back({clause, what + ": expected " + std::to_string(value) + ", got " + std::to_string(record->value)});
  }
  return violations;
}

std::vector<Violation> expect_prompt(const std::optional<Record>& record, std::int64_t expected_ns,
                                     const std::string& clause, const std::string& what) {
  if (!record || !record->completed) return {};  // reported by the outcome check
  const auto took = std::chrono::nanoseconds(record->t_complete - record->t_invoke);
  const auto upper = fixtures::timing::upper_bound(std::chrono::nanoseconds(std::max<std::int64_t>(expected_ns, 0)));
  if (took <= upper) return {};
  return {{clause, what + " took " + std::to_string(took.count() / 1000) + " us, beyond the loose bound of " +
                       std::to_string(upper.count() / 1000) + " us"}};
}

std::vector<Violation> expect_woken_by(const std::optional<Record>& woken, const std::optional<Record>& cause,
                                       const std::string& clause, const std::string& what) {
  if (!woken || !woken->completed || !cause || !cause->completed) return {};
  const auto late = std::chrono::nanoseconds(woken->t_complete - cause->t_complete);
  const auto upper = fixtures::timing::upper_bound(std::chrono::nanoseconds(0));
  if (late <= upper) return {};
  return {{clause, what + " returned " + std::to_string(late.count() / 1000) + " us after the " +
                       std::string(to_string(cause->kind)) + " that should wake it, beyond the loose bound of " +
                       std::to_string(upper.count() / 1000) + " us"}};
}

rc::Gen<std::int64_t> try_once_wait() { return rc::gen::element<std::int64_t>(0, -ms(1), -ms(1000)); }

rc::Gen<std::int64_t> positive_wait() {
  return rc::gen::map(rc::gen::inRange<std::int64_t>(5, 121), [](std::int64_t m) { return ms(m); });
}

std::vector<Violation> merge(std::vector<Violation> a, const std::vector<Violation>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace ipcc::conformance::sync
