#include "vpipe/dedup/nearness.h"

#include <tuple>

#include "vpipe/dedup/hashes.h"

namespace vpipe::grouping_detail {

std::optional<Nearness> nearness(const GroupingItem& a, const GroupingItem& b,
                                 const PairRule& rule, const DedupOptions& options,
                                 bool both_turns, bool any) {
  std::optional<Nearness> best;
  // `from`'s variant against `to`'s stored hashes; `reversed`: from is b (its turn inverted).
  const auto consider = [&](const GroupingItem& from, const GroupingItem& to, Variant variant,
                            bool reversed) {
    if (any && best) return;
    const auto [fp, fd] = hashes_of(from, variant);
    const int dp = hamming_distance(fp, to.phash);
    const int dd = hamming_distance(fd, to.dhash);
    if (!(variant == 0 ? rule.stored : rule.variant).accepts(dp, dd)) return;
    if (best && std::tie(dp, dd) >= std::tie(best->phash_distance, best->dhash_distance)) return;
    const Orientation o = orientation_of(variant);
    best = Nearness{dp, dd, reversed ? inverse(o) : o};
  };
  consider(a, b, 0, false);
  if (options.orientations) {
    for (Variant k = 1; k < kOrientationCount; ++k) {
      if (a.orientation_phash != nullptr) consider(a, b, k, false);
      if (both_turns && b.orientation_phash != nullptr) consider(b, a, k, true);
    }
  }
  if (options.crops) {
    for (Variant w = kFirstWindow; w < kFirstWindow + kCropWindowCount; ++w) {
      if (a.crop_phash != nullptr) consider(a, b, w, false);
      if (b.crop_phash != nullptr) consider(b, a, w, true);
    }
  }
  return best;
}

std::optional<PairMatch> pair_matches(const GroupingItem& a, const GroupingItem& b, uint32_t ia,
                                      uint32_t ib, const PairRule& rule,
                                      const DedupOptions& options) {
  std::optional<PairMatch> out;
  // `from`'s variant against `to`'s stored hashes.
  const auto consider = [&](const GroupingItem& from, const GroupingItem& to, uint32_t from_at,
                            uint32_t to_at, Variant variant) {
    const auto [fp, fd] = hashes_of(from, variant);
    const int dp = hamming_distance(fp, to.phash);
    const int dd = hamming_distance(fd, to.dhash);
    if (!(variant == 0 ? rule.stored : rule.variant).accepts(dp, dd)) return;
    const PairMatch m = pair_match(from_at, to_at, variant, dp, dd);
    if (out) {
      out->merge(m);
    } else {
      out = m;
    }
  };
  consider(a, b, ia, ib, 0);
  if (options.orientations) {
    for (Variant k = 1; k < kOrientationCount; ++k) {
      if (a.orientation_phash != nullptr) consider(a, b, ia, ib, k);
      if (b.orientation_phash != nullptr) consider(b, a, ib, ia, k);
    }
  }
  if (options.crops) {
    for (Variant w = kFirstWindow; w < kFirstWindow + kCropWindowCount; ++w) {
      if (a.crop_phash != nullptr) consider(a, b, ia, ib, w);
      if (b.crop_phash != nullptr) consider(b, a, ib, ia, w);
    }
  }
  return out;
}

}  // namespace vpipe::grouping_detail
