// Register-level display controller (udrm/fakehw/display.h).
#include "udrm/fakehw/display.h"

#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <set>

#include "udrm/base/point.h"
#include "udrm/core/world.h"

namespace udrm::fakehw {

using namespace dcregs;

namespace {
const char* const kPlaneNames[kPlanesPerPipe] = {"primary", "overlay", "cursor"};

// Register names must outlive every block; intern them once per process.
const char* intern(const std::string& s) {
  static SpinLock lock;
  static std::set<std::string>* names = new std::set<std::string>();
  std::lock_guard<SpinLock> l(lock);
  return names->insert(s).first->c_str();
}

int32_t s16(uint32_t v) { return static_cast<int16_t>(static_cast<uint16_t>(v & 0xffff)); }
}  // namespace

struct DisplayController::Pipe {
  std::unique_ptr<TimingGenerator> tg;
  bool enabled = false;
  uint32_t width = 0, height = 0;
  std::array<LatchedPlane, kPlanesPerPipe> active{};
  std::array<dma_addr_t, kPlanesPerPipe> held{};  // 0: nothing held
  std::array<std::string, kPlanesPerPipe> holder;
  uint64_t vblanks = 0, scanned = 0, flips = 0, underruns = 0;
  uint32_t crc = 0;
  bool stuck_flip = false;
  uint32_t inject_underrun = 0;
  Composer composer;
  std::vector<uint32_t> last_frame;
  std::vector<PlaneDesc> descs;
};

std::vector<RegDesc> DisplayController::register_layout(const DisplayConfig& cfg) {
  std::vector<RegDesc> r = {
      {ID, "ID", kId, 0, 0},
      {RESET, "RESET", 0, RESET_GO, 0},
      {STATUS, "STATUS", 0, 0, 0},
      {INT_STATUS, "INT_STATUS", 0, 0, 0xffffffffu},
      {INT_ENABLE, "INT_ENABLE", 0, 0xffffffffu, 0},
      {NUM_PIPES, "NUM_PIPES", cfg.pipes, 0, 0},
  };
  static const struct {
    uint32_t off;
    const char* name;
    uint32_t rw;
  } pipe_regs[] = {{PIPE_CTRL, "CTRL", CTRL_ENABLE | CTRL_GO | CTRL_CRC_EN},
                   {PIPE_HTIMING, "HTIMING", 0xffffffffu},
                   {PIPE_VTIMING, "VTIMING", 0xffffffffu},
                   {PIPE_CLOCK, "CLOCK", 0xffffffffu},
                   {PIPE_FRAME, "FRAME", 0},
                   {PIPE_CRC, "CRC", 0}},
    plane_regs[] = {{PLANE_CTRL, "CTRL", PLANE_ENABLE | plane_zpos(0xf)},
                    {PLANE_FORMAT, "FORMAT", 0xffffffffu},
                    {PLANE_ADDR_LO, "ADDR_LO", 0xffffffffu},
                    {PLANE_ADDR_HI, "ADDR_HI", 0xffffffffu},
                    {PLANE_PITCH, "PITCH", 0xffffffffu},
                    {PLANE_SRC_POS, "SRC_POS", 0xffffffffu},
                    {PLANE_SRC_SIZE, "SRC_SIZE", 0xffffffffu},
                    {PLANE_DST_POS, "DST_POS", 0xffffffffu},
                    {PLANE_DST_SIZE, "DST_SIZE", 0xffffffffu}};
  for (uint32_t p = 0; p < cfg.pipes; ++p) {
    for (auto& pr : pipe_regs)
      r.push_back({pipe_base(p) + pr.off, intern("PIPE" + std::to_string(p) + "_" + pr.name), 0, pr.rw, 0});
    for (uint32_t k = 0; k < cfg.planes_per_pipe; ++k)
      for (auto& pr : plane_regs)
        r.push_back({plane_base(p, k) + pr.off,
                     intern("PIPE" + std::to_string(p) + "_PLANE" + std::to_string(k) + "_" + pr.name), 0, pr.rw, 0});
  }
  return r;
}

DisplayController::DisplayController(World& w, std::string name, RegisterBlock& regs, IrqLine& irq, DisplayConfig cfg)
    : world_(w),
      name_(std::move(name)),
      regs_(regs),
      irq_(irq),
      cfg_(cfg),
      dma_(w, name_ + ".dma"),
      alive_(std::make_shared<std::atomic<bool>>(true)) {
  cfg_.pipes = std::clamp<uint32_t>(cfg_.pipes, 1, kMaxPipes);
  cfg_.planes_per_pipe = std::clamp<uint32_t>(cfg_.planes_per_pipe, 1, kPlanesPerPipe);
  for (uint32_t p = 0; p < cfg_.pipes; ++p) {
    auto pp = std::make_unique<Pipe>();
    pp->tg = std::make_unique<TimingGenerator>(w.executor(), name_ + ".pipe" + std::to_string(p));
    pp->tg->set_vblank_handler([this, p](uint64_t, TimePoint) { vblank(p); });
    for (uint32_t k = 0; k < kPlanesPerPipe; ++k)
      pp->holder[k] = name_ + " pipe" + std::to_string(p) + " " + kPlaneNames[k];
    pipes_.push_back(std::move(pp));
  }
  regs_.set_write_hook([this](RegisterBlock&, uint32_t off, uint32_t v) { on_write(off, v); });
}

DisplayController::~DisplayController() {
  alive_->store(false);
  regs_.set_write_hook(nullptr);
  for (auto& pp : pipes_) pp->tg->stop();
  if (reset_timer_) world_.executor().cancel(reset_timer_);
}

LatchedPlane DisplayController::decode_shadow(uint32_t p, uint32_t k) const {
  const uint32_t b = plane_base(p, k);
  LatchedPlane lp;
  const uint32_t ctrl = regs_.hw_get(b + PLANE_CTRL);
  lp.enabled = ctrl & PLANE_ENABLE;
  lp.zpos = (ctrl >> 8) & 0xf;
  lp.fourcc = regs_.hw_get(b + PLANE_FORMAT);
  lp.addr = (uint64_t{regs_.hw_get(b + PLANE_ADDR_HI)} << 32) | regs_.hw_get(b + PLANE_ADDR_LO);
  lp.pitch = regs_.hw_get(b + PLANE_PITCH);
  uint32_t v = regs_.hw_get(b + PLANE_SRC_POS);
  lp.src.x = static_cast<int32_t>(v & 0xffff);
  lp.src.y = static_cast<int32_t>(v >> 16);
  v = regs_.hw_get(b + PLANE_SRC_SIZE);
  lp.src.w = v & 0xffff;
  lp.src.h = v >> 16;
  v = regs_.hw_get(b + PLANE_DST_POS);
  lp.dst.x = s16(v);
  lp.dst.y = s16(v >> 16);
  v = regs_.hw_get(b + PLANE_DST_SIZE);
  lp.dst.w = v & 0xffff;
  lp.dst.h = v >> 16;
  return lp;
}

// Hold what an enabled pipe scans out; release what it no longer does. Called under lock_.
static void update_holds(DmaSpace& dma, std::array<LatchedPlane, kPlanesPerPipe>& active,
                         std::array<dma_addr_t, kPlanesPerPipe>& held, const std::array<std::string, kPlanesPerPipe>& who,
                         bool enabled, uint32_t nplanes) {
  for (uint32_t k = 0; k < nplanes; ++k) {
    const dma_addr_t want = enabled && active[k].enabled ? active[k].addr : 0;
    if (held[k] == want) continue;
    if (held[k]) dma.hw_release(held[k], who[k]);
    if (want) dma.hw_hold(want, who[k]);
    held[k] = want;
  }
}

void DisplayController::on_write(uint32_t off, uint32_t value) {
  if (off == RESET) {
    if (value & RESET_GO) do_reset();
    return;
  }
  for (uint32_t p = 0; p < cfg_.pipes; ++p)
    if (off == pipe_base(p) + PIPE_CTRL) return pipe_ctrl_written(p, value);
}

void DisplayController::pipe_ctrl_written(uint32_t p, uint32_t) {
  Pipe& pp = *pipes_[p];
  const uint32_t ctrl_off = pipe_base(p) + PIPE_CTRL;
  bool stop = false, start = false, arm = false;
  {
    std::lock_guard<SpinLock> l(lock_);
    const uint32_t ctrl = regs_.hw_get(ctrl_off);
    if ((ctrl & CTRL_ENABLE) && !pp.enabled) {
      const uint32_t h = regs_.hw_get(pipe_base(p) + PIPE_HTIMING), v = regs_.hw_get(pipe_base(p) + PIPE_VTIMING);
      VideoTimings t{regs_.hw_get(pipe_base(p) + PIPE_CLOCK), h & 0xffff, h >> 16, v & 0xffff, v >> 16};
      if (pp.tg->set_timings(t) != 0 && !immediate_) {
        regs_.hw_clear_bits(ctrl_off, CTRL_ENABLE | CTRL_GO);  // the hardware refuses the mode
        return;
      }
      pp.enabled = true;
      pp.width = t.hdisplay;
      pp.height = t.vdisplay;
      start = true;
      update_holds(dma_, pp.active, pp.held, pp.holder, true, cfg_.planes_per_pipe);
    } else if (!(ctrl & CTRL_ENABLE) && pp.enabled) {
      pp.enabled = false;
      stop = true;
      regs_.hw_clear_bits(ctrl_off, CTRL_GO);
      update_holds(dma_, pp.active, pp.held, pp.holder, false, cfg_.planes_per_pipe);
    }
    if ((ctrl & CTRL_GO) && !pp.enabled && !stop) {
      // Nothing scanning: the shadow registers latch at once.
      for (uint32_t k = 0; k < cfg_.planes_per_pipe; ++k) pp.active[k] = decode_shadow(p, k);
      regs_.hw_clear_bits(ctrl_off, CTRL_GO);
    } else if ((ctrl & CTRL_GO) && pp.enabled && immediate_ && !pp.stuck_flip) {
      arm = true;
    }
  }
  UDRM_POINT("dc.pipe_ctrl");
  if (stop) pp.tg->stop();
  if (start) pp.tg->start();
  if (arm || (start && immediate_ && (regs_.hw_get(ctrl_off) & CTRL_GO))) pp.tg->arm();
}

void DisplayController::vblank(uint32_t p) {
  Pipe& pp = *pipes_[p];
  bool raise = false;
  {
    std::lock_guard<SpinLock> l(lock_);
    if (!pp.enabled) return;
    const uint32_t ctrl_off = pipe_base(p) + PIPE_CTRL;
    uint32_t bits = int_vblank(p);
    ++pp.vblanks;
    regs_.hw_set(pipe_base(p) + PIPE_FRAME, static_cast<uint32_t>(pp.vblanks));
    const uint32_t ctrl = regs_.hw_get(ctrl_off);
    if ((ctrl & CTRL_GO) && !pp.stuck_flip) {
      for (uint32_t k = 0; k < cfg_.planes_per_pipe; ++k) pp.active[k] = decode_shadow(p, k);
      update_holds(dma_, pp.active, pp.held, pp.holder, true, cfg_.planes_per_pipe);
      regs_.hw_clear_bits(ctrl_off, CTRL_GO);
      ++pp.flips;
      bits |= int_flip_done(p);
    }
    if (!scanout(pp, p, (ctrl & CTRL_CRC_EN) != 0) || pp.inject_underrun) {
      if (pp.inject_underrun) --pp.inject_underrun;
      ++pp.underruns;
      bits |= int_underrun(p);
    }
    regs_.hw_set_bits(INT_STATUS, bits);
    raise = (regs_.hw_get(INT_STATUS) & regs_.hw_get(INT_ENABLE)) != 0;
  }
  if (raise) irq_.raise();
}

// Read the latched planes for the frame that starts now. False on a DMA fault or a plane the
// engine cannot fetch (bad format/rectangle): the pipe underruns.
bool DisplayController::scanout(Pipe& pp, uint32_t p, bool crc) {
  pp.descs.clear();
  for (uint32_t k = 0; k < cfg_.planes_per_pipe; ++k) {
    const LatchedPlane& lp = pp.active[k];
    if (!lp.enabled) continue;
    PlaneDesc d;
    d.fourcc = lp.fourcc;
    d.dma = &dma_;
    d.addr = lp.addr;
    d.pitch = lp.pitch;
    d.src = lp.src;
    d.dst = lp.dst;
    d.zpos = static_cast<int32_t>(lp.zpos);
    d.name = pp.holder[k].c_str();
    pp.descs.push_back(d);
  }
  ++pp.scanned;
  if (!crc) {
    pp.last_frame.clear();
    return pp.composer.check(pp.width, pp.height, pp.descs) == 0;
  }
  const int r = pp.composer.compose(pp.width, pp.height, pp.descs);
  pp.crc = pp.composer.crc();
  pp.last_frame = pp.composer.frame();
  regs_.hw_set(pipe_base(p) + PIPE_CRC, pp.crc);
  return r == 0 && pp.composer.faults() == 0;
}

void DisplayController::do_reset() {
  std::vector<TimingGenerator*> to_stop;
  {
    std::lock_guard<SpinLock> l(lock_);
    for (auto& pp : pipes_) {
      if (pp->enabled) to_stop.push_back(pp->tg.get());
      pp->enabled = false;
      pp->active = {};
      update_holds(dma_, pp->active, pp->held, pp->holder, false, cfg_.planes_per_pipe);
    }
    regs_.reset();
    regs_.hw_set_bits(STATUS, STATUS_BUSY);
    const uint64_t gen = ++reset_gen_;
    if (reset_timer_) world_.executor().cancel(reset_timer_);
    auto alive = alive_;
    reset_timer_ = world_.executor().post_at(world_.executor().now() + cfg_.reset_time, [this, alive, gen] {
      if (!alive->load()) return;
      std::lock_guard<SpinLock> l(lock_);
      if (gen != reset_gen_) return;
      reset_timer_ = 0;
      if (!stuck_busy_) regs_.hw_clear_bits(STATUS, STATUS_BUSY);
    }, "dc.reset");
  }
  for (TimingGenerator* tg : to_stop) tg->stop();
}

void DisplayController::set_immediate(bool on) {
  std::lock_guard<SpinLock> l(lock_);
  immediate_ = on;
  for (auto& pp : pipes_) pp->tg->set_immediate(on);
}

void DisplayController::fault_stuck_flip(uint32_t pipe, bool on) {
  std::lock_guard<SpinLock> l(lock_);
  pipes_.at(pipe)->stuck_flip = on;
}

void DisplayController::fault_stuck_busy(bool on) {
  std::lock_guard<SpinLock> l(lock_);
  stuck_busy_ = on;
  if (on) regs_.hw_set_bits(STATUS, STATUS_BUSY);
  else if (!reset_timer_) regs_.hw_clear_bits(STATUS, STATUS_BUSY);
}

void DisplayController::fault_irq_storm(int n) { irq_.storm(n); }

void DisplayController::fault_underrun(uint32_t pipe, uint32_t frames) {
  std::lock_guard<SpinLock> l(lock_);
  pipes_.at(pipe)->inject_underrun += frames;
}

#define DC_GET(expr)                      \
  std::lock_guard<SpinLock> l(lock_);     \
  const Pipe& pp = *pipes_.at(pipe);      \
  return expr

bool DisplayController::pipe_enabled(uint32_t pipe) const { DC_GET(pp.enabled); }
uint32_t DisplayController::crc(uint32_t pipe) const { DC_GET(pp.crc); }
uint64_t DisplayController::frames_scanned(uint32_t pipe) const { DC_GET(pp.scanned); }
uint64_t DisplayController::vblanks(uint32_t pipe) const { DC_GET(pp.vblanks); }
uint64_t DisplayController::flips(uint32_t pipe) const { DC_GET(pp.flips); }
uint64_t DisplayController::underruns(uint32_t pipe) const { DC_GET(pp.underruns); }
std::vector<uint32_t> DisplayController::last_frame(uint32_t pipe) const { DC_GET(pp.last_frame); }
LatchedPlane DisplayController::latched(uint32_t pipe, uint32_t plane) const { DC_GET(pp.active.at(plane)); }
#undef DC_GET

TimingGenerator& DisplayController::timing(uint32_t pipe) { return *pipes_.at(pipe)->tg; }

std::vector<std::string> DisplayController::leaks() const {
  std::vector<std::string> out;
  std::lock_guard<SpinLock> l(lock_);
  for (uint32_t p = 0; p < cfg_.pipes; ++p)
    if (pipes_[p]->enabled) out.push_back("display " + name_ + " pipe " + std::to_string(p) + " left enabled");
  if (uint32_t ie = regs_.hw_get(INT_ENABLE)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%x", ie);
    out.push_back("display " + name_ + " interrupts left enabled (INT_ENABLE=" + buf + ")");
  }
  return out;
}

}  // namespace udrm::fakehw
