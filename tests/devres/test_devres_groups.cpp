// devres groups: kernel-semantics.md §1.5 (rules 21–27), scenarios D9–D14.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using Log = std::vector<std::string>;

struct Res {
  Log* log;
  std::string name;
};
void rel(Res* r) { r->log->push_back(r->name); }

class DevresGroups : public ::testing::Test {
 protected:
  Log log;  // before the device: released at the fixture's destruction may touch these
  std::vector<std::unique_ptr<Res>> res;
  SimExecutor sim;
  World w{sim};
  Ref<Device> dev = Device::create(w, "grp-dev");

  /// Add a named resource whose release appends its name to `log`.
  void add(const char* name) {
    res.push_back(std::make_unique<Res>(Res{&log, name}));
    ASSERT_EQ(devm_add_action(*dev, &rel, res.back().get(), name), 0);
  }
  std::vector<std::string> names() { return dev->devres().names(); }
  /// Names with group markers abbreviated to "open"/"close".
  std::vector<std::string> shape() {
    std::vector<std::string> out;
    for (auto& n : names()) {
      if (n.rfind("group<open", 0) == 0)
        out.push_back("open");
      else if (n.rfind("group<close", 0) == 0)
        out.push_back("close");
      else
        out.push_back(n);
    }
    return out;
  }
};

TEST_F(DevresGroups, OpenGroupReturnsIdOrOwnAddress) {
  int tag;
  void* g1 = devres_open_group(*dev, &tag);
  EXPECT_EQ(g1, &tag);
  void* g2 = devres_open_group(*dev, nullptr);
  ASSERT_NE(g2, nullptr);
  void* g3 = devres_open_group(*dev);
  ASSERT_NE(g3, nullptr);
  EXPECT_NE(g2, g3) << "anonymous groups get distinct ids";
  EXPECT_EQ(shape(), (Log{"open", "open", "open"}));
  EXPECT_EQ(dev->devres().count(), 0u) << "markers are not resources";
  EXPECT_FALSE(dev->devres().empty()) << "but the list is not empty";
  EXPECT_EQ(dev->devres().release_all(), 0);
  EXPECT_TRUE(dev->devres().empty()) << "release_all frees markers too";
}

TEST_F(DevresGroups, OpenGroupAllocationFailureReturnsNull) {
  FailNth inj(1, "devres.open_group");
  void* g;
  {
    ScopedFaultInjector s(inj);
    g = devres_open_group(*dev, nullptr);
  }
  EXPECT_TRUE(inj.fired());
  EXPECT_EQ(g, nullptr);
  EXPECT_TRUE(dev->devres().empty()) << "no marker linked";
  int tag;
  {
    FailNth inj2(1, "devres.open_group");
    ScopedFaultInjector s(inj2);
    EXPECT_EQ(devres_open_group(*dev, &tag), nullptr) << "nullptr even with an explicit id";
  }
  EXPECT_TRUE(dev->devres().empty());
}

// ---- D9 ---------------------------------------------------------------------------------------

TEST_F(DevresGroups, D9_ReleaseGroupRollsBackLifoAndLeavesOlderResources) {
  add("r0");
  void* g = devres_open_group(*dev, nullptr);
  ASSERT_NE(g, nullptr);
  add("r1");
  add("r2");
  EXPECT_EQ(devres_release_group(*dev, g), 2);
  EXPECT_EQ(log, (Log{"r2", "r1"}));
  EXPECT_EQ(names(), (Log{"r0"})) << "G is gone, r0 untouched";
  {
    testing::ExpectWarn wn(1, "no such group");
    EXPECT_EQ(devres_release_group(*dev, g), 0) << "G no longer exists";
  }
  dev->devres().release_all();
  EXPECT_EQ(log, (Log{"r2", "r1", "r0"}));
}

TEST_F(DevresGroups, D9_ReleaseClosedGroupLeavesLaterResources) {
  void* g = devres_open_group(*dev, nullptr);
  add("r1");
  devres_close_group(*dev, g);
  add("r2");
  EXPECT_EQ(devres_release_group(*dev, g), 1);
  EXPECT_EQ(log, (Log{"r1"}));
  EXPECT_EQ(names(), (Log{"r2"}));
}

// ---- D10 --------------------------------------------------------------------------------------

TEST_F(DevresGroups, D10_RemoveGroupCommitsResourcesInPlace) {
  add("r0");
  void* g = devres_open_group(*dev, nullptr);
  add("r1");
  devres_close_group(*dev, g);
  add("r2");
  devres_remove_group(*dev, g);
  EXPECT_TRUE(log.empty()) << "remove_group releases nothing";
  EXPECT_EQ(names(), (Log{"r0", "r1", "r2"})) << "markers gone, resources stay in place";
  {
    testing::ExpectWarn wn(1, "no such group");
    EXPECT_EQ(devres_release_group(*dev, g), 0);
  }
  EXPECT_EQ(dev->devres().release_all(), 3);
  EXPECT_EQ(log, (Log{"r2", "r1", "r0"})) << "r1 released in its normal LIFO position";
}

TEST_F(DevresGroups, D10_RemoveOpenGroupMergesIntoEnclosingGroup) {
  void* outer = devres_open_group(*dev, nullptr);
  add("r1");
  void* inner = devres_open_group(*dev, nullptr);
  add("r2");
  devres_remove_group(*dev, inner);  // still open: only its open marker goes
  add("r3");
  devres_close_group(*dev, outer);
  add("r4");
  EXPECT_EQ(devres_release_group(*dev, outer), 3);
  EXPECT_EQ(log, (Log{"r3", "r2", "r1"}));
  EXPECT_EQ(names(), (Log{"r4"}));
}

// ---- D11 --------------------------------------------------------------------------------------

TEST_F(DevresGroups, D11_ReleaseOpenGroupByNullReleasesToEnd) {
  add("r0");
  void* g = devres_open_group(*dev, nullptr);
  ASSERT_NE(g, nullptr);
  add("r1");
  add("r2");
  EXPECT_EQ(devres_release_group(*dev, nullptr), 2);
  EXPECT_EQ(log, (Log{"r2", "r1"}));
  EXPECT_EQ(names(), (Log{"r0"}));
}

// ---- D12 --------------------------------------------------------------------------------------

TEST_F(DevresGroups, D12_NestedGroupsReleasedWithOuter) {
  int id1, id2;
  ASSERT_EQ(devres_open_group(*dev, &id1), &id1);
  ASSERT_EQ(devres_open_group(*dev, &id2), &id2);
  add("r");
  devres_close_group(*dev, &id2);
  devres_close_group(*dev, &id1);
  EXPECT_EQ(shape(), (Log{"open", "open", "r", "close", "close"}));
  EXPECT_EQ(devres_release_group(*dev, &id1), 1);
  EXPECT_EQ(log, (Log{"r"}));
  EXPECT_TRUE(dev->devres().empty()) << "both groups gone";
  testing::ExpectWarn wn(2, "no such group");
  devres_remove_group(*dev, &id2);
  devres_remove_group(*dev, &id1);
}

// Rule 26: an inner group still open, with its open marker in range, is wholly contained.
TEST_F(DevresGroups, D12_InnerOpenGroupInsideClosedOuterIsRemoved) {
  int id1, id2;
  devres_open_group(*dev, &id1);
  devres_open_group(*dev, &id2);  // never closed
  add("r");
  devres_close_group(*dev, &id1);
  EXPECT_EQ(devres_release_group(*dev, &id1), 1);
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(DevresGroups, D12_NestedReleaseIsLifoAcrossGroups) {
  add("a");
  void* g1 = devres_open_group(*dev, nullptr);
  add("b");
  void* g2 = devres_open_group(*dev, nullptr);
  add("c");
  add("d");
  devres_close_group(*dev, g2);
  add("e");
  devres_close_group(*dev, g1);
  EXPECT_EQ(devres_release_group(*dev, g1), 4);
  EXPECT_EQ(log, (Log{"e", "d", "c", "b"}));
  EXPECT_EQ(names(), (Log{"a"}));
}

// ---- D13 --------------------------------------------------------------------------------------

TEST_F(DevresGroups, D13_StraddlingGroupKeepsMarkersLosesResourcesInRange) {
  int id1, id2;
  devres_open_group(*dev, &id1);
  devres_open_group(*dev, &id2);
  add("r1");
  devres_close_group(*dev, &id1);
  add("r2");
  devres_close_group(*dev, &id2);
  EXPECT_EQ(shape(), (Log{"open", "open", "r1", "close", "r2", "close"}));
  EXPECT_EQ(devres_release_group(*dev, &id1), 1);
  EXPECT_EQ(log, (Log{"r1"}));
  EXPECT_EQ(shape(), (Log{"open", "r2", "close"})) << "G2 straddles: markers stay, r2 kept";
  // What remains is G2.
  EXPECT_EQ(devres_release_group(*dev, &id2), 1);
  EXPECT_EQ(log, (Log{"r1", "r2"}));
  EXPECT_TRUE(dev->devres().empty());
}

// Straddling from the other side: only G2's close marker lies in G1's range.
TEST_F(DevresGroups, D13_GroupWithOnlyCloseMarkerInRangeSurvives) {
  int id1, id2;
  devres_open_group(*dev, &id2);
  add("r0");
  devres_open_group(*dev, &id1);
  add("r1");
  devres_close_group(*dev, &id2);
  add("r2");
  devres_close_group(*dev, &id1);
  EXPECT_EQ(devres_release_group(*dev, &id1), 2);
  EXPECT_EQ(log, (Log{"r2", "r1"}));
  EXPECT_EQ(shape(), (Log{"open", "r0", "close"}));
  EXPECT_EQ(devres_release_group(*dev, &id2), 1);
  EXPECT_EQ(log, (Log{"r2", "r1", "r0"}));
  EXPECT_TRUE(dev->devres().empty());
}

// ---- D14 --------------------------------------------------------------------------------------

TEST_F(DevresGroups, D14_CloseNullPicksNewestOpenGroup) {
  int id1, id2;
  devres_open_group(*dev, &id1);
  add("r1");
  devres_open_group(*dev, &id2);
  add("r2");
  devres_close_group(*dev, &id2);
  devres_close_group(*dev, nullptr);  // G2 is closed: this must close G1
  add("r3");
  EXPECT_EQ(shape(), (Log{"open", "r1", "open", "r2", "close", "close", "r3"}));
  EXPECT_EQ(devres_release_group(*dev, &id1), 2);
  EXPECT_EQ(log, (Log{"r2", "r1"}));
  EXPECT_EQ(names(), (Log{"r3"})) << "r3 is outside G1: G1 was closed by close_group(NULL)";
}

TEST_F(DevresGroups, D14_CloseNullWithOnlyOpenNewestGroup) {
  void* g1 = devres_open_group(*dev, nullptr);
  void* g2 = devres_open_group(*dev, nullptr);
  devres_close_group(*dev, nullptr);  // closes g2 (newest open)
  add("r");
  EXPECT_EQ(devres_release_group(*dev, g2), 0) << "g2 was closed before r was added";
  EXPECT_EQ(devres_release_group(*dev, g1), 1) << "g1 is still open: range to end";
}

TEST_F(DevresGroups, D14_ReleaseUnknownIdWarnsAndReturnsZero) {
  add("r0");
  int bogus;
  {
    testing::ExpectWarn wn(1, "no such group");
    EXPECT_EQ(devres_release_group(*dev, &bogus), 0);
  }
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(names(), (Log{"r0"}));
}

TEST_F(DevresGroups, D14_ReleaseNullWithNoOpenGroupWarnsAndReturnsZero) {
  void* g = devres_open_group(*dev, nullptr);
  add("r");
  devres_close_group(*dev, g);
  testing::ExpectWarn wn(1, "no such group");
  EXPECT_EQ(devres_release_group(*dev, nullptr), 0);
  EXPECT_TRUE(log.empty());
}

// devres.c: a release_group on an empty list is the "device is dying" case: no WARN.
TEST_F(DevresGroups, D14_ReleaseGroupOnEmptyListIsSilent) {
  int bogus;
  testing::ExpectWarn wn(0);
  EXPECT_EQ(devres_release_group(*dev, &bogus), 0);
}

TEST_F(DevresGroups, CloseAndRemoveUnknownGroupWarn) {
  add("r0");
  int bogus;
  {
    testing::ExpectWarn wn(1, "no such group");
    devres_close_group(*dev, &bogus);
  }
  {
    testing::ExpectWarn wn(1, "no such group");
    devres_remove_group(*dev, &bogus);
  }
  {
    testing::ExpectWarn wn(1, "no such group");
    devres_close_group(*dev, nullptr);  // no open group at all
  }
  EXPECT_EQ(names(), (Log{"r0"}));
}

TEST_F(DevresGroups, CloseAlreadyClosedGroupByIdWarns) {
  int id;
  devres_open_group(*dev, &id);
  devres_close_group(*dev, &id);
  {
    testing::ExpectWarn wn(1, "already closed");
    devres_close_group(*dev, &id);
  }
  EXPECT_EQ(shape(), (Log{"open", "close"})) << "no second close marker";
}

// Rule 22: an explicit id finds the newest group with that id, open or closed.
TEST_F(DevresGroups, ExplicitIdFindsNewestGroupWithThatId) {
  int id;
  devres_open_group(*dev, &id);
  add("r1");
  devres_close_group(*dev, &id);
  devres_open_group(*dev, &id);
  add("r2");
  devres_close_group(*dev, &id);  // must close the second (newest) group
  EXPECT_EQ(shape(), (Log{"open", "r1", "close", "open", "r2", "close"}));
  EXPECT_EQ(devres_release_group(*dev, &id), 1);
  EXPECT_EQ(log, (Log{"r2"}));
  EXPECT_EQ(devres_release_group(*dev, &id), 1);
  EXPECT_EQ(log, (Log{"r2", "r1"}));
  EXPECT_TRUE(dev->devres().empty());
}

// Transactions (rule 27): open, acquire, then commit (close+remove) or roll back (release).
TEST_F(DevresGroups, GroupTransactionsAroundFailedAcquisition) {
  add("before");
  void* g = devres_open_group(*dev, nullptr);
  add("t1");
  FailNth inj(1, "devm.kmalloc");
  void* p;
  {
    ScopedFaultInjector s(inj);
    p = devm_kmalloc(*dev, 16, "t2");
  }
  ASSERT_EQ(p, nullptr);
  EXPECT_EQ(devres_release_group(*dev, g), 1) << "rollback";
  EXPECT_EQ(log, (Log{"t1"}));
  EXPECT_EQ(names(), (Log{"before"}));
}

TEST_F(DevresGroups, ReleaseAllWithOpenAndClosedGroupsFreesEverything) {
  void* g1 = devres_open_group(*dev, nullptr);
  add("r1");
  devres_close_group(*dev, g1);
  devres_open_group(*dev, nullptr);
  add("r2");
  EXPECT_EQ(dev->devres().release_all(), 2);
  EXPECT_EQ(log, (Log{"r2", "r1"}));
  EXPECT_TRUE(dev->devres().empty());
}

}  // namespace
}  // namespace udrm
