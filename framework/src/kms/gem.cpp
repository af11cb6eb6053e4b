// GEM objects backed by memfd (udrm/kms/gem.h).
#include "udrm/kms/gem.h"

#include <sys/mman.h>
#include <unistd.h>

#include <climits>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"

namespace udrm {
namespace {
constexpr std::size_t kPage = 4096;
}

int GemObject::create(DrmDevice& dev, std::size_t size, Ref<GemObject>* out) {
  if (size == 0) return -EINVAL;
  if (size > (std::size_t{1} << 40)) return -ENOMEM;  // far beyond any scanout buffer
  std::size_t rounded = (size + kPage - 1) & ~(kPage - 1);
  if (UDRM_SHOULD_FAIL("gem.create")) return -ENOMEM;
  int fd = memfd_create("udrm-gem", MFD_CLOEXEC);
  if (fd < 0) return -ENOMEM;
  if (ftruncate(fd, static_cast<off_t>(rounded)) != 0) {
    ::close(fd);
    return -ENOMEM;
  }
  void* p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    return -ENOMEM;
  }
  auto* obj = new (std::nothrow) GemObject();
  if (!obj) {
    ::munmap(p, rounded);
    ::close(fd);
    return -ENOMEM;
  }
  obj->dev_ = &dev;
  obj->size_ = rounded;
  obj->vaddr_ = static_cast<uint8_t*>(p);
  obj->memfd_ = fd;
  *out = adopt_ref(obj);
  return 0;
}

GemObject::~GemObject() {
  if (vaddr_) ::munmap(vaddr_, size_);
  if (memfd_ >= 0) ::close(memfd_);
}

void GemObject::kref_release() noexcept { delete this; }

int dumb_buffer_size(uint32_t width, uint32_t height, uint32_t bpp, uint32_t* pitch, uint64_t* size) {
  // drm_mode_create_dumb: no zero dimensions, cpp = DIV_ROUND_UP(bpp, 8), no overflow of
  // pitch = width * cpp or size = pitch * height, and the result must fit in a page-rounded u32-ish
  // range (the kernel checks stride and size against U32_MAX).
  if (!width || !height || !bpp) return -EINVAL;
  if (bpp > UINT32_MAX - 8) return -EINVAL;
  uint32_t cpp = (bpp + 7) / 8;
  if (cpp > UINT32_MAX / width) return -EINVAL;
  uint32_t stride = cpp * width;
  if (height > UINT32_MAX / stride) return -EINVAL;
  uint64_t sz = uint64_t{stride} * height;
  uint64_t rounded = (sz + kPage - 1) & ~uint64_t{kPage - 1};
  if (rounded == 0 || rounded > UINT32_MAX) return -EINVAL;
  *pitch = stride;
  *size = rounded;
  return 0;
}

}  // namespace udrm
