// Deterministic simulated executor (udrm/base/sim_executor.h).
//
// Tasks are ucontext fibers. Boost.Context would be the first choice, but its sanitizer-aware
// backend (fiber_ucontext with BOOST_USE_ASAN/TSAN) needs a symbol that Debian's
// libboost-context only ships for the fcontext backend, so the few lines of switching live
// here, annotated for AddressSanitizer and ThreadSanitizer.
//
// Tasks left blocked when a run ends (deadlock, livelock) are abandoned, not unwound: running
// their destructors in a broken world would only add noise. Their stacks are kept reachable in
// a process-wide graveyard so LeakSanitizer does not report what they still reference.
#include "udrm/base/sim_executor.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/log.h"

#if defined(UDRM_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(UDRM_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace udrm {
namespace {

std::atomic<int> g_sims{0};
thread_local SimExecutor* tls_running = nullptr;

#if defined(UDRM_ASAN) || defined(UDRM_TSAN)
constexpr std::size_t kDefaultStack = 512 * 1024;
#else
constexpr std::size_t kDefaultStack = 128 * 1024;
#endif

std::mutex g_graveyard_mu;
std::vector<void*>* g_graveyard = new std::vector<void*>;  // intentionally immortal

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

}  // namespace

struct SimTask::Fiber {
  ucontext_t ctx{};
  char* mem = nullptr;        // guard page + stack
  std::size_t mem_size = 0;
  void* fake_stack = nullptr;
  void* tsan = nullptr;
  SimTask* task = nullptr;
  SimExecutor* exec = nullptr;
  bool quit = false;
  bool finished = false;

  char* stack_bottom() const { return mem + page_size(); }
  std::size_t stack_size() const { return mem_size - page_size(); }
};

namespace {
thread_local SimTask::Fiber* tls_starting = nullptr;

// Separate so that getcontext (returns_twice) clobbers nothing of its caller.
__attribute__((noinline)) void init_context(SimTask::Fiber* f, void (*entry)()) {
  getcontext(&f->ctx);
  f->ctx.uc_stack.ss_sp = f->stack_bottom();
  f->ctx.uc_stack.ss_size = f->stack_size();
  f->ctx.uc_link = nullptr;
  makecontext(&f->ctx, entry, 0);
}

void annotate_start_switch(void** fake_stack_save, const void* bottom, std::size_t size) {
#if defined(UDRM_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}
void annotate_finish_switch(void* fake_stack, const void** old_bottom, std::size_t* old_size) {
#if defined(UDRM_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack, old_bottom, old_size);
#else
  (void)fake_stack, (void)old_bottom, (void)old_size;
#endif
}
}  // namespace

SimExecutor::SimExecutor() : SimExecutor(Options{}) {}

SimExecutor::SimExecutor(Options opts) : opts_(opts) {
  if (opts_.stack_size == 0) opts_.stack_size = kDefaultStack;
  sched_ctx_ = new ucontext_t{};
  if (g_sims.fetch_add(1) == 0) detail::g_slow.fetch_or(detail::kSlowSim);
}

SimExecutor::~SimExecutor() {
  unwind_all();
  for (SimTask::Fiber* f : all_fibers_) {
#if defined(UDRM_TSAN)
    if (f->tsan) __tsan_destroy_fiber(f->tsan);
#endif
    if (f->finished) {
      mprotect(f->mem, page_size(), PROT_READ | PROT_WRITE);
      std::free(f->mem);
    } else {
      // Readable again, so LeakSanitizer can scan what the abandoned task still references.
      mprotect(f->mem, page_size(), PROT_READ | PROT_WRITE);
      std::lock_guard<std::mutex> l(g_graveyard_mu);
      g_graveyard->push_back(f->mem);
    }
    delete f;
  }
  timers_.clear();
  delete static_cast<ucontext_t*>(sched_ctx_);
  if (g_sims.fetch_sub(1) == 1) detail::g_slow.fetch_and(~detail::kSlowSim);
}

SimExecutor* SimExecutor::running() noexcept { return tls_running; }

void SimExecutor::post(Task t, const char* name) { make_ready(spawn(std::move(t), name, false)); }

TimerId SimExecutor::post_at(TimePoint when, Task t, const char* name) {
  TimerId id = next_timer_++;
  if (when < now_) when = now_;
  timers_.emplace(std::make_pair(when, id), TimerEntry{id, std::move(t), name, nullptr});
  timer_index_.emplace(id, when);
  return id;
}

bool SimExecutor::cancel(TimerId id) {
  auto it = timer_index_.find(id);
  if (it == timer_index_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  timer_index_.erase(it);
  return true;
}

SimTask* SimExecutor::spawn(Task t, const char* name, bool atomic) {
  auto task = std::unique_ptr<SimTask>(new SimTask());
  task->name_ = name;
  task->name_seq_ = name_counts_[name]++;
  task->id_ = next_task_++;
  task->atomic_ = atomic;
  task->saved_atomic_depth_ = atomic ? 1 : 0;
  task->fn_ = std::move(t);
  task->state_ = SimTask::State::blocked;  // until make_ready
  SimTask* raw = task.get();
  tasks_.push_back(std::move(task));
  return raw;
}

void SimExecutor::make_ready(SimTask* t) {
  t->state_ = SimTask::State::ready;
  ready_.push_back(t);
}

void SimExecutor::trampoline() {
  SimTask::Fiber* f = tls_starting;
  tls_starting = nullptr;
  SimExecutor::fiber_main_entry(f);
}

void SimExecutor::fiber_main_entry(SimTask::Fiber* f) {
  SimExecutor* self = f->exec;
  annotate_finish_switch(nullptr, &self->sched_stack_bottom_, &self->sched_stack_size_);
  for (;;) {
    if (f->quit) break;
    SimTask* t = f->task;
    t->fn_();
    t->fn_ = Task();
    t->state_ = SimTask::State::done;
    f->task = nullptr;
    self->idle_fibers_.push_back(f);
    self->switch_to_scheduler();
  }
  // Final switch: this fiber never runs again.
  f->finished = true;
  annotate_start_switch(nullptr, self->sched_stack_bottom_, self->sched_stack_size_);
#if defined(UDRM_TSAN)
  __tsan_switch_to_fiber(self->sched_tsan_fiber_, 0);
#endif
  setcontext(static_cast<ucontext_t*>(self->sched_ctx_));
}

SimTask::Fiber* SimExecutor::fiber_for(SimTask* t) {
  SimTask::Fiber* f = t->fiber_;
  if (!f) {
    if (!idle_fibers_.empty()) {
      f = idle_fibers_.back();
      idle_fibers_.pop_back();
    } else {
      f = new SimTask::Fiber();
      f->exec = this;
      f->mem_size = opts_.stack_size + page_size();
      f->mem = static_cast<char*>(std::aligned_alloc(page_size(), f->mem_size));
      if (!f->mem) {
        std::fprintf(stderr, "udrm: out of memory for a simulated task stack\n");
        std::abort();
      }
      mprotect(f->mem, page_size(), PROT_NONE);  // guard page: overflow faults
      init_context(f, &SimExecutor::trampoline);
#if defined(UDRM_TSAN)
      f->tsan = __tsan_create_fiber(0);
#endif
      all_fibers_.push_back(f);
      tls_starting = f;
    }
    f->task = t;
    t->fiber_ = f;
  }
  return f;
}

void SimExecutor::resume(SimTask* t) {
  SimTask::Fiber* const f = fiber_for(t);
  current_ = t;
  t->state_ = SimTask::State::running;
  detail::tls_atomic_depth = t->saved_atomic_depth_;
  const int outside_spin = detail::tls_spin_depth;
  detail::tls_spin_depth = t->saved_spin_depth_;
  void* outside[detail::kTaskLocalSlots];
  std::copy(detail::tls_task_local, detail::tls_task_local + detail::kTaskLocalSlots, outside);
  std::copy(t->saved_task_local_, t->saved_task_local_ + detail::kTaskLocalSlots, detail::tls_task_local);
  annotate_start_switch(&sched_fake_stack_, f->stack_bottom(), f->stack_size());
#if defined(UDRM_TSAN)
  __tsan_switch_to_fiber(f->tsan, 0);
#endif
  swapcontext(static_cast<ucontext_t*>(sched_ctx_), &f->ctx);
  annotate_finish_switch(sched_fake_stack_, nullptr, nullptr);
  current_ = nullptr;
  detail::tls_atomic_depth = 0;
  detail::tls_spin_depth = outside_spin;
  std::copy(outside, outside + detail::kTaskLocalSlots, detail::tls_task_local);
}

void SimExecutor::switch_to_scheduler() {
  SimTask* t = current_;
  SimTask::Fiber* f = t ? t->fiber_ : nullptr;
  if (t) {
    t->saved_atomic_depth_ = detail::tls_atomic_depth;
    t->saved_spin_depth_ = detail::tls_spin_depth;
    std::copy(detail::tls_task_local, detail::tls_task_local + detail::kTaskLocalSlots, t->saved_task_local_);
    if (t->state_ == SimTask::State::done) t->fiber_ = nullptr;
  }
  if (!f) f = idle_fibers_.back();  // a finished task's fiber parks itself
  annotate_start_switch(&f->fake_stack, sched_stack_bottom_, sched_stack_size_);
#if defined(UDRM_TSAN)
  __tsan_switch_to_fiber(sched_tsan_fiber_, 0);
#endif
  swapcontext(&f->ctx, static_cast<ucontext_t*>(sched_ctx_));
  annotate_finish_switch(f->fake_stack, &sched_stack_bottom_, &sched_stack_size_);
}

void SimExecutor::on_point(const Point& p) {
  SimTask* t = current_;
  if (!t) return;
  ++steps_;
  if (detail::tls_spin_depth > 0) return;  // preemption disabled: a spinlock is held
  t->last_point_ = &p;
  if (observer_) observer_(observer_ctx_, p, t);
  if (steps_ > opts_.step_budget && !aborted_) {
    aborted_ = true;
    result_.kind = Result::Kind::livelock;
    result_.report = "step budget exhausted (livelock?) at point '" + std::string(p.name) + "' in task '" +
                     t->name_ + "'\n" + describe_blocked();
  }
  if (aborted_) {
    t->state_ = SimTask::State::ready;
    switch_to_scheduler();  // never resumed: the run is over
    return;
  }
  if (ready_.empty()) return;
  SimTask* next = strategy_->at_point(*this, p, t, ready_);
  if (!next || next == t) return;
  auto it = std::find(ready_.begin(), ready_.end(), next);
  if (it == ready_.end()) return;
  ready_.erase(it);
  ready_.insert(ready_.begin(), next);
  forced_next_ = next;
  make_ready(t);
  switch_to_scheduler();
}

void SimExecutor::yield() {
  SimTask* t = current_;
  if (!t) return;
  strategy_->yielding(*this, t);
  make_ready(t);
  switch_to_scheduler();
}

bool SimExecutor::block(detail::SimWaitList& list, const char* what, const TimePoint* deadline) {
  SimTask* t = current_;
  if (!t) {
    std::fprintf(stderr, "udrm: a blocking primitive was used on a SimExecutor thread outside any task\n");
    std::abort();
  }
  ++steps_;
  detail::SimWaiter w;
  w.task = t;
  list.push_back(w);
  t->waiter_ = &w;
  t->waiting_on_ = what;
  t->timed_out_ = false;
  t->state_ = SimTask::State::blocked;
  t->wake_timer_ = 0;
  if (deadline) {
    TimerId id = next_timer_++;
    TimePoint when = std::max(*deadline, now_);
    timers_.emplace(std::make_pair(when, id), TimerEntry{id, Task(), what, t});
    timer_index_.emplace(id, when);
    t->wake_timer_ = id;
  }
  switch_to_scheduler();
  t->waiter_ = nullptr;
  t->waiting_on_ = nullptr;
  return !t->timed_out_;
}

void SimExecutor::wake(detail::SimWaitList& list, bool all) {
  while (!list.empty()) {
    detail::SimWaiter& w = list.front();
    list.pop_front();
    auto* t = static_cast<SimTask*>(w.task);
    if (t->wake_timer_) {
      cancel(t->wake_timer_);
      t->wake_timer_ = 0;
    }
    if (t->state_ == SimTask::State::blocked) make_ready(t);
    if (!all) break;
  }
}

bool SimExecutor::fire_next_timer() {
  if (timers_.empty()) return false;
  auto it = timers_.begin();
  TimePoint when = it->first.first;
  TimerEntry e = std::move(it->second);
  timers_.erase(it);
  timer_index_.erase(e.id);
  if (when > now_) now_ = when;
  if (now_ - start_ > opts_.time_budget && !aborted_) {
    aborted_ = true;
    result_.kind = Result::Kind::livelock;
    result_.report = "virtual time budget exhausted (a wait that never ends?)\n" + describe_blocked();
    return true;
  }
  if (e.wake_task) {
    SimTask* t = e.wake_task;
    t->wake_timer_ = 0;
    if (t->state_ == SimTask::State::blocked && t->waiter_) {
      t->waiter_->unlink();
      t->timed_out_ = true;
      make_ready(t);
    }
  } else {
    make_ready(spawn(std::move(e.fn), e.name, true));
  }
  return true;
}

std::string SimExecutor::describe_blocked() const {
  std::string out;
  for (const auto& t : tasks_) {
    if (t->state_ == SimTask::State::done) continue;
    char line[512];
    std::snprintf(line, sizeof line, "  task '%s#%u'%s %s%s, last point '%s'\n", t->name_, t->name_seq_,
                  t->atomic_ ? " (atomic)" : "",
                  t->state_ == SimTask::State::blocked ? "blocked on " : "ready",
                  t->state_ == SimTask::State::blocked && t->waiting_on_ ? t->waiting_on_ : "",
                  t->last_point_ ? t->last_point_->name : "-");
    out += line;
  }
  return out;
}

SimExecutor::Result SimExecutor::run(Task main, const char* name) {
  detail::SimHooks* const prev_tls = detail::tls_sim;
  SimExecutor* prev_running = tls_running;
  detail::tls_sim = this;
  tls_running = this;
#if defined(UDRM_TSAN)
  sched_tsan_fiber_ = __tsan_get_current_fiber();
#endif
  start_ = now_;
  aborted_ = false;
  result_ = Result{};
  make_ready(spawn(std::move(main), name, false));
  while (!aborted_) {
    // Reap finished tasks.
    tasks_.erase(std::remove_if(tasks_.begin(), tasks_.end(),
                                [](const std::unique_ptr<SimTask>& t) { return t->state_ == SimTask::State::done; }),
                 tasks_.end());
    if (ready_.empty()) {
      if (tasks_.empty()) break;
      if (!fire_next_timer()) {
        aborted_ = true;
        result_.kind = Result::Kind::deadlock;
        result_.report = "deadlock: nothing can run and no timer is pending\n" + describe_blocked();
        break;
      }
      continue;
    }
    SimTask* next = nullptr;
    if (forced_next_) {
      next = forced_next_;
      forced_next_ = nullptr;
    } else {
      next = strategy_->pick(*this, ready_);
    }
    auto it = std::find(ready_.begin(), ready_.end(), next);
    if (it == ready_.end()) it = ready_.begin();
    next = *it;
    ready_.erase(it);
    ++steps_;
    resume(next);
  }
  result_.steps = steps_;
  detail::tls_sim = prev_tls;
  tls_running = prev_running;
  return result_;
}

void SimExecutor::unwind_all() {
  // Park idle fibers for good; abandon tasks that never finished.
  SimExecutor* prev_running = tls_running;
  detail::SimHooks* prev = detail::tls_sim;
  detail::tls_sim = this;
  tls_running = this;
  for (SimTask::Fiber* f : idle_fibers_) {
    if (f->finished) continue;
    f->quit = true;
    annotate_start_switch(&sched_fake_stack_, f->stack_bottom(), f->stack_size());
#if defined(UDRM_TSAN)
    sched_tsan_fiber_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(f->tsan, 0);
#endif
    swapcontext(static_cast<ucontext_t*>(sched_ctx_), &f->ctx);
    annotate_finish_switch(sched_fake_stack_, nullptr, nullptr);
  }
  idle_fibers_.clear();
  detail::tls_sim = prev;
  tls_running = prev_running;
  for (auto& t : tasks_) {
    if (t->waiter_) t->waiter_->unlink();
  }
  // Tasks (and closures) of abandoned runs stay alive in the graveyard along with their stacks.
  for (auto& t : tasks_) {
    if (t->state_ != SimTask::State::done && t->fiber_) {
      static std::vector<std::unique_ptr<SimTask>>* abandoned = new std::vector<std::unique_ptr<SimTask>>;
      std::lock_guard<std::mutex> l(g_graveyard_mu);
      abandoned->push_back(std::move(t));
    }
  }
  tasks_.clear();
  ready_.clear();
}

}  // namespace udrm
