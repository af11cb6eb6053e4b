// The ioctl entry (drm_ioctl's order of checks, sizes, user pointers) and the core / GEM / dumb
// ioctls (kernel-semantics §3.4 U3; libdrm-clients.md §1–3).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "drmfile/test_rig.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using testrig::io;
using testrig::Rig;
using testrig::run_sim;
using testrig::TDrm;
using testrig::uptr;

TEST(Ioctl, U3_EverythingIsEnodevAfterUnplugEvenBogusNumbers) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_version v{};
    ASSERT_EQ(io(*f, DRM_IOCTL_VERSION, &v), 0);
    ASSERT_EQ(rig.unbind(), 0);
    drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
    drm_mode_create_dumb c{};
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &v), -ENODEV);
    EXPECT_EQ(io(*f, DRM_IOCTL_GET_CAP, &cap), -ENODEV);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_CREATE_DUMB, &c), -ENODEV);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_GETRESOURCES, nullptr), -ENODEV);
    EXPECT_EQ(io(*f, _IOWR('X', 0x00, int), nullptr), -ENODEV) << "before the type check";
    EXPECT_EQ(io(*f, DRM_IO(0xff), nullptr), -ENODEV) << "before the number check";
    EXPECT_EQ(io(*f, DRM_IOWR(0x0c, char[9000]), reinterpret_cast<void*>(8)), -ENODEV) << "before any copy";
    EXPECT_EQ(f->close(), 0);
  });
}

TEST(Ioctl, U3_ForeignTypeIsEnottyUnknownNumberIsEinval) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    int x = 0;
    EXPECT_EQ(io(*f, _IOR('X', 0x00, int), &x), -ENOTTY);
    EXPECT_EQ(io(*f, FIONREAD, &x), -ENOTTY);
    EXPECT_EQ(io(*f, DRM_IO(0x0e), nullptr), -EINVAL) << "hole in the table";
    EXPECT_EQ(io(*f, DRM_IO(0x40), nullptr), -EINVAL) << "driver-private range, no driver ioctls";
    EXPECT_EQ(io(*f, DRM_IO(0xff), nullptr), -EINVAL) << "past the core table";
    EXPECT_EQ(io(*f, DRM_IOCTL_GEM_FLINK, nullptr), -EINVAL) << "unimplemented: never -EAGAIN, never a crash";
    EXPECT_EQ(io(*f, DRM_IOCTL_SET_UNIQUE, nullptr), -EFAULT) << "copy-in faults before the handler";
    drm_unique u{};
    EXPECT_EQ(io(*f, DRM_IOCTL_SET_UNIQUE, &u), -EINVAL) << "drm_invalid_op for the master";
    f->close();
    f->close();
    drm_version v{};
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &v), -EBADF);
  });
}

TEST(Ioctl, TableIsInNumberOrderWithKernelFlags) {
  std::size_t n = 0;
  const IoctlDesc* t = drm_ioctl_table(&n);
  ASSERT_GT(n, 90u);
  std::set<unsigned> seen;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(_IOC_TYPE(t[i].cmd), unsigned(DRM_IOCTL_BASE));
    EXPECT_TRUE(seen.insert(_IOC_NR(t[i].cmd)).second) << t[i].name;
  }
  auto flags_of = [&](unsigned long cmd) {
    for (std::size_t i = 0; i < n; ++i)
      if (t[i].cmd == cmd) return t[i].flags;
    return ~0u;
  };
  EXPECT_EQ(flags_of(DRM_IOCTL_VERSION), uint32_t(kIoctlRenderAllow));
  EXPECT_EQ(flags_of(DRM_IOCTL_MODE_ATOMIC), uint32_t(kIoctlMaster));
  EXPECT_EQ(flags_of(DRM_IOCTL_MODE_GETRESOURCES), 0u);
  EXPECT_EQ(flags_of(DRM_IOCTL_MODE_CREATE_DUMB), 0u);  // Linux 6.1: not render-allowed
  EXPECT_EQ(flags_of(DRM_IOCTL_SET_VERSION), uint32_t(kIoctlMaster));
  EXPECT_STREQ(drm_ioctl_name(DRM_IOCTL_MODE_PAGE_FLIP), "MODE_PAGE_FLIP");
  EXPECT_STREQ(drm_ioctl_name(DRM_IO(0x0e)), "?");
  EXPECT_STREQ(drm_ioctl_name(_IO('X', 0)), "?");
}

TEST(Ioctl, VersionTwoPass) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_version v{};
    ASSERT_EQ(io(*f, DRM_IOCTL_VERSION, &v), 0);
    EXPECT_EQ(v.version_major, 1);
    EXPECT_EQ(v.version_minor, 2);
    EXPECT_EQ(v.version_patchlevel, 3);
    EXPECT_EQ(v.name_len, std::strlen("udrm-test"));
    EXPECT_EQ(v.date_len, 8u);
    EXPECT_EQ(v.desc_len, std::strlen("udrm test driver"));
    std::string name(v.name_len, '\0'), date(v.date_len, '\0'), desc(v.desc_len, '\0');
    v.name = name.data();
    v.date = date.data();
    v.desc = desc.data();
    ASSERT_EQ(io(*f, DRM_IOCTL_VERSION, &v), 0);
    EXPECT_EQ(name, "udrm-test");
    EXPECT_EQ(date, "20260101");
    EXPECT_EQ(desc, "udrm test driver");
    // A short buffer gets what fits and the full length back.
    char shortbuf[5] = {'x', 'x', 'x', 'x', 'x'};
    drm_version s{};
    s.name = shortbuf;
    s.name_len = 4;
    ASSERT_EQ(io(*f, DRM_IOCTL_VERSION, &s), 0);
    EXPECT_EQ(std::string(shortbuf, 5), "udrmx");
    EXPECT_EQ(s.name_len, std::strlen("udrm-test"));
    // A bad nested pointer with a length: -EFAULT; a null one is skipped.
    drm_version bad{};
    bad.name_len = 9;
    bad.name = reinterpret_cast<char*>(0x10);
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &bad), -EFAULT);
    drm_version nul{};
    nul.name_len = 9;
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &nul), 0);
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, nullptr), -EFAULT);
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, reinterpret_cast<void*>(0x0000800000000000ull)), -EFAULT);
    f->close();
  });
}

TEST(Ioctl, GetUniqueIsEmptyUntilSetVersion) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_unique u{};
    ASSERT_EQ(io(*f, DRM_IOCTL_GET_UNIQUE, &u), 0);
    EXPECT_EQ(u.unique_len, 0u) << "libdrm's open-by-name skips a node with a unique";
    char buf[32] = {};
    u.unique = buf;
    u.unique_len = sizeof(buf);
    ASSERT_EQ(io(*f, DRM_IOCTL_GET_UNIQUE, &u), 0);
    EXPECT_EQ(u.unique_len, 0u);
    drm_set_version sv{1, 4, -1, -1};
    ASSERT_EQ(io(*f, DRM_IOCTL_SET_VERSION, &sv), 0);
    EXPECT_EQ(sv.drm_di_major, 1);
    EXPECT_EQ(sv.drm_di_minor, 4);
    EXPECT_EQ(sv.drm_dd_major, 1);
    EXPECT_EQ(sv.drm_dd_minor, 2);
    drm_unique u2{};
    ASSERT_EQ(io(*f, DRM_IOCTL_GET_UNIQUE, &u2), 0);
    EXPECT_EQ(u2.unique_len, std::strlen("tdrm0"));
    u2.unique = buf;
    ASSERT_EQ(io(*f, DRM_IOCTL_GET_UNIQUE, &u2), 0);
    EXPECT_EQ(std::string(buf, u2.unique_len), "tdrm0");
    drm_set_version bad{2, 0, -1, -1};
    EXPECT_EQ(io(*f, DRM_IOCTL_SET_VERSION, &bad), -EINVAL);
    EXPECT_EQ(bad.drm_di_major, 1) << "the versions are written back even on error";
    drm_set_version bad_dd{-1, -1, 1, 3};
    EXPECT_EQ(io(*f, DRM_IOCTL_SET_VERSION, &bad_dd), -EINVAL);
    f->close();
  });
}

TEST(Ioctl, GetCapValues) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    auto cap = [&](uint64_t c, uint64_t* v) {
      drm_get_cap g{c, 0xdead};
      int ret = io(*f, DRM_IOCTL_GET_CAP, &g);
      *v = g.value;
      return ret;
    };
    uint64_t v;
    EXPECT_EQ(cap(DRM_CAP_DUMB_BUFFER, &v), 0);
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(cap(DRM_CAP_VBLANK_HIGH_CRTC, &v), 0);
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(cap(DRM_CAP_PRIME, &v), 0);
    EXPECT_EQ(v, 0u);
    EXPECT_EQ(cap(DRM_CAP_TIMESTAMP_MONOTONIC, &v), 0);
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(cap(DRM_CAP_CURSOR_WIDTH, &v), 0);
    EXPECT_EQ(v, 64u);
    EXPECT_EQ(cap(DRM_CAP_CURSOR_HEIGHT, &v), 0);
    EXPECT_EQ(v, 64u);
    EXPECT_EQ(cap(DRM_CAP_ADDFB2_MODIFIERS, &v), 0);
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(cap(DRM_CAP_CRTC_IN_VBLANK_EVENT, &v), 0);
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(cap(DRM_CAP_SYNCOBJ, &v), 0);
    EXPECT_EQ(v, 0u);
    EXPECT_EQ(cap(DRM_CAP_SYNCOBJ_TIMELINE, &v), 0);
    EXPECT_EQ(v, 0u);
    EXPECT_EQ(cap(DRM_CAP_ASYNC_PAGE_FLIP, &v), 0);
    EXPECT_EQ(cap(DRM_CAP_DUMB_PREFER_SHADOW, &v), 0);
    EXPECT_EQ(cap(0x9999, &v), -EINVAL);
    EXPECT_EQ(v, 0u) << "value is zeroed first";
    f->close();
  });
}

TEST(Ioctl, GetCapOnANonKmsDevice) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim, DRIVER_GEM);
    Ref<DrmFile> f = rig.open();
    drm_get_cap g{DRM_CAP_TIMESTAMP_MONOTONIC, 0};
    EXPECT_EQ(io(*f, DRM_IOCTL_GET_CAP, &g), 0);
    g = {DRM_CAP_DUMB_BUFFER, 0};
    EXPECT_EQ(io(*f, DRM_IOCTL_GET_CAP, &g), -EOPNOTSUPP);
    drm_set_client_cap c{DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1};
    EXPECT_EQ(io(*f, DRM_IOCTL_SET_CLIENT_CAP, &c), -EOPNOTSUPP);
    drm_mode_create_dumb d{};
    d.width = d.height = 8;
    d.bpp = 32;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_CREATE_DUMB, &d), -ENOSYS);
    f->close();
  });
}

TEST(Ioctl, SetClientCapRules) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);  // no DRIVER_ATOMIC
    Ref<DrmFile> f = rig.open();
    auto set = [&](uint64_t cap, uint64_t val) {
      drm_set_client_cap c{cap, val};
      return io(*f, DRM_IOCTL_SET_CLIENT_CAP, &c);
    };
    EXPECT_EQ(set(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1), 0);
    EXPECT_TRUE(f->universal_planes);
    EXPECT_EQ(set(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 2), -EINVAL);
    EXPECT_EQ(set(DRM_CLIENT_CAP_STEREO_3D, 1), 0);
    EXPECT_TRUE(f->stereo_allowed);
    EXPECT_EQ(set(DRM_CLIENT_CAP_ASPECT_RATIO, 1), 0);
    EXPECT_EQ(set(DRM_CLIENT_CAP_ATOMIC, 1), -EOPNOTSUPP) << "needs DRIVER_ATOMIC";
    EXPECT_EQ(set(DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1), -EINVAL) << "needs the atomic cap";
    EXPECT_EQ(set(99, 1), -EINVAL);
    f->close();
  });
  run_sim([](SimExecutor& sim) {
    Rig rig(sim, DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC);
    Ref<DrmFile> f = rig.open();
    auto set = [&](uint64_t cap, uint64_t val) {
      drm_set_client_cap c{cap, val};
      return io(*f, DRM_IOCTL_SET_CLIENT_CAP, &c);
    };
    EXPECT_EQ(set(DRM_CLIENT_CAP_ATOMIC, 3), -EINVAL);
    EXPECT_EQ(set(DRM_CLIENT_CAP_ATOMIC, 1), 0);
    EXPECT_TRUE(f->atomic);
    EXPECT_TRUE(f->universal_planes) << "atomic implies universal planes";
    EXPECT_TRUE(f->aspect_ratio_allowed);
    EXPECT_EQ(set(DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1), 0);
    EXPECT_TRUE(f->writeback_connectors);
    EXPECT_EQ(set(DRM_CLIENT_CAP_ATOMIC, 0), 0);
    EXPECT_FALSE(f->universal_planes);
    f->close();
  });
}

TEST(Ioctl, MasterOnlyIoctlsAndMasterTransfer) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> a = rig.open(), b = rig.open();
    drm_set_version sv{-1, -1, -1, -1};
    EXPECT_EQ(io(*a, DRM_IOCTL_SET_VERSION, &sv), 0);
    EXPECT_EQ(io(*b, DRM_IOCTL_SET_VERSION, &sv), -EACCES);
    EXPECT_EQ(io(*b, DRM_IOCTL_SET_MASTER, nullptr), -EBUSY);
    EXPECT_EQ(io(*b, DRM_IOCTL_DROP_MASTER, nullptr), -EINVAL);
    EXPECT_EQ(io(*a, DRM_IOCTL_SET_MASTER, nullptr), 0) << "already master";
    EXPECT_EQ(io(*a, DRM_IOCTL_DROP_MASTER, nullptr), 0);
    EXPECT_EQ(io(*a, DRM_IOCTL_SET_VERSION, &sv), -EACCES);
    EXPECT_EQ(io(*b, DRM_IOCTL_SET_MASTER, nullptr), 0);
    EXPECT_EQ(io(*b, DRM_IOCTL_SET_VERSION, &sv), 0);
    drm_auth m{};
    EXPECT_EQ(io(*a, DRM_IOCTL_GET_MAGIC, &m), 0);
    EXPECT_NE(m.magic, 0u);
    EXPECT_EQ(io(*b, DRM_IOCTL_AUTH_MAGIC, &m), 0);
    EXPECT_EQ(io(*a, DRM_IOCTL_AUTH_MAGIC, &m), -EACCES);
    drm_client c{};
    EXPECT_EQ(io(*a, DRM_IOCTL_GET_CLIENT, &c), 0);
    EXPECT_EQ(c.auth, 1);
    c.idx = 1;
    EXPECT_EQ(io(*a, DRM_IOCTL_GET_CLIENT, &c), -EINVAL);
    a->close();
    b->close();
  });
}

TEST(Ioctl, RenderNodeNeedsRenderAllow) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim, DRIVER_GEM | DRIVER_MODESET | DRIVER_RENDER);
    Ref<DrmFile> r = rig.open(MinorType::render);
    drm_version v{};
    EXPECT_EQ(io(*r, DRM_IOCTL_VERSION, &v), 0);
    drm_get_cap g{DRM_CAP_DUMB_BUFFER, 0};
    EXPECT_EQ(io(*r, DRM_IOCTL_GET_CAP, &g), 0);
    drm_unique u{};
    EXPECT_EQ(io(*r, DRM_IOCTL_GET_UNIQUE, &u), -EACCES);
    drm_set_client_cap c{DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1};
    EXPECT_EQ(io(*r, DRM_IOCTL_SET_CLIENT_CAP, &c), -EACCES);
    EXPECT_EQ(io(*r, DRM_IOCTL_SET_MASTER, nullptr), -EACCES);
    drm_mode_create_dumb d{};
    d.width = d.height = 8;
    d.bpp = 32;
    EXPECT_EQ(io(*r, DRM_IOCTL_MODE_CREATE_DUMB, &d), -EACCES) << "Linux 6.1: dumb buffers need a primary node";
    r->close();
  });
}

TEST(Ioctl, ArgumentSizesAreZeroExtendedAndTruncated) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    // An old, shorter drm_get_cap (capability only): the kernel copies 8 bytes in, zero-extends,
    // and copies 8 bytes out — the caller's bytes after it are untouched.
    struct {
      uint64_t capability;
      uint64_t guard;
    } small{DRM_CAP_DUMB_BUFFER, 0x1234};
    EXPECT_EQ(io(*f, DRM_IOWR(0x0c, uint64_t), &small), 0);
    EXPECT_EQ(small.guard, 0x1234u);
    // A longer struct: the tail goes in and comes back unchanged.
    struct {
      drm_get_cap cap;
      uint64_t tail;
    } big{{DRM_CAP_DUMB_BUFFER, 0}, 0x77};
    EXPECT_EQ(io(*f, DRM_IOWR(0x0c, decltype(big)), &big), 0);
    EXPECT_EQ(big.cap.value, 1u);
    EXPECT_EQ(big.tail, 0x77u);
    // Direction bits the kernel does not expect are ignored: _IOW GET_CAP copies nothing out.
    drm_get_cap w{DRM_CAP_DUMB_BUFFER, 5};
    EXPECT_EQ(io(*f, DRM_IOW(0x0c, drm_get_cap), &w), 0);
    EXPECT_EQ(w.value, 5u);
    f->close();
  });
}

TEST(Ioctl, UserArenaBoundsNestedPointers) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    struct Arena {
      drm_version v;
      char name[32];
    } arena{};
    char outside[32];
    set_user_arena(&arena, sizeof(arena));
    arena.v.name = arena.name;
    arena.v.name_len = sizeof(arena.name);
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &arena.v), 0);
    arena.v.name = outside;
    arena.v.name_len = sizeof(outside);
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &arena.v), -EFAULT);
    drm_version stack{};
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &stack), -EFAULT) << "the argument itself is outside";
    arena.v.name = arena.name + 30;
    arena.v.name_len = 8;
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &arena.v), -EFAULT) << "runs past the arena";
    set_user_arena(nullptr, 0);
    EXPECT_EQ(io(*f, DRM_IOCTL_VERSION, &stack), 0);
    EXPECT_EQ(copy_to_user(0, "x", 0), 0) << "zero length never faults";
    EXPECT_EQ(copy_from_user(outside, 4095, 1), -EFAULT);
    f->close();
  });
}

TEST(Ioctl, DumbBufferLifecycle) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_mode_create_dumb c{};
    c.width = 100;
    c.height = 10;
    c.bpp = 24;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_CREATE_DUMB, &c), 0);
    EXPECT_EQ(c.handle, 1u);
    EXPECT_EQ(c.pitch, 300u);
    EXPECT_EQ(c.size, 4096u);
    drm_mode_map_dumb m{};
    m.handle = c.handle;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_MAP_DUMB, &m), 0);
    uint64_t off = m.offset;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_MAP_DUMB, &m), 0);
    EXPECT_EQ(m.offset, off) << "the offset is created once";
    void* p = nullptr;
    ASSERT_EQ(f->mmap(m.offset, c.size, PROT_READ | PROT_WRITE, &p), 0);
    static_cast<uint8_t*>(p)[299] = 0xab;
    EXPECT_EQ(f->gem_lookup(c.handle)->vaddr()[299], 0xab);
    drm_mode_destroy_dumb d{c.handle};
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_DESTROY_DUMB, &d), 0);
    EXPECT_EQ(static_cast<uint8_t*>(p)[299], 0xab) << "the mapping keeps the object";
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_DESTROY_DUMB, &d), -EINVAL);
    m.handle = c.handle;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_MAP_DUMB, &m), -ENOENT);
    EXPECT_EQ(m.offset, 0u);
    EXPECT_EQ(f->munmap(p, c.size), 0);
    f->close();
  });
}

TEST(Ioctl, DumbBufferBadInput) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    auto create = [&](uint32_t w, uint32_t h, uint32_t bpp) {
      drm_mode_create_dumb c{};
      c.width = w;
      c.height = h;
      c.bpp = bpp;
      c.handle = 77;
      c.pitch = 77;
      c.size = 77;
      int ret = io(*f, DRM_IOCTL_MODE_CREATE_DUMB, &c);
      if (ret) {
        EXPECT_EQ(c.handle, 0u);
        EXPECT_EQ(c.pitch, 0u);
        EXPECT_EQ(c.size, 0u);
      }
      return ret;
    };
    EXPECT_EQ(create(0, 10, 32), -EINVAL);
    EXPECT_EQ(create(10, 0, 32), -EINVAL);
    EXPECT_EQ(create(10, 10, 0), -EINVAL);
    EXPECT_EQ(create(10, 10, 0xfffffff9u), -EINVAL) << "bpp > U32_MAX - 8";
    EXPECT_EQ(create(0x40000000u, 1, 32), -EINVAL) << "pitch overflows";
    EXPECT_EQ(create(65536, 65536, 32), -EINVAL) << "size overflows";
    EXPECT_EQ(create(0xffffffffu, 0xffffffffu, 0xffffffffu), -EINVAL);
    drm_mode_map_dumb m{};
    m.handle = 12345;
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_MAP_DUMB, &m), -ENOENT);
    drm_mode_destroy_dumb d{0};
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_DESTROY_DUMB, &d), -EINVAL);
    drm_gem_close gc{999, 0};
    EXPECT_EQ(io(*f, DRM_IOCTL_GEM_CLOSE, &gc), -EINVAL);
    EXPECT_EQ(io(*f, DRM_IOCTL_MODE_CREATE_DUMB, nullptr), -EFAULT);
    drm_prime_handle ph{};
    EXPECT_EQ(io(*f, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph), -ENOSYS);
    drm_syncobj_create sc{};
    EXPECT_EQ(io(*f, DRM_IOCTL_SYNCOBJ_CREATE, &sc), -EOPNOTSUPP);
    EXPECT_EQ(create(1, 1, 8), 0);
    f->close();
  });
}

TEST(Ioctl, HandlesReleasedAtCloseFreeTheObjects) {
  run_sim([](SimExecutor& sim) {
    Rig rig(sim);
    Ref<DrmFile> f = rig.open();
    drm_mode_create_dumb c{};
    c.width = c.height = 16;
    c.bpp = 32;
    ASSERT_EQ(io(*f, DRM_IOCTL_MODE_CREATE_DUMB, &c), 0);
    ASSERT_EQ(rig.unbind(), 0);
    EXPECT_EQ(f->close(), 0);
    EXPECT_EQ(TDrm::live, 0) << "the GEM object's device reference went with its last handle";
  });
}

}  // namespace
}  // namespace udrm
