// Fault injection (udrm/base/fault.h).
#include "udrm/base/fault.h"

#include <cstring>

namespace udrm {
namespace detail {
std::atomic<int> g_fault_injectors{0};
namespace {
thread_local FaultInjector* tls_injector = nullptr;
}
constinit thread_local int tls_nofail = 0;

bool should_fail_slow(const Point& site) {
  FaultInjector* inj = tls_injector;
  return inj && tls_nofail == 0 && inj->should_fail(site);
}
}  // namespace detail

ScopedNoFail::ScopedNoFail() noexcept { ++detail::tls_nofail; }
ScopedNoFail::~ScopedNoFail() { --detail::tls_nofail; }

ScopedFaultInjector::ScopedFaultInjector(FaultInjector& inj) : prev_(detail::tls_injector) {
  detail::tls_injector = &inj;
  detail::g_fault_injectors.fetch_add(1, std::memory_order_relaxed);
}
ScopedFaultInjector::~ScopedFaultInjector() {
  detail::tls_injector = prev_;
  detail::g_fault_injectors.fetch_sub(1, std::memory_order_relaxed);
}

bool FailNth::should_fail(const Point& site) {
  if (!prefix_.empty() && std::strncmp(site.name, prefix_.c_str(), prefix_.size()) != 0) return false;
  sites_.push_back(site.name);
  ++seen_;
  if (n_ != 0 && seen_ == n_) {
    fired_ = true;
    return true;
  }
  return false;
}

}  // namespace udrm
