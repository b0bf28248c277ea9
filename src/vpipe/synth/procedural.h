#pragma once

#include <cstdint>

#include "vpipe/core/image.h"

/// Procedural images and the pixel edits that derive files from them (internal to vpipe_synth).
/// Every function is pure and thread-safe; every image is 8-bit HWC, 1 (gray) or 3 (RGB) channels,
/// rows tightly packed (stride = width * channels bytes).
namespace vpipe::synth {

/// Renders a natural-looking scene of `width` x `height` pixels: a gradient sky/ground blended
/// with fractal value noise, patches of a third colour, a fine texture and vignetting, then 2..9
/// anti-aliased shapes (ellipses, rotated rectangles, star polygons, strokes), some translucent,
/// a slight softening blur and sensor noise. Large images are composed at up to 0.25 MP and
/// scaled up before the noise is added, so a 3 MP scene costs little more than a 0.25 MP one.
/// Deterministic in (seed, width, height, channels). `channels` is 1 or 3; sides >= 1.
[[nodiscard]] Image render_scene(uint64_t seed, int width, int height, int channels);

/// Resizes to exactly `width` x `height` (area averaging when shrinking, bilinear otherwise).
[[nodiscard]] Image resize_exact(const Image& src, int width, int height);

/// The `width` x `height` window of `src` whose top-left corner is (x, y); it must lie inside.
[[nodiscard]] Image crop(const Image& src, int x, int y, int width, int height);

/// out = saturate(in * gain + offset), the same for every channel.
[[nodiscard]] Image apply_gain(const Image& src, double gain, double offset);

/// Gaussian blur of standard deviation `sigma` pixels (kernel covers +-3 sigma, borders
/// reflected).
[[nodiscard]] Image gaussian_blur(const Image& src, double sigma);

/// The pixels to store in a file whose EXIF orientation is `orientation` (1..8) so that a viewer
/// that applies the orientation shows `display`: the inverse of the EXIF display transform.
/// Orientations 5..8 swap width and height.
[[nodiscard]] Image stored_for_orientation(const Image& display, int orientation);

/// Widens 8-bit samples to 16 bits (v * 257, so 0 -> 0 and 255 -> 65535).
[[nodiscard]] Image16 widen_to_16(const Image& src);

}  // namespace vpipe::synth
