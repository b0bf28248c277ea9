#include "vpipe/dedup/nearness.h"

#include "vpipe/dedup/hashes.h"

namespace vpipe::grouping_detail {

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

std::optional<Nearness> nearness(const GroupingItem& a, const GroupingItem& b,
                                 const PairRule& rule, const DedupOptions& options) {
  const std::optional<PairMatch> m = pair_matches(a, b, 0, 1, rule, options);
  if (!m || m->low == kNoMatch) return std::nullopt;
  return nearness_of(m->low);
}

}  // namespace vpipe::grouping_detail
