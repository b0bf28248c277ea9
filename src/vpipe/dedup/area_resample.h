#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "vpipe/core/image.h"

namespace vpipe {

/// Resamples the 8-bit gray image `gray` to `out_width` x `out_height` by exact area averaging,
/// the thumbnail step of the perceptual hashes (docs/SIGNALS.md). Output pixel (col j, row i)
/// is the mean of the source rectangle [j * W / out_width, (j + 1) * W / out_width) x
/// [i * H / out_height, (i + 1) * H / out_height), where W x H is the source size; source
/// pixels on the rectangle's edge count with the fraction of them it covers. The mean is
/// rounded to the nearest level, halves up. Integer arithmetic throughout, so the result is
/// exact and the same on every machine (a constant image gives the same constant). When
/// enlarging, each output pixel covers part of one or two source pixels.
///
/// `gray`: 1 channel, not empty. `out`: out_width * out_height bytes, row-major, tight.
/// Thread-safe (pure function); allocates one row of width * 4 bytes.
void area_resample_gray(const Image& gray, int out_width, int out_height, std::span<uint8_t> out);

/// Many area resamples of one gray image, or of rectangular windows of it, for the price of one
/// pass over its pixels: the constructor sums each column from the top (prefix sums, (height + 1)
/// * width * 4 bytes), after which a resample reads only the rows on the edges of its output
/// rows' spans. Every resample equals area_resample_gray of the same pixels bit for bit (the
/// same integer sums, in another order). `gray` (1 channel, not empty) must outlive the
/// resampler and not change. Thread-safe to share once constructed (resample is const).
class AreaResampler {
 public:
  explicit AreaResampler(const Image& gray);

  /// area_resample_gray of the window of `width` x `height` pixels whose top-left pixel is
  /// (x0, y0) (inside the image), into `out` (out_width * out_height bytes, row-major, tight).
  void resample(int x0, int y0, int width, int height, int out_width, int out_height,
                std::span<uint8_t> out) const;
  /// Width and height of the image.
  [[nodiscard]] int width() const { return gray_->width; }
  [[nodiscard]] int height() const { return gray_->height; }
  /// The whole image.
  void resample(int out_width, int out_height, std::span<uint8_t> out) const {
    resample(0, 0, gray_->width, gray_->height, out_width, out_height, out);
  }

 private:
  const Image* gray_;
  /// column_prefix_[y * width + x]: the sum of column x over rows 0..y-1, modulo 2^32 (sums over
  /// a span of rows, at most 255 * height as in area_resample_gray, come out exact).
  /// (height + 1) * width entries, written once (not zeroed first).
  std::unique_ptr<uint32_t[]> column_prefix_;
};

}  // namespace vpipe
