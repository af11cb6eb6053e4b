// The kernel's fail-nth over both reference drivers: for n = 1, 2, ... fail the n-th
// UDRM_SHOULD_FAIL site consulted during (1) the bind of the whole display — probe, component
// bind, devm/drmm allocation, KMS object init, registration — and (2) a client's open + atomic
// modeset + nonblocking flip on a bound display, until a run completes with no injected
// failure. Every run must end clean: an errno (or success when the site is tolerated), nothing
// left on (Board::leaks), no DRM device alive, no lifetime violation, no WARN, and the display
// healthy afterwards (clean bind, reopen, modeset, flip, CRC: the igt health check).
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "../hotunplug/scenario.h"
#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/testing/warn.h"

namespace udrm::faults {
namespace {

using drivers::Kind;
using testing::KmsClient;

constexpr int kMaxRuns = 2000;  // a sweep that does not converge is a failure, not a hang

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + "; ";
  return s;
}

bool clean_errno(int e) {
  return e == -ENOMEM || e == -EIO || e == -ENOSPC || e == -EBUSY || e == -ENODEV || e == -EINVAL ||
         e == -ETIMEDOUT;
}

struct SweepResult {
  int sites = -1;            // sites consulted by the run that failed nothing
  int runs = 0;
  int failed_runs = 0;       // the operation returned an error
  int tolerated = 0;         // the site failed but the operation succeeded
  std::set<std::string> site_names;
  std::map<int, int> errnos;
};

void report(const char* what, Kind k, const SweepResult& s) {
  std::string names;
  for (auto& n : s.site_names) names += n + " ";
  std::printf("[ fail-nth ] %s %s: sites swept: %d/%d (runs %d, errors %d, tolerated %d); sites: %s\n", what,
              scenario::kind_name(k), s.runs - 1, s.sites, s.runs, s.failed_runs, s.tolerated, names.c_str());
}

// ---- (1) bind ------------------------------------------------------------------------------------

/// One run: the n-th site of the first bind fails. Returns whether the injector fired.
bool bind_run(Kind kind, uint64_t n, SweepResult* sr) {
  SimExecutor sim;
  World world(sim);
  FailNth inj(n);
  const uint64_t warns0 = warn_count();
  auto r = sim.run([&] {
    drivers::DisplayOptions o;
    o.kind = kind;
    auto disp = drivers::create_display(world, o);
    int ret;
    {
      ScopedFaultInjector scope(inj);
      ret = disp->bind();
    }
    world.bus().wait_for_probe();
    if (ret != 0) {
      ++sr->failed_runs;
      ++sr->errnos[ret];
      EXPECT_TRUE(clean_errno(ret)) << "n=" << n << ": bind returned " << ret;
      EXPECT_EQ(disp->drm(), nullptr) << "n=" << n;
      EXPECT_EQ(disp->live_drm_devices(), 0) << "n=" << n << ": a DRM device survived the failed bind";
      EXPECT_TRUE(disp->leaks().empty()) << "n=" << n << ": " << join(disp->leaks());
    } else if (inj.fired()) {
      ++sr->tolerated;
    }
    EXPECT_TRUE(world.violations().empty()) << "n=" << n << ": " << world.violations().front().message;
    // A clean bind (of whatever did not bind) and the health check.
    if (ret != 0) {
      ASSERT_EQ(disp->bind(), 0) << "n=" << n << ": rebind after the fault";
    }
    ASSERT_NE(disp->drm(), nullptr) << "n=" << n;
    EXPECT_EQ(disp->live_drm_devices(), 1) << "n=" << n;
    EXPECT_TRUE(scenario::health_check(*disp, static_cast<uint32_t>(n))) << "n=" << n;
    ASSERT_EQ(disp->unbind(), 0);
    scenario::settle();
    EXPECT_EQ(disp->live_drm_devices(), 0) << "n=" << n;
    EXPECT_TRUE(disp->leaks().empty()) << "n=" << n << ": " << join(disp->leaks());
    disp.reset();
    EXPECT_TRUE(world.violations().empty()) << "n=" << n;
  });
  EXPECT_TRUE(r) << "n=" << n << ": " << r.report;
  EXPECT_EQ(warn_count(), warns0) << "n=" << n << ": WARN: " << last_warning();
  for (const char* s : inj.sites()) sr->site_names.insert(s);
  ++sr->runs;
  if (!inj.fired()) sr->sites = static_cast<int>(inj.seen());
  return inj.fired();
}

class FailNthBind : public ::testing::TestWithParam<Kind> {};

TEST_P(FailNthBind, EverySiteUnwindsCleanlyAndTheDisplayStaysHealthy) {
  const Kind kind = GetParam();
  SweepResult sr;
  for (uint64_t n = 1; n <= kMaxRuns; ++n) {
    if (!bind_run(kind, n, &sr)) break;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "stopping the sweep at n=" << n;
      break;
    }
  }
  report("bind", kind, sr);
  ASSERT_GT(sr.sites, 10) << "the sweep did not converge";
  EXPECT_EQ(sr.runs, sr.sites + 1);  // every site failed once, then one clean run
  EXPECT_GT(sr.failed_runs, 0);
}

INSTANTIATE_TEST_SUITE_P(Faults, FailNthBind, ::testing::Values(Kind::simple, Kind::soc),
                         [](const auto& info) { return std::string(scenario::kind_name(info.param)); });

// ---- (2) open + modeset + nonblocking flip -------------------------------------------------------

bool file_run(Kind kind, uint64_t n, SweepResult* sr) {
  SimExecutor sim;
  World world(sim);
  FailNth inj(n);
  const uint64_t warns0 = warn_count();
  auto r = sim.run([&] {
    drivers::DisplayOptions o;
    o.kind = kind;
    auto disp = drivers::create_display(world, o);
    ASSERT_EQ(disp->bind(), 0);
    scenario::ActiveClient ac;
    int err = 0;
    {
      ScopedFaultInjector scope(inj);
      auto ok = scenario::open_and_modeset(*disp, static_cast<uint32_t>(n), &ac);
      if (ok) {
        err = ac.c->atomic_flip(ac.out.plane_id, ac.fb[1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 77);
        if (err == 0) {
          // The event arrives (the flip may have hit a tolerated failure, never a lost event).
          alignas(8) char buf[64];
          const long got = ac.c->file().read(buf, sizeof buf, true);
          EXPECT_EQ(got, static_cast<long>(sizeof(drm_event_vblank))) << "n=" << n;
        }
      } else {
        err = -1;  // reported below from the message
        std::string m = ok.message();
        // open_and_modeset names the step and its errno last.
        const auto sp = m.rfind(' ');
        err = sp == std::string::npos ? -1 : std::atoi(m.c_str() + sp + 1);
        EXPECT_TRUE(clean_errno(err)) << "n=" << n << ": " << m;
      }
    }
    if (err != 0) {
      ++sr->failed_runs;
      ++sr->errnos[err];
    } else if (inj.fired()) {
      ++sr->tolerated;
    }
    if (ac.c) {
      for (auto& b : ac.buf)
        if (b.handle) ac.c->destroy_dumb(b);
      EXPECT_EQ(ac.c->close(), 0);
    }
    scenario::settle();
    EXPECT_TRUE(world.violations().empty()) << "n=" << n << ": " << world.violations().front().message;
    EXPECT_EQ(disp->live_drm_devices(), 1) << "n=" << n;
    EXPECT_TRUE(scenario::health_check(*disp, static_cast<uint32_t>(n) + 100)) << "n=" << n;
    ASSERT_EQ(disp->unbind(), 0);
    scenario::settle();
    EXPECT_EQ(disp->live_drm_devices(), 0) << "n=" << n;
    EXPECT_TRUE(disp->leaks().empty()) << "n=" << n << ": " << join(disp->leaks());
    disp.reset();
    EXPECT_TRUE(world.violations().empty()) << "n=" << n;
  });
  EXPECT_TRUE(r) << "n=" << n << ": " << r.report;
  EXPECT_EQ(warn_count(), warns0) << "n=" << n << ": WARN: " << last_warning();
  for (const char* s : inj.sites()) sr->site_names.insert(s);
  ++sr->runs;
  if (!inj.fired()) sr->sites = static_cast<int>(inj.seen());
  return inj.fired();
}

class FailNthFile : public ::testing::TestWithParam<Kind> {};

TEST_P(FailNthFile, OpenModesetFlipFailuresAreCleanErrnosAndTheDeviceStaysHealthy) {
  const Kind kind = GetParam();
  SweepResult sr;
  for (uint64_t n = 1; n <= kMaxRuns; ++n) {
    if (!file_run(kind, n, &sr)) break;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "stopping the sweep at n=" << n;
      break;
    }
  }
  report("open+modeset+flip", kind, sr);
  ASSERT_GT(sr.sites, 5) << "the sweep did not converge";
  EXPECT_EQ(sr.runs, sr.sites + 1);
  EXPECT_GT(sr.failed_runs, 0);
}

INSTANTIATE_TEST_SUITE_P(Faults, FailNthFile, ::testing::Values(Kind::simple, Kind::soc),
                         [](const auto& info) { return std::string(scenario::kind_name(info.param)); });

}  // namespace
}  // namespace udrm::faults
