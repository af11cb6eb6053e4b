// Zoo 1: the cursor plane's driver state is allocated with devm instead of drmm, so a client's close after unbind (postclose drops its cursor buffer) writes into memory devm already released.
//
// Everything userspace can reach must live as long as the DRM device (drmm), not as long as
// the binding (devm): open files outlive unbind. Here the per-device cursor state (which
// files hold a cursor buffer) is devm_new'd; postclose updates it. After an unbind with the
// file still open, the close writes to released devm memory — the explorer's poisoning names
// the block and where it was released. The fix (drmm_new) sweeps clean.
#include "zoo/zoo_common.h"

#include "udrm/drm/managed.h"

namespace udrm::zoo {
namespace {

struct ZooCursor {
  uint32_t users = 0;
  uint32_t last_bo = 0;
};

struct Zoo1Drm : DrmDevice {
  ZooCursor* cursor = nullptr;
};


void zoo1_postclose(DrmDevice& d, DrmFile&) {
  auto& z = static_cast<Zoo1Drm&>(d);
  UDRM_POINT("zoo1.postclose");
  // Drop this file's cursor buffer. With devm, after unbind: a write to released memory.
  z.cursor->users--;
  z.cursor->last_bo = 0;
}

const DrmDriver kZoo1Driver = [] {
  DrmDriver d;
  d.name = "zoo1";
  d.postclose = zoo1_postclose;
  return d;
}();

class Zoo1Driver final : public Driver {
 public:
  explicit Zoo1Driver(bool fixed) : Driver("zoo1"), fixed_(fixed) {}
  int probe(Device& dev, const Bound&) override {
    int err = 0;
    auto* d = devm_drm_dev_alloc<Zoo1Drm>(dev, kZoo1Driver, &err);
    if (!d) return err;
    d->cursor = fixed_ ? drmm_new<ZooCursor>(*d, "zoo1.cursor_state")
                       : devm_new<ZooCursor>(dev, "zoo1.cursor_state");  // the bug
    if (!d->cursor) return -ENOMEM;
    d->cursor->users = 1;  // the client's cursor buffer, counted at open in a real driver
    dev.set_drvdata(d);
    return d->register_device();
  }
  void remove(Device& dev, const Bound&) override {
    if (auto* d = dev.drvdata<Zoo1Drm>()) d->unplug();
    dev.set_drvdata(nullptr);
  }

 private:
  bool fixed_;
};

class Zoo1Scenario : public ZooScenario {
 public:
  Zoo1Scenario(bool fixed, std::string name)
      : ZooScenario(std::move(name), "cursor state devm-allocated, written by postclose"), fixed_(fixed) {}
  void body(explore::Run&) override {
    sleep_for(std::chrono::milliseconds(1));
    UDRM_POINT("zoo1.client.close");
    if (file_->is_open()) file_->close();
  }

 protected:
  std::unique_ptr<Driver> make_driver() override { return std::make_unique<Zoo1Driver>(fixed_); }

 private:
  bool fixed_;
};

TEST(Zoo01, DevmKmsStateReachedAfterUnbindIsNamed) {
#if defined(UDRM_ASAN)
  UDRM_ZOO_EXPECT_ASAN_REPORT(
      {
        Zoo1Scenario sc(false, "zoo.01.devm-kms-state");
        explore::Report rep;
        (void)zoo_finds(sc, "devm-poison", &rep, zoo_options({explore::Event::unbind}));
      },
      "zoo1.cursor_state");
#else
  Zoo1Scenario sc(false, "zoo.01.devm-kms-state");
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "devm-poison", &rep, zoo_options({explore::Event::unbind})));
  const std::string t = rep.text();
  EXPECT_NE(t.find("devm 'zoo1.cursor_state'"), std::string::npos) << t;
  EXPECT_NE(t.find("of 'zoo.01.devm-kms-state'"), std::string::npos) << t;
  EXPECT_NE(t.find("released in task explore.injector"), std::string::npos) << t;
#endif
}

TEST(Zoo01, FixedControlWithDrmmSweepsClean) {
  Zoo1Scenario sc(true, "zoo.01.fixed");
  EXPECT_TRUE(zoo_clean(sc, zoo_options({explore::Event::unbind, explore::Event::unplug})));
}

}  // namespace
}  // namespace udrm::zoo
