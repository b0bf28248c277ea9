#include "vpipe/core/record.h"

#include <fmt/format.h>

namespace vpipe {

std::string ContentHash::hex() const { return fmt::format("{:016x}{:016x}", high, low); }

}  // namespace vpipe
