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
// A pixel of an alpha plane at least this opaque is measured (docs/SIGNALS.md).
constexpr uint8_t kOpaqueAlpha = 128;
static_assert(kOpaqueAlpha == kEdgeOpaqueAlpha, "edge_width_cpu reads the same alpha plane");
// A sample at or above this level counts as clipped (docs/SIGNALS.md, `clipped_fraction`): JPEG
// ringing keeps blown highlights a few levels under 255.
constexpr int kClippedLevel = 250;
// `highlight_level` is this percentile of the gray levels.
constexpr double kHighlightPercentile = 0.99;
// `highlight_plateau` (docs/SIGNALS.md): the share of pixels within kPlateauLevels of the image's
// top level, the highest level that kPlateauTopShare of them reach. A blown highlight is a plateau
// at the top of the histogram wherever a later tone edit moved it (darkened, it is still one, at a
// lower level); a photo's unclipped highlights thin out towards its top level.
constexpr int kPlateauLevels = 3;
constexpr double kPlateauTopShare = 0.001;

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

/// Variance of the same Laplacian as laplacian_variance, over the pixels of `gray` that are opaque
/// and whose four neighbours (mirrored the same way at the borders) are opaque too, so that the
/// edge between an opaque subject and transparency does not count. `alpha`: width * height bytes,
/// opaque when >= kOpaqueAlpha. 0 when no pixel qualifies. Equals laplacian_variance when every
/// pixel is opaque (the same integer sums).
double masked_laplacian_variance(const uint8_t* gray, const uint8_t* alpha, int width, int height) {
  static_assert(kOpaqueAlpha == 128);  // opaque <=> bit 7 set, so an AND of five tests them all
  int64_t sum = 0;
  int64_t sum_sq = 0;
  int64_t n = 0;
  constexpr int kChunk = 2048;  // as in laplacian_variance: 32-bit sums of a chunk cannot overflow
  for (int y = 0; y < height; ++y) {
    const size_t up = static_cast<size_t>(reflect101(y - 1, height)) * width;
    const size_t row = static_cast<size_t>(y) * width;
    const size_t down = static_cast<size_t>(reflect101(y + 1, height)) * width;
    // 1 when the pixel at column x and its 4 neighbours, from these columns, are opaque.
    const auto counts = [&](int x, size_t left, size_t right) {
      return (alpha[row + x] & alpha[up + x] & alpha[down + x] & alpha[left] & alpha[right]) >> 7;
    };
    const int last = width - 1;
    for (int x = 0; x <= last; x += std::max(last, 1)) {  // border columns, mirrored
      const size_t left = row + reflect101(x - 1, width);
      const size_t right = row + reflect101(x + 1, width);
      if (counts(x, left, right) == 0) continue;
      const int64_t l =
          gray[up + x] + gray[down + x] + gray[left] + gray[right] - 4 * gray[row + x];
      sum += l;
      sum_sq += l * l;
      ++n;
    }
    // The interior without branches: every pixel's Laplacian, weighted by 0 or 1.
    for (int x0 = 1; x0 < width - 1; x0 += kChunk) {
      const int x1 = std::min(width - 1, x0 + kChunk);
      int32_t chunk_sum = 0;
      int32_t chunk_sq = 0;
      int32_t chunk_n = 0;
      for (int x = x0; x < x1; ++x) {
        const int32_t m = counts(x, row + x - 1, row + x + 1);
        const int32_t l = m * (gray[up + x] + gray[down + x] + gray[row + x - 1] +
                               gray[row + x + 1] - 4 * gray[row + x]);
        chunk_sum += l;
        chunk_sq += l * l;
        chunk_n += m;
      }
      sum += chunk_sum;
      sum_sq += chunk_sq;
      n += chunk_n;
    }
  }
  if (n == 0) return 0;
  return variance_from_sums(static_cast<double>(sum), static_cast<double>(sum_sq),
                            static_cast<double>(n));
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

/// clipped_fraction and highlight_plateau from a 256-bin histogram of the pixels' brightest
/// channel (`counts`, n > 0 samples): the share at kClippedLevel or more, and the share within
/// kPlateauLevels of the image's top level (the highest level at least kPlateauTopShare of the
/// samples reach).
void top_signals(const std::array<int64_t, 256>& counts, int64_t n, QualitySignals& out) {
  int64_t clipped = 0;
  for (int v = kClippedLevel; v < 256; ++v) clipped += counts[v];
  out.clipped_fraction = static_cast<double>(clipped) / static_cast<double>(n);
  const auto reach = std::max<int64_t>(1, static_cast<int64_t>(
                                              std::ceil(kPlateauTopShare * static_cast<double>(n))));
  int64_t above = 0;
  int top = 255;
  for (; top > 0; --top) {
    above += counts[top];
    if (above >= reach) break;
  }
  int64_t plateau = 0;
  for (int v = std::max(0, top - kPlateauLevels); v < 256; ++v) plateau += counts[v];
  out.highlight_plateau = static_cast<double>(plateau) / static_cast<double>(n);
}

/// top_signals of the RGB pixels (HWC, tight, `pixels` of them) by their brightest channel; with
/// `alpha` (pixels bytes, may be null), of the `counted` opaque ones only.
void rgb_top_signals(const uint8_t* rgb, size_t pixels, const uint8_t* alpha, size_t counted,
                     QualitySignals& out) {
  std::array<std::array<uint32_t, 256>, 2> partial{};  // two, against store-to-load chains
  for (size_t i = 0; i < pixels; ++i) {
    if (alpha != nullptr && alpha[i] < kOpaqueAlpha) continue;
    ++partial[i & 1][std::max({rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]})];
  }
  std::array<int64_t, 256> counts{};
  for (int v = 0; v < 256; ++v) counts[v] = int64_t{partial[0][v]} + partial[1][v];
  top_signals(counts, static_cast<int64_t>(counted), out);
}

/// Fills brightness, contrast, dark/bright fractions, entropy, highlight_level and (for gray
/// images; RGB callers replace them) clipped_fraction and highlight_plateau from a 256-bin histogram of gray levels,
/// given as the sum of kParts histograms (partial[k][level]) over n > 0 pixels. Returns that
/// sum (for edge_width's strong_edge_rise).
template <size_t kParts>
std::array<int64_t, 256> signals_from_histogram(
    const std::array<std::array<uint32_t, 256>, kParts>& partial, size_t n, QualitySignals& out) {
  std::array<int64_t, 256> counts{};
  int64_t sum = 0;
  int64_t sum_sq = 0;
  int64_t dark = 0;
  int64_t bright = 0;
  double neg_entropy = 0;  // sum of p * log2(p)
  const double total = static_cast<double>(n);
  for (int v = 0; v < 256; ++v) {
    int64_t count = 0;
    for (size_t k = 0; k < kParts; ++k) count += partial[k][v];
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
  top_signals(counts, static_cast<int64_t>(n), out);
  return counts;
}

/// Fills brightness, contrast, dark/bright fractions and entropy from one 256-bin histogram of
/// `gray` (n bytes); returns the histogram.
std::array<int64_t, 256> histogram_signals(const uint8_t* gray, size_t n, QualitySignals& out) {
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
  return signals_from_histogram(partial, n, out);
}

/// histogram_signals over the `opaque` pixels of `gray` (n bytes) only: those whose `alpha`
/// (n bytes) is >= kOpaqueAlpha. `opaque` > 0. Returns their histogram.
std::array<int64_t, 256> masked_histogram_signals(const uint8_t* gray, const uint8_t* alpha,
                                                  size_t n, size_t opaque, QualitySignals& out) {
  // Row 1 counts the opaque pixels, row 0 the others (indexing by alpha >> 7 needs no branch).
  static_assert(kOpaqueAlpha == 128);
  std::array<std::array<uint32_t, 256>, 2> by_opacity{};
  for (size_t i = 0; i < n; ++i) ++by_opacity[alpha[i] >> 7][gray[i]];
  const std::array<std::array<uint32_t, 256>, 1> opaque_only{by_opacity[1]};
  return signals_from_histogram(opaque_only, opaque, out);
}

/// Hasler & Suesstrunk (2003) colourfulness of `rgb` (width * height * 3 bytes, HWC, tight):
/// sqrt(var_rg + var_yb) + 0.3 * sqrt(mean_rg^2 + mean_yb^2), rg = R - G, yb = (R + G) / 2 - B.
/// kMasked: only pixels whose `alpha` (pixels bytes) is >= kOpaqueAlpha count, and `counted` of
/// them do (> 0). A template, so that the unmasked loop stays branch-free.
double colorfulness_from_sums(int64_t sum_rg, int64_t sum_rg_sq, int64_t sum_yb2,
                              int64_t sum_yb2_sq, size_t counted) {
  const double n = static_cast<double>(counted);
  const double var_rg =
      variance_from_sums(static_cast<double>(sum_rg), static_cast<double>(sum_rg_sq), n);
  const double var_yb =
      variance_from_sums(static_cast<double>(sum_yb2), static_cast<double>(sum_yb2_sq), n) / 4;
  const double mean_rg = static_cast<double>(sum_rg) / n;
  const double mean_yb = static_cast<double>(sum_yb2) / (2 * n);
  return std::sqrt(var_rg + var_yb) + 0.3 * std::sqrt(mean_rg * mean_rg + mean_yb * mean_yb);
}

template <bool kMasked = false>
double colorfulness(const uint8_t* rgb, size_t pixels, const uint8_t* alpha = nullptr,
                    size_t counted = 0) {
  // yb is accumulated doubled (R + G - 2B) to stay in integers.
  int64_t sum_rg = 0;
  int64_t sum_rg_sq = 0;
  int64_t sum_yb2 = 0;
  int64_t sum_yb2_sq = 0;
  if constexpr (!kMasked) counted = pixels;
  for (size_t i = 0; i < pixels; ++i) {
    if constexpr (kMasked) {
      if (alpha[i] < kOpaqueAlpha) continue;
    }
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
  return colorfulness_from_sums(sum_rg, sum_rg_sq, sum_yb2, sum_yb2_sq, counted);
}

/// colorfulness() and the brightest-channel histogram of rgb_top_signals() of an opaque RGB image
/// (`pixels` pixels, HWC, tight) in one pass over its bytes: the same integer sums and counts, so
/// the same results bit for bit, for about half the time of the two passes. Writes colorfulness
/// into `out` and the histogram into `top_counts` (for top_signals, which must run after
/// histogram_signals: it replaces the gray values of clipped_fraction and highlight_plateau).
void opaque_rgb_pass(const uint8_t* rgb, size_t pixels, QualitySignals& out,
                     std::array<int64_t, 256>& top_counts) {
  int64_t sum_rg = 0;
  int64_t sum_rg_sq = 0;
  int64_t sum_yb2 = 0;
  int64_t sum_yb2_sq = 0;
  std::array<std::array<uint32_t, 256>, 2> partial{};  // two, against store-to-load chains
  // 32-bit sums per chunk: |yb2| <= 510, so 2048 squares stay below 2^31.
  constexpr size_t kChunk = 2048;
  for (size_t i0 = 0; i0 < pixels; i0 += kChunk) {
    const size_t i1 = std::min(pixels, i0 + kChunk);
    int32_t chunk_rg = 0;
    int32_t chunk_rg_sq = 0;
    int32_t chunk_yb2 = 0;
    int32_t chunk_yb2_sq = 0;
    for (size_t i = i0; i < i1; ++i) {
      const int r = rgb[3 * i];
      const int g = rgb[3 * i + 1];
      const int b = rgb[3 * i + 2];
      const int rg = r - g;
      const int yb2 = r + g - 2 * b;
      chunk_rg += rg;
      chunk_rg_sq += rg * rg;
      chunk_yb2 += yb2;
      chunk_yb2_sq += yb2 * yb2;
      ++partial[i & 1][std::max({r, g, b})];
    }
    sum_rg += chunk_rg;
    sum_rg_sq += chunk_rg_sq;
    sum_yb2 += chunk_yb2;
    sum_yb2_sq += chunk_yb2_sq;
  }
  out.colorfulness = colorfulness_from_sums(sum_rg, sum_rg_sq, sum_yb2, sum_yb2_sq, pixels);
  for (int v = 0; v < 256; ++v) top_counts[v] = int64_t{partial[0][v]} + partial[1][v];
}

/// quality_signals_cpu with an alpha plane: every signal over the opaque pixels only.
QualitySignals masked_quality_signals(const Image& working, const Image& alpha) {
  assert(alpha.channels == 1 && alpha.width == working.width && alpha.height == working.height &&
         "an alpha plane is one channel of the image's size");
  QualitySignals signals;
  const size_t pixels = static_cast<size_t>(working.width) * working.height;
  const uint8_t* a = alpha.pixels.data();
  const auto opaque = static_cast<size_t>(
      std::count_if(a, a + pixels, [](uint8_t v) { return v >= kOpaqueAlpha; }));
  signals.opaque_fraction = static_cast<double>(opaque) / static_cast<double>(pixels);
  if (opaque == 0) return signals;  // nothing to measure: every other signal stays 0

  const uint8_t* gray = working.pixels.data();
  Image gray_storage;
  if (working.channels == 3) {
    signals.colorfulness = colorfulness<true>(working.pixels.data(), pixels, a, opaque);
    gray_storage = to_gray(working);
    gray = gray_storage.pixels.data();
  }
  const std::array<int64_t, 256> counts =
      masked_histogram_signals(gray, a, pixels, opaque, signals);
  if (working.channels == 3) {
    rgb_top_signals(working.pixels.data(), pixels, a, opaque, signals);
  }
  signals.sharpness = masked_laplacian_variance(gray, a, working.width, working.height);
  signals.edge_width = edge_width_cpu(gray, a, working.width, working.height,
                                      strong_edge_rise(counts, static_cast<int64_t>(opaque)));
  return signals;
}

}  // namespace

QualitySignals quality_signals_cpu(const Image& working, const Image* alpha) {
  QualitySignals signals;
  if (working.empty()) {
    signals.opaque_fraction = 0;  // no pixel at all: all zeros
    return signals;
  }
  assert((working.channels == 1 || working.channels == 3) && "Image holds gray or RGB only");
  if (alpha != nullptr && !alpha->empty()) return masked_quality_signals(working, *alpha);
  // The same conversion as the scan pass's to_gray(), so every gray signal agrees with it.
  if (working.channels == 3) return quality_signals_cpu(working, to_gray(working));
  return quality_signals_cpu(working, working);
}

QualitySignals quality_signals_cpu(const Image& working, const Image& gray_image) {
  QualitySignals signals;
  if (working.empty()) {
    signals.opaque_fraction = 0;  // no pixel at all: all zeros
    return signals;
  }
  assert((working.channels == 1 || working.channels == 3) && "Image holds gray or RGB only");
  assert(gray_image.channels == 1 && gray_image.width == working.width &&
         gray_image.height == working.height && "gray is to_gray(working)");
  const size_t pixels = static_cast<size_t>(working.width) * working.height;
  const uint8_t* gray = gray_image.pixels.data();
  std::array<int64_t, 256> top_counts{};
  if (working.channels == 3) opaque_rgb_pass(working.pixels.data(), pixels, signals, top_counts);
  const std::array<int64_t, 256> counts = histogram_signals(gray, pixels, signals);
  // RGB: clipped_fraction and highlight_plateau by the brightest channel, as rgb_top_signals.
  if (working.channels == 3) top_signals(top_counts, static_cast<int64_t>(pixels), signals);
  signals.sharpness = laplacian_variance(gray, working.width, working.height);
  signals.edge_width = edge_width_cpu(gray, nullptr, working.width, working.height,
                                      strong_edge_rise(counts, static_cast<int64_t>(pixels)));
  return signals;
}

}  // namespace vpipe
