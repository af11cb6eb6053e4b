// Kref: get / put / get_unless_zero, exactly-once release, refcount_t saturation WARNs.
#include <gtest/gtest.h>

#include "udrm/base/refcount.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

TEST(Kref, StartsAtOneByDefault) {
  Kref k;
  EXPECT_EQ(k.read(), 1u);
}

TEST(Kref, StartsAtTheGivenCount) {
  Kref k(3);
  EXPECT_EQ(k.read(), 3u);
}

TEST(Kref, GetIncrements) {
  Kref k;
  k.get();
  EXPECT_EQ(k.read(), 2u);
  k.get();
  EXPECT_EQ(k.read(), 3u);
}

TEST(Kref, NonFinalPutDecrementsAndDoesNotRelease) {
  Kref k(2);
  int released = 0;
  EXPECT_FALSE(k.put([&] { ++released; }));
  EXPECT_EQ(k.read(), 1u);
  EXPECT_EQ(released, 0);
}

TEST(Kref, FinalPutReleasesAndReturnsTrue) {
  Kref k;
  int released = 0;
  EXPECT_TRUE(k.put([&] { ++released; }));
  EXPECT_EQ(released, 1);
  EXPECT_EQ(k.read(), 0u);
}

TEST(Kref, ReleaseRunsExactlyOnceAfterBalancedGetsAndPuts) {
  Kref k;
  int released = 0;
  auto release = [&] { ++released; };
  for (int i = 0; i < 10; ++i) k.get();
  int finals = 0;
  for (int i = 0; i < 11; ++i) {
    if (k.put(release)) ++finals;
    // The release happens only on the 11th (last) put.
    EXPECT_EQ(released, i == 10 ? 1 : 0) << "after put #" << i + 1;
  }
  EXPECT_EQ(finals, 1);
  EXPECT_EQ(released, 1);
}

TEST(Kref, GetUnlessZeroTakesAReferenceOnALiveObject) {
  Kref k;
  EXPECT_TRUE(k.get_unless_zero());
  EXPECT_EQ(k.read(), 2u);
}

TEST(Kref, GetUnlessZeroFailsOnADeadObject) {
  Kref k;
  int released = 0;
  ASSERT_TRUE(k.put([&] { ++released; }));
  EXPECT_FALSE(k.get_unless_zero());
  EXPECT_EQ(k.read(), 0u);
  EXPECT_EQ(released, 1);
}

TEST(Kref, GetUnlessZeroFailsOnAZeroInitialisedCountWithoutWarning) {
  Kref k(0);
  EXPECT_FALSE(k.get_unless_zero());
  EXPECT_EQ(k.read(), 0u);
}

TEST(Kref, GetOnZeroWarnsUseAfterFree) {
  Kref k(0);
  testing::ExpectWarn w(1, "addition on 0");
  k.get();
}

TEST(Kref, GetOnZeroSaturatesTheCount) {
  Kref k(0);
  {
    testing::ExpectWarn w(1, "addition on 0");
    k.get();
  }
  EXPECT_GE(k.read(), Kref::kSaturated);
}

TEST(Kref, SaturatedAfterGetOnZeroNeverReleases) {
  Kref k(0);
  {
    testing::ExpectWarn w(1, "addition on 0");
    k.get();
  }
  int released = 0;
  {
    // Puts on a saturated count are reported (as refcount_t does) and leak the object.
    testing::ExpectWarn w(-1);
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(k.put([&] { ++released; }));
  }
  EXPECT_EQ(released, 0);
  EXPECT_GE(k.read(), Kref::kSaturated);
}

TEST(Kref, GetAtTheSaturationLimitWarnsAndSaturates) {
  Kref k(Kref::kSaturated);
  {
    testing::ExpectWarn w(1, "saturated");
    k.get();
  }
  EXPECT_GE(k.read(), Kref::kSaturated);
}

TEST(Kref, GetUnlessZeroOnASaturatedCountSucceedsWithoutWarning) {
  Kref k(Kref::kSaturated);
  EXPECT_TRUE(k.get_unless_zero());
  EXPECT_GE(k.read(), Kref::kSaturated);
}

TEST(Kref, PutUnderflowWarns) {
  Kref k;
  int released = 0;
  ASSERT_TRUE(k.put([&] { ++released; }));
  testing::ExpectWarn w(1, "underflow");
  k.put([&] { ++released; });
}

TEST(Kref, PutUnderflowDoesNotReleaseAgain) {
  Kref k;
  int released = 0;
  ASSERT_TRUE(k.put([&] { ++released; }));
  {
    testing::ExpectWarn w(1, "underflow");
    EXPECT_FALSE(k.put([&] { ++released; }));
  }
  EXPECT_EQ(released, 1);
  // The count is saturated, not wrapped to a small value that a later put could "release".
  EXPECT_GE(k.read(), Kref::kSaturated);
}

}  // namespace
}  // namespace udrm
