#include "vpipe/quality/signals.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "vpipe/core/image_ops.h"
#include "vpipe/quality/edge_width.h"

namespace vpipe {
namespace {

// Gray levels counted as dark / bright (docs/SIGNALS.md): the outer 17 of the 256 levels on
// each side, inclusive.
constexpr int kDarkLevel = 16;
constexpr int kBrightLevel = 239;
// A sample at or above this level counts as clipped (docs/SIGNALS.md, `clipped_fraction`): JPEG
// ringing keeps blown highlights a few levels under 255.
constexpr int kClippedLevel = 250;
// `highlight_level` is this percentile of the gray levels.
constexpr double kHighlightPercentile = 0.99;

// Population variance from exact integer sums of x and x*x over n samples, clamped at 0 against
// rounding in the subtraction.
double variance_from_sums(double sum, double sum_sq, double n) {
  const double mean = sum / n;
  return std::max(0.0, sum_sq / n - mean * mean);
}

/// Index of the row or column `i` in [-1, n] mirrored into [0, n) as OpenCV's BORDER_REFLECT_101
/// does (-1 -> 1, n -> n - 2); a single row or column mirrors onto itself.
int reflect101(int i, int n) {
  if (n == 1) return 0;
  if (i < 0) return -i;
  if (i >= n) return 2 * n - 2 - i;
  return i;
}

/// Variance of the 4-neighbour Laplacian [0 1 0; 1 -4 1; 0 1 0] (cv::Laplacian with ksize 1)
/// over every pixel of `gray` (width * height bytes, row-major, tight), borders mirrored with
/// BORDER_REFLECT_101. Integer sums, so the result is exact up to the final division.
double laplacian_variance(const uint8_t* gray, int width, int height) {
  int64_t sum = 0;
  int64_t sum_sq = 0;
  // Per-chunk 32-bit accumulators let the compiler vectorise the interior loop; 2048 squares of
  // at most 1020^2 each stay below 2^31.
  constexpr int kChunk = 2048;
  for (int y = 0; y < height; ++y) {
    const uint8_t* up = gray + static_cast<size_t>(reflect101(y - 1, height)) * width;
    const uint8_t* row = gray + static_cast<size_t>(y) * width;
    const uint8_t* down = gray + static_cast<size_t>(reflect101(y + 1, height)) * width;
    const auto at = [&](int x) {
      const int left = row[reflect101(x - 1, width)];
      const int right = row[reflect101(x + 1, width)];
      return up[x] + down[x] + left + right - 4 * row[x];
    };
    // Border columns through the mirroring helper, the interior without it.
    const int last = width - 1;
    for (int x = 0; x <= last; x += std::max(last, 1)) {  // x = 0, then x = last if distinct
      const int64_t l = at(x);
      sum += l;
      sum_sq += l * l;
    }
    for (int x0 = 1; x0 < width - 1; x0 += kChunk) {
      const int x1 = std::min(width - 1, x0 + kChunk);
      int32_t chunk_sum = 0;
      int32_t chunk_sq = 0;
      for (int x = x0; x < x1; ++x) {
        const int32_t l = up[x] + down[x] + row[x - 1] + row[x + 1] - 4 * row[x];
        chunk_sum += l;
        chunk_sq += l * l;
      }
      sum += chunk_sum;
      sum_sq += chunk_sq;
    }
  }
  const double n = static_cast<double>(width) * height;
  return variance_from_sums(static_cast<double>(sum), static_cast<double>(sum_sq), n);
}

/// The p-quantile (0..1) of the n samples counted in `counts`, interpolating linearly between the
/// order statistics at rank p * (n - 1) as numpy's default percentile does.
double histogram_percentile(const std::array<int64_t, 256>& counts, int64_t n, double p) {
  const double rank = p * static_cast<double>(n - 1);
  const auto lo = static_cast<int64_t>(rank);
  // The sample value at 0-based rank r: the first level whose cumulative count exceeds r.
  const auto value_at = [&](int64_t r) {
    int64_t seen = 0;
    for (int v = 0; v < 256; ++v) {
      seen += counts[v];
      if (seen > r) return v;
    }
    return 255;
  };
  const int low = value_at(lo);
  const int high = lo + 1 < n ? value_at(lo + 1) : low;
  return low + (high - low) * (rank - static_cast<double>(lo));
}

/// Share of the `pixels` RGB pixels (HWC, tight) with any channel >= kClippedLevel.
double clipped_rgb_fraction(const uint8_t* rgb, size_t pixels) {
  size_t clipped = 0;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t top = std::max({rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]});
    clipped += top >= kClippedLevel;
  }
  return static_cast<double>(clipped) / static_cast<double>(pixels);
}

/// Fills brightness, contrast, dark/bright fractions and entropy from one 256-bin histogram of
/// `gray` (n bytes).
void histogram_signals(const uint8_t* gray, size_t n, QualitySignals& out) {
  // Four interleaved histograms break the store-to-load chain of runs of equal pixels.
  std::array<std::array<uint32_t, 256>, 4> partial{};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++partial[0][gray[i]];
    ++partial[1][gray[i + 1]];
    ++partial[2][gray[i + 2]];
    ++partial[3][gray[i + 3]];
  }
  for (; i < n; ++i) ++partial[0][gray[i]];

  std::array<int64_t, 256> counts{};
  int64_t sum = 0;
  int64_t sum_sq = 0;
  int64_t dark = 0;
  int64_t bright = 0;
  double neg_entropy = 0;  // sum of p * log2(p)
  const double total = static_cast<double>(n);
  for (int v = 0; v < 256; ++v) {
    const int64_t count =
        static_cast<int64_t>(partial[0][v]) + partial[1][v] + partial[2][v] + partial[3][v];
    counts[v] = count;
    if (count == 0) continue;
    sum += count * v;
    sum_sq += count * v * v;
    if (v <= kDarkLevel) dark += count;
    if (v >= kBrightLevel) bright += count;
    const double p = static_cast<double>(count) / total;
    neg_entropy += p * std::log2(p);
  }
  out.brightness = static_cast<double>(sum) / total;
  out.contrast =
      std::sqrt(variance_from_sums(static_cast<double>(sum), static_cast<double>(sum_sq), total));
  out.dark_fraction = static_cast<double>(dark) / total;
  out.bright_fraction = static_cast<double>(bright) / total;
  // A single-level image gives -0.0; report a plain 0.
  out.entropy = std::max(0.0, -neg_entropy);
  out.highlight_level = histogram_percentile(counts, static_cast<int64_t>(n), kHighlightPercentile);
  int64_t clipped = 0;
  for (int v = kClippedLevel; v < 256; ++v) clipped += counts[v];
  out.clipped_fraction = static_cast<double>(clipped) / total;  // RGB callers replace it
}

/// Hasler & Suesstrunk (2003) colourfulness of `rgb` (width * height * 3 bytes, HWC, tight):
/// sqrt(var_rg + var_yb) + 0.3 * sqrt(mean_rg^2 + mean_yb^2), rg = R - G, yb = (R + G) / 2 - B.
double colorfulness(const uint8_t* rgb, size_t pixels) {
  // yb is accumulated doubled (R + G - 2B) to stay in integers.
  int64_t sum_rg = 0;
  int64_t sum_rg_sq = 0;
  int64_t sum_yb2 = 0;
  int64_t sum_yb2_sq = 0;
  for (size_t i = 0; i < pixels; ++i) {
    const int r = rgb[3 * i];
    const int g = rgb[3 * i + 1];
    const int b = rgb[3 * i + 2];
    const int rg = r - g;
    const int yb2 = r + g - 2 * b;
    sum_rg += rg;
    sum_rg_sq += int64_t{rg} * rg;
    sum_yb2 += yb2;
    sum_yb2_sq += int64_t{yb2} * yb2;
  }
  const double n = static_cast<double>(pixels);
  const double var_rg =
      variance_from_sums(static_cast<double>(sum_rg), static_cast<double>(sum_rg_sq), n);
  const double var_yb =
      variance_from_sums(static_cast<double>(sum_yb2), static_cast<double>(sum_yb2_sq), n) / 4;
  const double mean_rg = static_cast<double>(sum_rg) / n;
  const double mean_yb = static_cast<double>(sum_yb2) / (2 * n);
  return std::sqrt(var_rg + var_yb) + 0.3 * std::sqrt(mean_rg * mean_rg + mean_yb * mean_yb);
}

}  // namespace

QualitySignals quality_signals_cpu(const Image& working) {
  QualitySignals signals;
  if (working.empty()) return signals;
  assert((working.channels == 1 || working.channels == 3) && "Image holds gray or RGB only");

  const size_t pixels = static_cast<size_t>(working.width) * working.height;
  const uint8_t* gray = working.pixels.data();
  Image gray_storage;
  if (working.channels == 3) {
    signals.colorfulness = colorfulness(working.pixels.data(), pixels);
    // The same conversion as the scan pass's to_gray(), so every gray signal agrees with it.
    gray_storage = to_gray(working);
    gray = gray_storage.pixels.data();
  }
  histogram_signals(gray, pixels, signals);
  if (working.channels == 3) signals.clipped_fraction = clipped_rgb_fraction(working.pixels.data(), pixels);
  signals.sharpness = laplacian_variance(gray, working.width, working.height);
  signals.edge_width = edge_width_cpu(gray, nullptr, working.width, working.height);
  return signals;
}

}  // namespace vpipe
