// Vblank counting, events and the vblank ioctl backends: kernel-semantics §3.5 rule 25, U11,
// §6.4 V1–V4 and V8, drm_wait_vblank_ioctl / CRTC_GET_SEQUENCE / CRTC_QUEUE_SEQUENCE rules.
#include <gtest/gtest.h>

#include "atomic/kms_test_driver.h"
#include "udrm/base/signal.h"
#include "udrm/testing/warn.h"

namespace udrm::kmstest {
namespace {

template <class F>
void run(F&& body) {
  const long states0 = atomic_state_live_count(), commits0 = crtc_commit_live_count();
  {
    SimExecutor sim;
    World world(sim);
    auto r = sim.run([&] {
      Rig rig(world);
      ASSERT_NE(rig.dev, nullptr);
      body(rig);
      rig.tear_down();
    });
    ASSERT_TRUE(r) << r.report;
  }
  EXPECT_EQ(KmsDev::live, 0) << "the device was not freed";
  EXPECT_EQ(atomic_state_live_count(), states0);
  EXPECT_EQ(crtc_commit_live_count(), commits0);
}

template <class F>
void spawn(Rig& rig, Completion& done, F&& f) {
  rig.world.executor().post(
      [&done, f = std::forward<F>(f)]() mutable {
        f();
        done.complete_all();
      },
      "test_task");
}

drm_wait_vblank wait_req(unsigned type, unsigned seq, unsigned long signal = 0) {
  drm_wait_vblank w{};
  w.request.type = static_cast<drm_vblank_seq_type>(type);
  w.request.sequence = seq;
  w.request.signal = signal;
  return w;
}

// A CRTC lit with the 50 Hz mode and its fb kept alive by the rig's body.
struct Lit {
  Ref<Framebuffer> fb;
};
Lit light(KmsDev& d, unsigned i) {
  Lit l{make_fb(d)};
  EXPECT_EQ(modeset(d, i, l.fb.get()), 0);
  return l;
}

TEST(Vblank, V1_VblanksAtTheFramePeriodTimestampsAdvanceByPeriod) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    ASSERT_EQ(crtc_vblank_get(d.crtc[0]), 0);
    const std::size_t first = d.vbl[0].stamps.size();
    TimePoint t_prev;
    uint64_t c_prev = crtc_vblank_count_and_time(d.crtc[0], &t_prev);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(crtc_wait_vblank_count_change(d.crtc[0], c_prev, 100ms));
      TimePoint t;
      uint64_t c = crtc_vblank_count_and_time(d.crtc[0], &t);
      EXPECT_EQ(c, c_prev + 1);
      if (i > 0) {
        EXPECT_EQ(t - t_prev, kFrame);
      }
      c_prev = c;
      t_prev = t;
    }
    const auto& st = d.vbl[0].stamps;
    ASSERT_GE(st.size(), first + 10);
    for (std::size_t i = first + 1; i < st.size(); ++i) EXPECT_EQ(st[i] - st[i - 1], kFrame);
    crtc_vblank_put(d.crtc[0]);
  });
}

TEST(Vblank, V2_FlipEventAtNextVblankWithPreviousPlusOne) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    auto fb2 = make_fb(d);
    const uint64_t before = crtc_vblank_count(d.crtc[0]);
    ASSERT_EQ(flip(d, 0, fb2.get(), true, flip_event(d, *rig.file, 1)), 0);
    sleep_for(kFrame / 2);
    EXPECT_TRUE(read_events(*rig.file).empty());
    sleep_for(kFrame);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].sequence, before + 1);
  });
}

TEST(Vblank, V3_TimerStopsAtRefcountZeroAfterOffdelayAndRestartsOnGet) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    EXPECT_EQ(crtc_vblank_refcount(d.crtc[0]), 0);
    EXPECT_TRUE(crtc_vblank_irq_enabled(d.crtc[0])) << "kept on for the off-delay";
    sleep_for(5001ms);
    EXPECT_FALSE(crtc_vblank_irq_enabled(d.crtc[0]));
    EXPECT_FALSE(d.vbl[0].on);
    const int64_t ticks = d.vbl[0].ticks;
    sleep_for(10 * kFrame);
    EXPECT_EQ(d.vbl[0].ticks, ticks) << "the fake timer is stopped";
    ASSERT_EQ(crtc_vblank_get(d.crtc[0]), 0);
    EXPECT_TRUE(d.vbl[0].on);
    EXPECT_EQ(crtc_vblank_refcount(d.crtc[0]), 1);
    sleep_for(3 * kFrame + 1ms);
    EXPECT_EQ(d.vbl[0].ticks, ticks + 3);
    crtc_vblank_put(d.crtc[0]);
    // Immediate disable: off at the put.
    drm_vblank_set_offdelay(d, -1);
    ASSERT_EQ(crtc_vblank_get(d.crtc[0]), 0);
    crtc_vblank_put(d.crtc[0]);
    EXPECT_FALSE(crtc_vblank_irq_enabled(d.crtc[0]));
    // disable_immediate: off at the next vblank without users.
    drm_vblank_set_offdelay(d, 5000);
    drm_vblank_set_disable_immediate(d, true);
    ASSERT_EQ(crtc_vblank_get(d.crtc[0]), 0);
    crtc_vblank_put(d.crtc[0]);
    EXPECT_TRUE(crtc_vblank_irq_enabled(d.crtc[0]));
    sleep_for(kFrame);
    EXPECT_FALSE(crtc_vblank_irq_enabled(d.crtc[0]));
  });
}

TEST(Vblank, V4_DisablingCrtcDeliversArmedEventAtOnce) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    auto w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, 100, 0xabc);
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    const TimePoint t0 = now();
    {
      std::lock_guard<Mutex> l(mode_config(d)->mutex);
      ASSERT_EQ(atomic_helper_disable_all(d), 0);
    }
    EXPECT_LT(now() - t0, 100 * kFrame);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, static_cast<uint32_t>(DRM_EVENT_VBLANK));
    EXPECT_EQ(ev[0].user_data, 0xabcu);
    EXPECT_EQ(ev[0].sequence, crtc_vblank_count(d.crtc[0])) << "sent with the current count";
    EXPECT_EQ(rig.file->event_space(), DrmFile::kEventSpace);
  });
}

TEST(Vblank, U11_VblankOffSendsAllArmedEventsInOrder) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    for (unsigned k : {5u, 3u, 10u}) {
      auto w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, k, k);
      ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    }
    const int refs = crtc_vblank_refcount(d.crtc[0]);
    EXPECT_EQ(refs, 3) << "each armed event holds a vblank reference";
    crtc_vblank_off(d.crtc[0]);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].user_data, 5u);
    EXPECT_EQ(ev[1].user_data, 3u);
    EXPECT_EQ(ev[2].user_data, 10u);
    EXPECT_EQ(ev[0].sequence, ev[2].sequence);
    EXPECT_EQ(crtc_vblank_refcount(d.crtc[0]), 0);
    EXPECT_EQ(crtc_vblank_get(d.crtc[0]), -EINVAL);
    auto w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, 1, 1);
    EXPECT_EQ(vblank_ioctl_wait(d, *rig.file, &w), -EINVAL) << "no new events while off";
    crtc_vblank_on(d.crtc[0]);
    EXPECT_EQ(crtc_vblank_get(d.crtc[0]), 0);
    crtc_vblank_put(d.crtc[0]);
  });
}

TEST(Vblank, V8_ModeAbove1000HzIsRejected) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    auto fb = make_fb(d);
    EXPECT_EQ(modeset(d, 0, fb.get(), mode_at(2000)), -EINVAL);
    EXPECT_EQ(modeset(d, 0, fb.get(), mode_at(1001)), -EINVAL);
    EXPECT_FALSE(d.crtc[0].state->active);
    EXPECT_EQ(modeset(d, 0, fb.get(), mode_at(1000)), 0);
    EXPECT_EQ(crtc_frame_duration_ns(d.crtc[0]), 1'000'000);
    fb.reset();
  });
}

TEST(Vblank, WaitVblankRelativeAbsoluteNextOnMissAndHighCrtc) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit l0 = light(d, 0), l1 = light(d, 1);
    const uint64_t c0 = crtc_vblank_count(d.crtc[0]);
    TimePoint t0 = now();
    auto w = wait_req(_DRM_VBLANK_RELATIVE, 2);
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    EXPECT_EQ(w.reply.sequence, c0 + 2);
    EXPECT_GE(now() - t0, kFrame);
    EXPECT_EQ(w.request.type & _DRM_VBLANK_RELATIVE, 0u) << "rewritten to absolute for a restart";
    // Absolute target in the past: answered at once.
    const uint64_t c1 = crtc_vblank_count(d.crtc[0]);
    t0 = now();
    w = wait_req(_DRM_VBLANK_ABSOLUTE, static_cast<unsigned>(c1 - 1));
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    EXPECT_EQ(now(), t0);
    EXPECT_EQ(w.reply.sequence, c1);
    // ... unless NEXTONMISS: then the next one.
    w = wait_req(_DRM_VBLANK_ABSOLUTE | _DRM_VBLANK_NEXTONMISS, static_cast<unsigned>(c1 - 1));
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    EXPECT_EQ(w.reply.sequence, c1 + 1);
    // CRTC 1 by the high-crtc bits and by the secondary flag.
    const uint64_t d1 = crtc_vblank_count(d.crtc[1]);
    w = wait_req(_DRM_VBLANK_RELATIVE | (1u << _DRM_VBLANK_HIGH_CRTC_SHIFT), 1);
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    EXPECT_EQ(w.reply.sequence, d1 + 1);
    w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_SECONDARY, 0);
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    EXPECT_EQ(w.reply.sequence, crtc_vblank_count(d.crtc[1]));
    // An event: answered at once, delivered at the target with the target count.
    w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, 2, 77);
    const uint64_t now0 = crtc_vblank_count(d.crtc[0]);
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    EXPECT_EQ(w.reply.sequence, now0 + 2);
    sleep_for(kFrame + 1ms);
    EXPECT_TRUE(read_events(*rig.file).empty());
    sleep_for(kFrame);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].user_data, 77u);
    EXPECT_EQ(ev[0].sequence, now0 + 2);
    EXPECT_EQ(ev[0].crtc_id, d.crtc[0].id);
  });
}

TEST(Vblank, WaitVblankBadRequestsAreEinval) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    auto w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_SIGNAL, 1);
    EXPECT_EQ(vblank_ioctl_wait(d, *rig.file, &w), -EINVAL);
    w = wait_req(_DRM_VBLANK_RELATIVE | 0x100, 1);  // an undefined flag bit
    EXPECT_EQ(vblank_ioctl_wait(d, *rig.file, &w), -EINVAL);
    w = wait_req(_DRM_VBLANK_RELATIVE | (5u << _DRM_VBLANK_HIGH_CRTC_SHIFT), 1);
    EXPECT_EQ(vblank_ioctl_wait(d, *rig.file, &w), -EINVAL);
    w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_SECONDARY, 1);
    EXPECT_EQ(vblank_ioctl_wait(d, *rig.file, &w), -EINVAL) << "CRTC 1 is off";
  });
}

TEST(Vblank, BlockingWaitEndsAtVblankOffAfterThreeSecondsOrOnSignal) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    {  // vblank switched off under the waiter
      Completion done;
      int ret = 1;
      spawn(rig, done, [&] {
        auto w = wait_req(_DRM_VBLANK_RELATIVE, 100);
        ret = vblank_ioctl_wait(d, *rig.file, &w);
      });
      sleep_for(3 * kFrame);
      EXPECT_FALSE(done.done());
      crtc_vblank_off(d.crtc[0]);
      done.wait();
      EXPECT_EQ(ret, 0);
      crtc_vblank_on(d.crtc[0]);
    }
    {  // no interrupt ever handled: -EBUSY after 3 s, never -EAGAIN
      d.vblank_stalled = true;
      const TimePoint t0 = now();
      auto w = wait_req(_DRM_VBLANK_RELATIVE, 1);
      EXPECT_EQ(vblank_ioctl_wait(d, *rig.file, &w), -EBUSY);
      EXPECT_EQ(now() - t0, 3s);
      d.vblank_stalled = false;
    }
    {  // a signal: -EINTR
      signal_current_after(rig.world.executor(), 30ms);
      auto w = wait_req(_DRM_VBLANK_RELATIVE, 100);
      EXPECT_EQ(vblank_ioctl_wait(d, *rig.file, &w), -EINTR);
      EXPECT_FALSE(signal_pending()) << "consumed";
    }
  });
}

TEST(Vblank, GetAndQueueSequence) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    drm_crtc_get_sequence g{};
    g.crtc_id = d.crtc[0].id;
    ASSERT_EQ(vblank_ioctl_get_sequence(d, *rig.file, &g), 0);
    EXPECT_EQ(g.active, 1u);
    EXPECT_EQ(g.sequence, crtc_vblank_count(d.crtc[0]));
    g.crtc_id = 0xdead;
    EXPECT_EQ(vblank_ioctl_get_sequence(d, *rig.file, &g), -ENOENT);

    drm_crtc_queue_sequence q{};
    q.crtc_id = d.crtc[0].id;
    q.flags = DRM_CRTC_SEQUENCE_RELATIVE;
    q.sequence = 2;
    q.user_data = 55;
    const uint64_t c = crtc_vblank_count(d.crtc[0]);
    ASSERT_EQ(vblank_ioctl_queue_sequence(d, *rig.file, &q), 0);
    EXPECT_EQ(q.sequence, c + 2);
    sleep_for(2 * kFrame + 1ms);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].type, static_cast<uint32_t>(DRM_EVENT_CRTC_SEQUENCE));
    EXPECT_EQ(ev[0].user_data, 55u);
    EXPECT_EQ(ev[0].sequence, c + 2);
    q.flags = 0x80;
    EXPECT_EQ(vblank_ioctl_queue_sequence(d, *rig.file, &q), -EINVAL);

    // The 4096-byte budget: 128 queued 32-byte events, the next one is -ENOMEM.
    int queued = 0;
    for (;;) {
      drm_crtc_queue_sequence qq{};
      qq.crtc_id = d.crtc[0].id;
      qq.flags = DRM_CRTC_SEQUENCE_RELATIVE;
      qq.sequence = 1000;
      qq.user_data = static_cast<uint64_t>(queued);
      int ret = vblank_ioctl_queue_sequence(d, *rig.file, &qq);
      if (ret) {
        EXPECT_EQ(ret, -ENOMEM);
        break;
      }
      ++queued;
      ASSERT_LE(queued, 200);
    }
    EXPECT_EQ(queued, DrmFile::kEventSpace / static_cast<int>(sizeof(drm_event_crtc_sequence)));
    EXPECT_EQ(crtc_vblank_refcount(d.crtc[0]), queued);
    // Switching the CRTC off delivers them all; the budget comes back as they are read.
    atomic_helper_shutdown(d);
    EXPECT_EQ(read_events(*rig.file).size(), static_cast<std::size_t>(queued));
    EXPECT_EQ(rig.file->event_space(), DrmFile::kEventSpace);
  });
}

TEST(Vblank, EventsStillSentAfterUnplug) {
  run([](Rig& rig) {
    KmsDev& d = *rig.dev;
    Lit lit = light(d, 0);
    auto w = wait_req(_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, 2, 3);
    ASSERT_EQ(vblank_ioctl_wait(d, *rig.file, &w), 0);
    d.unplug();
    sleep_for(3 * kFrame);
    auto ev = read_events(*rig.file);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].user_data, 3u);
  });
}

}  // namespace
}  // namespace udrm::kmstest
