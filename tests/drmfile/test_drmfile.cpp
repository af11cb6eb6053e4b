// DRM files, events and minors (kernel-semantics §3.2–3.6: U4–U13; kernel-observed.md).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "drmfile/test_rig.h"
#include "udrm/base/completion.h"
#include "udrm/base/time.h"
#include "udrm/drm/event.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;
using testrig::Rig;
using testrig::run_sim;
using testrig::TDrm;

// A flip event reserved against f and sent at once.
void queue_flip(DrmDevice& dev, DrmFile& f, uint64_t user_data) {
  PendingVblankEvent* e = nullptr;
  ASSERT_EQ(create_flip_event(dev, f, user_data, &e), 0);
  send_event(dev, e);
}

bool fd_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(DrmFile, OpenCountsHooksMasterAndFilelist) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> a = rig.open(), b = rig.open();
    EXPECT_EQ(drm->open_count, 2);
    EXPECT_EQ(drm->opens, 2);
    EXPECT_EQ(drm->filelist.size(), 2u);
    EXPECT_TRUE(a->is_master());
    EXPECT_FALSE(b->is_master());
    EXPECT_EQ(a->close(), 0);
    EXPECT_EQ(a->close(), -EBADF);
    EXPECT_EQ(drm->postcloses, 1);
    EXPECT_EQ(drm->lastcloses, 0);
    EXPECT_FALSE(b->is_master()) << "master is not handed over at close";
    Ref<DrmFile> c = rig.open();
    EXPECT_TRUE(c->is_master()) << "the next opener without a master becomes master";
    EXPECT_EQ(b->close(), 0);
    EXPECT_EQ(c->close(), 0);
    EXPECT_EQ(drm->open_count, 0);
    EXPECT_EQ(drm->lastcloses, 1);
    EXPECT_TRUE(drm->filelist.empty());
  });
}

TEST(DrmFile, DriverOpenFailureUnwinds) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    rig.drm()->fail_open = -EIO;
    Ref<DrmFile> f;
    EXPECT_EQ(DrmFile::open(*rig.drm(), &f, MinorType::primary), -EIO);
    EXPECT_FALSE(f);
    EXPECT_EQ(rig.drm()->open_count, 0);
    EXPECT_TRUE(rig.drm()->filelist.empty());
    EXPECT_EQ(rig.drm()->master, nullptr);
    EXPECT_EQ(rig.drm()->postcloses, 0);
    rig.drm()->fail_open = 0;
    Ref<DrmFile> g = rig.open();
    EXPECT_TRUE(g->is_master());
    g->close();
  });
}

TEST(DrmFile, U4_OpenAfterUnplugFails) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> keep = rig.open();
    Ref<DrmFile> f;
    EXPECT_EQ(drm_open_node(rig.w, "card0", &f), 0);
    f->close();
    ASSERT_EQ(rig.unbind(), 0);
    EXPECT_TRUE(drm->is_unplugged());
    EXPECT_EQ(DrmFile::open(*drm, &f), -ENODEV);
    EXPECT_EQ(drm_open_node(rig.w, "card0", &f), -ENOENT) << "reserved but unpublished: the node vanished";
    EXPECT_EQ(drm_open_minor(rig.w, 0, &f), -ENODEV);
    EXPECT_EQ(keep->close(), 0);
    EXPECT_EQ(drm_open_node(rig.w, "card0", &f), -ENOENT) << "index freed at the final put";
  });
}

TEST(DrmFile, U5_LateCloseIsTheFinalPut) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    ASSERT_EQ(rig.unbind(), 0);
    EXPECT_EQ(TDrm::live, 1) << "the open file keeps the device";
    EXPECT_EQ(f->close(), 0);
    EXPECT_EQ(TDrm::live, 0) << "close performed the final put";
    EXPECT_EQ(f->device(), nullptr);
    EXPECT_EQ(f->read(nullptr, 0, false), -EBADF);
  });
}

TEST(DrmFile, U6_RebindWithOldFileOpenGetsNewMinor) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    ASSERT_EQ(drm_minor_index(*rig.drm(), MinorType::primary), 0);
    Ref<DrmFile> old = rig.open();
    ASSERT_EQ(rig.unbind(), 0);
    ASSERT_EQ(rig.bind(), 0);
    TDrm* fresh = rig.drm();
    ASSERT_NE(fresh, nullptr);
    EXPECT_EQ(drm_minor_index(*fresh, MinorType::primary), 1) << "card0 stays reserved by the old device";
    auto list = drm_minors_list(rig.w);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].node, "card0");
    EXPECT_EQ(list[0].dev, nullptr);
    EXPECT_EQ(list[1].node, "card1");
    EXPECT_EQ(list[1].dev, fresh);
    drm_version v{};
    EXPECT_EQ(drm_ioctl(*old, DRM_IOCTL_VERSION, &v), -ENODEV);
    Ref<DrmFile> nf;
    ASSERT_EQ(drm_open_node(rig.w, "card1", &nf), 0);
    EXPECT_EQ(old->close(), 0);
    EXPECT_EQ(drm_minors_list(rig.w).size(), 1u) << "old index released at last close";
    EXPECT_EQ(drm_ioctl(*nf, DRM_IOCTL_VERSION, &v), 0) << "closing the old file leaves the new device alone";
    EXPECT_TRUE(nf->is_master());
    nf->close();
  });
}

TEST(DrmFile, U7_QueuedEventsReadableAfterUnplugNoHup) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> f = rig.open();
    EXPECT_EQ(f->poll(), 0u);
    EXPECT_FALSE(fd_readable(f->poll_fd()));
    queue_flip(*drm, *f, 7);
    queue_flip(*drm, *f, 8);
    ASSERT_EQ(rig.unbind(), 0);
    EXPECT_EQ(f->poll(), unsigned(POLLIN | POLLRDNORM));
    EXPECT_TRUE(fd_readable(f->poll_fd()));
    drm_event_vblank ev[2]{};
    ASSERT_EQ(f->read(ev, sizeof(ev[0]), false), long(sizeof(ev[0])));
    EXPECT_EQ(ev[0].base.type, uint32_t(DRM_EVENT_FLIP_COMPLETE));
    EXPECT_EQ(ev[0].user_data, 7u);
    EXPECT_TRUE(fd_readable(f->poll_fd())) << "one event left";
    ASSERT_EQ(f->read(ev, sizeof(ev), false), long(sizeof(ev[0])));
    EXPECT_EQ(ev[0].user_data, 8u);
    EXPECT_EQ(f->poll(), 0u) << "drained: no POLLHUP, no POLLERR";
    EXPECT_FALSE(fd_readable(f->poll_fd()));
    EXPECT_EQ(f->read(ev, sizeof(ev), false), -EAGAIN);
    EXPECT_EQ(f->close(), 0);
  });
}

TEST(DrmFile, U8_EventBudgetIsEnforcedAndReadFreesIt) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> f = rig.open();
    int n = 0;
    for (;;) {
      PendingVblankEvent* e = nullptr;
      int ret = create_flip_event(*drm, *f, n, &e);
      if (ret) {
        EXPECT_EQ(ret, -ENOMEM);
        EXPECT_EQ(e, nullptr);
        break;
      }
      send_event(*drm, e);
      ++n;
    }
    EXPECT_EQ(n, DrmFile::kEventSpace / int(sizeof(drm_event_vblank)));
    EXPECT_EQ(f->event_space(), 0);
    drm_event_vblank ev{};
    ASSERT_EQ(f->read(&ev, sizeof(ev), false), long(sizeof(ev)));
    EXPECT_EQ(f->event_space(), int(sizeof(ev)));
    PendingVblankEvent* e = nullptr;
    ASSERT_EQ(create_flip_event(*drm, *f, 99, &e), 0);
    event_cancel_free(*drm, e);
    EXPECT_EQ(f->event_space(), int(sizeof(ev))) << "cancel gives the budget back";
    f->close();
  });
}

TEST(DrmFile, U9_SmallReadReturnsZeroAndTwoEventsFitOneRead) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> f = rig.open();
    queue_flip(*drm, *f, 1);
    char small[16];
    EXPECT_EQ(f->read(small, sizeof(small), false), 0);
    EXPECT_EQ(f->poll(), unsigned(POLLIN | POLLRDNORM)) << "the event stays queued";
    EXPECT_EQ(f->event_space(), DrmFile::kEventSpace - 32) << "and keeps its space reserved";
    queue_flip(*drm, *f, 2);
    drm_event_vblank ev[3]{};
    ASSERT_EQ(f->read(ev, sizeof(ev), false), long(2 * sizeof(drm_event_vblank)));
    EXPECT_EQ(ev[0].user_data, 1u);
    EXPECT_EQ(ev[1].user_data, 2u);
    EXPECT_EQ(f->event_space(), DrmFile::kEventSpace);
    // 1.5 events' worth of buffer: one whole event, never a split one.
    queue_flip(*drm, *f, 3);
    queue_flip(*drm, *f, 4);
    EXPECT_EQ(f->read(ev, 48, false), 32);
    EXPECT_EQ(f->read(ev, 48, false), 32);
    EXPECT_EQ(ev[0].user_data, 4u);
    f->close();
  });
}

TEST(DrmFile, U9_ReadFaultOnlyWhenNothingCopied) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    queue_flip(*rig.drm(), *f, 1);
    EXPECT_EQ(f->read(reinterpret_cast<void*>(16), 64, false), -EFAULT);
    // drm_read puts the event back (goto put_back_event), its space re-reserved: a retry
    // with a good buffer gets it.
    EXPECT_NE(f->poll(), 0u) << "the event that faulted must stay queued";
    EXPECT_EQ(f->event_space(), DrmFile::kEventSpace - static_cast<int>(sizeof(drm_event_vblank)));
    drm_event_vblank ev{};
    ASSERT_EQ(f->read(&ev, sizeof(ev), false), long(sizeof(ev)));
    EXPECT_EQ(ev.user_data, 1u);
    EXPECT_EQ(f->event_space(), DrmFile::kEventSpace);
    f->close();
  });
}

TEST(DrmFile, U10_CloseWithReservedEventThenSendFreesItAndCompletes) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> f = rig.open();
    PendingVblankEvent* e = nullptr;
    ASSERT_EQ(create_flip_event(*drm, *f, 5, &e), 0);
    Completion done;
    e->completion = &done;
    static int released = 0;
    released = 0;
    e->completion_release = [](Completion*) { ++released; };
    static int destroyed = 0;
    destroyed = 0;
    e->destroy = [](PendingEvent* p) {
      ++destroyed;
      delete p;
    };
    EXPECT_EQ(f->close(), 0);
    EXPECT_EQ(e->file_priv, nullptr) << "detached at close";
    EXPECT_EQ(destroyed, 0);
    send_event(*drm, e);  // the driver sends unconditionally, later
    EXPECT_TRUE(done.done());
    EXPECT_EQ(released, 1);
    EXPECT_EQ(destroyed, 1);
  });
}

TEST(DrmFile, UnreadEventsFreedAtClose) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> f = rig.open();
    static int destroyed = 0;
    destroyed = 0;
    for (int i = 0; i < 3; ++i) {
      PendingVblankEvent* e = nullptr;
      ASSERT_EQ(create_flip_event(*drm, *f, i, &e), 0);
      e->destroy = [](PendingEvent* p) {
        ++destroyed;
        delete p;
      };
      send_event(*drm, e);
    }
    f->close();
    EXPECT_EQ(destroyed, 3);
  });
}

TEST(DrmFile, BlockingReadWakesOnSendFromTimer) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    TDrm* drm = rig.drm();
    Ref<DrmFile> f = rig.open();
    PendingVblankEvent* e = nullptr;
    ASSERT_EQ(create_flip_event(*drm, *f, 42, &e), 0);
    TimePoint t0 = now();
    sim.post_at(t0 + 16ms, [drm, e] { send_event(*drm, e); }, "vblank-irq");
    drm_event_vblank ev{};
    EXPECT_EQ(f->read(&ev, sizeof(ev), true), long(sizeof(ev)));
    EXPECT_EQ(ev.user_data, 42u);
    EXPECT_GE(now() - t0, 16ms);
    f->close();
  });
}

TEST(DrmFile, OnEventHookCalledUnderLock) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    int calls = 0;
    f->on_event_ctx = &calls;
    f->on_event = [](DrmFile&, void* ctx) { ++*static_cast<int*>(ctx); };
    queue_flip(*rig.drm(), *f, 1);
    EXPECT_EQ(calls, 1);
    f->close();
  });
}

TEST(DrmFile, U12_UnregisterOnlyKeepsIoctlsWorking) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    rig.drv.unregister_only = true;
    TDrm* drm = rig.drm();
    Ref<DrmFile> f = rig.open();
    ASSERT_EQ(rig.unbind(), 0);
    EXPECT_FALSE(drm->is_unplugged());
    drm_version v{};
    EXPECT_EQ(drm_ioctl(*f, DRM_IOCTL_VERSION, &v), 0) << "the documented hazard: no unplug, no -ENODEV";
    drm_mode_create_dumb c{};
    c.width = 4;
    c.height = 4;
    c.bpp = 32;
    EXPECT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_CREATE_DUMB, &c), 0);
    Ref<DrmFile> g;
    EXPECT_EQ(drm_open_node(rig.w, "card0", &g), -ENOENT) << "but the node is gone";
    f->close();
    EXPECT_EQ(TDrm::live, 0);
  });
}

// Create a dumb buffer and map it through the file; returns the mapping.
void* make_mapped_dumb(DrmFile& f, uint32_t* handle, uint64_t* size) {
  drm_mode_create_dumb c{};
  c.width = 64;
  c.height = 16;
  c.bpp = 32;
  EXPECT_EQ(drm_ioctl(f, DRM_IOCTL_MODE_CREATE_DUMB, &c), 0);
  EXPECT_EQ(c.pitch, 256u);
  EXPECT_EQ(c.size, 4096u);
  drm_mode_map_dumb m{};
  m.handle = c.handle;
  EXPECT_EQ(drm_ioctl(f, DRM_IOCTL_MODE_MAP_DUMB, &m), 0);
  EXPECT_NE(m.offset, 0u);
  EXPECT_EQ(m.offset % 4096, 0u);
  void* p = nullptr;
  EXPECT_EQ(f.mmap(m.offset, c.size, PROT_READ | PROT_WRITE, &p), 0);
  *handle = c.handle;
  *size = c.size;
  return p;
}

TEST(DrmFile, U13_MmapAfterUnplugFailsExistingMappingKeepsContents) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    uint32_t handle;
    uint64_t size;
    auto* p = static_cast<uint8_t*>(make_mapped_dumb(*f, &handle, &size));
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x5a, size);
    Ref<GemObject> obj = f->gem_lookup(handle);
    ASSERT_TRUE(obj);
    EXPECT_EQ(obj->vaddr()[100], 0x5a) << "the client's mapping and the device's see the same pages";
    uint64_t off = obj->mmap_offset();
    obj.reset();
    ASSERT_EQ(rig.unbind(), 0);
    void* q = nullptr;
    EXPECT_EQ(f->mmap(off, size, PROT_READ, &q), -ENODEV);
    EXPECT_EQ(p[size - 1], 0x5a);
    p[0] = 1;  // still writable
    EXPECT_EQ(f->close(), 0);
    EXPECT_EQ(TDrm::live, 1) << "the mapping holds the file, the file holds the device";
    EXPECT_EQ(f->mapping_count(), 1u);
    EXPECT_EQ(f->munmap(p, size), 0);
    EXPECT_EQ(TDrm::live, 0) << "munmap of the last mapping released the file";
  });
}

TEST(DrmFile, MmapBadInput) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open(), other = rig.open();
    uint32_t handle;
    uint64_t size;
    void* p = make_mapped_dumb(*f, &handle, &size);
    uint64_t off = f->gem_lookup(handle)->mmap_offset();
    void* q = nullptr;
    EXPECT_EQ(f->mmap(off, size + 4096, PROT_READ, &q), -EINVAL) << "past the object";
    EXPECT_EQ(f->mmap(off, 0, PROT_READ, &q), -EINVAL);
    EXPECT_EQ(f->mmap(off + 4096, 4096, PROT_READ, &q), -EINVAL) << "not an object's start";
    EXPECT_EQ(f->mmap(12345, 4096, PROT_READ, &q), -EINVAL);
    EXPECT_EQ(other->mmap(off, size, PROT_READ, &q), -EINVAL) << "no handle in this file";
    EXPECT_EQ(f->munmap(p, size + 1), -EINVAL);
    EXPECT_EQ(f->munmap(p, size), 0);
    EXPECT_EQ(f->munmap(p, size), -EINVAL);
    f->close();
    EXPECT_EQ(f->mmap(off, size, PROT_READ, &q), -EBADF);
    other->close();
  });
}

TEST(DrmFile, GemHandlesLowestFreeAndCounted) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open(), g = rig.open();
    Ref<GemObject> obj;
    ASSERT_EQ(GemObject::create(*rig.drm(), 100, &obj), 0);
    EXPECT_EQ(obj->size(), 4096u);
    uint32_t h1, h2, h3;
    ASSERT_EQ(f->gem_handle_create(*obj, &h1), 0);
    ASSERT_EQ(f->gem_handle_create(*obj, &h2), 0);
    ASSERT_EQ(g->gem_handle_create(*obj, &h3), 0);
    EXPECT_EQ(h1, 1u);
    EXPECT_EQ(h2, 2u);
    EXPECT_EQ(h3, 1u);
    EXPECT_EQ(obj->handle_count(), 3);
    EXPECT_EQ(f->gem_handle_delete(h1), 0);
    EXPECT_EQ(f->gem_handle_delete(h1), -EINVAL);
    ASSERT_EQ(f->gem_handle_create(*obj, &h1), 0);
    EXPECT_EQ(h1, 1u) << "lowest free, like the kernel's idr";
    f->close();
    EXPECT_EQ(obj->handle_count(), 1) << "close drops the file's handles";
    g->close();
    EXPECT_EQ(obj->handle_count(), 0);
  });
}

TEST(DrmMinor, RenderNodeAndNames) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim, DRIVER_GEM | DRIVER_MODESET | DRIVER_RENDER);
    EXPECT_EQ(drm_minor_index(*rig.drm(), MinorType::primary), 0);
    EXPECT_EQ(drm_minor_index(*rig.drm(), MinorType::render), 128);
    Ref<DrmFile> f;
    ASSERT_EQ(drm_open_node(rig.w, "renderD128", &f), 0);
    EXPECT_EQ(f->minor_type(), MinorType::render);
    EXPECT_FALSE(f->is_master()) << "render clients never become master";
    EXPECT_EQ(drm_open_node(rig.w, "renderD129", nullptr), -ENOENT);
    EXPECT_EQ(drm_open_node(rig.w, "card01", nullptr), -ENOENT);
    EXPECT_EQ(drm_open_node(rig.w, "card128", nullptr), -ENOENT);
    EXPECT_EQ(drm_open_node(rig.w, "bogus", nullptr), -ENOENT);
    EXPECT_EQ(drm_open_minor(rig.w, 5, nullptr), -ENODEV);
    Ref<DrmFile> p;
    ASSERT_EQ(drm_open_minor(rig.w, 0, &p), 0);
    EXPECT_TRUE(p->is_master());
    p->close();
    f->close();
  });
}

TEST(DrmMinor, NoRenderNodeWithoutDriverRender) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    EXPECT_EQ(drm_minor_index(*rig.drm(), MinorType::render), -1);
    Ref<DrmFile> f;
    EXPECT_EQ(DrmFile::open(*rig.drm(), &f, MinorType::render), -ENODEV);
    EXPECT_EQ(drm_minors_list(rig.w).size(), 1u);
  });
}

}  // namespace
}  // namespace udrm

namespace udrm::testrig {
namespace {

// task_work on a DRM file: an "interrupt" (a timer, atomic context) hands work to the client;
// it runs when the client's next call returns, on the client's task, in process context — and
// a file's release runs what is left and refuses more.
struct ClientWork {
  TaskWork node;
  int runs = 0;
  bool ran_atomic = false;
  const void* ran_on = nullptr;
};

void client_work_fn(TaskWork& w) {
  auto* c = static_cast<ClientWork*>(w.owner);
  ++c->runs;
  c->ran_atomic = in_atomic();
  c->ran_on = SimExecutor::running() ? SimExecutor::running()->current() : nullptr;
}

TEST(DrmFile, TaskWorkFromInterruptRunsWhenTheClientsNextCallReturns) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    ClientWork cw;
    cw.node.fn = &client_work_fn;
    cw.node.owner = &cw;
    Completion fired;
    sim.post_at(sim.now() + std::chrono::milliseconds(1), [&] {
      EXPECT_EQ(f->task_work.add(cw.node), 0);
      fired.complete_all();
    }, "irq");
    fired.wait();
    EXPECT_EQ(cw.runs, 0) << "nothing runs in the interrupt";
    drm_version v{};
    EXPECT_EQ(drm_ioctl(*f, DRM_IOCTL_VERSION, &v), 0);
    EXPECT_EQ(cw.runs, 1) << "runs as the ioctl returns";
    EXPECT_FALSE(cw.ran_atomic);
    EXPECT_EQ(cw.ran_on, sim.current()) << "on the client's own task";
    EXPECT_EQ(drm_ioctl(*f, DRM_IOCTL_VERSION, &v), 0);
    EXPECT_EQ(cw.runs, 1) << "once per queuing";
    // Queued, then the file goes: release runs it, later queuing is refused.
    EXPECT_EQ(f->task_work.add(cw.node), 0);
    f->close();
    EXPECT_EQ(cw.runs, 2);
    EXPECT_EQ(f->task_work.add(cw.node), -ESRCH);
  });
}

}  // namespace
}  // namespace udrm::testrig
