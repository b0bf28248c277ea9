// The scalar edge_width_cpu as it was before the lane-parallel rewrite: one walk per row, column
// and diagonal. Test-only: edge_width_test.cpp checks that edge_width_cpu returns exactly (bit for
// bit) what this returns.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "vpipe/quality/edge_width.h"

namespace vpipe {
namespace reference_detail {

/// Effective widths are counted in bins of 1/kBinsPerPixel px up to kMaxBinnedWidth px, the rest
/// in one last bin; each bin also sums its widths, so a percentile reads the mean of its bin (exact
/// when the bin holds one value; off by at most half a bin, 1/64 px, otherwise). Counting instead
/// of selecting keeps a textured image (tens of thousands of strong edges) cheap.
constexpr int kBinsPerPixel = 32;
constexpr int kMaxBinnedWidth = 32;
constexpr int kBins = kBinsPerPixel * kMaxBinnedWidth + 1;

/// The widths of one direction's strong edges, binned.
struct WidthHistogram {
  std::vector<uint32_t> count = std::vector<uint32_t>(kBins, 0);
  std::vector<double> sum = std::vector<double>(kBins, 0.0);
  int64_t total = 0;

  void add(double width) {
    const int bin = std::min(kBins - 1, static_cast<int>(width * kBinsPerPixel));
    ++count[bin];
    sum[bin] += width;
    ++total;
  }
  void clear() {
    std::fill(count.begin(), count.end(), 0);
    std::fill(sum.begin(), sum.end(), 0.0);
    total = 0;
  }
  /// The width at 0-based rank r (its bin's mean).
  [[nodiscard]] double at_rank(int64_t r) const {
    int64_t seen = 0;
    for (int b = 0; b < kBins; ++b) {
      seen += count[b];
      if (seen > r) return sum[b] / count[b];
    }
    return 0;
  }
  /// The 20th percentile, interpolating between the order statistics at rank 0.2 * (n - 1) as
  /// numpy's default does. `total` > 0.
  [[nodiscard]] double low_percentile() const {
    constexpr double kPercentile = 0.20;
    const double rank = kPercentile * static_cast<double>(total - 1);
    const auto lo = static_cast<int64_t>(rank);
    const double low = at_rank(lo);
    if (lo + 1 >= total) return low;
    return low + (at_rank(lo + 1) - low) * (rank - static_cast<double>(lo));
  }
};

/// A monotonic run of one line: its signed rise and its steepest single step.
struct Run {
  int rise;
  int steepest;
};

/// Adds the effective widths of the strong edges along one line of pixels to `widths`: `n`
/// samples at `gray[offset(i)]`, i = 0..n-1, each width times `spacing`. `alpha` as in
/// edge_width_cpu. `runs`: scratch of at least n entries.
///
/// Branch-light on purpose: on textured images the sign of the differences changes at random,
/// and a branch per run end would be mispredicted half the time. Every step writes the current
/// run to `runs` and advances by one only when a run of a nonzero sign ends; a 0 difference (or
/// a transparent pixel) ends a run and starts none.
template <typename Offset>
inline void line_widths(const uint8_t* gray, const uint8_t* alpha, int n, Offset offset,
                        double spacing, int strong_rise, Run* runs, WidthHistogram& widths) {
  int ended = 0;
  int run_sign = 0;
  int rise = 0;
  int steepest = 0;
  for (int i = 0; i + 1 < n; ++i) {
    const size_t a = offset(i);
    const size_t b = offset(i + 1);
    int d = static_cast<int>(gray[b]) - static_cast<int>(gray[a]);
    if (alpha != nullptr) {
      d = (alpha[a] >= kEdgeOpaqueAlpha && alpha[b] >= kEdgeOpaqueAlpha) ? d : 0;
    }
    const int sign = (d > 0) - (d < 0);
    const int magnitude = d < 0 ? -d : d;
    const bool ends = sign != run_sign;
    runs[ended] = {rise, steepest};
    ended += static_cast<int>(ends && run_sign != 0);
    rise = ends ? d : rise + d;
    steepest = ends ? magnitude : std::max(steepest, magnitude);
    run_sign = sign;
  }
  runs[ended] = {rise, steepest};
  ended += static_cast<int>(run_sign != 0);
  for (int k = 0; k < ended; ++k) {
    const int r = runs[k].rise < 0 ? -runs[k].rise : runs[k].rise;
    if (r >= strong_rise) widths.add(spacing * r / runs[k].steepest);
  }
}

}  // namespace reference_detail

/// The scalar implementation edge_width_cpu replaced (git history: 643b4b4), kept as the
/// reference its results must equal bit for bit.
inline double edge_width_reference(const uint8_t* gray, const uint8_t* alpha, int width,
                                   int height) {
  if (width <= 0 || height <= 0) return 0;
  const size_t w = static_cast<size_t>(width);
  const int rise = strong_edge_rise(gray, alpha, width, height);
  reference_detail::WidthHistogram widths;
  std::vector<reference_detail::Run> runs(static_cast<size_t>(std::max(width, height)) + 1);
  double widest = 0;
  const auto judge = [&] {
    if (widths.total >= kMinStrongEdges) widest = std::max(widest, widths.low_percentile());
    widths.clear();
  };
  // Rows, then columns.
  for (int y = 0; y < height; ++y) {
    reference_detail::line_widths(
        gray, alpha, width, [&](int i) { return y * w + static_cast<size_t>(i); }, 1.0, rise,
        runs.data(), widths);
  }
  judge();
  for (int x = 0; x < width; ++x) {
    reference_detail::line_widths(
        gray, alpha, height, [&](int i) { return static_cast<size_t>(i) * w + x; }, 1.0, rise,
        runs.data(), widths);
  }
  judge();
  // Diagonals down-right (x - y = k) and down-left (x + y = k), each of at least 3 pixels.
  const double diagonal = std::sqrt(2.0);
  for (int k = -(height - 3); k <= width - 3; ++k) {
    const int y0 = std::max(0, -k);
    const int n = std::min(height - y0, width - (y0 + k));
    reference_detail::line_widths(
        gray, alpha, n, [&](int i) { return static_cast<size_t>(y0 + i) * w + (y0 + i + k); },
        diagonal, rise, runs.data(), widths);
  }
  judge();
  for (int k = 2; k <= width + height - 4; ++k) {
    const int y0 = std::max(0, k - (width - 1));
    const int n = std::min(height - y0, k - y0 + 1);
    reference_detail::line_widths(
        gray, alpha, n, [&](int i) { return static_cast<size_t>(y0 + i) * w + (k - y0 - i); },
        diagonal, rise, runs.data(), widths);
  }
  judge();
  return widest;
}

}  // namespace vpipe
