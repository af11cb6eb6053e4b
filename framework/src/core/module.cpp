// Loadable modules and pinning (udrm/core/module.h).
#include "udrm/core/module.h"

#include <dlfcn.h>

#include <cerrno>
#include <string>
#include <vector>

#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/sim_hooks.h"

namespace udrm {
namespace {
void*& tls_module_slot() { return detail::tls_task_local[detail::kTaskLocalModule]; }
}

bool try_module_get(Module* m) noexcept {
  if (!m) return true;
  m->refs_.fetch_add(1, std::memory_order_seq_cst);
  if (m->state_.load(std::memory_order_seq_cst) == Module::State::going) {
    m->refs_.fetch_sub(1, std::memory_order_seq_cst);
    return false;
  }
  return true;
}

void module_get(Module* m) noexcept {
  if (m) m->refs_.fetch_add(1, std::memory_order_seq_cst);
}

void module_put(Module* m) noexcept {
  if (!m) return;
  long old = m->refs_.fetch_sub(1, std::memory_order_seq_cst);
  if (old <= 0) {
    m->refs_.fetch_add(1, std::memory_order_relaxed);
    warn(LogCat::module, "module_put: '%s' refcount underflow", m->name().c_str());
  }
}

void module_pin_code(Module* m) noexcept {
  if (m) m->code_refs_.fetch_add(1, std::memory_order_seq_cst);
}
void module_unpin_code(Module* m) noexcept {
  if (m) m->code_refs_.fetch_sub(1, std::memory_order_seq_cst);
}

Module* current_module() noexcept { return static_cast<Module*>(tls_module_slot()); }

ModuleScope::ModuleScope(Module* m) noexcept : prev_(current_module()) { tls_module_slot() = m; }
ModuleScope::~ModuleScope() { tls_module_slot() = prev_; }

ModuleRegistry::~ModuleRegistry() {
  // Modules still loaded when the world dies: unload what can be, report the rest.
  std::vector<std::string> names;
  {
    std::lock_guard<Mutex> l(mu_);
    for (auto& [n, m] : modules_) names.push_back(n);
  }
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    int ret = unload(*it);
    if (ret) warn(LogCat::module, "module '%s' still in use at world teardown (%d)", it->c_str(), ret);
  }
}

Module* ModuleRegistry::find(std::string_view name) {
  std::lock_guard<Mutex> l(mu_);
  auto it = modules_.find(name);
  return it == modules_.end() ? nullptr : it->second.get();
}

int ModuleRegistry::finish_load(std::unique_ptr<Module> m, const InitFn& init, Module** out) {
  Module* raw = m.get();
  {
    std::lock_guard<Mutex> l(mu_);
    if (modules_.count(raw->name())) {
      // Lost a race with a concurrent load of the same name: drop our dlopen reference.
      void* h = raw->handle_;
      m.reset();
      if (h) dlclose(h);
      return -EEXIST;
    }
    modules_.emplace(raw->name(), std::move(m));
  }
  int ret = 0;
  if (init) {
    ModuleScope scope(raw);
    ret = init(world_, *raw);
  }
  if (ret) {
    log_err(LogCat::module, "module '%s': init failed (%d)", raw->name().c_str(), ret);
    // do_init_module's failure path: going first, so nothing new pins it meanwhile.
    raw->state_.store(Module::State::going, std::memory_order_seq_cst);
    std::unique_ptr<Module> dead;
    {
      std::lock_guard<Mutex> l(mu_);
      if (raw->refs_.load(std::memory_order_seq_cst) != 0 || raw->code_refs_.load(std::memory_order_seq_cst) != 0) {
        // A failed init left something behind that still runs its code: freeing it now would
        // leave dangling pointers into unmapped code. Keep it (going); unload() retries.
        raw->exited_ = true;
        warn(LogCat::module, "module '%s': init failed (%d) but left %ld refs, %ld code pins; kept loaded",
             raw->name().c_str(), ret, raw->refcount(), raw->code_pins());
        return ret;
      }
      auto it = modules_.find(raw->name());
      dead = std::move(it->second);
      modules_.erase(it);
    }
    void* h = dead->handle_;
    dead->exit_ = nullptr;
    dead.reset();
    detail::module_text_gone(h);
    if (h) dlclose(h);
    return ret;
  }
  raw->state_.store(Module::State::live, std::memory_order_release);
  log_dbg(LogCat::module, "module '%s' loaded", raw->name().c_str());
  if (out) *out = raw;
  return 0;
}

int ModuleRegistry::load_builtin(const std::string& name, InitFn init, ExitFn exit, Module** out) {
  auto m = std::unique_ptr<Module>(new Module(name));
  m->exit_ = std::move(exit);
  return finish_load(std::move(m), init, out);
}

int ModuleRegistry::load(const std::string& path, Module** out) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  if (base.rfind("lib", 0) == 0) base = base.substr(3);
  if (auto dot = base.find(".so"); dot != std::string::npos) base = base.substr(0, dot);
  if (find(base)) return -EEXIST;
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    log_err(LogCat::module, "insmod %s: %s", path.c_str(), dlerror());
    return -ENOENT;
  }
  using init_t = int (*)(World&, Module&);
  using exit_t = void (*)(World&, Module&);
  auto init = reinterpret_cast<init_t>(dlsym(h, "udrm_module_init"));
  auto exit = reinterpret_cast<exit_t>(dlsym(h, "udrm_module_exit"));
  if (!init) {
    dlclose(h);
    return -ENOEXEC;
  }
  detail::module_text_add(h, base);
  auto m = std::unique_ptr<Module>(new Module(base));
  m->handle_ = h;
  if (exit) m->exit_ = exit;
  return finish_load(std::move(m), init, out);
}

int ModuleRegistry::unload(std::string_view name_view) {
  // Copy: the caller's view may point into the Module (m->name()) freed below.
  const std::string name(name_view);
  Module* m;
  bool run_exit;
  {
    // Look up and claim under the registry lock, so a concurrent unload can neither free the
    // module under us nor run exit a second time.
    std::lock_guard<Mutex> l(mu_);
    auto it = modules_.find(name);
    if (it == modules_.end()) return -ENOENT;
    m = it->second.get();
    if (m->unloading_) return -EBUSY;
    run_exit = !m->exited_;
    if (run_exit) {
      Module::State expect = Module::State::live;
      if (!m->state_.compare_exchange_strong(expect, Module::State::going, std::memory_order_seq_cst)) return -EBUSY;
      if (m->refs_.load(std::memory_order_seq_cst) != 0) {
        m->state_.store(Module::State::live, std::memory_order_seq_cst);
        log_info(LogCat::module, "rmmod %s: in use (%ld references)", m->name().c_str(), m->refcount());
        return -EAGAIN;
      }
    }
    m->unloading_ = true;
  }
  if (run_exit) {
    if (m->exit_) {
      ModuleScope scope(m);
      m->exit_(world_, *m);
    }
  }
  if (m->refs_.load(std::memory_order_seq_cst) != 0 || m->code_refs_.load(std::memory_order_seq_cst) != 0) {
    if (run_exit) {
      warn(LogCat::module, "module '%s' still referenced after exit (%ld refs, %ld code pins); kept loaded",
           m->name().c_str(), m->refcount(), m->code_pins());
    } else {
      log_info(LogCat::module, "rmmod %s: still referenced (%ld refs, %ld code pins)", m->name().c_str(),
               m->refcount(), m->code_pins());
    }
    std::lock_guard<Mutex> l(mu_);
    m->exited_ = true;
    m->unloading_ = false;
    return -EBUSY;
  }
  std::unique_ptr<Module> dead;
  {
    std::lock_guard<Mutex> l(mu_);
    auto it = modules_.find(name);
    dead = std::move(it->second);
    modules_.erase(it);
  }
  void* h = dead->handle_;
  dead->exit_ = nullptr;  // may be a closure from the plugin: destroy before dlclose
  dead.reset();
  detail::module_text_gone(h);
  if (h) dlclose(h);
  log_dbg(LogCat::module, "module '%s' unloaded", name.c_str());
  return 0;
}

}  // namespace udrm
