// udrm/drivers/scenarios.h — explorer scenarios on the reference displays, and the base class
// for writing one's own.
//
// DisplayScenario does the plumbing every display scenario needs: setup() builds the display
// on the run's world and binds it (fault sites of probe/bind are swept from here), opens a
// client and does a blocking atomic modeset; the events are the sysfs operations (unbind of
// the chosen device, device removal, the client's close with its mappings, rebind); teardown()
// closes what is open, unbinds, and checks what the kernel guarantees: every requested flip
// event delivered exactly once (unless the file was closed first), nothing left on (clocks,
// regulators, IRQs, mappings: Board leaks), the DRM device freed at the last close, and — after
// an injected event — that the display binds and works again (igt's health check).
// A subclass writes body(): the client steps whose every point the explorer sweeps.
//
// The named scenarios (for tests, benchmarks, `udrmctl explore`):
//   simple.commit, soc.commit   open, modeset (setup); nonblocking flip with an event, wait for
//                               the event, WAIT_VBLANK, close (body)
//   soc.commit.panel            the same, with the DSI panel (a component) unbound instead of
//                               the display controller
//
// Lifetime: one scenario object serves all runs of an Explorer; per-run state lives in members
// that setup() resets. Context: explorer tasks (process context, may sleep).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "udrm/drivers/display.h"
#include "udrm/explore/scenario.h"
#include "udrm/testing/kms_client.h"

namespace udrm::drivers {

class DisplayScenario : public explore::Scenario {
 public:
  /// unbind_device: the device the unbind/rebind events act on ("" = the DRM device's).
  DisplayScenario(Kind kind, std::string name, std::string unbind_device = "");
  ~DisplayScenario() override;

  std::string name() const override { return name_; }
  int setup(explore::Run& run) override;
  void teardown(explore::Run& run) override;
  int unbind(explore::Run& run) override;
  int unplug(explore::Run& run) override;
  int close(explore::Run& run) override;
  int rebind(explore::Run& run) override;
  std::vector<std::string> driver_points() const override;
  std::vector<std::string> release_points() const override;

 protected:
  /// Display options used by make_display() (override to change them).
  virtual DisplayOptions display_options() const;
  /// The display setup() binds: a reference display (create_display with display_options())
  /// by default; a scenario for another driver (examples/tinydrm) returns its own. Called once
  /// per run, on the run's world.
  virtual std::unique_ptr<Display> make_display(World& world);
  /// Whether setup() opens a client and modesets (default true).
  virtual bool setup_modeset() const { return true; }

  Display& display() { return *disp_; }
  testing::KmsClient* client() { return client_.get(); }
  /// Request a nonblocking flip with an event; the request is accounted for the end check.
  int flip(uint64_t user_data);
  /// Read events for up to `ms` of virtual time until every requested event arrived.
  void collect_events(int ms);
  /// The client's close, as a process exit: its mappings go, then the file.
  int close_client();

  Kind kind_;
  std::string name_, unbind_device_;
  std::unique_ptr<Display> disp_;
  std::unique_ptr<testing::KmsClient> client_;
  struct Output {
    uint32_t crtc_id = 0, conn_id = 0, plane_id = 0;
    drm_mode_modeinfo mode{};
  } out_;
  testing::KmsClient::Dumb buf_[2]{};
  uint32_t fb_[2] = {0, 0};
  std::vector<uint64_t> requested_, delivered_;
  bool closed_by_event_ = false, removed_ = false, unbound_ = false;
};

/// The reference commit scenario on `kind` (see above).
class CommitScenario : public DisplayScenario {
 public:
  using DisplayScenario::DisplayScenario;
  void body(explore::Run& run) override;
};

/// Names of the built-in scenarios, and one by name (nullptr if unknown).
std::vector<std::string> scenario_names();
std::unique_ptr<explore::Scenario> make_scenario(const std::string& name);

}  // namespace udrm::drivers
