// Zoo 8: a PMU-style counter provider's unregister stops the active counters but leaves their events usable instead of forcing them into an error state, so a client re-enabling its event after unbind calls the unbound driver's start().
//
// The naive perf core here (the driver's own, before perf_pmu_unregister could be used with
// live events) forgets that an open event outlives the driver. The fix is udrm's perf core
// (perf/pmu.h): pmu_unregister forces every event to the error state and swaps in closed
// operations, so enable() returns -ENODEV and no driver method runs after unregister returned.
#include <memory>

#include "udrm/perf/perf_event.h"
#include "udrm/perf/pmu.h"
#include "zoo/zoo_common.h"

namespace udrm::zoo {
namespace {

// ---- the driver's counter operations (its code: points "zoo8.*") ----
struct CounterHw {
  uint64_t count = 0;
  int running = 0;
};
void hw_start(CounterHw& hw) {
  UDRM_POINT("zoo8.pmu.start");
  ++hw.running;
}
void hw_stop(CounterHw& hw) {
  UDRM_POINT("zoo8.pmu.stop");
  --hw.running;
}

// ---- the naive core: unregister stops, but does not kill, the events ----
struct NaiveCore {
  CounterHw* hw = nullptr;  // nullptr once unregistered
  CounterHw* last_hw = nullptr;
  bool active = false;      // the one event's state
  void unregister() {
    if (active && hw) hw_stop(*hw);
    active = false;
    hw = nullptr;  // the bug: the event is not put into an error state
  }
  int enable() {
    if (active) return 0;
    active = true;
    hw_start(*last_hw);  // the bug: the event still reaches the driver through its old ops
    return 0;
  }
  int disable() {
    if (active) hw_stop(*last_hw);
    active = false;
    return 0;
  }
};

// ---- the real core: pmu_register / perf_event_open ----
int real_init(Pmu&, PerfEvent&) { return 0; }
void real_start(Pmu& p, PerfEvent&) { hw_start(*p.data<CounterHw>()); }
void real_stop(Pmu& p, PerfEvent&) { hw_stop(*p.data<CounterHw>()); }
uint64_t real_read(Pmu& p, PerfEvent&) { return p.data<CounterHw>()->count; }
constexpr PmuOps kRealOps{real_init, real_start, real_stop, real_read};

struct Zoo8Drm : DrmDevice {
  Ref<Pmu> pmu;  // fixed variant
};
const DrmDriver kZoo8Driver = [] {
  DrmDriver d;
  d.name = "zoo8";
  return d;
}();

class Zoo8Driver final : public Driver {
 public:
  Zoo8Driver(bool fixed, NaiveCore& naive) : Driver("zoo8"), fixed_(fixed), naive_(naive) {}
  int probe(Device& dev, const Bound&) override {
    int err = 0;
    auto* d = devm_drm_dev_alloc<Zoo8Drm>(dev, kZoo8Driver, &err);
    if (!d) return err;
    if (fixed_) {
      if ((err = pmu_register(pmu_registry(dev.world()), "zoo8", kRealOps, std::make_shared<CounterHw>(), &d->pmu)))
        return err;
    } else {
      auto* hw = devm_new<CounterHw>(dev, "zoo8.counter_hw");
      if (!hw) return -ENOMEM;
      naive_.hw = naive_.last_hw = hw;
    }
    dev.set_drvdata(d);
    return d->register_device();
  }
  void remove(Device& dev, const Bound&) override {
    auto* d = dev.drvdata<Zoo8Drm>();
    if (!d) return;
    if (fixed_) {
      pmu_unregister(*d->pmu);
      d->pmu.reset();
    } else {
        naive_.unregister();
    }
    d->unplug();
    dev.set_drvdata(nullptr);
  }

 private:
  bool fixed_;
  NaiveCore& naive_;
};

class Zoo8Scenario : public ZooScenario {
 public:
  Zoo8Scenario(bool fixed, std::string name)
      : ZooScenario(std::move(name), "counter events not forced to an error state at unregister"), fixed_(fixed) {}
  int setup(explore::Run& run) override {
    naive_ = NaiveCore{};
    ev_.reset();
    if (int r = ZooScenario::setup(run)) return r;
    if (!fixed_) return 0;
    PerfEventAttr a;
    a.disabled = true;
    return perf_event_open(*world_, "zoo8", a, &ev_);
  }
  void body(explore::Run&) override {
    // The client counts, pauses, and counts again.
    enable();
    UDRM_POINT("zoo8.client.counting");
    disable();
    UDRM_POINT("zoo8.client.paused");
    enable();
    disable();
  }
  void teardown(explore::Run& run) override {
    if (ev_) ev_->close();
    ev_.reset();
    ZooScenario::teardown(run);
  }
  std::vector<std::string> driver_points() const override { return {"zoo8.pmu."}; }

 protected:
  std::unique_ptr<Driver> make_driver() override { return std::make_unique<Zoo8Driver>(fixed_, naive_); }

 private:
  void enable() { fixed_ ? (void)ev_->enable() : (void)naive_.enable(); }
  void disable() { fixed_ ? (void)ev_->disable() : (void)naive_.disable(); }
  bool fixed_;
  NaiveCore naive_;
  Ref<PerfEvent> ev_;
};

TEST(Zoo08, CounterReenabledAfterUnregisterCallsTheUnboundDriver) {
#if defined(UDRM_ASAN)
  UDRM_ZOO_EXPECT_ASAN_REPORT(
      {
        Zoo8Scenario sc(false, "zoo.08.pmu-no-error-state");
        explore::Report rep;
        (void)zoo_finds(sc, "callback-after-unbind", &rep, zoo_options({explore::Event::unbind}));
      },
      "zoo8.counter_hw");
  return;
#endif
  Zoo8Scenario sc(false, "zoo.08.pmu-no-error-state");
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "callback-after-unbind", &rep, zoo_options({explore::Event::unbind})));
  const std::string t = rep.text();
  EXPECT_NE(t.find("driver callback point 'zoo8.pmu.start' passed by task main after the injected unbind returned"),
            std::string::npos)
      << t;
}

TEST(Zoo08, FixedControlWithTheRealPerfCoreSweepsClean) {
  Zoo8Scenario sc(true, "zoo.08.fixed");
  EXPECT_TRUE(zoo_clean(sc, zoo_options({explore::Event::unbind, explore::Event::unplug})));
}

}  // namespace
}  // namespace udrm::zoo
