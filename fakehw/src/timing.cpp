// Display timing generator (udrm/fakehw/timing.h).
#include "udrm/fakehw/timing.h"

#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/base/point.h"
#include "udrm/base/spinlock.h"
#include "udrm/base/waitqueue.h"

namespace udrm::fakehw {

Duration frame_period(const VideoTimings& t) noexcept {
  if (!t.clock_khz || !t.htotal || !t.vtotal) return Duration{0};
  const uint64_t ns = uint64_t{t.htotal} * t.vtotal * 1'000'000ull / t.clock_khz;
  return Duration{static_cast<Duration::rep>(ns)};
}

int validate_timings(const VideoTimings& t) noexcept {
  if (!t.clock_khz || !t.hdisplay || !t.vdisplay || t.hdisplay > t.htotal || t.vdisplay > t.vtotal) return -EINVAL;
  if (frame_period(t) < std::chrono::milliseconds(1)) return -EINVAL;  // > 1000 Hz
  return 0;
}

// Shared with every pending timer: a timer that fires after stop() (or after the generator is
// gone) sees a stale generation and does nothing.
struct TimingGenerator::Core {
  Core(Executor& e, std::string n) : ex(e), name(std::move(n)) {}
  Executor& ex;
  std::string name;
  SpinLock lock;
  VideoTimings timings;
  Duration period{0};
  std::shared_ptr<const VblankFn> fn;
  bool immediate = false, running = false, armed = false;
  uint64_t gen = 0;
  TimerId timer = 0;
  TimePoint next{};
  std::atomic<uint64_t> frames{0}, overruns{0}, callbacks{0};
  std::atomic<TimePoint::rep> last{0};
  std::atomic<int> in_callback{0};
  WaitQueue idle{"timing.stop"};

  static void fire(const std::shared_ptr<Core>& c, uint64_t gen, bool periodic) {
    UDRM_POINT("timing.vblank");
    std::shared_ptr<const VblankFn> fn;
    uint64_t frame;
    TimePoint ts;
    {
      std::lock_guard<SpinLock> l(c->lock);
      if (!c->running || gen != c->gen) return;
      if (periodic) {
        ts = c->next;
        const TimePoint t = c->ex.now();
        uint64_t missed = 0;
        if (t >= ts + c->period) missed = static_cast<uint64_t>((t - ts) / c->period);
        ts += c->period * static_cast<Duration::rep>(missed);  // the latest expiry not after now
        c->overruns.fetch_add(missed, std::memory_order_relaxed);
        frame = c->frames.fetch_add(1 + missed, std::memory_order_relaxed) + 1 + missed;
        c->next = ts + c->period;  // from the expiry, not from now: no drift
        std::shared_ptr<Core> keep = c;
        c->timer = c->ex.post_at(c->next, [keep, gen] { fire(keep, gen, true); }, "vblank.timer");
      } else {
        c->armed = false;
        ts = c->ex.now();
        frame = c->frames.fetch_add(1, std::memory_order_relaxed) + 1;
      }
      c->last.store(ts.time_since_epoch().count(), std::memory_order_relaxed);
      c->in_callback.fetch_add(1, std::memory_order_seq_cst);
      fn = c->fn;
    }
    if (fn && *fn) {
      AtomicSection atomic;
      (*fn)(frame, ts);
    }
    c->callbacks.fetch_add(1, std::memory_order_relaxed);
    c->in_callback.fetch_sub(1, std::memory_order_seq_cst);
    c->idle.wake_up_all();
  }
};

TimingGenerator::TimingGenerator(Executor& ex, std::string name) : core_(std::make_shared<Core>(ex, std::move(name))) {}

TimingGenerator::~TimingGenerator() { stop(); }

const std::string& TimingGenerator::name() const noexcept { return core_->name; }

int TimingGenerator::set_timings(const VideoTimings& t) {
  if (int r = validate_timings(t)) return r;
  std::lock_guard<SpinLock> l(core_->lock);
  core_->timings = t;
  core_->period = frame_period(t);
  return 0;
}

VideoTimings TimingGenerator::timings() const {
  std::lock_guard<SpinLock> l(core_->lock);
  return core_->timings;
}

void TimingGenerator::set_vblank_handler(VblankFn fn) {
  auto p = std::make_shared<const VblankFn>(std::move(fn));
  std::lock_guard<SpinLock> l(core_->lock);
  core_->fn = std::move(p);
}

int TimingGenerator::set_immediate(bool on) {
  std::lock_guard<SpinLock> l(core_->lock);
  if (core_->running) return -EBUSY;
  core_->immediate = on;
  return 0;
}

bool TimingGenerator::immediate() const noexcept {
  std::lock_guard<SpinLock> l(core_->lock);
  return core_->immediate;
}

int TimingGenerator::start() {
  Core& c = *core_;
  std::lock_guard<SpinLock> l(c.lock);
  if (c.running) return 0;
  if (!c.immediate) {
    if (c.period == Duration{0}) return -EINVAL;
    c.next = c.ex.now() + c.period;
    const uint64_t gen = c.gen;
    std::shared_ptr<Core> keep = core_;
    c.timer = c.ex.post_at(c.next, [keep, gen] { Core::fire(keep, gen, true); }, "vblank.timer");
  }
  c.running = true;
  c.armed = false;
  return 0;
}

void TimingGenerator::stop() {
  Core& c = *core_;
  {
    std::lock_guard<SpinLock> l(c.lock);
    if (c.running) {
      c.running = false;
      ++c.gen;
      if (c.timer) c.ex.cancel(c.timer);
      c.timer = 0;
      c.armed = false;
    }
  }
  // hrtimer_cancel: wait for a callback already running (not possible from atomic context).
  if (!in_atomic()) c.idle.wait_event([&c] { return c.in_callback.load(std::memory_order_seq_cst) == 0; });
}

bool TimingGenerator::running() const noexcept {
  std::lock_guard<SpinLock> l(core_->lock);
  return core_->running;
}

void TimingGenerator::arm() {
  Core& c = *core_;
  std::lock_guard<SpinLock> l(c.lock);
  if (!c.running || !c.immediate || c.armed) return;
  c.armed = true;
  const uint64_t gen = c.gen;
  std::shared_ptr<Core> keep = core_;
  c.timer = c.ex.post_at(c.ex.now(), [keep, gen] { Core::fire(keep, gen, false); }, "vblank.immediate");
}

Duration TimingGenerator::period() const noexcept {
  std::lock_guard<SpinLock> l(core_->lock);
  return core_->period;
}
uint64_t TimingGenerator::frame_count() const noexcept { return core_->frames.load(std::memory_order_relaxed); }
TimePoint TimingGenerator::last_vblank() const noexcept {
  return TimePoint{TimePoint::duration{core_->last.load(std::memory_order_relaxed)}};
}
uint64_t TimingGenerator::overruns() const noexcept { return core_->overruns.load(std::memory_order_relaxed); }
uint64_t TimingGenerator::callbacks() const noexcept { return core_->callbacks.load(std::memory_order_relaxed); }

}  // namespace udrm::fakehw
