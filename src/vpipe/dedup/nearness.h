#pragma once

// The near-pair test of two grouping items over their stored, turned and windowed hashes: the
// one definition the Hamming searches of grouping.cpp find pairs by and the chain guard judges
// members by (docs/DEDUP.md). Internal to vpipe_dedup.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "vpipe/dedup/grouping.h"

namespace vpipe::grouping_detail {

/// The orientation that undoes `o`.
inline Orientation inverse(Orientation o) {
  if (o == Orientation::kRotate90) return Orientation::kRotate270;
  if (o == Orientation::kRotate270) return Orientation::kRotate90;
  return o;  // the others are their own inverse
}

/// The near-duplicate test of the options on one pair of distances.
struct MatchRule {
  NearMatch match;
  int phash_threshold;
  int dhash_threshold;

  /// The rule with each threshold `margin` smaller (below 0: none is accepted).
  [[nodiscard]] MatchRule stricter(int margin) const {
    return {match, std::max(phash_threshold - margin, -1), std::max(dhash_threshold - margin, -1)};
  }

  [[nodiscard]] bool accepts(int phash_distance, int dhash_distance) const {
    switch (match) {
      case NearMatch::kPhash: return phash_distance <= phash_threshold;
      case NearMatch::kDhash: return dhash_distance <= dhash_threshold;
      case NearMatch::kBoth:
        return phash_distance <= phash_threshold && dhash_distance <= dhash_threshold;
      case NearMatch::kEither:
        return phash_distance <= phash_threshold || dhash_distance <= dhash_threshold;
    }
    return false;
  }
};

/// The rules of one grouping: `stored` for the stored hashes, `variant` for a turn or a crop
/// window (each threshold DedupOptions::variant_margin smaller).
struct PairRule {
  MatchRule stored;
  MatchRule variant;

  [[nodiscard]] static PairRule of(const DedupOptions& options) {
    const MatchRule stored{options.match, options.phash_threshold, options.dhash_threshold};
    return {stored, stored.stricter(options.variant_margin)};
  }
};

/// Which hashes of an item a comparison reads: 0..7 the item turned by that Orientation (0: the
/// stored hashes), kFirstWindow + w its crop window w.
using Variant = size_t;
inline constexpr Variant kFirstWindow = kOrientationCount;

/// The (pHash, dHash) of `item` as `variant` reads it; the arrays it needs must be present.
inline std::pair<uint64_t, uint64_t> hashes_of(const GroupingItem& item, Variant variant) {
  if (variant == 0) return {item.phash, item.dhash};
  if (variant < kFirstWindow) {
    return {(*item.orientation_phash)[variant], (*item.orientation_dhash)[variant]};
  }
  return {(*item.crop_phash)[variant - kFirstWindow], (*item.crop_dhash)[variant - kFirstWindow]};
}

/// The orientation a near pair found through `variant` records: a crop window is the picture as
/// it stands.
inline Orientation orientation_of(Variant variant) {
  return variant < kFirstWindow ? static_cast<Orientation>(variant) : Orientation::kIdentity;
}

/// How near `b` is to `a`, and in which orientation.
struct Nearness {
  int phash_distance;
  int dhash_distance;
  Orientation orientation;
};

/// How near `b` is to `a`: `a` turned by each orientation against `b` (with `both_turns`, `b`
/// turned against `a` too), and, with crops, each crop window of either against the other as it
/// is. The best the rule accepts (rule.stored for the stored hashes, rule.variant for a turn or
/// a window; the smallest pHash distance, then dHash; the first found on a tie), orientation
/// such that b ~ a turned by it, or nullopt. With `any`, the first the rule accepts (is it a
/// pair at all?). Without orientation or crop hashes (or when `options` does not ask for them)
/// only the stored hashes are compared. The chain guard asks with `a` the keeper; the pairs the
/// searches find are those nearness with `both_turns` accepts.
[[nodiscard]] std::optional<Nearness> nearness(const GroupingItem& a, const GroupingItem& b,
                                               const PairRule& rule, const DedupOptions& options,
                                               bool both_turns = false, bool any = false);

}  // namespace vpipe::grouping_detail
