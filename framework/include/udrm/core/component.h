// udrm/core/component.h — the component framework (drivers/base/component.c).
//
// A display made of several devices (controller, bridge, panel) binds as one aggregate. The
// aggregate's parent (the "master") lists what it needs in a match list; each member device
// registers itself with component_add() from its probe. When the last needed member appears,
// the aggregate is brought up inside a devres group on the parent (id = the aggregate): the
// master's bind() runs and usually calls component_bind_all(), which binds the members in
// match order (each inside its own devres groups) and rolls back in reverse on failure.
// Removing any member (component_del, typically from its remove()) takes the whole aggregate
// down: master unbind (which calls component_unbind_all, reverse order), then release of the
// aggregate's devres group. The aggregate stays registered and binds again when the member
// returns. Errors of a bring-up, -EPROBE_DEFER included, reach the probe that triggered it.
//
// Lifetime: the match list is a devres allocation of the parent (freed, with each entry's
// release hook, when the parent's driver unbinds). Components and aggregates live from add
// to del. While an aggregate is bound its parent also carries one devres node named
// "component_aggregate", newer than the aggregate's group: if the parent's devres are released
// while the aggregate is still bound (a master driver whose remove() forgot
// component_master_del), that node WARNs and runs the master's unbind first, so the unbind
// still sees everything its bind allocated; the aggregate is unregistered when the match list
// goes.
// Context: process context; everything runs under the world's component mutex, which is held
// across the master's and components' bind/unbind callbacks. Do not add or delete components
// from inside those callbacks.
#pragma once
#include <list>
#include <vector>

#include "udrm/base/mutex.h"

namespace udrm {

class Device;
class World;

/// struct component_ops: a member device's part of the aggregate.
class ComponentOps {
 public:
  virtual ~ComponentOps() = default;
  virtual int bind(Device& comp, Device& master, void* data) = 0;
  virtual void unbind(Device& comp, Device& master, void* data) = 0;
};

/// struct component_master_ops: the aggregate driver.
class ComponentMasterOps {
 public:
  virtual ~ComponentMasterOps() = default;
  virtual int bind(Device& master) = 0;
  virtual void unbind(Device& master) = 0;
};

using component_compare_t = bool (*)(Device& comp, void* data);
using component_compare_typed_t = bool (*)(Device& comp, int subcomponent, void* data);
using component_release_t = void (*)(Device& master, void* data);

struct ComponentMatch;  // opaque; devres-owned by the master device

/// True if a match pointer is the poisoned result of an allocation failure.
bool component_match_is_err(const ComponentMatch* m) noexcept;

/// component_match_add_release: append an entry to *matchptr (allocating the list as a devres
/// resource of master on first use). On allocation failure *matchptr is poisoned and later
/// adds are ignored; component_master_add_with_match then returns -ENOMEM.
void component_match_add_release(Device& master, ComponentMatch** matchptr, component_release_t release,
                                 component_compare_t compare, void* compare_data);
void component_match_add(Device& master, ComponentMatch** matchptr, component_compare_t compare, void* compare_data);
void component_match_add_typed(Device& master, ComponentMatch** matchptr, component_compare_typed_t compare,
                               void* compare_data);

/// component_master_add_with_match: register the aggregate and try to bring it up. 0 if it
/// bound or waits for members; the bind error otherwise (the aggregate is then unregistered).
int component_master_add_with_match(Device& parent, ComponentMasterOps& ops, ComponentMatch* match);
/// component_master_del: take down (if bound) and unregister the aggregate.
void component_master_del(Device& parent, ComponentMasterOps& ops);

/// component_add: register dev as a component and try to bring up waiting aggregates; returns
/// the error of a bring-up this add triggered (the component is then unregistered again).
int component_add(Device& dev, ComponentOps& ops);
/// component_add_typed: as component_add with a non-zero subcomponent id (-EINVAL for 0).
int component_add_typed(Device& dev, ComponentOps& ops, int subcomponent);
/// component_del: take down the aggregate dev belongs to, then unregister dev. WARNs if dev was
/// not registered with these ops.
void component_del(Device& dev, ComponentOps& ops);

/// component_bind_all: from the master's bind(): bind every member in match order; on failure
/// unbind the bound ones in reverse and return the error.
int component_bind_all(Device& parent, void* data);
/// component_unbind_all: from the master's unbind(): unbind members in reverse match order.
void component_unbind_all(Device& parent, void* data);

/// Stock compare functions.
bool component_compare_dev(Device& comp, void* dev);            // data: Device*
bool component_compare_dev_name(Device& comp, void* name);      // data: const char*
/// Stock release: nothing (for entries whose data needs no release).
void component_release_nop(Device& master, void* data);

class ComponentRegistry;
/// The registry (one per World). Exposed for introspection in tests and tools.
class ComponentRegistry {
 public:
  struct Aggregate;
  struct Component;
  explicit ComponentRegistry(World& w) : world_(w) {}
  ~ComponentRegistry();
  ComponentRegistry(const ComponentRegistry&) = delete;
  ComponentRegistry& operator=(const ComponentRegistry&) = delete;

  /// Is the aggregate whose parent is `parent` bound?
  bool aggregate_bound(const Device& parent);
  std::size_t component_count();
  Mutex& mutex() noexcept { return mu_; }

 private:
  friend int component_master_add_with_match(Device&, ComponentMasterOps&, ComponentMatch*);
  friend void component_master_del(Device&, ComponentMasterOps&);
  friend int component_add_typed(Device&, ComponentOps&, int);
  friend int component_add(Device&, ComponentOps&);
  friend void component_del(Device&, ComponentOps&);
  friend int component_bind_all(Device&, void*);
  friend void component_unbind_all(Device&, void*);
  friend struct ComponentMatch;
  friend void component_master_del_locked(ComponentRegistry&, Aggregate*);

  int add_component(Device& dev, ComponentOps& ops, int subcomponent);
  int try_bring_up(Aggregate* adev, Component* trigger);
  bool find_components(Aggregate* adev);
  /// release_group = false: the aggregate's devres group is being released by someone else
  /// (the parent's devres are going away), only run the master's unbind.
  void take_down(Aggregate* adev, bool release_group = true);
  /// Release of the aggregate's devres sentinel (see component.cpp).
  static void aggregate_devres_release(Device& parent, void* res);
  void remove_from_match(Aggregate* adev);
  Aggregate* find_aggregate(const Device& parent, const ComponentMasterOps* ops);
  int bind_one(Component* c, Aggregate* adev, void* data);
  void unbind_one(Component* c, Aggregate* adev, void* data);

  World& world_;
  Mutex mu_{"component_mutex"};
  std::list<Component*> components_;
  std::list<Aggregate*> aggregates_;
};

}  // namespace udrm
