// udrm/kms/gem.h — struct drm_gem_object (shmem-like) and dumb buffers.
//
// A GemObject is memory a client can map: it is backed by a memfd (so a client's mmap and the
// device's own mapping, vaddr(), see the same pages, and the memfd can travel to another
// process), refcounted, named per file by handles (GEM handle table in DrmFile), and given a
// fake mmap offset (drm_vma_offset_node) at MAP_DUMB time.
//
// Lifetime: Ref<GemObject>. References: each handle, each framebuffer using it, each client
// mapping. The object holds a reference on the DrmDevice (a mapping pins the device like a GEM
// mmap vma does). The pages outlive unplug: a mapping made before unplug keeps its contents.
// Context: process context (allocation, mmap); get/put any context.
#pragma once
#include <cstddef>
#include <cstdint>

#include "udrm/base/refcount.h"

namespace udrm {

class DrmDevice;
class DrmFile;

class GemObject : public RefCounted<GemObject> {
 public:
  /// drm_gem_shmem_create: size rounded up to the page size; -EINVAL for 0, -ENOMEM (memfd,
  /// mmap or injected failure at "gem.create").
  static int create(DrmDevice& dev, std::size_t size, Ref<GemObject>* out);

  DrmDevice& dev() const noexcept { return *dev_; }
  std::size_t size() const noexcept { return size_; }
  /// The device's own mapping of the pages (drm_gem_vmap): what scanout reads.
  uint8_t* vaddr() const noexcept { return vaddr_; }
  int memfd() const noexcept { return memfd_; }
  /// The fake mmap offset (drm_vma_node_offset_addr), 0 until create_mmap_offset().
  uint64_t mmap_offset() const noexcept { return mmap_offset_; }
  /// drm_gem_create_mmap_offset: idempotent; -ENOSPC when the offset space is exhausted.
  int create_mmap_offset();  // implemented with the file/mmap layer (drm/file.cpp)
  /// Number of handles naming this object over all files (obj->handle_count).
  int handle_count() const noexcept { return handle_count_; }

  void kref_release() noexcept;

 private:
  friend class DrmFile;
  GemObject() = default;
  ~GemObject();
  Ref<DrmDevice> dev_;
  std::size_t size_ = 0;
  uint8_t* vaddr_ = nullptr;
  int memfd_ = -1;
  uint64_t mmap_offset_ = 0;
  int handle_count_ = 0;
};

/// drm_mode_create_dumb semantics (pitch/size computation and overflow checks, used by the
/// CREATE_DUMB ioctl and by drivers' dumb_create): -EINVAL for zero/overflowing sizes.
int dumb_buffer_size(uint32_t width, uint32_t height, uint32_t bpp, uint32_t* pitch, uint64_t* size);

}  // namespace udrm
