#include "vpipe/dedup/hashes.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <optional>
#include <utility>
#include <opencv2/core.hpp>

#include "vpipe/core/image_ops.h"
#include "vpipe/dedup/area_resample.h"

namespace vpipe {
namespace {

// pHash geometry (docs/SIGNALS.md): the gray image is shrunk to 32x32, transformed with a 2-D
// DCT, and the top-left 8x8 low frequencies become the 64 bits.
constexpr int kPhashSide = 32;
constexpr int kPhashLow = 8;
constexpr size_t kPhashThumbSize = size_t{kPhashSide} * kPhashSide;  // floats or bytes
constexpr size_t kPhashBits = size_t{kPhashLow} * kPhashLow;
// dHash geometry: 9 columns give 8 left/right comparisons on each of 8 rows.
constexpr int kDhashWidth = 9;
constexpr int kDhashHeight = 8;
constexpr size_t kDhashThumbSize = size_t{kDhashWidth} * kDhashHeight;
// crop_hashes_cpu cuts its windows from a half-size copy when that copy's sides are at least
// this long.
constexpr int kCropHalvingMinSide = 72;

// Gray view of `img`: `img` itself when it is gray, else its BT.601 gray copy in `storage`.
// Converting before shrinking (rather than after) makes the hash of an RGB image equal to the
// hash of to_gray() of it, which is what the scan pass feeds us.
const Image& gray_of(const Image& img, Image& storage) {
  assert((img.channels == 1 || img.channels == 3) && "Image holds gray or RGB only");
  if (img.channels == 1) return img;
  storage = to_gray(img);
  return storage;
}

// pHash of a 32x32 8-bit thumbnail (steps 2..6 of docs/SIGNALS.md) through cv::dct: the
// definition of the hash's bits. phash_of_thumb gets the same bits faster when it can.
uint64_t phash_of_thumb_by_dct(std::span<const uint8_t, kPhashThumbSize> thumb) {
  std::array<float, kPhashThumbSize> spatial{};
  std::copy(thumb.begin(), thumb.end(), spatial.begin());
  std::array<float, kPhashThumbSize> freq{};
  const cv::Mat spatial_mat(kPhashSide, kPhashSide, CV_32FC1, spatial.data());
  cv::Mat freq_mat(kPhashSide, kPhashSide, CV_32FC1, freq.data());
  cv::dct(spatial_mat, freq_mat);
  assert(freq_mat.data == reinterpret_cast<uchar*>(freq.data()) && "cv::dct reallocated");

  // Coefficient i = 8 * row + col of the low-frequency block.
  std::array<float, kPhashBits> low{};
  for (size_t r = 0; r < kPhashLow; ++r) {
    for (size_t c = 0; c < kPhashLow; ++c) low[r * kPhashLow + c] = freq[r * kPhashSide + c];
  }

  // Median of the 63 AC coefficients. DC (the mean brightness times 32) is left out: it is
  // almost always the largest value and says nothing about structure; with 63 values the
  // median is one of them (index 31 of the sorted list), no averaging.
  std::array<float, kPhashBits - 1> ac{};
  std::copy(low.begin() + 1, low.end(), ac.begin());
  auto mid = ac.begin() + ac.size() / 2;
  std::nth_element(ac.begin(), mid, ac.end());
  const float median = *mid;

  // Row-major over the 8x8 block, coefficient 0 (DC) in bit 63, coefficient 63 in bit 0: the
  // 16 hex digits read in the same order as the block.
  uint64_t hash = 0;
  for (size_t i = 0; i < kPhashBits; ++i) {
    hash = (hash << 1) | (low[i] > median ? 1U : 0U);
  }
  return hash;
}

// The 8x8 low-frequency block of the orthonormal 2-D DCT-II of a 32x32 thumbnail in double
// precision, row-major (coefficient i = 8 * row + col, as in phash_of_thumb_by_dct):
// block[8u + v] = sum over (r, c) of C[u][r] * C[v][c] * thumb[32r + c], with
// C[k][n] = a_k cos(pi (2n + 1) k / 64), a_0 = sqrt(1/32), a_k = sqrt(2/32): what cv::dct computes
// in float, to within rounding. 32 * 8 * 32 + 8 * 8 * 32 multiply-adds, where cv::dct transforms
// all 32x32 coefficients.
using LowBlock = std::array<double, kPhashBits>;

LowBlock low_block_of_thumb(std::span<const uint8_t, kPhashThumbSize> thumb) {
  static const std::array<double, kPhashLow * kPhashSide> basis = [] {
    std::array<double, kPhashLow * kPhashSide> c{};
    for (int k = 0; k < kPhashLow; ++k) {
      const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / kPhashSide);
      for (int n = 0; n < kPhashSide; ++n) {
        c[k * kPhashSide + n] =
            scale * std::cos(std::numbers::pi * (2 * n + 1) * k / (2.0 * kPhashSide));
      }
    }
    return c;
  }();
  // Rows first: rows[r][v] = sum over c of thumb[r][c] * C[v][c].
  std::array<double, kPhashSide * kPhashLow> rows{};
  for (int r = 0; r < kPhashSide; ++r) {
    const uint8_t* line = thumb.data() + r * kPhashSide;
    for (int v = 0; v < kPhashLow; ++v) {
      const double* cv = basis.data() + v * kPhashSide;
      double sum = 0;
      for (int c = 0; c < kPhashSide; ++c) sum += line[c] * cv[c];
      rows[r * kPhashLow + v] = sum;
    }
  }
  LowBlock block{};
  for (int u = 0; u < kPhashLow; ++u) {
    const double* cu = basis.data() + u * kPhashSide;
    for (int v = 0; v < kPhashLow; ++v) {
      double sum = 0;
      for (int r = 0; r < kPhashSide; ++r) sum += cu[r] * rows[r * kPhashLow + v];
      block[u * kPhashLow + v] = sum;
    }
  }
  return block;
}

// How far cv::dct's float coefficients of the low block may lie from the exact ones. Measured:
// at most 0.00098 (one float step at the DC's magnitude, up to 8160) over 200,000 thumbnails of
// noise, waves and steps. Ten times that, for margin; hashes_test checks the bits against cv::dct
// on 4,000 such thumbnails in all eight orientations.
constexpr double kDctTolerance = 0.01;

// The pHash bits of an exact low block when cv::dct's rounding cannot change them: every
// coefficient other than the median of the AC ones lies more than 2 * kDctTolerance from it, so
// the same coefficient is the median in float and each one compares to it the same way. Empty
// when some coefficient is that close (ties, as in symmetric or flat thumbnails): then only
// cv::dct itself says which way the rounding went.
std::optional<uint64_t> certain_phash_of_block(const LowBlock& block) {
  std::array<double, kPhashBits - 1> ac{};
  std::copy(block.begin() + 1, block.end(), ac.begin());
  auto mid = ac.begin() + ac.size() / 2;
  std::nth_element(ac.begin(), mid, ac.end());
  const double median = *mid;
  int near_median = 0;
  uint64_t hash = 0;
  for (size_t i = 0; i < kPhashBits; ++i) {
    if (std::abs(block[i] - median) <= 2 * kDctTolerance) ++near_median;
    hash = (hash << 1) | (block[i] > median ? 1U : 0U);
  }
  if (near_median != 1) return std::nullopt;
  return hash;
}

// pHash of a 32x32 8-bit thumbnail: phash_of_thumb_by_dct's bits, bit for bit, from the exact
// low block where that settles them (almost always), else from cv::dct.
uint64_t phash_of_thumb(std::span<const uint8_t, kPhashThumbSize> thumb) {
  if (const auto hash = certain_phash_of_block(low_block_of_thumb(thumb))) return *hash;
  return phash_of_thumb_by_dct(thumb);
}

// The exact low block of the thumbnail turned by `o`, from the block of the unturned one: a
// mirror negates the odd horizontal frequencies, a flip the odd vertical ones, and a transpose
// transposes the block (exact in any precision: sign changes and moves only).
LowBlock oriented_low_block(const LowBlock& block, Orientation o) {
  bool transpose = false;
  bool mirror = false;  // after the transpose, if any
  bool flip = false;
  switch (o) {
    case Orientation::kIdentity: break;
    case Orientation::kRotate90: transpose = mirror = true; break;
    case Orientation::kRotate180: mirror = flip = true; break;
    case Orientation::kRotate270: transpose = flip = true; break;
    case Orientation::kMirror: mirror = true; break;
    case Orientation::kFlip: flip = true; break;
    case Orientation::kTranspose: transpose = true; break;
    case Orientation::kTransverse: transpose = mirror = flip = true; break;
  }
  LowBlock turned{};
  for (int u = 0; u < kPhashLow; ++u) {
    for (int v = 0; v < kPhashLow; ++v) {
      double value = transpose ? block[v * kPhashLow + u] : block[u * kPhashLow + v];
      if ((mirror && (v & 1) != 0) != (flip && (u & 1) != 0)) value = -value;
      turned[u * kPhashLow + v] = value;
    }
  }
  return turned;
}

// dHash of a 9x8 8-bit thumbnail (steps 2..3 of docs/SIGNALS.md).
uint64_t dhash_of_thumb(std::span<const uint8_t, kDhashThumbSize> thumb) {
  // Row-major over the 8x8 comparisons, (row 0, col 0) in bit 63, (row 7, col 7) in bit 0.
  uint64_t hash = 0;
  for (size_t r = 0; r < kDhashHeight; ++r) {
    const uint8_t* row = thumb.data() + r * kDhashWidth;
    for (int c = 0; c + 1 < kDhashWidth; ++c) hash = (hash << 1) | (row[c] > row[c + 1] ? 1U : 0U);
  }
  return hash;
}

}  // namespace

ContentHash content_hash(std::span<const uint8_t> bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  return ContentHash{.high = h.high64, .low = h.low64};
}

bool orientation_swaps_sides(Orientation o) {
  return o == Orientation::kRotate90 || o == Orientation::kRotate270 ||
         o == Orientation::kTranspose || o == Orientation::kTransverse;
}

std::string_view to_string(Orientation o) {
  switch (o) {
    case Orientation::kIdentity: return "identity";
    case Orientation::kRotate90: return "rotate90";
    case Orientation::kRotate180: return "rotate180";
    case Orientation::kRotate270: return "rotate270";
    case Orientation::kMirror: return "mirror";
    case Orientation::kFlip: return "flip";
    case Orientation::kTranspose: return "transpose";
    case Orientation::kTransverse: return "transverse";
  }
  return "unknown";
}

void orient_pixels(std::span<const uint8_t> src, int width, int height, Orientation o,
                   std::span<uint8_t> dst) {
  assert(src.size() == static_cast<size_t>(width) * height && dst.size() == src.size() &&
         "orient_pixels works on one gray plane of width * height bytes");
  const bool swap = orientation_swaps_sides(o);
  const int out_w = swap ? height : width;
  const int out_h = swap ? width : height;
  for (int r = 0; r < out_h; ++r) {
    for (int c = 0; c < out_w; ++c) {
      // (sr, sc): the source pixel that lands on output (r, c).
      int sr = r;
      int sc = c;
      switch (o) {
        case Orientation::kIdentity: break;
        case Orientation::kRotate90: sr = height - 1 - c; sc = r; break;
        case Orientation::kRotate180: sr = height - 1 - r; sc = width - 1 - c; break;
        case Orientation::kRotate270: sr = c; sc = width - 1 - r; break;
        case Orientation::kMirror: sc = width - 1 - c; break;
        case Orientation::kFlip: sr = height - 1 - r; break;
        case Orientation::kTranspose: sr = c; sc = r; break;
        case Orientation::kTransverse: sr = height - 1 - c; sc = width - 1 - r; break;
      }
      dst[static_cast<size_t>(r) * out_w + c] = src[static_cast<size_t>(sr) * width + sc];
    }
  }
}

uint64_t phash_cpu(const Image& img) {
  if (img.empty()) return 0;
  Image gray_storage;
  const Image& gray = gray_of(img, gray_storage);
  std::array<uint8_t, kPhashThumbSize> thumb{};
  // 8-bit thumbnail on purpose: a constant image gives an exactly constant one, so its hash is
  // exact rather than a pattern of rounding noise (docs/SIGNALS.md).
  area_resample_gray(gray, kPhashSide, kPhashSide, thumb);
  return phash_of_thumb(thumb);
}

uint64_t dhash_cpu(const Image& img) {
  if (img.empty()) return 0;
  Image gray_storage;
  const Image& gray = gray_of(img, gray_storage);
  std::array<uint8_t, kDhashThumbSize> thumb{};
  area_resample_gray(gray, kDhashWidth, kDhashHeight, thumb);
  return dhash_of_thumb(thumb);
}

OrientationHashes orientation_hashes_cpu(const Image& img) {
  if (img.empty()) return OrientationHashes{};
  Image gray_storage;
  return orientation_hashes_cpu(AreaResampler(gray_of(img, gray_storage)));
}

OrientationHashes orientation_hashes_cpu(const AreaResampler& resampler) {
  OrientationHashes hashes;
  // Area resampling treats the two axes alike, so the thumbnail of a turned or mirrored image
  // is the turned or mirrored thumbnail: one resample per thumbnail shape serves all eight
  // orientations, and the hashes are bit-identical to hashing the turned image itself.
  std::array<uint8_t, kPhashThumbSize> phash_thumb{};
  resampler.resample(kPhashSide, kPhashSide, phash_thumb);
  std::array<uint8_t, kDhashThumbSize> dhash_wide{};  // 9 x 8, for orientations that keep sides
  resampler.resample(kDhashWidth, kDhashHeight, dhash_wide);
  std::array<uint8_t, kDhashThumbSize> dhash_tall{};  // 8 x 9, for those that swap them
  resampler.resample(kDhashHeight, kDhashWidth, dhash_tall);

  // One exact low block serves the eight pHashes; a turned thumbnail goes through cv::dct only
  // when its bits are not certain from the block (phash_of_thumb).
  const LowBlock block = low_block_of_thumb(phash_thumb);
  std::array<uint8_t, kPhashThumbSize> turned{};
  std::array<uint8_t, kDhashThumbSize> turned_small{};
  for (size_t k = 0; k < kOrientationCount; ++k) {
    const auto o = static_cast<Orientation>(k);
    if (const auto hash = certain_phash_of_block(oriented_low_block(block, o))) {
      hashes.phash[k] = *hash;
    } else {
      orient_pixels(phash_thumb, kPhashSide, kPhashSide, o, turned);
      hashes.phash[k] = phash_of_thumb_by_dct(turned);
    }
    if (orientation_swaps_sides(o)) {
      orient_pixels(dhash_tall, kDhashHeight, kDhashWidth, o, turned_small);
    } else {
      orient_pixels(dhash_wide, kDhashWidth, kDhashHeight, o, turned_small);
    }
    hashes.dhash[k] = dhash_of_thumb(turned_small);
  }
  return hashes;
}

CropHashes crop_hashes_cpu(const Image& img) {
  if (img.empty()) return CropHashes{};
  Image gray_storage;
  return crop_hashes_cpu(AreaResampler(gray_of(img, gray_storage)));
}

namespace {

/// The nine windows of the image `resampler` was made over, hashed (crop_hashes_cpu).
CropHashes window_hashes(const AreaResampler& resampler) {
  CropHashes hashes;
  const int w = std::max(1, static_cast<int>(std::lround(kCropWindowSide * resampler.width())));
  const int h = std::max(1, static_cast<int>(std::lround(kCropWindowSide * resampler.height())));
  const int right = resampler.width() - w;
  const int bottom = resampler.height() - h;
  Image thumb(kPhashSide, kPhashSide, 1);
  for (size_t k = 0; k < kCropWindowCount; ++k) {
    // Row-major on the 3x3 grid of anchors: 0, half and all of the slack on each axis.
    const int x0 = right * static_cast<int>(k % 3) / 2;
    const int y0 = bottom * static_cast<int>(k / 3) / 2;
    resampler.resample(x0, y0, w, h, kPhashSide, kPhashSide, thumb.pixels);
    hashes.phash[k] = phash_of_thumb(std::span<const uint8_t, kPhashThumbSize>(thumb.pixels));
    // The dHash thumbnail from the pHash one: 32x32 pixels to average instead of the window's.
    std::array<uint8_t, kDhashThumbSize> dhash_thumb{};
    area_resample_gray(thumb, kDhashWidth, kDhashHeight, dhash_thumb);
    hashes.dhash[k] = dhash_of_thumb(dhash_thumb);
  }
  return hashes;
}

}  // namespace

CropHashes crop_hashes_cpu(const AreaResampler& resampler) {
  // The windows are cut from a half-size copy (area resampled) when the image is large enough
  // that each window still has at least 64 px a side, double a pHash thumbnail's: a quarter of
  // the pixels to sum. The result stays a hash of the window's content; only its last rounding
  // differs from hashing the full-size window.
  if (resampler.width() >= 2 * kCropHalvingMinSide &&
      resampler.height() >= 2 * kCropHalvingMinSide) {
    Image half(resampler.width() / 2, resampler.height() / 2, 1);
    resampler.resample(half.width, half.height, half.pixels);
    return window_hashes(AreaResampler(half));
  }
  return window_hashes(resampler);
}

}  // namespace vpipe
