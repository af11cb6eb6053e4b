// backend() of the in-process flavour (udrm::libdrm_shim): always the local backend, which
// looks up the process's Worlds at every nodes()/open() (udrm/shim/backend.h).
#include "udrm/shim/backend.h"

namespace udrm::shim {

Backend* backend() { return local_backend(); }

}  // namespace udrm::shim
