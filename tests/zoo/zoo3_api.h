// zoo3_api.h — the contract between zoo entry 3 and its plugin (libudrm_zoo3_plugin.so, built
// from tests/plugins/zoo3_plugin.cpp): a helper module a display driver calls from its probe.
//
// The observer lives in the test executable (it survives the plugin's dlclose).
#pragma once
#include <atomic>

namespace udrm {
class DrmDevice;
}

struct UdrmZoo3Observer {
  std::atomic<int> cleanups{0};  // the helper's drmm action ran
};
extern "C" UdrmZoo3Observer udrm_zoo3_observer;

/// zoo3_helper_attach(dev, pin): the helper registers its drmm cleanup on dev. pin == 0 is the
/// bug (the action's code is not pinned: the caller's module context owns the node); pin != 0
/// the fix (the helper takes a reference on its own module, dropped by the action).
using zoo3_helper_attach_t = int (*)(udrm::DrmDevice& dev, int pin);
