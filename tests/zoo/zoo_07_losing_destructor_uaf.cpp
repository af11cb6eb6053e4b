// Zoo 7: the final put re-checks the count under the table lock before destroying, but the losing destructor does that re-check on an object the winning destructor already freed (read after free).
//
// The second uprobes race: with the re-check, only one destructor frees, but the loser reads
// the object (its count) after the winner freed it. The fix is reclaim after a grace period
// (udrm::Lookup): the loser's read happens before the memory can go — zoo_06's fixed control.
#include "zoo/zoo_lookup.h"

namespace udrm::zoo {
namespace {

TEST(Zoo07, LosingDestructorReadingFreedMemoryIsNamed) {
#if defined(UDRM_ASAN)
  GTEST_SKIP() << "under ASan the losing destructor's read aborts in ASan's own heap-use-after-free report instead";
#endif
  LookupScenario sc(LookupVariant::recheck_only, "zoo.07.losing-destructor-uaf",
                    "the loser re-checks freed memory");
  LookupScenario::loser_read_freed = 0;
  explore::Report rep;
  auto found = zoo_finds(sc, "", &rep, lookup_options());
  std::printf("[zoo] zoo.07: runs in which the loser read the freed object: %d\n", LookupScenario::loser_read_freed);
  if (rep.ok()) {
    ASSERT_GT(LookupScenario::loser_read_freed, 0) << "the search never reached the race window";
    GTEST_SKIP() << "NOT CAUGHT (finding): every schedule with <= 2 preemptions came back clean, although in some of them the loser did read the freed object (counted by the scenario itself). The loser only "
                    "READS the freed object (its count, under the table lock); released devm memory is checked "
                    "for writes only (pattern poisoning), so outside an ASan build no oracle sees a read after "
                    "free. Under ASan the read aborts in ASan's report instead.";
  }
  ASSERT_TRUE(found);
}

}  // namespace
}  // namespace udrm::zoo
