#include "vpipe/dedup/hashes.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "test_images.h"
#include "vpipe/dedup/area_resample.h"
#include "vpipe/core/image_ops.h"

namespace vpipe {
namespace {

using test::cropped;
using test::make_scene;
using test::scaled;
using test::with_brightness;
using test::with_noise;

// ---------------------------------------------------------------------------------------------
// content_hash

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

TEST(ContentHash, EqualBytesGiveEqualHashes) {
  const auto a = random_bytes(100000, 1);
  const auto b = a;  // a separate buffer with the same bytes
  EXPECT_EQ(content_hash(a), content_hash(b));
}

TEST(ContentHash, OneFlippedByteChangesTheHash) {
  const auto original = random_bytes(4096, 2);
  const ContentHash reference = content_hash(original);
  for (size_t pos : {size_t{0}, size_t{1}, size_t{2047}, size_t{4095}}) {
    auto edited = original;
    edited[pos] ^= 0x01;
    EXPECT_NE(content_hash(edited), reference) << "byte " << pos;
  }
}

TEST(ContentHash, MatchesXxh3128CalledDirectly) {
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{16}, size_t{17}, size_t{240}, size_t{241}, size_t{1 << 20}}) {
    const auto bytes = random_bytes(n, static_cast<uint32_t>(n) + 7);
    const XXH128_hash_t direct = XXH3_128bits(bytes.data(), bytes.size());
    const ContentHash ours = content_hash(bytes);
    EXPECT_EQ(ours.high, direct.high64) << n << " bytes";
    EXPECT_EQ(ours.low, direct.low64) << n << " bytes";
  }
}

TEST(ContentHash, EmptyInputMatchesPublishedValue) {
  // XXH3_128bits("") with seed 0, from xxHash's own sanity table.
  const ContentHash h = content_hash({});
  EXPECT_EQ(h.high, 0x99AA06D3014798D8ULL);
  EXPECT_EQ(h.low, 0x6001C324468D497FULL);
  EXPECT_EQ(h.hex(), "99aa06d3014798d86001c324468d497f");
}

TEST(ContentHash, HexIs32LowercaseDigitsHighWordFirst) {
  const ContentHash h{.high = 0x0123456789ABCDEFULL, .low = 0x00000000000000FFULL};
  EXPECT_EQ(h.hex(), "0123456789abcdef00000000000000ff");

  const ContentHash real = content_hash(random_bytes(1000, 3));
  const std::string hex = real.hex();
  ASSERT_EQ(hex.size(), 32U);
  for (char c : hex) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << hex;
  char expected[33];
  std::snprintf(expected, sizeof expected, "%016llx%016llx",
                static_cast<unsigned long long>(real.high),
                static_cast<unsigned long long>(real.low));
  EXPECT_EQ(hex, expected);
}

// ---------------------------------------------------------------------------------------------
// Perceptual hashes: exact definitions on images whose shrunk form is known exactly.

struct PerceptualHash {
  const char* name;
  uint64_t (*fn)(const Image&);
};
constexpr std::array<PerceptualHash, 2> kHashes{{{"phash", &phash_cpu}, {"dhash", &dhash_cpu}}};

/// A gray image of `cols` x `rows` constant blocks of `block` x `block` px; area-shrinking it to
/// cols x rows reproduces the block values exactly.
Image block_image(const std::vector<uint8_t>& values, int cols, int rows, int block) {
  Image img(cols * block, rows * block, 1);
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) img.row(y)[x] = values[(y / block) * cols + x / block];
  }
  return img;
}

std::vector<uint8_t> random_levels(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(level(rng));
  return v;
}

TEST(Dhash, BitsAreLeftBrighterThanRightRowMajorMsbFirst) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    const auto cells = random_levels(9 * 8, seed);
    uint64_t expected = 0;
    for (int r = 0; r < 8; ++r) {
      for (int c = 0; c < 8; ++c) {
        if (cells[r * 9 + c] > cells[r * 9 + c + 1]) expected |= uint64_t{1} << (63 - (r * 8 + c));
      }
    }
    // 27 x 24 px blocks: a non-square image whose shrink is still exact.
    EXPECT_EQ(dhash_cpu(block_image(cells, 9, 8, 27)), expected) << "seed " << seed;
  }
}

TEST(Dhash, FirstRowFallingOnlyGivesTopByte) {
  std::vector<uint8_t> cells(9 * 8, 100);
  for (int c = 0; c < 9; ++c) cells[c] = static_cast<uint8_t>(200 - 10 * c);
  EXPECT_EQ(dhash_cpu(block_image(cells, 9, 8, 10)), 0xFF00000000000000ULL);
}

/// Orthonormal DCT-II of a 32x32 block in double precision, written out from the definition;
/// returns the top-left 8x8, row-major.
std::array<double, 64> reference_low_dct(const std::vector<uint8_t>& f) {
  constexpr int kN = 32;
  std::array<double, 64> out{};
  for (int u = 0; u < 8; ++u) {
    for (int v = 0; v < 8; ++v) {
      double acc = 0;
      for (int y = 0; y < kN; ++y) {
        for (int x = 0; x < kN; ++x) {
          acc += f[y * kN + x] * std::cos(std::numbers::pi * (2 * y + 1) * u / (2 * kN)) *
                 std::cos(std::numbers::pi * (2 * x + 1) * v / (2 * kN));
        }
      }
      const double au = u == 0 ? std::sqrt(1.0 / kN) : std::sqrt(2.0 / kN);
      const double av = v == 0 ? std::sqrt(1.0 / kN) : std::sqrt(2.0 / kN);
      out[u * 8 + v] = au * av * acc;
    }
  }
  return out;
}

TEST(Phash, MatchesReferenceDctAndMedianOfAcTerms) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    // Smooth random 32x32 content (random levels blurred) so the low frequencies carry energy.
    auto cells = random_levels(32 * 32, seed);
    cv::Mat m(32, 32, CV_8UC1, cells.data());
    cv::GaussianBlur(m, m, cv::Size(0, 0), 2.0);

    const auto low = reference_low_dct(cells);
    std::vector<double> ac(low.begin() + 1, low.end());
    std::sort(ac.begin(), ac.end());
    const double median = ac[31];  // 63 AC terms: the 32nd smallest
    uint64_t expected = 0;
    for (int i = 0; i < 64; ++i) {
      if (low[i] > median) expected |= uint64_t{1} << (63 - i);
    }
    EXPECT_EQ(__builtin_popcountll(expected), 32);  // 31 AC terms above the median, plus DC
    EXPECT_EQ(phash_cpu(block_image(cells, 32, 32, 8)), expected) << "seed " << seed;
  }
}

/// pHash bits of a 32x32 thumbnail exactly as the hash is defined: cv::dct in float, the median
/// of the 63 AC terms among floats. phash_cpu takes a shortcut that must give these bits.
uint64_t cv_dct_phash(const std::vector<uint8_t>& thumb) {
  cv::Mat spatial;
  cv::Mat(32, 32, CV_8UC1, const_cast<uint8_t*>(thumb.data())).convertTo(spatial, CV_32F);
  cv::Mat freq;
  cv::dct(spatial, freq);
  std::array<float, 64> low{};
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 8; ++c) low[r * 8 + c] = freq.at<float>(r, c);
  }
  std::array<float, 63> ac{};
  std::copy(low.begin() + 1, low.end(), ac.begin());
  std::nth_element(ac.begin(), ac.begin() + 31, ac.end());
  uint64_t hash = 0;
  for (int i = 0; i < 64; ++i) hash = (hash << 1) | (low[i] > ac[31] ? 1U : 0U);
  return hash;
}

TEST(Phash, ShortcutGivesTheCvDctBitsOnNoiseWavesStepsAndSymmetricThumbnails) {
  // 32x32 images are their own thumbnails. Noise, smooth waves, hard steps, mirror-symmetric
  // and flat content (ties: the shortcut must fall back to cv::dct), all eight orientations.
  std::mt19937 rng(17);
  int checked = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    std::vector<uint8_t> cells(32 * 32);
    const double fx = (rng() % 100) / 10.0;
    const double fy = (rng() % 100) / 10.0;
    const int step = 4 + static_cast<int>(rng() % 24);
    for (int r = 0; r < 32; ++r) {
      for (int c = 0; c < 32; ++c) {
        int v = 0;
        switch (trial % 5) {
          case 0: v = static_cast<int>(rng() % 256); break;
          case 1: v = static_cast<int>(128 + 110 * std::sin(fx * c / 32 + fy * r / 32)) +
                      static_cast<int>(rng() % 5); break;
          case 2: v = r < step ? 240 : 20 + (c * 7) % 40; break;
          case 3: v = (std::min(c, 31 - c) * 13 + r * (trial % 7)) % 256; break;
          default: v = trial % 3 == 0 ? 77 : static_cast<int>(rng() % 3) + 100; break;
        }
        cells[r * 32 + c] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
    const Image img = block_image(cells, 32, 32, 1);
    ASSERT_EQ(phash_cpu(img), cv_dct_phash(cells)) << "trial " << trial;
    const OrientationHashes hashes = orientation_hashes_cpu(img);
    for (size_t k = 0; k < kOrientationCount; ++k) {
      std::vector<uint8_t> turned(cells.size());
      orient_pixels(cells, 32, 32, static_cast<Orientation>(k), turned);
      ASSERT_EQ(hashes.phash[k], cv_dct_phash(turned)) << "trial " << trial << " orientation " << k;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4000 * 8);
}

TEST(PerceptualHash, ConstantImagesAreWellDefined) {
  // A constant image has only a DC term (32 * level); every AC term, hence the median, is 0.
  for (int level : {1, 100, 255}) {
    Image img(200, 150, 1);
    std::fill(img.pixels.begin(), img.pixels.end(), static_cast<uint8_t>(level));
    EXPECT_EQ(phash_cpu(img), uint64_t{1} << 63) << level;
    EXPECT_EQ(dhash_cpu(img), 0U) << level;
  }
  Image black(64, 64, 3);
  EXPECT_EQ(phash_cpu(black), 0U);
  EXPECT_EQ(dhash_cpu(black), 0U);
}

TEST(PerceptualHash, TinyAndEmptyImagesDoNotCrash) {
  for (const auto& h : kHashes) {
    SCOPED_TRACE(h.name);
    for (auto [w, hgt] : {std::pair{1, 1}, {3, 2}, {1, 100}, {100, 1}, {9, 8}, {31, 33}}) {
      const Image img = make_scene(static_cast<uint32_t>(w * 1000 + hgt), w, hgt);
      EXPECT_EQ(h.fn(img), h.fn(img));  // deterministic
    }
    EXPECT_EQ(h.fn(Image{}), 0U);
  }
}

TEST(PerceptualHash, RgbInputHashesLikeItsGray) {
  for (const auto& h : kHashes) {
    SCOPED_TRACE(h.name);
    for (uint32_t seed = 1; seed <= 10; ++seed) {
      const Image rgb = make_scene(seed, 240, 180);
      EXPECT_EQ(h.fn(rgb), h.fn(to_gray(rgb))) << "seed " << seed;

      // Gray content replicated into three equal channels is the same picture.
      const Image gray = to_gray(rgb);
      Image replicated(gray.width, gray.height, 3);
      for (size_t i = 0; i < gray.pixels.size(); ++i) {
        for (int c = 0; c < 3; ++c) replicated.pixels[3 * i + c] = gray.pixels[i];
      }
      EXPECT_EQ(h.fn(replicated), h.fn(gray)) << "seed " << seed;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Perceptual hashes: near-duplicates stay near, unrelated images do not.

constexpr int kNearThreshold = 6;
constexpr uint32_t kScenes = 24;

/// Hash of an image as the scan pass computes it: shrink to the working size, then gray.
uint64_t scan_hash(const PerceptualHash& h, const Image& img) {
  return h.fn(to_gray(resize_to_fit(img, kWorkingSize)));
}

template <typename Edit>
void expect_stable(const char* what, Edit edit) {
  for (const auto& h : kHashes) {
    int worst = 0;
    for (uint32_t seed = 1; seed <= kScenes; ++seed) {
      const Image original = make_scene(seed, 256 + static_cast<int>(seed % 3) * 40, 256);
      const Image edited = edit(original, seed);
      const int d = hamming_distance(scan_hash(h, original), scan_hash(h, edited));
      worst = std::max(worst, d);
      EXPECT_LE(d, kNearThreshold) << h.name << ", " << what << ", seed " << seed;
    }
    ::testing::Test::RecordProperty(std::string(h.name) + "_worst_distance", worst);
  }
}

TEST(PerceptualHash, StableUnderGaussianNoise) {
  expect_stable("noise sigma 5",
                [](const Image& img, uint32_t seed) { return with_noise(img, 5.0, seed + 100); });
}

TEST(PerceptualHash, StableUnderBrightnessShift) {
  expect_stable("+20", [](const Image& img, uint32_t) { return with_brightness(img, 20); });
  expect_stable("-20", [](const Image& img, uint32_t) { return with_brightness(img, -20); });
}

TEST(PerceptualHash, StableUnderDownscaling) {
  expect_stable("area resize 0.5..0.9", [](const Image& img, uint32_t seed) {
    std::mt19937 rng(seed + 200);
    return scaled(img, std::uniform_real_distribution<double>(0.5, 0.9)(rng));
  });
}

TEST(PerceptualHash, MostlyStableUnderSmallCrop) {
  // Cropping moves content against the hash grid, which neither hash is built to absorb. A crop
  // removing 2..5% of the pixels (each side shortened by 1..2.5%, the cut split at random
  // between opposite edges) stays within the threshold for most scenes but not all: in a
  // 300-scene sweep about 4% exceed it (and about a fifth when 2..5% of each side is cut; see
  // docs/SIGNALS.md). So this asserts the distribution, not every image.
  constexpr uint32_t kCropScenes = 60;
  for (const auto& h : kHashes) {
    int within = 0;
    double total = 0;
    for (uint32_t seed = 1; seed <= kCropScenes; ++seed) {
      const Image original = make_scene(seed, 256 + static_cast<int>(seed % 3) * 40, 256);
      std::mt19937 rng(seed + 300);
      const double area_cut = std::uniform_real_distribution<double>(0.02, 0.05)(rng);
      const Image edited = cropped(original, 1 - std::sqrt(1 - area_cut), seed + 400);
      const int d = hamming_distance(scan_hash(h, original), scan_hash(h, edited));
      within += d <= kNearThreshold ? 1 : 0;
      total += d;
    }
    EXPECT_GE(within, static_cast<int>(kCropScenes * 9 / 10)) << h.name;
    EXPECT_LE(total / kCropScenes, 4.0) << h.name;
    ::testing::Test::RecordProperty(std::string(h.name) + "_crop_within_threshold", within);
  }
}

TEST(PerceptualHash, UnrelatedImagesAreAboutHalfTheBitsApart) {
  constexpr int kPairs = 50;
  for (const auto& h : kHashes) {
    double total = 0;
    for (int i = 0; i < kPairs; ++i) {
      const Image a = make_scene(static_cast<uint32_t>(1000 + 2 * i));
      const Image b = make_scene(static_cast<uint32_t>(1001 + 2 * i));
      total += hamming_distance(scan_hash(h, a), scan_hash(h, b));
    }
    const double mean = total / kPairs;
    EXPECT_GE(mean, 26.0) << h.name;
    EXPECT_LE(mean, 38.0) << h.name;
  }
}

TEST(HammingDistance, CountsDifferingBits) {
  EXPECT_EQ(hamming_distance(0, 0), 0);
  EXPECT_EQ(hamming_distance(0, ~uint64_t{0}), 64);
  EXPECT_EQ(hamming_distance(0xF0F0, 0x0FF0), 8);
  EXPECT_EQ(hamming_distance(uint64_t{1} << 63, 1), 2);
}

// ---------------------------------------------------------------------------------------------
// Orientation hashes

// The image turned by `o` with OpenCV (an implementation independent of orient_pixels).
Image turned_with_opencv(const Image& gray, Orientation o) {
  const cv::Mat src(gray.height, gray.width, CV_8UC1, const_cast<uint8_t*>(gray.pixels.data()));
  cv::Mat out;
  switch (o) {
    case Orientation::kIdentity: out = src.clone(); break;
    case Orientation::kRotate90: cv::rotate(src, out, cv::ROTATE_90_CLOCKWISE); break;
    case Orientation::kRotate180: cv::rotate(src, out, cv::ROTATE_180); break;
    case Orientation::kRotate270: cv::rotate(src, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    case Orientation::kMirror: cv::flip(src, out, 1); break;
    case Orientation::kFlip: cv::flip(src, out, 0); break;
    case Orientation::kTranspose: cv::transpose(src, out); break;
    case Orientation::kTransverse: {
      cv::Mat t;
      cv::transpose(src, t);
      cv::rotate(t, out, cv::ROTATE_180);
      break;
    }
  }
  Image result(out.cols, out.rows, 1);
  for (int y = 0; y < out.rows; ++y) std::copy_n(out.ptr<uint8_t>(y), out.cols, result.row(y));
  return result;
}

TEST(OrientationHashes, EqualTheHashesOfTheTurnedImageBitForBit) {
  // Odd, non-square sizes: the thumbnails' area weights differ per axis.
  for (const auto& [w, h] : {std::pair{257, 173}, std::pair{120, 300}, std::pair{31, 45}}) {
    const Image gray = to_gray(make_scene(static_cast<uint32_t>(w * 7 + h), w, h));
    const OrientationHashes hashes = orientation_hashes_cpu(gray);
    for (size_t k = 0; k < kOrientationCount; ++k) {
      const auto o = static_cast<Orientation>(k);
      const Image turned = turned_with_opencv(gray, o);
      EXPECT_EQ(hashes.phash[k], phash_cpu(turned)) << to_string(o) << " " << w << "x" << h;
      EXPECT_EQ(hashes.dhash[k], dhash_cpu(turned)) << to_string(o) << " " << w << "x" << h;
    }
    EXPECT_EQ(hashes.phash[0], phash_cpu(gray));
    EXPECT_EQ(hashes.dhash[0], dhash_cpu(gray));
  }
}

TEST(OrientationHashes, TurnedCopiesAreFarApartButMatchTheirOrientation) {
  const Image gray = to_gray(make_scene(99, 320, 240));
  const OrientationHashes original = orientation_hashes_cpu(gray);
  for (size_t k = 1; k < kOrientationCount; ++k) {
    const auto o = static_cast<Orientation>(k);
    const uint64_t turned_phash = phash_cpu(turned_with_opencv(gray, o));
    // Without orientation matching a turned copy is not a near duplicate...
    EXPECT_GT(hamming_distance(turned_phash, original.phash[0]), 10) << to_string(o);
    // ...with it, it is an exact match of the right orientation.
    EXPECT_EQ(hamming_distance(turned_phash, original.phash[k]), 0) << to_string(o);
  }
}

TEST(OrientationHashes, OrientPixelsComposesLikeTheDihedralGroup) {
  std::vector<uint8_t> src(6 * 4);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> once(src.size()), twice(src.size());
  // Four quarter turns are the identity; two mirrors are the identity; rotate90 twice is 180.
  orient_pixels(src, 6, 4, Orientation::kRotate90, once);
  orient_pixels(once, 4, 6, Orientation::kRotate90, twice);
  std::vector<uint8_t> half(src.size());
  orient_pixels(src, 6, 4, Orientation::kRotate180, half);
  EXPECT_EQ(twice, half);
  orient_pixels(src, 6, 4, Orientation::kMirror, once);
  orient_pixels(once, 6, 4, Orientation::kMirror, twice);
  EXPECT_EQ(twice, src);
  orient_pixels(src, 6, 4, Orientation::kTranspose, once);
  orient_pixels(once, 4, 6, Orientation::kTranspose, twice);
  EXPECT_EQ(twice, src);
}

/// The window k of `gray` at 90% of each side (CropWindow order), cut with OpenCV; with `scale`
/// 2, the same window of `gray`'s half-size copy mapped back onto `gray` (its origin and sides
/// doubled), so that it holds exactly the content the half-size window was resampled from.
Image window_of(const Image& gray, size_t k, int scale = 1) {
  const int w = gray.width / scale;
  const int h = gray.height / scale;
  const int cw = static_cast<int>(std::lround(0.9 * w));
  const int ch = static_cast<int>(std::lround(0.9 * h));
  // Row-major on a 3x3 grid: each edge at none, half or all of the slack.
  const std::array<int, 3> xs = {0, (w - cw) / 2, w - cw};
  const std::array<int, 3> ys = {0, (h - ch) / 2, h - ch};
  const cv::Rect rect(xs[k % 3] * scale, ys[k / 3] * scale, cw * scale, ch * scale);
  Image src = gray;
  return test::image_of(test::mat_of(src)(rect).clone());
}

TEST(CropHashes, AreTheHashesOfTheWindowsAsDocumented) {
  // Small images: the windows of the image itself; from 144 px a side, of its half-size copy.
  // Either way pHash is phash_cpu of the window, dHash dhash_cpu of its 32x32 thumbnail.
  int dhash_total = 0;
  int windows = 0;
  for (const auto& [w, h] : {std::pair{257, 173}, std::pair{120, 300}, std::pair{31, 45},
                             std::pair{400, 144}}) {
    const Image gray = to_gray(make_scene(static_cast<uint32_t>(w * 5 + h), w, h));
    Image source = gray;
    int scale = 1;
    if (w >= 144 && h >= 144) {
      scale = 2;
      source = Image(w / 2, h / 2, 1);
      area_resample_gray(gray, source.width, source.height, source.pixels);
    }
    const CropHashes hashes = crop_hashes_cpu(gray);
    for (size_t k = 0; k < kCropWindowCount; ++k) {
      const Image window = window_of(source, k);
      Image thumb(32, 32, 1);
      area_resample_gray(window, 32, 32, thumb.pixels);
      EXPECT_EQ(hashes.phash[k], phash_cpu(window)) << k << " " << w << "x" << h;
      EXPECT_EQ(hashes.dhash[k], dhash_cpu(thumb)) << k << " " << w << "x" << h;
      // Within rounding of the hashes of the same window at full size.
      const Image full = window_of(gray, k, scale);
      EXPECT_LE(hamming_distance(hashes.phash[k], phash_cpu(full)), 4) << k << " " << w << "x" << h;
      // dHash compares neighbouring averages: on these smooth scenes a few of its 64 differences
      // are within a gray level, and its two resampling chains (window -> 32x32 -> 9x8 here,
      // window -> 9x8 in dhash_cpu) round them differently.
      const int dhash_off = hamming_distance(hashes.dhash[k], dhash_cpu(full));
      EXPECT_LE(dhash_off, 6) << k << " " << w << "x" << h;
      dhash_total += dhash_off;
      ++windows;
    }
  }
  EXPECT_LE(dhash_total, 2 * windows);  // on average within 2 bits
  EXPECT_EQ(crop_hashes_cpu(Image()).phash[0], 0U);  // nothing to hash
}

TEST(CropHashes, AnOffsetCropMatchesAWindowWhereTheWholeImageDoesNot) {
  // Copies cropped to 90% of each side, anchored anywhere (the cut split at random between
  // opposite sides): against the original's whole-image hash the shift of a tenth of the picture
  // is often past the threshold; against the nearest of its nine windows it is small.
  constexpr uint32_t kCropScenes = 40;
  constexpr int kDefaultThreshold = 14;  // dedup's default pHash threshold (docs/DEDUP.md)
  int whole_within = 0;
  int window_within = 0;
  for (uint32_t seed = 1; seed <= kCropScenes; ++seed) {
    const Image original = make_scene(seed, 320 + static_cast<int>(seed % 3) * 40, 256);
    const Image copy = cropped(original, 0.1, seed + 500);
    const uint64_t copy_phash = scan_hash(kHashes[0], copy);
    const Image gray = to_gray(resize_to_fit(original, kWorkingSize));
    const CropHashes windows = crop_hashes_cpu(gray);
    int nearest = 64;
    for (uint64_t window : windows.phash) nearest = std::min(nearest, hamming_distance(copy_phash, window));
    whole_within += hamming_distance(copy_phash, phash_cpu(gray)) <= kDefaultThreshold ? 1 : 0;
    window_within += nearest <= kDefaultThreshold ? 1 : 0;
  }
  EXPECT_GE(window_within, static_cast<int>(kCropScenes * 9 / 10));
  EXPECT_GT(window_within, whole_within);
  std::printf("90%% crops within %d: %d of %u by window, %d by the whole image\n",
              kDefaultThreshold, window_within, kCropScenes, whole_within);
  ::testing::Test::RecordProperty("whole_within_threshold", whole_within);
  ::testing::Test::RecordProperty("window_within_threshold", window_within);
}

}  // namespace
}  // namespace vpipe
