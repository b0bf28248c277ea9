#include "vpipe/io/heif_init.h"

#include <libheif/heif.h>

#include <mutex>

namespace vpipe {

void ensure_heif_initialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    heif_init(nullptr);
    register_heif_av1_plugin();
  });
}

}  // namespace vpipe
