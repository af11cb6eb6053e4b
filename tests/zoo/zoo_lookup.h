// zoo_lookup.h — entries 6 and 7: a driver's ID -> object table (think: a per-device fence or
// handle table userspace looks up by ID) with the final-put races the uprobes fixes named, and
// the scenario: the owner drops the creator's reference while two clients look the ID up and
// drop what they got.
//
// Objects are devm allocations of the scenario's device and "kfree" is devm_kfree: a second
// destroy is devm_kfree of memory already freed (the devres layer WARNs), and released memory is
// quarantined and poisoned while the explorer runs.
//
// Lifetime: per run (setup creates, teardown destroys). Context: simulated tasks.
#pragma once
#include <atomic>
#include <map>
#include <mutex>

#include "udrm/base/completion.h"
#include "udrm/base/lookup.h"
#include "udrm/base/mutex.h"
#include "udrm/base/sim_executor.h"
#include "zoo/zoo_common.h"

namespace udrm::zoo {

struct FenceObj : LookupNode {
  std::atomic<int> refs{1};  // the naive registries' count (Lookup uses LookupNode's kref)
  uint32_t id = 0;
  uint64_t seqno = 0;
};

enum class LookupVariant {
  plain_get,     // 6: lookup takes a plain reference (revives a zero count); no re-check
  recheck_only,  // 7: re-check under the lock, but the loser re-checks freed memory
  fixed,         // udrm::Lookup: get_unless_zero, one destructor, reclaim after a grace period
};

class LookupScenario : public explore::Scenario {
 public:
  LookupScenario(LookupVariant v, std::string name, std::string line)
      : v_(v), name_(std::move(name)), line_(std::move(line)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return line_; }
  std::vector<explore::Event> events() const override { return {}; }

  int setup(explore::Run& run) override {
    dev_ = Device::create(run.world(), name_);
    freed_ = nullptr;
    map_.clear();
    lookup_.reset();
    void* mem = devm_kzalloc(*dev_, sizeof(FenceObj), "zoo.fence");
    if (!mem) return -ENOMEM;
    obj_ = ::new (mem) FenceObj();
    if (v_ == LookupVariant::fixed) {
      lookup_ = std::make_unique<Lookup<FenceObj>>(16, &LookupScenario::reclaim);
      reclaim_dev_ = dev_.get();
      return lookup_->add(obj_, &id_);
    }
    id_ = 7;
    obj_->id = id_;
    map_[id_] = obj_;
    return 0;
  }

  void body(explore::Run& run) override {
    Completion done;
    std::atomic<int> left{2};
    for (int i = 0; i < 2; ++i) {
      run.sim().post(
          [&] {
            if (FenceObj* o = get(id_)) {
              UDRM_POINT("zoo.fence.use");
              put(o);
            }
            if (left.fetch_sub(1) == 1) done.complete();
          },
          "client");
    }
    UDRM_POINT("zoo.fence.owner_put");
    if (v_ == LookupVariant::fixed)
      lookup_->put(obj_);
    else
      put(obj_);
    done.wait();
  }

  void teardown(explore::Run&) override {
    lookup_.reset();
    map_.clear();
    dev_->devres().release_all();  // what is still allocated (nothing, if destroyed once)
    dev_.reset();
  }

 private:
  static inline Device* reclaim_dev_ = nullptr;
  static void reclaim(FenceObj* o) {
    o->~FenceObj();
    devm_kfree(*reclaim_dev_, o);
  }

  FenceObj* get(uint32_t id) {
    if (v_ == LookupVariant::fixed) return lookup_->get(id);
    std::lock_guard<Mutex> l(lock_);
    auto it = map_.find(id);
    if (it == map_.end()) return nullptr;
    it->second->refs.fetch_add(1);  // the bug (6): a plain get revives a count that hit zero
    return it->second;
  }

  void put(FenceObj* o) {
    if (v_ == LookupVariant::fixed) return lookup_->put(o);
    UDRM_POINT("zoo.fence.put");
    if (o->refs.fetch_sub(1) != 1) return;
    UDRM_POINT("zoo.fence.zero");  // this task saw zero
    std::unique_lock<Mutex> l(lock_);
    if (v_ == LookupVariant::recheck_only) {
      // The bug (7): the loser re-checks an object the winner may have freed already.
      if (freed_ == o) ++loser_read_freed;  // ground truth for the zoo's report (not an oracle)
      auto it = map_.find(o->id);
      if (o->refs.load() != 0 || it == map_.end() || it->second != o) return;
    }
    map_.erase(o->id);
    l.unlock();
    destroy(o);
  }

  void destroy(FenceObj* o) {
    UDRM_POINT("zoo.fence.destroy");
    o->seqno = ~0ull;  // the destructor's last words (a fence signals "dead")
    devm_kfree(*dev_, o);
    freed_ = o;
  }

  LookupVariant v_;
  std::string name_, line_;
  const FenceObj* freed_ = nullptr;

 public:
  /// Runs (over all sweeps) in which a losing destructor read the object after it was freed.
  static inline int loser_read_freed = 0;

 private:
  Ref<Device> dev_;
  FenceObj* obj_ = nullptr;
  uint32_t id_ = 0;
  Mutex lock_{"zoo.fence_table"};
  std::map<uint32_t, FenceObj*> map_;
  std::unique_ptr<Lookup<FenceObj>> lookup_;
};

/// A schedule search over the clients and the owner (no domain events): every schedule with at
/// most two preemptions. (No PCT runs: PCT's strict priorities starve the reader a grace-period
/// wait polls for, and the correct Lookup is then reported as a livelock — see docs/zoo.md.)
inline explore::Options lookup_options() {
  explore::Options o = zoo_options({explore::Event::fail});
  o.exhaustive = true;
  o.exhaustive_preemptions = 2;
  o.exhaustive_budget = 5000;
  return o;
}

}  // namespace udrm::zoo
