// EDID builder (bytes, checksums, round trip of detailed timings, extension block) and the
// DDC bus (reads at 0x50, segments, NAK / corruption / nothing attached).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/fakehw/ddc.h"
#include "udrm/fakehw/edid_builder.h"

namespace udrm::fakehw {
namespace {

using namespace std::chrono_literals;

TEST(Edid, BaseBlockBytes) {
  auto e = EdidBuilder()
               .manufacturer("UDR")
               .product(0x1234, 0xdeadbeef)
               .manufactured(10, 2024)
               .physical_size_mm(527, 296)
               .preferred(edid_timing_1920x1080_60())
               .add_timing(edid_timing_1280x720_60())
               .monitor_name("udrm monitor")
               .build();
  ASSERT_EQ(e.size(), 128u);
  const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
  EXPECT_EQ(std::memcmp(e.data(), header, 8), 0);
  // "UDR": U=21 D=4 R=18 → 0b0'10101'00100'10010 = 0x5492, big-endian.
  EXPECT_EQ(e[8], 0x54);
  EXPECT_EQ(e[9], 0x92);
  EXPECT_EQ(e[10], 0x34);
  EXPECT_EQ(e[11], 0x12);
  EXPECT_EQ(e[12], 0xef);
  EXPECT_EQ(e[15], 0xde);
  EXPECT_EQ(e[16], 10);
  EXPECT_EQ(e[17], 34);  // 2024 - 1990
  EXPECT_EQ(e[18], 1);
  EXPECT_EQ(e[19], 4);
  EXPECT_NE(e[20] & 0x80, 0);  // digital
  EXPECT_EQ(e[21], 53);        // cm
  EXPECT_EQ(e[22], 30);
  EXPECT_EQ(e[126], 0);        // no extension
  EXPECT_TRUE(edid_checksums_ok(e.data(), e.size()));
  // Descriptor 1: preferred 1080p: 148.50 MHz = 14850 × 10 kHz = 0x3a02.
  EXPECT_EQ(e[54], 0x02);
  EXPECT_EQ(e[55], 0x3a);
  EXPECT_EQ(edid_decode_timing(&e[54]), edid_timing_1920x1080_60());
  EXPECT_EQ(edid_decode_timing(&e[72]), edid_timing_1280x720_60());
  // Physical size in the DTD, in mm.
  EXPECT_EQ(e[54 + 12], 527 & 0xff);
  EXPECT_EQ(e[54 + 14] >> 4, 527 >> 8);
  // Descriptor 3: monitor name.
  EXPECT_EQ(e[90], 0);
  EXPECT_EQ(e[93], 0xfc);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&e[95]), 12), "udrm monitor");
  EXPECT_EQ(e[107], 0x0a);
  // Descriptor 4: dummy.
  EXPECT_EQ(e[111], 0x10);
}

TEST(Edid, ChecksumDetectsCorruption) {
  auto e = EdidBuilder().preferred(edid_timing_640x480_60()).build();
  ASSERT_TRUE(edid_checksums_ok(e.data(), e.size()));
  e[60] ^= 0x01;
  EXPECT_FALSE(edid_checksums_ok(e.data(), e.size()));
  EXPECT_FALSE(edid_checksums_ok(e.data(), 100));  // not whole blocks
  // 25.175 MHz is stored in 10 kHz units.
  e[60] ^= 0x01;
  EXPECT_EQ(edid_decode_timing(&e[54]).clock_khz, 25170u);
  EXPECT_FALSE(edid_decode_timing(&e[54]).hsync_positive);
}

TEST(Edid, ExtraTimingsGoToACtaExtension) {
  EdidBuilder b;
  b.preferred(edid_timing_1920x1080_60()).monitor_name("a-very-long-monitor-name");
  b.add_timing(edid_timing_1280x720_60()).add_timing(edid_timing_1024x768_60()).add_timing(edid_timing_640x480_60());
  auto e = b.build();
  ASSERT_EQ(e.size(), 256u);
  EXPECT_EQ(e[126], 1);
  EXPECT_TRUE(edid_checksums_ok(e.data(), e.size()));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&e[54 + 3 * 18 + 5]), 13), "a-very-long-m");
  EXPECT_EQ(e[128], 0x02);
  EXPECT_EQ(e[130], 4);
  EXPECT_EQ(e[131] & 0xf, 1);
  EdidTiming vga = edid_timing_640x480_60();
  vga.clock_khz = 25170;  // 10 kHz units
  EXPECT_EQ(edid_decode_timing(&e[128 + 4]), vga);
  // Extensions forbidden: the overflow timing is dropped.
  auto f = b.extension(false).build();
  EXPECT_EQ(f.size(), 128u);
  EXPECT_EQ(f[126], 0);
  EXPECT_TRUE(edid_checksums_ok(f.data(), f.size()));
  // Forced extension with nothing in it.
  auto g = EdidBuilder().preferred(edid_timing_640x480_60()).extension(true, true).build();
  ASSERT_EQ(g.size(), 256u);
  EXPECT_TRUE(edid_checksums_ok(g.data(), g.size()));
}

TEST(Ddc, ReadsEdidAt0x50WithOffsetsAndSegments) {
  SimExecutor sim;
  DdcBus ddc("hdmi.ddc");
  auto e = EdidBuilder().preferred(edid_timing_1920x1080_60()).add_timing(edid_timing_640x480_60())
               .add_timing(edid_timing_1280x720_60()).add_timing(edid_timing_1024x768_60())
               .monitor_name("x").build();
  ASSERT_EQ(e.size(), 256u);
  auto r = sim.run([&] {
    uint8_t buf[128];
    EXPECT_EQ(ddc.read(DdcBus::kEdidAddr, 0, buf, 8), -ENXIO);  // nothing attached
    ddc.attach(e);
    EXPECT_TRUE(ddc.attached());
    ASSERT_EQ(ddc.read_edid_block(0, buf), 0);
    EXPECT_EQ(std::memcmp(buf, e.data(), 128), 0);
    ASSERT_EQ(ddc.read_edid_block(1, buf), 0);
    EXPECT_EQ(std::memcmp(buf, e.data() + 128, 128), 0);
    ASSERT_EQ(ddc.read(DdcBus::kEdidAddr, 126, buf, 4), 0);  // crosses into block 1
    EXPECT_EQ(buf[0], e[126]);
    EXPECT_EQ(buf[3], e[129]);
    EXPECT_EQ(ddc.read(0x37, 0, buf, 1), -ENXIO);  // nobody at that address
    EXPECT_EQ(ddc.read_edid_block(2, buf), -ENXIO);  // segment 1 does not exist
    EXPECT_EQ(ddc.read(DdcBus::kEdidAddr, 0, buf, 0), -EINVAL);
    // Transfers take time on the bus.
    ddc.set_byte_time(90us);
    const TimePoint t0 = now();
    ASSERT_EQ(ddc.read_edid_block(0, buf), 0);
    EXPECT_EQ(now() - t0, 90us * 130);
    EXPECT_EQ(ddc.transfers(), 7u);  // the len-0 call never reached the bus
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Ddc, NakAndCorruptionFaults) {
  SimExecutor sim;
  DdcBus ddc("hdmi.ddc");
  auto e = EdidBuilder().preferred(edid_timing_1280x720_60()).build();
  ddc.attach(e);
  auto r = sim.run([&] {
    uint8_t buf[128];
    ddc.fault_nak(2);
    EXPECT_EQ(ddc.read_edid_block(0, buf), -ENXIO);
    EXPECT_EQ(ddc.read_edid_block(0, buf), -ENXIO);
    ASSERT_EQ(ddc.read_edid_block(0, buf), 0);  // retry succeeds
    EXPECT_TRUE(edid_checksums_ok(buf, 128));
    ddc.fault_corrupt(60, 0x40);
    ASSERT_EQ(ddc.read_edid_block(0, buf), 0);
    EXPECT_EQ(buf[60], e[60] ^ 0x40);
    EXPECT_FALSE(edid_checksums_ok(buf, 128));
    ddc.clear_faults();
    ASSERT_EQ(ddc.read_edid_block(0, buf), 0);
    EXPECT_TRUE(edid_checksums_ok(buf, 128));
    ddc.detach();
    EXPECT_EQ(ddc.read_edid_block(0, buf), -ENXIO);
    EXPECT_TRUE(ddc.edid().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::fakehw
