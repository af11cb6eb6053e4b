// devres release order and managed actions: kernel-semantics.md §1.3, §1.6, scenarios D1–D8, D19.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/testing/warn.h"

// Exact free observation (test_devres_alloc.cpp; effective only in builds without sanitizers).
namespace udrm_test_alloc {
bool malloc_counted();
void begin();
bool freed(const void* block);
}  // namespace udrm_test_alloc

namespace udrm {
namespace {

using Log = std::vector<std::string>;

/// Payload for the function-pointer form: records its name when the action runs.
struct Tag {
  Log* log;
  std::string name;
  int calls = 0;
};
void record(Tag* t) {
  ++t->calls;
  t->log->push_back(t->name);
}
void record_other(Tag* t) {
  ++t->calls;
  t->log->push_back("other:" + t->name);
}

/// Counts owning instances (moved-from ones do not count) to prove a capture is destroyed
/// exactly once and never leaked.
struct Owned {
  struct Counters {
    int live = 0;         // owning instances alive
    int owner_dtors = 0;  // owning instances destroyed
    int calls = 0;
  };
  Counters* c;
  explicit Owned(Counters* cc) : c(cc) { ++c->live; }
  Owned(const Owned& o) : c(o.c) {
    if (c) ++c->live;
  }
  Owned(Owned&& o) noexcept : c(o.c) { o.c = nullptr; }
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (c) {
      --c->live;
      ++c->owner_dtors;
    }
  }
};

class Devres : public ::testing::Test {
 protected:
  // Declared before the device: whatever a test leaves on the list is released at the
  // fixture's destruction and may still touch these.
  Log log;
  std::deque<Tag> tags;
  SimExecutor sim;
  World w{sim};
  Ref<Device> dev = Device::create(w, "devres-dev");
  Tag& make(const char* n) { return tags.emplace_back(Tag{&log, n}); }
};

// ---- D1 ---------------------------------------------------------------------------------------

TEST_F(Devres, D1_ReleaseIsLifo) {
  Tag &a = make("A"), &b = make("B"), &c = make("C");
  ASSERT_EQ(devm_add_action(*dev, &record, &a, "A"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record, &b, "B"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record, &c, "C"), 0);
  EXPECT_TRUE(log.empty()) << "nothing runs before unbind";
  EXPECT_EQ(dev->devres().release_all(), 3);
  EXPECT_EQ(log, (Log{"C", "B", "A"}));
  EXPECT_TRUE(dev->devres().empty());
  EXPECT_EQ(dev->devres().release_all(), 0) << "a second release_all finds nothing";
  EXPECT_EQ(log.size(), 3u);
}

TEST_F(Devres, D1_ClosuresAndFnPointersShareOneLifoOrder) {
  Tag &a = make("A"), &c = make("C");
  ASSERT_EQ(devm_add_action(*dev, &record, &a, "A"), 0);
  ASSERT_EQ(devm_add_action(*dev, [this] { log.push_back("B"); }, "B"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record, &c, "C"), 0);
  ASSERT_EQ(devm_add_action(*dev, [this] { log.push_back("D"); }, "D"), 0);
  dev->devres().release_all();
  EXPECT_EQ(log, (Log{"D", "C", "B", "A"}));
}

// Node names (what traces and reports show), oldest first.
TEST_F(Devres, NamesListActionsInOrder) {
  Tag &a = make("a");
  ASSERT_EQ(devm_add_action(*dev, &record, &a, "clk"), 0);
  ASSERT_EQ(devm_add_action(*dev, [] {}, "regulator"), 0);
  ASSERT_NE(devm_kmalloc(*dev, 8, "buf"), nullptr);
  ASSERT_EQ(devm_add_action(*dev, &record, &a, "irq"), 0);
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"clk", "regulator", "buf", "irq"}));
  EXPECT_EQ(dev->devres().count(), 4u);
  dev->devres().release_all();
  EXPECT_TRUE(dev->devres().names().empty());
}

// ---- D2 ---------------------------------------------------------------------------------------

// kzalloc m1, action a(m1), kzalloc m2; unbind: m2 freed, a runs with m1 valid, m1 freed.
// Exact in builds with the malloc hooks; under ASan reading m1 inside a would be a reported
// use-after-free if m1 were already gone.
TEST_F(Devres, D2_InterleavedMemoryAndActions) {
  struct Ctx {
    char* m1;
    char* m2;
    Log* log;
    bool m1_ok = false;
    bool m2_freed_first = false;
    bool m1_still_allocated = false;
  };
  auto* m1 = static_cast<char*>(devm_kzalloc(*dev, 64, "m1"));
  ASSERT_NE(m1, nullptr);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(m1[i], 0) << "kzalloc memory is zeroed";
  std::memset(m1, 0x5a, 64);
  Ctx ctx{m1, nullptr, &log};
  ASSERT_EQ(devm_add_action(
                *dev,
                +[](Ctx* c) {
                  c->log->push_back("a");
                  bool ok = true;
                  for (int i = 0; i < 64; ++i) ok &= c->m1[i] == 0x5a;
                  c->m1_ok = ok;
                  if (udrm_test_alloc::malloc_counted()) {
                    c->m2_freed_first = udrm_test_alloc::freed(detail::devres_node_of(c->m2));
                    c->m1_still_allocated = !udrm_test_alloc::freed(detail::devres_node_of(c->m1));
                  }
                },
                &ctx, "a(m1)"),
            0);
  ctx.m2 = static_cast<char*>(devm_kzalloc(*dev, 64, "m2"));
  ASSERT_NE(ctx.m2, nullptr);
  void* m1_block = detail::devres_node_of(m1);
  udrm_test_alloc::begin();
  EXPECT_EQ(dev->devres().release_all(), 3);
  EXPECT_EQ(log, (Log{"a"}));
  EXPECT_TRUE(ctx.m1_ok) << "m1 must still be valid when a(m1) runs";
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_TRUE(ctx.m2_freed_first) << "m2 (newer) must be freed before a runs";
    EXPECT_TRUE(ctx.m1_still_allocated) << "m1 (older) must not be freed before a runs";
    EXPECT_TRUE(udrm_test_alloc::freed(m1_block)) << "m1 freed by the end";
  }
}

// ---- D3 / D4 ----------------------------------------------------------------------------------

TEST_F(Devres, D3_AddOrResetFailureRunsActionOnceAndRegistersNothing) {
  Tag &a = make("A");
  FailNth inj(1, "devm.add_action");
  int ret;
  {
    ScopedFaultInjector s(inj);
    ret = devm_add_action_or_reset(*dev, &record, &a, "A");
  }
  EXPECT_TRUE(inj.fired());
  EXPECT_EQ(ret, -ENOMEM);
  EXPECT_EQ(a.calls, 1) << "or_reset must undo immediately";
  EXPECT_TRUE(dev->devres().empty()) << "nothing registered";
  EXPECT_FALSE(devm_is_action_added(*dev, &record, &a));
  dev->devres().release_all();
  EXPECT_EQ(a.calls, 1) << "and it must not run a second time at unbind";
}

TEST_F(Devres, D3_ClosureOrResetFailureRunsOnceAndDestroysCaptureOnce) {
  Owned::Counters oc;
  FailNth inj(1, "devm.add_action");
  int ret;
  {
    ScopedFaultInjector s(inj);
    ret = devm_add_action_or_reset(*dev, [o = Owned(&oc)] { ++o.c->calls; }, "closure");
  }
  EXPECT_TRUE(inj.fired());
  EXPECT_EQ(ret, -ENOMEM);
  EXPECT_EQ(oc.calls, 1);
  EXPECT_EQ(oc.live, 0) << "capture leaked";
  EXPECT_EQ(oc.owner_dtors, 1) << "capture destroyed exactly once";
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(Devres, D3_SuccessThenLaterFailureKeepsEarlierActions) {
  Tag &a = make("A"), &b = make("B");
  FailNth inj(2, "devm.add_action");
  {
    ScopedFaultInjector s(inj);
    EXPECT_EQ(devm_add_action_or_reset(*dev, &record, &a, "A"), 0);
    EXPECT_EQ(devm_add_action_or_reset(*dev, &record, &b, "B"), -ENOMEM);
  }
  EXPECT_EQ(log, (Log{"B"}));
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"A"}));
  dev->devres().release_all();
  EXPECT_EQ(log, (Log{"B", "A"}));
}

TEST_F(Devres, D4_PlainAddFailureDoesNotRunAction) {
  Tag &a = make("A");
  FailNth inj(1, "devm.add_action");
  int ret;
  {
    ScopedFaultInjector s(inj);
    ret = devm_add_action(*dev, &record, &a, "A");
  }
  EXPECT_TRUE(inj.fired());
  EXPECT_EQ(ret, -ENOMEM);
  EXPECT_EQ(a.calls, 0);
  EXPECT_TRUE(dev->devres().empty());
  dev->devres().release_all();
  EXPECT_EQ(a.calls, 0);
}

TEST_F(Devres, D4_ClosureAddFailureDoesNotRunAndDoesNotLeakCapture) {
  Owned::Counters oc;
  FailNth inj(1, "devm.add_action");
  int ret;
  {
    ScopedFaultInjector s(inj);
    ret = devm_add_action(*dev, [o = Owned(&oc)] { ++o.c->calls; }, "closure");
  }
  EXPECT_EQ(ret, -ENOMEM);
  EXPECT_EQ(oc.calls, 0);
  EXPECT_EQ(oc.live, 0);
  EXPECT_EQ(oc.owner_dtors, 1);
  EXPECT_TRUE(dev->devres().empty());
}

// ---- closure form -------------------------------------------------------------------------------

TEST_F(Devres, ClosureRunsAtReleaseAndCaptureDestroyedExactlyOnce) {
  Owned::Counters oc;
  ASSERT_EQ(devm_add_action(
                *dev,
                [o = Owned(&oc)] {
                  // The capture is alive (owned by the node) while the action runs.
                  ASSERT_NE(o.c, nullptr);
                  EXPECT_EQ(o.c->live, 1);
                  ++o.c->calls;
                },
                "closure"),
            0);
  EXPECT_EQ(oc.live, 1) << "the node owns exactly one capture";
  EXPECT_EQ(oc.calls, 0) << "not run at add";
  EXPECT_EQ(oc.owner_dtors, 0);
  dev->devres().release_all();
  EXPECT_EQ(oc.calls, 1);
  EXPECT_EQ(oc.live, 0);
  EXPECT_EQ(oc.owner_dtors, 1);
}

TEST_F(Devres, ClosureCaptureDestroyedOnceOnEveryExit) {
  Owned::Counters oc;
  // Exit 1: the device dies with the action pending (final put releases it).
  {
    Ref<Device> d2 = Device::create(w, "short-lived");
    ASSERT_EQ(devm_add_action(*d2, [o = Owned(&oc)] { ++o.c->calls; }, "c1"), 0);
    EXPECT_EQ(oc.live, 1);
  }
  EXPECT_EQ(oc.calls, 1);
  EXPECT_EQ(oc.live, 0);
  EXPECT_EQ(oc.owner_dtors, 1);
  // Exit 2: an lvalue closure is copied into the node; the caller's copy stays the caller's.
  {
    auto fn = [o = Owned(&oc)] { ++o.c->calls; };
    ASSERT_EQ(devm_add_action(*dev, fn, "c2"), 0);
    EXPECT_EQ(oc.live, 2);
  }
  EXPECT_EQ(oc.live, 1);
  dev->devres().release_all();
  EXPECT_EQ(oc.calls, 2);
  EXPECT_EQ(oc.live, 0);
  EXPECT_EQ(oc.owner_dtors, 3);
}

// ---- D5 / D6 / D7 -------------------------------------------------------------------------------

TEST_F(Devres, D5_RemoveActionRemovesNewestOfDuplicatesWithoutCalling) {
  Tag &d = make("d");
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "first"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "second"), 0);
  EXPECT_EQ(dev->devres().count(), 2u) << "duplicate (action, data) pairs are separate nodes";
  devm_remove_action(*dev, &record, &d);
  EXPECT_EQ(d.calls, 0) << "remove does not call the action";
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"first"})) << "the newest one goes";
  EXPECT_TRUE(devm_is_action_added(*dev, &record, &d));
  dev->devres().release_all();
  EXPECT_EQ(d.calls, 1);
}

TEST_F(Devres, D5_RemoveActionMatchesActionAndData) {
  Tag &d = make("d"), &e = make("e");
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "rec-d"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record_other, &d, "other-d"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record, &e, "rec-e"), 0);
  devm_remove_action(*dev, &record, &d);
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"other-d", "rec-e"}));
  EXPECT_EQ(devm_remove_action_nowarn(*dev, &record, &d), -ENOENT);
  dev->devres().release_all();
  EXPECT_EQ(log, (Log{"e", "other:d"}));
}

TEST_F(Devres, D6_ReleaseActionRunsOnceNowNotAgainAtUnbind) {
  Tag &d = make("d"), &x = make("x");
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "n1"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record, &x, "n2"), 0);
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "n3"), 0);
  devm_release_action(*dev, &record, &d);
  EXPECT_EQ(d.calls, 1) << "release_action runs it immediately";
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"n1", "n2"})) << "the newest match is released";
  dev->devres().release_all();
  EXPECT_EQ(d.calls, 2) << "the older duplicate runs at unbind, the released one does not";
  EXPECT_EQ(x.calls, 1);
  EXPECT_EQ(log, (Log{"d", "x", "d"}));
}

TEST_F(Devres, D7_RemoveOrReleaseOfUnknownPairWarns) {
  Tag &d = make("d"), &e = make("e");
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "d"), 0);
  {
    testing::ExpectWarn w(1, "remove");
    devm_remove_action(*dev, &record, &e);
  }
  {
    testing::ExpectWarn w(1, "release");
    devm_release_action(*dev, &record, &e);
  }
  {
    testing::ExpectWarn w(1);
    devm_release_action(*dev, &record_other, &d);  // same data, other action
  }
  EXPECT_EQ(e.calls, 0);
  EXPECT_EQ(d.calls, 0);
  EXPECT_EQ(dev->devres().count(), 1u) << "the unrelated node is untouched";
}

TEST_F(Devres, D7_NowarnVariantReturnsEnoent) {
  Tag &d = make("d");
  {
    testing::ExpectWarn w(0);
    EXPECT_EQ(devm_remove_action_nowarn(*dev, &record, &d), -ENOENT);
  }
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "d"), 0);
  EXPECT_EQ(devm_remove_action_nowarn(*dev, &record, &d), 0);
  EXPECT_EQ(d.calls, 0);
  EXPECT_TRUE(dev->devres().empty());
  EXPECT_EQ(devm_remove_action_nowarn(*dev, &record, &d), -ENOENT);
}

TEST_F(Devres, IsActionAddedIsAPureLookup) {
  Tag &d = make("d"), &e = make("e");
  EXPECT_FALSE(devm_is_action_added(*dev, &record, &d));
  ASSERT_EQ(devm_add_action(*dev, &record, &d, "d"), 0);
  EXPECT_TRUE(devm_is_action_added(*dev, &record, &d));
  EXPECT_FALSE(devm_is_action_added(*dev, &record, &e)) << "other data";
  EXPECT_FALSE(devm_is_action_added(*dev, &record_other, &d)) << "other action";
  EXPECT_EQ(dev->devres().count(), 1u);
  EXPECT_EQ(d.calls, 0);
  devm_remove_action(*dev, &record, &d);
  EXPECT_FALSE(devm_is_action_added(*dev, &record, &d));
}

// ---- D8 -------------------------------------------------------------------------------------

TEST_F(Devres, D8_KfreeOfForeignPointerWarnsAndFreesNothing) {
  void* mine = devm_kmalloc(*dev, 32, "mine");
  ASSERT_NE(mine, nullptr);
  char stack_buf[16] = {};
  void* heap = std::malloc(16);
  {
    testing::ExpectWarn w(1, "not a devm allocation");
    devm_kfree(*dev, heap);
  }
  {
    testing::ExpectWarn w(1, "not a devm allocation");
    devm_kfree(*dev, stack_buf);
  }
  // Interior pointer of a devm block is not the block.
  {
    testing::ExpectWarn w(1, "not a devm allocation");
    devm_kfree(*dev, static_cast<char*>(mine) + 1);
  }
  std::free(heap);  // still ours: devm_kfree must not have freed it
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"mine"}));
}

TEST_F(Devres, D8_KfreeOfAnotherDevicesMemoryWarns) {
  Ref<Device> other = Device::create(w, "other");
  void* p = devm_kmalloc(*other, 32, "theirs");
  ASSERT_NE(p, nullptr);
  {
    testing::ExpectWarn w(1, "not a devm allocation");
    devm_kfree(*dev, p);
  }
  EXPECT_EQ(other->devres().count(), 1u) << "the owner keeps it";
  devm_kfree(*other, p);
  EXPECT_TRUE(other->devres().empty());
}

TEST_F(Devres, D8_DoubleFreeWarnsNoCrash) {
  void* p = devm_kmalloc(*dev, 32, "p");
  ASSERT_NE(p, nullptr);
  void* block = detail::devres_node_of(p);
  udrm_test_alloc::begin();
  devm_kfree(*dev, p);
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_TRUE(udrm_test_alloc::freed(block));
  }
  EXPECT_TRUE(dev->devres().empty());
  {
    testing::ExpectWarn w(1, "double free");
    devm_kfree(*dev, p);
  }
}

TEST_F(Devres, D8_KfreeOfNullZeroSizeAndRodataIsSilent) {
  testing::ExpectWarn w(0);
  void* z = devm_kmalloc(*dev, 0);
  EXPECT_EQ(z, ZERO_SIZE_PTR);
  EXPECT_TRUE(dev->devres().empty()) << "size 0 registers no node";
  devm_kfree(*dev, nullptr);
  devm_kfree(*dev, z);
  devm_kfree(*dev, "a string literal");
  const char* c = devm_kstrdup_const(*dev, "const literal");
  devm_kfree(*dev, c);
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(Devres, D8_KfreeFreesOnlyThatBlockAndKeepsOrder) {
  Tag &a = make("A");
  ASSERT_EQ(devm_add_action(*dev, &record, &a, "A"), 0);
  void* p = devm_kmalloc(*dev, 8, "p");
  void* q = devm_kmalloc(*dev, 8, "q");
  ASSERT_TRUE(p && q);
  devm_kfree(*dev, p);
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"A", "q"}));
  EXPECT_EQ(a.calls, 0) << "kfree does not release neighbours";
}

// ---- D19 ----------------------------------------------------------------------------------------

struct Reentrant {
  Device* dev;
  Log* log;
  Tag late;
};

TEST_F(Devres, D19_ResourceAddedDuringReleaseAllWaitsForNextPass) {
  Reentrant r{dev.get(), &log, make("late")};
  Tag &a = make("A");
  ASSERT_EQ(devm_add_action(*dev, &record, &a, "A"), 0);
  ASSERT_EQ(devm_add_action(
                *dev,
                +[](Reentrant* rr) {
                  rr->log->push_back("adder");
                  EXPECT_EQ(devm_add_action(*rr->dev, &record, &rr->late, "late"), 0);
                },
                &r, "adder"),
            0);
  EXPECT_EQ(dev->devres().release_all(), 2);
  EXPECT_EQ(log, (Log{"adder", "A"})) << "the resource added during the pass is not released by it";
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"late"}));
  EXPECT_EQ(dev->devres().release_all(), 1);
  EXPECT_EQ(log, (Log{"adder", "A", "late"}));
}

// Through the driver core: released at device_del, the new one at the final put.
TEST_F(Devres, D19_AddedDuringDelReleasedAtFinalPut) {
  Ref<Device> d2 = Device::create(w, "d19");
  Reentrant r{d2.get(), &log, make("late")};
  auto result = sim.run([&] {
    Bus& bus = w.bus();
    ASSERT_EQ(bus.add_device(*d2), 0);
    ASSERT_EQ(devm_add_action(
                  *d2,
                  +[](Reentrant* rr) {
                    rr->log->push_back("adder");
                    EXPECT_EQ(devm_add_action(*rr->dev, &record, &rr->late, "late"), 0);
                  },
                  &r, "adder"),
              0);
    bus.del_device(*d2);
    EXPECT_EQ(log, (Log{"adder"}));
    EXPECT_EQ(d2->devres().count(), 1u);
    d2.reset();  // final put
    EXPECT_EQ(log, (Log{"adder", "late"}));
  });
  ASSERT_TRUE(result) << result.report;
}

// A resource added while the final put is releasing would be a use-after-free in the kernel.
// Here it must neither leak nor be lost silently: it is released too, with a WARN.
TEST_F(Devres, D19_AddedDuringFinalPutIsReleasedWithWarning) {
  Ref<Device> d2 = Device::create(w, "d19-final");
  Reentrant r{d2.get(), &log, make("late")};
  ASSERT_EQ(devm_add_action(
                *d2,
                +[](Reentrant* rr) {
                  rr->log->push_back("adder");
                  EXPECT_EQ(devm_add_action(*rr->dev, &record, &rr->late, "late"), 0);
                },
                &r, "adder"),
            0);
  {
    testing::ExpectWarn wn(1, "device_release");
    d2.reset();
  }
  EXPECT_EQ(log, (Log{"adder", "late"}));
}

}  // namespace
}  // namespace udrm
