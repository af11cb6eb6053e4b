// The component framework (kernel-semantics.md §4, rules 1-14, scenarios C1-C9), modelled like
// a real SoC display: a master device whose driver builds a match list in probe and registers
// the aggregate, member devices whose drivers call component_add/component_del from
// probe/remove, and a master bind that allocates a DRM device (devm_drm_dev_alloc), binds the
// members and registers it; the master unbind unplugs and unbinds the members (rule 13).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/component.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/managed.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using Strings = std::vector<std::string>;

// ---- event log ---------------------------------------------------------------------------------

struct Log {
  Strings ev;
  void operator()(std::string s) { ev.push_back(std::move(s)); }
  std::size_t mark() const { return ev.size(); }
  /// Events since `from`.
  Strings since(std::size_t from) const { return Strings(ev.begin() + static_cast<long>(from), ev.end()); }
  /// Events (since `from`) that start with `prefix`.
  Strings filter(const std::string& prefix, std::size_t from = 0) const {
    Strings out;
    for (std::size_t i = from; i < ev.size(); ++i)
      if (ev[i].rfind(prefix, 0) == 0) out.push_back(ev[i]);
    return out;
  }
  int count(const std::string& s, std::size_t from = 0) const {
    return static_cast<int>(std::count(ev.begin() + static_cast<long>(from), ev.end(), s));
  }
  /// Index of the first `s` at or after `from`, or -1.
  long pos(const std::string& s, std::size_t from = 0) const {
    for (std::size_t i = from; i < ev.size(); ++i)
      if (ev[i] == s) return static_cast<long>(i);
    return -1;
  }
};

std::string dump(const Strings& v) {
  std::string s;
  for (auto& e : v) s += "  " + e + "\n";
  return s;
}

struct Rig;
Rig* g_rig = nullptr;  // for the match release hook (a plain function pointer)

// ---- the DRM container -------------------------------------------------------------------------

struct DisplayDrm : DrmDevice {
  DisplayDrm(Rig* r, int s);
  ~DisplayDrm() override;
  Rig* rig;
  int serial;
};

// ---- the rig: one World with a display master driver and member drivers ---------------------

struct Rig;

class DisplayDriver final : public Driver, public ComponentMasterOps {
 public:
  explicit DisplayDriver(Rig& r) : Driver("display"), rig_(r) {}
  int probe(Device& dev, const Bound&) override;
  void remove(Device& dev, const Bound&) override;
  int bind(Device& master) override;
  void unbind(Device& master) override;

 private:
  Rig& rig_;
};

class MemberDriver final : public Driver, public ComponentOps {
 public:
  explicit MemberDriver(Rig& r) : Driver("member"), rig_(r) {}
  int probe(Device& dev, const Bound&) override;
  void remove(Device& dev, const Bound&) override;
  int bind(Device& comp, Device& master, void* data) override;
  void unbind(Device& comp, Device& master, void* data) override;

 private:
  Rig& rig_;
};

// A driver that has nothing to do with the display: binding it triggers deferred probe.
class PlainDriver final : public Driver {
 public:
  PlainDriver() : Driver("plain") {}
  int probe(Device&, const Bound&) override { return 0; }
};

struct Rig {
  Log log;
  // Configuration.
  std::map<std::string, Strings> match;            // master name -> component names (match order)
  std::map<std::string, int> comp_bind_err;        // component name -> bind error
  int master_defer = 0;                            // master bind: -EPROBE_DEFER this many times
  int master_err = 0;                              // master bind: fail with this (after bind_all)
  bool forget_master_del = false;                  // buggy master driver
  bool use_release_hooks = true;
  std::function<void(Device&, ComponentMatch**)> build_match;  // overrides `match` if set
  // State.
  Strings probing;                                 // probe stack (device names)
  int drm_serial = 0;
  int drm_live = 0;
  std::map<std::string, int> last_add_ret;         // device -> component(_master)_add result
  std::map<std::string, Strings> master_devres_after_add;  // master -> its devres right after add
  DrmDevice* building = nullptr;                   // the drm device of the master bind in progress
  DrmDriver drm_driver;
  DisplayDriver display{*this};
  MemberDriver member{*this};
  PlainDriver plain;
  World world;
  Bus& bus;
  std::vector<Ref<Device>> devs;

  explicit Rig(Executor& ex) : world(ex), bus(world.bus()) {
    g_rig = this;
    drm_driver.name = "soc-display";
    EXPECT_EQ(bus.register_driver(display), 0);
    EXPECT_EQ(bus.register_driver(member), 0);
    EXPECT_EQ(bus.register_driver(plain), 0);
  }
  ~Rig() { g_rig = nullptr; }

  Device& add(const std::string& name, const std::string& compat) {
    Ref<Device> d = Device::create(world, name, nullptr, compat);
    devs.push_back(d);
    EXPECT_EQ(bus.add_device(*d), 0);
    return *d;
  }
  Device& master(const std::string& name, Strings comps) {
    match[name] = std::move(comps);
    return add(name, "display");
  }
  Device& comp(const std::string& name) { return add(name, "member"); }
  Device& dev(const std::string& name) {
    for (auto& d : devs)
      if (d->name() == name) return *d;
    ADD_FAILURE() << "no device " << name;
    return *devs.front();
  }
  DisplayDrm* drm_of(const std::string& master_name) { return dev(master_name).drvdata<DisplayDrm>(); }
  bool bound(const std::string& master_name) { return world.components().aggregate_bound(dev(master_name)); }
  // Bind an unrelated device: a successful bind retries every deferred device.
  void kick_deferred(const std::string& name) {
    add(name, "plain");
    bus.wait_for_probe();
  }
};

DisplayDrm::DisplayDrm(Rig* r, int s) : rig(r), serial(s) { ++rig->drm_live; }
DisplayDrm::~DisplayDrm() {
  --rig->drm_live;
  rig->log("drm" + std::to_string(serial) + " freed");
}

std::string probing_of(Rig& rig) { return rig.probing.empty() ? std::string("<none>") : rig.probing.back(); }

void match_release_hook(Device& master, void* data) {
  if (g_rig) g_rig->log("match release " + master.name() + ":" + static_cast<const char*>(data));
}

void drmm_fini(DrmDevice& d, Rig* rig) {
  rig->log("drmm fini drm" + std::to_string(static_cast<DisplayDrm&>(d).serial));
}

int DisplayDriver::probe(Device& dev, const Bound&) {
  rig_.probing.push_back(dev.name());
  rig_.log("probe " + dev.name());
  ComponentMatch* match = nullptr;
  if (rig_.build_match) rig_.build_match(dev, &match);
  for (const std::string& name : rig_.match[dev.name()]) {
    auto* data = const_cast<char*>(name.c_str());
    if (rig_.use_release_hooks)
      component_match_add_release(dev, &match, &match_release_hook, &component_compare_dev_name, data);
    else
      component_match_add(dev, &match, &component_compare_dev_name, data);
  }
  int ret = component_master_add_with_match(dev, *this, match);
  rig_.last_add_ret[dev.name()] = ret;
  rig_.master_devres_after_add[dev.name()] = dev.devres().names();
  rig_.log("probe " + dev.name() + " = " + std::to_string(ret));
  rig_.probing.pop_back();
  return ret;
}

void DisplayDriver::remove(Device& dev, const Bound&) {
  rig_.log("remove " + dev.name());
  if (!rig_.forget_master_del) component_master_del(dev, *this);
}

int DisplayDriver::bind(Device& master) {
  rig_.log("master bind " + master.name() + " in probe of " + probing_of(rig_));
  int err = 0;
  auto* drm = devm_drm_dev_alloc<DisplayDrm>(master, rig_.drm_driver, &err, &rig_, ++rig_.drm_serial);
  if (!drm) return err;
  if (int ret = drmm_add_action(*drm, &drmm_fini, &rig_, "drmm_fini")) return ret;
  if (rig_.master_defer > 0) {
    --rig_.master_defer;
    rig_.log("master bind " + master.name() + " defers");
    return -EPROBE_DEFER;
  }
  rig_.building = drm;
  int ret = component_bind_all(master, drm);
  if (ret) {
    rig_.building = nullptr;
    rig_.log("master bind " + master.name() + " bind_all = " + std::to_string(ret));
    return ret;
  }
  ret = rig_.master_err ? rig_.master_err : drm->register_device();
  if (ret) {
    component_unbind_all(master, drm);
    rig_.building = nullptr;
    rig_.log("master bind " + master.name() + " fails = " + std::to_string(ret));
    return ret;
  }
  rig_.building = nullptr;
  master.set_drvdata(drm);
  rig_.log("master bound " + master.name() + " drm" + std::to_string(drm->serial));
  return 0;
}

void DisplayDriver::unbind(Device& master) {
  auto* drm = master.drvdata<DisplayDrm>();
  rig_.log("master unbind " + master.name() + " drm" + std::to_string(drm ? drm->serial : -1));
  if (drm) {
    drm->unplug();
    component_unbind_all(master, drm);
  }
  master.set_drvdata(nullptr);
  rig_.log("master unbind " + master.name() + " return");
}

int MemberDriver::probe(Device& dev, const Bound&) {
  rig_.probing.push_back(dev.name());
  rig_.log("probe " + dev.name());
  void* priv = devm_kzalloc(dev, 64, "member-priv");
  int ret = priv ? component_add(dev, *this) : -ENOMEM;
  rig_.last_add_ret[dev.name()] = ret;
  rig_.log("probe " + dev.name() + " = " + std::to_string(ret));
  rig_.probing.pop_back();
  return ret;
}

void MemberDriver::remove(Device& dev, const Bound&) {
  rig_.log("remove " + dev.name());
  component_del(dev, *this);
  rig_.log("remove " + dev.name() + " return");
}

int MemberDriver::bind(Device& comp, Device& master, void* data) {
  rig_.log("bind " + comp.name() + " -> " + master.name());
  EXPECT_EQ(data, static_cast<void*>(rig_.building)) << "component bind must get the drm device as data";
  Log* log = &rig_.log;
  std::string cn = comp.name();
  EXPECT_EQ(devm_add_action(comp, [log, cn] { (*log)("comp-res " + cn + " released"); }, "comp-res"), 0);
  EXPECT_EQ(devm_add_action(master, [log, cn] { (*log)("parent-res " + cn + " released"); }, "parent-res"), 0);
  auto it = rig_.comp_bind_err.find(cn);
  if (it != rig_.comp_bind_err.end()) {
    rig_.log("bind " + cn + " fails");
    return it->second;
  }
  return 0;
}

void MemberDriver::unbind(Device& comp, Device& master, void* data) {
  rig_.log("unbind " + comp.name() + " -> " + master.name());
  // During a bind_all rollback the drm device is still being built; afterwards it is drvdata.
  void* expect = rig_.building ? static_cast<void*>(rig_.building) : static_cast<void*>(master.drvdata<DisplayDrm>());
  EXPECT_EQ(data, expect);
}

// Run body(rig) inside a simulated machine.
void with_rig(const std::function<void(Rig&)>& body) {
  SimExecutor sim;
  auto r = sim.run([&] {
    Rig rig(sim);
    body(rig);
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- C1 ------------------------------------------------------------------------------------------

TEST(Component, C1_MasterWaitsAndBindsInProbeOfLastComponent) {
  with_rig([](Rig& rig) {
    rig.master("display", {"crtc", "hdmi", "panel"});
    EXPECT_EQ(rig.last_add_ret["display"], 0) << "missing members are not an error";
    EXPECT_TRUE(rig.dev("display").is_bound());
    EXPECT_FALSE(rig.bound("display"));
    rig.comp("crtc");
    rig.comp("hdmi");
    EXPECT_FALSE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("master bind").size(), 0u) << dump(rig.log.ev);
    rig.comp("panel");
    EXPECT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("master bind"), Strings{"master bind display in probe of panel"}) << dump(rig.log.ev);
    // The bring-up ran inside panel's probe: bound before its probe returned.
    EXPECT_LT(rig.log.pos("master bound display drm1"), rig.log.pos("probe panel = 0"));
    ASSERT_NE(rig.drm_of("display"), nullptr);
    EXPECT_TRUE(rig.drm_of("display")->is_registered());
  });
}

TEST(Component, C1_MasterLastBindsInMasterProbe) {
  with_rig([](Rig& rig) {
    rig.comp("panel");
    rig.comp("crtc");
    rig.comp("hdmi");
    EXPECT_EQ(rig.log.filter("master bind").size(), 0u);
    rig.master("display", {"crtc", "hdmi", "panel"});
    EXPECT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("master bind"), Strings{"master bind display in probe of display"}) << dump(rig.log.ev);
    EXPECT_LT(rig.log.pos("master bound display drm1"), rig.log.pos("probe display = 0"));
    EXPECT_EQ(rig.last_add_ret["display"], 0);
  });
}

// ---- C2 ------------------------------------------------------------------------------------------

TEST(Component, C2_BindInMatchOrderUnbindReverse) {
  with_rig([](Rig& rig) {
    // Registration order differs from match order on purpose.
    rig.comp("panel");
    rig.comp("crtc");
    rig.master("display", {"crtc", "hdmi", "panel"});
    rig.comp("hdmi");
    ASSERT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("bind "),
              (Strings{"bind crtc -> display", "bind hdmi -> display", "bind panel -> display"}));
    std::size_t m = rig.log.mark();
    EXPECT_EQ(rig.bus.unbind("display"), 0);
    EXPECT_EQ(rig.log.filter("unbind ", m),
              (Strings{"unbind panel -> display", "unbind hdmi -> display", "unbind crtc -> display"}));
    EXPECT_FALSE(rig.world.components().aggregate_bound(rig.dev("display")));
  });
}

// ---- C3 ------------------------------------------------------------------------------------------

TEST(Component, C3_ThirdBindFailsRollsBackInReverseAndMasterSeesError) {
  with_rig([](Rig& rig) {
    rig.comp_bind_err["panel"] = -EIO;
    rig.comp("crtc");
    rig.comp("hdmi");
    rig.comp("panel");
    rig.master("display", {"crtc", "hdmi", "panel"});
    // The master's probe triggered the bring-up, so it gets the error.
    EXPECT_EQ(rig.last_add_ret["display"], -EIO);
    EXPECT_FALSE(rig.dev("display").is_bound());
    const Strings expect{
        "bind crtc -> display",
        "bind hdmi -> display",
        "bind panel -> display",
        "bind panel fails",
        // only the failed component's groups are rolled back: its device group, then the
        // parent-side group
        "comp-res panel released",
        "parent-res panel released",
        // then the bound ones, in reverse, each releasing its component-device group
        "unbind hdmi -> display",
        "comp-res hdmi released",
        "unbind crtc -> display",
        "comp-res crtc released",
        "master bind display bind_all = -5",
        // the aggregate group: parent resources merged from the components, then the drm put
        "parent-res hdmi released",
        "parent-res crtc released",
        "drmm fini drm1",
        "drm1 freed",
        "probe display = -5",
        // the probe failure releases the master's devres: the match list
        "match release display:crtc",
        "match release display:hdmi",
        "match release display:panel",
    };
    long first = rig.log.pos("bind crtc -> display");
    ASSERT_GE(first, 0);
    Strings got = rig.log.since(static_cast<std::size_t>(first));
    EXPECT_EQ(got, expect) << dump(got);
    // Nothing of the bring-up was left on the parent when the add returned: only the match list.
    EXPECT_EQ(rig.master_devres_after_add["display"], Strings{"component_match"});
    EXPECT_TRUE(rig.dev("display").devres().empty());
    // Members keep only what their own probe took (their component groups are gone).
    for (const char* n : {"crtc", "hdmi", "panel"})
      EXPECT_EQ(rig.dev(n).devres().names(), Strings{"member-priv"}) << n;
    EXPECT_EQ(rig.drm_live, 0);
  });
}

// Same failure, but the bring-up is triggered by the last member's probe: that probe gets the
// error, the member is unregistered again, and the aggregate stays registered for a retry.
TEST(Component, C3_BindErrorReachesTheComponentProbeThatTriggeredBringUp) {
  with_rig([](Rig& rig) {
    rig.comp_bind_err["hdmi"] = -EIO;
    rig.master("display", {"crtc", "hdmi"});
    rig.comp("crtc");
    rig.comp("hdmi");
    EXPECT_EQ(rig.last_add_ret["display"], 0);
    EXPECT_EQ(rig.last_add_ret["hdmi"], -EIO);
    EXPECT_FALSE(rig.dev("hdmi").is_bound());
    EXPECT_TRUE(rig.dev("hdmi").devres().empty());
    EXPECT_TRUE(rig.dev("display").is_bound());
    EXPECT_FALSE(rig.bound("display"));
    EXPECT_EQ(rig.dev("display").devres().names(), Strings{"component_match"});
    EXPECT_EQ(rig.world.components().component_count(), 1u);
    EXPECT_EQ(rig.drm_live, 0);
    // The aggregate is still registered: a fixed member binds it.
    rig.comp_bind_err.clear();
    EXPECT_EQ(rig.bus.bind("hdmi", "member"), 0);
    EXPECT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("master bind display in probe of").back(), "master bind display in probe of hdmi");
  });
}

// ---- C4 ------------------------------------------------------------------------------------------

TEST(Component, C4_UnbindAnyMemberTearsDownWholeAggregateOnceAndRebindMakesNewDrmDevice) {
  with_rig([](Rig& rig) {
    rig.master("display", {"crtc", "hdmi", "panel"});
    rig.comp("crtc");
    rig.comp("hdmi");
    rig.comp("panel");
    ASSERT_TRUE(rig.bound("display"));
    int serial = 1;
    for (const char* victim : {"crtc", "hdmi", "panel"}) {
      SCOPED_TRACE(victim);
      DisplayDrm* old = rig.drm_of("display");
      ASSERT_NE(old, nullptr);
      EXPECT_EQ(old->serial, serial);
      std::size_t m = rig.log.mark();
      EXPECT_EQ(rig.bus.unbind(victim), 0);
      EXPECT_FALSE(rig.bound("display"));
      EXPECT_EQ(rig.log.count("master unbind display drm" + std::to_string(serial), m), 1) << dump(rig.log.since(m));
      EXPECT_EQ(rig.log.filter("unbind ", m),
                (Strings{"unbind panel -> display", "unbind hdmi -> display", "unbind crtc -> display"}));
      // No file open: the drm device is released during the unbind.
      std::string freed = "drm" + std::to_string(serial) + " freed";
      EXPECT_EQ(rig.log.count(freed, m), 1);
      EXPECT_LT(rig.log.pos(freed, m), rig.log.pos(std::string("remove ") + victim + " return", m));
      EXPECT_EQ(rig.drm_live, 0);
      EXPECT_EQ(rig.dev("display").devres().names(), Strings{"component_match"});
      // Re-binding the member re-binds everything with a new DrmDevice instance.
      m = rig.log.mark();
      EXPECT_EQ(rig.bus.bind(victim, "member"), 0);
      ++serial;
      EXPECT_TRUE(rig.bound("display"));
      EXPECT_EQ(rig.log.filter("bind ", m),
                (Strings{"bind crtc -> display", "bind hdmi -> display", "bind panel -> display"}));
      DisplayDrm* fresh = rig.drm_of("display");
      ASSERT_NE(fresh, nullptr);
      EXPECT_EQ(fresh->serial, serial);
      EXPECT_TRUE(fresh->is_registered());
      EXPECT_FALSE(fresh->is_unplugged());
      EXPECT_EQ(rig.drm_live, 1);
    }
  });
}

TEST(Component, C4_OpenFileKeepsOldDrmDeviceAliveAcrossTeardownUntilClose) {
  with_rig([](Rig& rig) {
    rig.master("display", {"crtc", "panel"});
    rig.comp("crtc");
    rig.comp("panel");
    DisplayDrm* old = rig.drm_of("display");
    ASSERT_NE(old, nullptr);
    Ref<DrmFile> file;
    ASSERT_EQ(DrmFile::open(*old, &file), 0);
    EXPECT_EQ(file->call([](DrmDevice&) { return 7; }), 7);

    EXPECT_EQ(rig.bus.unbind("panel"), 0);
    EXPECT_FALSE(rig.bound("display"));
    // Torn down, but the file's reference keeps the object and its drmm state.
    EXPECT_EQ(rig.drm_live, 1);
    EXPECT_EQ(rig.log.count("drm1 freed"), 0);
    EXPECT_EQ(rig.log.count("drmm fini drm1"), 0);
    EXPECT_TRUE(old->is_unplugged());
    EXPECT_FALSE(old->is_registered());
    EXPECT_EQ(file->call([](DrmDevice&) { return 7; }), -ENODEV);
    Ref<DrmFile> late;
    EXPECT_EQ(DrmFile::open(*old, &late), -ENODEV);
    // The parent device object is still referenced by the old instance.
    EXPECT_EQ(old->dev(), &rig.dev("display"));

    // Rebind: a new instance next to the old one.
    EXPECT_EQ(rig.bus.bind("panel", "member"), 0);
    DisplayDrm* fresh = rig.drm_of("display");
    ASSERT_NE(fresh, nullptr);
    EXPECT_EQ(fresh->serial, 2);
    EXPECT_EQ(rig.drm_live, 2);
    Ref<DrmFile> file2;
    ASSERT_EQ(DrmFile::open(*fresh, &file2), 0);

    // The last close of the old file performs the final release of the old instance only.
    std::size_t m = rig.log.mark();
    EXPECT_EQ(file->close(), 0);
    EXPECT_EQ(rig.log.since(m), (Strings{"drmm fini drm1", "drm1 freed"}));
    EXPECT_EQ(rig.drm_live, 1);
    EXPECT_EQ(file2->call([](DrmDevice& d) { return static_cast<DisplayDrm&>(d).serial; }), 2);
    EXPECT_EQ(file2->close(), 0);
    EXPECT_EQ(rig.drm_live, 1);  // still held by the binding
  });
}

// ---- C5 ------------------------------------------------------------------------------------------

TEST(Component, C5_DuplicateMatchEntriesBindOnce) {
  with_rig([](Rig& rig) {
    rig.comp("crtc");
    rig.comp("panel");
    rig.master("display", {"crtc", "panel", "crtc", "panel", "crtc"});
    ASSERT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("bind "), (Strings{"bind crtc -> display", "bind panel -> display"}));
    std::size_t m = rig.log.mark();
    EXPECT_EQ(rig.bus.unbind("crtc"), 0);
    EXPECT_EQ(rig.log.filter("unbind ", m), (Strings{"unbind panel -> display", "unbind crtc -> display"}));
    EXPECT_EQ(rig.log.count("comp-res crtc released", m), 1);
    // Re-adding binds it once again.
    m = rig.log.mark();
    EXPECT_EQ(rig.bus.bind("crtc", "member"), 0);
    EXPECT_EQ(rig.log.filter("bind ", m), (Strings{"bind crtc -> display", "bind panel -> display"}));
  });
}

// ---- C6 ------------------------------------------------------------------------------------------

TEST(Component, C6_ComponentOwnedByOneAggregateIsNeverMatchedByAnother) {
  with_rig([](Rig& rig) {
    // panel is wanted by both displays. display0 registers first and claims it (even while
    // display0 is still incomplete: find_components attaches the entries it can resolve up to
    // the first missing one); display1 is otherwise complete but must not take it.
    rig.comp("panel");
    rig.master("display0", {"panel", "crtc0"});
    rig.comp("crtc1");
    rig.master("display1", {"crtc1", "panel"});
    EXPECT_FALSE(rig.bound("display0"));
    EXPECT_FALSE(rig.bound("display1"));
    rig.comp("crtc0");
    EXPECT_TRUE(rig.bound("display0"));
    EXPECT_FALSE(rig.bound("display1"));
    EXPECT_EQ(rig.log.count("bind panel -> display0"), 1);
    EXPECT_EQ(rig.log.count("bind panel -> display1"), 0);
    EXPECT_EQ(rig.log.filter("master bind display1").size(), 0u);

    // display0 taken down through another member: panel stays display0's.
    EXPECT_EQ(rig.bus.unbind("crtc0"), 0);
    EXPECT_FALSE(rig.bound("display0"));
    EXPECT_FALSE(rig.bound("display1"));
    EXPECT_EQ(rig.bus.bind("crtc0", "member"), 0);  // any add retries the waiting aggregates
    EXPECT_TRUE(rig.bound("display0"));
    EXPECT_FALSE(rig.bound("display1"));
    EXPECT_EQ(rig.log.count("bind panel -> display1"), 0);

    // Only when display0 goes away may display1 have it (on the panel's next add).
    EXPECT_EQ(rig.bus.unbind("display0"), 0);
    EXPECT_FALSE(rig.bound("display1"));
    EXPECT_EQ(rig.bus.unbind("panel"), 0);
    EXPECT_EQ(rig.bus.bind("panel", "member"), 0);
    EXPECT_TRUE(rig.bound("display1"));
    EXPECT_EQ(rig.log.count("bind panel -> display1"), 1);
    EXPECT_EQ(rig.log.filter("master bind display1"), Strings{"master bind display1 in probe of panel"});
  });
}

// Aggregates are tried newest first (the list is head-inserted): a component both want, arriving
// when both wait for nothing else, completes the most recently registered one.
TEST(Component, C6_ContestedComponentCompletesNewestWaitingAggregateOnly) {
  with_rig([](Rig& rig) {
    rig.comp("crtc0");
    rig.comp("crtc1");
    // panel first in both lists: while it is missing neither claims anything.
    rig.master("display0", {"panel", "crtc0"});
    rig.master("display1", {"panel", "crtc1"});
    rig.comp("panel");
    EXPECT_TRUE(rig.bound("display1"));
    EXPECT_FALSE(rig.bound("display0"));
    EXPECT_EQ(rig.log.filter("master bind"), Strings{"master bind display1 in probe of panel"});
    EXPECT_EQ(rig.log.count("bind panel -> display0"), 0);
  });
}

// ---- list order and typed components --------------------------------------------------------------

bool compare_name_prefix(Device& comp, void* prefix) {
  return comp.name().rfind(static_cast<const char*>(prefix), 0) == 0;
}

// A match entry is satisfied by the first registered component (registration order) it accepts.
TEST(Component, C2_EntryTakesFirstRegisteredMatchingComponent) {
  with_rig([](Rig& rig) {
    static char crtc[] = "crtc";
    rig.build_match = [](Device& master, ComponentMatch** m) {
      component_match_add(master, m, &compare_name_prefix, crtc);
    };
    rig.comp("crtc-b");
    rig.comp("crtc-a");
    rig.master("display", {});
    ASSERT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("bind "), Strings{"bind crtc-b -> display"});
  });
}

// One device providing two typed components (e.g. an HDMI block with video and audio parts):
// typed entries match on the subcomponent id and bind in match order.
struct TypedKey {
  const char* dev;
  int sub;
};
bool compare_typed(Device& comp, int sub, void* data) {
  auto* k = static_cast<TypedKey*>(data);
  return comp.name() == k->dev && sub == k->sub;
}

class TypedPartOps final : public ComponentOps {
 public:
  TypedPartOps(Log& log, std::string part) : log_(log), part_(std::move(part)) {}
  int bind(Device& comp, Device& master, void*) override {
    log_("bind " + comp.name() + "/" + part_ + " -> " + master.name());
    return 0;
  }
  void unbind(Device& comp, Device& master, void*) override {
    log_("unbind " + comp.name() + "/" + part_ + " -> " + master.name());
  }

 private:
  Log& log_;
  std::string part_;
};

TEST(Component, Typed_SubcomponentsMatchByIdInMatchOrder) {
  with_rig([](Rig& rig) {
    static TypedKey audio{"hdmi", 2}, video{"hdmi", 1};
    rig.build_match = [](Device& master, ComponentMatch** m) {
      component_match_add_typed(master, m, &compare_typed, &audio);
      component_match_add_typed(master, m, &compare_typed, &video);
    };
    TypedPartOps video_ops(rig.log, "video"), audio_ops(rig.log, "audio");
    Ref<Device> hdmi = Device::create(rig.world, "hdmi");
    rig.master("display", {});
    EXPECT_EQ(component_add_typed(*hdmi, video_ops, 1), 0);
    EXPECT_FALSE(rig.bound("display"));
    EXPECT_EQ(component_add_typed(*hdmi, audio_ops, 2), 0);
    ASSERT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("bind "), (Strings{"bind hdmi/audio -> display", "bind hdmi/video -> display"}));
    std::size_t m = rig.log.mark();
    component_del(*hdmi, video_ops);
    EXPECT_FALSE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("unbind ", m), (Strings{"unbind hdmi/video -> display", "unbind hdmi/audio -> display"}));
    component_del(*hdmi, audio_ops);
    EXPECT_EQ(rig.world.components().component_count(), 0u);
  });
}

// ---- C7 ------------------------------------------------------------------------------------------

TEST(Component, C7_MasterAddWithMissingComponentsReturnsZeroAndStaysUnbound) {
  with_rig([](Rig& rig) {
    rig.comp("crtc");
    rig.master("display", {"crtc", "panel"});
    EXPECT_EQ(rig.last_add_ret["display"], 0);
    EXPECT_TRUE(rig.dev("display").is_bound());
    EXPECT_FALSE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("master bind").size(), 0u);
    EXPECT_EQ(rig.log.filter("bind ").size(), 0u);
    EXPECT_EQ(rig.dev("display").devres().names(), Strings{"component_match"});
  });
}

TEST(Component, C7_MasterBindDeferInMasterProbeFreesAggregateAndRetries) {
  with_rig([](Rig& rig) {
    rig.comp("crtc");
    rig.comp("panel");
    rig.master_defer = 1;
    rig.master("display", {"crtc", "panel"});
    // The master's probe got -EPROBE_DEFER; the bind's devres (the drm device) was rolled back
    // before component_master_add_with_match returned.
    EXPECT_EQ(rig.last_add_ret["display"], -EPROBE_DEFER);
    EXPECT_EQ(rig.master_devres_after_add["display"], Strings{"component_match"});
    EXPECT_LT(rig.log.pos("drm1 freed"), rig.log.pos("probe display = -517"));
    EXPECT_FALSE(rig.dev("display").is_bound());
    EXPECT_TRUE(rig.dev("display").devres().empty());
    EXPECT_EQ(rig.drm_live, 0);
    auto deferred = rig.bus.deferred_devices();
    ASSERT_EQ(deferred.size(), 1u);
    EXPECT_EQ(deferred[0]->name(), "display");
    // The aggregate was freed: a member leaving and coming back must not bring anything up.
    std::size_t m = rig.log.mark();
    EXPECT_EQ(rig.bus.unbind("panel"), 0);
    EXPECT_EQ(rig.bus.bind("panel", "member"), 0);
    EXPECT_EQ(rig.log.filter("master ", m).size(), 0u) << dump(rig.log.since(m));
    // Any other successful bind retries the master.
    rig.kick_deferred("gpio0");
    EXPECT_TRUE(rig.dev("display").is_bound());
    EXPECT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("master bind display in probe of").back(), "master bind display in probe of display");
    EXPECT_EQ(rig.drm_of("display")->serial, 2);
    EXPECT_TRUE(rig.bus.deferred_devices().empty());
  });
}

TEST(Component, C7_MasterBindDeferInComponentProbeDefersThatComponent) {
  with_rig([](Rig& rig) {
    rig.master("display", {"crtc", "panel"});
    rig.comp("crtc");
    rig.master_defer = 1;
    rig.comp("panel");
    EXPECT_EQ(rig.last_add_ret["panel"], -EPROBE_DEFER);
    EXPECT_FALSE(rig.dev("panel").is_bound());
    EXPECT_TRUE(rig.dev("panel").devres().empty());
    EXPECT_FALSE(rig.bound("display"));
    EXPECT_EQ(rig.dev("display").devres().names(), Strings{"component_match"});  // group rolled back
    EXPECT_EQ(rig.drm_live, 0);
    EXPECT_EQ(rig.world.components().component_count(), 1u);
    auto deferred = rig.bus.deferred_devices();
    ASSERT_EQ(deferred.size(), 1u);
    EXPECT_EQ(deferred[0]->name(), "panel");
    rig.kick_deferred("gpio0");
    EXPECT_TRUE(rig.dev("panel").is_bound());
    EXPECT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.log.filter("master bind display in probe of").back(), "master bind display in probe of panel");
  });
}

// ---- C8 ------------------------------------------------------------------------------------------

TEST(Component, C8_ResourcePlacementComponentDeviceVersusParent) {
  with_rig([](Rig& rig) {
    rig.master("display", {"crtc", "hdmi", "panel"});
    rig.comp("crtc");
    rig.comp("hdmi");
    rig.comp("panel");
    ASSERT_TRUE(rig.bound("display"));
    // Each member: its probe's allocation plus the resource its bind took against it.
    for (const char* n : {"crtc", "hdmi", "panel"}) EXPECT_EQ(rig.dev(n).devres().count(), 2u) << n;
    // Parent: match list, drm put, and the three parent resources of the component binds.
    Strings pn = rig.dev("display").devres().names();
    EXPECT_EQ(std::count(pn.begin(), pn.end(), "component_match"), 1) << dump(pn);
    EXPECT_EQ(std::count(pn.begin(), pn.end(), "devm_drm_dev_init_release"), 1) << dump(pn);
    EXPECT_EQ(std::count(pn.begin(), pn.end(), "parent-res"), 3) << dump(pn);

    // A component's unbind releases its own device resources right away; the parent resources
    // taken in component binds go with the aggregate group, after the master's unbind returns.
    std::size_t m = rig.log.mark();
    EXPECT_EQ(rig.bus.unbind("display"), 0);
    const Strings expect{
        "remove display",
        "master unbind display drm1",
        "unbind panel -> display",
        "comp-res panel released",
        "unbind hdmi -> display",
        "comp-res hdmi released",
        "unbind crtc -> display",
        "comp-res crtc released",
        "master unbind display return",
        "parent-res panel released",
        "parent-res hdmi released",
        "parent-res crtc released",
        "drmm fini drm1",
        "drm1 freed",
        "match release display:crtc",
        "match release display:hdmi",
        "match release display:panel",
    };
    EXPECT_EQ(rig.log.since(m), expect) << dump(rig.log.since(m));
    for (const char* n : {"crtc", "hdmi", "panel"}) {
      EXPECT_EQ(rig.dev(n).devres().names(), Strings{"member-priv"}) << n;
      EXPECT_TRUE(rig.dev(n).is_bound()) << n;  // members keep their own driver binding
    }
    EXPECT_TRUE(rig.dev("display").devres().empty());
  });
}

// ---- C9 ------------------------------------------------------------------------------------------

TEST(Component, C9_MatchReleaseHooksRunWhenMasterDriverUnbinds) {
  with_rig([](Rig& rig) {
    rig.master("display", {"crtc", "panel"});
    rig.comp("crtc");
    rig.comp("panel");
    ASSERT_TRUE(rig.bound("display"));
    // Taking the aggregate down through a member does not free the match list.
    EXPECT_EQ(rig.bus.unbind("crtc"), 0);
    EXPECT_EQ(rig.log.filter("match release").size(), 0u);
    EXPECT_EQ(rig.bus.bind("crtc", "member"), 0);
    EXPECT_EQ(rig.log.filter("match release").size(), 0u);
    std::size_t m = rig.log.mark();
    EXPECT_EQ(rig.bus.unbind("display"), 0);
    EXPECT_EQ(rig.log.filter("match release", m),
              (Strings{"match release display:crtc", "match release display:panel"}));
    // After the aggregate was taken down (the match list is freed last of the parent's devres).
    EXPECT_LT(rig.log.pos("master unbind display return", m), rig.log.pos("match release display:crtc", m));
    EXPECT_LT(rig.log.pos("drm2 freed", m), rig.log.pos("match release display:crtc", m));
    // The aggregate is gone: members coming and going bring nothing up.
    m = rig.log.mark();
    EXPECT_EQ(rig.bus.unbind("panel"), 0);
    EXPECT_EQ(rig.bus.bind("panel", "member"), 0);
    EXPECT_EQ(rig.log.filter("master ", m).size(), 0u);
    // Probe failure of the master frees the match list too.
    rig.master_defer = 1;
    m = rig.log.mark();
    EXPECT_EQ(rig.bus.bind("display", "display"), -EPROBE_DEFER);
    EXPECT_EQ(rig.log.filter("match release", m).size(), 2u);
  });
}

// ---- bad input -----------------------------------------------------------------------------------

TEST(Component, BadInput_AddTypedWithSubcomponentZeroIsEinvalAndWarns) {
  with_rig([](Rig& rig) {
    Ref<Device> d = Device::create(rig.world, "typed");
    {
      udrm::testing::ExpectWarn w(1, "subcomponent 0");
      EXPECT_EQ(component_add_typed(*d, rig.member, 0), -EINVAL);
    }
    EXPECT_EQ(rig.world.components().component_count(), 0u);
  });
}

TEST(Component, BadInput_DelOfUnknownComponentWarns) {
  with_rig([](Rig& rig) {
    Device& crtc = rig.comp("crtc");
    Ref<Device> stranger = Device::create(rig.world, "stranger");
    {
      udrm::testing::ExpectWarn w(1, "not added");
      component_del(*stranger, rig.member);
    }
    {
      // Registered device, but with other ops.
      struct OtherOps : ComponentOps {
        int bind(Device&, Device&, void*) override { return 0; }
        void unbind(Device&, Device&, void*) override {}
      } other;
      udrm::testing::ExpectWarn w(1, "not added");
      component_del(crtc, other);
    }
    EXPECT_EQ(rig.world.components().component_count(), 1u);
  });
}

TEST(Component, BadInput_PoisonedMatchAllocationIsEnomemWithoutLeaks) {
  with_rig([](Rig& rig) {
    rig.comp("crtc");
    rig.comp("panel");
    {
      FailNth inj(1, "component.match");
      ScopedFaultInjector scope(inj);
      rig.master("display", {"crtc", "panel"});
      EXPECT_TRUE(inj.fired());
    }
    EXPECT_EQ(rig.last_add_ret["display"], -ENOMEM);
    EXPECT_FALSE(rig.dev("display").is_bound());
    EXPECT_TRUE(rig.dev("display").devres().empty());
    EXPECT_EQ(rig.log.filter("master bind").size(), 0u);
    EXPECT_EQ(rig.log.filter("match release").size(), 0u);  // no list was ever allocated
    // Every later match site failing: a partially built list is devres-owned and freed.
    for (uint64_t n = 2; n <= 3; ++n) {
      SCOPED_TRACE(n);
      std::size_t m = rig.log.mark();
      FailNth inj(n, "component.match");
      ScopedFaultInjector scope(inj);
      EXPECT_EQ(rig.bus.bind("display", "display"), -ENOMEM);
      EXPECT_TRUE(inj.fired());
      EXPECT_EQ(rig.log.filter("match release", m).size(), n - 2) << dump(rig.log.since(m));
      EXPECT_TRUE(rig.dev("display").devres().empty());
    }
    // Without injection it binds.
    EXPECT_EQ(rig.bus.bind("display", "display"), 0);
    EXPECT_TRUE(rig.bound("display"));
  });
}

TEST(Component, BadInput_BindAllOutsideMasterBindWarnsAndFails) {
  with_rig([](Rig& rig) {
    rig.master("display", {"crtc"});
    rig.comp("crtc");
    ASSERT_TRUE(rig.bound("display"));
    std::size_t m = rig.log.mark();
    {
      udrm::testing::ExpectWarn w(1, "component_bind_all");
      EXPECT_LT(component_bind_all(rig.dev("display"), nullptr), 0);
    }
    {
      udrm::testing::ExpectWarn w(1, "component_unbind_all");
      component_unbind_all(rig.dev("display"), nullptr);
    }
    EXPECT_EQ(rig.log.since(m), Strings{}) << "no component callback may run";
    EXPECT_TRUE(rig.bound("display"));
  });
}

TEST(Component, BadInput_MasterDriverForgetsMasterDelWarnsAndTearsDownSafely) {
  with_rig([](Rig& rig) {
    rig.forget_master_del = true;
    rig.master("display", {"crtc", "panel"});
    rig.comp("crtc");
    rig.comp("panel");
    ASSERT_TRUE(rig.bound("display"));
    std::size_t m = rig.log.mark();
    {
      udrm::testing::ExpectWarn w(1, "component_master_del");
      EXPECT_EQ(rig.bus.unbind("display"), 0);
    }
    Strings got = rig.log.since(m);
    // Taken down exactly once, and the master's unbind ran while the drm device still lived.
    EXPECT_EQ(rig.log.count("master unbind display drm1", m), 1) << dump(got);
    EXPECT_EQ(rig.log.filter("unbind ", m), (Strings{"unbind panel -> display", "unbind crtc -> display"}));
    long unbind = rig.log.pos("master unbind display drm1", m);
    long freed = rig.log.pos("drm1 freed", m);
    ASSERT_GE(unbind, 0);
    ASSERT_GE(freed, 0);
    EXPECT_LT(unbind, freed) << dump(got);
    EXPECT_LT(rig.log.pos("comp-res crtc released", m), freed);
    EXPECT_EQ(rig.log.filter("match release", m).size(), 2u);
    EXPECT_EQ(rig.drm_live, 0);
    EXPECT_TRUE(rig.dev("display").devres().empty());
    for (const char* n : {"crtc", "panel"}) EXPECT_EQ(rig.dev(n).devres().names(), Strings{"member-priv"}) << n;
    // The stale aggregate is gone: members come and go without touching freed state, and a
    // new master binding works.
    m = rig.log.mark();
    EXPECT_EQ(rig.bus.unbind("panel"), 0);
    EXPECT_EQ(rig.bus.bind("panel", "member"), 0);
    EXPECT_EQ(rig.log.filter("master ", m).size(), 0u);
    rig.forget_master_del = false;
    EXPECT_EQ(rig.bus.bind("display", "display"), 0);
    EXPECT_TRUE(rig.bound("display"));
    EXPECT_EQ(rig.bus.unbind("display"), 0);
  });
}

TEST(Component, BadInput_MasterDriverForgetsMasterDelWhileIncomplete) {
  with_rig([](Rig& rig) {
    rig.forget_master_del = true;
    rig.comp("crtc");
    rig.master("display", {"crtc", "panel"});
    EXPECT_FALSE(rig.bound("display"));
    {
      udrm::testing::ExpectWarn w(1, "component_master_del");
      EXPECT_EQ(rig.bus.unbind("display"), 0);
    }
    // The missing member arriving later must not bring up the stale aggregate.
    std::size_t m = rig.log.mark();
    rig.comp("panel");
    EXPECT_EQ(rig.last_add_ret["panel"], 0);
    EXPECT_EQ(rig.log.filter("master ", m).size(), 0u);
    EXPECT_EQ(rig.world.components().component_count(), 2u);
  });
}

}  // namespace
}  // namespace udrm
