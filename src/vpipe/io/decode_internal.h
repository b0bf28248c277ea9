#pragma once

// Private to vpipe_codec: helpers shared by the per-format decoders, and those decoders. Each
// decoder fills a DecodeResult (never throws for bad data) with the image at full resolution,
// 8-bit gray or RGB, width/height set, and the alpha plane when the file has one (the caller
// drops a plane that is opaque everywhere); the caller sets `format`.

#include <cstdint>
#include <span>
#include <string>

#include "vpipe/io/decode.h"

namespace vpipe::decode_detail {

/// Sets `result` to a failure with `status` and `message`, clearing any pixels.
void fail(DecodeResult& result, ItemStatus status, std::string message);

/// True (and `result` set to kTooLarge with the reason, and the claimed width/height recorded)
/// when width * height is over the limit, or kCorrupt when a side is not positive. Call before
/// allocating any pixel memory: otherwise it takes width * height from `options.budget` (waiting
/// for it) into `result.lease`.
[[nodiscard]] bool refuse_size(DecodeResult& result, const char* codec, int64_t width,
                               int64_t height, const DecodeOptions& options);

/// Splits `pixels` pixels of `color_channels` + 1 interleaved 8-bit channels (colour, then alpha)
/// into `color` (`color_channels` per pixel) and `alpha` (1 per pixel). When `premultiplied`, the
/// colour is un-premultiplied as unpremultiply() (core/image_ops.h) does, so that its black
/// composite equals the source's colour exactly. `color` may be `src` (it never overtakes it).
void split_alpha(const uint8_t* src, uint8_t* color, uint8_t* alpha, size_t pixels,
                 int color_channels, bool premultiplied);

/// When every pixel of an RGB image has R == G == B, turns it into 1-channel gray (in place,
/// shrinking the buffer). Stops at the first coloured pixel, so colour images cost little.
void collapse_gray_rgb(Image& img);

/// Marks a decode that succeeded with a codec warning (truncation, bad data): kDamaged, or
/// kOk when lenient; the warning is kept in the message either way.
void set_damaged(DecodeResult& result, const DecodeOptions& options, std::string warning);

[[nodiscard]] DecodeResult decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_webp(std::span<const uint8_t> bytes,
                                       const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_tiff(std::span<const uint8_t> bytes,
                                       const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_gif(std::span<const uint8_t> bytes, const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_bmp(std::span<const uint8_t> bytes, const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_heif(std::span<const uint8_t> bytes, const DecodeOptions& options,
                                       bool avif);
[[nodiscard]] DecodeResult decode_jxl(std::span<const uint8_t> bytes, const DecodeOptions& options);

}  // namespace vpipe::decode_detail
