// Remote backend: a udrm-run server over UDRM_SOCKET (udrm/shim/backend.h). STUB — being written.
#include "udrm/shim/backend.h"

namespace udrm::shim {

Backend* remote_backend(const std::string& /*socket_path*/) { return nullptr; }

}  // namespace udrm::shim
