#include "vpipe/dedup/hashes.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
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

// Gray view of `img`: `img` itself when it is gray, else its BT.601 gray copy in `storage`.
// Converting before shrinking (rather than after) makes the hash of an RGB image equal to the
// hash of to_gray() of it, which is what the scan pass feeds us.
const Image& gray_of(const Image& img, Image& storage) {
  assert((img.channels == 1 || img.channels == 3) && "Image holds gray or RGB only");
  if (img.channels == 1) return img;
  storage = to_gray(img);
  return storage;
}

}  // namespace

ContentHash content_hash(std::span<const uint8_t> bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  return ContentHash{.high = h.high64, .low = h.low64};
}

uint64_t phash_cpu(const Image& img) {
  if (img.empty()) return 0;
  Image gray_storage;
  const Image& gray = gray_of(img, gray_storage);

  std::array<uint8_t, kPhashThumbSize> thumb{};
  // 8-bit thumbnail on purpose: a constant image gives an exactly constant one, so its hash is
  // exact rather than a pattern of rounding noise (docs/SIGNALS.md).
  area_resample_gray(gray, kPhashSide, kPhashSide, thumb);

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

uint64_t dhash_cpu(const Image& img) {
  if (img.empty()) return 0;
  Image gray_storage;
  const Image& gray = gray_of(img, gray_storage);

  std::array<uint8_t, kDhashThumbSize> thumb{};
  area_resample_gray(gray, kDhashWidth, kDhashHeight, thumb);

  // Row-major over the 8x8 comparisons, (row 0, col 0) in bit 63, (row 7, col 7) in bit 0.
  uint64_t hash = 0;
  for (size_t r = 0; r < kDhashHeight; ++r) {
    const uint8_t* row = thumb.data() + r * kDhashWidth;
    for (int c = 0; c + 1 < kDhashWidth; ++c) hash = (hash << 1) | (row[c] > row[c + 1] ? 1U : 0U);
  }
  return hash;
}

}  // namespace vpipe
