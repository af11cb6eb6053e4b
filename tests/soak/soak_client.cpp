// One soak client (soak_client.h).
#include "soak_client.h"

#include <drm_fourcc.h>
#include <poll.h>

#include <chrono>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "udrm/base/errno.h"

namespace udrm::soak {

using testing::KmsClient;

struct SoakClient::Session {
  std::unique_ptr<KmsClient> c;
  uint32_t crtc_id = 0, conn_id = 0, plane_id = 0, dpms_prop = 0;
  drm_mode_modeinfo mode{};
  KmsClient::Dumb buf[2];
  uint32_t fb[2] = {0, 0};
  KmsClient::Dumb cursor_bo;
  bool cursor_shown = false;
  std::vector<std::pair<KmsClient::Dumb, uint32_t>> extra;  // churned framebuffers
  std::set<uint64_t> outstanding;                          // flip events requested, not read
  bool active = false;                                     // our last modeset took
  unsigned flips = 0;
};

SoakClient::SoakClient(drivers::Display& d, int index, uint32_t seed, const std::atomic<bool>& stop)
    : d_(d), index_(index), rng_(seed), stop_(stop), actor_("client " + std::to_string(index)) {}

void SoakClient::fail(const std::string& what) {
  ++st_.failures;
  std::lock_guard<std::mutex> l(st_.mu);
  if (st_.first_failure.empty()) st_.first_failure = actor_.name + ": " + what;
}

bool SoakClient::expected(int r, const char* what, bool einval_ok) {
  if (r == 0 || r == -ENODEV) return true;
  if (r == -EBUSY) {
    ++st_.ebusy;
    return true;
  }
  if (r == -EINVAL && einval_ok) {
    ++st_.einval;
    return true;
  }
  // Another client's modeset picked a larger mode on the CRTC: our smaller framebuffer no
  // longer covers the plane's source rectangle (drm_atomic_plane_check: -ENOSPC).
  if (r == -ENOSPC && einval_ok) {
    ++st_.enospc;
    return true;
  }
  fail(std::string(what) + " returned " + std::to_string(r));
  return false;
}

void SoakClient::run() {
  while (!stop_.load(std::memory_order_acquire)) {
    actor_.at("open");
    Ref<DrmFile> f;
    const int r = d_.open(&f);
    if (r == -ENODEV || r == -ENOENT) {  // unbound: wait for the rebind
      ++st_.open_refused;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (r) {
      fail("open returned " + std::to_string(r));
      break;
    }
    ++st_.sessions;
    Session s;
    s.c = std::make_unique<KmsClient>(std::move(f));
    if (!session(s)) break;
    if (st_.no_output.load() != no_output_seen_) {  // this session found no output
      no_output_seen_ = st_.no_output.load();
      if (!no_output_since_) no_output_since_ = mono_ns();
      if (mono_ns() - no_output_since_ > 5'000'000'000) {
        fail("no connected output for 5 s");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  actor_.finished.store(true);
}

bool SoakClient::session(Session& s) {
  actor_.at("setup");
  int r = setup(s);
  // No connected output yet (a member just bound: hot-plug detection still running) is
  // transient, like a compositor waiting for the hot-plug event; run() bounds how long.
  if (r == -ENOENT) ++st_.no_output;
  bool ok = r == 0 || r == -ENODEV || r == -ENOENT;
  if (!ok) fail("setup returned " + std::to_string(r));
  if (r == 0) no_output_since_ = 0;
  bool quit = false;  // the client leaves with its flips in flight (no drain)
  while (ok && r == 0 && !quit && !stop_.load(std::memory_order_acquire)) {
    const unsigned op = rng_() % 100;
    r = op < 60 ? turn(s) : op < 80 ? fb_churn(s) : 0;
    if (r && r != -ENODEV) ok = false;  // turn/fb_churn recorded it
    quit = op == 99;
    if (!quit) {
      actor_.at("read");
      if (!read_events(s)) ok = false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng_() % 2000));
  }
  if (r == -ENODEV) ++st_.enodev;
  if (quit) ++st_.quits;
  // Queued events stay readable after unplug; at the end of the run wait for the rest.
  if (!quit) {
    actor_.at("drain");
    drain(s);
    if (!read_events(s)) ok = false;
  }
  st_.outstanding_at_close += static_cast<long>(s.outstanding.size());
  actor_.at("close");
  const int c = s.c->close();
  if (c) {
    fail("close returned " + std::to_string(c));
    ok = false;
  }
  s.c.reset();  // the mappings go: the last reference to the file
  actor_.heartbeat();
  return ok;
}

int SoakClient::setup(Session& s) {
  KmsClient& c = *s.c;
  if (int r = c.enable_atomic()) return r;
  KmsClient::Resources res;
  if (int r = c.get_resources(&res)) return r;
  struct Candidate {
    uint32_t crtc, crtc_index, conn;
    drm_mode_modeinfo mode;
  };
  std::vector<Candidate> outs;
  for (uint32_t conn_id : res.connectors) {
    KmsClient::Connector conn;
    if (int r = c.get_connector(conn_id, &conn)) return r;
    if (conn.status != 1 || conn.modes.empty() || conn.encoders.empty()) continue;
    drm_mode_get_encoder enc{};
    enc.encoder_id = conn.encoders[0];
    if (int r = c.ioctl(DRM_IOCTL_MODE_GETENCODER, &enc)) return r;
    const drm_mode_modeinfo* best = &conn.modes[0];
    for (const auto& m : conn.modes)
      if (uint32_t{m.hdisplay} * m.vdisplay < uint32_t{best->hdisplay} * best->vdisplay) best = &m;
    for (uint32_t i = 0; i < res.crtcs.size(); ++i)
      if (enc.possible_crtcs & (1u << i)) outs.push_back(Candidate{res.crtcs[i], i, conn_id, *best});
  }
  if (outs.empty()) return -ENOENT;
  const Candidate& o = outs[static_cast<std::size_t>(index_) % outs.size()];
  s.crtc_id = o.crtc;
  s.conn_id = o.conn;
  s.mode = o.mode;
  s.plane_id = c.find_plane(o.crtc_index, 1 /* primary */);
  s.dpms_prop = c.prop_id(o.conn, DRM_MODE_OBJECT_CONNECTOR, "DPMS");
  if (!s.plane_id || !s.dpms_prop) {  // the lookups failed: unplugged meanwhile, or a bug
    drm_version v{};
    const int r = c.ioctl(DRM_IOCTL_VERSION, &v);
    return r ? r : -ENOENT;
  }
  std::map<std::string, std::pair<uint32_t, uint64_t>> props;
  if (int r = c.get_properties(o.crtc, DRM_MODE_OBJECT_CRTC, &props)) return r;
  s.active = props.count("ACTIVE") && props["ACTIVE"].second == 1;  // else the first turn modesets
  for (int i = 0; i < 2; ++i) {
    if (int r = c.create_dumb(s.mode.hdisplay, s.mode.vdisplay, 32, &s.buf[i])) return r;
    if (int r = c.add_fb(s.buf[i], DRM_FORMAT_XRGB8888, &s.fb[i])) return r;
    ++st_.fb_created;
  }
  return c.create_dumb(64, 64, 32, &s.cursor_bo);
}

int SoakClient::turn(Session& s) {
  KmsClient& c = *s.c;
  actor_.at("SET_MASTER");
  int r = c.ioctl(DRM_IOCTL_SET_MASTER, nullptr);
  if (r == -EBUSY) {  // another client holds the display
    ++st_.not_master;
    return 0;
  }
  if (r) return expected(r, "SET_MASTER", false) ? r : -EPROTO;
  ++st_.turns;
  if (!s.active || rng_() % 64 == 0) {
    actor_.at("modeset");
    r = c.atomic_modeset(s.crtc_id, s.conn_id, s.plane_id, s.fb[0], s.mode, DRM_MODE_ATOMIC_ALLOW_MODESET);
    if (r == 0) {
      ++st_.modesets;
      s.active = true;
    } else if (!expected(r, "modeset", true)) {
      r = -EPROTO;
    }
  }
  // Flips: mostly like a compositor (wait for the event before the next one), sometimes
  // back to back (the second is -EBUSY while the first is pending).
  const bool paced = rng_() % 4 != 0;
  for (unsigned n = 1 + rng_() % 3; r == 0 && n; --n) {
    const long before = st_.commits.load();
    r = flip(s);
    const bool accepted = r == 0 && st_.commits.load() != before;
    if (accepted && paced && !wait_for_events(s, std::chrono::milliseconds(100))) r = -EPROTO;
  }
  if (r == 0 && rng_() % 2) r = cursor(s);
  if (r == 0 && rng_() % 8 == 0) r = dpms(s);
  if (r != -ENODEV) {
    actor_.at("DROP_MASTER");
    const int d = c.ioctl(DRM_IOCTL_DROP_MASTER, nullptr);
    if (d && d != -ENODEV) {
      fail("DROP_MASTER returned " + std::to_string(d));
      return -EPROTO;
    }
    if (d == -ENODEV) r = d;
  }
  return r;
}

int SoakClient::flip(Session& s) {
  actor_.at("flip");
  const uint64_t ud = (uint64_t(index_) << 40) | next_seq_++;
  const int r = s.c->atomic_flip(s.plane_id, s.fb[++s.flips & 1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT,
                                 ud);
  if (r == 0) {
    ++st_.commits;
    ++st_.requested;
    s.outstanding.insert(ud);
    return 0;
  }
  if (r == -EINVAL) s.active = false;  // the CRTC is off (another client's DPMS or modeset)
  if (r == -ENOSPC) s.active = false;  // the next turn modesets with our own mode
  if (!expected(r, "nonblocking flip", true)) return -EPROTO;
  return r == -ENODEV ? r : 0;
}

int SoakClient::cursor(Session& s) {
  actor_.at("cursor");
  drm_mode_cursor cur{};
  cur.crtc_id = s.crtc_id;
  if (!s.cursor_shown || rng_() % 16 == 0) {
    cur.flags = DRM_MODE_CURSOR_BO;
    cur.handle = s.cursor_bo.handle;
    cur.width = 64;
    cur.height = 64;
    const int r = s.c->ioctl(DRM_IOCTL_MODE_CURSOR, &cur);
    if (!expected(r, "cursor set", true)) return -EPROTO;
    if (r) return r == -ENODEV ? r : 0;
    s.cursor_shown = true;
  }
  for (unsigned n = 1 + rng_() % 4; n; --n) {
    cur = drm_mode_cursor{};
    cur.crtc_id = s.crtc_id;
    cur.flags = DRM_MODE_CURSOR_MOVE;
    cur.x = static_cast<int32_t>(rng_() % (s.mode.hdisplay + 64u)) - 32;
    cur.y = static_cast<int32_t>(rng_() % (s.mode.vdisplay + 64u)) - 32;
    const int r = s.c->ioctl(DRM_IOCTL_MODE_CURSOR, &cur);
    if (!expected(r, "cursor move", true)) return -EPROTO;
    if (r) return r == -ENODEV ? r : 0;
    ++st_.cursor_moves;
  }
  return 0;
}

int SoakClient::dpms(Session& s) {
  actor_.at("dpms");
  drm_mode_obj_set_property sp{};
  sp.obj_id = s.conn_id;
  sp.obj_type = DRM_MODE_OBJECT_CONNECTOR;
  sp.prop_id = s.dpms_prop;
  const bool cycle = rng_() % 4 == 0;  // Off then On; otherwise On (a no-op when on)
  for (uint64_t v : {uint64_t{DRM_MODE_DPMS_OFF}, uint64_t{DRM_MODE_DPMS_ON}}) {
    if (v == DRM_MODE_DPMS_OFF && !cycle) continue;
    sp.value = v;
    const int r = s.c->ioctl(DRM_IOCTL_MODE_OBJ_SETPROPERTY, &sp);
    if (!expected(r, "DPMS set", true)) return -EPROTO;
    if (r) return r == -ENODEV ? r : 0;
    ++st_.prop_sets;
  }
  return 0;
}

int SoakClient::fb_churn(Session& s) {
  actor_.at("fb churn");
  KmsClient& c = *s.c;
  if (s.extra.size() < 3 && rng_() % 2) {
    KmsClient::Dumb b;
    uint32_t id = 0;
    int r = c.create_dumb(64 + rng_() % 64, 64 + rng_() % 64, 32, &b);
    if (r == 0) {
      r = c.add_fb(b, DRM_FORMAT_XRGB8888, &id);
      if (r == 0) {
        ++st_.fb_created;
        s.extra.emplace_back(b, id);
        return 0;
      }
      c.destroy_dumb(b);
    }
    if (r == -ENODEV) return r;
    fail("fb create returned " + std::to_string(r));
    return -EPROTO;
  }
  if (s.extra.empty()) return 0;
  auto [b, id] = s.extra.front();
  s.extra.erase(s.extra.begin());
  int r = c.rm_fb(id);
  const int r2 = c.destroy_dumb(b);
  if (r == 0) r = r2;
  if (r == 0) {
    ++st_.fb_destroyed;
    return 0;
  }
  if (r == -ENODEV) return r;
  fail("fb destroy returned " + std::to_string(r));
  return -EPROTO;
}

bool SoakClient::read_events(Session& s) {
  for (const drm_event_vblank& ev : s.c->read_events()) {
    if (ev.base.type != DRM_EVENT_FLIP_COMPLETE || s.outstanding.erase(ev.user_data) != 1) {
      fail("an event that was not requested (or read twice): type " + std::to_string(ev.base.type) +
           " user_data " + std::to_string(ev.user_data));
      return false;
    }
    ++st_.delivered;
  }
  return true;
}

bool SoakClient::wait_for_events(Session& s, std::chrono::milliseconds limit) {
  actor_.at("wait event");
  const auto end = Clock::now() + limit;
  while (!s.outstanding.empty() && Clock::now() < end) {
    pollfd pfd{s.c->file().poll_fd(), POLLIN, 0};
    ::poll(&pfd, 1, 2);
    if (!read_events(s)) return false;
  }
  return true;
}

void SoakClient::drain(Session& s) {
  // A flip accepted before the unplug still completes (drivers send unconditionally), so wait
  // a little in every case; at the end of the run (device bound) wait longer.
  const auto limit = std::chrono::milliseconds(stop_.load() ? 2000 : 50);
  const auto end = Clock::now() + limit;
  while (!s.outstanding.empty() && Clock::now() < end) {
    if (!read_events(s)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    actor_.heartbeat();
  }
}

}  // namespace udrm::soak
