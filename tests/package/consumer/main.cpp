// An out-of-tree consumer of the installed udrm package (tests/package): a simulated machine
// with the `simple` reference display; a client opens card0 and asks for its resources, the
// driver is unbound under it, the open file now answers -ENODEV, and its close frees the DRM
// device. Prints each check; exits 0 only if every one held.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>

#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/drm/file.h"
#include "udrm/testing/kms_client.h"

namespace {

constexpr int kChecks = 9;
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
  if (!check(display != nullptr, "create_display(simple)")) return;
  if (!check(display->bind() == 0, "bind: udrm-simple probed")) return;

  udrm::Ref<udrm::DrmFile> file;
  if (!check(display->open(&file) == 0 && file, "open card0")) return;
  udrm::testing::KmsClient client(file);
  udrm::testing::KmsClient::Resources res;
  int ret = client.get_resources(&res);
  if (!check(ret == 0 && !res.crtcs.empty() && !res.connectors.empty(),
             "DRM_IOCTL_MODE_GETRESOURCES: 0, at least one CRTC and one connector"))
    return;

  if (!check(display->unbind() == 0, "unbind with card0 open")) return;
  check(client.get_resources(&res) == -ENODEV, "GETRESOURCES on the open file after unbind: -ENODEV");
  check(display->live_drm_devices() == 1, "the open file keeps the unplugged DRM device alive");
  check(client.close() == 0, "close");
  // A commit worker may hold the last reference a moment longer: wait (virtual time, bounded).
  for (int i = 0; i < 1000 && display->live_drm_devices() != 0; ++i) udrm::sleep_for(std::chrono::milliseconds(1));
  check(display->live_drm_devices() == 0, "close is the final put: the DRM device is freed");
}

}  // namespace

int main() {
  udrm::SimExecutor sim;
  udrm::World world(sim);
  auto result = sim.run([&] { scenario(world); }, "consumer");
  if (!result) std::printf("simulated run: %s\n", result.report.c_str());
  // Ran to its end, every check passed, and the simulated run neither deadlocked nor livelocked.
  const bool ok = result && g_failed == 0 && g_run == kChecks;
  std::printf("udrm-consumer: %d/%d checks passed%s\n", g_run - g_failed, kChecks, ok ? "" : " (FAILED)");
  return ok ? 0 : 1;
}
