// An out-of-tree consumer of the installed udrm::libdrm_shim (tests/package): real libdrm
// (drmOpen by driver name, drmGetVersion, drmModeGetResources) reaches a udrm device of this
// process through the shim's interposed libc calls; after an unbind the same fd answers
// ENODEV. Prints each check; exits 0 only if every one held.
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>

#include "udrm/base/asio_executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"

namespace {

constexpr int kChecks = 8;
int g_run = 0;
int g_failed = 0;

bool check(bool ok, const char* what) {
  ++g_run;
  if (!ok) ++g_failed;
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
  return ok;
}

void scenario(udrm::World& world) {
  udrm::drivers::DisplayOptions opts;
  opts.kind = udrm::drivers::Kind::simple;
  auto display = udrm::drivers::create_display(world, opts);
  if (!check(display && display->bind() == 0, "bind udrm-simple")) return;

  int fd = drmOpen("udrm-simple", nullptr);
  if (!check(fd >= 0, "drmOpen(\"udrm-simple\") through the shim")) return;
  drmVersionPtr v = drmGetVersion(fd);
  check(v && std::strcmp(v->name, "udrm-simple") == 0, "drmGetVersion: name udrm-simple");
  if (v) drmFreeVersion(v);
  drmModeRes* res = drmModeGetResources(fd);
  check(res && res->count_crtcs >= 1 && res->count_connectors >= 1, "drmModeGetResources: a CRTC and a connector");
  if (res) drmModeFreeResources(res);

  check(display->unbind() == 0, "unbind with the fd open");
  errno = 0;
  res = drmModeGetResources(fd);
  const int err = errno;
  check(res == nullptr && err == ENODEV, "drmModeGetResources after unbind: NULL, errno ENODEV");
  if (res) drmModeFreeResources(res);
  check(close(fd) == 0, "close");
  // A worker may drop the last reference a moment after close: wait (bounded) for it.
  for (int i = 0; i < 5000 && display->live_drm_devices() != 0; ++i) usleep(1000);
  check(display->live_drm_devices() == 0, "close is the final put: the DRM device is freed");
}

}  // namespace

int main() {
  udrm::AsioExecutor ex(4);
  std::promise<void> done;
  ex.post(
      [&] {
        udrm::World world(ex);
        scenario(world);
        done.set_value();
      },
      "shim-consumer");
  const bool finished = done.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  if (!finished) {
    // The scenario hangs in a worker: report and leave without joining it.
    std::printf("FAILED: the scenario did not finish within 60 s\n");
    std::fflush(stdout);
    _exit(1);
  }
  ex.shutdown();
  const bool ok = g_failed == 0 && g_run == kChecks;
  std::printf("udrm-shim-consumer: %d/%d checks passed%s\n", g_run - g_failed, kChecks, ok ? "" : " (FAILED)");
  return ok ? 0 : 1;
}
