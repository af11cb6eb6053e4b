// Poisoned quarantine for released devm memory (udrm/core/poison.h).
#include "udrm/core/poison.h"

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>

#include "udrm/base/log.h"
#include "udrm/base/sim_executor.h"

#if defined(UDRM_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace udrm {
namespace {

constexpr unsigned char kPoison = 0x6b;
constexpr std::size_t kMaxBlocks = 1u << 14;
constexpr std::size_t kMaxBytes = 64u << 20;

struct Block {
  void* block;
  unsigned char* payload;
  std::size_t size;
  std::string note;  // "devm 'name' (N bytes) of 'owner', released in task T after point P"
};

// A leaf lock: never held across a scheduling point or a call out.
struct Quarantine {
  std::mutex mu;
  std::deque<Block> blocks;
  std::size_t bytes = 0;
};

Quarantine& q() {
  static Quarantine* qq = new Quarantine;  // never destroyed: releases may run at exit
  return *qq;
}

std::atomic<int> g_enabled{0};

std::string check_block(const Block& b) {
#if defined(UDRM_ASAN)
  (void)b;
  return {};  // ASan aborts at the stray access itself
#else
  for (std::size_t i = 0; i < b.size; ++i) {
    if (b.payload[i] != kPoison) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "byte %zu of %zu written (0x%02x) after release: ", i, b.size, b.payload[i]);
      return buf + b.note;
    }
  }
  return {};
#endif
}

void release_block(Block& b) {
#if defined(UDRM_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(b.payload, b.size);
#endif
  std::free(b.block);
}

#if defined(UDRM_ASAN)
void asan_report_cb(const char* report) {
  // "... on address 0x602000000010 ..."
  const char* p = std::strstr(report, "on address 0x");
  if (!p) return;
  uintptr_t addr = std::strtoull(p + 11, nullptr, 16);
  std::string note = detail::poison_describe(reinterpret_cast<const void*>(addr));
  if (!note.empty()) std::fprintf(stderr, "udrm: the address is in released devm memory: %s\n", note.c_str());
}
#endif

}  // namespace

ScopedPoison::ScopedPoison() {
#if defined(UDRM_ASAN)
  static bool cb = (__asan_set_error_report_callback(&asan_report_cb), true);
  (void)cb;
#endif
  g_enabled.fetch_add(1, std::memory_order_relaxed);
}

ScopedPoison::~ScopedPoison() {
  if (g_enabled.fetch_sub(1, std::memory_order_relaxed) == 1) {
    for (const std::string& s : poison_flush()) warn(LogCat::devres, "devm memory written after release: %s", s.c_str());
  }
}

bool poison_enabled() noexcept { return g_enabled.load(std::memory_order_relaxed) != 0; }

bool poison_quarantine(void* block, void* payload, std::size_t payload_size, const char* owner, const char* name) {
  if (!poison_enabled() || payload_size == 0) return false;
  Block b{block, static_cast<unsigned char*>(payload), payload_size, {}};
  b.note = "devm '" + std::string(name ? name : "?") + "' (" + std::to_string(payload_size) + " bytes) of '" +
           (owner ? owner : "?") + "' released";
  if (SimExecutor* sim = SimExecutor::running()) {
    if (SimTask* t = sim->current()) {
      b.note += std::string(" in task ") + t->name();
      if (t->last_point()) b.note += std::string(" after point ") + t->last_point()->name;
    }
  }
#if defined(UDRM_ASAN)
  ASAN_POISON_MEMORY_REGION(b.payload, b.size);
#else
  std::memset(b.payload, kPoison, b.size);
#endif
  std::vector<Block> evicted;
  {
    auto& qq = q();
    std::lock_guard<std::mutex> l(qq.mu);
    qq.bytes += b.size;
    qq.blocks.push_back(std::move(b));
    while (qq.blocks.size() > kMaxBlocks || qq.bytes > kMaxBytes) {
      qq.bytes -= qq.blocks.front().size;
      evicted.push_back(std::move(qq.blocks.front()));
      qq.blocks.pop_front();
    }
  }
  for (Block& e : evicted) {
    std::string bad = check_block(e);
    if (!bad.empty()) warn(LogCat::devres, "devm memory written after release: %s", bad.c_str());
    release_block(e);
  }
  return true;
}

std::vector<std::string> poison_check() {
  std::vector<std::string> out;
  auto& qq = q();
  std::lock_guard<std::mutex> l(qq.mu);
  for (const Block& b : qq.blocks) {
    std::string bad = check_block(b);
    if (!bad.empty()) out.push_back(std::move(bad));
  }
  return out;
}

std::vector<std::string> poison_flush() {
  std::deque<Block> all;
  {
    auto& qq = q();
    std::lock_guard<std::mutex> l(qq.mu);
    all.swap(qq.blocks);
    qq.bytes = 0;
  }
  std::vector<std::string> out;
  for (Block& b : all) {
    std::string bad = check_block(b);
    if (!bad.empty()) out.push_back(std::move(bad));
    release_block(b);
  }
  return out;
}

namespace detail {
std::string poison_describe(const void* addr) {
  auto a = reinterpret_cast<uintptr_t>(addr);
  auto& qq = q();
  std::lock_guard<std::mutex> l(qq.mu);
  for (const Block& b : qq.blocks) {
    auto p = reinterpret_cast<uintptr_t>(b.payload);
    if (a >= p && a < p + b.size) return b.note;
  }
  return {};
}
}  // namespace detail

}  // namespace udrm
