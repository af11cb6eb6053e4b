// udrm-flip: a plain libdrm client that flips pages until told to stop or the device goes away.
// Nothing in it knows udrm: run it under udrm-run (the README demo does), or on a real card.
//
//   udrm-flip [--count N] [DRIVER]      (DRIVER default udrm-soc; N default 100000)
//
// It sets the first connected connector's preferred mode with two dumb buffers, then page-flips
// with an event per flip and waits for each event. When the driver is unbound under it, the
// next ioctl fails with ENODEV: it says so, closes the device and exits 0, as a well-behaved
// compositor would. Exit status: 0 done or device gone, 1 setup failed, 2 usage.
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <drm_fourcc.h>

namespace {

int g_done = 0;

void on_flip(int, unsigned, unsigned, unsigned, void*) { ++g_done; }

struct Buffer {
  uint32_t handle = 0, pitch = 0, fb = 0;
  uint64_t size = 0;
};

int create_buffer(int fd, const drmModeModeInfo& m, Buffer* b, uint32_t color) {
  if (drmModeCreateDumbBuffer(fd, m.hdisplay, m.vdisplay, 32, 0, &b->handle, &b->pitch, &b->size)) return -errno;
  uint32_t handles[4] = {b->handle}, pitches[4] = {b->pitch}, offsets[4] = {0};
  if (drmModeAddFB2(fd, m.hdisplay, m.vdisplay, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &b->fb, 0)) return -errno;
  uint64_t off = 0;
  if (drmModeMapDumbBuffer(fd, b->handle, &off)) return -errno;
  void* p = mmap(nullptr, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(off));
  if (p == MAP_FAILED) return -errno;
  auto* px = static_cast<uint32_t*>(p);
  for (uint64_t i = 0; i < b->size / 4; ++i) px[i] = color;
  munmap(p, b->size);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* driver = "udrm-soc";
  long count = 100000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--count" && i + 1 < argc) {
      char* end = nullptr;
      count = std::strtol(argv[++i], &end, 10);
      if (!end || *end || count <= 0) {
        std::fprintf(stderr, "udrm-flip: --count needs a positive number\n");
        return 2;
      }
    } else if (a == "--help" || a == "-h") {
      std::puts("usage: udrm-flip [--count N] [DRIVER]");
      return 0;
    } else if (a[0] == '-') {
      std::fprintf(stderr, "udrm-flip: unknown option %s\n", a.c_str());
      return 2;
    } else {
      driver = argv[i];
    }
  }
  int fd = drmOpen(driver, nullptr);
  if (fd < 0) {
    std::fprintf(stderr, "client: cannot open %s: %s\n", driver, std::strerror(errno));
    return 1;
  }
  drmModeRes* res = drmModeGetResources(fd);
  if (!res) {
    std::fprintf(stderr, "client: GETRESOURCES: %s\n", std::strerror(errno));
    return 1;
  }
  drmModeConnector* conn = nullptr;
  for (int i = 0; i < res->count_connectors && !conn; ++i) {
    drmModeConnector* c = drmModeGetConnector(fd, res->connectors[i]);
    if (c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0)
      conn = c;
    else
      drmModeFreeConnector(c);
  }
  if (!conn || res->count_crtcs == 0) {
    std::fprintf(stderr, "client: no connected output\n");
    return 1;
  }
  const drmModeModeInfo mode = conn->modes[0];
  const uint32_t crtc = res->crtcs[0], conn_id = conn->connector_id;
  Buffer buf[2];
  for (int i = 0; i < 2; ++i) {
    if (int r = create_buffer(fd, mode, &buf[i], i ? 0x00203080u : 0x00806020u)) {
      std::fprintf(stderr, "client: dumb buffer: %s\n", std::strerror(-r));
      return 1;
    }
  }
  uint32_t conns[1] = {conn_id};
  if (drmModeSetCrtc(fd, crtc, buf[0].fb, 0, 0, conns, 1, const_cast<drmModeModeInfo*>(&mode))) {
    std::fprintf(stderr, "client: SETCRTC: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("client: %s: %s on connector %u, crtc %u; flipping\n", driver, mode.name, conn_id, crtc);
  std::fflush(stdout);
  drmEventContext ev{};
  ev.version = 2;
  ev.page_flip_handler = on_flip;
  long flips = 0;
  int err = 0;
  while (flips < count) {
    if (drmModePageFlip(fd, crtc, buf[(flips + 1) & 1].fb, DRM_MODE_PAGE_FLIP_EVENT, nullptr)) {
      err = errno;
      break;
    }
    ++flips;
    while (g_done < flips) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 1000) <= 0) {
        err = ETIMEDOUT;  // no event within a second: the flip never completed
        break;
      }
      if (drmHandleEvent(fd, &ev)) {
        err = errno;
        break;
      }
    }
    if (err) break;
    if (flips % 60 == 0) {
      std::printf("client: %ld flips, every event delivered\n", flips);
      std::fflush(stdout);
    }
  }
  if (err == ENODEV) {
    std::printf("client: flip %ld: ENODEV — the device was unbound; %d of %ld flip events arrived; closing\n",
                flips + 1, g_done, flips);
  } else if (err) {
    std::printf("client: flip %ld failed: %s\n", flips + 1, std::strerror(err));
  } else {
    std::printf("client: %ld flips done\n", flips);
  }
  drmModeFreeConnector(conn);
  drmModeFreeResources(res);
  drmClose(fd);
  return err && err != ENODEV ? 1 : 0;
}
