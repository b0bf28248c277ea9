#include "vpipe/quality/edge_width.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace vpipe {
namespace {

/// Effective widths are counted in bins of 1/kBinsPerPixel px up to kMaxBinnedWidth px, the rest
/// in one last bin; a percentile reads the mean of its bin (exact when the bin holds one value;
/// off by at most half a bin, 1/64 px, otherwise). Counting instead of selecting keeps a textured
/// image (tens of thousands of strong edges) cheap.
constexpr int kBinsPerPixel = 32;
constexpr int kMaxBinnedWidth = 32;
constexpr int kBins = kBinsPerPixel * kMaxBinnedWidth + 1;

/// One direction's strong edges, and the percentile of their widths.
///
/// The walks below find the edges step by step across all lines at once, not one line after
/// another. A bin's count does not depend on that order, but a bin's mean is a sum of doubles,
/// and a floating-point sum does: so the (at most two) bins the percentile reads are summed in
/// line order, and along each line from its start, the order of a walk of one line after
/// another, which edge_width_cpu's result is defined (and tested) by.
class WidthHistogram {
 public:
  /// `spacing`: pixels per step along this direction's lines (1, or sqrt 2 along a diagonal).
  explicit WidthHistogram(double spacing) : spacing_(spacing) {}

  /// A strong edge (rise >= the image's strong_edge_rise, steepest >= 1, both <= 255) of line
  /// `line`; one line's edges come in order along it. `steepest_at`: the index of the pixel where the
  /// edge's steepest step starts (the first one, if tied); not read yet (the place to gate an
  /// edge by the local gradient direction).
  void add(int line, int rise, int steepest, [[maybe_unused]] size_t steepest_at) {
    lines_.push_back(line);
    rises_.push_back(static_cast<uint8_t>(rise));
    steepests_.push_back(static_cast<uint8_t>(steepest));
  }

  [[nodiscard]] int64_t total() const { return static_cast<int64_t>(lines_.size()); }

  /// The 20th percentile of the widths, interpolating between the order statistics at rank
  /// 0.2 * (n - 1) as numpy's default does; each order statistic reads its bin's mean.
  /// total() > 0; `lines`: the number of lines (every edge's line is below it).
  [[nodiscard]] double low_percentile(int lines) {
    bins_.resize(lines_.size());
    for (size_t i = 0; i < lines_.size(); ++i) {
      bins_[i] =
          static_cast<uint16_t>(std::min(kBins - 1, static_cast<int>(width(i) * kBinsPerPixel)));
    }
    // Four partial counts: in one, runs of equal bins (common: a width of exactly 1 px) would
    // wait on each other's increments.
    constexpr auto kStride = static_cast<size_t>(kBins);
    std::vector<uint32_t> partial(4 * kStride, 0);
    size_t i = 0;
    for (; i + 4 <= bins_.size(); i += 4) {
      for (size_t j = 0; j < 4; ++j) ++partial[j * kStride + bins_[i + j]];
    }
    for (; i < bins_.size(); ++i) ++partial[bins_[i]];
    count_.resize(kStride);
    for (size_t b = 0; b < kStride; ++b) {
      count_[b] =
          partial[b] + partial[kStride + b] + partial[2 * kStride + b] + partial[3 * kStride + b];
    }
    constexpr double kPercentile = 0.20;
    const int64_t total = this->total();
    const double rank = kPercentile * static_cast<double>(total - 1);
    const auto lo = static_cast<int64_t>(rank);
    const int low_bin = bin_at_rank(lo);
    const int high_bin = lo + 1 < total ? bin_at_rank(lo + 1) : low_bin;
    const auto [low_sum, high_sum] = sums_in_line_order(low_bin, high_bin, lines);
    const double low = low_sum / count_[static_cast<size_t>(low_bin)];
    if (lo + 1 >= total) return low;
    const double high = high_sum / count_[static_cast<size_t>(high_bin)];
    return low + (high - low) * (rank - static_cast<double>(lo));
  }

 private:
  /// The effective width of edge i, computed as the reference walk computes it.
  [[nodiscard]] double width(size_t i) const {
    return spacing_ * static_cast<int>(rises_[i]) / static_cast<int>(steepests_[i]);
  }

  /// The bin holding the width at 0-based rank r < total().
  [[nodiscard]] int bin_at_rank(int64_t r) const {
    int64_t seen = 0;
    for (int b = 0; b < kBins - 1; ++b) {
      seen += count_[static_cast<size_t>(b)];
      if (seen > r) return b;
    }
    return kBins - 1;
  }

  /// The sums of the widths in bins a and b (equal or not), each added up in line order.
  [[nodiscard]] std::pair<double, double> sums_in_line_order(int a, int b, int lines) const {
    // A stable counting sort by line of the edges in the two bins: the edges of one line were
    // found, and stay, in order along it.
    std::vector<uint32_t> in_bins(bins_.size());
    size_t matches = 0;
    for (size_t i = 0; i < bins_.size(); ++i) {
      in_bins[matches] = static_cast<uint32_t>(i);
      matches += static_cast<size_t>(bins_[i] == a || bins_[i] == b);  // branch-free: no guess
    }
    in_bins.resize(matches);
    std::vector<uint32_t> first(static_cast<size_t>(lines) + 1, 0);
    for (const uint32_t i : in_bins) ++first[static_cast<size_t>(lines_[i]) + 1];
    std::partial_sum(first.begin(), first.end(), first.begin());
    std::vector<uint32_t> order(in_bins.size());
    for (const uint32_t i : in_bins) order[first[static_cast<size_t>(lines_[i])]++] = i;
    double a_sum = 0.0;
    double b_sum = 0.0;
    for (const uint32_t i : order) (bins_[i] == a ? a_sum : b_sum) += width(i);
    return {a_sum, a == b ? a_sum : b_sum};
  }

  double spacing_;
  std::vector<int32_t> lines_;  ///< per edge, in the order found
  std::vector<uint8_t> rises_;
  std::vector<uint8_t> steepests_;
  std::vector<uint16_t> bins_;   ///< per edge, its width's bin (low_percentile)
  std::vector<uint32_t> count_;  ///< per bin, its edges (low_percentile)
};

/// The runs in progress along a set of parallel lines, one lane per line, all advanced together
/// one step (one pixel difference per lane) at a time, so that a step is a loop over lanes: 16
/// lanes to an SSE2 instruction. The state arrays hold one byte per lane; the ended_* arrays,
/// indexed from the last step's first lane, describe the run the last step ended there.
///
/// A byte holds every value: a monotonic run of 8-bit pixels rises at most 255 gray levels, and
/// (each of its steps changing the level) lasts at most 255 steps, so a step index mod 256
/// still names one step of the run.
struct LaneRuns {
  /// `strong_rise`: the image's strong_edge_rise.
  LaneRuns(int lanes, int lanes_per_step, int strong_rise)
      : rise(strong_rise),
        sign(static_cast<size_t>(lanes), 0),
        start(static_cast<size_t>(lanes), 0),
        steepest(static_cast<size_t>(lanes), 0),
        steepest_at(static_cast<size_t>(lanes), 0),
        ended_rise(static_cast<size_t>(lanes_per_step), 0),
        ended_steepest(static_cast<size_t>(lanes_per_step), 0),
        ended_steepest_at(static_cast<size_t>(lanes_per_step), 0),
        ended_strong(static_cast<size_t>(lanes_per_step) / 64 + 1, 0),
        ended_strong_bytes(static_cast<size_t>(lanes_per_step + 7) / 8 * 8, 0) {}

  int rise;                          ///< the smallest rise of a strong edge, 1..255
  std::vector<uint8_t> sign;         ///< of the current run: 1 rising, 255 falling, 0 none
  std::vector<uint8_t> start;        ///< the gray level it started from
  std::vector<uint8_t> steepest;     ///< its largest single step so far
  std::vector<uint8_t> steepest_at;  ///< that step's index (the first one if tied), mod 256
  std::vector<uint8_t> ended_rise;   ///< |H| of the run the last step ended
  std::vector<uint8_t> ended_steepest;
  std::vector<uint8_t> ended_steepest_at;
  /// Bit i (of word i / 64, bit i % 64) set where the last step ended a strong edge: an ended
  /// run of sign != 0 and rise >= `rise`. Bits past the step's lanes are stale.
  std::vector<uint64_t> ended_strong;
  /// step_lanes_portable's ended_strong, 255 where set; padded to a multiple of 8.
  std::vector<uint8_t> ended_strong_bytes;
};

/// One step of a set of lanes: lane i of it goes from pixel from[i] to pixel to[i] (gray levels;
/// alpha from_alpha[i] and to_alpha[i], or both null); `index`: the index of from[i] along the
/// lines.
struct Step {
  const uint8_t* from;
  const uint8_t* to;
  const uint8_t* from_alpha;
  const uint8_t* to_alpha;
  int index;
};

/// step_lanes one lane at a time: for steps of fewer than 16 lanes, and where there is no SSE2
/// (branch-free, so that the compiler can vectorize it there). `sign` .. `steepest_at`: the
/// state arrays from the step's first lane; `ended_*`: LaneRuns' arrays of those names, but
/// ended_strong one byte per lane (0 or 255).
template <bool kAlpha>
void step_lanes_portable(int n, const Step& step, uint8_t* __restrict sign,
                         uint8_t* __restrict start, uint8_t* __restrict steepest,
                         uint8_t* __restrict steepest_at, uint8_t* __restrict ended_rise,
                         uint8_t* __restrict ended_steepest, uint8_t* __restrict ended_steepest_at,
                         uint8_t* __restrict ended_strong, int strong_rise) {
  const uint8_t* from = step.from;
  const uint8_t* to = step.to;
  const uint8_t* from_alpha = step.from_alpha;
  const uint8_t* to_alpha = step.to_alpha;
  const auto at = static_cast<uint8_t>(step.index);
  // In byte masks (0 or 255), as the SSE2 version.
  const auto mask = [](bool b) { return static_cast<uint8_t>(-static_cast<int>(b)); };
  for (int i = 0; i < n; ++i) {
    const uint8_t here = from[i];
    const uint8_t next = to[i];
    auto up = mask(next > here);
    auto down = mask(next < here);
    if constexpr (kAlpha) {
      const uint8_t opaque = mask(std::min(from_alpha[i], to_alpha[i]) >= kEdgeOpaqueAlpha);
      up &= opaque;
      down &= opaque;
    }
    const auto d_sign = static_cast<uint8_t>((up & 1) | down);
    const auto magnitude = static_cast<uint8_t>(std::max(here, next) - std::min(here, next));
    const uint8_t run_sign = sign[i];
    const uint8_t run_start = start[i];
    const uint8_t run_steepest = steepest[i];
    const uint8_t run_steepest_at = steepest_at[i];
    const uint8_t same = mask(d_sign == run_sign);
    const auto rise = static_cast<uint8_t>(std::max(here, run_start) - std::min(here, run_start));
    ended_rise[i] = rise;
    ended_steepest[i] = run_steepest;
    ended_steepest_at[i] = run_steepest_at;
    ended_strong[i] =
        static_cast<uint8_t>(~same & mask(run_sign != 0) & mask(rise >= strong_rise));
    start[i] = static_cast<uint8_t>((same & run_start) | (~same & here));
    const uint8_t kept_steepest = same & mask(magnitude <= run_steepest);
    steepest_at[i] =
        static_cast<uint8_t>((kept_steepest & run_steepest_at) | (~kept_steepest & at));
    steepest[i] = std::max(static_cast<uint8_t>(same & run_steepest), magnitude);
    sign[i] = d_sign;
  }
}

#if defined(__SSE2__)
/// step_lanes for the 16 lanes from lane first + k (SSE2 is part of x86-64), the same updates as
/// step_lanes_portable; returns their ended_strong bits. With kTail, lanes below first + fresh
/// (k < fresh < k + 16) were stepped already: their state is left as is.
template <bool kAlpha, bool kTail>
uint32_t step_16_lanes(LaneRuns& runs, size_t first, size_t k, const Step& step, size_t fresh) {
  const auto load = [](const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  };
  const auto store = [](uint8_t* p, __m128i v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
  };
  const __m128i zero = _mm_setzero_si128();
  const __m128i one = _mm_set1_epi8(1);
  uint8_t* sign = runs.sign.data() + first + k;
  uint8_t* start = runs.start.data() + first + k;
  uint8_t* steepest = runs.steepest.data() + first + k;
  uint8_t* steepest_at = runs.steepest_at.data() + first + k;
  const __m128i here = load(step.from + k);
  const __m128i next = load(step.to + k);
  __m128i up = _mm_subs_epu8(next, here);  // the difference where rising, else 0
  __m128i down = _mm_subs_epu8(here, next);
  if constexpr (kAlpha) {
    const __m128i least = _mm_min_epu8(load(step.from_alpha + k), load(step.to_alpha + k));
    const __m128i opaque = _mm_cmpeq_epi8(
        _mm_max_epu8(least, _mm_set1_epi8(static_cast<char>(kEdgeOpaqueAlpha))), least);
    up = _mm_and_si128(up, opaque);
    down = _mm_and_si128(down, opaque);
  }
  const __m128i magnitude = _mm_or_si128(up, down);
  const __m128i d_sign = _mm_sub_epi8(_mm_min_epu8(up, one), _mm_min_epu8(down, one));
  const __m128i run_sign = load(sign);
  const __m128i run_start = load(start);
  const __m128i run_steepest = load(steepest);
  const __m128i run_steepest_at = load(steepest_at);
  const __m128i same = _mm_cmpeq_epi8(d_sign, run_sign);  // the run goes on
  const __m128i rise = _mm_or_si128(_mm_subs_epu8(here, run_start), _mm_subs_epu8(run_start, here));
  const __m128i weak =
      _mm_cmpeq_epi8(_mm_subs_epu8(rise, _mm_set1_epi8(static_cast<char>(runs.rise - 1))), zero);
  const __m128i no_edge = _mm_or_si128(_mm_or_si128(same, _mm_cmpeq_epi8(run_sign, zero)), weak);
  store(runs.ended_rise.data() + k, rise);
  store(runs.ended_steepest.data() + k, run_steepest);
  store(runs.ended_steepest_at.data() + k, run_steepest_at);
  const __m128i kept_steepest =
      _mm_and_si128(same, _mm_cmpeq_epi8(_mm_max_epu8(run_steepest, magnitude), run_steepest));
  const __m128i at = _mm_set1_epi8(static_cast<char>(static_cast<uint8_t>(step.index)));
  __m128i new_sign = d_sign;
  __m128i new_start = _mm_or_si128(_mm_and_si128(same, run_start), _mm_andnot_si128(same, here));
  __m128i new_steepest = _mm_max_epu8(_mm_and_si128(same, run_steepest), magnitude);
  __m128i new_steepest_at = _mm_or_si128(_mm_and_si128(kept_steepest, run_steepest_at),
                                         _mm_andnot_si128(kept_steepest, at));
  if constexpr (kTail) {
    // 255 for the lanes below first + fresh: 16 - (fresh - k) bytes into 16 x 255, 16 x 0.
    static constexpr uint8_t kStepped[32] = {255, 255, 255, 255, 255, 255, 255, 255,
                                             255, 255, 255, 255, 255, 255, 255, 255};
    const __m128i old = load(kStepped + 16 - (fresh - k));
    const auto keep = [&](__m128i fresh_value, __m128i old_value) {
      return _mm_or_si128(_mm_and_si128(old, old_value), _mm_andnot_si128(old, fresh_value));
    };
    new_sign = keep(new_sign, run_sign);
    new_start = keep(new_start, run_start);
    new_steepest = keep(new_steepest, run_steepest);
    new_steepest_at = keep(new_steepest_at, run_steepest_at);
  }
  store(sign, new_sign);
  store(start, new_start);
  store(steepest, new_steepest);
  store(steepest_at, new_steepest_at);
  return static_cast<uint32_t>(_mm_movemask_epi8(no_edge)) ^ 0xFFFFu;
}
#endif

/// Advances lanes [first, first + n) by one step: lane first + i goes from step.from[i] to
/// step.to[i]. A run is the reference's: it ends where the difference changes sign or is 0 (a
/// transparent pixel makes it 0), and a 0 difference starts none. Its rise is the telescoped sum
/// of its differences: the pixel where it ends minus the pixel it started from.
template <bool kAlpha>
void step_lanes(LaneRuns& runs, int first, int n, const Step& step) {
  const auto lane = static_cast<size_t>(first);
  const auto count = static_cast<size_t>(n);
#if defined(__SSE2__)
  if (count >= 16) {
    // The last 16 lanes first, changing only those past the last multiple of 16, then the
    // multiples of 16; each stores its bits where they belong (x86 is little-endian: byte j of
    // the words holds the bits of lanes 8j .. 8j + 7).
    const size_t whole = count / 16 * 16;
    auto* bits = reinterpret_cast<uint8_t*>(runs.ended_strong.data());
    if (whole < count) {
      const uint32_t tail = step_16_lanes<kAlpha, true>(runs, lane, count - 16, step, whole) >>
                            (16 - (count - whole));
      const auto tail_bits = static_cast<uint16_t>(tail);
      std::memcpy(bits + whole / 8, &tail_bits, sizeof tail_bits);
    }
    for (size_t k = 0; k < whole; k += 16) {
      const auto chunk =
          static_cast<uint16_t>(step_16_lanes<kAlpha, false>(runs, lane, k, step, 0));
      std::memcpy(bits + k / 8, &chunk, sizeof chunk);
    }
    return;
  }
#endif
  uint8_t* strong = runs.ended_strong_bytes.data();
  step_lanes_portable<kAlpha>(n, step, runs.sign.data() + lane, runs.start.data() + lane,
                              runs.steepest.data() + lane, runs.steepest_at.data() + lane,
                              runs.ended_rise.data(), runs.ended_steepest.data(),
                              runs.ended_steepest_at.data(), strong, runs.rise);
  for (size_t i = 0; i < count; i += 8) {
    uint64_t bits = 0;  // bit j from byte i + j: its 255 has every bit set
    for (unsigned j = 0; j < 8; ++j) bits |= strong[i + j] & (1u << j);
    uint64_t& word = runs.ended_strong[i / 64];
    word = (i % 64 == 0 ? 0 : word) | bits << (i % 64);
  }
}

/// Where the lane walks hand an ended run to the histogram: a strong edge of line `lane`
/// unless the lane is outside [min_line, max_line], ended at step `step`. pixel_at(lane, step):
/// the index of the pixel at that step of that lane's line.
template <typename PixelAt>
struct EdgeSink {
  PixelAt pixel_at;
  int min_line;
  int max_line;
  WidthHistogram& widths;

  void add(int lane, int step, int rise, int steepest, uint8_t steepest_at) const {
    if (lane < min_line || lane > max_line) return;
    // The run's steepest step is the last one before `step` whose index matches mod 256.
    const int back = static_cast<uint8_t>(static_cast<uint8_t>(step) - steepest_at);
    widths.add(lane, rise, steepest, pixel_at(lane, step - back));
  }
};

/// Adds the strong edges the last step_lanes call (lanes [first, first + n), step `step`) ended.
template <typename Sink>
void add_strong_edges(const LaneRuns& runs, int first, int n, int step, const Sink& sink) {
  for (int w0 = 0; w0 < n; w0 += 64) {
    uint64_t word = runs.ended_strong[static_cast<size_t>(w0 / 64)];
    if (n - w0 < 64) word &= (uint64_t{1} << (n - w0)) - 1;  // past n: stale bits
    for (; word != 0; word &= word - 1) {
      const auto i = static_cast<size_t>(w0 + std::countr_zero(word));
      sink.add(first + static_cast<int>(i), step, runs.ended_rise[i], runs.ended_steepest[i],
               runs.ended_steepest_at[i]);
    }
  }
}

/// Ends the line of `lane` at the gray level `last`, at step `step` (its last pixel's index).
template <typename Sink>
void end_line(LaneRuns& runs, int lane, uint8_t last, int step, const Sink& sink) {
  const auto l = static_cast<size_t>(lane);
  const int rise = std::abs(static_cast<int>(last) - static_cast<int>(runs.start[l]));
  if (runs.sign[l] != 0 && rise >= runs.rise) {
    sink.add(lane, step, rise, runs.steepest[l], runs.steepest_at[l]);
  }
  runs.sign[l] = 0;
}

/// The columns of `gray` (width * height bytes, row-major; `alpha` likewise, or null), each
/// column one line, numbered by x. pixel_at(x, y): the index an edge reports for that pixel
/// (the rows are walked as the columns of the transposed image).
template <bool kAlpha, typename PixelAt>
void walk_columns(const uint8_t* gray, const uint8_t* alpha, int width, int height,
                  PixelAt pixel_at, int strong_rise, WidthHistogram& widths) {
  const auto w = static_cast<size_t>(width);
  const EdgeSink<PixelAt> sink{pixel_at, 0, width - 1, widths};
  LaneRuns runs(width, width, strong_rise);
  for (int y = 0; y + 1 < height; ++y) {
    const size_t row = static_cast<size_t>(y) * w;
    const Step step{gray + row, gray + row + w, kAlpha ? alpha + row : nullptr,
                    kAlpha ? alpha + row + w : nullptr, y};
    step_lanes<kAlpha>(runs, 0, width, step);
    add_strong_edges(runs, 0, width, y, sink);
  }
  const uint8_t* last = gray + static_cast<size_t>(height - 1) * w;
  for (int x = 0; x < width; ++x) end_line(runs, x, last[x], height - 1, sink);
}

/// The diagonals down-right (x - y = k, lane k + height - 1) or down-left (x + y = k, lane k).
/// The reference walks only lanes 2 .. width + height - 4 (at least 3 pixels when both sides
/// are); the corner lanes are stepped too, but their edges dropped.
template <bool kAlpha, bool kDownRight>
void walk_diagonals(const uint8_t* gray, const uint8_t* alpha, int width, int height,
                    int strong_rise, WidthHistogram& widths) {
  const auto w = static_cast<size_t>(width);
  const auto lane_of = [&](int x, int y) { return kDownRight ? x - y + height - 1 : x + y; };
  const auto pixel_at = [&](int lane, int y) {
    const int x = kDownRight ? lane + y - (height - 1) : lane - y;
    return static_cast<size_t>(y) * w + static_cast<size_t>(x);
  };
  const EdgeSink<decltype(pixel_at)> sink{pixel_at, 2, width + height - 4, widths};
  LaneRuns runs(width + height - 1, width, strong_rise);
  // Every pixel of a row but one steps to the next row; the one at the right (down-right) or
  // left (down-left) end is the last pixel of its line.
  const int x_first = kDownRight ? 0 : 1;
  const int x_last = kDownRight ? width - 1 : 0;
  const int dx = kDownRight ? 1 : -1;
  for (int y = 0; y + 1 < height; ++y) {
    const size_t from = static_cast<size_t>(y) * w + static_cast<size_t>(x_first);
    const size_t to = static_cast<size_t>(y + 1) * w + static_cast<size_t>(x_first + dx);
    const Step step{gray + from, gray + to, kAlpha ? alpha + from : nullptr,
                    kAlpha ? alpha + to : nullptr, y};
    const int first = lane_of(x_first, y);
    step_lanes<kAlpha>(runs, first, width - 1, step);
    add_strong_edges(runs, first, width - 1, y, sink);
    if (y + 2 < height) {
      const size_t end = static_cast<size_t>(y + 1) * w + static_cast<size_t>(x_last);
      end_line(runs, lane_of(x_last, y + 1), gray[end], y + 1, sink);
    }
  }
  const uint8_t* last = gray + static_cast<size_t>(height - 1) * w;
  for (int x = 0; x < width; ++x) end_line(runs, lane_of(x, height - 1), last[x], height - 1, sink);
}

#if defined(__SSE2__)
/// The 16 x 16 tile at src (row stride src_stride bytes) transposed to dst (stride dst_stride):
/// four rounds of interleaving leave the tile's column c in register bit-reverse(c).
void transpose_16x16_sse2(const uint8_t* src, size_t src_stride, uint8_t* dst, size_t dst_stride) {
  __m128i a[16];
  __m128i b[16];
  for (size_t r = 0; r < 16; ++r) {
    a[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + r * src_stride));
  }
  for (int i = 0; i < 8; ++i) {
    b[i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
    b[i + 8] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
  }
  for (int i = 0; i < 8; ++i) {
    a[i] = _mm_unpacklo_epi16(b[2 * i], b[2 * i + 1]);
    a[i + 8] = _mm_unpackhi_epi16(b[2 * i], b[2 * i + 1]);
  }
  for (int i = 0; i < 8; ++i) {
    b[i] = _mm_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
    b[i + 8] = _mm_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
  }
  for (int i = 0; i < 8; ++i) {
    a[i] = _mm_unpacklo_epi64(b[2 * i], b[2 * i + 1]);
    a[i + 8] = _mm_unpackhi_epi64(b[2 * i], b[2 * i + 1]);
  }
  for (size_t i = 0; i < 16; ++i) {
    const size_t c = ((i & 1) << 3) | ((i & 2) << 1) | ((i & 4) >> 1) | ((i & 8) >> 3);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + c * dst_stride), a[i]);
  }
}
#endif

/// dst (height * width bytes, row-major) = the transpose of src (width * height bytes), in
/// tiles of 16 x 16.
void transpose(const uint8_t* src, int width, int height, uint8_t* dst) {
  constexpr size_t kTile = 16;
  const auto w = static_cast<size_t>(width);
  const auto h = static_cast<size_t>(height);
  for (size_t y0 = 0; y0 < h; y0 += kTile) {
    for (size_t x0 = 0; x0 < w; x0 += kTile) {
      const size_t y1 = std::min(y0 + kTile, h);
      const size_t x1 = std::min(x0 + kTile, w);
#if defined(__SSE2__)
      if (y1 - y0 == kTile && x1 - x0 == kTile) {
        transpose_16x16_sse2(src + y0 * w + x0, w, dst + x0 * h + y0, h);
        continue;
      }
#endif
      for (size_t x = x0; x < x1; ++x) {
        for (size_t y = y0; y < y1; ++y) dst[x * h + y] = src[y * w + x];
      }
    }
  }
}

template <bool kAlpha>
double edge_width_lanes(const uint8_t* gray, const uint8_t* alpha, int width, int height,
                        int rise) {
  const auto w = static_cast<size_t>(width);
  double widest = 0;
  const auto judge = [&](WidthHistogram& widths, int lines) {
    if (widths.total() >= kMinStrongEdges) {
      widest = std::max(widest, widths.low_percentile(lines));
    }
  };
  {
    // Rows: the columns of the transposed image, lane y.
    const size_t size = w * static_cast<size_t>(height);
    std::vector<uint8_t> gray_t(size);
    std::vector<uint8_t> alpha_t(kAlpha ? size : 0);
    transpose(gray, width, height, gray_t.data());
    if constexpr (kAlpha) transpose(alpha, width, height, alpha_t.data());
    WidthHistogram widths(1.0);
    walk_columns<kAlpha>(
        gray_t.data(), alpha_t.data(), height, width,
        [&](int y, int x) { return static_cast<size_t>(y) * w + static_cast<size_t>(x); }, rise,
        widths);
    judge(widths, height);
  }
  {
    WidthHistogram widths(1.0);
    walk_columns<kAlpha>(
        gray, alpha, width, height,
        [&](int x, int y) { return static_cast<size_t>(y) * w + static_cast<size_t>(x); }, rise,
        widths);
    judge(widths, width);
  }
  const double diagonal = std::sqrt(2.0);
  {
    WidthHistogram widths(diagonal);
    walk_diagonals<kAlpha, true>(gray, alpha, width, height, rise, widths);
    judge(widths, width + height - 1);
  }
  {
    WidthHistogram widths(diagonal);
    walk_diagonals<kAlpha, false>(gray, alpha, width, height, rise, widths);
    judge(widths, width + height - 1);
  }
  return widest;
}

}  // namespace

int strong_edge_rise(std::span<const int64_t, 256> counts, int64_t n) {
  if (n <= 0) return kMinStrongEdgeRise;
  // The lowest level with at least 1% of the pixels at or below it, and likewise from the top.
  const auto percent_from = [&](int first, int step) {
    int64_t seen = 0;
    int level = first;
    for (; level >= 0 && level <= 255; level += step) {
      seen += counts[static_cast<size_t>(level)];
      if (seen * 100 >= n) break;
    }
    return level;
  };
  const int range = percent_from(255, -1) - percent_from(0, 1);
  const long rise = std::lround(kStrongEdgeRiseShare * range);
  return static_cast<int>(std::clamp<long>(rise, kMinStrongEdgeRise, kMaxStrongEdgeRise));
}

int strong_edge_rise(const uint8_t* gray, const uint8_t* alpha, int width, int height) {
  if (width <= 0 || height <= 0) return kMinStrongEdgeRise;
  std::array<int64_t, 256> counts{};
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  int64_t counted = 0;
  for (size_t i = 0; i < n; ++i) {
    if (alpha != nullptr && alpha[i] < kEdgeOpaqueAlpha) continue;
    ++counts[gray[i]];
    ++counted;
  }
  return strong_edge_rise(counts, counted);
}

double edge_width_cpu(const uint8_t* gray, const uint8_t* alpha, int width, int height) {
  return edge_width_cpu(gray, alpha, width, height, strong_edge_rise(gray, alpha, width, height));
}

double edge_width_cpu(const uint8_t* gray, const uint8_t* alpha, int width, int height,
                      int strong_rise) {
  if (width <= 0 || height <= 0) return 0;
  return alpha != nullptr ? edge_width_lanes<true>(gray, alpha, width, height, strong_rise)
                          : edge_width_lanes<false>(gray, nullptr, width, height, strong_rise);
}

}  // namespace vpipe
