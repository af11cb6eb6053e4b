// udrm/base/sim_executor.h — deterministic single-threaded executor with a virtual clock.
//
// Every task (the test's main function, work items, timer callbacks) runs as a fiber on the
// calling OS thread; exactly one runs at a time. A task leaves the CPU only at a scheduling
// point (UDRM_POINT, lock, put, ...) when the strategy says so, or when it blocks. When nothing
// is ready the virtual clock jumps to the next timer. Same strategy + same program = same
// interleaving, so any failing schedule can be replayed.
//
// Reports: a run ends with Result::ok, ::deadlock (tasks blocked, nothing runnable, no timers),
// or ::livelock (step budget or virtual-time budget exhausted); the report names every blocked
// task, what it waits on, and the last point it passed.
//
// Lifetime: create, run(), destroy on one thread. Tasks still blocked at destruction are
// unwound (their destructors run) where possible.
// Context: run() from a normal thread (not from inside a task).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "udrm/base/context.h"
#include "udrm/base/executor.h"
#include "udrm/base/sim_hooks.h"

namespace udrm {

class SimExecutor;

/// A simulated task, as strategies see it.
class SimTask {
 public:
  const char* name() const noexcept { return name_; }
  /// Stable identity: the n-th task created with this name (0-based) in this run.
  uint32_t name_seq() const noexcept { return name_seq_; }
  uint64_t id() const noexcept { return id_; }
  bool atomic() const noexcept { return atomic_; }
  /// Last scheduling point this task passed (nullptr before the first).
  const Point* last_point() const noexcept { return last_point_; }
  /// What it is blocked on (nullptr when not blocked).
  const char* waiting_on() const noexcept { return waiting_on_; }

  struct Fiber;  // opaque

 private:
  friend class SimExecutor;
  enum class State : uint8_t { ready, running, blocked, done };
  SimTask() = default;
  const char* name_ = "";
  uint32_t name_seq_ = 0;
  uint64_t id_ = 0;
  bool atomic_ = false;
  State state_ = State::ready;
  const Point* last_point_ = nullptr;
  const char* waiting_on_ = nullptr;
  bool timed_out_ = false;
  int saved_atomic_depth_ = 0;
  int saved_spin_depth_ = 0;
  void* saved_task_local_[detail::kTaskLocalSlots] = {};
  Task fn_;
  detail::SimWaiter* waiter_ = nullptr;
  TimerId wake_timer_ = 0;
  Fiber* fiber_ = nullptr;
};

/// Chooses the interleaving. The default runs each task until it blocks, FIFO.
class SimStrategy {
 public:
  virtual ~SimStrategy() = default;
  /// `current` reached point p. Return nullptr to keep running it, or one of `ready` to switch.
  virtual SimTask* at_point(SimExecutor&, const Point&, SimTask* /*current*/, std::span<SimTask* const>) {
    return nullptr;
  }
  /// The running task blocked or finished; choose the next one from `ready` (never empty).
  virtual SimTask* pick(SimExecutor&, std::span<SimTask* const> ready) { return ready.front(); }
  /// `current` is about to yield(): a polling wait that re-checks once others ran (a grace
  /// period waiting for readers). A priority scheduler must not keep picking it.
  virtual void yielding(SimExecutor&, SimTask* /*current*/) {}
};

class SimExecutor final : public Executor, private detail::SimHooks {
 public:
  struct Options {
    std::size_t stack_size = 0;          ///< per fiber; 0 = default (larger under sanitizers)
    uint64_t step_budget = 50'000'000;   ///< points + switches before a run counts as livelock
    Duration time_budget = std::chrono::hours(24);  ///< virtual time before livelock
  };
  struct Result {
    enum class Kind { ok, deadlock, livelock } kind = Kind::ok;
    std::string report;
    uint64_t steps = 0;
    explicit operator bool() const noexcept { return kind == Kind::ok; }
  };

  SimExecutor();
  explicit SimExecutor(Options opts);
  ~SimExecutor() override;
  SimExecutor(const SimExecutor&) = delete;
  SimExecutor& operator=(const SimExecutor&) = delete;

  // Executor
  void post(Task t, const char* name) override;
  TimerId post_at(TimePoint when, Task t, const char* name) override;
  bool cancel(TimerId id) override;
  TimePoint now() const override { return now_; }

  /// Run `main` as a process-context task; keep running (advancing virtual time as needed)
  /// until main and every other process-context task has finished. Periodic timers alone do
  /// not keep the run alive.
  Result run(Task main, const char* name = "main");

  void set_strategy(SimStrategy* s) noexcept { strategy_ = s ? s : &default_strategy_; }
  /// Called at every point before the strategy (the explorer injects events here).
  void set_point_observer(void (*fn)(void* ctx, const Point&, SimTask*), void* ctx) noexcept {
    observer_ = fn;
    observer_ctx_ = ctx;
  }
  /// The running task (nullptr outside tasks).
  SimTask* current() const noexcept { return current_; }
  /// Yield the CPU: the current task goes to the back of the ready queue.
  void yield();
  uint64_t steps() const noexcept { return steps_; }
  /// The executor running the calling task, if it is a simulated one.
  static SimExecutor* running() noexcept;

 private:
  struct TimerEntry {
    TimerId id;
    Task fn;               // callback timer
    const char* name;
    SimTask* wake_task;    // or: a blocked task's deadline
  };

  // SimHooks
  void on_point(const Point& p) override;
  bool block(detail::SimWaitList& list, const char* what, const TimePoint* deadline) override;
  void wake(detail::SimWaitList& list, bool all) override;
  const void* current_task() const override { return current_; }

  SimTask* spawn(Task t, const char* name, bool atomic);
  void make_ready(SimTask* t);
  void switch_to_scheduler();
  void resume(SimTask* t);
  SimTask::Fiber* fiber_for(SimTask* t);
  bool fire_next_timer();
  void unwind_all();
  std::string describe_blocked() const;
  static void trampoline();
  static void fiber_main_entry(SimTask::Fiber* f);

  Options opts_;
  TimePoint now_{};
  SimStrategy default_strategy_;
  SimStrategy* strategy_ = &default_strategy_;
  void (*observer_)(void*, const Point&, SimTask*) = nullptr;
  void* observer_ctx_ = nullptr;
  SimTask* current_ = nullptr;
  SimTask* forced_next_ = nullptr;
  TimePoint start_{};
  std::vector<std::unique_ptr<SimTask>> tasks_;   // live tasks
  std::vector<SimTask*> ready_;
  std::map<std::pair<TimePoint, TimerId>, TimerEntry> timers_;
  std::map<TimerId, TimePoint> timer_index_;
  std::map<std::string, uint32_t> name_counts_;
  std::vector<SimTask::Fiber*> idle_fibers_;
  std::vector<SimTask::Fiber*> all_fibers_;
  TimerId next_timer_ = 1;
  uint64_t next_task_ = 1;
  uint64_t steps_ = 0;
  bool aborted_ = false;
  Result result_;
  void* sched_ctx_ = nullptr;   // the scheduler's own context (a ucontext_t)
  void* sched_fake_stack_ = nullptr;
  const void* sched_stack_bottom_ = nullptr;
  std::size_t sched_stack_size_ = 0;
  [[maybe_unused]] void* sched_tsan_fiber_ = nullptr;  // used in TSan builds only
};

}  // namespace udrm
