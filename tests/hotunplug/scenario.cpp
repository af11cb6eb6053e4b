// Shared scenario machinery (scenario.h).
#include "scenario.h"

#include <cstring>

#include "udrm/base/errno.h"
#include "udrm/fakehw/compose.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/vblank.h"

namespace udrm::scenario {

using testing::KmsClient;

const char* kind_name(drivers::Kind k) { return k == drivers::Kind::simple ? "simple" : "soc"; }

::testing::AssertionResult find_output(KmsClient& c, Output* out) {
  KmsClient::Resources res;
  if (int r = c.get_resources(&res)) return ::testing::AssertionFailure() << "GETRESOURCES " << r;
  bool found = false;
  uint64_t best_area = ~uint64_t{0};
  for (uint32_t conn_id : res.connectors) {
    KmsClient::Connector conn;
    if (int r = c.get_connector(conn_id, &conn)) return ::testing::AssertionFailure() << "GETCONNECTOR " << r;
    if (conn.status != 1 /* connected */ || conn.modes.empty() || conn.encoders.empty()) continue;
    drm_mode_get_encoder enc{};
    enc.encoder_id = conn.encoders[0];
    if (int r = c.ioctl(DRM_IOCTL_MODE_GETENCODER, &enc)) return ::testing::AssertionFailure() << "GETENCODER " << r;
    for (const auto& m : conn.modes) {
      uint64_t area = uint64_t{m.hdisplay} * m.vdisplay;
      if (area >= best_area) continue;
      for (uint32_t i = 0; i < res.crtcs.size(); ++i) {
        if (!(enc.possible_crtcs & (1u << i))) continue;
        uint32_t plane = c.find_plane(i, 1 /* primary */);
        if (!plane) continue;
        *out = Output{res.crtcs[i], i, conn_id, plane, m};
        best_area = area;
        found = true;
        break;
      }
    }
  }
  if (!found) return ::testing::AssertionFailure() << "no connected output";
  return ::testing::AssertionSuccess();
}

uint32_t expected_crc(const KmsClient::Dumb& d) {
  fakehw::PlaneDesc p;
  p.fourcc = DRM_FORMAT_XRGB8888;
  p.pixels = d.map;
  p.pitch = d.pitch;
  p.src = fakehw::Rect{0, 0, d.width, d.height};
  p.dst = p.src;
  fakehw::Composer comp;
  comp.compose(d.width, d.height, std::span<const fakehw::PlaneDesc>(&p, 1));
  return comp.crc();
}

namespace {
::testing::AssertionResult crc_shows(Crtc& crtc, const KmsClient::Dumb& d) {
  uint32_t want = expected_crc(d);
  // Two frames later the new content is certainly the one scanned out.
  uint64_t from = crtc_vblank_count(crtc) + 2;
  for (int i = 0; i < 8; ++i) {
    auto e = crtc_crc_wait(crtc, from + static_cast<uint64_t>(i), 1000);
    if (!e) return ::testing::AssertionFailure() << "no CRC entry for frame >= " << from;
    if (e->crc == want) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "CRC never matched the pattern (want " << std::hex << want << ")";
}
}  // namespace

ActiveClient::~ActiveClient() {
  if (!c) return;
  for (auto& b : buf) {
    if (b.map) c->file().munmap(b.map, b.size);
    b.map = nullptr;
  }
  if (c->file().is_open()) c->close();
}

::testing::AssertionResult open_and_modeset(drivers::Display& d, uint32_t seed, ActiveClient* ac) {
  Ref<DrmFile> f;
  if (int r = d.open(&f)) return ::testing::AssertionFailure() << "open " << r;
  ac->c = std::make_unique<KmsClient>(f);
  KmsClient& c = *ac->c;
  if (int r = c.enable_atomic()) return ::testing::AssertionFailure() << "atomic cap " << r;
  auto found = find_output(c, &ac->out);
  if (!found) return found;
  for (int i = 0; i < 2; ++i) {
    if (int r = c.create_dumb(ac->out.mode.hdisplay, ac->out.mode.vdisplay, 32, &ac->buf[i]))
      return ::testing::AssertionFailure() << "CREATE_DUMB " << r;
    testing::fill_pattern(ac->buf[i], seed + static_cast<uint32_t>(i));
    if (int r = c.add_fb(ac->buf[i], DRM_FORMAT_XRGB8888, &ac->fb[i]))
      return ::testing::AssertionFailure() << "ADDFB2 " << r;
  }
  if (int r = c.atomic_modeset(ac->out.crtc_id, ac->out.conn_id, ac->out.plane_id, ac->fb[0], ac->out.mode,
                               DRM_MODE_ATOMIC_ALLOW_MODESET))
    return ::testing::AssertionFailure() << "modeset " << r;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult health_check(drivers::Display& d, uint32_t seed) {
  ActiveClient ac;
  auto ok = open_and_modeset(d, seed, &ac);
  if (!ok) return ok;
  KmsClient& c = *ac.c;
  DrmDevice* drm = d.drm();
  if (!drm) return ::testing::AssertionFailure() << "no bound DRM device";
  Crtc* crtc = crtc_find(*drm, ac.out.crtc_id);
  if (!crtc) return ::testing::AssertionFailure() << "crtc lookup";
  if (int r = crtc_crc_open(*crtc)) return ::testing::AssertionFailure() << "crc open " << r;
  auto shown = crc_shows(*crtc, ac.buf[0]);
  if (shown) {
    int r = c.atomic_flip(ac.out.plane_id, ac.fb[1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 42);
    if (r) shown = ::testing::AssertionFailure() << "flip " << r;
  }
  if (shown) {
    alignas(8) char buf[64];
    long n = c.file().read(buf, sizeof(buf), true);
    drm_event_vblank ev{};
    if (n >= static_cast<long>(sizeof(ev))) std::memcpy(&ev, buf, sizeof(ev));
    if (n != static_cast<long>(sizeof(ev)) || ev.base.type != DRM_EVENT_FLIP_COMPLETE || ev.user_data != 42)
      shown = ::testing::AssertionFailure() << "flip event: read " << n << " type " << ev.base.type;
  }
  if (shown) shown = crc_shows(*crtc, ac.buf[1]);
  crtc_crc_close(*crtc);
  for (auto& b : ac.buf) c.destroy_dumb(b);
  c.close();
  return shown;
}

void run_flip_load(ActiveClient& ac, Load* load) {
  KmsClient& c = *ac.c;
  int i = 0;
  while (!load->stop) {
    ++i;
    int r = c.atomic_flip(ac.out.plane_id, ac.fb[i & 1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT,
                          static_cast<uint64_t>(i));
    if (r == 0) {
      ++load->requested;
    } else if (r == -EBUSY) {
      ++load->ebusy;
    } else if (r == -ENODEV) {
      ++load->enodev;
      break;
    } else {
      ADD_FAILURE() << "flip under load: " << r;
      break;
    }
    load->delivered += static_cast<int>(c.read_events().size());
    sleep_for(std::chrono::milliseconds(4));
  }
  load->done = true;
}

InjectAt::InjectAt(SimExecutor& sim, std::string point, std::string task_prefix)
    : sim_(sim), point_(std::move(point)), prefix_(std::move(task_prefix)) {
  sim_.set_strategy(this);
  sim_.set_point_observer(&InjectAt::observe, this);
}

InjectAt::~InjectAt() {
  sim_.set_strategy(nullptr);
  sim_.set_point_observer(nullptr, nullptr);
}

void InjectAt::arm(std::function<void()> action) {
  armed_ = true;
  sim_.post(
      [this, action = std::move(action)] {
        injector_ = sim_.current();
        go_.wait();
        action();
        done_ = true;
      },
      "injector");
}

void InjectAt::observe(void* ctx, const Point& p, SimTask* t) {
  auto* self = static_cast<InjectAt*>(ctx);
  if (!self->armed_ || self->fired_ || !t || !self->injector_) return;
  if (std::strcmp(p.name, self->point_.c_str()) != 0) return;
  if (std::strncmp(t->name(), self->prefix_.c_str(), self->prefix_.size()) != 0) return;
  self->fired_ = true;
  self->go_.complete();
}

SimTask* InjectAt::at_point(SimExecutor&, const Point& p, SimTask*, std::span<SimTask* const> ready) {
  if (!fired_ || done_ || std::strcmp(p.name, point_.c_str()) != 0) return nullptr;
  for (SimTask* t : ready)
    if (t == injector_) return t;
  return nullptr;
}

}  // namespace udrm::scenario
