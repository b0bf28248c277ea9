#pragma once

#include <cstdint>
#include <vector>

#include "vpipe/core/image.h"

namespace vpipe {

/// Encoders for writing images (synthetic corpora, crops, test fixtures). Each takes an 8-bit
/// gray (channels 1) or RGB (channels 3) image, or a 16-bit one where named, and returns the whole
/// file's bytes. They throw vpipe::Error when the codec fails. Thread-safe (no shared state).

/// Baseline JPEG, quality 1..100, 4:2:0 for colour. `exif_orientation` 2..8 writes a minimal EXIF
/// APP1 segment carrying that orientation tag (1 = none written).
[[nodiscard]] std::vector<uint8_t> encode_jpeg(const Image& img, int quality, int exif_orientation = 1);
[[nodiscard]] std::vector<uint8_t> encode_png(const Image& img);
[[nodiscard]] std::vector<uint8_t> encode_png16(const Image16& img);
/// quality 0..100 lossy; `lossless` ignores quality.
[[nodiscard]] std::vector<uint8_t> encode_webp(const Image& img, int quality, bool lossless = false);
[[nodiscard]] std::vector<uint8_t> encode_tiff(const Image& img);
[[nodiscard]] std::vector<uint8_t> encode_tiff16(const Image16& img);
/// Single-frame GIF; colour is quantised to a 256-entry palette.
[[nodiscard]] std::vector<uint8_t> encode_gif(const Image& img);
/// Uncompressed 24-bit (or 8-bit gray palette) BMP.
[[nodiscard]] std::vector<uint8_t> encode_bmp(const Image& img);
/// HEIC (HEVC) through libheif; quality 0..100.
[[nodiscard]] std::vector<uint8_t> encode_heic(const Image& img, int quality);
/// AVIF (AV1) through libheif; quality 0..100.
[[nodiscard]] std::vector<uint8_t> encode_avif(const Image& img, int quality);
/// JPEG XL through libjxl; `distance` 0 = lossless, 1.0 = visually lossless.
[[nodiscard]] std::vector<uint8_t> encode_jxl(const Image& img, float distance);

/// With transparency: `img` holds straight (un-premultiplied) colour, gray or RGB as above, and
/// `alpha` its opacity: 1 channel, 8-bit, img's width and height, 255 = opaque (the layout of
/// DecodeResult::alpha). They throw vpipe::Error on a mismatched plane.
[[nodiscard]] std::vector<uint8_t> encode_png(const Image& img, const Image& alpha);
[[nodiscard]] std::vector<uint8_t> encode_webp(const Image& img, const Image& alpha, int quality,
                                               bool lossless = false);
/// `associated`: premultiplied colour, ExtraSamples = associated alpha; otherwise straight colour,
/// ExtraSamples = unassociated alpha.
[[nodiscard]] std::vector<uint8_t> encode_tiff(const Image& img, const Image& alpha,
                                               bool associated);
/// GIF transparency is all or nothing: pixels with alpha < 128 get the transparent index (the
/// last palette entry, so gray images then keep levels 0..254 and 255 becomes 254).
[[nodiscard]] std::vector<uint8_t> encode_gif(const Image& img, const Image& alpha);
[[nodiscard]] std::vector<uint8_t> encode_heic(const Image& img, const Image& alpha, int quality);
[[nodiscard]] std::vector<uint8_t> encode_avif(const Image& img, const Image& alpha, int quality);
[[nodiscard]] std::vector<uint8_t> encode_jxl(const Image& img, const Image& alpha, float distance);

}  // namespace vpipe
