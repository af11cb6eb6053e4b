// Ref<T> (boost::intrusive_ptr over RefCounted<T>): adopt, copy, move, exactly-once release.
#include <gtest/gtest.h>

#include <utility>

#include "udrm/base/refcount.h"

namespace udrm {
namespace {

// Counts its releases; frees itself on the final put like a kernel object would.
struct Obj : RefCounted<Obj> {
  explicit Obj(int* releases) : releases(releases) {}
  void kref_release() noexcept {
    ++*releases;
    delete this;
  }
  int* releases;
  int value = 7;
};

TEST(Ref, AdoptRefTakesNoExtraReference) {
  int releases = 0;
  Ref<Obj> r = adopt_ref(new Obj(&releases));
  EXPECT_EQ(r->refcount(), 1u);
}

TEST(Ref, LastRefReleasesExactlyOnce) {
  int releases = 0;
  { Ref<Obj> r = adopt_ref(new Obj(&releases)); }
  EXPECT_EQ(releases, 1);
}

TEST(Ref, ConstructingFromARawPointerTakesAReference) {
  int releases = 0;
  Obj* raw = new Obj(&releases);  // holds the initial reference
  {
    Ref<Obj> r(raw);
    EXPECT_EQ(raw->refcount(), 2u);
  }
  EXPECT_EQ(raw->refcount(), 1u);
  EXPECT_EQ(releases, 0);
  raw->put();
  EXPECT_EQ(releases, 1);
}

TEST(Ref, CopyTakesAReference) {
  int releases = 0;
  Ref<Obj> a = adopt_ref(new Obj(&releases));
  Ref<Obj> b = a;
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->refcount(), 2u);
}

TEST(Ref, DestroyingACopyDropsOnlyItsReference) {
  int releases = 0;
  Ref<Obj> a = adopt_ref(new Obj(&releases));
  { Ref<Obj> b = a; }
  EXPECT_EQ(a->refcount(), 1u);
  EXPECT_EQ(releases, 0);
}

TEST(Ref, CopyAssignmentTakesAReferenceAndDropsTheOld) {
  int ra = 0, rb = 0;
  Ref<Obj> a = adopt_ref(new Obj(&ra));
  Ref<Obj> b = adopt_ref(new Obj(&rb));
  b = a;
  EXPECT_EQ(rb, 1);
  EXPECT_EQ(ra, 0);
  EXPECT_EQ(a->refcount(), 2u);
}

TEST(Ref, MoveTransfersWithoutTouchingTheCount) {
  int releases = 0;
  Ref<Obj> a = adopt_ref(new Obj(&releases));
  Obj* raw = a.get();
  Ref<Obj> b = std::move(a);
  EXPECT_EQ(a.get(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is null by contract
  EXPECT_EQ(b.get(), raw);
  EXPECT_EQ(raw->refcount(), 1u);
  EXPECT_EQ(releases, 0);
}

TEST(Ref, MoveAssignmentTransfersAndDropsTheOld) {
  int ra = 0, rb = 0;
  Ref<Obj> a = adopt_ref(new Obj(&ra));
  Ref<Obj> b = adopt_ref(new Obj(&rb));
  Obj* raw = a.get();
  b = std::move(a);
  EXPECT_EQ(rb, 1);
  EXPECT_EQ(ra, 0);
  EXPECT_EQ(b.get(), raw);
  EXPECT_EQ(raw->refcount(), 1u);
}

TEST(Ref, ResetDropsTheReference) {
  int releases = 0;
  Ref<Obj> a = adopt_ref(new Obj(&releases));
  a.reset();
  EXPECT_EQ(a.get(), nullptr);
  EXPECT_EQ(releases, 1);
}

TEST(Ref, ReleaseHappensOnTheLastOfManyCopies) {
  int releases = 0;
  Ref<Obj> a = adopt_ref(new Obj(&releases));
  Ref<Obj> b = a, c = a, d = b;
  EXPECT_EQ(a->refcount(), 4u);
  a.reset();
  b.reset();
  c.reset();
  EXPECT_EQ(releases, 0);
  EXPECT_EQ(d->value, 7);
  d.reset();
  EXPECT_EQ(releases, 1);
}

TEST(Ref, GetUnlessZeroThroughRefCountedAdoptsCleanly) {
  int releases = 0;
  Ref<Obj> a = adopt_ref(new Obj(&releases));
  ASSERT_TRUE(a->get_unless_zero());
  Ref<Obj> b = adopt_ref(a.get());  // the reference get_unless_zero took
  EXPECT_EQ(a->refcount(), 2u);
  a.reset();
  b.reset();
  EXPECT_EQ(releases, 1);
}

}  // namespace
}  // namespace udrm
