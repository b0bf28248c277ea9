#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vpipe {

/// An 8-bit image that owns its pixels. Layout: row-major, interleaved channels (HWC),
/// `channels` is 1 (gray) or 3 (RGB, in that order); rows are tightly packed, so the stride in
/// bytes is `width * channels`. Not thread-safe to mutate; safe to read from many threads.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  ///< height * width * channels bytes

  Image() = default;
  Image(int w, int h, int c)
      : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c) {}

  [[nodiscard]] bool empty() const { return width <= 0 || height <= 0; }
  [[nodiscard]] size_t stride() const { return static_cast<size_t>(width) * channels; }
  [[nodiscard]] uint8_t* row(int y) { return pixels.data() + stride() * y; }
  [[nodiscard]] const uint8_t* row(int y) const { return pixels.data() + stride() * y; }
  [[nodiscard]] std::span<const uint8_t> bytes() const { return pixels; }
};

/// A 16-bit image, same layout as Image with 2-byte samples (native endianness); used by
/// codecs for 16-bit PNG/TIFF input and output.
struct Image16 {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint16_t> pixels;  ///< height * width * channels samples

  Image16() = default;
  Image16(int w, int h, int c)
      : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c) {}
};

}  // namespace vpipe
