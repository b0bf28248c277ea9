#pragma once

// Shared helpers for the codec tests: synthetic images and pixel comparisons.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "vpipe/core/image.h"
#include "vpipe/io/decode.h"

namespace vpipe::codec_test {

/// A smooth, non-symmetric colour image: red grows left to right, green top to bottom, blue
/// along a diagonal band. No flip or rotation of it equals itself, and JPEG keeps it well.
inline Image make_rgb(int width, int height) {
  Image img(width, height, 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x * 255 / std::max(1, width - 1));
      p[1] = static_cast<uint8_t>(y * 255 / std::max(1, height - 1));
      p[2] = static_cast<uint8_t>(128 + 100 * std::sin((x + 2 * y) * 0.05));
    }
  }
  return img;
}

/// A smooth, non-symmetric gray image.
inline Image make_gray(int width, int height) {
  Image img(width, height, 1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      img.row(y)[x] = static_cast<uint8_t>((x * 180 / std::max(1, width - 1)) +
                                           (y * 75 / std::max(1, height - 1)));
    }
  }
  return img;
}

/// Pseudo-random pixels (lossless codecs must keep every one).
inline Image make_noise(int width, int height, int channels, uint32_t seed) {
  Image img(width, height, channels);
  uint32_t state = seed;
  for (uint8_t& v : img.pixels) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<uint8_t>(state >> 24);
  }
  return img;
}

inline Image16 make_rgb16(int width, int height, int channels) {
  Image16 img(width, height, channels);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    img.pixels[i] = static_cast<uint16_t>((i * 2654435761u) >> 7);
  }
  return img;
}

/// The 8-bit image a 16-bit one becomes (high byte of each sample).
inline Image high_bytes(const Image16& img) {
  Image out(img.width, img.height, img.channels);
  for (size_t i = 0; i < img.pixels.size(); ++i)
    out.pixels[i] = static_cast<uint8_t>(img.pixels[i] >> 8);
  return out;
}

/// Mean absolute difference per sample; dimensions and channels must match (checked).
inline double mean_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.channels, b.channels);
  if (a.pixels.size() != b.pixels.size() || a.pixels.empty()) return 1e9;
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int{a.pixels[i]} - int{b.pixels[i]});
  return sum / static_cast<double>(a.pixels.size());
}

/// The largest absolute difference of any sample; dimensions and channels must match (checked;
/// 256 when they do not).
inline int max_difference(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.channels, b.channels);
  if (a.pixels.size() != b.pixels.size()) return 256;
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(int{a.pixels[i]} - int{b.pixels[i]}));
  }
  return worst;
}

inline DecodeResult decode(std::span<const uint8_t> bytes, const DecodeOptions& options = {}) {
  Decoder decoder;
  return decoder.decode(bytes, options);
}

}  // namespace vpipe::codec_test
