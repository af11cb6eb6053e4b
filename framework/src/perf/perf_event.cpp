// framework/src/perf/perf_event.cpp — counter events, overflow accounting and the deferred
// notification work (see udrm/perf/perf_event.h).
#include "udrm/perf/perf_event.h"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>

#include "perf_internal.h"
#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/sim_hooks.h"
#include "udrm/core/module.h"

namespace udrm {

namespace detail {

void PerfCore::fold(Pmu& pmu, PerfEvent& ev) {
  if (ev.state_.load() != PerfEventState::active) return;
  const uint64_t now = ops(pmu).read(pmu, ev);
  ev.count_ += now - ev.prev_;
  ev.prev_ = now;
}

bool PerfCore::sched_out(Pmu& pmu, PerfEvent& ev) {
  fold(pmu, ev);
  bool disable;
  {
    std::lock_guard<SpinLock> l(ev.lock_);
    ev.counting_ = false;
    disable = ev.pending_disable_;  // applied here; pending_notify_ is not ours to touch
    ev.pending_disable_ = false;
  }
  if (const auto& o = ops(pmu); o.stop) o.stop(pmu, ev);
  return disable;
}

void PerfCore::sched_in(Pmu& pmu, PerfEvent& ev) {
  const PmuOps& o = ops(pmu);
  if (o.start) o.start(pmu, ev);
  ev.prev_ = o.read(pmu, ev);
  ev.state_.store(PerfEventState::active);
  std::lock_guard<SpinLock> l(ev.lock_);
  if (ev.period_left_ <= 0) ev.period_left_ = static_cast<int64_t>(ev.attr_.sample_period);
  ev.counting_ = true;
}

void PerfCore::force_error(Pmu& pmu, PerfEvent& ev, int err) {
  if (ev.state_.load() == PerfEventState::active) sched_out(pmu, ev);
  {
    std::lock_guard<SpinLock> l(ev.lock_);
    ev.counting_ = false;
    ev.pending_disable_ = false;
  }
  ev.err_.store(err);
  ev.state_.store(PerfEventState::error);
}

/// One client call on a handle: refused after close (-EBADF), counted against close() while
/// it runs, and the handle's deferred work runs when it returns (ReturnToUser).
class PerfCall {
 public:
  PerfCall(SpinLock& l, int& users, bool& closed, TaskWorkList& work, WaitQueue& wq) : l_(l), users_(users), wq_(wq) {
    {
      std::lock_guard<SpinLock> g(l_);
      ok_ = !closed;
      if (ok_) ++users_;
    }
    if (ok_) rtu_.emplace(work);
  }
  ~PerfCall() {
    if (!ok_) return;
    rtu_.reset();  // the deferred work runs before close() may proceed
    {
      std::lock_guard<SpinLock> g(l_);
      --users_;
    }
    wq_.wake_up_all();
  }
  PerfCall(const PerfCall&) = delete;
  PerfCall& operator=(const PerfCall&) = delete;
  explicit operator bool() const { return ok_; }

 private:
  SpinLock& l_;
  int& users_;
  WaitQueue& wq_;
  bool ok_ = false;
  std::optional<ReturnToUser> rtu_;
};

void PerfCore::pending_work(TaskWork& w) {
  PerfEvent& ev = *static_cast<PerfEvent*>(w.owner);
  uint64_t n, count;
  {
    // Under the mutex, so a refresh or enable is either before (it consumed the disable) or
    // after (it sees the event off) — never between taking the flag and applying it.
    std::lock_guard<Mutex> m(mutex(*ev.pmu_));
    bool disable;
    {
      std::lock_guard<SpinLock> l(ev.lock_);
      n = ev.pending_notify_;
      ev.pending_notify_ = 0;
      disable = ev.pending_disable_;
      ev.pending_disable_ = false;
    }
    if (disable && ev.state() == PerfEventState::active) {
      // The refresh limit was reached: turn the event off (perf_event_disable_local).
      sched_out(*ev.pmu_, ev);
      ev.state_.store(PerfEventState::off);
    }
    fold(*ev.pmu_, ev);
    count = ev.count_;
  }
  if (n == 0) return;
  const void* prev = ev.delivering_.exchange(detail::current_execution_id());
  for (uint64_t i = 0; i < n; ++i) {
    PerfNotification note;
    note.seq = ev.delivered_.fetch_add(1) + 1;
    note.count = count;
    if (ev.attr_.on_overflow) ev.attr_.on_overflow(ev, note);
  }
  ev.delivering_.store(prev);
}

int PerfCore::open(PmuRegistry& reg, std::string_view name, const PerfEventAttr& attr, Ref<PerfEvent>* out) {
  if (!out) return -EINVAL;
  if (attr.sample_period > (uint64_t(1) << 62)) return -EINVAL;
  might_sleep("perf_event_open");
  Ref<Pmu> pmu = reg.find(name);
  if (!pmu) return -ENOENT;
  if (!try_module_get(pmu->module())) return -ENODEV;
  auto* raw = new (std::nothrow) PerfEvent(attr);
  if (!raw) {
    module_put(pmu->module());
    return -ENOMEM;
  }
  raw->notify_work_.fn = &PerfCore::pending_work;
  raw->notify_work_.owner = raw;
  raw->module_ = pmu->module();
  raw->pmu_ = pmu;
  Ref<PerfEvent> ev = adopt_ref(raw);
  int ret;
  {
    std::lock_guard<Mutex> l(mutex(*pmu));
    ret = pmu->dead_.load() ? -ENODEV : ops(*pmu).event_init(*pmu, *ev);
    if (!ret) {
      {
        std::lock_guard<SpinLock> g(pmu->lock_);
        pmu->events_.push_back(raw);
      }
      if (!attr.disabled) sched_in(*pmu, *ev);
    }
  }
  if (ret) {
    // Never listed, nothing can reach it: release without close().
    Module* m = raw->module_;
    raw->closed_ = true;
    raw->module_ = nullptr;
    raw->pmu_.reset();
    ev.reset();
    pmu.reset();
    module_put(m);
    return ret;
  }
  *out = std::move(ev);
  return 0;
}

unsigned PerfCore::count(Pmu& pmu, uint64_t config, uint64_t delta) {
  UDRM_POINT("perf.count");
  if (delta == 0) return 0;
  unsigned generated = 0;
  std::lock_guard<SpinLock> g(pmu.lock_);
  for (PerfEvent* ev : pmu.events_) {
    if (ev->attr_.config != config || ev->attr_.sample_period == 0) continue;
    std::lock_guard<SpinLock> l(ev->lock_);
    if (!ev->counting_) continue;
    ev->period_left_ -= static_cast<int64_t>(std::min<uint64_t>(delta, uint64_t(1) << 62));
    bool queued = false;
    while (ev->counting_ && ev->period_left_ <= 0) {
      // One overflow: one pending notification, in its own counter.
      ev->period_left_ += static_cast<int64_t>(ev->attr_.sample_period);
      ev->overflows_.fetch_add(1);
      ++ev->pending_notify_;
      ++generated;
      if (ev->limit_ > 0 && --ev->limit_ == 0) {
        ev->pending_disable_ = true;  // the disable is deferred; counting stops now
        ev->counting_ = false;
      }
      queued = true;
    }
    // -EBUSY (already queued) is fine: the work drains pending_notify_ whole.
    if (queued) (void)ev->work_.add(ev->notify_work_);
  }
  return generated;
}

}  // namespace detail

using detail::PerfCore;

PerfEvent::~PerfEvent() = default;

void PerfEvent::kref_release() noexcept {
  if (!closed_) close();
  delete this;
}

int PerfEvent::read(uint64_t* value) {
  detail::PerfCall c(call_lock_, users_, closed_, work_, users_wq_);
  if (!c) return -EBADF;
  std::lock_guard<Mutex> l(PerfCore::mutex(*pmu_));
  if (state() != PerfEventState::error) PerfCore::fold(*pmu_, *this);
  if (value) *value = count_;
  return state() == PerfEventState::error ? error() : 0;
}

int PerfEvent::enable() {
  detail::PerfCall c(call_lock_, users_, closed_, work_, users_wq_);
  if (!c) return -EBADF;
  std::lock_guard<Mutex> l(PerfCore::mutex(*pmu_));
  switch (state()) {
    case PerfEventState::error:
      return error();
    case PerfEventState::active: {
      // Reschedule the context: stop, start again. A pending limit disable is applied here.
      const bool disable = PerfCore::sched_out(*pmu_, *this);
      UDRM_POINT("perf.resched");
      if (disable) {
        state_.store(PerfEventState::off);
        return 0;
      }
      PerfCore::sched_in(*pmu_, *this);
      return 0;
    }
    default:
      UDRM_POINT("perf.enable");
      PerfCore::sched_in(*pmu_, *this);
      return 0;
  }
}

int PerfEvent::disable() {
  detail::PerfCall c(call_lock_, users_, closed_, work_, users_wq_);
  if (!c) return -EBADF;
  std::lock_guard<Mutex> l(PerfCore::mutex(*pmu_));
  if (state() == PerfEventState::error) return error();
  if (state() == PerfEventState::active) {
    PerfCore::sched_out(*pmu_, *this);
    state_.store(PerfEventState::off);
  }
  return 0;
}

int PerfEvent::refresh(unsigned n) {
  detail::PerfCall c(call_lock_, users_, closed_, work_, users_wq_);
  if (!c) return -EBADF;
  if (n == 0 || attr_.sample_period == 0) return -EINVAL;
  std::lock_guard<Mutex> l(PerfCore::mutex(*pmu_));
  if (state() == PerfEventState::error) return error();
  {
    std::lock_guard<SpinLock> g(lock_);
    limit_ += n;
    if (pending_disable_) {  // the old limit was reached, its disable not applied yet: go on
      pending_disable_ = false;
      counting_ = true;
    }
  }
  UDRM_POINT("perf.refresh");
  if (state() != PerfEventState::active) PerfCore::sched_in(*pmu_, *this);
  return 0;
}

int PerfEvent::close() {
  if (delivering_.load() == detail::current_execution_id()) return -EDEADLK;  // we are a user
  {
    std::lock_guard<SpinLock> g(call_lock_);
    if (closed_) return -EBADF;
    closed_ = true;
  }
  UDRM_POINT("perf.close");
  users_wq_.wait_event([this] {
    std::lock_guard<SpinLock> g(call_lock_);
    return users_ == 0;
  });
  Pmu& pmu = *pmu_;
  {
    std::lock_guard<Mutex> l(PerfCore::mutex(pmu));
    if (state() == PerfEventState::active) PerfCore::sched_out(pmu, *this);
    {
      std::lock_guard<SpinLock> g(pmu.lock_);  // no overflow can reach us after this
      auto& evs = pmu.events_;
      evs.erase(std::remove(evs.begin(), evs.end(), this), evs.end());
    }
    {
      std::lock_guard<SpinLock> g(lock_);
      counting_ = false;
      pending_disable_ = false;
    }
    if (state() != PerfEventState::error) state_.store(PerfEventState::closed);
  }
  work_.shutdown();  // the notifications still pending are delivered, in the closer's context
  if (state() == PerfEventState::error) state_.store(PerfEventState::closed);
  Module* m = module_;
  module_ = nullptr;
  pmu_.reset();  // the last event's close frees the PMU data (after unregister)
  module_put(m);  // the data's destructor was that module's code: unpin last
  return 0;
}


int perf_event_open(PmuRegistry& reg, std::string_view pmu, const PerfEventAttr& attr, Ref<PerfEvent>* out) {
  return PerfCore::open(reg, pmu, attr, out);
}

int perf_event_open(World& w, std::string_view pmu, const PerfEventAttr& attr, Ref<PerfEvent>* out) {
  return PerfCore::open(pmu_registry(w), pmu, attr, out);
}

unsigned perf_pmu_count(Pmu& pmu, uint64_t config, uint64_t delta) { return PerfCore::count(pmu, config, delta); }

}  // namespace udrm
