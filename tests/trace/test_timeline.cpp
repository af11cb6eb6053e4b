// The framework timeline (udrm/trace/timeline.h) on both reference drivers: a modeset and
// three flips with events, an unbind while the file is open (the driver's shutdown commit runs
// inside it), then the last close. The file is read back with Boost.JSON and checked for the
// structure trace viewers need and for the orders the kernel promises: check -> swap ->
// hw_done -> flip_done -> cleanup for every commit, devm releases inside the unbind in LIFO
// order, drmm releases at the last close.
#include <gtest/gtest.h>

#include <boost/json/src.hpp>  // Boost.JSON, header-only: this is the one TU that compiles it
#include <cstdio>
#include <string>
#include <vector>

#include <drm.h>
#include <drm_fourcc.h>
#include <drm_mode.h>

#include "trace/trace_check.h"
#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/trace_hook.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/testing/kms_client.h"
#include "udrm/trace/scoped_timeline.h"

namespace udrm::tracetest {
namespace {

using testing::KmsClient;

std::string temp(const std::string& name) { return ::testing::TempDir() + "udrm_trace_" + name; }

struct RunInfo {
  std::string unbound;                  // the device that was unbound
  std::vector<std::string> devm_before;  // its devm resources just before, oldest first
  int events_read = 0;
};

// The scenario, as the main task of a simulated world. unbind_dev: short name ("" = default).
void scenario(World& world, drivers::Kind kind, const std::string& unbind_dev, RunInfo* out) {
  drivers::DisplayOptions o;
  o.kind = kind;
  auto d = drivers::create_display(world, o);
  ASSERT_EQ(d->bind(), 0);
  Ref<DrmFile> f;
  ASSERT_EQ(d->open(&f), 0);
  {
    KmsClient c(f);
    ASSERT_EQ(c.enable_atomic(), 0);
    KmsClient::Resources res;
    ASSERT_EQ(c.get_resources(&res), 0);
    ASSERT_FALSE(res.crtcs.empty());
    KmsClient::Connector conn;
    uint32_t conn_id = 0;
    for (uint32_t id : res.connectors) {
      ASSERT_EQ(c.get_connector(id, &conn), 0);
      if (!conn.modes.empty()) {
        conn_id = id;
        break;
      }
    }
    ASSERT_NE(conn_id, 0u);
    const drm_mode_modeinfo mode = conn.modes[0];
    const uint32_t primary = c.find_plane(0, 1 /* DRM_PLANE_TYPE_PRIMARY */);
    ASSERT_NE(primary, 0u);
    KmsClient::Dumb buf[2];
    uint32_t fb[2];
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(c.create_dumb(mode.hdisplay, mode.vdisplay, 32, &buf[i]), 0);
      ASSERT_EQ(c.add_fb(buf[i], DRM_FORMAT_XRGB8888, &fb[i]), 0);
    }
    ASSERT_EQ(c.atomic_modeset(res.crtcs[0], conn_id, primary, fb[0], mode,
                               DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_PAGE_FLIP_EVENT, 1),
              0);
    alignas(8) char ev[sizeof(drm_event_vblank)];
    ASSERT_EQ(c.file().read(ev, sizeof(ev), true), static_cast<long>(sizeof(drm_event_vblank)));
    ++out->events_read;
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(c.atomic_flip(primary, fb[(i + 1) % 2], DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_ATOMIC_NONBLOCK, 10 + i), 0);
      ASSERT_EQ(c.file().read(ev, sizeof(ev), true), static_cast<long>(sizeof(drm_event_vblank)));
      ++out->events_read;
    }
    const std::string short_name = unbind_dev.empty() ? d->device_names().front() : unbind_dev;
    Device* dev = d->device(short_name);
    ASSERT_NE(dev, nullptr);
    out->unbound = dev->name();
    for (auto& n : dev->devres().names())
      if (n.rfind("group<", 0) != 0) out->devm_before.push_back(n);
    ASSERT_EQ(d->unbind(unbind_dev), 0);
    ASSERT_EQ(c.close(), 0);
  }  // the client unmaps its buffers: the last reference to the file goes, then the device's
  f.reset();
}

struct Param {
  drivers::Kind kind;
  const char* unbind;
  const char* name;
};

class TimelineTest : public ::testing::TestWithParam<Param> {};

TEST_P(TimelineTest, CommitsUnbindLastClose) {
  const std::string path = temp(std::string(GetParam().name) + ".json");
  RunInfo run;
  {
    udrm::testing::ScopedTimeline tl(path);
    ASSERT_EQ(tl.status(), 0);
    SimExecutor sim;
    World world(sim);
    auto r = sim.run([&] { scenario(world, GetParam().kind, GetParam().unbind, &run); });
    ASSERT_TRUE(r) << r.report;
    ASSERT_EQ(tl.finish(), 0);
  }
  ASSERT_FALSE(HasFailure());
  std::vector<Ev> evs;
  ASSERT_TRUE(parse_trace(slurp_file(path), &evs));

  // Commits on crtc-0: the modeset (1), three flips (2-4), the shutdown commit of the unbind
  // (5; soc: also on its second CRTC, off before and after). The flips run strictly swap ->
  // hw_done -> flip_done -> cleanup_done. A commit that switches the CRTC on or off may send
  // its event from atomic_enable / atomic_disable, before hw_done (udrm-simple does, as the
  // kernel's drivers do when vblank is off).
  std::map<std::string, std::vector<std::string>> phases;
  ASSERT_TRUE(commit_phases(evs, &phases));
  const bool soc = GetParam().kind == drivers::Kind::soc;
  EXPECT_EQ(phases.size(), soc ? 6u : 5u);
  const std::vector<std::string> flip = {"swap", "hw_done", "flip_done"}, onoff = {"swap", "flip_done", "hw_done"};
  for (int n = 2; n <= 4; ++n) EXPECT_EQ(phases[std::to_string(n) + " crtc-0"], flip) << "commit #" << n;
  EXPECT_EQ(phases["1 crtc-0"], soc ? flip : onoff);
  EXPECT_EQ(phases["5 crtc-0"], onoff);
  if (soc) {
    EXPECT_EQ(phases["5 crtc-1"], (std::vector<std::string>{"swap", "hw_done", "flip_done@setup"}));
  }

  // Vblanks on a CRTC track, counting up.
  int64_t last_seq = -1, vblanks = 0;
  for (const Ev& e : evs)
    if (e.name == "vblank") {
      EXPECT_GT(e.int_arg("seq"), last_seq);
      last_seq = e.int_arg("seq");
      ++vblanks;
    }
  EXPECT_GE(vblanks, 3);

  // The flip events the client read were delivered to its file.
  EXPECT_EQ(static_cast<int>(find_all(evs, "event FLIP_COMPLETE delivered").size()), run.events_read);

  // devm: inside the unbind span of the device, newest first.
  auto ub = find_all(evs, "unbind " + run.unbound, "b"), ue = find_all(evs, "unbind " + run.unbound, "e");
  ASSERT_EQ(ub.size(), 1u);
  ASSERT_EQ(ue.size(), 1u);
  std::vector<std::string> released;
  for (const Ev& e : evs)
    if (e.cat == "devm" && e.arg("owner") == run.unbound) {
      EXPECT_GT(e.index, ub[0]) << e.name;
      EXPECT_LT(e.index, ue[0]) << e.name;
      released.push_back(e.name.substr(6));  // "devm: "
    }
  std::vector<std::string> lifo(run.devm_before.rbegin(), run.devm_before.rend());
  EXPECT_FALSE(lifo.empty());
  EXPECT_EQ(released, lifo);

  // The shutdown commit ran inside the unbind.
  bool commit_in_unbind = false;
  for (const Ev& e : evs)
    if (e.ph == "b" && e.name == "commit #5" && e.index > ub[0] && e.index < ue[0]) commit_in_unbind = true;
  EXPECT_TRUE(commit_in_unbind);

  // drmm: at the last close (after the unbind), never before.
  auto lc = find_all(evs, "last close");
  ASSERT_EQ(lc.size(), 1u);
  EXPECT_GT(lc[0], ue[0]);
  int drmm = 0;
  for (const Ev& e : evs)
    if (e.cat == "drmm") {
      EXPECT_GT(e.index, lc[0]) << e.name;
      ++drmm;
    }
  EXPECT_GT(drmm, 0);
  EXPECT_EQ(find_all(evs, "unplug " + std::string(GetParam().kind == drivers::Kind::soc ? "udrm-soc" : "udrm-simple"))
                .size(),
            1u);

  // Virtual time: the trace of a simulated run starts at 0 and spans the frames it showed.
  double max_ts = 0;
  for (const Ev& e : evs) max_ts = std::max(max_ts, e.ts);
  EXPECT_GT(max_ts, 3 * 16000.0);  // at least three 60 Hz frames, in microseconds
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Drivers, TimelineTest,
                         ::testing::Values(Param{drivers::Kind::simple, "", "simple"},
                                           Param{drivers::Kind::soc, "hdmi", "soc_hdmi"}),
                         [](const auto& info) { return std::string(info.param.name); });

// Same run twice: a simulated timeline is deterministic (byte for byte, pids aside).
TEST(Timeline, SimulatedRunIsDeterministic) {
  std::string text[2];
  for (int i = 0; i < 2; ++i) {
    const std::string path = temp("det" + std::to_string(i) + ".json");
    {
      udrm::testing::ScopedTimeline tl(path);
      ASSERT_EQ(tl.status(), 0);
      SimExecutor sim;
      World world(sim);
      RunInfo run;
      auto r = sim.run([&] { scenario(world, drivers::Kind::simple, "", &run); });
      ASSERT_TRUE(r) << r.report;
    }
    text[i] = slurp_file(path);
    std::remove(path.c_str());
  }
  EXPECT_GT(text[0].size(), 1000u);
  EXPECT_EQ(text[0], text[1]);
}

// A flip_done sent after its commit's cleanup_done (a threaded worker that woke on the vblank
// count first) lands on its own commit even when the allocator hands the freed commit's address
// to the next one: each of three commits at one address gets exactly one late flip_done.
TEST(Timeline, LateFlipDoneFollowsItsCommitAcrossAddressReuse) {
  const std::string path = temp("reuse.json");
  {
    udrm::testing::ScopedTimeline tl(path);
    ASSERT_EQ(tl.status(), 0);
    int updates[3];
    alignas(8) static char commit_mem[8];
    const void* commit = commit_mem;  // every commit "allocated" at the same address
    for (int n = 0; n < 3; ++n) {
      trace_commit(TraceCommit::check_begin, &updates[n], nullptr, "crtc-0");
      trace_commit(TraceCommit::check_end, &updates[n], nullptr, "crtc-0", 0);
      trace_commit(TraceCommit::swap, &updates[n], commit, "crtc-0");
      trace_commit(TraceCommit::hw_done, &updates[n], commit, "crtc-0");
      trace_commit(TraceCommit::cleanup_done, &updates[n], commit, "crtc-0");
      trace_commit(TraceCommit::flip_done, nullptr, commit, "crtc-0");  // late, from the irq
    }
    trace_commit(TraceCommit::flip_done, nullptr, commit, "crtc-0");  // a duplicate: nothing to put it on
    ASSERT_EQ(tl.finish(), 0);
  }
  std::vector<Ev> evs;
  ASSERT_TRUE(parse_trace(slurp_file(path), &evs));
  std::map<int64_t, int> late;
  for (const Ev& e : evs)
    if (e.ph == "i" && e.name == "flip_done" && e.arg("after") == "cleanup_done") ++late[e.int_arg("commit")];
  EXPECT_EQ(late, (std::map<int64_t, int>{{1, 1}, {2, 1}, {3, 1}}));
  std::map<std::string, std::vector<std::string>> phases;
  EXPECT_TRUE(commit_phases(evs, &phases, true));
  EXPECT_EQ(phases.size(), 3u);
  std::remove(path.c_str());
}

TEST(Timeline, BadInputGetsErrno) {
  trace::Timeline t;
  EXPECT_EQ(t.start(""), -EINVAL);
  EXPECT_EQ(t.start("/nonexistent-dir/x.json"), -ENOENT);
  EXPECT_EQ(t.finish(), -EBADF);  // never started
  const std::string path = temp("bad.json");
  ASSERT_EQ(t.start(path), 0);
  EXPECT_EQ(t.start(path), -EALREADY);
  // At most four timelines record at once.
  trace::Timeline more[4];
  EXPECT_EQ(more[0].start(temp("m0.json")), 0);
  EXPECT_EQ(more[1].start(temp("m1.json")), 0);
  EXPECT_EQ(more[2].start(temp("m2.json")), 0);
  EXPECT_EQ(more[3].start(temp("m3.json")), -EBUSY);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(more[i].finish(), 0);
  EXPECT_EQ(t.finish(), 0);
  EXPECT_EQ(t.finish(), 0);  // idempotent
  std::vector<Ev> evs;
  EXPECT_TRUE(parse_trace(slurp_file(path), &evs));  // an empty timeline is a valid file
  for (const char* p : {"bad.json", "m0.json", "m1.json", "m2.json", "m3.json"}) std::remove(temp(p).c_str());
}

TEST(Timeline, HookHeldByAModuleIsEbusy) {
  static const TraceHook other{};
  ASSERT_EQ(trace_hook_register(&other), 0);
  trace::Timeline t;
  EXPECT_EQ(t.start(temp("held.json")), -EBUSY);
  trace_hook_unregister(&other);
  EXPECT_EQ(t.start(temp("held.json")), 0);
  EXPECT_EQ(t.finish(), 0);
  std::remove(temp("held.json").c_str());
}

// The hook table a module registers sees every tracepoint while registered, none after.
struct Counts {
  int commit = 0, vblank = 0, device = 0, release = 0, file = 0, event = 0;
  TraceCommit last_phase = TraceCommit::check_begin;
  uint64_t last_seq = 0;
} g_counts;

TEST(Timeline, RegisteredHookSeesTracepointsUntilUnregistered) {
  static const TraceHook h{
      nullptr,
      [](TraceCommit p, const void*, const void*, const char*, int) {
        ++g_counts.commit;
        g_counts.last_phase = p;
      },
      [](const char*, uint64_t seq) {
        ++g_counts.vblank;
        g_counts.last_seq = seq;
      },
      [](TraceDevice, const char*) { ++g_counts.device; },
      [](TraceRelease, const char*, const char*) { ++g_counts.release; },
      [](TraceFile, const void*, const char*) { ++g_counts.file; },
      [](const void*, uint32_t, TraceEventFate) { ++g_counts.event; },
  };
  g_counts = {};
  trace_vblank("crtc", 1);  // nothing registered: not counted
  ASSERT_EQ(trace_hook_register(&h), 0);
  trace_commit(TraceCommit::hw_done, nullptr, nullptr, "crtc");
  trace_vblank("crtc", 7);
  trace_device(TraceDevice::bind, "x");
  trace_release(TraceRelease::devm, "x", "y");
  trace_file(TraceFile::open, nullptr, "x");
  trace_event(nullptr, 2, TraceEventFate::delivered);
  trace_irq("irq");  // a null entry is skipped
  trace_hook_unregister(&h);
  trace_vblank("crtc", 9);
  EXPECT_EQ(g_counts.commit, 1);
  EXPECT_EQ(g_counts.last_phase, TraceCommit::hw_done);
  EXPECT_EQ(g_counts.vblank, 1);
  EXPECT_EQ(g_counts.last_seq, 7u);
  EXPECT_EQ(g_counts.device, 1);
  EXPECT_EQ(g_counts.release, 1);
  EXPECT_EQ(g_counts.file, 1);
  EXPECT_EQ(g_counts.event, 1);
}

}  // namespace
}  // namespace udrm::tracetest
