#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace vpipe {

/// Image container formats vpipe recognises by their magic bytes.
enum class ImageFormat : uint8_t { kUnknown, kJpeg, kPng, kWebp, kTiff, kGif, kBmp, kHeif, kAvif, kJxl };

/// Lowercase name as stored in the manifest: "jpeg", "png", "webp", "tiff", "gif", "bmp", "heif",
/// "avif", "jxl"; "" for kUnknown.
[[nodiscard]] std::string_view format_name(ImageFormat f);

/// Bytes `sniff_format` needs to look at (fewer is allowed: it then recognises what it can).
inline constexpr size_t kSniffBytes = 64;

/// Recognises a format from the first bytes of a file (magic numbers, ISO-BMFF `ftyp` brands for
/// HEIF/AVIF, both JPEG XL signatures). Never reads past `head.size()`. Thread-safe.
[[nodiscard]] ImageFormat sniff_format(std::span<const uint8_t> head);

/// True when the path ends in an extension users give image files (.jpg, .jpeg, .png, .webp,
/// .tif, .tiff, .gif, .bmp, .heic, .heif, .avif, .jxl; case-insensitive).
[[nodiscard]] bool has_image_extension(std::string_view path);

}  // namespace vpipe
