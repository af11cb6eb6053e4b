// Composition: every format with exact pixels, alpha blending, clipping, scaling, zpos, CRC.
#include <gtest/gtest.h>
#include <drm_fourcc.h>

#include <boost/crc.hpp>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/fakehw/compose.h"

namespace udrm::fakehw {
namespace {

PlaneDesc plane(uint32_t fourcc, const void* px, uint32_t pitch, uint32_t w, uint32_t h, int32_t x = 0, int32_t y = 0) {
  PlaneDesc p;
  p.fourcc = fourcc;
  p.pixels = px;
  p.pitch = pitch;
  p.src = {0, 0, w, h};
  p.dst = {x, y, w, h};
  return p;
}

TEST(Compose, Xrgb8888CopiesAndDropsTheXByte) {
  std::vector<uint32_t> px = {0xab112233, 0x00445566, 0xffffffff, 0x00000000};
  Composer c;
  PlaneDesc p = plane(DRM_FORMAT_XRGB8888, px.data(), 8, 2, 2);
  ASSERT_EQ(c.compose(2, 2, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(0, 0), 0x112233u);
  EXPECT_EQ(c.pixel(1, 0), 0x445566u);
  EXPECT_EQ(c.pixel(0, 1), 0xffffffu);
  EXPECT_EQ(c.pixel(1, 1), 0u);
}

TEST(Compose, Xbgr8888SwapsRedAndBlue) {
  std::vector<uint32_t> px = {0x00112233};  // R=0x33 G=0x22 B=0x11 in XBGR
  Composer c;
  PlaneDesc p = plane(DRM_FORMAT_XBGR8888, px.data(), 4, 1, 1);
  ASSERT_EQ(c.compose(1, 1, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(0, 0), 0x332211u);
}

TEST(Compose, Rgb565ExpandsTo8Bits) {
  std::vector<uint16_t> px = {0xf800, 0x07e0, 0x001f, 0x8410};
  Composer c;
  PlaneDesc p = plane(DRM_FORMAT_RGB565, px.data(), 8, 4, 1);
  ASSERT_EQ(c.compose(4, 1, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(0, 0), 0xff0000u);
  EXPECT_EQ(c.pixel(1, 0), 0x00ff00u);
  EXPECT_EQ(c.pixel(2, 0), 0x0000ffu);
  EXPECT_EQ(c.pixel(3, 0), 0x848284u);
}

TEST(Compose, ArgbPremultipliedBlendsOverLowerPlane) {
  std::vector<uint32_t> white(4, 0x00ffffff);
  std::vector<uint32_t> over = {0x80800000, 0xff00ff00, 0x00000000, 0x80000080};  // pre-multiplied
  Composer c;
  PlaneDesc planes[2] = {plane(DRM_FORMAT_XRGB8888, white.data(), 16, 4, 1),
                         plane(DRM_FORMAT_ARGB8888, over.data(), 16, 4, 1)};
  planes[1].zpos = 1;
  ASSERT_EQ(c.compose(4, 1, planes), 0);
  EXPECT_EQ(c.pixel(0, 0), 0xff7f7fu);  // 0x80 + 0xff·(127/255) = 0xff; 0 + 0x7f
  EXPECT_EQ(c.pixel(1, 0), 0x00ff00u);  // opaque
  EXPECT_EQ(c.pixel(2, 0), 0xffffffu);  // fully transparent
  EXPECT_EQ(c.pixel(3, 0), 0x7f7fffu);
}

TEST(Compose, ArgbCoverageAndPlaneAlpha) {
  std::vector<uint32_t> black(1, 0);
  std::vector<uint32_t> over = {0x80ff0000};
  Composer c;
  PlaneDesc planes[2] = {plane(DRM_FORMAT_XRGB8888, black.data(), 4, 1, 1),
                         plane(DRM_FORMAT_ARGB8888, over.data(), 4, 1, 1)};
  planes[1].zpos = 1;
  planes[1].blend = BlendMode::coverage;
  ASSERT_EQ(c.compose(1, 1, planes), 0);
  EXPECT_EQ(c.pixel(0, 0), 0x800000u);  // 0xff · 128/255
  planes[1].blend = BlendMode::none;  // pixel alpha ignored
  ASSERT_EQ(c.compose(1, 1, planes), 0);
  EXPECT_EQ(c.pixel(0, 0), 0xff0000u);
  planes[1].alpha = 0x8000;  // half plane alpha over black
  ASSERT_EQ(c.compose(1, 1, planes), 0);
  EXPECT_EQ(c.pixel(0, 0), 0x800000u);
  // Abgr8888 through the same path.
  std::vector<uint32_t> abgr = {0xff0000ff};  // opaque red in ABGR
  PlaneDesc p = plane(DRM_FORMAT_ABGR8888, abgr.data(), 4, 1, 1);
  ASSERT_EQ(c.compose(1, 1, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(0, 0), 0xff0000u);
}

TEST(Compose, ZposOrdersPlanesNotListOrder) {
  std::vector<uint32_t> red(1, 0x00ff0000), blue(1, 0x000000ff);
  Composer c;
  PlaneDesc planes[2] = {plane(DRM_FORMAT_XRGB8888, red.data(), 4, 1, 1),
                         plane(DRM_FORMAT_XRGB8888, blue.data(), 4, 1, 1)};
  planes[0].zpos = 2;
  planes[1].zpos = 1;
  ASSERT_EQ(c.compose(1, 1, planes), 0);
  EXPECT_EQ(c.pixel(0, 0), 0xff0000u);
  planes[0].zpos = 0;
  ASSERT_EQ(c.compose(1, 1, planes), 0);
  EXPECT_EQ(c.pixel(0, 0), 0x0000ffu);
}

TEST(Compose, ClipsAtEveryEdge) {
  // 4×4 source, pixel value encodes its coordinates.
  std::vector<uint32_t> src(16);
  for (uint32_t y = 0; y < 4; ++y)
    for (uint32_t x = 0; x < 4; ++x) src[y * 4 + x] = (x << 8) | y | 0x100000;
  Composer c;
  PlaneDesc p = plane(DRM_FORMAT_XRGB8888, src.data(), 16, 4, 4, -2, -1);
  ASSERT_EQ(c.compose(4, 4, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(0, 0), 0x100000u | (2 << 8) | 1);
  EXPECT_EQ(c.pixel(1, 2), 0x100000u | (3 << 8) | 3);
  EXPECT_EQ(c.pixel(2, 0), 0u);  // beyond the plane's right edge: background
  EXPECT_EQ(c.pixel(0, 3), 0u);
  p.dst = {3, 3, 4, 4};  // mostly off the bottom-right
  ASSERT_EQ(c.compose(4, 4, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(3, 3), 0x100000u);
  EXPECT_EQ(c.pixel(2, 3), 0u);
  p.dst = {10, 10, 4, 4};  // entirely off screen
  ASSERT_EQ(c.compose(4, 4, {&p, 1}), 0);
  EXPECT_EQ(c.crc(), frame_crc(std::vector<uint32_t>(16, 0).data(), 64));
}

TEST(Compose, SrcRectAndNearestScaling) {
  std::vector<uint32_t> src = {1, 2, 3, 4};  // 2×2
  Composer c;
  PlaneDesc p = plane(DRM_FORMAT_XRGB8888, src.data(), 8, 2, 2);
  p.dst = {0, 0, 4, 4};
  ASSERT_EQ(c.compose(4, 4, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(0, 0), 1u);
  EXPECT_EQ(c.pixel(1, 1), 1u);
  EXPECT_EQ(c.pixel(2, 1), 2u);
  EXPECT_EQ(c.pixel(3, 3), 4u);
  p.src = {1, 1, 1, 1};  // just pixel (1,1)
  p.dst = {1, 1, 1, 1};
  ASSERT_EQ(c.compose(4, 4, {&p, 1}), 0);
  EXPECT_EQ(c.pixel(1, 1), 4u);
  EXPECT_EQ(c.pixel(0, 0), 0u);
}

TEST(Compose, CrcIsStableAndSeesOnePixel) {
  std::vector<uint32_t> px(64 * 48);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint32_t>(i * 2654435761u) & 0xffffff;
  Composer a, b;
  PlaneDesc p = plane(DRM_FORMAT_XRGB8888, px.data(), 64 * 4, 64, 48);
  ASSERT_EQ(a.compose(64, 48, {&p, 1}), 0);
  ASSERT_EQ(b.compose(64, 48, {&p, 1}), 0);
  EXPECT_EQ(a.crc(), b.crc());
  EXPECT_EQ(a.crc(), frame_crc(a.frame().data(), a.frame().size() * 4));
  const uint32_t before = a.crc();
  px[31 * 64 + 17] ^= 1;  // one bit of one pixel
  ASSERT_EQ(a.compose(64, 48, {&p, 1}), 0);
  EXPECT_NE(a.crc(), before);
  px[31 * 64 + 17] ^= 1;
  ASSERT_EQ(a.compose(64, 48, {&p, 1}), 0);
  EXPECT_EQ(a.crc(), before);
  // Changing only the X byte does not change what is on screen.
  px[0] |= 0x7f000000;
  ASSERT_EQ(a.compose(64, 48, {&p, 1}), 0);
  EXPECT_EQ(a.crc(), before);
  // The CRC function is CRC-32/IEEE.
  EXPECT_EQ(frame_crc("123456789", 9), 0xcbf43926u);
  std::vector<uint8_t> bytes(1031);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  for (size_t len : {0u, 1u, 7u, 8u, 9u, 1000u, 1031u}) {
    boost::crc_32_type ref;
    ref.process_bytes(bytes.data(), len);
    EXPECT_EQ(frame_crc(bytes.data(), len), ref.checksum()) << len;  // identical to Boost.CRC
  }
}

TEST(Compose, RejectsBadInput) {
  std::vector<uint32_t> px(4);
  Composer c;
  PlaneDesc p = plane(DRM_FORMAT_NV12, px.data(), 8, 2, 2);
  EXPECT_EQ(c.compose(2, 2, {&p, 1}), -EINVAL);
  EXPECT_FALSE(compose_format_supported(DRM_FORMAT_NV12));
  EXPECT_TRUE(compose_format_supported(DRM_FORMAT_RGB565));
  EXPECT_EQ(compose_formats().size(), 5u);
  p = plane(DRM_FORMAT_XRGB8888, px.data(), 4, 2, 2);  // pitch too small for src width
  EXPECT_EQ(c.compose(2, 2, {&p, 1}), -EINVAL);
  EXPECT_EQ(c.compose(0, 2, {}), -EINVAL);
  p = plane(DRM_FORMAT_XRGB8888, px.data(), 8, 0, 2);  // zero-size: skipped
  EXPECT_EQ(c.compose(2, 2, {&p, 1}), 0);
}

}  // namespace
}  // namespace udrm::fakehw
