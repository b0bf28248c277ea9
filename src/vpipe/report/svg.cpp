#include "vpipe/report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "vpipe/report/html.h"

namespace vpipe {
namespace {

// Chart geometry, in SVG user units (the SVG scales to its container).
constexpr double kWidth = 460;
constexpr double kHeight = 200;
constexpr double kLeft = 40;
constexpr double kRight = 12;
constexpr double kTop = 30;  // room for threshold labels
constexpr double kBottom = 24;
constexpr double kPlotW = kWidth - kLeft - kRight;
constexpr double kPlotH = kHeight - kTop - kBottom;

/// The smallest 1, 2 or 5 x 10^k that is >= value (value > 0).
double nice_ceil(double value) {
  const double exp = std::pow(10.0, std::floor(std::log10(value)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * exp >= value) return m * exp;
  }
  return 10 * exp;
}

/// Tick values along the axis: decades (and 2x, 5x on short log ranges), or a 1-2-5 step on a
/// linear one, about five of them.
std::vector<double> axis_ticks(const HistogramAxis& axis) {
  std::vector<double> ticks;
  if (axis.log_scale) {
    const int first = static_cast<int>(std::ceil(std::log10(axis.lo) - 1e-9));
    const int last = static_cast<int>(std::floor(std::log10(axis.hi) + 1e-9));
    const bool short_range = last - first < 3;
    for (int k = first - 1; k <= last; ++k) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (m != 1.0 && !short_range) continue;
        const double v = m * std::pow(10.0, k);
        if (v >= axis.lo * (1 - 1e-9) && v <= axis.hi * (1 + 1e-9)) ticks.push_back(v);
      }
    }
    return ticks;
  }
  const double step = nice_ceil((axis.hi - axis.lo) / 5.0);
  for (double v = std::ceil(axis.lo / step) * step; v <= axis.hi + step * 1e-9; v += step) {
    ticks.push_back(v);
  }
  return ticks;
}

std::string number_for_label(double value) { return fmt::format("{:.4g}", value); }

}  // namespace

std::string short_number(double value) {
  const double a = std::fabs(value);
  // Thresholds at 999.5 so that rounding to 3 digits never shows "1e+03k".
  if (a >= 999.5e6) return fmt::format("{:.3g}G", value / 1e9);
  if (a >= 999.5e3) return fmt::format("{:.3g}M", value / 1e6);
  if (a >= 999.5) return fmt::format("{:.3g}k", value / 1e3);
  return fmt::format("{:.3g}", value);
}

Histogram::Histogram(HistogramAxis axis)
    : axis_(std::move(axis)), counts_(static_cast<size_t>(std::max(1, axis_.bins)), 0) {}

double Histogram::position(double value) const {
  double t = 0;
  if (axis_.log_scale) {
    const double v = std::max(value, axis_.lo);
    t = (std::log10(v) - std::log10(axis_.lo)) / (std::log10(axis_.hi) - std::log10(axis_.lo));
  } else {
    t = (value - axis_.lo) / (axis_.hi - axis_.lo);
  }
  return std::clamp(t, 0.0, 1.0);
}

void Histogram::add(double value) {
  if (std::isnan(value)) return;
  ++total_;
  if (value < axis_.lo) ++below_;
  if (value > axis_.hi) ++above_;
  const auto n = static_cast<int64_t>(counts_.size());
  const auto bin =
      std::clamp(static_cast<int64_t>(position(value) * static_cast<double>(n)), int64_t{0}, n - 1);
  ++counts_[static_cast<size_t>(bin)];
}

std::string render_histogram_svg(const Histogram& histogram,
                                 std::span<const ThresholdMarker> markers) {
  const HistogramAxis& axis = histogram.axis();
  const std::vector<int64_t>& counts = histogram.counts();
  const auto n = static_cast<double>(counts.size());
  const auto x_of = [&](double t) { return kLeft + t * kPlotW; };
  const auto edge = [&](size_t i) {  // value at the left edge of bin i
    const double t = static_cast<double>(i) / n;
    if (axis.log_scale)
      return std::pow(10.0, std::log10(axis.lo) + t * (std::log10(axis.hi) - std::log10(axis.lo)));
    return axis.lo + t * (axis.hi - axis.lo);
  };

  std::string svg = fmt::format(
      "<svg class=\"hist\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"histogram of ", kWidth,
      kHeight);
  append_html_escaped(svg, axis.title);
  svg += "\" xmlns=\"http://www.w3.org/2000/svg\">";

  // Rejected regions first, so bars and lines draw over them.
  for (const ThresholdMarker& m : markers) {
    const double x = x_of(histogram.position(m.value));
    const double x0 = m.rejects_below ? kLeft : x;
    const double x1 = m.rejects_below ? x : kLeft + kPlotW;
    if (x1 - x0 > 0.1) {
      svg += fmt::format(
          "<rect class=\"hist-reject\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\"/>", x0,
          kTop, x1 - x0, kPlotH);
    }
  }

  const int64_t max_count = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  const double y_max = max_count > 0 ? nice_ceil(static_cast<double>(max_count)) : 1;
  // Horizontal grid lines and count labels at 0, half and the top.
  for (double f : {0.0, 0.5, 1.0}) {
    const double y = kTop + kPlotH * (1 - f);
    svg +=
        fmt::format("<line class=\"hist-grid\" x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\"/>",
                    kLeft, y, kLeft + kPlotW, y);
    svg += fmt::format(
        "<text class=\"hist-label\" x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", kLeft - 4,
        y + 3.5, short_number(y_max * f));
  }

  const double bin_w = kPlotW / n;
  const double gap = bin_w > 4 ? 1 : 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double lo = edge(i);
    const double hi = edge(i + 1);
    bool rejected = false;
    for (const ThresholdMarker& m : markers) {
      if ((m.rejects_below && hi <= m.value) || (!m.rejects_below && lo >= m.value))
        rejected = true;
    }
    const double h =
        counts[i] == 0 ? 0 : std::max(1.0, kPlotH * static_cast<double>(counts[i]) / y_max);
    const std::string range = fmt::format(
        "{}{} – {}{}", i == 0 && histogram.below() > 0 ? "≤ " : "", number_for_label(lo),
        number_for_label(hi), i + 1 == counts.size() && histogram.above() > 0 ? " and above" : "");
    svg += fmt::format(
        "<rect class=\"{}\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\">"
        "<title>{}{}: {} files</title></rect>",
        rejected ? "hist-bar hist-bar-rej" : "hist-bar", x_of(static_cast<double>(i) / n),
        kTop + kPlotH - h, std::max(0.5, bin_w - gap), h, range,
        axis.unit.empty() ? "" : " " + axis.unit, counts[i]);
  }

  // X axis and ticks.
  const double base_y = kTop + kPlotH;
  svg += fmt::format("<line class=\"hist-axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", kLeft,
                     base_y, kLeft + kPlotW, base_y);
  for (double v : axis_ticks(axis)) {
    const double x = x_of(histogram.position(v));
    svg += fmt::format(
        "<line class=\"hist-axis\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>"
        "<text class=\"hist-label\" x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>",
        x, base_y, base_y + 4, base_y + 15, short_number(v));
  }

  // Threshold lines, their labels on the rejected side (flipped when near an edge), staggered.
  for (size_t k = 0; k < markers.size(); ++k) {
    const ThresholdMarker& m = markers[k];
    const double x = x_of(histogram.position(m.value));
    svg += fmt::format(
        "<line class=\"hist-threshold\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>", x,
        kTop - 4, base_y);
    std::string label;
    append_html_escaped(label, m.rule);
    const std::string limit =
        fmt::format("{} {}", m.rejects_below ? "<" : ">", number_for_label(m.value));
    label += m.rejects_below ? " &lt; " : " &gt; ";
    label += number_for_label(m.value);
    // About 6.2 units per character at this font size; put the label on the rejected side unless
    // it would run off the chart there.
    const double width = 6.2 * static_cast<double>(m.rule.size() + 1 + limit.size()) + 4;
    bool left = m.rejects_below;
    if (left && x - width < kLeft) left = false;  // would cover the count labels
    if (!left && x + width > kWidth - 2) left = true;
    svg += fmt::format(
        "<text class=\"hist-threshold-label\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"{}\">{}</text>",
        left ? x - 4 : x + 4, k % 2 == 0 ? kTop - 8 : kTop - 19, left ? "end" : "start", label);
  }
  if (histogram.total() == 0) {
    svg += fmt::format(
        "<text class=\"hist-empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no values</text>",
        kLeft + kPlotW / 2, kTop + kPlotH / 2);
  }
  svg += "</svg>";
  return svg;
}

}  // namespace vpipe
