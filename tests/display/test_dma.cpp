// DMA address space: reads of unmapped / since-unmapped / out-of-range memory are violations
// naming the buffer and the release point; unmapping a buffer the hardware holds is caught.
#include <gtest/gtest.h>

#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/world.h"
#include "udrm/fakehw/dma.h"
#include "udrm/testing/warn.h"

namespace udrm::fakehw {
namespace {

bool has(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

TEST(Dma, MapReadUnmap) {
  SimExecutor sim;
  World w(sim);
  DmaSpace dma(w, "dc0.dma");
  std::vector<uint8_t> buf(100);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i);
  const dma_addr_t a = dma.map(buf.data(), buf.size(), "fb-1");
  ASSERT_NE(a, kDmaMappingError);
  EXPECT_EQ(a % 4096, 0u);
  EXPECT_EQ(dma.live_mappings(), 1u);
  uint8_t out[10];
  EXPECT_TRUE(dma.read(a + 90, out, 10, "reader"));
  EXPECT_EQ(out[9], 99);
  EXPECT_EQ(dma.view(a, 100, "reader"), buf.data());
  const dma_addr_t b = dma.map(buf.data(), 1, "fb-2");
  EXPECT_GT(b, a + 100);  // never overlapping, never reused
  EXPECT_EQ(dma.buffer_at(b), "fb-2");
  EXPECT_EQ(dma.unmap(a, "gem free"), 0);
  EXPECT_EQ(dma.unmap(b), 0);
  EXPECT_EQ(dma.live_mappings(), 0u);
  EXPECT_EQ(dma.map(nullptr, 4, "x"), kDmaMappingError);
  EXPECT_EQ(dma.map(buf.data(), 0, "x"), kDmaMappingError);
  {
    testing::ExpectWarn warn(1, "already unmapped at gem free");
    EXPECT_EQ(dma.unmap(a), -EINVAL);
  }
  EXPECT_TRUE(w.violations().empty());
}

TEST(Dma, ReadAfterUnmapIsAViolationNamingBufferAndReleasePoint) {
  SimExecutor sim;
  World w(sim);
  DmaSpace dma(w, "dc0.dma");
  std::vector<uint8_t> buf(64, 0xaa);
  const dma_addr_t a = dma.map(buf.data(), buf.size(), "fb-7");
  ASSERT_EQ(dma.unmap(a, "drm_gem_dma_free of fb 7"), 0);
  uint8_t out[16];
  {
    testing::ExpectWarn warn(1, "fb-7");
    EXPECT_FALSE(dma.read(a + 16, out, 16, "dc0 pipe0 primary"));
    EXPECT_EQ(out[0], 0);  // zeros, not the stale memory
    EXPECT_FALSE(dma.read(a, out, 16, "dc0 pipe0 primary"));  // same reader: reported once
  }
  auto v = w.violations();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "dma-after-unmap");
  EXPECT_TRUE(has(v[0].message, "fb-7")) << v[0].message;
  EXPECT_TRUE(has(v[0].message, "drm_gem_dma_free of fb 7")) << v[0].message;
  EXPECT_TRUE(has(v[0].message, "dc0 pipe0 primary")) << v[0].message;
}

TEST(Dma, OutOfBoundsAndNeverMapped) {
  SimExecutor sim;
  World w(sim);
  DmaSpace dma(w, "dc0.dma");
  std::vector<uint8_t> buf(64);
  const dma_addr_t a = dma.map(buf.data(), buf.size(), "cursor");
  {
    testing::ExpectWarn warn(2);
    EXPECT_EQ(dma.view(a + 32, 64, "dc0 pipe0 cursor"), nullptr);  // runs past the end
    EXPECT_EQ(dma.view(0x1000, 4, "dc0 pipe0 primary"), nullptr);  // nothing there
    EXPECT_EQ(dma.view(0x1000, 4, "dc0 pipe0 primary"), nullptr);  // once
  }
  auto v = w.violations();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].kind, "dma-out-of-bounds");
  EXPECT_TRUE(has(v[0].message, "cursor")) << v[0].message;
  EXPECT_EQ(v[1].kind, "dma-unmapped");
  dma.unmap(a);
}

TEST(Dma, UnmapWhileTheHardwareHoldsItIsCaught) {
  SimExecutor sim;
  World w(sim);
  DmaSpace dma(w, "dc0.dma");
  std::vector<uint8_t> buf(64);
  const dma_addr_t a = dma.map(buf.data(), buf.size(), "fb-3");
  dma.hw_hold(a, "dc0 pipe1 overlay");
  dma.hw_hold(a, "dc0 pipe1 overlay");
  dma.hw_release(a, "dc0 pipe1 overlay");  // one hold left
  {
    testing::ExpectWarn warn(1, "still scans it out");
    EXPECT_EQ(dma.unmap(a, "rmfb"), 0);
  }
  auto v = w.violations();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "dma-unmap-while-scanned");
  EXPECT_TRUE(has(v[0].message, "fb-3") && has(v[0].message, "dc0 pipe1 overlay") && has(v[0].message, "rmfb"))
      << v[0].message;
  // Released before unmap: fine.
  const dma_addr_t b = dma.map(buf.data(), buf.size(), "fb-4");
  dma.hw_hold(b, "h");
  dma.hw_release(b, "h");
  EXPECT_EQ(dma.unmap(b), 0);
  EXPECT_EQ(w.violations().size(), 1u);
}

}  // namespace
}  // namespace udrm::fakehw
