// Zoo 9: a counter overflow's pending notification is kept in the disable bookkeeping, so a racing enable that reschedules the event consumes it and the notification is never delivered.
//
// The kernel's missing-SIGTRAP race (perf: "Fix missing SIGTRAPs"): the overflow (interrupt
// context) queues deferred work and marks "pending disable"; a racing enable on another task
// reschedules the event, which applies and clears the pending disable — and with it the
// notification; the deferred work then finds nothing pending. The explorer's schedule search
// runs the interrupt, the racing enable and the client's return to user in every order with at
// most two preemptions; the scenario checks one notification per overflow. The fix keeps the
// notification in its own state: udrm's perf core (perf/perf_event.h), the fixed control.
#include <mutex>

#include "pmu/pmu_test_util.h"
#include "udrm/base/completion.h"
#include "udrm/base/mutex.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/spinlock.h"
#include "udrm/perf/task_work.h"
#include "zoo/zoo_common.h"

namespace udrm::zoo {
namespace {

/// What the scenario drives: a sampling event with one pending overflow allowed.
class CounterModel {
 public:
  virtual ~CounterModel() = default;
  virtual unsigned irq() = 0;  // interrupt context: 1 if it overflowed
  virtual void enable() = 0;
  virtual void refresh(unsigned n) = 0;
  virtual void read() = 0;  // a client call: its return runs the deferred work
  virtual void close() = 0;
  uint64_t notified = 0;
};

/// The pre-fix design: the notification rides on pending_disable.
class SharedFlagModel final : public CounterModel {
 public:
  SharedFlagModel() {
    work_.fn = [](TaskWork& w) { static_cast<SharedFlagModel*>(w.owner)->pending(); };
    work_.owner = this;
  }
  unsigned irq() override {
    AtomicSection a;
    UDRM_POINT("zoo9.overflow");
    std::lock_guard<SpinLock> l(lock_);
    if (!counting_) return 0;
    if (limit_ > 0 && --limit_ == 0) counting_ = false;
    pending_disable_ = true;  // the bug: the notification shares the disable bookkeeping
    (void)list_.add(work_);
    return 1;
  }
  void enable() override {
    ReturnToUser rtu(list_);
    std::lock_guard<Mutex> m(mu_);
    if (active_) {
      const bool d = sched_out();
      UDRM_POINT("zoo9.resched");
      if (d) {
        active_ = false;
        return;
      }
    }
    sched_in();
  }
  void refresh(unsigned n) override {
    ReturnToUser rtu(list_);
    std::lock_guard<Mutex> m(mu_);
    {
      std::lock_guard<SpinLock> l(lock_);
      limit_ += n;
    }
    if (!active_) sched_in();
  }
  void read() override { ReturnToUser rtu(list_); }
  void close() override {
    {
      std::lock_guard<Mutex> m(mu_);
      std::lock_guard<SpinLock> l(lock_);
      counting_ = false;
    }
    list_.shutdown();
  }

 private:
  bool sched_out() {
    std::lock_guard<SpinLock> l(lock_);
    counting_ = false;
    const bool d = pending_disable_;
    pending_disable_ = false;  // consumes the notification too
    return d;
  }
  void sched_in() {
    active_ = true;
    std::lock_guard<SpinLock> l(lock_);
    counting_ = true;
  }
  void pending() {
    bool d;
    {
      std::lock_guard<SpinLock> l(lock_);
      d = pending_disable_;
      pending_disable_ = false;
    }
    if (d) ++notified;  // else: "nothing pending", the notification is gone
  }

  Mutex mu_{"zoo9.ctx"};
  SpinLock lock_;
  bool active_ = false, counting_ = false, pending_disable_ = false;
  uint64_t limit_ = 0;
  TaskWorkList list_;
  TaskWork work_;
};

/// udrm's perf core.
class RealModel final : public CounterModel {
 public:
  explicit RealModel(World& w) : t_(pmu_registry(w), nullptr, "zoo9-pmu") {
    PerfEventAttr a = pmutest::attr(0, 1);
    a.on_overflow = [this](PerfEvent&, const PerfNotification&) { ++notified; };
    open_err = perf_event_open(w, "zoo9-pmu", a, &ev_);
  }
  ~RealModel() override { t_.unregister(); }
  unsigned irq() override { return t_.irq(0, 1); }
  void enable() override { (void)ev_->enable(); }
  void refresh(unsigned n) override { (void)ev_->refresh(n); }
  void read() override { (void)ev_->read(nullptr); }
  void close() override { (void)ev_->close(); }
  int open_err = 0;

 private:
  pmutest::TestPmu t_;
  Ref<PerfEvent> ev_;
};

class Zoo9Scenario : public explore::Scenario {
 public:
  Zoo9Scenario(bool fixed, std::string name) : fixed_(fixed), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return "overflow notification consumed by a racing enable"; }
  std::vector<explore::Event> events() const override { return {}; }
  /// Overflows over every run (the control must really overflow, or its check proves nothing).
  static inline uint64_t total_overflows = 0;

  int setup(explore::Run& run) override {
    overflows_ = 0;
    if (fixed_) {
      auto m = std::make_unique<RealModel>(run.world());
      if (m->open_err) return m->open_err;
      model_ = std::move(m);
    } else {
      model_ = std::make_unique<SharedFlagModel>();
    }
    model_->refresh(1);  // a sigtrap-style event: disable after one overflow
    return 0;
  }
  void body(explore::Run& run) override {
    Completion done;
    std::atomic<int> left{2};
    auto finish = [&] {
      if (left.fetch_sub(1) == 1) done.complete();
    };
    run.sim().post([&] { overflows_ += model_->irq(); finish(); }, "irq");
    run.sim().post([&] { model_->enable(); finish(); }, "racing_enable");
    done.wait();
    model_->read();  // the client's call returns: deferred delivery
  }
  void teardown(explore::Run& run) override {
    total_overflows += overflows_;
    model_->close();
    run.check(model_->notified == overflows_, "event",
              "overflow notification lost: " + std::to_string(overflows_) + " overflow(s), " +
                  std::to_string(model_->notified) + " notification(s) delivered");
    model_.reset();
  }

 private:
  bool fixed_;
  std::string name_;
  std::unique_ptr<CounterModel> model_;
  uint64_t overflows_ = 0;
};

explore::Options search_options() {
  explore::Options o = zoo_options({explore::Event::fail});
  o.exhaustive = true;
  o.exhaustive_preemptions = 2;
  o.exhaustive_budget = 5000;
  return o;
}

TEST(Zoo09, NotificationConsumedByARacingEnableIsNamed) {
  Zoo9Scenario sc(false, "zoo.09.notification-consumed");
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "event", &rep, search_options()));
  EXPECT_NE(rep.text().find("overflow notification lost: 1 overflow(s), 0 notification(s) delivered"),
            std::string::npos)
      << rep.text();
}

TEST(Zoo09, FixedControlWithThePerfCoreSearchesClean) {
  Zoo9Scenario sc(true, "zoo.09.fixed");
  Zoo9Scenario::total_overflows = 0;
  EXPECT_TRUE(zoo_clean(sc, search_options()));
  EXPECT_GT(Zoo9Scenario::total_overflows, 0u);
}

}  // namespace
}  // namespace udrm::zoo
