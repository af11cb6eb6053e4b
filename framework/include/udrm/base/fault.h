// udrm/base/fault.h — fault injection sites (the kernel's fail-nth / failslab).
//
// Every allocation or registration that a driver must be able to unwind from consults
// udrm::should_fail(site) first: devres/drmm node allocation, group open, component match
// allocation, device and minor registration. With no injector installed this is one load of a
// global flag. FailNth fails the n-th consulted site (optionally only sites whose name starts
// with a prefix) and records every site it saw, for sweeps.
//
// Context: any; never sleeps. Injectors are per thread (a simulated world is one thread).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "udrm/base/point.h"

namespace udrm {

class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  virtual bool should_fail(const Point& site) = 0;
};

namespace detail {
extern std::atomic<int> g_fault_injectors;
bool should_fail_slow(const Point& site);
}  // namespace detail

/// Consult the current thread's injector about `site`.
inline bool should_fail(const Point& site) {
  if (__builtin_expect(detail::g_fault_injectors.load(std::memory_order_relaxed) != 0, 0))
    return detail::should_fail_slow(site);
  return false;
}

/// Installs an injector on the current thread for its lifetime (nests).
class ScopedFaultInjector {
 public:
  explicit ScopedFaultInjector(FaultInjector& inj);
  ~ScopedFaultInjector();
  ScopedFaultInjector(const ScopedFaultInjector&) = delete;
  ScopedFaultInjector& operator=(const ScopedFaultInjector&) = delete;

 private:
  FaultInjector* prev_;
};

/// No injected failure on this thread while alive (the kernel's __GFP_NOFAIL for a region):
/// for paths the kernel cannot unwind either and merely WARNs on, such as removing a
/// framebuffer at close. Nests. Context: any.
class ScopedNoFail {
 public:
  ScopedNoFail() noexcept;
  ~ScopedNoFail();
  ScopedNoFail(const ScopedNoFail&) = delete;
  ScopedNoFail& operator=(const ScopedNoFail&) = delete;
};

/// Fail the n-th (1-based) site whose name starts with `prefix` ("" = any); n = 0 never fails.
class FailNth final : public FaultInjector {
 public:
  explicit FailNth(uint64_t n, std::string prefix = "") : n_(n), prefix_(std::move(prefix)) {}
  bool should_fail(const Point& site) override;
  uint64_t seen() const noexcept { return seen_; }
  bool fired() const noexcept { return fired_; }
  const std::vector<const char*>& sites() const noexcept { return sites_; }

 private:
  uint64_t n_;
  std::string prefix_;
  uint64_t seen_ = 0;
  bool fired_ = false;
  std::vector<const char*> sites_;
};

}  // namespace udrm

/// UDRM_SHOULD_FAIL("devm.alloc"): a named injection site; evaluates to true to fail here.
#define UDRM_SHOULD_FAIL(literal)                               \
  ([]() -> bool {                                               \
    static constexpr ::udrm::Point udrm_fault_site_{literal};   \
    return ::udrm::should_fail(udrm_fault_site_);               \
  }())
