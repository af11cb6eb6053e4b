// The udrm-soc display controller's PMU "udrm-soc-dc": counters follow the real vblanks, flips
// and commits of the display; a refresh-limited vblank event notifies exactly N times; unbinding
// the dc with events open puts them in the error state, the data lives until the last close,
// and a rebind registers a fresh PMU.
#include <gtest/gtest.h>

#include "soc/soc_test_util.h"
#include "udrm/kms/vblank.h"
#include "udrm/perf/perf_event.h"

namespace udrm::soctest {
namespace {

constexpr uint64_t kVblank = 0, kFlip = 1, kUnderrun = 2, kCommit = 3;

PerfEventAttr counting(uint64_t config) {
  PerfEventAttr a;
  a.config = config;
  a.disabled = false;
  return a;
}

uint64_t value(PerfEvent& ev) {
  uint64_t v = ~uint64_t(0);
  EXPECT_EQ(ev.read(&v), 0);
  return v;
}

TEST(SocPmu, CountsVblanksFlipsCommitsAndSurvivesUnbind) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    ASSERT_TRUE(pmu_registry(world).find("udrm-soc-dc"));
    DrmDevice& d = *disp->drm();
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);

    Ref<PerfEvent> vbl, flip, underrun, commits, sampler, bad;
    EXPECT_EQ(perf_event_open(world, "udrm-soc-dc", counting(4), &bad), -EINVAL);
    ASSERT_EQ(perf_event_open(world, "udrm-soc-dc", counting(kVblank), &vbl), 0);
    ASSERT_EQ(perf_event_open(world, "udrm-soc-dc", counting(kFlip), &flip), 0);
    ASSERT_EQ(perf_event_open(world, "udrm-soc-dc", counting(kUnderrun), &underrun), 0);
    ASSERT_EQ(perf_event_open(world, "udrm-soc-dc", counting(kCommit), &commits), 0);
    EXPECT_EQ(value(*vbl), 0u);

    Connector* hdmi = find_connector(d, "HDMI-A-1");
    ASSERT_NE(hdmi, nullptr);
    ASSERT_EQ(probe_connector(d, *hdmi), 3);
    auto mode = find_mode(*hdmi, 1024, 768);
    ASSERT_TRUE(mode);
    Crtc* crtc = mode_config(d)->crtcs[0];
    Fb a = make_fb(d, *f, 1024, 768, [](uint32_t x, uint32_t y) { return x ^ y; });
    Fb b = make_fb(d, *f, 1024, 768, [](uint32_t x, uint32_t y) { return x + y; });
    ASSERT_EQ(commit(*f, {.crtc = crtc, .conn = hdmi, .mode = &*mode, .fb = a.fb.get(), .user_data = 1}), 0);
    ASSERT_TRUE(wait_event(*f));
    read_events(*f);
    ASSERT_EQ(commit(*f, {.crtc = crtc, .fb = b.fb.get(), .user_data = 2, .nonblock = true}), 0);
    ASSERT_TRUE(wait_event(*f));
    read_events(*f);
    EXPECT_EQ(value(*commits), 2u);
    EXPECT_EQ(value(*flip), 2u);  // the modeset's and the flip's FLIP_DONE
    EXPECT_EQ(value(*underrun), 0u);

    // Keep the vblank interrupt on (a CRC capture holds a vblank reference): every vblank of
    // pipe 0 is one count (pipe 1 is off).
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    const uint64_t v0 = value(*vbl), c0 = crtc_vblank_count(*crtc);
    ASSERT_TRUE(crtc_wait_vblank_count_change(*crtc, c0, std::chrono::milliseconds(100)));
    sleep_for(std::chrono::milliseconds(100));
    const uint64_t v1 = value(*vbl), c1 = crtc_vblank_count(*crtc);
    EXPECT_GT(c1, c0 + 2);
    EXPECT_EQ(v1 - v0, c1 - c0);

    // Sampling: one overflow per 3 vblanks, refresh(2): exactly two notifications, then off.
    int notified = 0;
    PerfEventAttr sa;
    sa.config = kVblank;
    sa.sample_period = 3;
    sa.on_overflow = [&](PerfEvent&, const PerfNotification&) {
      EXPECT_FALSE(in_atomic());
      ++notified;
    };
    ASSERT_EQ(perf_event_open(world, "udrm-soc-dc", sa, &sampler), 0);
    ASSERT_EQ(sampler->refresh(2), 0);
    sleep_for(std::chrono::milliseconds(200));  // ~12 vblanks
    EXPECT_EQ(notified, 0) << "delivered only when the client's call returns";
    EXPECT_EQ(value(*sampler) >= 6, true);
    EXPECT_EQ(notified, 2);
    EXPECT_EQ(sampler->overflows(), 2u);
    EXPECT_EQ(sampler->state(), PerfEventState::off);
    crtc_crc_close(*crtc);

    // Unbind the dc with every event open.
    Ref<Pmu> pmu = pmu_registry(world).find("udrm-soc-dc");
    ASSERT_TRUE(pmu);
    ASSERT_EQ(disp->unbind("dc"), 0);
    EXPECT_FALSE(pmu->registered());
    EXPECT_FALSE(pmu_registry(world).find("udrm-soc-dc"));
    for (PerfEvent* e : {vbl.get(), flip.get(), underrun.get(), commits.get(), sampler.get()}) {
      EXPECT_EQ(e->state(), PerfEventState::error);
      uint64_t v = 0;
      EXPECT_EQ(e->read(&v), -ENODEV);
      EXPECT_EQ(e->enable(), -ENODEV);
      EXPECT_EQ(e->state(), PerfEventState::error) << "enable cannot revive it";
    }
    uint64_t v = 0;
    EXPECT_EQ(commits->read(&v), -ENODEV);
    EXPECT_GE(v, 2u);  // the final count (shutdown's commit included)
    EXPECT_EQ(sampler->refresh(1), -ENODEV);
    EXPECT_EQ(pmu->nr_events(), 5u);
    for (PerfEvent* e : {vbl.get(), flip.get(), underrun.get(), commits.get()}) EXPECT_EQ(e->close(), 0);
    EXPECT_EQ(pmu->refcount(), 2u);  // ours + the sampler's: the data is still there
    EXPECT_EQ(sampler->close(), 0);
    EXPECT_EQ(pmu->refcount(), 1u);
    pmu.reset();

    // Rebind: a fresh PMU, counting again.
    ASSERT_EQ(disp->rebind("dc"), 0);
    Ref<PerfEvent> again;
    ASSERT_EQ(perf_event_open(world, "udrm-soc-dc", counting(kCommit), &again), 0);
    EXPECT_EQ(value(*again), 0u);
    EXPECT_EQ(again->close(), 0);
    f->close();
    f.reset();
    a = {};
    b = {};
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::soctest
