#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

namespace vpipe {

/// Writes `bytes` to `path` atomically: to a temporary name in the same directory, fsync, then
/// rename over `path`. A crash leaves either the old file or the new one, never a half-written
/// file under the final name. Throws IoError naming the path and the reason.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);

}  // namespace vpipe
