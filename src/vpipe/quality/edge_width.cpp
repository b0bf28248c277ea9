#include "vpipe/quality/edge_width.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <vector>

namespace vpipe {
namespace {

/// Collects the effective widths of the strong edges along one line of pixels: `n` samples at
/// `gray[offset(i)]`, i = 0..n-1. `alpha` as in edge_width_cpu. Appends width * `spacing`.
template <typename Offset>
void line_widths(const uint8_t* gray, const uint8_t* alpha, int n, Offset offset, double spacing,
                 std::vector<double>& widths) {
  int run_sign = 0;
  int rise = 0;      // signed sum of the run's differences
  int steepest = 0;  // largest |difference| in the run
  const auto close_run = [&] {
    if (run_sign != 0 && std::abs(rise) >= kStrongEdgeRise) {
      widths.push_back(spacing * std::abs(rise) / steepest);
    }
    run_sign = 0;
    rise = 0;
    steepest = 0;
  };
  for (int i = 0; i + 1 < n; ++i) {
    const size_t a = offset(i);
    const size_t b = offset(i + 1);
    if (alpha != nullptr && (alpha[a] < kEdgeOpaqueAlpha || alpha[b] < kEdgeOpaqueAlpha)) {
      close_run();
      continue;
    }
    const int d = static_cast<int>(gray[b]) - static_cast<int>(gray[a]);
    const int sign = (d > 0) - (d < 0);
    if (sign != run_sign) close_run();
    if (sign == 0) continue;
    run_sign = sign;
    rise += d;
    steepest = std::max(steepest, std::abs(d));
  }
  close_run();
}

/// The 20th percentile of `values` (reordered), interpolating linearly between order statistics
/// at rank 0.2 * (n - 1), as numpy's default does.
double low_percentile(std::vector<double>& values) {
  constexpr double kPercentile = 0.20;
  const double rank = kPercentile * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(rank);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double low = values[lo];
  if (lo + 1 >= values.size()) return low;
  const double high = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1,
                                        values.end());
  return low + (high - low) * (rank - static_cast<double>(lo));
}

}  // namespace

double edge_width_cpu(const uint8_t* gray, const uint8_t* alpha, int width, int height) {
  if (width <= 0 || height <= 0) return 0;
  const size_t w = static_cast<size_t>(width);
  std::vector<double> widths;
  widths.reserve(w * 4);
  double widest = 0;
  const auto judge = [&] {
    if (static_cast<int>(widths.size()) >= kMinStrongEdges) {
      widest = std::max(widest, low_percentile(widths));
    }
    widths.clear();
  };
  // Rows, then columns.
  for (int y = 0; y < height; ++y) {
    line_widths(gray, alpha, width, [&](int i) { return y * w + static_cast<size_t>(i); }, 1.0,
                widths);
  }
  judge();
  for (int x = 0; x < width; ++x) {
    line_widths(gray, alpha, height, [&](int i) { return static_cast<size_t>(i) * w + x; }, 1.0,
                widths);
  }
  judge();
  // Diagonals down-right (x - y = k) and down-left (x + y = k), each of at least 3 pixels.
  const double diagonal = std::sqrt(2.0);
  for (int k = -(height - 3); k <= width - 3; ++k) {
    const int y0 = std::max(0, -k);
    const int n = std::min(height - y0, width - (y0 + k));
    line_widths(gray, alpha, n,
                [&](int i) { return static_cast<size_t>(y0 + i) * w + (y0 + i + k); }, diagonal,
                widths);
  }
  judge();
  for (int k = 2; k <= width + height - 4; ++k) {
    const int y0 = std::max(0, k - (width - 1));
    const int n = std::min(height - y0, k - y0 + 1);
    line_widths(gray, alpha, n,
                [&](int i) { return static_cast<size_t>(y0 + i) * w + (k - y0 - i); }, diagonal,
                widths);
  }
  judge();
  return widest;
}

}  // namespace vpipe
