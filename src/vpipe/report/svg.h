#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vpipe {

/// What a histogram bins: one measured value, over a fixed range, on a linear or log10 axis.
struct HistogramAxis {
  std::string signal;  ///< manifest/threshold name: "sharpness", "min_side", ...
  std::string title;   ///< shown above the chart
  std::string unit;    ///< shown after tick labels ("px", "bits"); may be empty
  double lo = 0;       ///< left edge of the first bin (> 0 when log_scale)
  double hi = 1;       ///< right edge of the last bin
  bool log_scale = false;
  int bins = 50;
};

/// A fixed-bin histogram of one value. Values outside [lo, hi] are counted in the first or last
/// bin (and in `below`/`above`, so the chart can say so); NaN is ignored. Memory is `bins`
/// counters whatever the number of values. Not thread-safe to fill.
class Histogram {
 public:
  explicit Histogram(HistogramAxis axis);

  void add(double value);

  [[nodiscard]] const HistogramAxis& axis() const { return axis_; }
  [[nodiscard]] const std::vector<int64_t>& counts() const { return counts_; }
  [[nodiscard]] int64_t total() const { return total_; }
  [[nodiscard]] int64_t below() const { return below_; }
  [[nodiscard]] int64_t above() const { return above_; }
  /// Position of `value` on the axis, 0 (lo) .. 1 (hi), clamped.
  [[nodiscard]] double position(double value) const;

 private:
  HistogramAxis axis_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
  int64_t below_ = 0;
  int64_t above_ = 0;
};

/// A quality threshold drawn on a histogram: a vertical line, its label, and the side it
/// rejects shaded.
struct ThresholdMarker {
  std::string rule;  ///< "blurry", "dark", ...
  double value = 0;
  bool rejects_below = true;
};

/// An inline SVG (no external references, styled by the page's CSS classes `hist-*`) drawing
/// `histogram` as bars with axis ticks, and each marker as a dashed line with its label and the
/// rejected side shaded. Every bar has a <title> tooltip (range and count).
[[nodiscard]] std::string render_histogram_svg(const Histogram& histogram,
                                               std::span<const ThresholdMarker> markers);

/// A number in few characters for labels: 0.5, 12, 1.2k, 3.4M.
[[nodiscard]] std::string short_number(double value);

}  // namespace vpipe
