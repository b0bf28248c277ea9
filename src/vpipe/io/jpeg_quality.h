#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

namespace vpipe {

/// The quality (1..100, on the libjpeg / IJG scale that `cjpeg -quality`, turbojpeg, OpenCV and
/// most tools use) at which a JPEG was most likely written, estimated from its luminance
/// quantization table (DQT, table 0): the quality whose IJG-scaled standard table (JPEG Annex K)
/// is closest to it (sum of absolute differences; on equal distance the higher quality). Exact
/// for files from libjpeg-family encoders; for other tables (cameras, some editors) the
/// nearest IJG quality, good for comparing copies of one picture, not as an absolute measure.
/// `header` is the file's first bytes (the segments before the first scan are enough).
/// nullopt when the bytes are not a JPEG or hold no table 0 before the first scan (or before
/// they end). Every offset is bounds-checked; nothing past `header` is read. Pure, thread-safe.
[[nodiscard]] std::optional<int> estimate_jpeg_quality(std::span<const uint8_t> header);

/// estimate_jpeg_quality over the file at `path`, reading only its header (64 KiB first, more
/// while the tables lie further in, at most 64 MiB). nullopt when the file cannot be read or
/// the estimate has none (an expected per-file outcome, never thrown). Thread-safe.
[[nodiscard]] std::optional<int> read_jpeg_quality(const std::filesystem::path& path);

}  // namespace vpipe
