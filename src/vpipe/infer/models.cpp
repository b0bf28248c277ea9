#include "vpipe/infer/models.h"

#include <cstdlib>
#include <system_error>

namespace vpipe {

std::optional<std::filesystem::path> executable_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  return exe.parent_path();
}

std::optional<std::filesystem::path> find_model(std::string_view relative) {
  std::error_code ec;
  if (const char* dir = std::getenv("VPIPE_MODEL_DIR"); dir != nullptr && *dir != '\0') {
    const std::filesystem::path p = std::filesystem::path(dir) / relative;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  if (const auto exe_dir = executable_dir()) {
    const std::filesystem::path p = *exe_dir / ".." / "share" / "vpipe" / "models" / relative;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  const std::filesystem::path p = std::filesystem::path(VPIPE_SOURCE_DIR) / "models" / relative;
  if (std::filesystem::is_regular_file(p, ec)) return p;
  return std::nullopt;
}

}  // namespace vpipe
