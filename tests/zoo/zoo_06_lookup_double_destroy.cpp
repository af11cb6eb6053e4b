// Zoo 6: a lookup takes a plain reference on a table object whose count already hit zero, so two racing final puts both see zero and both destroy it (refcount resurrection, double free).
//
// The uprobes race: the owner's put reaches zero; a client's lookup revives the object (plain
// get); that client's put reaches zero again; both destroy. The explorer finds the interleaving
// in its schedule search; the second devm_kfree is named by the devres layer (WARN). The fix,
// udrm::Lookup (get_unless_zero, one destructor that re-checks under the lock, reclaim after a
// grace period), comes back clean from the same search.
#include "zoo/zoo_lookup.h"

namespace udrm::zoo {
namespace {

TEST(Zoo06, TwoFinalPutsBothDestroyingIsNamed) {
#if defined(UDRM_ASAN)
  UDRM_ZOO_EXPECT_ASAN_REPORT(
      {
        LookupScenario sc(LookupVariant::plain_get, "zoo.06.lookup-double-destroy", "plain get revives a dying object");
        explore::Report rep;
        (void)zoo_finds(sc, "warn", &rep, lookup_options());
      },
      "zoo.fence");
  return;
#endif
  LookupScenario sc(LookupVariant::plain_get, "zoo.06.lookup-double-destroy", "plain get revives a dying object");
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "warn", &rep, lookup_options()));
  const std::string t = rep.text();
  EXPECT_NE(t.find("devm_kfree: "), std::string::npos) << t;
  EXPECT_NE(t.find("(foreign pointer or double free)"), std::string::npos) << t;
  EXPECT_NE(t.find("first seen in task main after zoo.fence.destroy"), std::string::npos) << t;
  // The first destroy's last write landed in memory the other destroy had already freed.
  EXPECT_NE(t.find("[devm-poison] write to released devm memory"), std::string::npos) << t;
  EXPECT_NE(t.find("devm 'zoo.fence'"), std::string::npos) << t;
}

// PCT used to report this correct grace-period wait as a livelock (strict priorities kept the
// polling task running); a task that yields in a polling wait (grace.wait) now drops below every
// other (SimStrategy::yielding). A clean run here takes well under 10k steps: the small budget
// makes a regression fail in a second instead of spinning to the default budget 200 times.
TEST(Zoo06, FixedControlWithLookupIsCleanUnderPct) {
  LookupScenario sc(LookupVariant::fixed, "zoo.06.fixed.pct", "udrm::Lookup under PCT");
  explore::Options o = zoo_options({});
  o.pct_runs_plain = 200;
  o.pct_depth = 3;
  o.step_budget = 100'000;
  explore::Report rep = explore::Explorer(sc, o).explore();
  EXPECT_TRUE(rep.ok()) << rep.text();
  EXPECT_EQ(rep.pct_runs, 200u) << rep.text();
}

TEST(Zoo06, FixedControlWithLookupSearchesClean) {
  LookupScenario sc(LookupVariant::fixed, "zoo.06.fixed", "udrm::Lookup");
  EXPECT_TRUE(zoo_clean(sc, lookup_options()));
}

}  // namespace
}  // namespace udrm::zoo
