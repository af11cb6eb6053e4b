// Poisoned quarantine for released devm memory (udrm/core/poison.h).
#include "udrm/core/poison.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "udrm/base/log.h"
#include "udrm/base/sim_executor.h"

// Guarded quarantine (the kernel's KFENCE, not its slab poisoning): outside the sanitizer
// builds, small devm blocks allocated while poisoning is on get pages of their own, and a
// released block's pages are made inaccessible, so a stray READ faults too. The SIGSEGV
// handler records the access (what, where, released where), makes the page accessible and
// returns: the access completes on the poison pattern and the run goes on to its report.
// ASan builds use ASan's poisoning instead; TSan's runtime owns SIGSEGV, so TSan builds keep
// the write-only pattern check.
#if !defined(UDRM_ASAN) && !defined(UDRM_TSAN) && defined(__linux__)
#define UDRM_POISON_GUARD 1
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#endif

#if defined(UDRM_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace udrm {
namespace {

[[maybe_unused]] constexpr unsigned char kPoison = 0x6b;  // ASan builds poison with ASan
constexpr std::size_t kMaxBlocks = 1u << 14;
constexpr std::size_t kMaxBytes = 64u << 20;

struct Block {
  void* block;
  unsigned char* payload;
  std::size_t size;
  std::string note;  // "devm 'name' (N bytes) of 'owner', released in task T after point P"
  std::size_t guard_len = 0;  // > 0: a guarded block (its own pages, inaccessible until touched)
  int prot = 0;               // guarded: what the fault handler opened (0, PROT_READ, RW)
  bool written = false;       // guarded: a write was already reported by the fault handler
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

#if defined(UDRM_POISON_GUARD)
// One reserved region, carved into runs of 1..kMaxGuardPages pages; free runs are kept
// inaccessible. Bounded: when it is full, blocks come from calloc (unguarded).
constexpr std::size_t kGuardRegion = 256u << 20;
constexpr std::size_t kMaxGuardPages = 4;
constexpr std::size_t kMaxGuardedQuarantined = 8192;  // bounds the kernel's VMA splits

struct GuardPool {
  std::mutex mu;
  char* base = nullptr;
  std::size_t page = 4096;
  std::size_t bump = 0;  // bytes handed out from base so far
  bool failed = false;
  std::vector<char*> free_runs[kMaxGuardPages + 1];
  std::vector<unsigned char> pages_of;  // per page: length in pages of the run starting there
  std::vector<unsigned char> open_of;   // per run start: 1 while the free run is readable/writable
                                        // (reopened in one call at the end of a run: reopen_free)
  std::size_t guarded_quarantined = 0;  // under Quarantine::mu
};

GuardPool& gp() {
  static GuardPool* p = new GuardPool;
  return *p;
}

// Set once base is mapped; read by the fault handler without locks.
std::atomic<char*> g_guard_base{nullptr};

bool in_guard(const void* a) {
  char* b = g_guard_base.load(std::memory_order_acquire);
  auto* c = static_cast<const char*>(a);
  return b && c >= b && c < b + kGuardRegion;
}

std::size_t guard_len_of(GuardPool& g, const void* block) {
  std::size_t idx = static_cast<std::size_t>(static_cast<const char*>(block) - g.base) / g.page;
  return g.pages_of[idx] * g.page;
}

// Findings of the fault handler: fixed storage (no allocation in the handler).
constexpr int kMaxAccessLines = 32;
char g_access_lines[kMaxAccessLines][768];
std::atomic<int> g_access_n{0};

struct sigaction g_prev_segv;

void add_access_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void add_access_line(const char* fmt, ...) {
  int i = g_access_n.fetch_add(1, std::memory_order_relaxed);
  if (i >= kMaxAccessLines) return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(g_access_lines[i], sizeof g_access_lines[i], fmt, ap);
  va_end(ap);
}

void where_now(const char** task, const char** point) {
  *task = "?";
  *point = "(none)";
  if (SimExecutor* sim = SimExecutor::running()) {
    if (SimTask* t = sim->current()) {
      *task = t->name();
      if (t->last_point()) *point = t->last_point()->name;
    }
  }
}

// The access at `a` (a guarded page): report it, open the page enough for the access to
// complete. Runs in the SIGSEGV handler of the faulting thread, which never holds q().mu while
// touching a guarded page (poison.cpp reads payloads only once the handler opened them).
bool guard_fault(char* a, int write_hint) {
  GuardPool& g = gp();
  const char *task, *point;
  where_now(&task, &point);
  auto& qq = q();
  std::lock_guard<std::mutex> l(qq.mu);
  for (Block& b : qq.blocks) {
    auto* blk = static_cast<char*>(b.block);
    if (!b.guard_len || a < blk || a >= blk + b.guard_len) continue;
    // Without the hardware's write bit: the first fault opens for reading, a second one (on a
    // readable page) is a write.
    const bool write = write_hint > 0 || (write_hint < 0 && b.prot == PROT_READ);
    const long off = a - reinterpret_cast<char*>(b.payload);
    const bool in_payload = off >= 0 && static_cast<std::size_t>(off) < b.size;
    if (!write || !b.written) {
      add_access_line("%s released devm memory: %s %ld of %zu %s in task %s after point %s: %s",
                      write ? "write to" : "read of", in_payload ? "byte" : "offset", off, b.size,
                      write ? "written" : "read", task, point, b.note.c_str());
    }
    if (write) b.written = true;
    b.prot = write ? PROT_READ | PROT_WRITE : PROT_READ;
    mprotect(blk, b.guard_len, b.prot);
    return true;
  }
  // A run already out of the quarantine (free, or handed out again): report once, open it.
  char* page = g.base + static_cast<std::size_t>(a - g.base) / g.page * g.page;
  add_access_line("access to released devm memory at %p in task %s after point %s (the block already left the "
                  "quarantine)",
                  static_cast<void*>(a), task, point);
  mprotect(page, g.page, PROT_READ | PROT_WRITE);
  return true;
}

void on_segv(int sig, siginfo_t* si, void* uc) {
  if (si && in_guard(si->si_addr)) {
    int write_hint = -1;
#if defined(__x86_64__) && defined(REG_ERR)
    write_hint = (static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
#endif
    if (guard_fault(static_cast<char*>(si->si_addr), write_hint)) return;
  }
  // Not ours: hand it to whoever had SIGSEGV before, or let the default action happen.
  if ((g_prev_segv.sa_flags & SA_SIGINFO) && g_prev_segv.sa_sigaction) {
    g_prev_segv.sa_sigaction(sig, si, uc);
    return;
  }
  if (g_prev_segv.sa_handler != SIG_DFL && g_prev_segv.sa_handler != SIG_IGN && g_prev_segv.sa_handler) {
    g_prev_segv.sa_handler(sig);
    return;
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGSEGV, &dfl, nullptr);  // the access faults again, now fatally
}

// Under g.mu.
bool guard_init(GuardPool& g) {
  if (g.base) return true;
  if (g.failed) return false;
  long pg = sysconf(_SC_PAGESIZE);
  g.page = pg > 0 ? static_cast<std::size_t>(pg) : 4096;
  void* m = mmap(nullptr, kGuardRegion, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    g.failed = true;
    return false;
  }
  struct sigaction sa {};
  sa.sa_sigaction = &on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &g_prev_segv) != 0) {
    munmap(m, kGuardRegion);
    g.failed = true;
    return false;
  }
  g.base = static_cast<char*>(m);
  g.pages_of.assign(kGuardRegion / g.page, 0);
  g.open_of.assign(kGuardRegion / g.page, 0);
  g_guard_base.store(g.base, std::memory_order_release);
  return true;
}

void* guard_alloc(std::size_t size) {
  GuardPool& g = gp();
  std::lock_guard<std::mutex> l(g.mu);
  if (!guard_init(g)) return nullptr;
  const std::size_t pages = (size + g.page - 1) / g.page;
  if (pages == 0 || pages > kMaxGuardPages) return nullptr;
  char* run = nullptr;
  if (!g.free_runs[pages].empty()) {
    run = g.free_runs[pages].back();
    g.free_runs[pages].pop_back();
  } else if (g.bump + pages * g.page <= kGuardRegion) {
    run = g.base + g.bump;
    g.bump += pages * g.page;
    g.pages_of[static_cast<std::size_t>(run - g.base) / g.page] = static_cast<unsigned char>(pages);
  } else {
    return nullptr;
  }
  unsigned char& open = g.open_of[static_cast<std::size_t>(run - g.base) / g.page];
  if (!open && mprotect(run, pages * g.page, PROT_READ | PROT_WRITE) != 0) {
    g.free_runs[pages].push_back(run);
    return nullptr;
  }
  open = 0;  // in use; inaccessible again from its release on
  std::memset(run, 0, size);  // a reused run holds the poison pattern
  return run;
}

void guard_free(void* block) {
  GuardPool& g = gp();
  std::lock_guard<std::mutex> l(g.mu);
  const std::size_t len = guard_len_of(g, block);
  mprotect(block, len, PROT_NONE);
  g.free_runs[len / g.page].push_back(static_cast<char*>(block));
}

// The end of an explorer run (poison_flush, the quarantine emptied): every run handed out so
// far becomes readable/writable again in one call, instead of one call per block at its next
// allocation (a run's blocks are allocated and released together; a sweep allocates the same
// ones ~1000 times). Live blocks are readable/writable already; free runs are then unguarded
// until handed out again — between runs, when no world is alive.
void guard_reopen_free() {
  GuardPool& g = gp();
  std::lock_guard<std::mutex> l(g.mu);
  if (!g.base || g.bump == 0) return;
  if (mprotect(g.base, g.bump, PROT_READ | PROT_WRITE) != 0) return;  // runs stay closed: reopened one by one
  for (auto& runs : g.free_runs)
    for (char* r : runs) g.open_of[static_cast<std::size_t>(r - g.base) / g.page] = 1;
}
#endif  // UDRM_POISON_GUARD

std::string check_block(const Block& b) {
#if defined(UDRM_ASAN)
  (void)b;
  return {};  // ASan aborts at the stray access itself
#else
#if defined(UDRM_POISON_GUARD)
  if (b.guard_len && (b.prot != (PROT_READ | PROT_WRITE) || b.written)) return {};  // no write, or reported
#endif
  for (std::size_t i = 0; i < b.size; ++i) {
    if (b.payload[i] != kPoison) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "write to released devm memory: byte %zu of %zu written (0x%02x) after release: ",
                    i, b.size, b.payload[i]);
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
#if defined(UDRM_POISON_GUARD)
  if (b.guard_len) {
    guard_free(b.block);
    return;
  }
#endif
  std::free(b.block);
}

// The fault handler's findings since the last flush (none outside the guarded builds).
void take_access_lines(std::vector<std::string>& out, bool clear) {
#if defined(UDRM_POISON_GUARD)
  int n = std::min(g_access_n.load(std::memory_order_relaxed), kMaxAccessLines);
  for (int i = 0; i < n; ++i) out.emplace_back(g_access_lines[i]);
  if (g_access_n.load(std::memory_order_relaxed) > kMaxAccessLines)
    out.push_back("(more accesses to released devm memory were not recorded)");
  if (clear) g_access_n.store(0, std::memory_order_relaxed);
#else
  (void)out;
  (void)clear;
#endif
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
    for (const std::string& s : poison_flush()) warn(LogCat::devres, "%s", s.c_str());
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
#if defined(UDRM_POISON_GUARD)
    if (in_guard(block)) {
      GuardPool& g = gp();
      {
        std::lock_guard<std::mutex> gl(g.mu);
        b.guard_len = guard_len_of(g, block);
      }
      mprotect(block, b.guard_len, PROT_NONE);
      ++g.guarded_quarantined;
    }
#endif
    qq.bytes += b.size;
    qq.blocks.push_back(std::move(b));
    while (qq.blocks.size() > kMaxBlocks || qq.bytes > kMaxBytes
#if defined(UDRM_POISON_GUARD)
           || gp().guarded_quarantined > kMaxGuardedQuarantined
#endif
    ) {
      qq.bytes -= qq.blocks.front().size;
#if defined(UDRM_POISON_GUARD)
      if (qq.blocks.front().guard_len) --gp().guarded_quarantined;
#endif
      evicted.push_back(std::move(qq.blocks.front()));
      qq.blocks.pop_front();
    }
  }
  for (Block& e : evicted) {
    std::string bad = check_block(e);
    if (!bad.empty()) warn(LogCat::devres, "%s", bad.c_str());
    release_block(e);
  }
  return true;
}

std::vector<std::string> poison_check() {
  std::vector<std::string> out;
  take_access_lines(out, false);
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
#if defined(UDRM_POISON_GUARD)
    gp().guarded_quarantined = 0;
#endif
  }
  std::vector<std::string> out;
  take_access_lines(out, true);
  for (Block& b : all) {
    std::string bad = check_block(b);
    if (!bad.empty()) out.push_back(std::move(bad));
    release_block(b);
  }
#if defined(UDRM_POISON_GUARD)
  guard_reopen_free();
#endif
  return out;
}

void* poison_calloc(std::size_t size) {
#if defined(UDRM_POISON_GUARD)
  if (poison_enabled()) {
    if (void* p = guard_alloc(size)) return p;
  }
#endif
  return std::calloc(1, size);
}

void poison_free(void* block) {
#if defined(UDRM_POISON_GUARD)
  if (in_guard(block)) {
    guard_free(block);
    return;
  }
#endif
  std::free(block);
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
