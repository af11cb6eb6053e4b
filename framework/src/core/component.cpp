// The component framework (udrm/core/component.h). Semantics: drivers/base/component.c.
#include "udrm/core/component.h"

#include <algorithm>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/core/devres.h"
#include "udrm/core/device.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"

namespace udrm {

void component_master_del_locked(ComponentRegistry& reg, ComponentRegistry::Aggregate* adev);

struct ComponentRegistry::Component {
  Ref<Device> dev;
  ComponentOps* ops;
  int subcomponent;
  Aggregate* adev = nullptr;
  bool bound = false;
};

struct ComponentRegistry::Aggregate {
  Aggregate(Ref<Device> p, ComponentMasterOps* o, ComponentMatch* m) : parent(std::move(p)), ops(o), match(m) {
    sentinel.name = "component_aggregate";
    sentinel.payload = this;
    sentinel.release = &ComponentRegistry::aggregate_devres_release;
    sentinel.destroy = [](detail::DevresNode*) {};  // embedded: nothing to free
  }
  Ref<Device> parent;
  ComponentMasterOps* ops;
  ComponentMatch* match;
  bool bound = false;
  // The master driver's devres were released while the aggregate was still registered (no
  // component_master_del in remove); already WARNed about.
  bool orphaned = false;
  // While bound: a devres node on the parent, newer than the aggregate's devres group. If the
  // parent's devres are released while the aggregate is still bound (a master driver that
  // forgot component_master_del), this node is released *before* the group's resources, so
  // the master's unbind still runs with everything its bind allocated alive.
  detail::DevresNode sentinel;
};

struct ComponentMatch {
  struct Entry {
    component_compare_t compare = nullptr;
    component_compare_typed_t compare_typed = nullptr;
    component_release_t release = nullptr;
    void* data = nullptr;
    ComponentRegistry::Component* component = nullptr;
    bool duplicate = false;
  };
  Device* master = nullptr;
  ComponentRegistry::Aggregate* adev = nullptr;  // the aggregate using this list, if any
  std::vector<Entry> entries;

  // devres release of the match list: run each entry's release hook (component_release_of).
  static void release(Device& master, void* res);
  static void destroy(detail::DevresNode* n) {
    static_cast<ComponentMatch*>(n->payload)->~ComponentMatch();
    detail::devres_node_free(n);
  }
};

namespace {
ComponentMatch g_match_enomem;  // the poisoned match pointer (ERR_PTR(-ENOMEM))

// The module whose code a callback runs (the bound driver's owner).
Module* owner_of(Device& dev) { return dev.driver() ? dev.driver()->owner() : nullptr; }
}  // namespace

bool component_match_is_err(const ComponentMatch* m) noexcept { return m == &g_match_enomem; }

void ComponentMatch::release(Device& master, void* res) {
  auto* m = static_cast<ComponentMatch*>(res);
  // (m->adev is cleared when the aggregate goes, also at world teardown: only then may the
  // registry be gone.)
  if (m->adev) {
    // The driver unbound without component_master_del(): unregister the aggregate now rather
    // than leave it pointing at freed memory. (If it was bound, its devres sentinel already
    // took it down, before the resources of its bind went away, and WARNed.)
    ComponentRegistry& reg = master.world().components();
    std::lock_guard<Mutex> l(reg.mutex());
    if (m->adev) {
      if (!m->adev->orphaned)
        warn(LogCat::component, "%s: component match released while its aggregate is still registered "
             "(missing component_master_del in remove?)", master.name().c_str());
      component_master_del_locked(reg, m->adev);
    }
  }
  for (auto& e : m->entries)
    if (e.release) e.release(master, e.data);
}

static void match_add(Device& master, ComponentMatch** matchptr, ComponentMatch::Entry e) {
  if (!matchptr || component_match_is_err(*matchptr)) return;
  if (!*matchptr) {
    static constexpr Point site{"component.match_alloc"};
    detail::DevresNode* n = detail::devres_node_alloc(sizeof(ComponentMatch), site);
    if (!n) {
      *matchptr = &g_match_enomem;
      return;
    }
    auto* m = ::new (n->payload) ComponentMatch();
    m->master = &master;
    n->name = "component_match";
    n->release = &ComponentMatch::release;
    n->destroy = &ComponentMatch::destroy;
    devres_add(master, n->payload);
    *matchptr = m;
  }
  if (UDRM_SHOULD_FAIL("component.match_grow")) {
    *matchptr = &g_match_enomem;  // the old list stays devres-owned and is freed at unbind
    return;
  }
  (*matchptr)->entries.push_back(e);
}

void component_match_add_release(Device& master, ComponentMatch** matchptr, component_release_t release,
                                 component_compare_t compare, void* compare_data) {
  ComponentMatch::Entry e;
  e.compare = compare;
  e.release = release;
  e.data = compare_data;
  match_add(master, matchptr, e);
}

void component_match_add(Device& master, ComponentMatch** matchptr, component_compare_t compare, void* compare_data) {
  component_match_add_release(master, matchptr, nullptr, compare, compare_data);
}

void component_match_add_typed(Device& master, ComponentMatch** matchptr, component_compare_typed_t compare,
                               void* compare_data) {
  ComponentMatch::Entry e;
  e.compare_typed = compare;
  e.data = compare_data;
  match_add(master, matchptr, e);
}

bool component_compare_dev(Device& comp, void* dev) { return &comp == dev; }
bool component_compare_dev_name(Device& comp, void* name) { return comp.name() == static_cast<const char*>(name); }
void component_release_nop(Device&, void*) {}

// ---- registry internals --------------------------------------------------------------------------

namespace {
// Take an aggregate's sentinel off its parent's devres list. False if it is not there (not
// bound, or the parent's devres are being released right now and hold it in their batch).
bool unlink_sentinel(Device& parent, detail::DevresNode* s) {
  return parent.devres().find_if([s](detail::DevresNode& n) { return &n == s; }, true) != nullptr;
}
}  // namespace

ComponentRegistry::~ComponentRegistry() {
  std::lock_guard<Mutex> l(mu_);
  for (Aggregate* a : aggregates_) {
    warn(LogCat::component, "%s: aggregate still registered at world teardown", a->parent->name().c_str());
    if (a->match) a->match->adev = nullptr;
    unlink_sentinel(*a->parent, &a->sentinel);  // it lives inside *a
    delete a;
  }
  for (Component* c : components_) {
    warn(LogCat::component, "%s: component still registered at world teardown", c->dev->name().c_str());
    delete c;
  }
}

bool ComponentRegistry::aggregate_bound(const Device& parent) {
  std::lock_guard<Mutex> l(mu_);
  Aggregate* a = find_aggregate(parent, nullptr);
  return a && a->bound;
}

std::size_t ComponentRegistry::component_count() {
  std::lock_guard<Mutex> l(mu_);
  return components_.size();
}

ComponentRegistry::Aggregate* ComponentRegistry::find_aggregate(const Device& parent, const ComponentMasterOps* ops) {
  for (Aggregate* a : aggregates_)
    if (a->parent.get() == &parent && (!ops || a->ops == ops)) return a;
  return nullptr;
}

bool ComponentRegistry::find_components(Aggregate* adev) {
  for (auto& e : adev->match->entries) {
    if (e.component) continue;
    Component* found = nullptr;
    for (Component* c : components_) {
      if (c->adev && c->adev != adev) continue;  // owned by another aggregate
      if ((e.compare && e.compare(*c->dev, e.data)) ||
          (e.compare_typed && c->subcomponent && e.compare_typed(*c->dev, c->subcomponent, e.data))) {
        found = c;
        break;
      }
    }
    if (!found) return false;
    e.duplicate = found->adev != nullptr;  // already attached through an earlier entry
    e.component = found;
    found->adev = adev;
  }
  return true;
}

int ComponentRegistry::try_bring_up(Aggregate* adev, Component* trigger) {
  UDRM_POINT("component.bring_up");
  if (!find_components(adev)) return 0;  // not all members present yet
  if (trigger && trigger->adev != adev) return 0;
  if (adev->bound) return 0;
  Device& parent = *adev->parent;
  if (!devres_open_group(parent, adev)) return -ENOMEM;
  int ret;
  {
    ModuleScope scope(owner_of(parent));
    ret = adev->ops->bind(parent);
  }
  if (ret < 0) {
    devres_release_group(parent, adev);
    if (ret != -EPROBE_DEFER)
      log_err(LogCat::component, "%s: failed to bind aggregate (%d)", parent.name().c_str(), ret);
    return ret;
  }
  devres_close_group(parent, adev);
  parent.devres().add(&adev->sentinel);
  adev->bound = true;
  log_dbg(LogCat::component, "%s: aggregate bound", parent.name().c_str());
  return 1;
}

void ComponentRegistry::take_down(Aggregate* adev, bool release_group) {
  if (!adev->bound) return;
  UDRM_POINT("component.take_down");
  Device& parent = *adev->parent;
  // Not on the list: the parent's devres release is running this very moment (it will release
  // the group itself); do not look for a group that is no longer there.
  if (release_group && !unlink_sentinel(parent, &adev->sentinel)) release_group = false;
  {
    ModuleScope scope(owner_of(parent));
    adev->ops->unbind(parent);
  }
  if (release_group) devres_release_group(parent, adev);
  adev->bound = false;
  log_dbg(LogCat::component, "%s: aggregate taken down", parent.name().c_str());
}

// The parent's devres are being released (release_all at unbind or probe failure) while the
// aggregate is still bound: the master driver did not call component_master_del. Run the
// master's unbind now, while the resources of its bind (newer than this node's group, released
// right after this node) are still alive. The aggregate stays registered until the match list
// (older still) is released.
void ComponentRegistry::aggregate_devres_release(Device& parent, void* res) {
  auto* adev = static_cast<Aggregate*>(res);
  ComponentRegistry& reg = parent.world().components();
  std::lock_guard<Mutex> l(reg.mu_);
  if (std::find(reg.aggregates_.begin(), reg.aggregates_.end(), adev) == reg.aggregates_.end()) return;
  if (!adev->bound) return;
  warn(LogCat::component, "%s: devres released while its aggregate is still bound "
       "(missing component_master_del in remove?)", parent.name().c_str());
  adev->orphaned = true;
  reg.take_down(adev, false);
}

void ComponentRegistry::remove_from_match(Aggregate* adev) {
  // Detach every component of adev (used when the aggregate goes away).
  if (adev->match) {
    for (auto& e : adev->match->entries) {
      if (e.component) e.component->adev = nullptr;
      e.component = nullptr;
      e.duplicate = false;
    }
  }
}

int ComponentRegistry::bind_one(Component* c, Aggregate* adev, void* data) {
  Device& parent = *adev->parent;
  Device& dev = *c->dev;
  void* pgroup = devres_open_group(parent, nullptr);
  if (!pgroup) return -ENOMEM;
  if (!devres_open_group(dev, c)) {
    devres_release_group(parent, pgroup);
    return -ENOMEM;
  }
  int ret;
  {
    ModuleScope scope(owner_of(dev));
    ret = c->ops->bind(dev, parent, data);
  }
  if (ret) {
    devres_release_group(dev, c);
    devres_release_group(parent, pgroup);
    if (ret != -EPROBE_DEFER)
      log_err(LogCat::component, "%s: failed to bind %s (%d)", parent.name().c_str(), dev.name().c_str(), ret);
    return ret;
  }
  devres_close_group(dev, c);
  devres_remove_group(parent, pgroup);  // parent resources merge into the aggregate's group
  c->bound = true;
  return 0;
}

void ComponentRegistry::unbind_one(Component* c, Aggregate* adev, void* data) {
  if (!c->bound) return;
  {
    ModuleScope scope(owner_of(*c->dev));
    c->ops->unbind(*c->dev, *adev->parent, data);
  }
  c->bound = false;
  devres_release_group(*c->dev, c);
}

void component_master_del_locked(ComponentRegistry& reg, ComponentRegistry::Aggregate* adev) {
  reg.take_down(adev);
  reg.remove_from_match(adev);
  if (adev->match) adev->match->adev = nullptr;
  reg.aggregates_.remove(adev);
  delete adev;
}

int ComponentRegistry::add_component(Device& dev, ComponentOps& ops, int subcomponent) {
  auto* c = new Component{Ref<Device>(&dev), &ops, subcomponent};
  std::lock_guard<Mutex> l(mu_);
  components_.push_back(c);
  int ret = 0;
  for (Aggregate* a : aggregates_) {
    if (a->bound) continue;
    ret = try_bring_up(a, c);
    if (ret != 0) break;
  }
  if (ret < 0) {
    if (Aggregate* a = c->adev) {
      for (auto& e : a->match->entries)
        if (e.component == c) e.component = nullptr;
    }
    components_.remove(c);
    delete c;
    return ret;
  }
  return 0;
}

// ---- public API ------------------------------------------------------------------------------------

int component_master_add_with_match(Device& parent, ComponentMasterOps& ops, ComponentMatch* match) {
  if (!match) return -EINVAL;
  if (component_match_is_err(match)) return -ENOMEM;
  ComponentRegistry& reg = parent.world().components();
  std::lock_guard<Mutex> l(reg.mu_);
  if (reg.find_aggregate(parent, &ops)) return -EEXIST;
  auto* adev = new ComponentRegistry::Aggregate(Ref<Device>(&parent), &ops, match);
  match->adev = adev;
  reg.aggregates_.push_front(adev);
  int ret = reg.try_bring_up(adev, nullptr);
  if (ret < 0) {
    component_master_del_locked(reg, adev);
    return ret;
  }
  return 0;
}

void component_master_del(Device& parent, ComponentMasterOps& ops) {
  ComponentRegistry& reg = parent.world().components();
  std::lock_guard<Mutex> l(reg.mu_);
  ComponentRegistry::Aggregate* adev = reg.find_aggregate(parent, &ops);
  if (!adev) {
    warn(LogCat::component, "%s: component_master_del: no such aggregate", parent.name().c_str());
    return;
  }
  component_master_del_locked(reg, adev);
}

int component_add(Device& dev, ComponentOps& ops) { return dev.world().components().add_component(dev, ops, 0); }

int component_add_typed(Device& dev, ComponentOps& ops, int subcomponent) {
  if (subcomponent == 0) {
    warn(LogCat::component, "%s: component_add_typed with subcomponent 0", dev.name().c_str());
    return -EINVAL;
  }
  return dev.world().components().add_component(dev, ops, subcomponent);
}

void component_del(Device& dev, ComponentOps& ops) {
  ComponentRegistry& reg = dev.world().components();
  ComponentRegistry::Component* c = nullptr;
  {
    std::lock_guard<Mutex> l(reg.mu_);
    for (auto* x : reg.components_)
      if (x->dev.get() == &dev && x->ops == &ops) c = x;
    if (!c) {
      warn(LogCat::component, "%s: component_del of a component that was not added", dev.name().c_str());
      return;
    }
    reg.components_.remove(c);
    if (ComponentRegistry::Aggregate* a = c->adev) {
      reg.take_down(a);
      for (auto& e : a->match->entries) {
        if (e.component == c) {
          e.component = nullptr;
          e.duplicate = false;
        }
      }
      c->adev = nullptr;
    }
  }
  delete c;
}

int component_bind_all(Device& parent, void* data) {
  ComponentRegistry& reg = parent.world().components();
  if (!reg.mu_.held()) {
    warn(LogCat::component, "%s: component_bind_all outside the master's bind", parent.name().c_str());
    return -EINVAL;
  }
  ComponentRegistry::Aggregate* adev = reg.find_aggregate(parent, nullptr);
  if (!adev) return -EINVAL;
  auto& entries = adev->match->entries;
  int ret = 0;
  std::size_t i = 0;
  for (; i < entries.size(); ++i) {
    if (entries[i].duplicate) continue;
    ret = reg.bind_one(entries[i].component, adev, data);
    if (ret) break;
  }
  if (ret) {
    while (i-- > 0)
      if (!entries[i].duplicate) reg.unbind_one(entries[i].component, adev, data);
  }
  return ret;
}

void component_unbind_all(Device& parent, void* data) {
  ComponentRegistry& reg = parent.world().components();
  if (!reg.mu_.held()) {
    warn(LogCat::component, "%s: component_unbind_all outside the master's unbind", parent.name().c_str());
    return;
  }
  ComponentRegistry::Aggregate* adev = reg.find_aggregate(parent, nullptr);
  if (!adev) return;
  auto& entries = adev->match->entries;
  for (std::size_t i = entries.size(); i-- > 0;)
    if (!entries[i].duplicate && entries[i].component) reg.unbind_one(entries[i].component, adev, data);
}

}  // namespace udrm
