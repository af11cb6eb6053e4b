// The reference commit scenario and the scenario registry (udrm/drivers/scenarios.h).
#include <cerrno>

#include "udrm/base/executor.h"
#include "udrm/drivers/scenarios.h"

namespace udrm::drivers {

void CommitScenario::body(explore::Run&) {
  // A client's frame: a nonblocking flip with an event, wait for the event, wait one vblank,
  // close. Every return value the kernel may give after an unbind/close is tolerated here; the
  // end checks (teardown) decide.
  if (!client_) return;
  if (flip(1) == 0) collect_events(100);
  drm_wait_vblank wv{};
  wv.request.type = static_cast<drm_vblank_seq_type>(_DRM_VBLANK_RELATIVE);
  wv.request.sequence = 1;
  client_->ioctl(DRM_IOCTL_WAIT_VBLANK, &wv);
  close_client();
}

std::vector<std::string> scenario_names() { return {"simple.commit", "soc.commit", "soc.commit.panel"}; }

std::unique_ptr<explore::Scenario> make_scenario(const std::string& name) {
  if (name == "simple.commit") return std::make_unique<CommitScenario>(Kind::simple, name);
  if (name == "soc.commit") return std::make_unique<CommitScenario>(Kind::soc, name);
  if (name == "soc.commit.panel") return std::make_unique<CommitScenario>(Kind::soc, name, "panel");
  return nullptr;
}

}  // namespace udrm::drivers
