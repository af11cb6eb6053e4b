// Tests of the fuzz harness's own parts (decoder.h, oracle.h, harness.h): the input format
// round-trips and every byte string decodes, the errno rules reject what the kernel never
// answers, and an input that reaches the display runs clean on both drivers.
#include <drm.h>
#include <drm_mode.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "decoder.h"
#include "harness.h"
#include "oracle.h"

namespace udrm::fuzz {
namespace {

std::vector<Op> decode_all(const std::vector<uint8_t>& in, Config* cfg = nullptr) {
  Decoder d(in.data(), in.size());
  Config c = d.config();
  if (cfg) *cfg = c;
  std::vector<Op> ops;
  Op op;
  while (d.next(&op)) ops.push_back(op);
  return ops;
}

TEST(FuzzDecoder, EncoderRoundTripsEveryOp) {
  Encoder e(Config{true, true});
  const uint8_t arg[3] = {1, 2, 3};
  e.open(true);
  e.close(3);
  e.ioctl_row(1, 7, 300, arg, sizeof(arg));
  e.ioctl_raw(2, 0xdeadbeef, 5, arg, 2);
  e.poke(70000, arg, 1);
  e.mmap(1, 0x100000000ull, 4096, 3);
  e.munmap(4);
  e.fill(5, 6);
  e.read(2, 512, 128);
  e.unbind(1);
  e.rebind(2);
  e.remove();
  e.rescan();
  e.tick(17);
  Config cfg;
  const std::vector<Op> ops = decode_all(e.bytes(), &cfg);
  EXPECT_TRUE(cfg.soc);
  EXPECT_TRUE(cfg.hdmi_unplugged);
  ASSERT_EQ(ops.size(), 14u);
  EXPECT_EQ(ops[0].kind, OpKind::open);
  EXPECT_EQ(ops[0].file, 1);
  EXPECT_EQ(ops[1].kind, OpKind::close);
  EXPECT_EQ(ops[1].file, 3);
  EXPECT_EQ(ops[2].kind, OpKind::ioctl);
  EXPECT_EQ(ops[2].cmdsel, 7);
  EXPECT_EQ(ops[2].ptr, PtrMode::arena);
  EXPECT_EQ(ops[2].ptr_value, 300u);
  ASSERT_EQ(ops[2].data_len, 3u);
  EXPECT_EQ(std::memcmp(ops[2].data, arg, 3), 0);
  EXPECT_EQ(ops[3].cmdsel, kRawCmd);
  EXPECT_EQ(ops[3].raw_cmd, 0xdeadbeefu);
  EXPECT_EQ(ops[3].data_len, 2u);
  EXPECT_EQ(ops[4].kind, OpKind::poke);
  EXPECT_EQ(ops[4].off, 70000u);
  EXPECT_EQ(ops[5].kind, OpKind::mmap);
  EXPECT_EQ(ops[5].off, 0x100000000ull);
  EXPECT_EQ(ops[5].len, 4096u);
  EXPECT_EQ(ops[5].seed, 3);
  EXPECT_EQ(ops[6].kind, OpKind::munmap);
  EXPECT_EQ(ops[7].kind, OpKind::fill);
  EXPECT_EQ(ops[7].seed, 6);
  EXPECT_EQ(ops[8].kind, OpKind::read);
  EXPECT_EQ(ops[8].len, 512u);
  EXPECT_EQ(ops[8].off, 128u);
  EXPECT_EQ(ops[9].kind, OpKind::unbind);
  EXPECT_EQ(ops[10].kind, OpKind::rebind);
  EXPECT_EQ(ops[11].kind, OpKind::remove);
  EXPECT_EQ(ops[12].kind, OpKind::rescan);
  EXPECT_EQ(ops[13].kind, OpKind::tick);
  EXPECT_EQ(ops[13].seed, 16);  // ms - 1
}

TEST(FuzzDecoder, EveryPrefixDecodesAndDropsOnlyTheTruncatedOp) {
  Encoder e(Config{});
  std::vector<uint8_t> arg(200, 0xab);
  std::vector<std::size_t> ends;  // input size after each op
  e.open(false);
  ends.push_back(e.size());
  e.ioctl_row(0, 3, 1000, arg.data(), arg.size());
  ends.push_back(e.size());
  e.poke(9, arg.data(), 20);
  ends.push_back(e.size());
  e.tick(5);
  ends.push_back(e.size());
  const std::vector<uint8_t> all = e.bytes();
  for (std::size_t n = 0; n <= all.size(); ++n) {
    std::vector<uint8_t> in(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    std::size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= n) ++whole;
    EXPECT_EQ(decode_all(in).size(), whole) << "prefix of " << n << " bytes";
  }
}

TEST(FuzzDecoder, OversizedLengthsEndTheInput) {
  // An ioctl whose varint length is above the arena size cannot be satisfied: decoding stops.
  std::vector<uint8_t> in = {0, static_cast<uint8_t>(OpKind::ioctl), 0, 0, 1 /* null */,
                             0xff, 0xff, 0xff, 0xff, 0x0f};
  EXPECT_TRUE(decode_all(in).empty());
  // Opcodes wrap modulo the op count.
  in = {0, static_cast<uint8_t>(kOpCount + static_cast<unsigned>(OpKind::remove))};
  auto ops = decode_all(in);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].kind, OpKind::remove);
}

TEST(FuzzOracle, KernelOrderOfChecks) {
  CallState open_master;
  open_master.master = true;
  CallState closed;
  closed.closed = true;
  CallState unplugged;
  unplugged.unplugged = true;
  CallState render;
  render.render = true;
  const uint32_t getres = DRM_IOCTL_MODE_GETRESOURCES;
  const uint32_t setcrtc = DRM_IOCTL_MODE_SETCRTC;

  EXPECT_EQ(check_ioctl_result(getres, -EBADF, closed), nullptr);
  EXPECT_NE(check_ioctl_result(getres, 0, closed), nullptr);
  EXPECT_EQ(check_ioctl_result(getres, -ENODEV, unplugged), nullptr);
  EXPECT_NE(check_ioctl_result(getres, -EINVAL, unplugged), nullptr);
  // Not type 'd': -ENOTTY only.
  EXPECT_EQ(check_ioctl_result(_IOWR('x', 1, int), -ENOTTY, open_master), nullptr);
  EXPECT_NE(check_ioctl_result(_IOWR('x', 1, int), -EINVAL, open_master), nullptr);
  // Driver-private numbers: -EINVAL only.
  EXPECT_EQ(check_ioctl_result(DRM_IOWR(DRM_COMMAND_BASE + 1, int), -EINVAL, open_master), nullptr);
  EXPECT_NE(check_ioctl_result(DRM_IOWR(DRM_COMMAND_BASE + 1, int), -ENOTTY, open_master), nullptr);
  // A master-only row on a non-master file, a non-render row on a render node: -EACCES.
  EXPECT_NE(check_ioctl_result(setcrtc, -EINVAL, CallState{}), nullptr);
  EXPECT_EQ(check_ioctl_result(setcrtc, -EACCES, CallState{}), nullptr);
  EXPECT_NE(check_ioctl_result(getres, -ENOENT, render), nullptr);
  // Never -EAGAIN, never an unknown errno, never -ENOTTY for a DRM number.
  EXPECT_NE(check_ioctl_result(getres, -EAGAIN, open_master), nullptr);
  EXPECT_NE(check_ioctl_result(getres, -EDEADLK, open_master), nullptr);
  EXPECT_NE(check_ioctl_result(getres, -ENOTTY, open_master), nullptr);
  EXPECT_NE(check_ioctl_result(getres, -12345, open_master), nullptr);
  EXPECT_EQ(check_ioctl_result(getres, -EFAULT, open_master), nullptr);
  EXPECT_EQ(check_ioctl_result(getres, 0, open_master), nullptr);
  EXPECT_EQ(check_ioctl_result(setcrtc, -ERANGE, open_master), nullptr);
}

TEST(FuzzOracle, TableRows) {
  ASSERT_GT(ioctl_rows(), 40u);
  for (unsigned r = 0; r < ioctl_rows(); ++r) EXPECT_EQ(ioctl_row_of(ioctl_row_cmd(r)), static_cast<int>(r));
  EXPECT_GE(ioctl_row_of(DRM_IOCTL_MODE_ATOMIC), 0);
  EXPECT_EQ(ioctl_row_of(0x12345678u), -1);
}

// A session that does something on both drivers runs clean; this is what the corpus replay
// relies on, and it counts what it did.
TEST(FuzzHarness, OpensModesetsAndClosesOnBothDrivers) {
  init();
  for (bool soc : {false, true}) {
    Encoder e(Config{soc, false});
    e.open(false);
    drm_version v{};
    e.ioctl_row(0, static_cast<uint8_t>(ioctl_row_of(DRM_IOCTL_VERSION)), 64, reinterpret_cast<uint8_t*>(&v), sizeof(v));
    drm_mode_card_res res{};
    e.ioctl_row(0, static_cast<uint8_t>(ioctl_row_of(DRM_IOCTL_MODE_GETRESOURCES)), 64,
                reinterpret_cast<uint8_t*>(&res), sizeof(res));
    e.tick(20);
    e.unbind(0);
    e.rebind(0);
    e.open(true);
    e.close(0);
    const uint64_t before = stats().ioctls_ok;
    const uint64_t unbinds = stats().unbinds;
    run_input(e.bytes().data(), e.size());
    EXPECT_EQ(stats().ioctls_ok, before + 2) << (soc ? "soc" : "simple");
    EXPECT_EQ(stats().unbinds, unbinds + 1);
  }
}

}  // namespace
}  // namespace udrm::fuzz
