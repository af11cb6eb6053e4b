// DRM-managed resources and the DRM device lifetime (kernel-semantics.md §2 rules 1-13,
// scenarios M1-M9, the drm_managed kunit suite; plus the DrmFile / unplug basics of §3 that the
// drmm lifetime depends on).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/mutex.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/managed.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

std::string dump(const Strings& v) {
  std::string s;
  for (auto& e : v) s += "  " + e + "\n";
  return s;
}

struct Log {
  Strings ev;
  void operator()(std::string s) { ev.push_back(std::move(s)); }
  std::size_t mark() const { return ev.size(); }
  Strings since(std::size_t from) const { return Strings(ev.begin() + static_cast<long>(from), ev.end()); }
  long pos(const std::string& s) const {
    auto it = std::find(ev.begin(), ev.end(), s);
    return it == ev.end() ? -1 : static_cast<long>(it - ev.begin());
  }
  int count(const std::string& s) const { return static_cast<int>(std::count(ev.begin(), ev.end(), s)); }
};

// The driver's container: its destructor is the "final kfree".
struct TestDrm : DrmDevice {
  explicit TestDrm(Log* l) : log(l) { ++live; }
  ~TestDrm() override {
    --live;
    (*log)(std::string("container freed") + (dev() ? " (parent still set!)" : ""));
  }
  Log* log;
  static inline int live = 0;
};

// A drmm action that logs its tag (data: a Tag that outlives the device).
struct Tag {
  Log* log;
  std::string name;
};
void tag_action(DrmDevice& d, Tag* t) {
  (*t->log)("drmm " + t->name + (d.dev() ? "" : " (parent gone!)"));
}

DrmDriver make_driver(const char* name = "testdrm") {
  DrmDriver d;
  d.name = name;
  return d;
}

void run_sim(const std::function<void(SimExecutor&)>& body) {
  SimExecutor sim;
  auto r = sim.run([&] { body(sim); });
  ASSERT_TRUE(r) << r.report;
}

// A bare drm device (the kunit helper's shape): container + init against a parent that is not
// bound to anything; the caller owns the initial reference.
TestDrm* bare_drm(Device& parent, const DrmDriver& drv, Log* log) {
  auto* d = new TestDrm(log);
  int ret = d->init(drv, parent);
  EXPECT_EQ(ret, 0);
  return d;
}

// ---- a real driver binding with devm_drm_dev_alloc ------------------------------------------------

class GpuDriver final : public Driver {
 public:
  explicit GpuDriver(Log& log) : Driver("gpu"), log_(log) { drv_ = make_driver("gpu"); }
  int probe(Device& dev, const Bound&) override {
    log_("probe");
    if (devm_add_action(dev, [this] { log_("early-devm released"); }, "early-devm")) return -ENOMEM;
    int err = 0;
    TestDrm* drm = devm_drm_dev_alloc<TestDrm>(dev, drv_, &err, &log_);
    if (!drm) {
      log_("alloc failed " + std::to_string(err));
      return err;
    }
    for (int i = 0; i < n_actions; ++i) {
      tags_.push_back(Tag{&log_, "a" + std::to_string(i)});
      if (int ret = drmm_add_action(*drm, &tag_action, &tags_.back(), "tag")) return ret;
    }
    if (fail_after_actions) {
      log_("probe fails");
      return -EIO;
    }
    if (devm_add_action(dev, [this] { log_("later-devm released"); }, "later-devm")) return -ENOMEM;
    if (int ret = drm->register_device()) return ret;
    dev.set_drvdata(drm);
    drm_ = drm;
    return 0;
  }
  void remove(Device& dev, const Bound&) override {
    log_("remove");
    dev.drvdata<TestDrm>()->unplug();
    drm_ = nullptr;
  }
  TestDrm* drm() const { return drm_; }

  int n_actions = 3;
  bool fail_after_actions = false;

 private:
  Log& log_;
  DrmDriver drv_;
  std::deque<Tag> tags_;
  TestDrm* drm_ = nullptr;
};

// ---- M1 ------------------------------------------------------------------------------------------

TEST(Drmm, M1_ActionsRunLifoAtFinalPutThenContainerFreedLast) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    Tag a{&log, "a"}, b{&log, "b"}, c{&log, "c"};
    ASSERT_EQ(drmm_add_action(*drm, &tag_action, &a, "a"), 0);
    ASSERT_EQ(drmm_add_action(*drm, &tag_action, &b, "b"), 0);
    ASSERT_EQ(drmm_add_action(*drm, &tag_action, &c, "c"), 0);
    EXPECT_EQ(drm->drmm_names(), (Strings{"drm_dev_init_release", "a", "b", "c"}));
    drm_dev_get(drm);
    drm_dev_put(drm);
    EXPECT_TRUE(log.ev.empty()) << "nothing runs before the final put";
    drm_dev_put(drm);
    EXPECT_EQ(log.ev, (Strings{"drmm c", "drmm b", "drmm a", "container freed"})) << dump(log.ev);
    EXPECT_EQ(TestDrm::live, 0);
    drm_dev_put(nullptr);  // NULL-safe
    drm_dev_get(nullptr);
  });
}

TEST(Drmm, M1_ContainerFreedAfterEveryDrmmResourceIncludingMemory) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    struct Obj {
      Log* log;
      ~Obj() { (*log)("obj destroyed"); }
    };
    Tag a{&log, "a"};
    ASSERT_EQ(drmm_add_action(*drm, &tag_action, &a, "a"), 0);
    ASSERT_NE(drmm_new<Obj>(*drm, "obj", Obj{&log}), nullptr);
    log.ev.clear();  // the temporary Obj
    ASSERT_NE(drmm_kzalloc(*drm, 32), nullptr);
    drm_dev_put(drm);
    EXPECT_EQ(log.ev, (Strings{"obj destroyed", "drmm a", "container freed"})) << dump(log.ev);
  });
}

// ---- M2 / M3 -------------------------------------------------------------------------------------

TEST(Drmm, M2_DrmDeviceSurvivesUnbindWhileFileOpen) {
  run_sim([](SimExecutor& sim) {
    Log log;
    GpuDriver gpu(log);
    World w(sim);
    Bus& bus = w.bus();
    ASSERT_EQ(bus.register_driver(gpu), 0);
    Ref<Device> dev = Device::create(w, "gpu0", nullptr, "gpu");
    ASSERT_EQ(bus.add_device(*dev), 0);
    ASSERT_TRUE(dev->is_bound());
    TestDrm* drm = gpu.drm();
    ASSERT_NE(drm, nullptr);
    Ref<DrmFile> file;
    ASSERT_EQ(DrmFile::open(*drm, &file), 0);

    std::size_t m = log.mark();
    ASSERT_EQ(bus.unbind("gpu0"), 0);
    EXPECT_EQ(log.since(m), (Strings{"remove", "later-devm released", "early-devm released"})) << dump(log.since(m));
    EXPECT_EQ(TestDrm::live, 1);
    EXPECT_EQ(file->device(), drm);
    EXPECT_EQ(drm->drmm_count(), 4u);  // init_release + a0..a2: nothing ran

    m = log.mark();
    EXPECT_EQ(file->close(), 0);
    EXPECT_EQ(log.since(m), (Strings{"drmm a2", "drmm a1", "drmm a0", "container freed"})) << dump(log.since(m));
    EXPECT_EQ(TestDrm::live, 0);
    bus.del_device(*dev);
  });
}

TEST(Drmm, M3_NoUsersReleasesInsideUnbindAtTheDevmPositionOfTheAllocation) {
  run_sim([](SimExecutor& sim) {
    Log log;
    GpuDriver gpu(log);
    World w(sim);
    Bus& bus = w.bus();
    ASSERT_EQ(bus.register_driver(gpu), 0);
    Ref<Device> dev = Device::create(w, "gpu0", nullptr, "gpu");
    ASSERT_EQ(bus.add_device(*dev), 0);
    EXPECT_EQ(dev->devres().names(), (Strings{"early-devm", "devm_drm_dev_init_release", "later-devm"}));
    std::size_t m = log.mark();
    ASSERT_EQ(bus.unbind("gpu0"), 0);
    log("unbind returned");
    // devm actions registered after the allocation run first, then the drm final put (drmm LIFO,
    // container last), then the devm actions registered before it.
    EXPECT_EQ(log.since(m), (Strings{"remove", "later-devm released", "drmm a2", "drmm a1", "drmm a0",
                                     "container freed", "early-devm released", "unbind returned"}))
        << dump(log.since(m));
    EXPECT_TRUE(dev->devres().empty());
    EXPECT_EQ(TestDrm::live, 0);
    // Re-probe: a new instance.
    ASSERT_EQ(bus.bind("gpu0", "gpu"), 0);
    EXPECT_EQ(TestDrm::live, 1);
    bus.del_device(*dev);
    EXPECT_EQ(TestDrm::live, 0);
  });
}

// ---- M4 ------------------------------------------------------------------------------------------

std::vector<void*> g_received;
void m4_action(DrmDevice&, int* data) { g_received.push_back(data); }
void m4_other(DrmDevice&, int* data) { g_received.push_back(data); }

TEST(Drmm, M4_ReleaseActionRunsOnceNowAndNotAtFinalPut) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    ASSERT_EQ(drm->register_device(), 0);
    g_received.clear();
    int d1 = 1, d2 = 2;
    ASSERT_EQ(drmm_add_action(*drm, &m4_action, &d1), 0);
    ASSERT_EQ(drmm_add_action(*drm, &m4_action, &d2), 0);
    drmm_release_action(*drm, &m4_action, &d2);  // exact data: that node
    EXPECT_EQ(g_received, (std::vector<void*>{&d2}));
    EXPECT_EQ(drm->drmm_count(), 2u);
    drm->unregister_device();
    drm_dev_put(drm);
    EXPECT_EQ(g_received, (std::vector<void*>{&d2, &d1})) << "d2 must not run again, d1 runs at the final put";
  });
}

TEST(Drmm, M4_ReleaseActionWithNullDataMatchesOldestNodeAndPassesNull) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    g_received.clear();
    int d1 = 1, d2 = 2, d3 = 3;
    ASSERT_EQ(drmm_add_action(*drm, &m4_other, &d3), 0);  // another action, older still
    ASSERT_EQ(drmm_add_action(*drm, &m4_action, &d1), 0);  // oldest node of m4_action
    ASSERT_EQ(drmm_add_action(*drm, &m4_action, &d2), 0);
    drmm_release_action<int>(*drm, &m4_action, nullptr);
    // The kernel quirk, mirrored: the caller's NULL is passed, not the stored &d1.
    EXPECT_EQ(g_received, (std::vector<void*>{nullptr}));
    EXPECT_EQ(drm->drmm_count(), 3u);
    drm_dev_put(drm);
    // The node left is the newer one (d2): the oldest (d1) was the one released.
    EXPECT_EQ(g_received, (std::vector<void*>{nullptr, &d2, &d3}));
  });
}

TEST(Drmm, M4_ReleaseActionOfUnknownActionWarns) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    g_received.clear();
    int d1 = 1, d2 = 2;
    ASSERT_EQ(drmm_add_action(*drm, &m4_action, &d1), 0);
    {
      udrm::testing::ExpectWarn warn(1, "drmm_release_action");
      drmm_release_action(*drm, &m4_other, &d1);  // action not registered
    }
    {
      udrm::testing::ExpectWarn warn(1, "drmm_release_action");
      drmm_release_action(*drm, &m4_action, &d2);  // data not registered
    }
    EXPECT_TRUE(g_received.empty());
    drm_dev_put(drm);
    EXPECT_EQ(g_received, (std::vector<void*>{&d1}));
  });
}

// ---- M5 ------------------------------------------------------------------------------------------

struct ResetProbe {
  DrmDevice* dev = nullptr;
  int calls = 0;
};
void reset_action(DrmDevice& d, ResetProbe* p) {
  p->dev = &d;
  ++p->calls;
}

TEST(Drmm, M5_AddActionOrResetWithInjectedFailureRunsActionAndReturnsEnomem) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    ResetProbe probe;
    std::size_t before = drm->drmm_count();
    {
      FailNth inj(1, "drmm.add_action");
      ScopedFaultInjector scope(inj);
      EXPECT_EQ(drmm_add_action_or_reset(*drm, &reset_action, &probe, "reset"), -ENOMEM);
      EXPECT_TRUE(inj.fired());
    }
    EXPECT_EQ(probe.calls, 1);
    EXPECT_EQ(probe.dev, drm);
    EXPECT_EQ(drm->drmm_count(), before);
    // Plain add with a failure: not run.
    ResetProbe plain;
    {
      FailNth inj(1, "drmm.add_action");
      ScopedFaultInjector scope(inj);
      EXPECT_EQ(drmm_add_action(*drm, &reset_action, &plain, "plain"), -ENOMEM);
    }
    EXPECT_EQ(plain.calls, 0);
    drm_dev_put(drm);
    EXPECT_EQ(probe.calls, 1) << "the reset action must not run again at the final put";
    EXPECT_EQ(plain.calls, 0);
  });
}

// ---- M6 ------------------------------------------------------------------------------------------

TEST(Drmm, M6_KfreeUnknownPointerWarnsNullIsNoop) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    TestDrm* other = bare_drm(*parent, drv, &log);
    void* p = drmm_kmalloc(*drm, 16);
    void* q = drmm_kzalloc(*other, 16);
    ASSERT_NE(p, nullptr);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(static_cast<unsigned char*>(q)[15], 0);
    std::size_t n = drm->drmm_count();
    drmm_kfree(*drm, nullptr);
    EXPECT_EQ(drm->drmm_count(), n);
    int on_stack = 0;
    {
      udrm::testing::ExpectWarn warn(1, "drmm_kfree");
      drmm_kfree(*drm, &on_stack);  // never allocated
    }
    {
      udrm::testing::ExpectWarn warn(1, "drmm_kfree");
      drmm_kfree(*drm, q);  // another device's allocation
    }
    EXPECT_EQ(drm->drmm_count(), n);
    EXPECT_EQ(other->drmm_count(), 2u);
    drmm_kfree(*drm, p);
    EXPECT_EQ(drm->drmm_count(), n - 1);
    {
      udrm::testing::ExpectWarn warn(1, "drmm_kfree");
      drmm_kfree(*drm, p);  // double free
    }
    drm_dev_put(drm);
    drm_dev_put(other);
  });
}

TEST(Drmm, KmallocArrayOverflowIsNullAndRegistersNothing) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    std::size_t n = drm->drmm_count();
    constexpr std::size_t big = std::numeric_limits<std::size_t>::max() / 2 + 1;
    EXPECT_EQ(drmm_kmalloc_array(*drm, big, 2), nullptr);
    EXPECT_EQ(drmm_kcalloc(*drm, 2, big), nullptr);
    EXPECT_EQ(drmm_kmalloc(*drm, std::numeric_limits<std::size_t>::max()), nullptr);
    EXPECT_EQ(drm->drmm_count(), n);
    auto* arr = static_cast<uint32_t*>(drmm_kcalloc(*drm, 4, sizeof(uint32_t)));
    ASSERT_NE(arr, nullptr);
    EXPECT_EQ(arr[0] | arr[1] | arr[2] | arr[3], 0u);
    char* s = drmm_kstrdup(*drm, "hello");
    ASSERT_NE(s, nullptr);
    EXPECT_STREQ(s, "hello");
    EXPECT_EQ(drm->drmm_count(), n + 2);
    drm_dev_put(drm);
  });
}

// ---- M7 ------------------------------------------------------------------------------------------

TEST(Drmm, M7_DriverInitFailureAfterKActionsRollsBackInReverse) {
  for (int k : {0, 1, 3}) {
    SCOPED_TRACE(k);
    run_sim([k](SimExecutor& sim) {
      Log log;
      GpuDriver gpu(log);
      gpu.n_actions = k;
      gpu.fail_after_actions = true;
      World w(sim);
      Bus& bus = w.bus();
      ASSERT_EQ(bus.register_driver(gpu), 0);
      Ref<Device> dev = Device::create(w, "gpu0", nullptr, "gpu");
      ASSERT_EQ(bus.add_device(*dev), 0);
      EXPECT_FALSE(dev->is_bound());
      Strings expect{"probe", "probe fails"};
      for (int i = k - 1; i >= 0; --i) expect.push_back("drmm a" + std::to_string(i));
      expect.push_back("container freed");
      expect.push_back("early-devm released");
      EXPECT_EQ(log.ev, expect) << dump(log.ev);
      EXPECT_TRUE(dev->devres().empty());
      EXPECT_EQ(TestDrm::live, 0);
    });
  }
}

TEST(Drmm, M7_DrmDevInitFailureRollsBackPartialStateAndFreesContainer) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    unsigned refs = parent->refcount();
    for (const char* site : {"drm.dev_alloc", "drmm.add_action", "drm.dev_init", "devm.add_action"}) {
      SCOPED_TRACE(site);
      log.ev.clear();
      FailNth inj(1, site);
      ScopedFaultInjector scope(inj);
      int err = 0;
      TestDrm* drm = devm_drm_dev_alloc<TestDrm>(*parent, drv, &err, &log);
      EXPECT_TRUE(inj.fired());
      EXPECT_EQ(drm, nullptr);
      EXPECT_EQ(err, -ENOMEM);
      EXPECT_EQ(TestDrm::live, 0);
      EXPECT_TRUE(parent->devres().empty());
      EXPECT_EQ(parent->refcount(), refs) << "the parent reference must be dropped again";
      if (std::string(site) != "drm.dev_alloc") {
        EXPECT_EQ(log.ev, Strings{"container freed"});
      }
    }
  });
}

// drm_dev_init itself: a failure midway has released the partial drmm state (LIFO, so the
// parent reference is gone) before init returns; the caller then frees the container.
TEST(Drmm, M7_DrmDevInitFailureReleasesPartialStateBeforeReturning) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    unsigned refs = parent->refcount();
    auto* drm = new TestDrm(&log);
    {
      FailNth inj(1, "drm.dev_init");
      ScopedFaultInjector scope(inj);
      EXPECT_EQ(drm->init(drv, *parent), -ENOMEM);
      EXPECT_TRUE(inj.fired());
    }
    EXPECT_EQ(drm->drmm_count(), 0u);
    EXPECT_EQ(drm->dev(), nullptr);
    EXPECT_EQ(parent->refcount(), refs);
    EXPECT_TRUE(log.ev.empty());
    drm_dev_put(drm);
    EXPECT_EQ(log.ev, Strings{"container freed"});
  });
}

// Every allocation of a probe failing in turn: each failure unwinds completely.
TEST(Drmm, M7_ProbeFaultSweepLeavesNothingBehind) {
  for (uint64_t n = 1;; ++n) {
    SCOPED_TRACE(n);
    bool fired = false;
    run_sim([&](SimExecutor& sim) {
      Log log;
      GpuDriver gpu(log);
      World w(sim);
      Bus& bus = w.bus();
      Ref<Device> dev = Device::create(w, "gpu0", nullptr, "gpu");
      ASSERT_EQ(bus.add_device(*dev), 0);
      {
        FailNth inj(n);  // every site the probe consults (driver registration itself has none)
        ScopedFaultInjector scope(inj);
        ASSERT_EQ(bus.register_driver(gpu), 0);  // probes gpu0
        fired = inj.fired();
      }
      if (fired) {
        EXPECT_FALSE(dev->is_bound());
        EXPECT_TRUE(dev->devres().empty());
        EXPECT_EQ(TestDrm::live, 0);
      } else {
        EXPECT_TRUE(dev->is_bound());
      }
      bus.del_device(*dev);
      EXPECT_EQ(TestDrm::live, 0);
    });
    if (!fired) break;
    ASSERT_LT(n, 50u);
  }
}

// ---- M8 ------------------------------------------------------------------------------------------

struct ParentProbe {
  Log* log;
  const Device* expect;
};
void parent_check_action(DrmDevice& d, ParentProbe* p) {
  Device* parent = d.dev();
  (*p->log)(std::string("last driver action: parent ") + (parent == p->expect ? "alive" : "GONE") +
            " refs=" + std::to_string(parent ? parent->refcount() : 0));
}

TEST(Drmm, M8_ParentDeviceObjectHeldUntilLastDrmmAction) {
  run_sim([](SimExecutor& sim) {
    Log log;
    GpuDriver gpu(log);
    gpu.n_actions = 0;
    World w(sim);
    Bus& bus = w.bus();
    ASSERT_EQ(bus.register_driver(gpu), 0);
    Ref<Device> dev = Device::create(w, "gpu0", nullptr, "gpu");
    unsigned before = dev->refcount();
    ASSERT_EQ(bus.add_device(*dev), 0);
    TestDrm* drm = gpu.drm();
    ASSERT_NE(drm, nullptr);
    EXPECT_EQ(drm->dev(), dev.get());
    // The drm device holds its own reference to the parent object (plus the bus's).
    EXPECT_EQ(dev->refcount(), before + 2);
    // Registered first, so it runs last of the driver's actions, right before drm_dev_init_release.
    ParentProbe probe{&log, dev.get()};
    ASSERT_EQ(drmm_add_action(*drm, &parent_check_action, &probe, "parent_check"), 0);
    Ref<DrmFile> file;
    ASSERT_EQ(DrmFile::open(*drm, &file), 0);

    bus.del_device(*dev);  // unbind + unregister: the bus reference goes
    const Device* raw = dev.get();
    // A resource added after device_del is released at the device object's final put.
    ASSERT_EQ(devm_add_action(*dev, [&log] { log("parent object released"); }, "after-del"), 0);
    EXPECT_EQ(dev->refcount(), 2u);  // ours + the drm device's
    dev.reset();
    EXPECT_EQ(log.count("parent object released"), 0) << "the drm device still holds the parent";
    EXPECT_EQ(drm->dev(), raw);

    std::size_t m = log.mark();
    EXPECT_EQ(file->close(), 0);
    EXPECT_EQ(log.since(m), (Strings{"last driver action: parent alive refs=1", "parent object released",
                                     "container freed"}))
        << dump(log.since(m));
  });
}

// ---- M9 ------------------------------------------------------------------------------------------

struct MutexProbe {
  Log* log;
  Mutex* mu;
};
void use_mutex_action(DrmDevice&, MutexProbe* p) {
  // Newer than the mutex: runs before it is destroyed, so it may still use it.
  p->mu->lock();
  p->mu->unlock();
  (*p->log)("mutex used");
}
void check_mutex_gone_action(DrmDevice& d, MutexProbe* p) {
  Strings names = d.drmm_names();
  bool still = std::find(names.begin(), names.end(), "drmm_mutex") != names.end();
  (*p->log)(still ? "mutex still there" : "mutex destroyed");
}

TEST(Drmm, M9_DrmmMutexDestroyedAtFinalPut) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    MutexProbe probe{&log, nullptr};
    ASSERT_EQ(drmm_add_action(*drm, &check_mutex_gone_action, &probe, "check"), 0);
    Mutex* mu = drmm_mutex_init(*drm, "test_lock");
    ASSERT_NE(mu, nullptr);
    probe.mu = mu;
    EXPECT_STREQ(mu->name(), "test_lock");
    ASSERT_EQ(drmm_add_action(*drm, &use_mutex_action, &probe, "use"), 0);
    {
      std::lock_guard<Mutex> l(*mu);
      EXPECT_TRUE(mu->held());
    }
    drm_dev_get(drm);
    drm_dev_put(drm);  // not final: nothing destroyed
    EXPECT_TRUE(log.ev.empty());
    drm_dev_put(drm);
    EXPECT_EQ(log.ev, (Strings{"mutex used", "mutex destroyed", "container freed"})) << dump(log.ev);
  });
}

TEST(Drmm, M9_DrmmMutexDestroyedLockedAtFinalPutIsDetected) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    Mutex* mu = drmm_mutex_init(*drm, "test_lock");
    ASSERT_NE(mu, nullptr);
    mu->lock();
    // The destructor runs at the final put: destroying a held mutex is reported there.
    udrm::testing::ExpectWarn warn(1, "WARN_ON");
    drm_dev_put(drm);
  });
}

TEST(Drmm, M9_DrmmMutexInitFailureReturnsNull) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    std::size_t n = drm->drmm_count();
    {
      FailNth inj(1, "drmm.");
      ScopedFaultInjector scope(inj);
      EXPECT_EQ(drmm_mutex_init(*drm, "test_lock"), nullptr);
      EXPECT_TRUE(inj.fired());
    }
    EXPECT_EQ(drm->drmm_count(), n);
    drm_dev_put(drm);
  });
}

// ---- the drm_managed kunit suite ------------------------------------------------------------------

bool g_action_done = false;
void kunit_action(DrmDevice&, bool* done) { *done = true; }

TEST(Drmm, Kunit_ManagedReleaseAction) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "kunit");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    g_action_done = false;
    ASSERT_EQ(drmm_add_action_or_reset(*drm, &kunit_action, &g_action_done), 0);
    ASSERT_EQ(drm->register_device(), 0);
    drmm_release_action(*drm, &kunit_action, &g_action_done);
    EXPECT_TRUE(g_action_done);
    g_action_done = false;
    drm->unregister_device();
    drm_dev_put(drm);
    parent.reset();
    EXPECT_FALSE(g_action_done) << "must not run again";
  });
}

TEST(Drmm, Kunit_ManagedRunAction) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "kunit");
    ASSERT_EQ(w.bus().add_device(*parent), 0);  // driverless, registered
    int err = 0;
    TestDrm* drm = devm_drm_dev_alloc<TestDrm>(*parent, drv, &err, &log);
    ASSERT_NE(drm, nullptr);
    g_action_done = false;
    ASSERT_EQ(drmm_add_action_or_reset(*drm, &kunit_action, &g_action_done), 0);
    ASSERT_EQ(drm->register_device(), 0);
    drm->unregister_device();
    EXPECT_FALSE(g_action_done);
    w.bus().del_device(*parent);  // devm → put → final release
    EXPECT_TRUE(g_action_done);
    EXPECT_EQ(TestDrm::live, 0);
  });
}

// ---- DrmFile -------------------------------------------------------------------------------------

struct Bound1 {
  Log log;
  GpuDriver gpu{log};
  World w;
  Ref<Device> dev;
  explicit Bound1(Executor& ex) : w(ex) {
    gpu.n_actions = 0;
    EXPECT_EQ(w.bus().register_driver(gpu), 0);
    dev = Device::create(w, "gpu0", nullptr, "gpu");
    EXPECT_EQ(w.bus().add_device(*dev), 0);
  }
};

TEST(DrmFile, OpenHoldsDeviceReferenceCloseDropsIt) {
  run_sim([](SimExecutor& sim) {
    Bound1 b(sim);
    TestDrm* drm = b.gpu.drm();
    ASSERT_NE(drm, nullptr);
    EXPECT_EQ(drm->refcount(), 1u);
    Ref<DrmFile> f1, f2;
    ASSERT_EQ(DrmFile::open(*drm, &f1), 0);
    ASSERT_EQ(DrmFile::open(*drm, &f2), 0);
    EXPECT_EQ(drm->refcount(), 3u);
    EXPECT_TRUE(f1->is_open());
    EXPECT_EQ(f1->call([](DrmDevice&) { return 5; }), 5);
    EXPECT_EQ(f1->close(), 0);
    EXPECT_EQ(drm->refcount(), 2u);
    EXPECT_FALSE(f1->is_open());
    EXPECT_EQ(f1->device(), nullptr);
    EXPECT_EQ(f1->call([](DrmDevice&) { return 5; }), -EBADF);
    f2.reset();  // dropping the handle closes it
    EXPECT_EQ(drm->refcount(), 1u);
  });
}

TEST(DrmFile, CloseAfterUnbindIsTheFinalPut) {
  run_sim([](SimExecutor& sim) {
    Bound1 b(sim);
    TestDrm* drm = b.gpu.drm();
    Ref<DrmFile> f;
    ASSERT_EQ(DrmFile::open(*drm, &f), 0);
    ASSERT_EQ(b.w.bus().unbind("gpu0"), 0);
    EXPECT_EQ(TestDrm::live, 1);
    EXPECT_EQ(drm->refcount(), 1u);
    // After unplug: every call is -ENODEV; opening again is -ENODEV.
    EXPECT_TRUE(drm->is_unplugged());
    EXPECT_EQ(f->call([](DrmDevice&) { return 0; }), -ENODEV);
    Ref<DrmFile> again;
    EXPECT_EQ(DrmFile::open(*drm, &again), -ENODEV);
    EXPECT_EQ(again, nullptr);
    EXPECT_EQ(TestDrm::live, 1);
    std::size_t m = b.log.mark();
    EXPECT_EQ(f->close(), 0);  // close after unplug works and is the final put
    EXPECT_EQ(b.log.since(m), Strings{"container freed"});
    EXPECT_EQ(TestDrm::live, 0);
    EXPECT_EQ(f->close(), -EBADF);
  });
}

TEST(DrmFile, OpenOfUnregisteredDeviceIsEnodev) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    Ref<DrmFile> f;
    EXPECT_EQ(DrmFile::open(*drm, &f), -ENODEV);
    ASSERT_EQ(drm->register_device(), 0);
    EXPECT_EQ(DrmFile::open(*drm, &f), 0);
    drm->unregister_device();
    Ref<DrmFile> g;
    EXPECT_EQ(DrmFile::open(*drm, &g), -ENODEV);
    // Unregister (not unplug) leaves open files working (the documented hazard).
    EXPECT_EQ(f->call([](DrmDevice&) { return 1; }), 1);
    EXPECT_EQ(f->close(), 0);
    drm_dev_put(drm);
    EXPECT_EQ(TestDrm::live, 0);
  });
}

// Userspace closing an fd while another thread is inside an ioctl on it: close() returns at once,
// but the release (here the final put: the driver only unregistered, it never unplugged) waits
// for the call in flight, as the VFS's last fput does. A call after close is -EBADF.
TEST(DrmFile, CloseDuringCallDefersReleaseUntilTheCallReturns) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    ASSERT_EQ(drm->register_device(), 0);
    Ref<DrmFile> f;
    ASSERT_EQ(DrmFile::open(*drm, &f), 0);
    Completion in("in"), done("done");
    int result = 0;
    sim.post(
        [&] {
          result = f->call([&](DrmDevice& d) {
            in.complete();
            sleep_for(5ms);
            log(std::string("call returns, device ") + (d.is_registered() ? "registered" : "unregistered"));
            return 42;
          });
          done.complete();
        },
        "ioctl");
    in.wait();
    drm->unregister_device();  // unregister only: the section is not waited for
    drm_dev_put(drm);          // the binding's reference
    EXPECT_EQ(f->close(), 0);  // the file's reference: still in use by the call
    log("close returned");
    EXPECT_FALSE(f->is_open());
    EXPECT_EQ(f->device(), nullptr);
    EXPECT_EQ(f->call([](DrmDevice&) { return 0; }), -EBADF);
    EXPECT_EQ(f->close(), -EBADF);
    EXPECT_EQ(TestDrm::live, 1);
    done.wait();
    EXPECT_EQ(result, 42);
    EXPECT_EQ(log.ev, (Strings{"close returned", "call returns, device unregistered", "container freed"}))
        << dump(log.ev);
    EXPECT_EQ(TestDrm::live, 0);
  });
}

// ---- DrmDevice register / unplug / dev_enter --------------------------------------------------------

TEST(DrmDevice, RegisterTwiceWarnsAndIsEinval) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    ASSERT_EQ(drm->register_device(), 0);
    {
      udrm::testing::ExpectWarn warn(1, "twice");
      EXPECT_EQ(drm->register_device(), -EINVAL);
    }
    EXPECT_TRUE(drm->is_registered());
    drm->unplug();
    EXPECT_FALSE(drm->is_registered());
    EXPECT_LT(drm->register_device(), 0) << "unplug is terminal";
    drm_dev_put(drm);
  });
}

TEST(DrmDevice, DevEnterFailsAfterUnplug) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    ASSERT_EQ(drm->register_device(), 0);
    {
      auto g = drm->dev_enter();
      EXPECT_TRUE(static_cast<bool>(g));
      auto nested = drm->dev_enter();
      EXPECT_TRUE(static_cast<bool>(nested));
    }
    EXPECT_FALSE(drm->is_unplugged());
    drm->unplug();
    EXPECT_TRUE(drm->is_unplugged());
    {
      auto g = drm->dev_enter();
      EXPECT_FALSE(static_cast<bool>(g));
    }
    drm->unplug();  // idempotent
    EXPECT_TRUE(drm->is_unplugged());
    drm_dev_put(drm);
  });
}

TEST(DrmDevice, UnplugWaitsForOpenDevEnterSection) {
  run_sim([](SimExecutor& sim) {
    World w(sim);
    Log log;
    DrmDriver drv = make_driver();
    Ref<Device> parent = Device::create(w, "parent");
    TestDrm* drm = bare_drm(*parent, drv, &log);
    ASSERT_EQ(drm->register_device(), 0);
    Completion entered("entered");
    Completion reader_done("reader_done");
    sim.post(
        [&] {
          {
            auto g = drm->dev_enter();
            EXPECT_TRUE(static_cast<bool>(g));
            log("reader in");
            entered.complete();
            {
              auto nested = drm->dev_enter();  // nested sections: unplug waits for the outermost
              EXPECT_TRUE(static_cast<bool>(nested));
              sleep_for(3ms);
              log("reader nested exit");
            }
            sleep_for(2ms);
            log("reader exit");
          }
          reader_done.complete();
        },
        "reader");
    entered.wait();
    TimePoint t0 = now();
    log("unplug start");
    drm->unplug();
    log("unplug returned");
    EXPECT_GE(now() - t0, Duration(5ms));
    EXPECT_EQ(log.ev, (Strings{"reader in", "unplug start", "reader nested exit", "reader exit", "unplug returned"}))
        << dump(log.ev);
    EXPECT_FALSE(static_cast<bool>(drm->dev_enter()));
    reader_done.wait();
    drm_dev_put(drm);
  });
}

}  // namespace
}  // namespace udrm
