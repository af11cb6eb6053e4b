// create_display: pick the reference driver (udrm/drivers/display.h).
#include "udrm/drivers/display.h"

#include "udrm/drivers/simple.h"
#include "udrm/drivers/soc.h"

namespace udrm::drivers {

std::unique_ptr<Display> create_display(World& world, const DisplayOptions& opts) {
  switch (opts.kind) {
    case Kind::simple:
      return create_simple_display(world, opts);
    case Kind::soc:
      return create_soc_display(world, opts);
  }
  return nullptr;
}

}  // namespace udrm::drivers
