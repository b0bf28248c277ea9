#include "vpipe/dedup/hashes.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
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

// pHash of a 32x32 8-bit thumbnail (steps 2..6 of docs/SIGNALS.md).
uint64_t phash_of_thumb(std::span<const uint8_t, kPhashThumbSize> thumb) {
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
  OrientationHashes hashes;
  if (img.empty()) return hashes;
  Image gray_storage;
  const Image& gray = gray_of(img, gray_storage);
  // Area resampling treats the two axes alike, so the thumbnail of a turned or mirrored image
  // is the turned or mirrored thumbnail: one resample per thumbnail shape serves all eight
  // orientations, and the hashes are bit-identical to hashing the turned image itself.
  std::array<uint8_t, kPhashThumbSize> phash_thumb{};
  area_resample_gray(gray, kPhashSide, kPhashSide, phash_thumb);
  std::array<uint8_t, kDhashThumbSize> dhash_wide{};  // 9 x 8, for orientations that keep sides
  area_resample_gray(gray, kDhashWidth, kDhashHeight, dhash_wide);
  std::array<uint8_t, kDhashThumbSize> dhash_tall{};  // 8 x 9, for those that swap them
  area_resample_gray(gray, kDhashHeight, kDhashWidth, dhash_tall);

  std::array<uint8_t, kPhashThumbSize> turned{};
  std::array<uint8_t, kDhashThumbSize> turned_small{};
  for (size_t k = 0; k < kOrientationCount; ++k) {
    const auto o = static_cast<Orientation>(k);
    orient_pixels(phash_thumb, kPhashSide, kPhashSide, o, turned);
    hashes.phash[k] = phash_of_thumb(turned);
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
  CropHashes hashes;
  if (img.empty()) return hashes;
  Image gray_storage;
  const Image& gray = gray_of(img, gray_storage);
  // The windows are cut from a half-size copy (area resampled) when the image is large enough
  // that each window still has at least 64 px a side, double a pHash thumbnail's: a quarter of
  // the pixels to resample five times. The result stays a hash of the window's content; only
  // its last rounding differs from hashing the full-size window.
  const bool halve = gray.width >= 2 * kCropHalvingMinSide && gray.height >= 2 * kCropHalvingMinSide;
  Image half;
  if (halve) {
    half = Image(gray.width / 2, gray.height / 2, 1);
    area_resample_gray(gray, half.width, half.height, half.pixels);
  }
  const Image& source = halve ? half : gray;
  const int w = std::max(1, static_cast<int>(std::lround(kCropWindowSide * source.width)));
  const int h = std::max(1, static_cast<int>(std::lround(kCropWindowSide * source.height)));
  const int right = source.width - w;
  const int bottom = source.height - h;
  const std::array<std::pair<int, int>, kCropWindowCount> origins = {
      {{0, 0}, {right, 0}, {0, bottom}, {right, bottom}, {right / 2, bottom / 2}}};
  Image window(w, h, 1);
  Image thumb(kPhashSide, kPhashSide, 1);
  for (size_t k = 0; k < kCropWindowCount; ++k) {
    const auto [x0, y0] = origins[k];
    for (int y = 0; y < h; ++y) {
      const uint8_t* from = source.row(y0 + y) + x0;
      std::copy(from, from + w, window.row(y));
    }
    area_resample_gray(window, kPhashSide, kPhashSide, thumb.pixels);
    hashes.phash[k] = phash_of_thumb(std::span<const uint8_t, kPhashThumbSize>(thumb.pixels));
    // The dHash thumbnail from the pHash one: 32x32 pixels to average instead of the window's.
    std::array<uint8_t, kDhashThumbSize> dhash_thumb{};
    area_resample_gray(thumb, kDhashWidth, kDhashHeight, dhash_thumb);
    hashes.dhash[k] = dhash_of_thumb(dhash_thumb);
  }
  return hashes;
}

}  // namespace vpipe
