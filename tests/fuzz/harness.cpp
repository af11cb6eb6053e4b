// One fuzz input against a fresh reference display (harness.h).
#include "harness.h"

#include <sys/mman.h>

#include <drm.h>
#include <drm_mode.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "decoder.h"
#include "oracle.h"
#include "udrm/base/log.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"

namespace udrm::fuzz {
namespace {

Stats g_stats;
bool g_verbose = false;

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
  std::fputs("udrm-fuzz: ORACLE FAILED: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  std::abort();
}

const char* op_name(OpKind k) {
  static const char* const names[] = {"open", "close", "ioctl", "poke", "mmap", "munmap", "fill",
                                      "read", "unbind", "rebind", "remove", "rescan", "tick"};
  return names[static_cast<unsigned>(k)];
}

// Tagged u64s (decoder.h) in 8-byte steps from the start of buf become arena pointers.
void relocate(uint8_t* buf, std::size_t len, const uint8_t* arena) {
  for (std::size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t v;
    std::memcpy(&v, buf + i, 8);
    if ((v >> 32) != kPtrTag) continue;
    v = reinterpret_cast<uintptr_t>(arena) + (v & 0xffffffffu);
    std::memcpy(buf + i, &v, 8);
  }
}

struct FileSlot {
  Ref<DrmFile> f;
  bool render = false;
  std::map<uint32_t, uint64_t> dumb_size;  // handle -> size, from CREATE_DUMB
  uint64_t last_offset = 0, last_size = 0; // from the last MAP_DUMB
};

struct Mapping {
  Ref<DrmFile> f;
  void* addr;
  std::size_t len;
  int prot;
};

class Session {
 public:
  Session(World& world, const Config& cfg) : world_(world), arena_(new uint8_t[kArenaSize]()) {
    drivers::DisplayOptions o;
    o.kind = cfg.soc ? drivers::Kind::soc : drivers::Kind::simple;
    o.hdmi_connected = !cfg.hdmi_unplugged;
    d_ = drivers::create_display(world, o);
    warns_ = warn_count();
    if (int r = d_->bind()) fail("%s: bind at start failed: %d", d_->drm_name(), r);
    check("bind at start");
    set_user_arena(arena_.get(), kArenaSize);
  }
  ~Session() { set_user_arena(nullptr, 0); }

  void run(Decoder& dec) {
    const TimePoint t0 = now();
    Op op;
    for (std::size_t n = 0; n < kMaxOps && now() - t0 < kVirtualBudget && dec.next(&op); ++n) {
      ++g_stats.ops;
      index_ = n;
      do_op(op);
      check(op_name(op.kind));
    }
    finish();
  }

 private:
  void check(const char* what) {
    auto v = world_.violations();
    if (!v.empty()) fail("op %zu (%s): lifetime violation %s: %s", index_, what, v.front().kind.c_str(), v.front().message.c_str());
    if (warn_count() != warns_) fail("op %zu (%s): WARN: %s", index_, what, last_warning().c_str());
  }

  void log(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (!g_verbose) return;
    std::fprintf(stderr, "[%zu t=%lldms] ", index_,
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count()));
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
  }

  FileSlot* slot(uint8_t sel) {
    FileSlot& s = files_[sel % kMaxFiles];
    return s.f ? &s : nullptr;
  }

  void do_op(const Op& op) {
    switch (op.kind) {
      case OpKind::open: return do_open(op);
      case OpKind::close: return do_close(op);
      case OpKind::ioctl: return do_ioctl(op);
      case OpKind::poke: return do_poke(op);
      case OpKind::mmap: return do_mmap(op);
      case OpKind::munmap: return do_munmap(op);
      case OpKind::fill: return do_fill(op);
      case OpKind::read: return do_read(op);
      case OpKind::unbind:
      case OpKind::rebind: return do_bind(op);
      case OpKind::remove:
        d_->remove();
        log("remove");
        return;
      case OpKind::rescan: {
        int r = d_->rescan();
        log("rescan -> %d", r);
        if (r > 0) fail("op %zu: rescan returned %d", index_, r);
        return;
      }
      case OpKind::tick:
        sleep_for(std::chrono::milliseconds(op.seed + 1));
        log("tick %dms", op.seed + 1);
        return;
    }
  }

  void do_open(const Op& op) {
    FileSlot* free = nullptr;
    for (FileSlot& s : files_)
      if (!s.f || !s.f->is_open()) {
        free = &s;
        break;
      }
    if (!free) return;
    const bool render = op.file & 1;
    Ref<DrmFile> f;
    int r = d_->open(&f, render ? MinorType::render : MinorType::primary);
    log("open %s -> %d (slot %td)", render ? "render" : "primary", r, free - files_);
    if (r != 0 && r != -ENODEV && r != -ENOENT) fail("op %zu: open returned %d", index_, r);
    if (r) return;
    *free = FileSlot{};
    free->f = f;
    free->render = render;
  }

  void do_close(const Op& op) {
    FileSlot* s = slot(op.file);
    if (!s) return;
    const bool was_open = s->f->is_open();
    int r = s->f->close();
    log("close slot %u -> %d", op.file % kMaxFiles, r);
    if (r != (was_open ? 0 : -EBADF)) fail("op %zu: close returned %d (file %s)", index_, r, was_open ? "open" : "closed");
  }

  void do_ioctl(const Op& op) {
    FileSlot* s = slot(op.file);
    if (!s) return;
    const uint32_t cmd = op.cmdsel == kRawCmd ? op.raw_cmd : ioctl_row_cmd(op.cmdsel % ioctl_rows());
    uint8_t* arena = arena_.get();
    uint8_t* place = nullptr;  // where the argument bytes go (inside the arena)
    uint64_t ptr = 0;
    std::size_t len = op.data_len;
    switch (op.ptr) {
      case PtrMode::arena: {
        const std::size_t off = static_cast<std::size_t>(op.ptr_value % kArenaSize);
        place = arena + off;
        ptr = reinterpret_cast<uintptr_t>(place);
        break;
      }
      case PtrMode::null: break;
      case PtrMode::arena_end: {
        // The argument's last byte is the first one past the arena.
        const std::size_t size = _IOC_SIZE(cmd) ? _IOC_SIZE(cmd) : 1;
        place = arena + kArenaSize - (size - 1);
        ptr = reinterpret_cast<uintptr_t>(place);
        break;
      }
      case PtrMode::raw: ptr = op.ptr_value; break;
    }
    if (place) {
      len = std::min<std::size_t>(len, static_cast<std::size_t>(arena + kArenaSize - place));
      std::memcpy(place, op.data, len);
      relocate(place, len, arena);
    }
    CallState st;
    st.closed = !s->f->is_open();
    st.unplugged = !st.closed && s->f->device()->is_unplugged();
    st.render = s->render;
    st.master = !st.closed && s->f->is_master();
    ++g_stats.ioctls;
    const int r = drm_ioctl(*s->f, cmd, reinterpret_cast<void*>(static_cast<uintptr_t>(ptr)));
    log("ioctl slot %u %s (0x%08x) arg %s+%zu -> %d", op.file % kMaxFiles, drm_ioctl_name(cmd), cmd,
        place ? "arena" : "ptr", place ? static_cast<std::size_t>(place - arena) : 0, r);
    if (const char* why = check_ioctl_result(cmd, r, st))
      fail("op %zu: ioctl %s (0x%08x) on a %s%s%s file returned %d: %s", index_, drm_ioctl_name(cmd), cmd,
           st.render ? "render" : "primary", st.closed ? " closed" : "", st.unplugged ? " unplugged" : "", r, why);
    if (r < 0) {
      ++g_stats.errnos[-r];
      return;
    }
    ++g_stats.ioctls_ok;
    track(*s, cmd, place);
  }

  // What a client learns from a successful call: dumb buffer sizes and mmap offsets (for the
  // mmap op), and the counters of the replay summary.
  void track(FileSlot& s, uint32_t cmd, const uint8_t* place) {
    const bool readable = place && place + 64 <= arena_.get() + kArenaSize;
    switch (cmd) {
      case DRM_IOCTL_MODE_CREATE_DUMB:
        if (readable) {
          drm_mode_create_dumb a;
          std::memcpy(&a, place, sizeof(a));
          s.dumb_size[a.handle] = a.size;
        }
        break;
      case DRM_IOCTL_MODE_MAP_DUMB:
        if (readable) {
          drm_mode_map_dumb a;
          std::memcpy(&a, place, sizeof(a));
          s.last_offset = a.offset;
          auto it = s.dumb_size.find(a.handle);
          s.last_size = it == s.dumb_size.end() ? 4096 : it->second;
        }
        break;
      case DRM_IOCTL_MODE_SETCRTC: ++g_stats.modesets_ok; break;
      case DRM_IOCTL_MODE_PAGE_FLIP: ++g_stats.flips_ok; break;
      case DRM_IOCTL_MODE_ATOMIC:
        if (readable) {
          drm_mode_atomic a;
          std::memcpy(&a, place, sizeof(a));
          if (a.flags & DRM_MODE_ATOMIC_ALLOW_MODESET) ++g_stats.modesets_ok;
          else if (a.flags & DRM_MODE_ATOMIC_NONBLOCK) ++g_stats.flips_ok;
        }
        break;
      default: break;
    }
  }

  void do_poke(const Op& op) {
    if (op.off >= kArenaSize) return;
    const std::size_t off = static_cast<std::size_t>(op.off);
    const std::size_t len = std::min(op.data_len, kArenaSize - off);
    std::memcpy(arena_.get() + off, op.data, len);
    relocate(arena_.get() + off, len, arena_.get());
  }

  void do_mmap(const Op& op) {
    FileSlot* s = slot(op.file);
    if (!s || maps_.size() >= kMaxMaps) return;
    const uint64_t off = op.off ? op.off : s->last_offset;
    const uint64_t len64 = op.len ? op.len : s->last_size;
    const std::size_t len = len64 > (uint64_t{1} << 40) ? std::size_t{1} << 40 : static_cast<std::size_t>(len64);
    const int prot = op.seed & 7;
    void* addr = nullptr;
    int r = s->f->mmap(off, len, prot, &addr);
    log("mmap slot %u off 0x%llx len %zu prot %d -> %d", op.file % kMaxFiles, static_cast<unsigned long long>(off), len,
        prot, r);
    if (r == 0) {
      if (!addr) fail("op %zu: mmap returned 0 without an address", index_);
      maps_.push_back(Mapping{s->f, addr, len, prot});
      ++g_stats.maps_ok;
      return;
    }
    if (r != -EINVAL && r != -ENODEV && r != -EBADF && r != -ENOMEM) fail("op %zu: mmap returned %d", index_, r);
  }

  void unmap(std::size_t i) {
    Mapping m = maps_[i];
    maps_.erase(maps_.begin() + static_cast<std::ptrdiff_t>(i));
    if (int r = m.f->munmap(m.addr, m.len)) fail("op %zu: munmap of a live mapping returned %d", index_, r);
  }

  void do_munmap(const Op& op) {
    if (maps_.empty()) return;
    unmap(op.file % maps_.size());
    log("munmap");
  }

  void do_fill(const Op& op) {
    if (maps_.empty()) return;
    Mapping& m = maps_[op.file % maps_.size()];
    if (!(m.prot & PROT_WRITE)) return;
    // What a client drawing into its buffer does (bounded: buffers can be 4 GiB).
    const std::size_t n = std::min<std::size_t>(m.len, 8u << 20) / 4;
    auto* px = static_cast<uint32_t*>(m.addr);
    const uint32_t seed = op.seed * 0x9e3779b9u;
    for (std::size_t i = 0; i < n; ++i) px[i] = seed ^ static_cast<uint32_t>(i * 2654435761u);
    log("fill %zu bytes", n * 4);
  }

  void do_read(const Op& op) {
    FileSlot* s = slot(op.file);
    if (!s) return;
    const std::size_t off = static_cast<std::size_t>(std::min<uint64_t>(op.off, kArenaSize));
    const std::size_t len = static_cast<std::size_t>(std::min<uint64_t>(op.len, 2 * kArenaSize));
    uint8_t* buf = arena_.get() + off;
    const bool was_open = s->f->is_open();
    long r = s->f->read(buf, len, false);
    log("read slot %u len %zu -> %ld", op.file % kMaxFiles, len, r);
    if (!was_open) {
      if (r != -EBADF) fail("op %zu: read of a closed file returned %ld", index_, r);
      return;
    }
    if (r == -EAGAIN || r == -EFAULT) return;
    if (r < 0 || static_cast<std::size_t>(r) > len) fail("op %zu: read of %zu bytes returned %ld", index_, len, r);
    // Whole events only, each at least a header, together exactly r bytes.
    std::size_t pos = 0;
    while (pos < static_cast<std::size_t>(r)) {
      drm_event e;
      if (static_cast<std::size_t>(r) - pos < sizeof(e)) fail("op %zu: read returned a partial event header", index_);
      std::memcpy(&e, buf + pos, sizeof(e));
      if (e.length < sizeof(e) || e.length > static_cast<std::size_t>(r) - pos)
        fail("op %zu: read returned an event of length %u at %zu of %ld", index_, e.length, pos, r);
      if (e.type != DRM_EVENT_VBLANK && e.type != DRM_EVENT_FLIP_COMPLETE && e.type != DRM_EVENT_CRTC_SEQUENCE)
        fail("op %zu: read returned an event of unknown type 0x%x", index_, e.type);
      pos += e.length;
    }
    g_stats.event_bytes += static_cast<uint64_t>(r);
  }

  void do_bind(const Op& op) {
    const auto names = d_->device_names();
    const std::string& n = names[op.file % names.size()];
    const bool unbind = op.kind == OpKind::unbind;
    int r = unbind ? d_->unbind(n) : d_->rebind(n);
    log("%s %s -> %d", unbind ? "unbind" : "rebind", n.c_str(), r);
    if (r > 0) fail("op %zu: %s %s returned %d", index_, unbind ? "unbind" : "rebind", n.c_str(), r);
    if (unbind && r == 0) ++g_stats.unbinds;
  }

  // A process exiting, then the devices unbound: nothing may be left.
  void finish() {
    index_ = kMaxOps;
    while (!maps_.empty()) unmap(maps_.size() - 1);
    for (FileSlot& s : files_) {
      if (s.f && s.f->is_open() && s.f->close() != 0) fail("finish: close returned non-zero");
      s = FileSlot{};
    }
    for (const std::string& n : d_->device_names()) {
      Device* dev = d_->device(n);
      if (dev && dev->is_bound())
        if (int r = d_->unbind(n)) fail("finish: unbind %s returned %d", n.c_str(), r);
    }
    sleep_for(std::chrono::milliseconds(50));  // deferred work (commit workers, final puts)
    check("finish");
    if (int n = d_->live_drm_devices()) fail("finish: %d DRM device(s) alive with every file closed and unbound", n);
    auto leaks = d_->leaks();
    if (!leaks.empty()) fail("finish: fake hardware left on: %s", leaks.front().c_str());
    d_.reset();
    sleep_for(std::chrono::milliseconds(20));
    check("display destroyed");
  }

  World& world_;
  std::unique_ptr<uint8_t[]> arena_;
  std::unique_ptr<drivers::Display> d_;
  FileSlot files_[kMaxFiles];
  std::vector<Mapping> maps_;
  uint64_t warns_ = 0;
  std::size_t index_ = 0;
};

}  // namespace

void init() {
  ::setenv("UDRM_QUIET", "1", 0);
  const char* v = std::getenv("UDRM_FUZZ_VERBOSE");
  g_verbose = v && *v && *v != '0';
}

void run_input(const uint8_t* data, std::size_t size) {
  ++g_stats.inputs;
  Decoder dec(data, size);
  const Config cfg = dec.config();
  SimExecutor::Options o;
  o.time_budget = std::chrono::minutes(10);  // far above kVirtualBudget: only a hang gets there
  SimExecutor sim(o);
  const uint64_t warns = warn_count();
  auto r = sim.run([&] {
    World world(sim);
    {
      Session s(world, cfg);
      s.run(dec);
    }
    sleep_for(std::chrono::milliseconds(20));
  });
  if (!r) fail("simulation did not end cleanly (%s): %s", r.kind == SimExecutor::Result::Kind::deadlock ? "deadlock" : "livelock",
               r.report.c_str());
  if (warn_count() != warns) fail("WARN while the world went away: %s", last_warning().c_str());
}

const Stats& stats() { return g_stats; }

}  // namespace udrm::fuzz
