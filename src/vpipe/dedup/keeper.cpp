// The keeper policy: the order in which the members of a duplicate group are ranked
// (rank_keepers) and the words for why the first one won (explain_keeper). docs/DEDUP.md,
// "The keeper".

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <ctime>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "vpipe/dedup/grouping.h"

namespace vpipe {
namespace {

/// Sizes within 1% of the largest are a tie: a re-encode or a crop of a few pixels is the
/// same resolution.
constexpr double kSamePixelsRatio = 0.99;
/// Degradation scores within this of the lowest are a tie (the score's units: 0.1 = edges 10%
/// wider than the reference width beyond kBlurDeadZone, or 10 points more of the pixels on a
/// blown plateau, or 5 points of JPEG quality less).
constexpr double kDegradationMargin = 0.10;
/// Edge widths up to this much wider than the reference (the group's lower quartile) count as
/// no blur: a tone edit alone (gain, gamma, haze, contrast) changes which edges are strong and
/// moves the measured width by up to about 20% with no blur at all (docs/DEDUP.md).
constexpr double kBlurDeadZone = 0.20;
/// JPEG quality points per unit of degradation score.
constexpr double kJpegQualityPerUnit = 50;
/// The blur term of a member without strong edges among members that have them: at least as
/// blurred as the blurriest of those, and at least twice as wide as the reference.
constexpr double kNoEdgesBlur = 1.0;
/// Quality scores (0..1) less than this below the highest are a tie: a re-encode or a brightness
/// edit moves the score by noise, and the next criterion says more about which file is the
/// original.
constexpr double kQualityMargin = 0.02;

/// One step of the ranking: usable first, then the configured criteria, then the path's order.
enum class Step { kUsable, kCriterion, kPathOrder };

/// How degraded each member is, relative to the best value among the members compared (each
/// term >= 0, 0 for the best); lower is better.
struct Degradation {
  double blur = 0;         ///< edge width / the reference width - 1 - kBlurDeadZone, >= 0
  double highlights = 0;   ///< highlight_plateau - the lowest
  double compression = 0;  ///< (the highest JPEG quality - this one's) / 50, between JPEGs
  int jpeg_quality = 0;    ///< the estimate used, 0 = none
  [[nodiscard]] double total() const { return blur + highlights + compression; }
};

class Ranker {
 public:
  Ranker(std::span<const GroupingItem> members, std::span<const KeeperCriterion> order,
         const JpegQualityOf& jpeg_quality)
      : members_(members), order_(order), jpeg_quality_(jpeg_quality) {}

  [[nodiscard]] size_t steps() const { return order_.size() + 2; }
  [[nodiscard]] Step step_kind(size_t step) const {
    if (step == 0) return Step::kUsable;
    return step <= order_.size() ? Step::kCriterion : Step::kPathOrder;
  }
  [[nodiscard]] KeeperCriterion criterion(size_t step) const { return order_[step - 1]; }
  [[nodiscard]] std::string name(size_t step) const {
    switch (step_kind(step)) {
      case Step::kUsable:
        return "usable";
      case Step::kCriterion:
        return std::string(to_string(criterion(step)));
      case Step::kPathOrder:
        return "path_order";
    }
    return {};
  }

  /// Sorts `set` (indices into the members) best first by step `step` and returns the end of
  /// each tier, ascending (the last is set.size()). Ties inside a tier are in index order.
  std::vector<size_t> tiers(std::span<size_t> set, size_t step) const {
    const auto& m = members_;
    switch (step_kind(step)) {
      case Step::kUsable:
        return split(
            set, [&](size_t i) { return m[i].rejected; }, exact<bool>);
      case Step::kPathOrder:
        return split(
            set, [&](size_t i) { return std::make_pair(m[i].path, i); },
            exact<std::pair<std::string_view, size_t>>);
      case Step::kCriterion:
        break;
    }
    switch (criterion(step)) {
      case KeeperCriterion::kPixels:
        return split(
            set, [&](size_t i) { return -m[i].pixels; },
            [](int64_t anchor, int64_t key) {
              // keys are -pixels: within 1% of the anchor, the largest of the rest
              return static_cast<double>(-key) >= kSamePixelsRatio * static_cast<double>(-anchor);
            });
      case KeeperCriterion::kLeastDegraded: {
        const std::vector<Degradation> d = degradation(set);
        std::vector<double> score(m.size());
        for (size_t k = 0; k < set.size(); ++k) score[set[k]] = d[k].total();
        return split(
            set, [&](size_t i) { return score[i]; },
            [](double anchor, double key) {
              return key <= anchor + kDegradationMargin + 1e-9;  // 1e-9: sums of rounded terms
            });
      }
      case KeeperCriterion::kQuality:
        return split(
            set, [&](size_t i) { return -m[i].quality; },
            [](double anchor, double key) { return key - anchor < kQualityMargin; });
      case KeeperCriterion::kOldest:
        return split(
            set, [&](size_t i) { return m[i].mtime_ns; }, exact<int64_t>);
      case KeeperCriterion::kShortestPath:
        return split(
            set, [&](size_t i) { return m[i].path.size(); }, exact<size_t>);
    }
    return {set.size()};
  }

  /// Orders `set` best first, step by step (each step orders the tiers of the one before).
  void rank(std::span<size_t> set, size_t step = 0) const {
    if (set.size() < 2 || step == steps()) return;
    size_t begin = 0;
    for (size_t end : tiers(set, step)) {
      rank(set.subspan(begin, end - begin), step + 1);
      begin = end;
    }
  }

  /// The degradation of each of `set` (same order) relative to the best values in `set`.
  [[nodiscard]] std::vector<Degradation> degradation(std::span<const size_t> set) const {
    const auto& m = members_;
    std::vector<Degradation> out(set.size());
    std::vector<double> widths;  // of the members with strong edges
    double min_plateau = 1;
    size_t jpegs = 0;
    for (size_t i : set) {
      if (m[i].edge_width > 0) widths.push_back(m[i].edge_width);
      min_plateau = std::min(min_plateau, m[i].highlight_plateau);
      jpegs += m[i].jpeg ? 1 : 0;
    }
    // The reference width: the lower quartile of the members' (the narrowest of up to four).
    // Not the narrowest: a copy whose contrast was cut keeps only its steepest edges, and a
    // heavily compressed one has block edges, and either can measure narrower than the original.
    double reference = 0;
    if (!widths.empty()) {
      const auto quartile = widths.begin() + static_cast<std::ptrdiff_t>((widths.size() - 1) / 4);
      std::nth_element(widths.begin(), quartile, widths.end());
      reference = *quartile;
    }
    double blurriest = 0;
    for (size_t k = 0; k < set.size(); ++k) {
      const GroupingItem& item = m[set[k]];
      if (reference > 0 && item.edge_width > 0)
        out[k].blur = std::max(0.0, item.edge_width / reference - 1 - kBlurDeadZone);
      blurriest = std::max(blurriest, out[k].blur);
      out[k].highlights = std::max(0.0, item.highlight_plateau - min_plateau);
    }
    if (reference > 0) {
      // No strong edges at all while other copies have them: blurred past recognition.
      for (size_t k = 0; k < set.size(); ++k) {
        if (m[set[k]].edge_width <= 0) out[k].blur = std::max(kNoEdgesBlur, blurriest);
      }
    }
    // Compression only between JPEGs, and only when there are two to compare.
    if (jpegs >= 2 && jpeg_quality_) {
      int best = 0;
      int known = 0;
      for (size_t k = 0; k < set.size(); ++k) {
        if (!m[set[k]].jpeg) continue;
        out[k].jpeg_quality = std::clamp(jpeg_quality_(set[k]), 0, 100);
        if (out[k].jpeg_quality > 0) ++known;
        best = std::max(best, out[k].jpeg_quality);
      }
      for (size_t k = 0; k < set.size() && known >= 2; ++k) {
        if (out[k].jpeg_quality > 0)
          out[k].compression = (best - out[k].jpeg_quality) / kJpegQualityPerUnit;
      }
    }
    return out;
  }

 private:
  template <class Key>
  static bool exact(const Key& anchor, const Key& key) {
    return anchor == key;
  }

  /// Sorts `set` by (key, index) and cuts it into tiers: a tier starts at its best member (the
  /// anchor) and takes every following member for which same_tier(anchor key, key) holds.
  template <class KeyOf, class SameTier>
  static std::vector<size_t> split(std::span<size_t> set, KeyOf key_of, SameTier same_tier) {
    using Key = decltype(key_of(size_t{0}));
    std::vector<std::pair<Key, size_t>> keyed;
    keyed.reserve(set.size());
    for (size_t i : set) keyed.emplace_back(key_of(i), i);
    std::sort(keyed.begin(), keyed.end());
    std::vector<size_t> ends;
    for (size_t k = 0; k < keyed.size(); ++k) {
      set[k] = keyed[k].second;
      if (k > 0 && !same_tier(keyed[ends.empty() ? 0 : ends.back()].first, keyed[k].first)) {
        ends.push_back(k);
      }
    }
    ends.push_back(set.size());
    return ends;
  }

  std::span<const GroupingItem> members_;
  std::span<const KeeperCriterion> order_;
  const JpegQualityOf& jpeg_quality_;
};

/// "2%", "31%", "0.4%": whole percent, one decimal below 1%.
std::string percent(double fraction) {
  const double p = fraction * 100;
  return p > 0 && p < 1 ? fmt::format("{:.1f}%", p) : fmt::format("{:.0f}%", p);
}

/// The two values with as many decimals as it takes to tell them apart (2 to 4).
std::pair<std::string, std::string> scores_of(double a, double b) {
  std::pair<std::string, std::string> out;
  for (int decimals = 2; decimals <= 4; ++decimals) {
    out = {fmt::format("{:.{}f}", a, decimals), fmt::format("{:.{}f}", b, decimals)};
    if (out.first != out.second) break;
  }
  return out;
}

std::string size_of(const GroupingItem& item) {
  if (item.width > 0 && item.height > 0) return fmt::format("{}x{}", item.width, item.height);
  return fmt::format("{} pixels", item.pixels);
}

/// The modification times of a and b as dates, or, when the dates are equal, as UTC times with as
/// many decimals of the second as it takes to tell them apart.
std::pair<std::string, std::string> times_of(const GroupingItem& a, const GroupingItem& b) {
  constexpr int64_t kNsPerSecond = 1'000'000'000;
  const auto format = [](int64_t ns, int level) {
    int64_t seconds = ns / kNsPerSecond;
    int64_t fraction = ns % kNsPerSecond;
    if (fraction < 0) {  // before 1970: floor, so the fraction counts forward from the second
      --seconds;
      fraction += kNsPerSecond;
    }
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[32];
    std::string out(text, std::strftime(text, sizeof text,
                                        level == 0 ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S", &tm));
    if (level == 2) out += fmt::format(".{:03}", fraction / 1'000'000);
    if (level == 3) out += fmt::format(".{:09}", fraction);
    return out;
  };
  std::pair<std::string, std::string> out;
  for (int level = 0; level <= 3; ++level) {
    out = {format(a.mtime_ns, level), format(b.mtime_ns, level)};
    if (out.first != out.second) {
      if (level > 0) out.second += " UTC";
      break;
    }
  }
  return out;
}

/// The keeper against `other`, the best member the step `step` set it apart from; `set` the
/// members compared at that step (the degradation is relative to them).
std::string describe(const Ranker& ranker, size_t step, std::span<const GroupingItem> members,
                     std::span<const size_t> set, size_t keeper, size_t other, size_t beaten) {
  const GroupingItem& k = members[keeper];
  const GroupingItem& o = members[other];
  switch (ranker.step_kind(step)) {
    case Step::kUsable:
      return fmt::format("not rejected ({} rejected)", beaten);
    case Step::kPathOrder:
      return "first in path order (tied on every criterion)";
    case Step::kCriterion:
      break;
  }
  switch (ranker.criterion(step)) {
    case KeeperCriterion::kPixels:
      return fmt::format("largest ({} vs {})", size_of(k), size_of(o));
    case KeeperCriterion::kQuality: {
      const auto [a, b] = scores_of(k.quality, o.quality);
      return fmt::format("higher quality score ({} vs {})", a, b);
    }
    case KeeperCriterion::kOldest: {
      const auto [a, b] = times_of(k, o);
      return fmt::format("oldest ({} vs {})", a, b);
    }
    case KeeperCriterion::kShortestPath:
      return fmt::format("shortest path ({} vs {} bytes)", k.path.size(), o.path.size());
    case KeeperCriterion::kLeastDegraded:
      break;
  }
  const std::vector<Degradation> d = ranker.degradation(set);
  const auto at = [&](size_t member) {
    return d[static_cast<size_t>(std::find(set.begin(), set.end(), member) - set.begin())];
  };
  const Degradation dk = at(keeper);
  const Degradation dothers = at(other);
  // Name the term that differs most; on equal differences, the first of blur, highlights,
  // compression.
  const std::array<double, 3> gap = {dothers.blur - dk.blur, dothers.highlights - dk.highlights,
                                     dothers.compression - dk.compression};
  const auto largest = static_cast<size_t>(std::max_element(gap.begin(), gap.end()) - gap.begin());
  switch (largest) {
    case 0:
      if (o.edge_width <= 0) {
        return fmt::format("least degraded (edge width {:.1f} px vs no strong edges)",
                           k.edge_width);
      }
      return fmt::format("least degraded (edge width {:.1f} vs {:.1f} px)", k.edge_width,
                         o.edge_width);
    case 1:
      return fmt::format("least degraded (blown highlights {} vs {})",
                         percent(k.highlight_plateau), percent(o.highlight_plateau));
    default:
      if (dk.jpeg_quality == 0) {
        // The keeper is no JPEG (or its quality is unknown): the other lost to the best JPEG
        // copy, which the keeper tied with.
        const int best = std::max_element(d.begin(), d.end(), [](const auto& x, const auto& y) {
                           return x.jpeg_quality < y.jpeg_quality;
                         })->jpeg_quality;
        return fmt::format("least degraded ({} vs JPEG quality {}; best JPEG copy {})",
                           k.jpeg ? "JPEG quality unknown" : "not a JPEG", dothers.jpeg_quality,
                           best);
      }
      return fmt::format("higher JPEG quality ({} vs {})", dk.jpeg_quality, dothers.jpeg_quality);
  }
}

}  // namespace

void set_keeper_inputs(GroupingItem& item, const FileRecord& record) {
  item.size_bytes = record.size_bytes;
  item.mtime_ns = record.mtime_ns;
  item.width = record.width;
  item.height = record.height;
  item.pixels = int64_t{record.width} * record.height;
  item.jpeg = record.format == "jpeg";
  if (record.has_signals) {
    item.edge_width = record.quality.edge_width;
    item.highlight_plateau = record.quality.highlight_plateau;
  }
}

std::vector<size_t> rank_keepers(std::span<const GroupingItem> members,
                                 std::span<const KeeperCriterion> order,
                                 const JpegQualityOf& jpeg_quality) {
  std::vector<size_t> ranked(members.size());
  std::iota(ranked.begin(), ranked.end(), size_t{0});
  Ranker(members, order, jpeg_quality).rank(ranked);
  return ranked;
}

KeeperExplanation explain_keeper(std::span<const GroupingItem> members, size_t keeper,
                                 std::span<const KeeperCriterion> order,
                                 const JpegQualityOf& jpeg_quality) {
  assert(keeper < members.size());  // the keeper is one of the members
  const Ranker ranker(members, order, jpeg_quality);
  std::vector<size_t> tied(members.size());
  std::iota(tied.begin(), tied.end(), size_t{0});
  KeeperExplanation out;
  for (size_t step = 0; step < ranker.steps() && tied.size() > 1; ++step) {
    const std::vector<size_t> compared = tied;
    const std::vector<size_t> ends = ranker.tiers(tied, step);
    const size_t first_tier = ends.front();
    if (std::find(tied.begin(), tied.begin() + static_cast<std::ptrdiff_t>(first_tier), keeper) ==
        tied.begin() + static_cast<std::ptrdiff_t>(first_tier)) {
      return {"candidate_group",
              "chosen in a larger candidate group before the chain guard split it (or the files "
              "changed since the dedup pass)"};
    }
    if (first_tier == tied.size()) continue;  // a tie: the next step decides
    if (out.decided_by.empty()) out.decided_by = ranker.name(step);
    if (!out.text.empty()) out.text += "; ";
    out.text += describe(ranker, step, members, compared, keeper, tied[first_tier],
                         tied.size() - first_tier);
    tied.resize(first_tier);
  }
  if (members[keeper].rejected) out.text = "every member rejected; " + out.text;
  return out;
}

}  // namespace vpipe
