// Shared machinery of the in-process libdrm shim tests: a World with reference displays on an
// AsioExecutor (real threads: real libdrm blocks in poll() and read()), and small helpers that
// use libdrm ONLY (xf86drm.h / xf86drmMode.h) on the client side. The device side is touched
// only to check what the fake hardware scans out (the composer CRC) and the device lifetime.
#pragma once
#include <gtest/gtest.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/drm/minor.h"
#include "shim_fixture_crc.h"

namespace udrm::shimtest {

using drivers::Kind;

inline const char* kind_name(Kind k) { return k == Kind::simple ? "simple" : "soc"; }
inline std::string param_name(const ::testing::TestParamInfo<Kind>& i) { return kind_name(i.param); }
#define UDRM_SHIM_INSTANTIATE_BOTH(Suite)                                                       \
  INSTANTIATE_TEST_SUITE_P(Drivers, Suite, ::testing::Values(::udrm::drivers::Kind::simple,      \
                                                             ::udrm::drivers::Kind::soc),        \
                           ::udrm::shimtest::param_name)

/// Runs body(world, displays) in a task of a 6-thread AsioExecutor, with one bound display per
/// kind in `kinds`; then destroys the displays, lets deferred frees run, destroys the World.
/// A body that hangs fails the test after 90 s (ctest's timeout would only kill it).
void run_on_asio(const std::vector<Kind>& kinds,
                 const std::function<void(World&, std::vector<drivers::Display*>&)>& body);
/// The usual case: one display.
void run_one(Kind kind, const std::function<void(drivers::Display&)>& body);

/// Let deferred work run (nonblocking commit workers drop their device reference when they
/// next run, so a final put may come just after the last close).
void settle();
/// Wait (bounded, 10 s) until pred() holds: the state asserted after a close or an unbind may
/// be reached by deferred work on a worker a moment later. True if it held. Never a timed
/// assertion: the bound only turns a hang into a failure.
bool wait_until(const std::function<bool()>& pred);

/// drmOpen by driver name (the tools' `-M udrm-simple`).
int open_by_name(Kind k);

/// One output: a connected connector, its smallest mode, a CRTC its first encoder can drive,
/// and that CRTC's primary plane (found with drmModeGetPlaneResources + the "type" property).
struct Output {
  uint32_t crtc_id = 0, crtc_index = 0, conn_id = 0, plane_id = 0;
  uint32_t fb_prop = 0;  // the plane's FB_ID property (looked up once: flips after unplug use it)
  drmModeModeInfo mode{};
};
::testing::AssertionResult find_output(int fd, Output* out);

/// The id (and value) of property `name` on an object, 0 if absent.
uint32_t prop_id(int fd, uint32_t obj, uint32_t type, const char* name, uint64_t* value = nullptr);

/// A dumb buffer mapped with the real mmap() of the fd, filled with a pattern, with an XRGB8888
/// framebuffer.
struct Fb {
  uint32_t handle = 0, pitch = 0, width = 0, height = 0, fb_id = 0;
  uint64_t size = 0;
  uint8_t* map = nullptr;
};
::testing::AssertionResult create_fb(int fd, uint32_t w, uint32_t h, uint32_t seed, Fb* out);
/// munmap + RMFB + DESTROY_DUMB (errors ignored: also used after unplug).
void destroy_fb(int fd, Fb& fb);

/// Atomic modeset (MODE_ID blob, ALLOW_MODESET, blocking) of `out` showing `fb` full screen.
int atomic_modeset(int fd, const Output& out, uint32_t fb_id);
/// A nonblocking atomic flip of the primary plane with a flip event (user_data). 0 or -errno.
int atomic_flip(int fd, const Output& out, uint32_t fb_id, uint64_t user_data);

/// poll() the fd until readable, then drmHandleEvent; returns the flip events delivered.
struct FlipEvent {
  uint64_t user_data = 0;
  unsigned crtc_id = 0, sequence = 0;
};
::testing::AssertionResult wait_flip_events(int fd, std::vector<FlipEvent>* got, int timeout_ms = 5000);
/// drmHandleEvent on whatever is queued now (nonblocking fd state is the caller's).
int handle_events(int fd, std::vector<FlipEvent>* got);

/// The fake hardware scans out exactly `fb` full screen on crtc_id (composer CRC of the frame
/// equals the CRC of the pattern).
::testing::AssertionResult scanout_shows(drivers::Display& d, uint32_t crtc_id, const Fb& fb);

}  // namespace udrm::shimtest
