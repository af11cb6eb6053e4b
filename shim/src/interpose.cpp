// The libc interposer of the libdrm shim (udrm/shim/backend.h).
//
// Defines the libc functions libdrm and its clients call and forwards everything that is not
// a udrm device to the next definition (real_internal.h). What is ours:
//   - paths of the served tree (vfs_internal.h: /dev/dri, /sys/dev/char/226:*), while
//     backend() is non-null: open of a node → Backend::open; stat/readlink/realpath/access/
//     opendir/fopen → the generated tree; the host's own entries there are hidden;
//   - fds returned by such an open and their dups: a table fd → OpenFile (one open file
//     description: the File, the number of fds on it, the O_NONBLOCK status flag, which is
//     kept here because the File's real fd is often nonblocking itself). ioctl → File::ioctl,
//     read → File::read, mmap → File::mmap, fstat → a 226:minor char device, close → the last
//     fd's close calls File::close, then the real fd is closed;
//   - addresses returned by File::mmap: munmap → File::munmap. A mapping holds its File, so it
//     stays valid after close (as a vma holds the struct file).
// Calls made while a Backend or File method runs on this thread (the backend's own libc use)
// always go straight to libc.
//
// Cost on other fds: one relaxed load of a bitmap word (fds < kMaxFd) before the real call.
// Limits: fds above kMaxFd cannot be udrm fds (open fails with EMFILE); an fd of ours closed
// behind the shim's back (close_range, raw syscalls) is noticed only when a shim-visible call
// (open, dup) returns the same number again.
//
// Lifetime: tables are heap objects never freed (atexit handlers and static destructors still
// call libc). Context: any thread; calls may block exactly where the File's do.
#undef _FORTIFY_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "real_internal.h"
#include "udrm/shim/backend.h"
#include "vfs_internal.h"

namespace udrm::shim {
namespace {

constexpr int kMaxFd = 1 << 16;

struct OpenFile {
  explicit OpenFile(std::shared_ptr<File> f, bool nb) : file(std::move(f)), nonblock(nb) {}
  std::shared_ptr<File> file;
  int nfds = 0;  // fds referring to it (under State::mu)
  std::atomic<bool> nonblock;
};

struct Mapping {
  std::shared_ptr<File> file;
  std::size_t len;
};

struct FakeDir {
  std::vector<dirent64> ents;
  std::size_t pos = 0;
};

struct State {
  std::mutex mu;
  std::unordered_map<int, std::shared_ptr<OpenFile>> fds;
  std::unordered_map<void*, Mapping> maps;
  std::unordered_set<FakeDir*> dirs;
};

State& state() {
  static State* s = new State;  // never freed (see Lifetime)
  return *s;
}

constinit std::atomic<uint64_t> g_bits[kMaxFd / 64]{};
constinit std::atomic<int> g_nmaps{0};
constinit std::atomic<int> g_ndirs{0};
constinit thread_local int t_in_backend = 0;

/// Marks a Backend/File call on this thread: the libc calls it makes are not ours.
struct BackendCall {
  BackendCall() noexcept { ++t_in_backend; }
  ~BackendCall() { --t_in_backend; }
  BackendCall(const BackendCall&) = delete;
  BackendCall& operator=(const BackendCall&) = delete;
};

inline bool maybe_ours(int fd) noexcept {
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(kMaxFd)) return false;
  uint64_t w = g_bits[fd >> 6].load(std::memory_order_relaxed);
  return ((w >> (fd & 63)) & 1) && t_in_backend == 0;
}

void set_bit(int fd, bool on) {
  uint64_t m = uint64_t{1} << (fd & 63);
  if (on) g_bits[fd >> 6].fetch_or(m, std::memory_order_relaxed);
  else g_bits[fd >> 6].fetch_and(~m, std::memory_order_relaxed);
}

std::shared_ptr<OpenFile> find(int fd) {
  State& s = state();
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.fds.find(fd);
  return it == s.fds.end() ? nullptr : it->second;
}

/// Drop fd's entry; returns the File to close() if fd was the last fd on it.
std::shared_ptr<File> take(int fd) {
  State& s = state();
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.fds.find(fd);
  if (it == s.fds.end()) return nullptr;
  std::shared_ptr<OpenFile> o = std::move(it->second);
  s.fds.erase(it);
  set_bit(fd, false);
  return --o->nfds == 0 ? o->file : nullptr;
}

void close_file(const std::shared_ptr<File>& f) {
  if (!f) return;
  BackendCall g;
  f->close();
}

/// fd now refers to o (a new fd, or a dup); a stale entry under the same number is dropped.
void install(int fd, const std::shared_ptr<OpenFile>& o) {
  std::shared_ptr<File> stale;
  {
    State& s = state();
    std::lock_guard<std::mutex> l(s.mu);
    auto& slot = s.fds[fd];
    if (slot && --slot->nfds == 0) stale = slot->file;
    slot = o;
    ++o->nfds;
    set_bit(fd, true);
  }
  close_file(stale);
}

/// A real call just returned fd: any entry under that number is stale (closed behind our back).
inline void fresh_fd(int fd) {
  if (maybe_ours(fd)) close_file(take(fd));
}

/// Hides a pointer's origin from the optimiser: glibc declares most of these parameters
/// nonnull, yet a bad pointer must get EFAULT, never a crash.
template <class T>
inline T* opaque(T* p) noexcept {
  asm("" : "+r"(p));
  return p;
}

inline int fail(int err) {
  errno = err;
  return -1;
}

/// The backend for a path-taking call, or nullptr if the path is not ours to serve.
Backend* backend_for(const char* path) {
  if (t_in_backend || !vfs::claims(opaque(path))) return nullptr;
  return backend();
}

// --- open ------------------------------------------------------------------------------------

int open_claimed(Backend& b, const char* path, int flags) {
  vfs::Entry e;
  if (int r = vfs::lookup(b, path, !(flags & O_NOFOLLOW), &e)) return fail(-r);
  const int acc = flags & O_ACCMODE;
  switch (e.type) {
    case vfs::Entry::lnk:
      return fail(ELOOP);
    case vfs::Entry::dir:
      return fail(acc == O_RDONLY ? EACCES : EISDIR);
    case vfs::Entry::reg: {
      if (acc != O_RDONLY) return fail(EACCES);
      int fd = memfd_create("udrm-sysfs", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
      if (fd < 0) return -1;
      fresh_fd(fd);
      if (write(fd, e.text.data(), e.text.size()) != static_cast<ssize_t>(e.text.size()) || lseek(fd, 0, SEEK_SET)) {
        int err = errno;
        UDRM_REAL(close, int (*)(int))(fd);
        return fail(err ? err : EIO);
      }
      return fd;
    }
    case vfs::Entry::chr:
      break;
  }
  if ((flags & O_CREAT) && (flags & O_EXCL)) return fail(EEXIST);
  const std::string node = e.path.substr(e.path.rfind('/') + 1);
  std::shared_ptr<File> file;
  int r;
  {
    BackendCall g;
    r = b.open(node, flags, &file);
  }
  if (r < 0) return fail(-r);
  if (!file) return fail(EIO);
  int fd = file->fd();
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(kMaxFd)) {
    close_file(file);
    if (fd >= 0) UDRM_REAL(close, int (*)(int))(fd);
    return fail(EMFILE);
  }
  install(fd, std::make_shared<OpenFile>(std::move(file), (flags & O_NONBLOCK) != 0));
  return fd;
}

inline mode_t mode_arg(int flags, va_list ap) {
  return ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

template <class Real>
int do_open(const char* path, int flags, Real&& real) {
  if (Backend* b = backend_for(path)) return open_claimed(*b, path, flags);
  int fd = real();
  if (fd >= 0) fresh_fd(fd);
  return fd;
}

// --- stat ------------------------------------------------------------------------------------

/// stat of a claimed path while a backend is active; nullopt: not ours.
std::optional<int> stat_claimed(const char* path, struct stat* st, bool follow) {
  Backend* b = backend_for(path);
  if (!b) return std::nullopt;
  vfs::Entry e;
  if (int r = vfs::lookup(*b, path, follow, &e)) return fail(-r);
  if (!opaque(st)) return fail(EFAULT);
  vfs::fill_stat(e, st);
  return 0;
}

std::optional<int> fstat_ours(int fd, struct stat* st) {
  if (!maybe_ours(fd)) return std::nullopt;
  auto o = find(fd);
  if (!o) return std::nullopt;
  if (!opaque(st)) return fail(EFAULT);
  vfs::fill_stat_node(o->file->minor(), st);
  return 0;
}

std::optional<int> fstatat_ours(int dirfd, const char* path, struct stat* st, int flags) {
  path = opaque(path);
  if (path && path[0] == '\0' && (flags & AT_EMPTY_PATH)) return fstat_ours(dirfd, st);
  if (path && path[0] == '/') return stat_claimed(path, st, !(flags & AT_SYMLINK_NOFOLLOW));
  return std::nullopt;
}

void to_statx(const struct stat& st, struct statx* x) {
  memset(x, 0, sizeof(*x));
  x->stx_mask = STATX_BASIC_STATS;
  x->stx_blksize = static_cast<uint32_t>(st.st_blksize);
  x->stx_nlink = static_cast<uint32_t>(st.st_nlink);
  x->stx_uid = st.st_uid;
  x->stx_gid = st.st_gid;
  x->stx_mode = static_cast<uint16_t>(st.st_mode);
  x->stx_ino = st.st_ino;
  x->stx_size = static_cast<uint64_t>(st.st_size);
  x->stx_rdev_major = major(st.st_rdev);
  x->stx_rdev_minor = minor(st.st_rdev);
  x->stx_dev_major = major(st.st_dev);
  x->stx_dev_minor = minor(st.st_dev);
}

// --- dup -------------------------------------------------------------------------------------

/// After a successful dup of `from` into `to` (to's previous file, if any, implicitly closed).
void after_dup(int from, int to) {
  if (from == to) return;
  if (maybe_ours(to)) close_file(take(to));
  if (maybe_ours(from))
    if (auto o = find(from)) install(to, o);
}

}  // namespace
}  // namespace udrm::shim

using namespace udrm::shim;  // NOLINT: the C entry points below

extern "C" {

// Declared only with _FORTIFY_SOURCE.
int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
char* __realpath_chk(const char* path, char* resolved, size_t resolvedlen) noexcept;

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(path, flags, [&] { return UDRM_REAL(open, int (*)(const char*, int, ...))(path, flags, mode); });
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(path, flags, [&] { return UDRM_REAL(open64, int (*)(const char*, int, ...))(path, flags, mode); });
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(path, flags, [&] {
    return UDRM_REAL(openat, int (*)(int, const char*, int, ...))(dirfd, path, flags, mode);
  });
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(path, flags, [&] {
    return UDRM_REAL(openat64, int (*)(int, const char*, int, ...))(dirfd, path, flags, mode);
  });
}

int __open_2(const char* path, int flags) { return open(path, flags); }
int __open64_2(const char* path, int flags) { return open64(path, flags); }
int __openat_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char* path, int flags) { return openat64(dirfd, path, flags); }

int close(int fd) {
  if (maybe_ours(fd)) close_file(take(fd));
  return UDRM_REAL(close, int (*)(int))(fd);
}

int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (maybe_ours(fd)) {
    if (auto o = find(fd)) {
      if (request == FIONBIO) {  // the VFS handles it, the driver never sees it
        if (!arg) return fail(EFAULT);
        o->nonblock.store(*static_cast<int*>(arg) != 0);
        return 0;
      }
      if (request != FIOCLEX && request != FIONCLEX) {
        int r;
        {
          BackendCall g;
          r = o->file->ioctl(request, arg);
        }
        return r < 0 ? fail(-r) : r;
      }
    }
  }
  return UDRM_REAL(ioctl, int (*)(int, unsigned long, ...))(fd, request, arg);
}

ssize_t read(int fd, void* buf, size_t n) {
  if (maybe_ours(fd)) {
    if (auto o = find(fd)) {
      long r;
      {
        BackendCall g;
        r = o->file->read(buf, n, o->nonblock.load());
      }
      return r < 0 ? fail(static_cast<int>(-r)) : r;
    }
  }
  return UDRM_REAL(read, ssize_t (*)(int, void*, size_t))(fd, buf, n);
}

ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) abort();  // what glibc's __chk_fail does, minus the message
  return read(fd, buf, n);
}

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  if (!(flags & MAP_ANONYMOUS) && maybe_ours(fd)) {
    if (auto o = find(fd)) {
      if (off < 0) {
        errno = EINVAL;
        return MAP_FAILED;
      }
      void* out = nullptr;
      int r;
      {
        BackendCall g;
        r = o->file->mmap(len, prot, flags, static_cast<uint64_t>(off), &out);
      }
      if (r < 0) {
        errno = -r;
        return MAP_FAILED;
      }
      State& s = state();
      std::lock_guard<std::mutex> l(s.mu);
      s.maps[out] = Mapping{o->file, len};
      g_nmaps.fetch_add(1, std::memory_order_relaxed);
      return out;
    }
  }
  return UDRM_REAL(mmap, void* (*)(void*, size_t, int, int, int, off_t))(addr, len, prot, flags, fd, off);
}

void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off64_t off) noexcept {
  return mmap(addr, len, prot, flags, fd, static_cast<off_t>(off));
}

int munmap(void* addr, size_t len) noexcept {
  if (g_nmaps.load(std::memory_order_relaxed) > 0 && t_in_backend == 0) {
    State& s = state();
    std::unique_lock<std::mutex> l(s.mu);
    auto it = s.maps.find(addr);
    if (it != s.maps.end()) {
      Mapping m = std::move(it->second);
      s.maps.erase(it);  // before the File's own munmap (which calls munmap again)
      g_nmaps.fetch_sub(1, std::memory_order_relaxed);
      l.unlock();
      int r;
      {
        BackendCall g;
        r = m.file->munmap(addr, len);
      }
      if (r < 0) {
        l.lock();
        s.maps.emplace(addr, std::move(m));
        g_nmaps.fetch_add(1, std::memory_order_relaxed);
        return fail(-r);
      }
      return 0;
    }
  }
  return UDRM_REAL(munmap, int (*)(void*, size_t))(addr, len);
}

int stat(const char* path, struct stat* st) noexcept {
  if (auto r = stat_claimed(path, st, true)) return *r;
  return UDRM_REAL(stat, int (*)(const char*, struct stat*))(path, st);
}

int stat64(const char* path, struct stat64* st) noexcept {
  if (auto r = stat_claimed(path, reinterpret_cast<struct stat*>(st), true)) return *r;
  return UDRM_REAL(stat64, int (*)(const char*, struct stat64*))(path, st);
}

int lstat(const char* path, struct stat* st) noexcept {
  if (auto r = stat_claimed(path, st, false)) return *r;
  return UDRM_REAL(lstat, int (*)(const char*, struct stat*))(path, st);
}

int lstat64(const char* path, struct stat64* st) noexcept {
  if (auto r = stat_claimed(path, reinterpret_cast<struct stat*>(st), false)) return *r;
  return UDRM_REAL(lstat64, int (*)(const char*, struct stat64*))(path, st);
}

int fstat(int fd, struct stat* st) noexcept {
  if (auto r = fstat_ours(fd, st)) return *r;
  return UDRM_REAL(fstat, int (*)(int, struct stat*))(fd, st);
}

int fstat64(int fd, struct stat64* st) noexcept {
  if (auto r = fstat_ours(fd, reinterpret_cast<struct stat*>(st))) return *r;
  return UDRM_REAL(fstat64, int (*)(int, struct stat64*))(fd, st);
}

int fstatat(int dirfd, const char* path, struct stat* st, int flags) noexcept {
  if (auto r = fstatat_ours(dirfd, path, st, flags)) return *r;
  return UDRM_REAL(fstatat, int (*)(int, const char*, struct stat*, int))(dirfd, path, st, flags);
}

int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) noexcept {
  if (auto r = fstatat_ours(dirfd, path, reinterpret_cast<struct stat*>(st), flags)) return *r;
  return UDRM_REAL(fstatat64, int (*)(int, const char*, struct stat64*, int))(dirfd, path, st, flags);
}

int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* x) noexcept {
  struct stat st;
  if (auto r = fstatat_ours(dirfd, path, &st, flags)) {
    if (*r == 0) {
      if (!opaque(x)) return fail(EFAULT);
      to_statx(st, x);
    }
    return *r;
  }
  auto real = UDRM_REAL(statx, int (*)(int, const char*, int, unsigned int, struct statx*));
  return real ? real(dirfd, path, flags, mask, x) : fail(ENOSYS);
}

ssize_t readlink(const char* path, char* buf, size_t size) noexcept {
  if (Backend* b = backend_for(path)) {
    vfs::Entry e;
    if (int r = vfs::lookup(*b, path, false, &e)) return fail(-r);
    if (e.type != vfs::Entry::lnk) return fail(EINVAL);
    size_t n = e.text.size() < size ? e.text.size() : size;
    if (n && !opaque(buf)) return fail(EFAULT);
    memcpy(buf, e.text.data(), n);
    return static_cast<ssize_t>(n);
  }
  return UDRM_REAL(readlink, ssize_t (*)(const char*, char*, size_t))(path, buf, size);
}

char* realpath(const char* path, char* resolved) noexcept {
  if (Backend* b = backend_for(path)) {
    vfs::Entry e;
    if (int r = vfs::lookup(*b, path, true, &e)) {
      errno = -r;
      return nullptr;
    }
    if (e.path.size() >= PATH_MAX) {
      errno = ENAMETOOLONG;
      return nullptr;
    }
    if (!resolved) return strdup(e.path.c_str());
    memcpy(resolved, e.path.c_str(), e.path.size() + 1);
    return resolved;
  }
  return UDRM_REAL(realpath, char* (*)(const char*, char*))(path, resolved);
}

char* __realpath_chk(const char* path, char* resolved, size_t resolvedlen) noexcept {
  if (resolved && resolvedlen < PATH_MAX) abort();  // glibc's __chk_fail
  return realpath(path, resolved);
}

int access(const char* path, int mode) noexcept {
  if (Backend* b = backend_for(path)) {
    vfs::Entry e;
    if (int r = vfs::lookup(*b, path, true, &e)) return fail(-r);
    if ((mode & W_OK) && e.type != vfs::Entry::chr) return fail(EACCES);
    return 0;
  }
  return UDRM_REAL(access, int (*)(const char*, int))(path, mode);
}

DIR* opendir(const char* path) {
  if (Backend* b = backend_for(path)) {
    vfs::Entry e;
    if (int r = vfs::lookup(*b, path, true, &e)) {
      errno = -r;
      return nullptr;
    }
    if (e.type != vfs::Entry::dir) {
      errno = ENOTDIR;
      return nullptr;
    }
    auto* d = new FakeDir;
    std::vector<std::string> names{".", ".."};
    names.insert(names.end(), e.entries.begin(), e.entries.end());
    for (const auto& n : names) {
      dirent64 de{};
      de.d_ino = std::hash<std::string>{}(e.path + "/" + n) | 1;
      de.d_off = static_cast<off64_t>(d->ents.size() + 1);
      de.d_reclen = sizeof(dirent64);
      de.d_type = (n == "." || n == ".." || e.path != "/dev/dri") ? DT_DIR : DT_CHR;
      if (e.path != "/dev/dri" && (n == "uevent" || n == "dev")) de.d_type = DT_REG;
      if (n == "subsystem" || n == "device" || n == "driver") de.d_type = DT_LNK;
      snprintf(de.d_name, sizeof(de.d_name), "%s", n.c_str());
      d->ents.push_back(de);
    }
    State& s = state();
    std::lock_guard<std::mutex> l(s.mu);
    s.dirs.insert(d);
    g_ndirs.fetch_add(1, std::memory_order_relaxed);
    return reinterpret_cast<DIR*>(d);
  }
  return UDRM_REAL(opendir, DIR* (*)(const char*))(path);
}

}  // extern "C"

namespace udrm::shim {
namespace {
FakeDir* fake_dir(DIR* d) {
  if (g_ndirs.load(std::memory_order_relaxed) == 0 || !opaque(d)) return nullptr;
  State& s = state();
  std::lock_guard<std::mutex> l(s.mu);
  auto* f = reinterpret_cast<FakeDir*>(d);
  return s.dirs.count(f) ? f : nullptr;
}
}  // namespace
}  // namespace udrm::shim

extern "C" {

struct dirent64* readdir64(DIR* dir) {
  if (FakeDir* d = fake_dir(dir)) return d->pos < d->ents.size() ? &d->ents[d->pos++] : nullptr;
  return UDRM_REAL(readdir64, struct dirent64* (*)(DIR*))(dir);
}

struct dirent* readdir(DIR* dir) {
  static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "x86-64/aarch64 layout");
  if (FakeDir* d = fake_dir(dir))
    return d->pos < d->ents.size() ? reinterpret_cast<struct dirent*>(&d->ents[d->pos++]) : nullptr;
  return UDRM_REAL(readdir, struct dirent* (*)(DIR*))(dir);
}

int closedir(DIR* dir) {
  if (FakeDir* d = fake_dir(dir)) {
    {
      State& s = state();
      std::lock_guard<std::mutex> l(s.mu);
      s.dirs.erase(d);
      g_ndirs.fetch_sub(1, std::memory_order_relaxed);
    }
    delete d;
    return 0;
  }
  return UDRM_REAL(closedir, int (*)(DIR*))(dir);
}

int dirfd(DIR* dir) noexcept {
  if (fake_dir(dir)) return fail(ENOTSUP);
  return UDRM_REAL(dirfd, int (*)(DIR*))(dir);
}

void rewinddir(DIR* dir) {
  if (FakeDir* d = fake_dir(dir)) {
    d->pos = 0;
    return;
  }
  UDRM_REAL(rewinddir, void (*)(DIR*))(dir);
}

FILE* fopen(const char* path, const char* mode) {
  if (Backend* b = backend_for(path)) {
    vfs::Entry e;
    if (int r = vfs::lookup(*b, path, true, &e)) {
      errno = -r;
      return nullptr;
    }
    const bool writes = mode && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+'));
    if (e.type == vfs::Entry::chr) {
      int fd = open(path, writes ? O_RDWR : O_RDONLY);
      if (fd < 0) return nullptr;
      FILE* f = fdopen(fd, mode);
      if (!f) close(fd);
      return f;
    }
    if (e.type == vfs::Entry::dir) {
      errno = EISDIR;
      return nullptr;
    }
    if (writes) {
      errno = EACCES;
      return nullptr;
    }
    // A FILE that owns its buffer: "w+" with no buffer, filled, rewound.
    FILE* f = fmemopen(nullptr, e.text.size() + 1, "w+");
    if (!f) return nullptr;
    if (fwrite(e.text.data(), 1, e.text.size(), f) != e.text.size()) {
      fclose(f);
      errno = EIO;
      return nullptr;
    }
    rewind(f);
    return f;
  }
  return UDRM_REAL(fopen, FILE* (*)(const char*, const char*))(path, mode);
}

FILE* fopen64(const char* path, const char* mode) {
  if (vfs::claims(path)) return fopen(path, mode);
  return UDRM_REAL(fopen64, FILE* (*)(const char*, const char*))(path, mode);
}

int dup(int fd) noexcept {
  int r = UDRM_REAL(dup, int (*)(int))(fd);
  if (r >= 0) after_dup(fd, r);
  return r;
}

int dup2(int fd, int fd2) noexcept {
  int r = UDRM_REAL(dup2, int (*)(int, int))(fd, fd2);
  if (r >= 0) after_dup(fd, r);
  return r;
}

int dup3(int fd, int fd2, int flags) noexcept {
  int r = UDRM_REAL(dup3, int (*)(int, int, int))(fd, fd2, flags);
  if (r >= 0) after_dup(fd, r);
  return r;
}

static int fcntl_common(int fd, int cmd, void* arg, int (*real)(int, int, ...)) {
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
    int r = real(fd, cmd, arg);
    if (r >= 0) after_dup(fd, r);
    return r;
  }
  if ((cmd == F_GETFL || cmd == F_SETFL) && maybe_ours(fd)) {
    if (auto o = find(fd)) {
      int cur = real(fd, F_GETFL);
      if (cur < 0) return cur;
      if (cmd == F_GETFL) return (cur & ~O_NONBLOCK) | (o->nonblock.load() ? O_NONBLOCK : 0);
      // O_NONBLOCK is the program's view only: the File's fd keeps its own.
      int want = static_cast<int>(reinterpret_cast<intptr_t>(arg));
      int r = real(fd, F_SETFL, (want & ~O_NONBLOCK) | (cur & O_NONBLOCK));
      if (r == 0) o->nonblock.store((want & O_NONBLOCK) != 0);
      return r;
    }
  }
  return real(fd, cmd, arg);
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(fd, cmd, arg, UDRM_REAL(fcntl, int (*)(int, int, ...)));
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto real = UDRM_REAL(fcntl64, int (*)(int, int, ...));
  return fcntl_common(fd, cmd, arg, real ? real : UDRM_REAL(fcntl, int (*)(int, int, ...)));
}

}  // extern "C"
