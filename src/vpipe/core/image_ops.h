#pragma once

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

}  // namespace vpipe
