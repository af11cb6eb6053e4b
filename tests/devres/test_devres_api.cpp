// Generic devres API (rules 2–11) and managed memory (rules 19–20).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/testing/warn.h"

namespace udrm_test_alloc {
bool malloc_counted();
void begin();
bool freed(const void* block);
}  // namespace udrm_test_alloc

namespace udrm {
namespace {

// Release callbacks of the generic API: payload is an int, the release records it.
std::vector<int>* g_released = nullptr;
void rel_a(Device&, void* res) { g_released->push_back(*static_cast<int*>(res)); }
void rel_b(Device&, void* res) { g_released->push_back(1000 + *static_cast<int*>(res)); }
bool match_value(Device&, void* res, void* data) { return *static_cast<int*>(res) == *static_cast<int*>(data); }

class DevresApi : public ::testing::Test {
 protected:
  void SetUp() override { g_released = &released; }
  void TearDown() override {
    dev.reset();
    g_released = nullptr;
  }
  int* alloc_int(dr_release_t rel, int v, const char* name = "int") {
    auto* p = static_cast<int*>(devres_alloc(rel, sizeof(int), name));
    EXPECT_NE(p, nullptr);
    *p = v;
    return p;
  }
  int* add_int(dr_release_t rel, int v, const char* name = "int") {
    int* p = alloc_int(rel, v, name);
    devres_add(*dev, p);
    return p;
  }

  SimExecutor sim;
  World w{sim};
  Ref<Device> dev = Device::create(w, "api-dev");
  std::vector<int> released;
};

// ---- alloc / free / add ----------------------------------------------------------------------

TEST_F(DevresApi, AllocReturnsZeroedUnlinkedPayload) {
  auto* p = static_cast<unsigned char*>(devres_alloc(&rel_a, 256, "blob"));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(p[i], 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(std::max_align_t), 0u) << "payload aligned for any type";
  EXPECT_TRUE(dev->devres().empty()) << "not on any list until added";
  EXPECT_EQ(devres_find(*dev, &rel_a), nullptr);
  devres_free(p);  // never added: freed, release not called
  EXPECT_TRUE(released.empty());
  devres_free(nullptr);  // no-op
}

TEST_F(DevresApi, AllocFailureInjection) {
  FailNth inj(1, "devres.alloc");
  ScopedFaultInjector s(inj);
  EXPECT_EQ(devres_alloc(&rel_a, 8), nullptr);
  EXPECT_TRUE(inj.fired());
}

TEST_F(DevresApi, AllocSizeOverflowReturnsNull) {
  EXPECT_EQ(devres_alloc(&rel_a, std::numeric_limits<std::size_t>::max()), nullptr);
  EXPECT_EQ(devres_alloc(&rel_a, std::numeric_limits<std::size_t>::max() - 8), nullptr);
}

TEST_F(DevresApi, AddAppendsAtTailAndReleasesLifo) {
  add_int(&rel_a, 1, "one");
  add_int(&rel_b, 2, "two");
  add_int(&rel_a, 3, "three");
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(dev->devres().release_all(), 3);
  EXPECT_EQ(released, (std::vector<int>{3, 1002, 1}));
}

TEST_F(DevresApi, AddOfAlreadyAddedPayloadWarnsAndChangesNothing) {
  int* p = add_int(&rel_a, 1, "p");
  add_int(&rel_a, 2, "q");
  {
    testing::ExpectWarn wn(1, "already on a list");
    devres_add(*dev, p);
  }
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"p", "q"})) << "p not moved, not duplicated";
  Ref<Device> other = Device::create(w, "other");
  {
    testing::ExpectWarn wn(1, "already on a list");
    devres_add(*other, p);
  }
  EXPECT_TRUE(other->devres().empty());
  dev->devres().release_all();
  EXPECT_EQ(released, (std::vector<int>{2, 1})) << "each released exactly once";
}

TEST_F(DevresApi, FreeOfLinkedPayloadWarnsAndFreesNothing) {
  int* p = add_int(&rel_a, 7, "p");
  {
    testing::ExpectWarn wn(1, "still on a device's list");
    devres_free(p);
  }
  EXPECT_EQ(*p, 7) << "payload intact (ASan would flag a use-after-free)";
  EXPECT_EQ(dev->devres().count(), 1u);
  dev->devres().release_all();
  EXPECT_EQ(released, (std::vector<int>{7}));
}

// ---- find / get / remove / destroy / release / for_each -----------------------------------------

TEST_F(DevresApi, FindIsNewestFirstAndDoesNotUnlink) {
  int* p1 = add_int(&rel_a, 1);
  int* p2 = add_int(&rel_a, 2);
  add_int(&rel_b, 3);
  EXPECT_EQ(devres_find(*dev, &rel_a), p2) << "newest match";
  EXPECT_EQ(devres_find(*dev, &rel_b), devres_find(*dev, &rel_b));
  int want = 1;
  EXPECT_EQ(devres_find(*dev, &rel_a, &match_value, &want), p1) << "match callback narrows";
  want = 3;
  EXPECT_EQ(devres_find(*dev, &rel_a, &match_value, &want), nullptr) << "3 has another release fn";
  EXPECT_EQ(devres_find(*dev, [](Device&, void*) {}), nullptr);
  EXPECT_EQ(dev->devres().count(), 3u);
  EXPECT_TRUE(released.empty());
}

TEST_F(DevresApi, FindSkipsGroupMarkersAndActions) {
  devres_open_group(*dev, nullptr);
  int dummy = 0;
  ASSERT_EQ(devm_add_action(*dev, +[](int*) {}, &dummy, "act"), 0);
  EXPECT_EQ(devres_find(*dev, &rel_a), nullptr);
  int* p = add_int(&rel_a, 1);
  devres_open_group(*dev, nullptr);
  EXPECT_EQ(devres_find(*dev, &rel_a), p);
}

TEST_F(DevresApi, GetAddsWhenAbsent) {
  int* fresh = alloc_int(&rel_a, 5);
  EXPECT_EQ(devres_get(*dev, fresh), fresh);
  EXPECT_EQ(dev->devres().count(), 1u);
  EXPECT_EQ(devres_find(*dev, &rel_a), fresh);
}

TEST_F(DevresApi, GetReturnsExistingAndFreesNewOne) {
  int* old1 = add_int(&rel_a, 1);
  int* old2 = add_int(&rel_a, 2);
  int* fresh = alloc_int(&rel_a, 9);
  void* fresh_block = detail::devres_node_of(fresh);
  udrm_test_alloc::begin();
  EXPECT_EQ(devres_get(*dev, fresh), old2) << "the newest existing match wins";
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_TRUE(udrm_test_alloc::freed(fresh_block)) << "new_res freed";
  }
  EXPECT_TRUE(released.empty()) << "new_res is freed, not released";
  EXPECT_EQ(dev->devres().count(), 2u);
  int want = 1;
  int* fresh2 = alloc_int(&rel_a, 9);
  EXPECT_EQ(devres_get(*dev, fresh2, &match_value, &want), old1);
  want = 42;
  int* fresh3 = alloc_int(&rel_a, 42);
  EXPECT_EQ(devres_get(*dev, fresh3, &match_value, &want), fresh3) << "no match: added";
  int* other = alloc_int(&rel_b, 1);
  EXPECT_EQ(devres_get(*dev, other), other) << "a different release fn never matches";
  EXPECT_EQ(dev->devres().count(), 4u);
  dev->devres().release_all();
  EXPECT_EQ(released, (std::vector<int>{1001, 42, 2, 1}));
}

TEST_F(DevresApi, RemoveUnlinksNewestWithoutReleaseOrFree) {
  add_int(&rel_a, 1, "one");
  int* p2 = add_int(&rel_a, 2, "two");
  void* r = devres_remove(*dev, &rel_a);
  EXPECT_EQ(r, p2);
  EXPECT_EQ(*static_cast<int*>(r), 2) << "not freed: still readable";
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"one"}));
  // Now the caller owns it: it can be re-added (e.g. to another device) or freed.
  Ref<Device> other = Device::create(w, "other");
  devres_add(*other, r);
  EXPECT_EQ(other->devres().count(), 1u);
  EXPECT_EQ(devres_remove(*other, &rel_a), r);
  devres_free(r);
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(devres_remove(*dev, &rel_b), nullptr);
}

TEST_F(DevresApi, DestroyFreesWithoutCallingRelease) {
  add_int(&rel_a, 1, "one");
  int* p2 = add_int(&rel_a, 2, "two");
  void* block = detail::devres_node_of(p2);
  udrm_test_alloc::begin();
  EXPECT_EQ(devres_destroy(*dev, &rel_a), 0);
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_TRUE(udrm_test_alloc::freed(block));
  }
  EXPECT_TRUE(released.empty()) << "destroy must not call release";
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"one"}));
  EXPECT_EQ(devres_destroy(*dev, &rel_b), -ENOENT);
  int want = 5;
  EXPECT_EQ(devres_destroy(*dev, &rel_a, &match_value, &want), -ENOENT);
  EXPECT_EQ(devres_destroy(*dev, &rel_a), 0);
  EXPECT_EQ(devres_destroy(*dev, &rel_a), -ENOENT);
  EXPECT_TRUE(released.empty());
}

TEST_F(DevresApi, ReleaseCallsReleaseOnceAndFrees) {
  add_int(&rel_a, 1, "one");
  add_int(&rel_a, 2, "two");
  int want = 1;
  EXPECT_EQ(devres_release(*dev, &rel_a, &match_value, &want), 0);
  EXPECT_EQ(released, (std::vector<int>{1}));
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"two"}));
  EXPECT_EQ(devres_release(*dev, &rel_a, &match_value, &want), -ENOENT);
  EXPECT_EQ(devres_release(*dev, &rel_b), -ENOENT);
  dev->devres().release_all();
  EXPECT_EQ(released, (std::vector<int>{1, 2})) << "not released twice";
}

TEST_F(DevresApi, ForEachVisitsMatchesNewestFirst) {
  add_int(&rel_a, 1);
  add_int(&rel_b, 2);
  add_int(&rel_a, 3);
  devres_open_group(*dev, nullptr);
  add_int(&rel_a, 4);
  std::vector<int> seen;
  auto collect = [](Device&, void* res, void* data) { static_cast<std::vector<int>*>(data)->push_back(*static_cast<int*>(res)); };
  devres_for_each_res(*dev, &rel_a, nullptr, nullptr, collect, &seen);
  EXPECT_EQ(seen, (std::vector<int>{4, 3, 1}));
  seen.clear();
  int want = 3;
  devres_for_each_res(*dev, &rel_a, &match_value, &want, collect, &seen);
  EXPECT_EQ(seen, (std::vector<int>{3}));
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(dev->devres().count(), 4u);
}

// ---- devm_new ---------------------------------------------------------------------------------

struct Widget {
  static inline int live = 0;
  static inline int dtors = 0;
  int a;
  std::string s;
  Widget(int aa, std::string ss) : a(aa), s(std::move(ss)) { ++live; }
  ~Widget() {
    --live;
    ++dtors;
  }
};

TEST_F(DevresApi, DevmNewConstructsAndDestroysOnceAtRelease) {
  Widget::live = Widget::dtors = 0;
  Widget* wd = devm_new<Widget>(*dev, "widget", 7, std::string(100, 'x'));
  ASSERT_NE(wd, nullptr);
  EXPECT_EQ(wd->a, 7);
  EXPECT_EQ(wd->s.size(), 100u);
  EXPECT_EQ(Widget::live, 1);
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"widget"}));
  dev->devres().release_all();
  EXPECT_EQ(Widget::live, 0);
  EXPECT_EQ(Widget::dtors, 1);
}

TEST_F(DevresApi, DevmNewDestroyedAtFinalPutAndOrderedWithActions) {
  Widget::live = Widget::dtors = 0;
  std::vector<std::string> log;
  struct Ctx {
    std::vector<std::string>* log;
  } ctx{&log};
  ASSERT_EQ(devm_add_action(*dev, +[](Ctx* c) { c->log->push_back("older action: live=" + std::to_string(Widget::live)); }, &ctx, "a"), 0);
  ASSERT_NE(devm_new<Widget>(*dev, "w", 1, "w"), nullptr);
  ASSERT_EQ(devm_add_action(*dev, +[](Ctx* c) { c->log->push_back("newer action: live=" + std::to_string(Widget::live)); }, &ctx, "b"), 0);
  dev.reset();
  EXPECT_EQ(log, (std::vector<std::string>{"newer action: live=1", "older action: live=0"}));
  EXPECT_EQ(Widget::dtors, 1);
}

TEST_F(DevresApi, DevmNewFailureConstructsNothing) {
  Widget::live = Widget::dtors = 0;
  FailNth inj(1, "devm.alloc");
  {
    ScopedFaultInjector s(inj);
    EXPECT_EQ(devm_new<Widget>(*dev, "w", 1, "x"), nullptr);
  }
  EXPECT_TRUE(inj.fired());
  EXPECT_EQ(Widget::live, 0);
  EXPECT_EQ(Widget::dtors, 0);
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(DevresApi, DevresRemoveThenFreeOfDevmNewRunsDestructor) {
  Widget::live = Widget::dtors = 0;
  Widget* wd = devm_new<Widget>(*dev, "w", 1, "x");
  ASSERT_NE(wd, nullptr);
  detail::DevresNode* n = dev->devres().find_node(wd, true);
  ASSERT_NE(n, nullptr);
  devres_free(n->payload);
  EXPECT_EQ(Widget::live, 0);
  EXPECT_EQ(Widget::dtors, 1);
}

// ---- managed memory -----------------------------------------------------------------------------

TEST_F(DevresApi, KmallocZeroSizeReturnsZeroSizePtrAndNoNode) {
  EXPECT_EQ(devm_kmalloc(*dev, 0), ZERO_SIZE_PTR);
  EXPECT_EQ(devm_kzalloc(*dev, 0), ZERO_SIZE_PTR);
  EXPECT_EQ(devm_kcalloc(*dev, 0, 8), ZERO_SIZE_PTR);
  EXPECT_EQ(devm_kmalloc_array(*dev, 8, 0), ZERO_SIZE_PTR);
  EXPECT_EQ(devm_kmemdup(*dev, "x", 0), ZERO_SIZE_PTR);
  EXPECT_TRUE(zero_or_null_ptr(ZERO_SIZE_PTR));
  EXPECT_TRUE(zero_or_null_ptr(nullptr));
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(DevresApi, KmallocIsZeroedAlignedAndNamed) {
  auto* p = static_cast<unsigned char*>(devm_kmalloc(*dev, 4096, "big"));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 4096; ++i) ASSERT_EQ(p[i], 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(std::max_align_t), 0u);
  std::memset(p, 0xff, 4096);  // the whole block is ours
  EXPECT_NE(devm_kmalloc(*dev, 1), nullptr);
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"big", "devm_kmalloc"}));
}

TEST_F(DevresApi, KmallocFailureInjectionRegistersNothing) {
  FailNth inj(1, "devm.kmalloc");
  {
    ScopedFaultInjector s(inj);
    EXPECT_EQ(devm_kmalloc(*dev, 64), nullptr);
  }
  EXPECT_TRUE(inj.fired());
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(DevresApi, KmallocHugeSizeReturnsNullNoNode) {
  EXPECT_EQ(devm_kmalloc(*dev, std::numeric_limits<std::size_t>::max()), nullptr);
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(DevresApi, ArrayOverflowReturnsNullNoNode) {
  const std::size_t big = std::numeric_limits<std::size_t>::max() / 2 + 1;
  EXPECT_EQ(devm_kmalloc_array(*dev, big, 2), nullptr);
  EXPECT_EQ(devm_kcalloc(*dev, 2, big), nullptr);
  EXPECT_EQ(devm_kcalloc(*dev, std::numeric_limits<std::size_t>::max(), std::numeric_limits<std::size_t>::max()),
            nullptr);
  EXPECT_TRUE(dev->devres().empty());
  auto* a = static_cast<uint32_t*>(devm_kcalloc(*dev, 16, sizeof(uint32_t)));
  ASSERT_NE(a, nullptr);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(a[i], 0u);
  EXPECT_EQ(dev->devres().count(), 1u);
}

TEST_F(DevresApi, KstrdupCopies) {
  std::string src = "hello devres";
  char* s = devm_kstrdup(*dev, src.c_str());
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s, src.c_str());
  EXPECT_STREQ(s, "hello devres");
  src[0] = 'J';
  EXPECT_STREQ(s, "hello devres") << "a copy, not an alias";
  EXPECT_EQ(devm_kstrdup(*dev, nullptr), nullptr);
  EXPECT_EQ(dev->devres().count(), 1u);
}

char g_writable_string[] = "in .data";

TEST_F(DevresApi, KstrdupConstReturnsLiteralButDuplicatesOthers) {
  const char* lit = "a literal in rodata";
  EXPECT_EQ(devm_kstrdup_const(*dev, lit), lit) << "string literal returned as is";
  EXPECT_TRUE(dev->devres().empty()) << "and nothing registered for it";

  std::string heap(64, 'h');
  const char* h = devm_kstrdup_const(*dev, heap.c_str());
  ASSERT_NE(h, nullptr);
  EXPECT_NE(h, heap.c_str()) << "a heap string is duplicated";
  EXPECT_EQ(std::string(h), heap);
  EXPECT_EQ(dev->devres().count(), 1u);

  const char* d = devm_kstrdup_const(*dev, g_writable_string);
  EXPECT_NE(d, g_writable_string) << "writable data is duplicated";
  EXPECT_STREQ(d, "in .data");

  char stack[] = "on the stack";
  const char* st = devm_kstrdup_const(*dev, stack);
  EXPECT_NE(st, stack);
  EXPECT_STREQ(st, "on the stack");
  EXPECT_EQ(dev->devres().count(), 3u);
  EXPECT_EQ(devm_kstrdup_const(*dev, nullptr), nullptr);
}

TEST_F(DevresApi, KmemdupCopies) {
  const uint8_t src[5] = {1, 2, 3, 4, 5};
  auto* p = static_cast<uint8_t*>(devm_kmemdup(*dev, src, sizeof src));
  ASSERT_NE(p, nullptr);
  EXPECT_NE(p, src);
  EXPECT_EQ(std::memcmp(p, src, sizeof src), 0);
  EXPECT_EQ(dev->devres().count(), 1u);
}

TEST_F(DevresApi, KasprintfFormats) {
  char* s = devm_kasprintf(*dev, "%s-%d", "card", 7);
  ASSERT_NE(s, nullptr);
  EXPECT_STREQ(s, "card-7");
  std::string longer(300, 'z');
  char* t = devm_kasprintf(*dev, "<%s>", longer.c_str());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(std::strlen(t), 302u);
  EXPECT_EQ(dev->devres().count(), 2u);
  FailNth inj(1, "devm.kmalloc");
  ScopedFaultInjector sc(inj);
  EXPECT_EQ(devm_kasprintf(*dev, "%d", 1), nullptr);
  EXPECT_EQ(dev->devres().count(), 2u);
}

TEST_F(DevresApi, KreallocGrowsKeepsContentsAndLifoPosition) {
  std::vector<std::string> log;
  struct Ctx {
    std::vector<std::string>* log;
    const char* n;
  } ca{&log, "A"}, cb{&log, "B"};
  auto rec = +[](Ctx* c) { c->log->push_back(c->n); };
  ASSERT_EQ(devm_add_action(*dev, rec, &ca, "A"), 0);
  auto* p = static_cast<char*>(devm_kmalloc(*dev, 8, "buf"));
  ASSERT_NE(p, nullptr);
  std::memcpy(p, "1234567", 8);
  ASSERT_EQ(devm_add_action(*dev, rec, &cb, "B"), 0);

  auto* q = static_cast<char*>(devm_krealloc(*dev, p, 4096));
  ASSERT_NE(q, nullptr);
  EXPECT_STREQ(q, "1234567") << "contents kept";
  std::memset(q + 8, 'x', 4096 - 8);  // the new size is usable
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"A", "buf", "B"})) << "same list position";
  EXPECT_EQ(dev->devres().count(), 3u) << "the old node is gone";
  if (q != p) {
    testing::ExpectWarn wn(1, "not a devm allocation");
    devm_kfree(*dev, p);  // the old block is no longer managed
  }
  EXPECT_EQ(devm_krealloc(*dev, q, 16), q) << "shrinking keeps the block";
  EXPECT_EQ(dev->devres().release_all(), 3);
  EXPECT_EQ(log, (std::vector<std::string>{"B", "A"}));
}

TEST_F(DevresApi, KreallocFreedInItsLifoPosition) {
  void* a = devm_kmalloc(*dev, 8, "a");
  void* b = devm_kmalloc(*dev, 8, "b");
  void* c = devm_kmalloc(*dev, 8, "c");
  ASSERT_TRUE(a && b && c);
  void* b2 = devm_krealloc(*dev, b, 1024);
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(dev->devres().names(), (std::vector<std::string>{"a", "b", "c"}));
  // find_node walks newest first: order of payloads on the list is a, b2, c.
  std::vector<void*> payloads;
  for (auto& n : dev->devres().list()) payloads.push_back(n.payload);
  EXPECT_EQ(payloads, (std::vector<void*>{a, b2, c}));
}

TEST_F(DevresApi, KreallocEdgeCases) {
  void* p = devm_krealloc(*dev, nullptr, 32);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(zero_or_null_ptr(p));
  EXPECT_EQ(dev->devres().count(), 1u) << "krealloc(NULL) = kmalloc";
  EXPECT_EQ(devm_krealloc(*dev, p, 0), ZERO_SIZE_PTR) << "size 0 frees";
  EXPECT_TRUE(dev->devres().empty());
  void* z = devm_krealloc(*dev, ZERO_SIZE_PTR, 16);
  ASSERT_NE(z, nullptr);
  EXPECT_FALSE(zero_or_null_ptr(z));
  EXPECT_EQ(dev->devres().count(), 1u);

  char foreign[16];
  {
    testing::ExpectWarn wn(1, "not a devm allocation");
    EXPECT_EQ(devm_krealloc(*dev, foreign, 64), nullptr);
  }
  EXPECT_EQ(dev->devres().count(), 1u);
}

TEST_F(DevresApi, KreallocFailureKeepsOldBlock) {
  auto* p = static_cast<char*>(devm_kmalloc(*dev, 8, "buf"));
  ASSERT_NE(p, nullptr);
  std::memcpy(p, "abcdefg", 8);
  FailNth inj(1, "devm.kmalloc");
  {
    ScopedFaultInjector s(inj);
    EXPECT_EQ(devm_krealloc(*dev, p, 4096), nullptr);
  }
  EXPECT_TRUE(inj.fired());
  EXPECT_STREQ(p, "abcdefg") << "old block still valid";
  EXPECT_EQ(dev->devres().count(), 1u) << "and still managed";
  devm_kfree(*dev, p);
  EXPECT_TRUE(dev->devres().empty());
}

TEST_F(DevresApi, KfreeOfDevmNewObjectWarns) {
  // devm_kfree only frees devm_kmalloc-family memory.
  Widget::live = Widget::dtors = 0;
  Widget* wd = devm_new<Widget>(*dev, "w", 1, "x");
  {
    testing::ExpectWarn wn(1, "not a devm allocation");
    devm_kfree(*dev, wd);
  }
  EXPECT_EQ(Widget::live, 1);
  dev->devres().release_all();
  EXPECT_EQ(Widget::live, 0);
}

}  // namespace
}  // namespace udrm
