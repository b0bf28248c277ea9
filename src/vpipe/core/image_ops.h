#pragma once

#include <cstdint>

#include "vpipe/core/image.h"

namespace vpipe {

/// Longer side, in pixels, of the working image that every scan signal is measured on.
inline constexpr int kWorkingSize = 256;

/// Shrinks `src` with area averaging so that its longer side is at most `max_side`, keeping the
/// aspect ratio (each side at least 1 px). An image already small enough is copied unchanged.
/// Channels are kept. Thread-safe (pure function).
[[nodiscard]] Image resize_to_fit(const Image& src, int max_side);

/// Converts RGB to 8-bit gray (ITU-R BT.601 luma weights, as OpenCV's RGB2GRAY); a gray image is
/// copied. Thread-safe (pure function).
[[nodiscard]] Image to_gray(const Image& src);

/// The w x h rectangle of `src` whose top-left pixel is (x, y), copied (channels kept). The
/// rectangle must lie inside `src`. Thread-safe (pure function).
[[nodiscard]] Image crop_image(const Image& src, int x, int y, int w, int h);

/// What composite_over draws behind transparent pixels: a flat gray level, or a checkerboard of
/// two gray levels (the usual "this is transparent" pattern). Gray, so a gray image stays gray.
struct Background {
  uint8_t level = 0;        ///< gray level of the flat background, or of the checkerboard's squares
                            ///< whose (x / square + y / square) is even
  uint8_t other_level = 0;  ///< gray level of the other squares (checkerboard only)
  int square = 0;           ///< side of a checkerboard square, pixels; 0 = flat `level`

  /// Black: what every decoder composited on before decoders kept alpha.
  [[nodiscard]] static constexpr Background black() { return Background{}; }
  [[nodiscard]] static constexpr Background checkerboard(int square, uint8_t level,
                                                         uint8_t other_level) {
    return Background{level, other_level, square};
  }
};

/// Composites straight (un-premultiplied) colour `rgb` (gray or RGB, HWC, stride width * channels)
/// with its alpha plane `alpha` (1 channel, same width and height, 255 = opaque) over
/// `background`: out = (c * a + bg * (255 - a) + 127) / 255 per sample, in integers. On black this
/// is (c * a + 127) / 255, exactly what the decoders produced before they kept alpha, so hashes,
/// crops and model inputs of transparent images are bit-identical to earlier versions. An empty
/// `alpha` means opaque: `rgb` is returned unchanged. Channels are kept. Thread-safe (pure).
[[nodiscard]] Image composite_over(const Image& rgb, const Image& alpha,
                                   Background background = Background::black());
/// The same, reusing `rgb`'s buffer (no copy at all when `alpha` is empty).
[[nodiscard]] Image composite_over(Image&& rgb, const Image& alpha,
                                   Background background = Background::black());

/// Straight colour from colour premultiplied by `alpha` (that is, composited on black), both as
/// for composite_over: c = min(255, round(p * 255 / a)), 0 where a = 0. The rounding makes
/// composite_over(unpremultiply(p, a), a) == p for every p <= a, so a premultiplied source keeps
/// its black composite bit for bit. An empty `alpha` returns `premultiplied` unchanged. Used after
/// resizing a premultiplied image and its alpha plane with the same filter, which resamples
/// transparent images correctly (colour weighted by alpha). Thread-safe (pure function).
[[nodiscard]] Image unpremultiply(Image premultiplied, const Image& alpha);

/// One sample of unpremultiply(): min(255, round(p * 255 / a)), 0 where a = 0. Shared with the
/// decoders of premultiplied formats, so every path rounds the same way.
[[nodiscard]] constexpr uint8_t unpremultiply_sample(uint32_t premultiplied, uint32_t alpha) {
  if (alpha == 0) return 0;
  const uint32_t straight = (premultiplied * 255 + alpha / 2) / alpha;
  return static_cast<uint8_t>(straight < 255 ? straight : 255);
}

/// Whether an alpha plane marks any pixel as not fully opaque (some value < 255). Stops at the
/// first one. Thread-safe (pure function).
[[nodiscard]] bool has_transparency(const Image& alpha);

}  // namespace vpipe
