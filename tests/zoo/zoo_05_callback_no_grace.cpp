// Zoo 5: a bridge's HPD callback table is called from the host's interrupt task through a plain pointer that remove() clears without a grace period, so the interrupt still runs the unbound driver's callback (and writes its devm state) after unbind returned.
//
// The host (think: the display controller's HPD interrupt, shared with a bridge driver) reads
// the registered ops pointer, then calls through it. remove() stores NULL and returns: an
// interrupt that read the pointer just before still calls into the driver whose binding is
// gone. The fix is base/callback_slot.h: unregister() publishes "empty" and waits a grace
// period for every caller still inside, so remove() returns only when nobody runs the table.
#include "udrm/base/callback_slot.h"
#include "udrm/base/completion.h"
#include "udrm/base/sim_executor.h"
#include "zoo/zoo_common.h"

namespace udrm::zoo {
namespace {

struct HpdOps {
  void (*hpd)(void* ctx, int line) = nullptr;
};

/// The interrupt host: owned by the scenario (it outlives the bridge's binding).
struct HpdHost {
  bool fixed = false;
  std::atomic<const HpdOps*> naive{nullptr};  // the bug: no grace period
  CallbackSlot<HpdOps> slot;                  // the fix
  void* ctx = nullptr;                        // the registered driver's context

  void attach(const HpdOps* ops, void* c) {
    ctx = c;
    if (fixed)
      slot.publish(ops);
    else
      naive.store(ops);
  }
  void detach() {
    if (fixed)
      slot.unregister();  // waits for interrupts still running the table
    else
      naive.store(nullptr);
  }
  // Interrupt context: one HPD interrupt.
  void irq(int line) {
    if (fixed) {
      slot.call([&](const HpdOps& o) { o.hpd(ctx, line); });
      return;
    }
    const HpdOps* o = naive.load();
    if (!o) return;
    UDRM_POINT("host.hpd_irq.call");
    o->hpd(ctx, line);
  }
};

struct BridgeState {
  int hpd_count = 0;
};

void bridge_hpd(void* ctx, int line) {
  UDRM_POINT("zoo5.bridge.hpd");
  auto* s = static_cast<BridgeState*>(ctx);
  s->hpd_count += line;  // driver state: devm, gone after unbind
}

struct Zoo5Drm : DrmDevice {};
const HpdOps kBridgeHpdOps{bridge_hpd};

const DrmDriver kZoo5Driver = [] {
  DrmDriver d;
  d.name = "zoo5";
  return d;
}();

class Zoo5Driver final : public Driver {
 public:
  explicit Zoo5Driver(HpdHost& host) : Driver("zoo5"), host_(host) {}
  int probe(Device& dev, const Bound&) override {
    int err = 0;
    auto* d = devm_drm_dev_alloc<Zoo5Drm>(dev, kZoo5Driver, &err);
    if (!d) return err;
    auto* s = devm_new<BridgeState>(dev, "zoo5.bridge_state");
    if (!s) return -ENOMEM;
    host_.attach(&kBridgeHpdOps, s);
    dev.set_drvdata(d);
    return d->register_device();
  }
  void remove(Device& dev, const Bound&) override {
    host_.detach();
    if (auto* d = dev.drvdata<Zoo5Drm>()) d->unplug();
    dev.set_drvdata(nullptr);
  }

 private:
  HpdHost& host_;
};

class Zoo5Scenario : public ZooScenario {
 public:
  Zoo5Scenario(bool fixed, std::string name)
      : ZooScenario(std::move(name), "HPD ops pointer cleared without a grace period"), fixed_(fixed) {}
  int setup(explore::Run& run) override {
    host_ = std::make_unique<HpdHost>();
    host_->fixed = fixed_;
    return ZooScenario::setup(run);
  }
  void body(explore::Run& run) override {
    // Two HPD interrupts from the host's interrupt task while the client is idle.
    Completion done;
    run.sim().post(
        [&] {
          for (int i = 0; i < 2; ++i) {
            host_->irq(1);
            sleep_for(std::chrono::milliseconds(1));
          }
          done.complete();
        },
        "hpd_irq");
    done.wait();
  }
  void teardown(explore::Run& run) override {
    ZooScenario::teardown(run);
    host_.reset();
  }
  std::vector<std::string> driver_points() const override { return {"zoo5."}; }

 protected:
  std::unique_ptr<Driver> make_driver() override { return std::make_unique<Zoo5Driver>(*host_); }

 private:
  bool fixed_;
  std::unique_ptr<HpdHost> host_;
};

TEST(Zoo05, CallbackRunAfterUnbindWithoutAGracePeriodIsNamed) {
#if defined(UDRM_ASAN)
  UDRM_ZOO_EXPECT_ASAN_REPORT(
      {
        Zoo5Scenario sc(false, "zoo.05.callback-no-grace");
        explore::Report rep;
        (void)zoo_finds(sc, "callback-after-unbind", &rep, zoo_options({explore::Event::unbind}));
      },
      "zoo5.bridge_state");
  return;
#endif
  Zoo5Scenario sc(false, "zoo.05.callback-no-grace");
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "callback-after-unbind", &rep, zoo_options({explore::Event::unbind})));
  const std::string t = rep.text();
  EXPECT_NE(t.find("driver callback point 'zoo5.bridge.hpd' passed by task hpd_irq after the injected unbind returned"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("injected: unbind at host.hpd_irq.call in hpd_irq"), std::string::npos) << t;
}

TEST(Zoo05, FixedControlWithCallbackSlotSweepsClean) {
  Zoo5Scenario sc(true, "zoo.05.fixed");
  EXPECT_TRUE(zoo_clean(sc, zoo_options({explore::Event::unbind, explore::Event::unplug})));
}

}  // namespace
}  // namespace udrm::zoo
