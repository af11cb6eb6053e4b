// Heap cost of devres: "an action with a small capture costs one allocation: the node itself".
//
// Method. This translation unit replaces the global operator new/delete family with counting
// versions (valid in every build). In builds without sanitizers it also interposes malloc,
// calloc, realloc and free on the executable (forwarding to glibc's __libc_* entry points,
// i.e. the very same allocator), which makes the count exact: we see every heap block the
// framework takes or gives back, and which address was freed. Sanitizer runtimes own malloc,
// so there only the operator-new half of the proof runs (and ASan/LSan check the frees).
//
// The counters are per thread and only tick between begin() and end(), so GoogleTest's own
// allocations on the same thread outside that window do not disturb them. Other devres test
// files use the free log (freed()) to observe *when* a node's memory goes away.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/testing/warn.h"

#if defined(UDRM_ASAN) || defined(UDRM_TSAN) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEVRES_TEST_MALLOC_HOOKS 0
#else
#define DEVRES_TEST_MALLOC_HOOKS 1
#endif
// Clang's TSan runtime defines operator new/delete itself (statically linked): no replacement.
#if defined(UDRM_TSAN) || defined(__SANITIZE_THREAD__)
#define DEVRES_TEST_NEW_HOOKS 0
#else
#define DEVRES_TEST_NEW_HOOKS 1
#endif

namespace udrm_test_alloc {

struct Counts {
  uint64_t op_new = 0;   // operator new / new[] (all forms)
  uint64_t malloc = 0;   // malloc (operator new goes through it too)
  uint64_t calloc = 0;
  uint64_t realloc = 0;
  uint64_t free = 0;     // free of a non-null pointer
};

namespace {
constexpr int kFreeLog = 256;
thread_local bool t_on = false;
thread_local Counts t_counts;
thread_local const void* t_freed[kFreeLog];
thread_local int t_nfreed = 0;
}  // namespace

bool malloc_counted() { return DEVRES_TEST_MALLOC_HOOKS != 0; }
bool new_counted() { return DEVRES_TEST_NEW_HOOKS != 0; }
void begin() {
  t_counts = {};
  t_nfreed = 0;
  t_on = true;
}
Counts now() { return t_counts; }
Counts end() {
  t_on = false;
  return t_counts;
}
/// Was this exact block passed to free() since begin()? (Only meaningful if malloc_counted().)
bool freed(const void* block) {
  for (int i = 0; i < t_nfreed && i < kFreeLog; ++i)
    if (t_freed[i] == block) return true;
  return false;
}

}  // namespace udrm_test_alloc

// ---- operator new / delete ------------------------------------------------------------------

#if DEVRES_TEST_NEW_HOOKS

namespace {
void* counted_new(std::size_t n) {
  if (udrm_test_alloc::t_on) ++udrm_test_alloc::t_counts.op_new;
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void* counted_new_aligned(std::size_t n, std::align_val_t al) {
  if (udrm_test_alloc::t_on) ++udrm_test_alloc::t_counts.op_new;
  void* p = nullptr;
  std::size_t a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  if (posix_memalign(&p, a, n ? n : 1) != 0) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t al) { return counted_new_aligned(n, al); }
void* operator new[](std::size_t n, std::align_val_t al) { return counted_new_aligned(n, al); }
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  try {
    return counted_new_aligned(n, al);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  try {
    return counted_new_aligned(n, al);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#endif  // DEVRES_TEST_NEW_HOOKS

// ---- malloc interposition (exact counts; no sanitizer) ------------------------------------------

#if DEVRES_TEST_MALLOC_HOOKS
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) noexcept {
  if (udrm_test_alloc::t_on) ++udrm_test_alloc::t_counts.malloc;
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t m) noexcept {
  if (udrm_test_alloc::t_on) ++udrm_test_alloc::t_counts.calloc;
  return __libc_calloc(n, m);
}
void* realloc(void* p, std::size_t n) noexcept {
  if (udrm_test_alloc::t_on) ++udrm_test_alloc::t_counts.realloc;
  return __libc_realloc(p, n);
}
void free(void* p) noexcept {
  if (p && udrm_test_alloc::t_on) {
    ++udrm_test_alloc::t_counts.free;
    if (udrm_test_alloc::t_nfreed < udrm_test_alloc::kFreeLog)
      udrm_test_alloc::t_freed[udrm_test_alloc::t_nfreed] = p;
    ++udrm_test_alloc::t_nfreed;
  }
  __libc_free(p);
}
}  // extern "C"
#endif

namespace udrm {
namespace {

struct Hit {
  int calls = 0;
};
void hit(Hit* h) { ++h->calls; }

class DevresAlloc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!udrm_test_alloc::new_counted()) GTEST_SKIP() << "operator new is owned by the sanitizer runtime here";
  }
  SimExecutor sim;
  World w{sim};
  Ref<Device> dev = Device::create(w, "alloc-dev");
};

// The counting machinery itself must see what it claims to see, or the zero-counts below
// prove nothing.
TEST_F(DevresAlloc, CountersSeeAllocations) {
  udrm_test_alloc::begin();
  int* volatile p = new int(1);  // volatile: the compiler may not elide the new/delete pair
  delete p;
  auto c = udrm_test_alloc::end();
  EXPECT_EQ(c.op_new, 1u);
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_EQ(c.malloc, 1u);
    EXPECT_EQ(c.free, 1u);
    udrm_test_alloc::begin();
    void* volatile q = std::calloc(1, 8);
    std::free(q);
    c = udrm_test_alloc::end();
    EXPECT_EQ(c.calloc, 1u);
    EXPECT_TRUE(udrm_test_alloc::freed(q));
  }
}

// Function-pointer form: zero operator new; exactly one calloc (the node, header + payload
// in one block) and nothing else; releasing it frees exactly that block.
TEST_F(DevresAlloc, FnPointerActionCostsOneCallocNoNew) {
  Hit h;
  udrm_test_alloc::begin();
  ASSERT_EQ(devm_add_action(*dev, &hit, &h, "hit"), 0);
  auto c = udrm_test_alloc::end();
  EXPECT_EQ(c.op_new, 0u) << "devm_add_action must not use operator new";
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_EQ(c.calloc, 1u) << "the node is exactly one calloc";
    EXPECT_EQ(c.malloc, 0u);
    EXPECT_EQ(c.realloc, 0u);
    EXPECT_EQ(c.free, 0u);
  }
  void* node = dev->devres().list().back().payload;
  void* block = detail::devres_node_of(node);
  udrm_test_alloc::begin();
  EXPECT_EQ(dev->devres().release_all(), 1);
  c = udrm_test_alloc::end();
  EXPECT_EQ(h.calls, 1);
  EXPECT_EQ(c.op_new, 0u);
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_EQ(c.free, 1u);
    EXPECT_TRUE(udrm_test_alloc::freed(block)) << "release frees the node block itself";
    EXPECT_EQ(c.malloc + c.calloc + c.realloc, 0u);
  }
}

// Closure form with a 16-byte capture: the closure lives in the node's payload.
TEST_F(DevresAlloc, ClosureWith16ByteCaptureCostsOneCallocNoNew) {
  Hit a, b;
  auto fn = [pa = &a, pb = &b] {
    ++pa->calls;
    ++pb->calls;
  };
  static_assert(sizeof(fn) == 16);
  udrm_test_alloc::begin();
  ASSERT_EQ(devm_add_action(*dev, std::move(fn), "closure16"), 0);
  auto c = udrm_test_alloc::end();
  EXPECT_EQ(c.op_new, 0u) << "the closure must be stored inside the node, not boxed";
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_EQ(c.calloc, 1u) << "the node is exactly one calloc";
    EXPECT_EQ(c.malloc, 0u);
    EXPECT_EQ(c.free, 0u);
  }
  udrm_test_alloc::begin();
  dev->devres().release_all();
  c = udrm_test_alloc::end();
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 1);
  EXPECT_EQ(c.op_new, 0u);
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_EQ(c.free, 1u);
  }
}

// _or_reset forms cost the same on success.
TEST_F(DevresAlloc, OrResetFormsCostOneCallocNoNew) {
  Hit h;
  udrm_test_alloc::begin();
  ASSERT_EQ(devm_add_action_or_reset(*dev, &hit, &h, "hit"), 0);
  ASSERT_EQ(devm_add_action_or_reset(*dev, [p = &h, q = &h] { p->calls += q != nullptr; }, "closure"), 0);
  auto c = udrm_test_alloc::end();
  EXPECT_EQ(c.op_new, 0u);
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_EQ(c.calloc, 2u);
    EXPECT_EQ(c.malloc, 0u);
  }
  EXPECT_EQ(dev->devres().count(), 2u);
  dev->devres().release_all();
  EXPECT_EQ(h.calls, 2);
}

// Managed memory: one calloc per devm_kmalloc, none for a zero-size request.
TEST_F(DevresAlloc, KmallocIsOneCallocAndZeroSizeNone) {
  udrm_test_alloc::begin();
  void* p = devm_kmalloc(*dev, 100);
  void* z = devm_kmalloc(*dev, 0);
  auto c = udrm_test_alloc::end();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(z, ZERO_SIZE_PTR);
  EXPECT_EQ(c.op_new, 0u);
  if (udrm_test_alloc::malloc_counted()) {
    EXPECT_EQ(c.calloc, 1u);
    EXPECT_EQ(c.malloc, 0u);
  }
  EXPECT_EQ(dev->devres().count(), 1u);
}

}  // namespace
}  // namespace udrm
