// bench_races — CallbackSlot call cost against plain/mutex-guarded pointers, and LookupTable
// lookup throughput under concurrent create/destroy against std::mutex / std::shared_mutex +
// std::unordered_map, all in the same run (compare ratios, not absolute numbers: 2 shared CPUs).
//
// Lookup benchmarks: thread 0 creates and destroys objects in a loop (one create + one destroy
// per iteration, plus 4 lookups); every other thread only looks up recent IDs. Thread counts 1
// and 2; per_thread_ns is the cost of one iteration per thread. Registries: udrm::Lookup; the
// real ObjectIdr::find path (refcounted mode objects as framebuffers are: destroy = look up,
// unregister, drop both references, as RMFB does); ObjectIdr as it was before it moved onto
// LookupIndex (udrm::Mutex + std::map, get-unless-zero under the lock), rebuilt here; and the
// std::mutex / std::shared_mutex + std::unordered_map baselines.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "udrm/base/callback_slot.h"
#include "udrm/base/lookup.h"
#include "udrm/base/mutex.h"
#include "udrm/kms/object.h"

namespace {

void set_per_thread_ns(benchmark::State& st) {
  st.counters["per_thread_ns"] = benchmark::Counter(
      static_cast<double>(st.iterations()) * 1e-9,
      benchmark::Counter::kIsRate | benchmark::Counter::kAvgThreads | benchmark::Counter::kInvert);
}

struct Ops {
  int (*fn)(int);
};
__attribute__((noinline)) int add_one(int x) { return x + 1; }
const Ops kOps{&add_one};

// ---------------------------------------------------------------------------------------------
// Call through an empty / registered hook.

void BM_SlotEmpty(benchmark::State& st) {
  static udrm::CallbackSlot<Ops> slot;
  int acc = 0;
  for (auto _ : st) {
    slot.call([&](const Ops& o) { acc = o.fn(acc); });
    benchmark::DoNotOptimize(acc);
  }
}
void BM_PlainPtrEmpty(benchmark::State& st) {
  static std::atomic<const Ops*> p{nullptr};
  int acc = 0;
  for (auto _ : st) {
    if (const Ops* o = p.load(std::memory_order_acquire)) acc = o->fn(acc);
    benchmark::DoNotOptimize(acc);
  }
}
void BM_MutexPtrEmpty(benchmark::State& st) {
  static std::mutex m;
  static const Ops* p = nullptr;
  int acc = 0;
  for (auto _ : st) {
    {
      std::lock_guard<std::mutex> l(m);
      if (p) acc = p->fn(acc);
    }
    benchmark::DoNotOptimize(acc);
  }
}
void BM_SlotRegistered(benchmark::State& st) {
  static udrm::CallbackSlot<Ops> slot;
  if (st.thread_index() == 0) slot.publish(&kOps);
  int acc = 0;
  for (auto _ : st) {
    slot.call([&](const Ops& o) { acc = o.fn(acc); });
    benchmark::DoNotOptimize(acc);
  }
  set_per_thread_ns(st);
}
void BM_PlainPtrRegistered(benchmark::State& st) {  // no protection at all: the floor
  static std::atomic<const Ops*> p{&kOps};
  int acc = 0;
  for (auto _ : st) {
    if (const Ops* o = p.load(std::memory_order_acquire)) acc = o->fn(acc);
    benchmark::DoNotOptimize(acc);
  }
  set_per_thread_ns(st);
}
void BM_MutexPtrRegistered(benchmark::State& st) {
  static std::mutex m;
  static const Ops* p = &kOps;
  int acc = 0;
  for (auto _ : st) {
    {
      std::lock_guard<std::mutex> l(m);
      if (p) acc = p->fn(acc);
    }
    benchmark::DoNotOptimize(acc);
  }
  set_per_thread_ns(st);
}
BENCHMARK(BM_SlotEmpty);
BENCHMARK(BM_PlainPtrEmpty);
BENCHMARK(BM_MutexPtrEmpty);
BENCHMARK(BM_SlotRegistered)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_PlainPtrRegistered)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_MutexPtrRegistered)->Threads(1)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------------------------
// Lookup under concurrent create/destroy.

struct Node : udrm::LookupNode {
  uint64_t payload = 42;
};

constexpr int kLive = 64;

struct UdrmReg {
  udrm::Lookup<Node> t{256};
  uint32_t create() {
    uint32_t id = 0;
    t.add(new Node, &id);
    return id;
  }
  void destroy(uint32_t id) {
    if (Node* n = t.get(id)) {
      t.unregister(n);
      t.put(n);
      t.put(n);  // the creator's reference
    }
  }
  uint64_t lookup(uint32_t id) {
    Node* n = t.get(id);
    if (!n) return 0;
    uint64_t v = n->payload;
    t.put(n);
    return v;
  }
};

// The real mode object IDR: nodes are refcounted ModeObjects whose final put goes through
// ObjectIdr::release (re-check under the lock, grace period) before the delete.
struct IdrNode {
  udrm::ModeObject base;  // first member
  udrm::Kref kref;
  udrm::ObjectIdr* idr = nullptr;
  uint64_t payload = 42;
};
IdrNode* idr_node(udrm::ModeObject* m) { return reinterpret_cast<IdrNode*>(m); }
bool idr_node_get(udrm::ModeObject* m) { return idr_node(m)->kref.get_unless_zero(); }
void idr_node_put(udrm::ModeObject* m) {
  IdrNode* n = idr_node(m);
  n->kref.put([n] {
    if (n->idr->release(&n->base, n->kref)) delete n;
  });
}

struct IdrReg {
  udrm::ObjectIdr idr;
  uint32_t create() {
    auto* n = new IdrNode;
    n->idr = &idr;
    n->base.get_unless_zero = &idr_node_get;
    n->base.put = &idr_node_put;
    if (idr.add(&n->base, DRM_MODE_OBJECT_FB)) {
      delete n;
      return 0;
    }
    return n->base.id;
  }
  void destroy(uint32_t id) {  // RMFB: lookup, unregister, drop the lookup's and the creator's
    udrm::ModeObject* m = idr.find(id, DRM_MODE_OBJECT_FB);
    if (!m) return;
    idr.unregister(m);
    udrm::mode_object_put(m);
    udrm::mode_object_put(m);
  }
  uint64_t lookup(uint32_t id) {
    udrm::ModeObject* m = idr.find(id, DRM_MODE_OBJECT_FB);
    if (!m) return 0;
    uint64_t v = idr_node(m)->payload;
    udrm::mode_object_put(m);
    return v;
  }
};

// ObjectIdr before LookupIndex: every find() takes the IDR mutex; the final put unregisters
// under it and deletes at once.
struct OldIdrReg {
  struct OldNode {
    udrm::Kref kref;
    OldIdrReg* reg = nullptr;
    uint32_t id = 0;
    uint64_t payload = 42;
  };
  udrm::Mutex lock{"old_idr"};
  std::map<uint32_t, OldNode*> map;
  uint32_t next = 1;
  void unregister(OldNode* n) {
    std::lock_guard<udrm::Mutex> l(lock);
    if (!n->id) return;
    map.erase(n->id);
    n->id = 0;
  }
  void put(OldNode* n) {
    n->kref.put([this, n] {
      unregister(n);
      delete n;
    });
  }
  OldNode* find(uint32_t id) {
    std::lock_guard<udrm::Mutex> l(lock);
    auto it = map.find(id);
    if (it == map.end() || !it->second->kref.get_unless_zero()) return nullptr;
    return it->second;
  }
  uint32_t create() {
    auto* n = new OldNode;
    n->reg = this;
    std::lock_guard<udrm::Mutex> l(lock);
    n->id = next++;
    map.emplace(n->id, n);
    return n->id;
  }
  void destroy(uint32_t id) {
    OldNode* n = find(id);
    if (!n) return;
    unregister(n);
    put(n);
    put(n);
  }
  uint64_t lookup(uint32_t id) {
    OldNode* n = find(id);
    if (!n) return 0;
    uint64_t v = n->payload;
    put(n);
    return v;
  }
};

// The baselines: shared_ptr objects in a map (the usual userspace answer to the same problem).
template <class Lock, bool kShared>
struct MapReg {
  Lock m;
  std::unordered_map<uint32_t, std::shared_ptr<Node>> map;
  uint32_t next = 1;
  uint32_t create() {
    auto n = std::make_shared<Node>();
    std::lock_guard<Lock> l(m);
    map.emplace(next, std::move(n));
    return next++;
  }
  void destroy(uint32_t id) {
    std::shared_ptr<Node> victim;
    {
      std::lock_guard<Lock> l(m);
      auto it = map.find(id);
      if (it == map.end()) return;
      victim = std::move(it->second);
      map.erase(it);
    }
  }
  uint64_t lookup(uint32_t id) {
    std::shared_ptr<Node> n;
    if constexpr (kShared) {
      std::shared_lock<Lock> l(m);
      auto it = map.find(id);
      if (it == map.end()) return 0;
      n = it->second;
    } else {
      std::lock_guard<Lock> l(m);
      auto it = map.find(id);
      if (it == map.end()) return 0;
      n = it->second;
    }
    return n->payload;
  }
};
using MutexReg = MapReg<std::mutex, false>;
using SharedReg = MapReg<std::shared_mutex, true>;

// kChurn false: no create/destroy during the timed loop, lookups only (the ioctl hot path:
// planes, CRTCs and framebuffers that stay).
template <class Reg, bool kChurn = true>
void BM_Lookup(benchmark::State& st) {
  static Reg* reg = nullptr;
  static std::atomic<uint32_t> newest{0};
  static uint32_t ring[kLive];
  if (st.thread_index() == 0) {
    reg = new Reg;
    for (uint32_t& id : ring) newest.store(id = reg->create(), std::memory_order_relaxed);
  }
  // Google Benchmark starts the timed loop of all threads together, after this setup.
  uint64_t sum = 0, found = 0, tries = 0;
  unsigned k = 0;
  for (auto _ : st) {
    if (kChurn && st.thread_index() == 0) {
      unsigned slot = k % kLive;
      reg->destroy(ring[slot]);
      newest.store(ring[slot] = reg->create(), std::memory_order_relaxed);
    }
    uint32_t top = newest.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < 4; ++i) {
      uint64_t v = reg->lookup(top - ((k * 4 + i) % (2 * kLive)));  // half live, half destroyed
      sum += v;
      found += v != 0;
      ++tries;
    }
    ++k;
  }
  benchmark::DoNotOptimize(sum);
  st.counters["hit_rate"] = benchmark::Counter(static_cast<double>(found) / static_cast<double>(tries ? tries : 1),
                                               benchmark::Counter::kAvgThreads);
  set_per_thread_ns(st);
  if (st.thread_index() == 0) {
    for (uint32_t id : ring) reg->destroy(id);
    // The other thread may still be in its last lookup: leak the registry rather than race it.
  }
}
BENCHMARK(BM_Lookup<UdrmReg>)->Name("BM_Lookup/udrm")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<IdrReg>)->Name("BM_Lookup/object_idr")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<OldIdrReg>)->Name("BM_Lookup/object_idr_mutex_before")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<MutexReg>)->Name("BM_Lookup/mutex_map")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<SharedReg>)->Name("BM_Lookup/shared_mutex_map")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<IdrReg, false>)->Name("BM_LookupNoChurn/object_idr")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<OldIdrReg, false>)->Name("BM_LookupNoChurn/object_idr_mutex_before")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<MutexReg, false>)->Name("BM_LookupNoChurn/mutex_map")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Lookup<SharedReg, false>)->Name("BM_LookupNoChurn/shared_mutex_map")->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  std::thread([] {}).join();  // see bench_gate.cpp: make the process multi-threaded first
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
