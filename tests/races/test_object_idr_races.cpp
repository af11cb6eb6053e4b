// The uprobes lookup/final-put races on the mode object IDR (ObjectIdr, kms/object.h), whose
// lookups are lock-free reads of a LookupIndex:
//  1. "two CPUs both seeing zero": a lookup that takes a plain reference revives an object
//     whose count already hit zero; both final puts destroy it;
//  2. "the losing destructor reads freed memory": with a re-check under a lock, the loser
//     re-checks an object the winner has already freed;
//  3. a final put that frees right after unpublishing (no grace period): a lookup that read
//     the slot before the removal reads freed memory.
// Each is reproduced on the real ObjectIdr with deliberately broken refcount hooks (objects
// from a pool; "free" poisons, so a double destroy or a read after free is counted, not UB),
// then the same scenario passes with ObjectIdr::release (get-unless-zero, re-check, grace).
// Then the real driver path: RMFB (the final put of a framebuffer) racing GETFB and an atomic
// FB_ID lookup of the same ID on seeded schedules, and real threads for ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kms/kms_rig.h"
#include "races/sim_random.h"
#include "udrm/base/asio_executor.h"
#include "udrm/base/completion.h"
#include "udrm/base/mutex.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/sim_hooks.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/object.h"
#include "udrm/kms/property.h"
#include "udrm/testing/kms_client.h"

namespace udrm::races {
namespace {

using kmstest::KDrm;
using kmstest::KmsRig;
using testing::KmsClient;

constexpr int kSeeds = 400;

struct Bugs {
  int double_destroy = 0;
  int use_after_free = 0;
  int destroyed = 0;
  int lookups_ok = 0;
  int refused = 0;  // a lookup reached the object after its count hit zero (the race window)
};

// ---------------------------------------------------------------------------------------------
// Pool objects on a real ObjectIdr, with correct or deliberately broken hooks.

enum class Variant {
  plain_get,       // lookup revives a zero count, no re-check: race 1
  plain_recheck,   // lookup revives, the final put re-checks under a lock, frees at once: race 2
  no_grace,        // get-unless-zero, but the final put frees right after unpublishing
  release,         // get-unless-zero + ObjectIdr::release (re-check, grace period)
};

struct TObj {
  ModeObject base;  // first member: the hooks cast back
  Variant variant = Variant::release;
  std::atomic<int> plain{1};  // the broken variants' count (can be revived from zero)
  Kref kref;                  // the correct variants' count
  bool poisoned = false;      // "freed"
  Bugs* bugs = nullptr;
  ObjectIdr* idr = nullptr;
  Mutex* recheck_lock = nullptr;

  void touch() {
    if (poisoned) ++bugs->use_after_free;
  }
  void destroy() {
    if (poisoned) ++bugs->double_destroy;
    ++bugs->destroyed;
    poisoned = true;  // kfree, as far as the test can tell
  }
};
TObj* tobj(ModeObject* m) { return reinterpret_cast<TObj*>(m); }

bool tobj_get(ModeObject* m) {
  TObj* o = tobj(m);
  o->touch();
  if (o->variant == Variant::plain_get || o->variant == Variant::plain_recheck) {
    o->plain.fetch_add(1);  // a plain get: revives a zero count
    return true;
  }
  bool ok = o->kref.get_unless_zero();
  if (!ok) ++o->bugs->refused;
  return ok;
}

void tobj_put(ModeObject* m) {
  TObj* o = tobj(m);
  o->touch();
  switch (o->variant) {
    case Variant::plain_get:
      UDRM_POINT("test.put");
      if (o->plain.fetch_sub(1) != 1) return;
      UDRM_POINT("test.zero");  // this CPU saw zero
      o->idr->unregister(&o->base);
      o->destroy();
      return;
    case Variant::plain_recheck: {
      UDRM_POINT("test.put");
      if (o->plain.fetch_sub(1) != 1) return;
      UDRM_POINT("test.zero");
      {
        std::lock_guard<Mutex> l(*o->recheck_lock);
        o->touch();  // race 2: the winner may have freed it by now
        if (o->plain.load() != 0 || o->base.id == 0) return;  // revived / already gone
        o->idr->unregister(&o->base);
      }
      o->destroy();
      return;
    }
    case Variant::no_grace:
      o->kref.put([o] {
        o->idr->unregister(&o->base);
        o->destroy();  // no grace period
      });
      return;
    case Variant::release:
      o->kref.put([o] {
        if (o->idr->release(&o->base, o->kref)) o->destroy();
      });
      return;
  }
}

// The owner drops the creator's reference while two clients look the ID up (as GETFB does)
// and drop what they got.
Bugs pool_run(uint32_t seed, Variant v) {
  Bugs b;
  ObjectIdr idr;
  Mutex recheck_lock{"test.recheck"};
  auto o = std::make_unique<TObj>();  // outlives the run: poisoned, never really freed
  o->variant = v;
  o->bugs = &b;
  o->idr = &idr;
  o->recheck_lock = &recheck_lock;
  o->base.get_unless_zero = &tobj_get;
  o->base.put = &tobj_put;
  SimExecutor sim;
  RandomStrategy strat(seed);
  sim.set_strategy(&strat);
  auto r = sim.run([&] {
    EXPECT_EQ(idr.add(&o->base, DRM_MODE_OBJECT_FB), 0);
    const uint32_t id = o->base.id;
    auto client = [&] {
      if (ModeObject* m = idr.find(id, DRM_MODE_OBJECT_FB)) {
        ++b.lookups_ok;
        tobj(m)->touch();
        UDRM_POINT("test.use");
        mode_object_put(m);
      }
    };
    sim.post(client, "client");
    sim.post(client, "client");
    UDRM_POINT("test.owner");
    mode_object_put(&o->base);  // the creator's reference
  });
  EXPECT_TRUE(r) << "seed " << seed << ": " << r.report;
  if (o->base.id) idr.unregister(&o->base);  // a broken variant may leave it published
  return b;
}

TEST(ObjectIdrRace, NaivePlainGetBothSeeZeroAndDestroyTwice) {
  int bad = 0;
  for (uint32_t seed = 0; seed < kSeeds; ++seed) bad += pool_run(seed, Variant::plain_get).double_destroy > 0;
  EXPECT_GT(bad, 0) << "race 1 not reproduced on ObjectIdr: the scenario cannot tell";
}

TEST(ObjectIdrRace, NaiveRecheckLosingDestructorReadsFreedMemory) {
  int uaf = 0, dd = 0;
  for (uint32_t seed = 0; seed < kSeeds; ++seed) {
    Bugs b = pool_run(seed, Variant::plain_recheck);
    uaf += b.use_after_free > 0;
    dd += b.double_destroy > 0;
  }
  EXPECT_EQ(dd, 0) << "the re-check alone fixes race 1";
  EXPECT_GT(uaf, 0) << "race 2 not reproduced on ObjectIdr: the scenario cannot tell";
}

TEST(ObjectIdrRace, NaiveNoGracePeriodLookupReadsFreedMemory) {
  int uaf = 0, dd = 0;
  for (uint32_t seed = 0; seed < kSeeds; ++seed) {
    Bugs b = pool_run(seed, Variant::no_grace);
    uaf += b.use_after_free > 0;
    dd += b.double_destroy > 0;
  }
  EXPECT_EQ(dd, 0) << "get-unless-zero alone fixes race 1";
  EXPECT_GT(uaf, 0) << "a lock-free lookup never overlapped an immediate free: the scenario cannot tell";
}

TEST(ObjectIdrRace, ReleaseDestroysExactlyOnceAndNeverReadsFreedMemory) {
  int lookups_ok = 0, refused = 0;
  for (uint32_t seed = 0; seed < kSeeds; ++seed) {
    Bugs b = pool_run(seed, Variant::release);
    ASSERT_EQ(b.double_destroy, 0) << "seed " << seed;
    ASSERT_EQ(b.use_after_free, 0) << "seed " << seed;
    ASSERT_EQ(b.destroyed, 1) << "seed " << seed;
    lookups_ok += b.lookups_ok;
    refused += b.refused;
  }
  EXPECT_GT(lookups_ok, 0) << "no schedule handed the object out before its final put";
  EXPECT_GT(refused, 0) << "no lookup reached the object while it was dying: the test proves nothing";
}

// ---------------------------------------------------------------------------------------------
// The driver path: ADDFB through a driver .fb_create whose framebuffers come from a pool (the
// destroy hook poisons instead of freeing) and whose get-unless-zero hook checks the poison;
// everything else — RMFB, drm_framebuffer_remove, the final put, GETFB, the atomic FB_ID
// lookup — is the production code.

struct PoolFb : Framebuffer {
  std::atomic<bool> poisoned{false};
};

struct FbStats {
  std::atomic<int> destroyed{0}, double_destroy{0}, use_after_free{0}, refused{0};
};
FbStats* g_fb = nullptr;
std::vector<std::unique_ptr<PoolFb>>* g_pool = nullptr;
// The atomic ioctl's lookups, told apart by task (the simulated run only).
const void* g_atomic_task = nullptr;
int g_atomic_found = 0;

bool pool_fb_get(ModeObject* m) {
  auto* fb = static_cast<PoolFb*>(static_cast<Framebuffer*>(m));
  if (fb->poisoned.load()) g_fb->use_after_free.fetch_add(1);
  bool ok = fb->RefCounted<Framebuffer>::get_unless_zero();
  if (!ok) g_fb->refused.fetch_add(1);
  if (ok && g_atomic_task && detail::current_execution_id() == g_atomic_task) ++g_atomic_found;
  return ok;
}

const FramebufferFuncs kPoolFbFuncs = {
    .destroy = [](Framebuffer& f) {
      auto& fb = static_cast<PoolFb&>(f);
      if (fb.poisoned.exchange(true)) g_fb->double_destroy.fetch_add(1);
      g_fb->destroyed.fetch_add(1);
      for (auto& o : fb.obj) o.reset();  // the memory stays in the pool
    },
    .dirty = nullptr,
};

int pool_fb_create(DrmDevice& dev, DrmFile& file, const drm_mode_fb_cmd2& cmd, Ref<Framebuffer>* out) {
  auto fb = std::make_unique<PoolFb>();
  fb->format = format_info(cmd.pixel_format);
  fb->width = cmd.width;
  fb->height = cmd.height;
  fb->pitches[0] = cmd.pitches[0];
  fb->offsets[0] = cmd.offsets[0];
  fb->obj[0] = file.gem_lookup(cmd.handles[0]);
  if (!fb->obj[0]) return -ENOENT;
  if (int ret = framebuffer_init(dev, *fb, &kPoolFbFuncs)) return ret;
  // Before ADDFB returns the ID: no client can name it yet.
  fb->ModeObject::get_unless_zero = &pool_fb_get;
  *out = adopt_ref(static_cast<Framebuffer*>(fb.get()));
  g_pool->push_back(std::move(fb));
  return 0;
}

const ModeConfigFuncs kPoolFuncs = {.fb_create = &pool_fb_create, .atomic_check = nullptr, .atomic_commit = nullptr};

TEST(ObjectIdrRace, RmfbRacingGetfbAndAtomicLookupDestroysOnceNeverReadsFreedMemory) {
  FbStats stats;
  int getfb_ok = 0, getfb_enoent = 0, atomic_found = 0, atomic_missed = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::vector<std::unique_ptr<PoolFb>> pool;
    g_fb = &stats;
    g_pool = &pool;
    const int destroyed_before = stats.destroyed.load();
    SimExecutor sim;
    RandomStrategy strategy(seed);
    sim.set_strategy(&strategy);
    auto r = sim.run([&] {
      KmsRig rig(sim, DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC, [](KDrm& d) {
        d.mc().funcs = &kPoolFuncs;
        return 0;
      });
      KmsClient owner(rig.open()), reader(rig.open());  // the owner is the master
      ASSERT_EQ(owner.enable_atomic(), 0);
      const uint32_t plane = rig.drm().primary.id;
      const uint32_t fb_id_prop = owner.prop_id(plane, DRM_MODE_OBJECT_PLANE, "FB_ID");
      ASSERT_NE(fb_id_prop, 0u);
      KmsClient::Dumb dumb;
      ASSERT_EQ(owner.create_dumb(64, 32, 32, &dumb), 0);
      uint32_t fb_id = 0;
      ASSERT_EQ(owner.add_fb(dumb, DRM_FORMAT_XRGB8888, &fb_id), 0);
      ASSERT_EQ(pool.size(), 1u);

      Completion getfb_done("getfb"), atomic_done("atomic");
      sim.post([&] {
        drm_mode_fb_cmd cmd{};
        cmd.fb_id = fb_id;
        int ret = reader.ioctl(DRM_IOCTL_MODE_GETFB, &cmd);
        if (ret == 0) {
          ++getfb_ok;
          EXPECT_EQ(cmd.width, 64u) << "seed " << seed;
          EXPECT_EQ(cmd.pitch, dumb.pitch) << "seed " << seed;
        } else {
          ++getfb_enoent;
          EXPECT_EQ(ret, -ENOENT) << "seed " << seed;
        }
        getfb_done.complete_all();
      }, "getfb");
      sim.post([&] {
        KmsClient::Atomic req;
        req.add(plane, fb_id_prop, fb_id);
        // TEST_ONLY without a CRTC: refused (-EINVAL) whether FB_ID names a framebuffer or
        // not (a missing object is -EINVAL too, as drm_property_change_valid_get says); the
        // lookup is what races.
        g_atomic_task = detail::current_execution_id();
        g_atomic_found = 0;
        int ret = owner.atomic_commit(req, DRM_MODE_ATOMIC_TEST_ONLY);
        EXPECT_TRUE(ret == 0 || ret == -EINVAL) << "seed " << seed << ": " << ret;
        if (g_atomic_found) ++atomic_found; else ++atomic_missed;
        g_atomic_task = nullptr;
        atomic_done.complete_all();
      }, "atomic");
      EXPECT_EQ(owner.rm_fb(fb_id), 0) << "seed " << seed;
      getfb_done.wait();
      atomic_done.wait();
      // Every reference is gone: the framebuffer was destroyed, by whoever put it last.
      EXPECT_EQ(stats.destroyed.load() - destroyed_before, 1) << "seed " << seed;
      drm_mode_fb_cmd again{};
      again.fb_id = fb_id;
      EXPECT_EQ(reader.ioctl(DRM_IOCTL_MODE_GETFB, &again), -ENOENT) << "seed " << seed;
      EXPECT_EQ(owner.destroy_dumb(dumb), 0);
      owner.close();
      reader.close();
    });
    ASSERT_TRUE(r) << "seed " << seed << ": " << r.report;
    ASSERT_EQ(stats.double_destroy.load(), 0) << "seed " << seed;
    ASSERT_EQ(stats.use_after_free.load(), 0) << "seed " << seed;
    g_fb = nullptr;
    g_pool = nullptr;
  }
  // Both outcomes of each lookup, and lookups that met the dying framebuffer, or the race
  // was never run.
  EXPECT_GT(getfb_ok, 0);
  EXPECT_GT(getfb_enoent, 0);
  EXPECT_GT(atomic_found, 0);
  EXPECT_GT(atomic_missed, 0);
  EXPECT_GT(stats.refused.load(), 0) << "no lookup reached a framebuffer during its final put";
}

// ---------------------------------------------------------------------------------------------
// Real threads (ThreadSanitizer checks these): one thread adds and removes framebuffers and
// user blobs, the other looks the newest IDs up with GETFB and GETPROPBLOB. Production paths
// throughout (gem_fb_create, delete at the final put).

TEST(ObjectIdrRace, RealThreadsRmfbAndDestroyBlobRacingLookups) {
#if defined(UDRM_TSAN)
  constexpr int kRounds = 1500;
#else
  constexpr int kRounds = 15000;
#endif
  AsioExecutor ex(2);
  KmsRig rig(ex);
  const std::size_t base = rig.drm().mc().idr.size();
  KmsClient owner(rig.open()), reader(rig.open());
  KmsClient::Dumb dumb;
  ASSERT_EQ(owner.create_dumb(64, 32, 32, &dumb), 0);
  // Four framebuffers and four blobs live at a time; each round replaces the oldest of each.
  constexpr unsigned kLive = 4;
  std::atomic<uint32_t> fbs[kLive] = {}, blobs[kLive] = {};
  std::atomic<bool> stop{false};
  std::atomic<long> fb_hits{0}, blob_hits{0}, bad{0};
  const uint8_t data[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  std::thread lookups([&] {
    for (unsigned k = 0; !stop.load(std::memory_order_acquire); ++k) {
      drm_mode_fb_cmd cmd{};
      cmd.fb_id = fbs[k % kLive].load(std::memory_order_acquire);
      int ret = reader.ioctl(DRM_IOCTL_MODE_GETFB, &cmd);
      if (ret == 0) {
        fb_hits.fetch_add(1, std::memory_order_relaxed);
        if (cmd.width != 64 || cmd.height != 32) bad.fetch_add(1);
        drm_gem_close close{};
        close.handle = cmd.handle;
        if (reader.ioctl(DRM_IOCTL_GEM_CLOSE, &close) != 0) bad.fetch_add(1);
      } else if (ret != -ENOENT) {
        bad.fetch_add(1);
      }
      uint8_t buf[16] = {};
      drm_mode_get_blob gb{};
      gb.blob_id = blobs[k % kLive].load(std::memory_order_acquire);
      gb.length = sizeof(buf);
      gb.data = reinterpret_cast<uintptr_t>(buf);
      ret = reader.ioctl(DRM_IOCTL_MODE_GETPROPBLOB, &gb);
      if (ret == 0) {
        blob_hits.fetch_add(1, std::memory_order_relaxed);
        if (gb.length != sizeof(buf) || std::memcmp(buf, data, sizeof(buf)) != 0) bad.fetch_add(1);
      } else if (ret != -ENOENT) {
        bad.fetch_add(1);
      }
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    const unsigned slot = static_cast<unsigned>(i) % kLive;
    if (uint32_t old = fbs[slot].load(std::memory_order_relaxed)) {
      ASSERT_EQ(owner.rm_fb(old), 0);  // the final put, unless the reader holds it
    }
    if (uint32_t old = blobs[slot].load(std::memory_order_relaxed)) {
      ASSERT_EQ(owner.destroy_blob(old), 0);
    }
    uint32_t fb_id = 0, blob_id = 0;
    ASSERT_EQ(owner.add_fb(dumb, DRM_FORMAT_XRGB8888, &fb_id), 0);
    ASSERT_EQ(owner.create_blob(data, sizeof(data), &blob_id), 0);
    fbs[slot].store(fb_id, std::memory_order_release);
    blobs[slot].store(blob_id, std::memory_order_release);
  }
  stop.store(true, std::memory_order_release);
  lookups.join();
  for (unsigned i = 0; i < kLive; ++i) {
    EXPECT_EQ(owner.rm_fb(fbs[i].load()), 0);
    EXPECT_EQ(owner.destroy_blob(blobs[i].load()), 0);
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(fb_hits.load() + blob_hits.load(), 0) << "the reader never found a live object";
  RecordProperty("fb_hits", std::to_string(fb_hits.load()));
  RecordProperty("blob_hits", std::to_string(blob_hits.load()));
  EXPECT_EQ(owner.destroy_dumb(dumb), 0);
  EXPECT_EQ(rig.drm().mc().idr.size(), base) << "every framebuffer and blob ID unregistered";
  owner.close();
  reader.close();
  rig.teardown();
}

}  // namespace
}  // namespace udrm::races
