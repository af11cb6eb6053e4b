// Code ranges of loaded and unloaded plugin modules: use-after-unload detection
// (udrm/core/module.h, module_code_unloaded).
//
// At load the loaded segments (code and read-only data) of the plugin's ELF object are recorded; at its dlclose
// the record is kept, marked unloaded. Release paths (devm, drmm) ask before calling a
// function pointer whether it points into unloaded code: the kernel would jump into freed
// module text there; udrm names the module and does not call.
#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "udrm/base/log.h"
#include "udrm/core/module.h"

namespace udrm {
namespace {

struct CodeRange {
  void* handle;
  std::string name;
  uintptr_t lo, hi;
  bool unloaded;
};

struct TextTable {
  std::mutex mu;  // leaf lock
  std::vector<CodeRange> ranges;
};

TextTable& table() {
  static TextTable* t = new TextTable;  // never destroyed: releases may run at exit
  return *t;
}

// Fast paths: nothing was ever unloaded (one relaxed load per release); no plugin was ever
// loaded (one relaxed load per node registration).
std::atomic<bool> g_any_unloaded{false};
std::atomic<bool> g_any_loaded{false};

struct Collect {
  uintptr_t base;
  const char* path;
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
};

int collect_cb(struct dl_phdr_info* info, size_t, void* data) {
  auto* c = static_cast<Collect*>(data);
  if (info->dlpi_addr != c->base || !info->dlpi_name || std::strcmp(info->dlpi_name, c->path) != 0) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD) c->out.emplace_back(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  return 1;
}

}  // namespace

namespace detail {

void module_text_add(void* handle, const std::string& name) {
  struct link_map* lm = nullptr;
  if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) return;
  Collect c{static_cast<uintptr_t>(lm->l_addr), lm->l_name, {}};
  dl_iterate_phdr(&collect_cb, &c);
  TextTable& t = table();
  std::lock_guard<std::mutex> l(t.mu);
  // A new mapping may reuse the addresses of an unloaded module, and a second dlopen of the
  // same object returns the same handle: drop the records it replaces.
  std::erase_if(t.ranges, [&](const CodeRange& r) {
    if (r.handle == handle) return true;
    for (auto& [lo, hi] : c.out)
      if (r.lo < hi && lo < r.hi) return true;
    return false;
  });
  for (auto& [lo, hi] : c.out) t.ranges.push_back({handle, name, lo, hi, false});
  g_any_loaded.store(true, std::memory_order_relaxed);
}

const char* module_stable_name(const char* name) {
  if (!name || !g_any_loaded.load(std::memory_order_relaxed)) return name;
  const auto a = reinterpret_cast<uintptr_t>(name);
  TextTable& t = table();
  std::lock_guard<std::mutex> l(t.mu);
  for (const CodeRange& r : t.ranges) {
    if (!r.unloaded && a >= r.lo && a < r.hi) {
      static auto* pool = new std::unordered_set<std::string>;  // never freed: names outlive modules
      return pool->emplace(name).first->c_str();
    }
  }
  return name;
}

void module_text_gone(void* handle) {
  if (!handle) return;
  TextTable& t = table();
  std::lock_guard<std::mutex> l(t.mu);
  for (CodeRange& r : t.ranges)
    if (r.handle == handle) {
      r.unloaded = true;
      r.handle = nullptr;  // a later dlopen may get the same handle value
      g_any_unloaded.store(true, std::memory_order_relaxed);
    }
}

bool release_code_gone(const char* what, const char* owner, const char* name, std::initializer_list<const void*> pcs) {
  if (!g_any_unloaded.load(std::memory_order_relaxed)) return false;
  for (const void* pc : pcs) {
    std::string mod;
    if (module_code_unloaded(pc, &mod)) {
      warn(LogCat::module,
           "%s: %s '%s': its code (%p) was in module '%s', unloaded before the release ran (use after unload): not "
           "called",
           owner ? owner : "?", what, name ? name : "?", pc, mod.c_str());
      return true;
    }
  }
  return false;
}

}  // namespace detail

bool module_code_unloaded(const void* pc, std::string* name) {
  if (!pc || !g_any_unloaded.load(std::memory_order_relaxed)) return false;
  const auto a = reinterpret_cast<uintptr_t>(pc);
  TextTable& t = table();
  std::lock_guard<std::mutex> l(t.mu);
  for (const CodeRange& r : t.ranges) {
    if (r.unloaded && a >= r.lo && a < r.hi) {
      if (name) *name = r.name;
      return true;
    }
  }
  return false;
}

}  // namespace udrm
