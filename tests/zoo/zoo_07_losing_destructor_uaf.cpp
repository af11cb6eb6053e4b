// Zoo 7: the final put re-checks the count under the table lock before destroying, but the losing destructor does that re-check on an object the winning destructor already freed (read after free).
//
// The second uprobes race: with the re-check, only one destructor frees, but the loser reads
// the object (its count) after the winner freed it. The fix is reclaim after a grace period
// (udrm::Lookup): the loser's read happens before the memory can go — zoo_06's fixed control.
// The loser only READS: the explorer's guarded quarantine (released devm blocks on
// inaccessible pages, as KFENCE does) faults on the read and names it.
#include "zoo/zoo_lookup.h"

namespace udrm::zoo {
namespace {

TEST(Zoo07, LosingDestructorReadingFreedMemoryIsNamed) {
#if defined(UDRM_ASAN)
  UDRM_ZOO_EXPECT_ASAN_REPORT(
      {
        LookupScenario sc(LookupVariant::recheck_only, "zoo.07.losing-destructor-uaf", "the loser re-checks freed memory");
        explore::Report rep;
        (void)zoo_finds(sc, "devm-poison", &rep, lookup_options());
      },
      "zoo.fence");
#elif defined(UDRM_TSAN)
  GTEST_SKIP() << "TSan builds keep the write-only pattern check (the TSan runtime owns SIGSEGV, which the guarded "
                  "quarantine needs); the plain and ASan builds catch this entry";
#else
  LookupScenario sc(LookupVariant::recheck_only, "zoo.07.losing-destructor-uaf",
                    "the loser re-checks freed memory");
  LookupScenario::loser_read_freed = 0;
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "devm-poison", &rep, lookup_options())) << rep.text();
  EXPECT_GT(LookupScenario::loser_read_freed, 0);
  const std::string t = rep.text();
  EXPECT_NE(t.find("read of released devm memory"), std::string::npos) << t;
  EXPECT_NE(t.find("devm 'zoo.fence'"), std::string::npos) << t;
  EXPECT_NE(t.find("of 'zoo.07.losing-destructor-uaf' released in task client after point zoo.fence.destroy"),
            std::string::npos)
      << t;
#endif
}

}  // namespace
}  // namespace udrm::zoo
