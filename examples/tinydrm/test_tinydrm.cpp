// The tests of udrm-tiny (examples/tinydrm): (a) a flip with an event on the simulated
// executor, the event arriving at the next TE interrupt; (b) the explorer sweeping unbind,
// unplug, close, rebind and fail-nth over every point of a commit, clean, with coverage;
// (c) the two deliberate bugs of TinyBugs, each caught by the explorer.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <drm.h>
#include <drm_fourcc.h>
#include <drm_mode.h>

#include "tinydrm.h"
#include "udrm/base/errno.h"
#include "udrm/base/executor.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/scenarios.h"
#include "udrm/explore/explorer.h"
#include "udrm/fakehw/board.h"
#include "udrm/testing/explore.h"
#include "udrm/testing/kms_client.h"
#include "udrm/testing/warn.h"

namespace udrm::examples::tiny {
namespace {

using namespace std::chrono_literals;
using testing::KmsClient;

constexpr Duration kFrame = 20ms;  // 320x240, 400x250 at 5 MHz

/// The reference commit scenario (drivers/scenarios: nonblocking flip with an event, wait for
/// it, WAIT_VBLANK, close; the end checks of DisplayScenario) on the tiny display: only the
/// display it binds (make_display) and the driver's point prefixes differ.
class TinyCommitScenario : public drivers::CommitScenario {
 public:
  TinyCommitScenario(std::string name, TinyBugs bugs)
      : CommitScenario(drivers::Kind::simple /* unused: make_display is ours */, std::move(name)), bugs_(bugs) {}

  std::unique_ptr<drivers::Display> make_display(World& world) override { return create_tiny_display(world, bugs_); }

  // After unbind returned, a "tiny." point is a driver callback on a dead binding, except the
  // last close: files outlive the binding, so lastclose legitimately runs later.
  std::vector<std::string> driver_points() const override { return {"tiny."}; }
  std::vector<std::string> release_points() const override { return {"tiny.lastclose"}; }

 private:
  TinyBugs bugs_;
};

/// Explorer options for these tests: the gtest seed and UDRM_EXPLORE_* knobs, no token files
/// for the expected bugs.
explore::Options options(bool write_tokens) {
  explore::Options o = udrm::testing::explore_options();
  if (!write_tokens) o.replay_dir = "-";
  return o;
}

std::vector<uint32_t> memwr_values(fakehw::Board& b) {
  std::vector<uint32_t> out;
  for (const auto& a : b.mmio(kDbiName)->writes())
    if (a.offset == kRegMemWr) out.push_back(a.value);
  return out;
}

// (a) Probe, modeset, a nonblocking flip with an event: the frame is uploaded, the event comes
// with the next TE interrupt (within one frame), and after close + unbind nothing is left on.
TEST(TinyDrm, FlipEventArrivesWithTheNextTeInterrupt) {
  SimExecutor sim;
  auto r = sim.run([&] {
    World world(sim);
    auto d = create_tiny_display(world);
    ASSERT_EQ(d->bind(), 0);
    fakehw::Board& board = d->board();
    Ref<DrmFile> f;
    ASSERT_EQ(d->open(&f), 0);
    KmsClient c(f);
    ASSERT_EQ(c.enable_atomic(), 0);
    drm_version v{};
    char name[32] = {};
    v.name = name;
    v.name_len = sizeof name - 1;
    ASSERT_EQ(c.ioctl(DRM_IOCTL_VERSION, &v), 0);
    EXPECT_STREQ(name, kDriverName);

    KmsClient::Resources res;
    ASSERT_EQ(c.get_resources(&res), 0);
    ASSERT_EQ(res.crtcs.size(), 1u);
    ASSERT_EQ(res.connectors.size(), 1u);
    KmsClient::Connector conn;
    ASSERT_EQ(c.get_connector(res.connectors[0], &conn), 0);
    ASSERT_EQ(conn.modes.size(), 1u);
    EXPECT_EQ(conn.modes[0].hdisplay, kWidth);
    EXPECT_EQ(conn.modes[0].vdisplay, kHeight);
    const uint32_t plane = c.find_plane(0, 1);
    ASSERT_NE(plane, 0u);
    KmsClient::Dumb buf[2];
    uint32_t fb[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(c.create_dumb(kWidth, kHeight, 32, &buf[i]), 0);
      ASSERT_EQ(c.add_fb(buf[i], DRM_FORMAT_XRGB8888, &fb[i]), 0);
    }
    ASSERT_EQ(c.atomic_modeset(res.crtcs[0], res.connectors[0], plane, fb[0], conn.modes[0],
                               DRM_MODE_ATOMIC_ALLOW_MODESET),
              0);
    fakehw::DsiPanel& panel = *board.panel(kPanelName);
    EXPECT_TRUE(panel.display_on()) << "the modeset's enable powered the panel up";
    ASSERT_FALSE(memwr_values(board).empty());
    EXPECT_EQ(memwr_values(board).back(), fb[0]);

    fakehw::IrqLine& te = *board.irq(kTeIrqName);
    const uint64_t te_before = te.handled();
    const TimePoint t0 = now();
    ASSERT_EQ(c.atomic_flip(plane, fb[1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 42), 0);
    std::vector<drm_event_vblank> events;
    TimePoint t_event{};
    for (int i = 0; i < 200 && events.empty(); ++i) {
      events = c.read_events();
      if (events.empty()) sleep_for(1ms);
      else t_event = now();
    }
    ASSERT_EQ(events.size(), 1u) << "one flip, one event";
    EXPECT_EQ(events[0].base.type, DRM_EVENT_FLIP_COMPLETE);
    EXPECT_EQ(events[0].user_data, 42u);
    EXPECT_GT(te.handled(), te_before) << "the event came from the TE interrupt";
    EXPECT_LE(t_event - t0, kFrame + 1ms) << "the event waits for the next TE, not longer";
    EXPECT_EQ(memwr_values(board).back(), fb[1]) << "the flip uploaded the new buffer";

    // The client exits, the driver unbinds: everything back to off, the device freed.
    for (auto& b : buf) f->munmap(b.map, b.size);
    EXPECT_EQ(c.close(), 0);
    ASSERT_EQ(d->unbind(), 0);
    sleep_for(20ms);
    EXPECT_TRUE(d->leaks().empty()) << ::testing::PrintToString(d->leaks());
    EXPECT_FALSE(panel.display_on());
    EXPECT_EQ(d->live_drm_devices(), 0);
    EXPECT_TRUE(world.violations().empty()) << world.violations().front().message;
    d.reset();
    sleep_for(20ms);
  });
  ASSERT_TRUE(r) << r.report;
}

// (b) The explorer: unbind, unplug, close, rebind at every scheduling point of the commit,
// and fail-nth over every allocation/registration in probe and the client's path. Clean, and
// every event was really injected somewhere. UDRM_REPLAY / --udrm_replay replays a token.
TEST(TinyDrm, UnbindDuringCommitSweepIsClean) {
  TinyCommitScenario sc("tiny.commit", {});
  udrm::testing::ExpectWarn accounted(udrm::testing::ExpectWarn::kAny);  // WARNs are the explorer's findings
  explore::Explorer ex(sc, options(true));
  const std::string& tok = udrm::testing::replay_token();
  const bool replay = tok.rfind("udrm1:tiny.commit:", 0) == 0;
  explore::Report rep = replay ? ex.replay(tok) : ex.explore();
  std::printf("%s[tinydrm] %s: %llu schedules in %.3f s wall (%.0f schedules/s)\n", rep.text().c_str(),
              sc.name().c_str(), static_cast<unsigned long long>(rep.runs), rep.seconds,
              rep.seconds > 0 ? static_cast<double>(rep.runs) / rep.seconds : 0.0);
  ASSERT_TRUE(rep.ok()) << rep.text();
  if (replay) return;
  std::set<explore::Event> swept;
  for (const auto& c : rep.coverage) {
    EXPECT_GT(c.sites, 0u) << explore::event_name(c.event);
    EXPECT_GT(c.injected, 0u) << explore::event_name(c.event) << " was never injected";
    swept.insert(c.event);
  }
  for (explore::Event e : {explore::Event::unbind, explore::Event::unplug, explore::Event::close,
                           explore::Event::rebind, explore::Event::fail})
    EXPECT_EQ(swept.count(e), 1u) << explore::event_name(e) << " missing from the coverage";
}

// (c1) remove() that only unplugs: the panel, its supply and TE stay on after unbind. Already
// the plain run shows it (nothing needs to race).
TEST(TinyDrmBugs, RemoveWithoutShutdownIsCaught) {
  TinyBugs bugs;
  bugs.remove_without_shutdown = true;
  TinyCommitScenario sc("tiny.commit.no-shutdown", bugs);
  explore::Report rep;
  ASSERT_TRUE(udrm::testing::explore_finds(sc, "", &rep, options(false)));
  const std::string t = rep.text();
  EXPECT_NE(t.find("remove() must switch outputs off (atomic_helper_shutdown)"), std::string::npos) << t;
  EXPECT_NE(t.find("TE interrupt of 'tiny.dbi' left enabled"), std::string::npos) << t;
}

// (c2) lastclose touching the registers without drm_dev_enter: a client that closes after the
// unbind makes the driver write through the mapping devm released. Only an unbind (or unplug)
// before the close shows it: the explorer finds the point.
TEST(TinyDrmBugs, LastcloseOutsideTheGateIsCaught) {
  TinyBugs bugs;
  bugs.lastclose_outside_gate = true;
  TinyCommitScenario sc("tiny.commit.lastclose-ungated", bugs);
  explore::Report rep;
  ASSERT_TRUE(udrm::testing::explore_finds(sc, "violation", &rep, options(false)));
  const std::string t = rep.text();
  EXPECT_NE(t.find("mmio-after-unmap: writel(WIN_X @0xc) of block 'tiny.dbi'"), std::string::npos) << t;
  ASSERT_TRUE(rep.failure.has_value());
  EXPECT_NE(rep.failure->schedule.event, explore::Event::none) << "it takes an injected event";
}

}  // namespace
}  // namespace udrm::examples::tiny
