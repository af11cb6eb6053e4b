// The interposer leaves everything that is not a udrm device alone: ordinary fds (pipes,
// regular files, /dev/null) and host paths behave exactly as libc's, bad fds and pointers get
// the kernel's errno; with no device, the served /dev/dri is empty.
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "shim_fixture.h"

namespace udrm::shimtest {
namespace {

TEST(ShimPassthrough, PipeReadIoctlClose) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "hello", 5), 5);
  int avail = -1;
  ASSERT_EQ(ioctl(p[0], FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 5);
  char buf[8] = {};
  EXPECT_EQ(read(p[0], buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "hello");
  int d = dup(p[0]);
  ASSERT_GE(d, 0);
  EXPECT_EQ(close(d), 0);
  EXPECT_EQ(close(p[0]), 0);
  EXPECT_EQ(close(p[1]), 0);
  errno = 0;
  EXPECT_EQ(close(p[0]), -1);
  EXPECT_EQ(errno, EBADF);
  // A DRM request on a pipe is the kernel's ENOTTY.
  int q[2];
  ASSERT_EQ(pipe(q), 0);
  drm_version_t v{};
  errno = 0;
  EXPECT_EQ(ioctl(q[0], DRM_IOCTL_VERSION, &v), -1);
  EXPECT_EQ(errno, ENOTTY);
  EXPECT_EQ(drmIoctl(q[0], DRM_IOCTL_VERSION, &v), -1);
  EXPECT_EQ(errno, ENOTTY);
  close(q[0]);
  close(q[1]);
}

TEST(ShimPassthrough, RegularFileStatMmapRead) {
  char path[] = "/tmp/udrm-shim-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "0123456789", 10), 10);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 10);
  struct stat st2 {};
  ASSERT_EQ(stat(path, &st2), 0);
  EXPECT_EQ(st2.st_ino, st.st_ino);
  void* m = mmap(nullptr, 10, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_EQ(std::memcmp(m, "0123456789", 10), 0);
  EXPECT_EQ(munmap(m, 10), 0);
  ASSERT_EQ(lseek(fd, 2, SEEK_SET), 2);
  char buf[4] = {};
  EXPECT_EQ(read(fd, buf, 3), 3);
  EXPECT_STREQ(buf, "234");
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
  EXPECT_GE(dup_fd, 100);
  EXPECT_EQ(close(dup_fd), 0);
  EXPECT_EQ(close(fd), 0);
  FILE* f = fopen(path, "r");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(fgetc(f), '0');
  fclose(f);
  EXPECT_EQ(unlink(path), 0);
}

TEST(ShimPassthrough, BadFdsAndPointersGetKernelErrnos) {
  errno = 0;
  EXPECT_EQ(ioctl(-1, DRM_IOCTL_VERSION, nullptr), -1);
  EXPECT_EQ(errno, EBADF);
  char buf[4];
  errno = 0;
  EXPECT_EQ(read(12345, buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EBADF);
  struct stat st {};
  errno = 0;
  EXPECT_EQ(fstat(-1, &st), -1);
  EXPECT_EQ(errno, EBADF);
  errno = 0;
  EXPECT_EQ(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, -1, 0), MAP_FAILED);
  EXPECT_EQ(errno, EBADF);
  // (A null stat buffer is not tested: glibc declares the argument nonnull, so the call
  // itself is undefined behaviour, which UBSan reports at the call site.)
}

TEST(ShimPassthrough, HostPathsAreUntouched) {
  struct stat st {};
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
  DIR* d = opendir("/proc/self/fd");
  ASSERT_NE(d, nullptr);
  int n = 0;
  while (readdir(d)) ++n;
  EXPECT_GE(n, 5);  // ., .., stdin, stdout, stderr
  EXPECT_EQ(closedir(d), 0);
  char rp[PATH_MAX];
  ASSERT_NE(realpath("/proc/self/..", rp), nullptr);
  EXPECT_STREQ(rp, "/proc");
  EXPECT_EQ(access("/dev/null", R_OK), 0);
}

// The in-process backend is always active: without any World, /dev/dri exists and is empty,
// whatever the host has.
TEST(ShimPassthrough, NoDeviceNoNodes) {
  struct stat st {};
  ASSERT_EQ(stat("/dev/dri", &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  DIR* d = opendir("/dev/dri");
  ASSERT_NE(d, nullptr);
  std::set<std::string> names;
  while (dirent* e = readdir(d)) names.insert(e->d_name);
  closedir(d);
  EXPECT_EQ(names, (std::set<std::string>{".", ".."}));
  errno = 0;
  EXPECT_EQ(open("/dev/dri/card0", O_RDWR), -1);
  EXPECT_EQ(errno, ENOENT);
  errno = 0;
  EXPECT_EQ(stat("/sys/dev/char/226:0/device/drm", &st), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(drmGetDevices2(0, nullptr, 0), 0);
  EXPECT_LT(drmOpen("udrm-simple", nullptr), 0);
}

}  // namespace
}  // namespace udrm::shimtest
