// Zoo 2: postclose writes a register without drm_dev_enter (and the check-then-act variant: is_unplugged() checked, then the access), so a close after unbind touches hardware devm already unmapped.
//
// The driver keeps a per-file hardware context: its postclose clears the CTX register. A client
// may close its file at any time after unbind (files outlive the binding), when devm has
// released the mapping. Variant A touches the register with no gate at all; variant B tests
// is_unplugged() and then touches it, so an unbind between the test and the access (the
// explorer injects it at the point in between) slips through. The fix is a real read section:
// `if (auto g = drm.dev_enter())`, which unplug waits for.
#include "zoo/zoo_common.h"

namespace udrm::zoo {
namespace {

enum class Variant { no_gate, check_then_act, fixed };

struct Zoo2Drm : DrmDevice {
  fakehw::IoMem* io = nullptr;
  Variant variant = Variant::no_gate;
};

void zoo2_postclose(DrmDevice& d, DrmFile&) {
  auto& z = static_cast<Zoo2Drm&>(d);
  switch (z.variant) {
    case Variant::no_gate:
      UDRM_POINT("zoo2.postclose.hw");
      z.io->writel(0, kCtx);  // the bug: no gate at all
      break;
    case Variant::check_then_act:
      if (!z.is_unplugged()) {
        UDRM_POINT("zoo2.postclose.checked");
        z.io->writel(0, kCtx);  // the bug: the check does not keep the unbind out
      }
      break;
    case Variant::fixed:
      if (auto g = z.dev_enter()) {
        UDRM_POINT("zoo2.postclose.checked");
        z.io->writel(0, kCtx);
      }
      break;
  }
}

const DrmDriver kZoo2Driver = [] {
  DrmDriver d;
  d.name = "zoo2";
  d.postclose = zoo2_postclose;
  return d;
}();

class Zoo2Driver final : public Driver {
 public:
  Zoo2Driver(fakehw::RegisterBlock& regs, Variant v) : Driver("zoo2"), regs_(regs), v_(v) {}
  int probe(Device& dev, const Bound&) override {
    int err = 0;
    auto* d = devm_drm_dev_alloc<Zoo2Drm>(dev, kZoo2Driver, &err);
    if (!d) return err;
    d->variant = v_;
    d->io = fakehw::devm_ioremap(dev, regs_);
    if (!d->io) return -ENOMEM;
    dev.set_drvdata(d);
    return d->register_device();
  }
  void remove(Device& dev, const Bound&) override {
    if (auto* d = dev.drvdata<Zoo2Drm>()) d->unplug();
    dev.set_drvdata(nullptr);
  }

 private:
  fakehw::RegisterBlock& regs_;
  Variant v_;
};

class Zoo2Scenario : public ZooScenario {
 public:
  Zoo2Scenario(Variant v, std::string name)
      : ZooScenario(std::move(name), "postclose touches CTX outside the gate"), v_(v) {}
  void body(explore::Run&) override {
    sleep_for(std::chrono::milliseconds(1));
    UDRM_POINT("zoo2.client.close");
    if (file_->is_open()) file_->close();
  }

 protected:
  std::unique_ptr<Driver> make_driver() override { return std::make_unique<Zoo2Driver>(regs(), v_); }

 private:
  Variant v_;
};

TEST(Zoo02, HardwareAccessOutsideTheGateIsNamed) {
  Zoo2Scenario sc(Variant::no_gate, "zoo.02a.no-gate");
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "violation", &rep, zoo_options({explore::Event::unbind})));
  const std::string t = rep.text();
  EXPECT_NE(t.find("mmio-after-unmap"), std::string::npos) << t;
  EXPECT_NE(t.find("writel(CTX @0x4) of block 'zoo.02a.no-gate.regs'"), std::string::npos) << t;
  EXPECT_NE(t.find("unbind of 'zoo.02a.no-gate'"), std::string::npos) << t;
}

TEST(Zoo02, CheckThenActIsCaughtAtThePointBetweenCheckAndAccess) {
  Zoo2Scenario sc(Variant::check_then_act, "zoo.02b.check-then-act");
  explore::Report rep;
  // Only the point between the check and the access: an unbind earlier makes the check fail.
  ASSERT_TRUE(zoo_finds(sc, "violation", &rep, zoo_options({explore::Event::unbind}, "zoo2.*")));
  const std::string t = rep.text();
  EXPECT_NE(t.find("mmio-after-unmap"), std::string::npos) << t;
  EXPECT_NE(t.find("writel(CTX @0x4)"), std::string::npos) << t;
  EXPECT_NE(t.find("zoo2.postclose.checked"), std::string::npos) << t;
  ASSERT_TRUE(rep.failure);
  EXPECT_EQ(rep.failure->schedule.where.point, "zoo2.postclose.checked");
}

TEST(Zoo02, FixedControlWithAReadSectionSweepsClean) {
  Zoo2Scenario sc(Variant::fixed, "zoo.02.fixed");
  EXPECT_TRUE(zoo_clean(sc, zoo_options({explore::Event::unbind, explore::Event::unplug})));
}

}  // namespace
}  // namespace udrm::zoo
