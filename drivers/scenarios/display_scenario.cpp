// DisplayScenario: the plumbing of explorer scenarios on the reference displays.
#include <cerrno>
#include <cstring>

#include "udrm/base/executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/scenarios.h"
#include "udrm/explore/scenario.h"
#include "udrm/kms/format.h"

namespace udrm::drivers {

using testing::KmsClient;

DisplayScenario::DisplayScenario(Kind kind, std::string name, std::string unbind_device)
    : kind_(kind), name_(std::move(name)), unbind_device_(std::move(unbind_device)) {}

DisplayScenario::~DisplayScenario() = default;

DisplayOptions DisplayScenario::display_options() const {
  DisplayOptions o;
  o.kind = kind_;
  return o;
}

std::unique_ptr<Display> DisplayScenario::make_display(World& world) { return create_display(world, display_options()); }

std::vector<std::string> DisplayScenario::driver_points() const {
  return {kind_ == Kind::simple ? "simple." : "soc."};
}

std::vector<std::string> DisplayScenario::release_points() const { return {}; }

namespace {

// The smallest mode of the first connected connector, a CRTC its encoder can drive, and that
// CRTC's primary plane.
int find_output(KmsClient& c, uint32_t* crtc, uint32_t* conn_out, uint32_t* plane, drm_mode_modeinfo* mode) {
  KmsClient::Resources res;
  if (int r = c.get_resources(&res)) return r;
  for (uint32_t conn_id : res.connectors) {
    KmsClient::Connector conn;
    if (int r = c.get_connector(conn_id, &conn)) return r;
    if (conn.status != 1 || conn.modes.empty() || conn.encoders.empty()) continue;
    drm_mode_get_encoder enc{};
    enc.encoder_id = conn.encoders[0];
    if (int r = c.ioctl(DRM_IOCTL_MODE_GETENCODER, &enc)) return r;
    const drm_mode_modeinfo* best = &conn.modes[0];
    for (const auto& m : conn.modes)
      if (uint64_t{m.hdisplay} * m.vdisplay < uint64_t{best->hdisplay} * best->vdisplay) best = &m;
    for (uint32_t i = 0; i < res.crtcs.size(); ++i) {
      if (!(enc.possible_crtcs & (1u << i))) continue;
      uint32_t p = c.find_plane(i, 1 /* primary */);
      if (!p) continue;
      *crtc = res.crtcs[i];
      *conn_out = conn_id;
      *plane = p;
      *mode = *best;
      return 0;
    }
  }
  return -ENOENT;
}

}  // namespace

int DisplayScenario::setup(explore::Run& run) {
  requested_.clear();
  delivered_.clear();
  closed_by_event_ = removed_ = unbound_ = false;
  client_.reset();
  out_ = Output{};
  for (auto& b : buf_) b = KmsClient::Dumb{};
  fb_[0] = fb_[1] = 0;
  disp_ = make_display(run.world());
  if (int r = disp_->bind()) return r;
  if (!setup_modeset()) return 0;
  Ref<DrmFile> f;
  if (int r = disp_->open(&f)) return r;
  client_ = std::make_unique<KmsClient>(f);
  KmsClient& c = *client_;
  if (int r = c.enable_atomic()) return r;
  if (int r = find_output(c, &out_.crtc_id, &out_.conn_id, &out_.plane_id, &out_.mode)) return r;
  for (int i = 0; i < 2; ++i) {
    if (int r = c.create_dumb(out_.mode.hdisplay, out_.mode.vdisplay, 32, &buf_[i])) return r;
    if (int r = c.add_fb(buf_[i], DRM_FORMAT_XRGB8888, &fb_[i])) return r;
  }
  return c.atomic_modeset(out_.crtc_id, out_.conn_id, out_.plane_id, fb_[0], out_.mode, DRM_MODE_ATOMIC_ALLOW_MODESET);
}

int DisplayScenario::flip(uint64_t user_data) {
  if (!client_) return -EBADF;
  int r = client_->atomic_flip(out_.plane_id, fb_[user_data & 1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT,
                               user_data);
  if (r == 0) requested_.push_back(user_data);
  return r;
}

void DisplayScenario::collect_events(int ms) {
  if (!client_) return;
  for (int waited = 0;; waited += 2) {
    for (const drm_event_vblank& ev : client_->read_events())
      if (ev.base.type == DRM_EVENT_FLIP_COMPLETE) delivered_.push_back(ev.user_data);
    if (delivered_.size() >= requested_.size() || waited >= ms || !client_->file().is_open()) return;
    sleep_for(std::chrono::milliseconds(2));
  }
}

int DisplayScenario::close_client() {
  if (!client_ || !client_->file().is_open()) return -EBADF;
  for (auto& b : buf_)
    if (b.map) client_->file().munmap(b.map, b.size);  // -EINVAL if already gone
  return client_->close();
}

int DisplayScenario::unbind(explore::Run&) {
  int r = disp_->unbind(unbind_device_);
  if (r == 0) unbound_ = true;
  return r;
}

int DisplayScenario::unplug(explore::Run&) {
  disp_->remove();
  removed_ = true;
  return 0;
}

int DisplayScenario::close(explore::Run&) {
  closed_by_event_ = true;
  return close_client();
}

int DisplayScenario::rebind(explore::Run&) {
  int r = disp_->rebind(unbind_device_);
  if (r == 0) unbound_ = false;
  return r;
}

void DisplayScenario::teardown(explore::Run& run) {
  if (!disp_) return;
  // Every flip event the client was promised arrives exactly once (the kernel completes
  // commits in flight at unbind and still delivers their events; kernel-observed.md), unless
  // the injected close dropped the file first.
  if (client_ && client_->file().is_open()) collect_events(200);
  for (std::size_t i = 0; i < delivered_.size(); ++i)
    for (std::size_t j = i + 1; j < delivered_.size(); ++j)
      run.check(delivered_[i] != delivered_[j], "event",
                "flip event " + std::to_string(delivered_[i]) + " delivered twice");
  if (!closed_by_event_) {
    for (uint64_t want : requested_) {
      bool got = false;
      for (uint64_t d : delivered_) got |= d == want;
      run.check(got, "event", "flip event " + std::to_string(want) + " was requested (the flip ioctl returned 0) " +
                                  "but never delivered");
    }
  }
  for (uint64_t d : delivered_) {
    bool asked = false;
    for (uint64_t want : requested_) asked |= d == want;
    run.check(asked, "event", "flip event " + std::to_string(d) + " delivered but never requested");
  }
  close_client();
  // The driver goes (module unload): nothing may stay on, and the device is freed at the
  // last close.
  if (!removed_) {
    if (!unbound_ && disp_->drm()) disp_->unbind(unbind_device_);
    // soc: unbinding a member leaves the others bound (they hold no hardware on).
  }
  sleep_for(std::chrono::milliseconds(20));
  const bool bound = disp_->drm() != nullptr;
  if (!bound) {
    auto leaks = disp_->leaks();
    std::string all;
    for (auto& l : leaks) all += l + "; ";
    run.check(leaks.empty(), "leak", "left on after unbind: " + all);
  }
  run.check(bound ? disp_->live_drm_devices() <= 1 : disp_->live_drm_devices() == 0, "leak",
            "DRM device(s) still alive after the last close: " + std::to_string(disp_->live_drm_devices()));
  // After an injected event the display must come back (rescan after removal).
  if (run.event() != explore::Event::none && run.event_done()) {
    run.note_rebind();
    // An injected fault may have stopped the first bind half-way: bind what is missing.
    int r = removed_ ? disp_->rescan() : bound ? 0 : unbound_ ? disp_->rebind(unbind_device_) : disp_->bind();
    if (r == 0 && !disp_->drm()) r = disp_->bind();
    if (run.check(r == 0 && disp_->drm(), "health", "the display did not bind again after the event: " +
                                                       std::to_string(r))) {
      Ref<DrmFile> f;
      int o = disp_->open(&f);
      if (run.check(o == 0, "health", "reopen after rebind failed: " + std::to_string(o))) {
        KmsClient c(f);
        KmsClient::Resources res;
        int g = c.get_resources(&res);
        run.check(g == 0 && !res.crtcs.empty(), "health", "GETRESOURCES after rebind: " + std::to_string(g));
        c.close();
      }
    }
  }
  client_.reset();
  disp_.reset();
  sleep_for(std::chrono::milliseconds(20));
}

}  // namespace udrm::drivers
