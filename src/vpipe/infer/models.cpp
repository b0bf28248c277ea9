#include "vpipe/infer/models.h"

#include <cstdlib>
#include <system_error>

namespace vpipe {

std::optional<std::filesystem::path> find_model(std::string_view relative) {
  std::error_code ec;
  if (const char* dir = std::getenv("VPIPE_MODEL_DIR"); dir != nullptr && *dir != '\0') {
    const std::filesystem::path p = std::filesystem::path(dir) / relative;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  const std::filesystem::path p = std::filesystem::path(VPIPE_SOURCE_DIR) / "models" / relative;
  if (std::filesystem::is_regular_file(p, ec)) return p;
  return std::nullopt;
}

}  // namespace vpipe
