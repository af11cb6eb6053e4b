// MMIO register blocks (udrm/fakehw/mmio.h).
#include "udrm/fakehw/mmio.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/core/devres.h"
#include "udrm/core/device.h"
#include "udrm/core/violation.h"

namespace udrm::fakehw {

RegisterBlock::RegisterBlock(World& w, std::string name, std::vector<RegDesc> regs)
    : world_(w), name_(std::move(name)), regs_(std::move(regs)) {
  std::sort(regs_.begin(), regs_.end(), [](const RegDesc& a, const RegDesc& b) { return a.offset < b.offset; });
  values_.resize(regs_.size());
  reset();
}

RegisterBlock::~RegisterBlock() = default;

const RegDesc* RegisterBlock::find(uint32_t offset) const {
  auto it = std::lower_bound(regs_.begin(), regs_.end(), offset,
                             [](const RegDesc& r, uint32_t o) { return r.offset < o; });
  return it != regs_.end() && it->offset == offset ? &*it : nullptr;
}

std::string RegisterBlock::reg_name(uint32_t offset) const {
  if (const RegDesc* r = find(offset)) return r->name;
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", offset);
  return buf;
}

uint32_t RegisterBlock::hw_get(uint32_t offset) const {
  std::lock_guard<SpinLock> l(lock_);
  const RegDesc* r = find(offset);
  return r ? values_[static_cast<size_t>(r - regs_.data())] : 0;
}

void RegisterBlock::hw_set(uint32_t offset, uint32_t value) {
  std::lock_guard<SpinLock> l(lock_);
  if (const RegDesc* r = find(offset)) values_[static_cast<size_t>(r - regs_.data())] = value;
}

void RegisterBlock::hw_set_bits(uint32_t offset, uint32_t bits) {
  std::lock_guard<SpinLock> l(lock_);
  if (const RegDesc* r = find(offset)) values_[static_cast<size_t>(r - regs_.data())] |= bits;
}

void RegisterBlock::hw_clear_bits(uint32_t offset, uint32_t bits) {
  std::lock_guard<SpinLock> l(lock_);
  if (const RegDesc* r = find(offset)) values_[static_cast<size_t>(r - regs_.data())] &= ~bits;
}

void RegisterBlock::set_write_hook(WriteHook hook) {
  std::lock_guard<SpinLock> l(lock_);
  hook_ = std::move(hook);
}

void RegisterBlock::reset() {
  std::lock_guard<SpinLock> l(lock_);
  for (size_t i = 0; i < regs_.size(); ++i) values_[i] = regs_[i].reset;
}

std::vector<RegisterBlock::Access> RegisterBlock::log() const {
  std::lock_guard<SpinLock> l(lock_);
  return log_;
}

std::vector<RegisterBlock::Access> RegisterBlock::writes() const {
  std::lock_guard<SpinLock> l(lock_);
  std::vector<Access> out;
  for (const auto& a : log_)
    if (a.write) out.push_back(a);
  return out;
}

void RegisterBlock::clear_log() {
  std::lock_guard<SpinLock> l(lock_);
  log_.clear();
}

uint32_t RegisterBlock::driver_read(uint32_t offset) {
  TimePoint t = now();
  std::lock_guard<SpinLock> l(lock_);
  const RegDesc* r = find(offset);
  uint32_t v = r ? values_[static_cast<size_t>(r - regs_.data())] : 0xffffffffu;
  log_.push_back({offset, v, false, t});
  return v;
}

void RegisterBlock::driver_write(uint32_t offset, uint32_t value) {
  TimePoint t = now();
  WriteHook hook;
  {
    std::lock_guard<SpinLock> l(lock_);
    log_.push_back({offset, value, true, t});
    const RegDesc* r = find(offset);
    if (!r) return;  // writes to holes are ignored, as on real buses
    uint32_t& cur = values_[static_cast<size_t>(r - regs_.data())];
    uint32_t stored = (cur & ~r->rw_mask) | (value & r->rw_mask);
    stored &= ~(value & r->w1c_mask);
    cur = stored;
    hook = hook_;
  }
  if (hook) hook(*this, offset, value);
}

void IoMem::violation(const char* op, uint32_t offset) {
  report_violation(block_.world(), "mmio-after-unmap",
                   "%s(%s @0x%x) of block '%s' through a mapping that devm released at the unbind of '%s'", op,
                   block_.reg_name(offset).c_str(), offset, block_.name().c_str(), owner_.c_str());
}

uint32_t IoMem::readl(uint32_t offset) {
  if (!mapped()) {
    violation("readl", offset);
    return 0xffffffffu;
  }
  return block_.driver_read(offset);
}

void IoMem::writel(uint32_t value, uint32_t offset) {
  if (!mapped()) {
    violation("writel", offset);
    return;
  }
  block_.driver_write(offset, value);
}

void IoMem::unmap() {
  if (mapped_.exchange(false, std::memory_order_acq_rel)) block_.live_.fetch_sub(1, std::memory_order_acq_rel);
}

IoMem* devm_ioremap(Device& dev, RegisterBlock& block) {
  IoMem* m;
  {
    std::lock_guard<SpinLock> l(block.lock_);
    block.mappings_.push_back(std::unique_ptr<IoMem>(new IoMem(block, dev.name())));
    m = block.mappings_.back().get();
  }
  block.live_.fetch_add(1, std::memory_order_acq_rel);
  if (devm_add_action_or_reset(dev, &IoMem::devm_iounmap, m, "devm_ioremap")) return nullptr;
  return m;
}

}  // namespace udrm::fakehw
