// Built by tests/package with nothing but `pkg-config --cflags --libs udrm` against the
// installed package: the simple reference display on a simulated machine binds and unbinds.
// Prints what it checked; exits 0 only if both held.
#include <cstdio>

#include "udrm/base/sim_executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"

int main() {
  udrm::SimExecutor sim;
  udrm::World world(sim);
  int bind_ret = -1, unbind_ret = -1;
  auto result = sim.run([&] {
    udrm::drivers::DisplayOptions opts;
    opts.kind = udrm::drivers::Kind::simple;
    auto display = udrm::drivers::create_display(world, opts);
    bind_ret = display->bind();
    if (bind_ret == 0) unbind_ret = display->unbind();
  });
  std::printf("%s: bind udrm-simple (%d)\n", bind_ret == 0 ? "ok" : "FAILED", bind_ret);
  std::printf("%s: unbind (%d)\n", unbind_ret == 0 ? "ok" : "FAILED", unbind_ret);
  if (!result) std::printf("FAILED: simulated run: %s\n", result.report.c_str());
  const bool ok = result && bind_ret == 0 && unbind_ret == 0;
  std::printf("udrm-pkgconfig: %s\n", ok ? "2/2 checks passed" : "FAILED");
  return ok ? 0 : 1;
}
