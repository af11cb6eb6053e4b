// udrm/core/module.h — loadable driver modules and module pinning (try_module_get).
//
// Driver code can live in a plugin shared object loaded at run time. A Module is pinned while
// anything that would call its code is still reachable. Two kinds of pin:
//  - references (try_module_get/module_get): open files, mappings, users outside the module.
//    Unloading (delete_module) refuses with -EAGAIN ("in use") and changes nothing;
//  - code pins: every devm and drmm node whose release runs the module's code. The module's
//    exit (unregistering its drivers, unbinding their devices) is expected to drop them.
// Unloading with no references: the module goes "going" (new try_module_get fails), its exit
// function runs (unregistering its drivers unbinds their devices, releasing their devm
// resources), and only when nothing references it any more is it dlclose'd; if exit leaves
// references or code pins behind, the module stays loaded (going), WARNs and unload returns
// -EBUSY; a later unload() completes it once they are gone (exit does not run twice).
//
// A plugin exports (extern "C"):
//   int  udrm_module_init(udrm::World&, udrm::Module&);   // 0 or -errno
//   void udrm_module_exit(udrm::World&, udrm::Module&);   // optional
//
// Code running on behalf of a module runs inside a ModuleScope so that what it registers is
// attributed to it (the driver core does this around probe/remove).
//
// Lifetime: a Module object lives until its registry unloads it or the World dies.
// Context: load/unload: process context, may sleep. get/put: any context.
#pragma once
#include <atomic>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "udrm/base/mutex.h"

namespace udrm {

class World;

class Module {
 public:
  enum class State : uint8_t { coming, live, going };

  const std::string& name() const noexcept { return name_; }
  State state() const noexcept { return state_.load(std::memory_order_acquire); }
  /// module_refcount: strong references (excluding devm pins).
  long refcount() const noexcept { return refs_.load(std::memory_order_acquire); }
  /// devm/drmm nodes registered by this module's code that are still on a list.
  long code_pins() const noexcept { return code_refs_.load(std::memory_order_acquire); }

 private:
  friend class ModuleRegistry;
  friend bool try_module_get(Module*) noexcept;
  friend void module_get(Module*) noexcept;
  friend void module_put(Module*) noexcept;
  friend void module_pin_code(Module*) noexcept;
  friend void module_unpin_code(Module*) noexcept;
  explicit Module(std::string name) : name_(std::move(name)) {}

  std::string name_;
  std::atomic<State> state_{State::coming};
  std::atomic<long> refs_{0};
  std::atomic<long> code_refs_{0};
  void* handle_ = nullptr;  // dlopen handle, nullptr for built-in modules
  std::function<void(World&, Module&)> exit_;
  // Both guarded by ModuleRegistry::mu_.
  bool exited_ = false;     // exit ran (or init failed): only the final free is left
  bool unloading_ = false;  // an unload() of this module is in progress
};

/// try_module_get: pin unless the module is going away. nullptr (built-in) always succeeds.
bool try_module_get(Module* m) noexcept;
/// __module_get: pin unconditionally (the caller runs the module's code already).
void module_get(Module* m) noexcept;
void module_put(Module* m) noexcept;
/// Code pins held by devm/drmm nodes (dropped when the nodes are released).
void module_pin_code(Module* m) noexcept;
void module_unpin_code(Module* m) noexcept;

/// The module whose code is running on this thread/task (nullptr: built-in code).
Module* current_module() noexcept;

/// Use-after-unload detection: true (and *name set) if `pc` lies in the executable code of a
/// plugin module that was unloaded (dlclose'd). The devm and drmm release paths ask this before
/// calling a node's functions, and WARN instead of jumping into unmapped code — the kernel's
/// crash when a managed action outlives the module that provided it (zoo entry 3).
/// Context: any; never sleeps (a leaf lock, taken only once some module was unloaded).
bool module_code_unloaded(const void* pc, std::string* name = nullptr);

namespace detail {
/// Record the code of a dlopen'ed module / mark it unloaded (before its dlclose).
void module_text_add(void* handle, const std::string& name);
void module_text_gone(void* handle);

/// A devm/drmm node's name that lives in a loaded plugin's image (a string literal of the
/// module) is copied to storage that outlives the module; other names are returned as is.
const char* module_stable_name(const char* name);

/// For release paths: true (after a WARN naming `what` of `owner` and the module) if any of
/// `pcs` is code of an unloaded module — the caller must then not call them.
bool release_code_gone(const char* what, const char* owner, const char* name, std::initializer_list<const void*> pcs);
}  // namespace detail

/// Marks that the enclosed code is `m`'s. Nests.
class ModuleScope {
 public:
  explicit ModuleScope(Module* m) noexcept;
  ~ModuleScope();
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;

 private:
  Module* prev_;
};

class ModuleRegistry {
 public:
  using InitFn = std::function<int(World&, Module&)>;
  using ExitFn = std::function<void(World&, Module&)>;

  explicit ModuleRegistry(World& w) : world_(w) {}
  ~ModuleRegistry();

  /// insmod: dlopen `path`, run udrm_module_init. Module name = file name without "lib" and
  /// ".so". -EEXIST if loaded, -ENOENT if the file cannot be opened, -ENOEXEC without an init
  /// symbol, else init's error (the module is then unloaded again — unless the failed init left
  /// references or code pins behind: then it WARNs and stays, going, until an unload() succeeds).
  int load(const std::string& path, Module** out = nullptr);
  /// A module linked into the program (same lifecycle rules, no dlopen).
  int load_builtin(const std::string& name, InitFn init, ExitFn exit, Module** out = nullptr);
  /// rmmod: -ENOENT unknown, -EAGAIN pinned (nothing changed), -EBUSY still referenced after
  /// exit (kept loaded, going; a later unload() frees it once the references are gone), or
  /// still coming, or being unloaded concurrently; 0 unloaded.
  int unload(std::string_view name);
  Module* find(std::string_view name);

 private:
  int finish_load(std::unique_ptr<Module> m, const InitFn& init, Module** out);

  World& world_;
  Mutex mu_{"module_mutex"};
  std::map<std::string, std::unique_ptr<Module>, std::less<>> modules_;
};

}  // namespace udrm
