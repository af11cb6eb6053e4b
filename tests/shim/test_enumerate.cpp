// How libdrm finds and identifies udrm devices through the shim: drmOpen by name,
// drmGetVersion, fstat, drmGetDevices2 / drmGetDevice2 on the platform bus, the node-name
// helpers, and the sysfs files they read.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "shim_fixture.h"

namespace udrm::shimtest {
namespace {

struct ShimEnumerate : ::testing::TestWithParam<Kind> {};

std::string drm_name(Kind k) { return k == Kind::simple ? "udrm-simple" : "udrm-soc"; }

TEST_P(ShimEnumerate, DrmOpenByNameAndIdentify) {
  run_one(GetParam(), [&](drivers::Display& d) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0) << std::strerror(errno);
    drmVersion* v = drmGetVersion(fd);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(std::string(v->name, static_cast<std::size_t>(v->name_len)), drm_name(GetParam()));
    drmFreeVersion(v);
    // The "busid not set" check drmOpen made: empty unique.
    char* busid = drmGetBusid(fd);
    ASSERT_NE(busid, nullptr);
    EXPECT_STREQ(busid, "");
    drmFreeBusid(busid);

    struct stat st {};
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(major(st.st_rdev), 226u);
    const int card = drm_minor_index(*d.drm(), MinorType::primary);
    EXPECT_EQ(static_cast<int>(minor(st.st_rdev)), card);
    EXPECT_EQ(drmGetNodeTypeFromFd(fd), DRM_NODE_PRIMARY);
    char* name = drmGetDeviceNameFromFd2(fd);
    ASSERT_NE(name, nullptr);
    EXPECT_EQ(std::string(name), "/dev/dri/card" + std::to_string(card));
    free(name);
    char* primary = drmGetPrimaryDeviceNameFromFd(fd);
    ASSERT_NE(primary, nullptr);
    EXPECT_EQ(std::string(primary), "/dev/dri/card" + std::to_string(card));
    free(primary);
    char* render = drmGetRenderDeviceNameFromFd(fd);
    if (GetParam() == Kind::simple) {  // DRIVER_RENDER: renderD128 of the same device
      ASSERT_NE(render, nullptr);
      EXPECT_EQ(std::string(render), "/dev/dri/renderD" + std::to_string(drm_minor_index(*d.drm(), MinorType::render)));
    } else {
      EXPECT_EQ(render, nullptr);
    }
    free(render);
    EXPECT_EQ(close(fd), 0);
  });
}

TEST_P(ShimEnumerate, GetDevicesOnThePlatformBus) {
  run_one(GetParam(), [&](drivers::Display& d) {
    const std::string devname = d.drm()->dev()->name();
    ASSERT_EQ(drmGetDevices2(0, nullptr, 0), 1);
    drmDevicePtr devs[4] = {};
    ASSERT_EQ(drmGetDevices2(0, devs, 4), 1);
    drmDevicePtr dev = devs[0];
    EXPECT_EQ(dev->bustype, DRM_BUS_PLATFORM);
    EXPECT_EQ(std::string(dev->businfo.platform->fullname), "/udrm/" + devname);
    ASSERT_NE(dev->deviceinfo.platform->compatible, nullptr);
    ASSERT_NE(dev->deviceinfo.platform->compatible[0], nullptr);
    EXPECT_EQ(std::string(dev->deviceinfo.platform->compatible[0]), "udrm," + drm_name(GetParam()));
    EXPECT_EQ(dev->deviceinfo.platform->compatible[1], nullptr);
    ASSERT_TRUE(dev->available_nodes & (1 << DRM_NODE_PRIMARY));
    EXPECT_EQ(std::string(dev->nodes[DRM_NODE_PRIMARY]), "/dev/dri/card0");
    const bool render = GetParam() == Kind::simple;
    EXPECT_EQ((dev->available_nodes & (1 << DRM_NODE_RENDER)) != 0, render);
    if (render) {
      EXPECT_EQ(std::string(dev->nodes[DRM_NODE_RENDER]), "/dev/dri/renderD128");
    }

    // Every node leads back to the same device (what the drmdevice tool checks).
    for (int type : {DRM_NODE_PRIMARY, DRM_NODE_RENDER}) {
      if (!(dev->available_nodes & (1 << type))) continue;
      int fd = open(dev->nodes[type], O_RDWR | O_CLOEXEC);
      ASSERT_GE(fd, 0) << dev->nodes[type] << ": " << std::strerror(errno);
      drmDevicePtr same = nullptr;
      ASSERT_EQ(drmGetDevice2(fd, 0, &same), 0);
      EXPECT_TRUE(drmDevicesEqual(dev, same));
      EXPECT_EQ(same->available_nodes, dev->available_nodes);
      drmFreeDevice(&same);
      drmVersion* v = drmGetVersion(fd);
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(std::string(v->name), drm_name(GetParam()));
      drmFreeVersion(v);
      EXPECT_EQ(close(fd), 0);
    }
    drmFreeDevices(devs, 1);
  });
}

TEST_P(ShimEnumerate, SysfsFilesLibdrmReads) {
  run_one(GetParam(), [&](drivers::Display& d) {
    const std::string devname = d.drm()->dev()->name();
    const std::string base = "/sys/dev/char/226:0";
    struct stat st {};
    EXPECT_EQ(stat((base + "/device/drm").c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(access((base + "/device/drm").c_str(), F_OK), 0);
    char link[256] = {};
    ssize_t n = readlink((base + "/device/subsystem").c_str(), link, sizeof(link) - 1);
    ASSERT_GT(n, 0);
    EXPECT_STREQ(std::strrchr(link, '/'), "/platform");
    struct stat lst {};
    ASSERT_EQ(lstat((base + "/device/subsystem").c_str(), &lst), 0);
    EXPECT_TRUE(S_ISLNK(lst.st_mode));
    errno = 0;
    EXPECT_EQ(readlink((base + "/device/uevent").c_str(), link, sizeof(link)), -1);
    EXPECT_EQ(errno, EINVAL);

    FILE* f = fopen((base + "/device/uevent").c_str(), "r");
    ASSERT_NE(f, nullptr);
    std::set<std::string> lines;
    char* line = nullptr;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) lines.insert(std::string(line, static_cast<std::size_t>(len)));
    free(line);
    fclose(f);
    EXPECT_TRUE(lines.count("OF_FULLNAME=/udrm/" + devname + "\n"));
    EXPECT_TRUE(lines.count("OF_COMPATIBLE_N=1\n"));
    EXPECT_TRUE(lines.count("OF_COMPATIBLE_0=udrm," + drm_name(GetParam()) + "\n"));
    EXPECT_EQ(fopen((base + "/device/uevent").c_str(), "w"), nullptr);
    EXPECT_EQ(errno, EACCES);

    // The device's drm directory lists its nodes; /dev/dri lists every node.
    std::set<std::string> drm_dir, dev_dri;
    DIR* dir = opendir((base + "/device/drm").c_str());
    ASSERT_NE(dir, nullptr);
    while (dirent* e = readdir(dir)) drm_dir.insert(e->d_name);
    closedir(dir);
    dir = opendir("/dev/dri");
    ASSERT_NE(dir, nullptr);
    while (dirent64* e = readdir64(dir)) dev_dri.insert(e->d_name);
    closedir(dir);
    std::set<std::string> want{".", "..", "card0"};
    if (GetParam() == Kind::simple) want.insert("renderD128");
    EXPECT_EQ(drm_dir, want);
    EXPECT_EQ(dev_dri, want);
    char rp[PATH_MAX];
    ASSERT_NE(realpath("/dev/dri/card0", rp), nullptr);
    EXPECT_STREQ(rp, "/dev/dri/card0");
    errno = 0;
    EXPECT_EQ(stat("/dev/dri/card7", &st), -1);
    EXPECT_EQ(errno, ENOENT);
    EXPECT_EQ(stat("/sys/dev/char/226:7/device", &st), -1);
    EXPECT_EQ(errno, ENOENT);
  });
}

UDRM_SHIM_INSTANTIATE_BOTH(ShimEnumerate);

// Two devices in one machine: both enumerated, drmOpen finds each by name.
TEST(ShimEnumerateTwo, BothDevicesFoundByName) {
  run_on_asio({Kind::simple, Kind::soc}, [&](World&, std::vector<drivers::Display*>&) {
    EXPECT_EQ(drmGetDevices2(0, nullptr, 0), 2);
    for (Kind k : {Kind::simple, Kind::soc}) {
      int fd = open_by_name(k);
      ASSERT_GE(fd, 0) << drm_name(k);
      drmVersion* v = drmGetVersion(fd);
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(std::string(v->name), drm_name(k));
      drmFreeVersion(v);
      drmDevicePtr dev = nullptr;
      ASSERT_EQ(drmGetDevice2(fd, 0, &dev), 0);
      EXPECT_EQ(std::string(dev->deviceinfo.platform->compatible[0]), "udrm," + drm_name(k));
      drmFreeDevice(&dev);
      EXPECT_EQ(close(fd), 0);
    }
  });
}

}  // namespace
}  // namespace udrm::shimtest
