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

// --- Matches found by the searches, kept per pair so that settling needs no variant hashes ---
//
// A match code packs one accepted comparison as (pHash distance, dHash distance, order) into 19
// bits, so that the smaller code is the better match: the smaller pHash distance, then dHash,
// then the earlier comparison. `order` numbers the comparisons seen from a pair's side a: 0 the
// stored hashes, 1..7 a turned that way, 8 + 2w a's crop window w against b, 9 + 2w b's window
// w against a (b's turns are seen from b's side only).

/// No accepted comparison: above every code (the largest is 64 << 12 | 64 << 5 | 25).
inline constexpr uint32_t kNoMatch = (uint32_t{1} << 19) - 1;

[[nodiscard]] constexpr uint32_t match_code(int phash_distance, int dhash_distance, uint32_t order) {
  return static_cast<uint32_t>(phash_distance) << 12 | static_cast<uint32_t>(dhash_distance) << 5 |
         order;
}

/// The Nearness a code stands for, seen from its side (`a`, whose turns it counts).
[[nodiscard]] inline Nearness nearness_of(uint32_t code) {
  const uint32_t order = code & 31;
  return Nearness{static_cast<int>(code >> 12), static_cast<int>(code >> 5 & 127),
                  order < kOrientationCount ? static_cast<Orientation>(order)
                                            : Orientation::kIdentity};
}

/// A pair of positions the searches found, with the best match seen from each side: `low`
/// from the smaller position (nearness(low, high)), `high` from the larger.
/// 13 bytes, packed: at 2 M clustered files the search holds about 20 M of them.
struct __attribute__((packed)) PairMatch {
  uint64_t key;                ///< smaller position << 32 | larger
  uint32_t low : 19 = kNoMatch;
  uint32_t high : 19 = kNoMatch;

  [[nodiscard]] uint32_t first() const { return static_cast<uint32_t>(key >> 32); }
  [[nodiscard]] uint32_t second() const { return static_cast<uint32_t>(key & 0xffffffffU); }
  /// The code seen from position `side` (one of the two).
  [[nodiscard]] uint32_t from(uint32_t side) const { return side == first() ? low : high; }
  /// The other position than `side`.
  [[nodiscard]] uint32_t other(uint32_t side) const { return side == first() ? second() : first(); }
  /// Keeps the better match of each side.
  void merge(const PairMatch& m) {
    low = std::min<uint32_t>(low, m.low);
    high = std::min<uint32_t>(high, m.high);
  }
  /// The same pair seen the other way round (its sides swapped).
  void swap_sides() {
    const uint32_t was_low = low;
    low = high;
    high = was_low;
  }
};
static_assert(sizeof(PairMatch) == 13);

/// The match of a search's hit: position i's `variant` within the rule of position j's stored
/// hashes, at these distances (i != j).
[[nodiscard]] inline PairMatch pair_match(uint32_t i, uint32_t j, Variant variant,
                                          int phash_distance, int dhash_distance) {
  uint32_t from_i = kNoMatch;  // seen from i: its own turn or window
  uint32_t from_j = kNoMatch;  // seen from j: the other's window
  if (variant == 0) {
    from_i = from_j = match_code(phash_distance, dhash_distance, 0);
  } else if (variant < kFirstWindow) {
    from_i = match_code(phash_distance, dhash_distance, static_cast<uint32_t>(variant));
  } else {
    const auto w = static_cast<uint32_t>(variant - kFirstWindow);
    from_i = match_code(phash_distance, dhash_distance, 8 + 2 * w);
    from_j = match_code(phash_distance, dhash_distance, 9 + 2 * w);
  }
  if (i < j) return PairMatch{uint64_t{i} << 32 | j, from_i, from_j};
  return PairMatch{uint64_t{j} << 32 | i, from_j, from_i};
}

/// Every comparison of items a and b (positions ia != ib) the rule accepts, merged into one
/// PairMatch: what the searches find for the pair, over the variants `options` asks for and the
/// items have. nullopt when none is accepted.
[[nodiscard]] std::optional<PairMatch> pair_matches(const GroupingItem& a, const GroupingItem& b,
                                                    uint32_t ia, uint32_t ib, const PairRule& rule,
                                                    const DedupOptions& options);

/// How near `b` is to `a` (the keeper): the best match seen from a (its stored hashes, its
/// turns, either's crop windows: the low side of pair_matches(a, b, 0, 1)), orientation such
/// that b ~ a turned by it, or nullopt.
[[nodiscard]] std::optional<Nearness> nearness(const GroupingItem& a, const GroupingItem& b,
                                               const PairRule& rule, const DedupOptions& options);

/// The best match of the pair seen from either side, `a` its first position when `from_first`,
/// else its second, ties going to the earlier comparison in the order stored, then a's and b's
/// turn k, then a's and b's window w; orientation such that b ~ a turned by it (b's turns
/// inverted). nullopt when neither side has a match.
[[nodiscard]] inline std::optional<Nearness> both_ways(PairMatch m, bool from_first) {
  if (!from_first) m.swap_sides();  // seen from the second: it is `a`
  // Each side's order, renumbered into that order over both sides.
  const auto low_order = [](uint32_t o) {  // seen from a
    if (o == 0) return 0U;
    if (o < kOrientationCount) return 2 * o - 1;
    return o - 8 + 15;  // 8 + 2w (a's window) -> 15 + 2w, 9 + 2w (b's) -> 16 + 2w
  };
  const auto high_order = [](uint32_t o) {  // seen from b
    if (o == 0) return 0U;
    if (o < kOrientationCount) return 2 * o;
    return (o & 1) == 0 ? o - 8 + 16 : o - 9 + 15;  // b's own window -> 16 + 2w, a's -> 15 + 2w
  };
  // (distances, order in that call): the combined order runs to 32, past the code's 5 bits.
  const auto rekey = [](uint32_t code, uint32_t order) { return uint64_t{code >> 5} << 6 | order; };
  if (m.low == kNoMatch && m.high == kNoMatch) return std::nullopt;
  const uint64_t low = m.low == kNoMatch ? UINT64_MAX : rekey(m.low, low_order(m.low & 31));
  const uint64_t high = m.high == kNoMatch ? UINT64_MAX : rekey(m.high, high_order(m.high & 31));
  if (low <= high) return nearness_of(m.low);
  Nearness n = nearness_of(m.high);
  n.orientation = inverse(n.orientation);
  return n;
}

}  // namespace vpipe::grouping_detail
