#include "vpipe/dedup/grouping.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "vpipe/core/log.h"
#include "vpipe/dedup/hamming_index.h"

namespace vpipe {
namespace {

/// Union-find over item indices with path halving and union by size.
class DisjointSets {
 public:
  explicit DisjointSets(size_t n) : parent_(n), size_(n, 1) {
    std::iota(parent_.begin(), parent_.end(), size_t{0});
  }
  size_t find(size_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void unite(size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
  }

 private:
  std::vector<size_t> parent_;
  std::vector<size_t> size_;
};

Orientation inverse(Orientation o) {
  if (o == Orientation::kRotate90) return Orientation::kRotate270;
  if (o == Orientation::kRotate270) return Orientation::kRotate90;
  return o;  // the others are their own inverse
}

/// The near-duplicate test of the options on one pair of distances.
struct MatchRule {
  NearMatch match;
  int phash_threshold;
  int dhash_threshold;

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

/// Which hashes of an item a comparison reads: 0..7 the item turned by that Orientation (0: the
/// stored hashes), kFirstWindow + w its crop window w.
using Variant = size_t;
constexpr Variant kFirstWindow = kOrientationCount;

/// The (pHash, dHash) of `item` as `variant` reads it; the arrays it needs must be present.
std::pair<uint64_t, uint64_t> hashes_of(const GroupingItem& item, Variant variant) {
  if (variant == 0) return {item.phash, item.dhash};
  if (variant < kFirstWindow) {
    return {(*item.orientation_phash)[variant], (*item.orientation_dhash)[variant]};
  }
  return {(*item.crop_phash)[variant - kFirstWindow], (*item.crop_dhash)[variant - kFirstWindow]};
}

/// The orientation a near pair found through `variant` records: a crop window is the picture as
/// it stands.
Orientation orientation_of(Variant variant) {
  return variant < kFirstWindow ? static_cast<Orientation>(variant) : Orientation::kIdentity;
}

/// How near `b` is to `a`: `a` turned by each orientation against `b`, and, with crops, each
/// crop window of either against the other as it is. The best the rule accepts (smallest pHash
/// distance, then dHash), or nullopt. Without orientation or crop hashes (or when not asked
/// for) only the stored hashes are compared.
struct Nearness {
  int phash_distance;
  int dhash_distance;
  Orientation orientation;
};
std::optional<Nearness> nearness(const GroupingItem& a, const GroupingItem& b,
                                 const MatchRule& rule, const DedupOptions& options) {
  std::optional<Nearness> best;
  const auto consider = [&](const GroupingItem& x, const GroupingItem& y, Variant variant) {
    const auto [xp, xd] = hashes_of(x, variant);
    const int dp = hamming_distance(xp, y.phash);
    const int dd = hamming_distance(xd, y.dhash);
    if (!rule.accepts(dp, dd)) return;
    if (!best || std::tie(dp, dd) < std::tie(best->phash_distance, best->dhash_distance)) {
      best = Nearness{dp, dd, orientation_of(variant)};
    }
  };
  const size_t turns =
      options.orientations && a.orientation_phash != nullptr ? kOrientationCount : 1;
  for (Variant k = 0; k < turns; ++k) consider(a, b, k);
  if (options.crops) {
    for (Variant w = kFirstWindow; w < kFirstWindow + kCropWindowCount; ++w) {
      if (a.crop_phash != nullptr) consider(a, b, w);
      if (b.crop_phash != nullptr) consider(b, a, w);
    }
  }
  return best;
}

class Grouper {
 public:
  Grouper(std::span<const GroupingItem> items, const DedupOptions& options,
          const ExactConfirm& confirm, const NearPairSink& sink)
      : items_(items),
        options_(options),
        confirm_(confirm),
        sink_(sink),
        rule_{options.match, options.phash_threshold, options.dhash_threshold},
        exact_class_(items.size()),
        rank_(items.size()) {
    std::iota(exact_class_.begin(), exact_class_.end(), size_t{0});
  }

  GroupingResult run() {
    if (options_.exact) find_exact_classes();
    // Members of each exact class of two or more, by representative (the lowest index); a file
    // that is its own representative and has no entry is a class of one.
    for (size_t i = 0; i < items_.size(); ++i) {
      if (exact_class_[i] != i) {
        std::vector<size_t>& members = multi_members_[exact_class_[i]];
        if (members.empty()) members.push_back(exact_class_[i]);
        members.push_back(i);
      }
    }

    std::vector<size_t> reps;  // one per exact class; only they take part in the near search
    for (size_t i = 0; i < items_.size(); ++i) {
      if (exact_class_[i] == i && options_.near && items_[i].has_hashes) reps.push_back(i);
    }
    std::vector<std::vector<size_t>> components;
    if (options_.near) {
      components = near_components(reps);
    }
    // Exact classes that are in no near component are groups of their own.
    std::vector<bool> in_component(items_.size(), false);
    for (const auto& component : components) {
      for (size_t rep : component) in_component[rep] = true;
    }
    std::vector<size_t> exact_only;
    for (const auto& [rep, members] : multi_members_) {
      if (!in_component[rep]) exact_only.push_back(rep);
    }
    std::sort(exact_only.begin(), exact_only.end());  // deterministic order
    for (size_t rep : exact_only) components.push_back({rep});
    for (const auto& component : components) settle(component);

    std::sort(result_.groups.begin(), result_.groups.end(),
              [](const DuplicateGroup& x, const DuplicateGroup& y) {
                if (x.members.size() != y.members.size()) return x.members.size() > y.members.size();
                return x.members.front().item < y.members.front().item;
              });
    return std::move(result_);
  }

 private:
  /// Buckets by (content hash, size), then splits each bucket into byte-identical classes.
  void find_exact_classes() {
    // Sorted indices instead of a map of buckets: 8 bytes per file, runs of equal keys.
    const auto key = [&](size_t i) {
      const GroupingItem& item = items_[i];
      return std::make_tuple(item.content_hash.high, item.content_hash.low, item.size_bytes);
    };
    std::vector<size_t> order;
    for (size_t i = 0; i < items_.size(); ++i) {
      if (items_[i].has_content_hash) order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return key(a) != key(b) ? key(a) < key(b) : a < b;
    });
    std::vector<size_t> bucket;
    for (size_t start = 0; start < order.size();) {
      size_t end = start + 1;
      while (end < order.size() && key(order[end]) == key(order[start])) ++end;
      bucket.assign(order.begin() + static_cast<std::ptrdiff_t>(start),
                    order.begin() + static_cast<std::ptrdiff_t>(end));
      start = end;
      if (bucket.size() < 2) continue;
      result_.exact_candidates += static_cast<int64_t>(bucket.size());
      std::vector<size_t> class_reps;
      for (size_t i : bucket) {
        bool placed = false;
        for (size_t rep : class_reps) {
          if (confirm_ && confirm_(rep, i)) {
            exact_class_[i] = rep;
            placed = true;
            break;
          }
        }
        if (!placed) class_reps.push_back(i);
      }
      // Every file that ended up alone in its class had an equal hash but different bytes (or
      // could not be read): it is not an exact duplicate.
      for (size_t rep : class_reps) {
        const bool alone = std::none_of(bucket.begin(), bucket.end(),
                                        [&](size_t i) { return i != rep && exact_class_[i] == rep; });
        if (alone) {
          ++result_.exact_unconfirmed;
          log().warn("dedup: '{}' has the content hash of another file but not its bytes "
                     "(changed since the scan, unreadable, or a hash collision); not grouped "
                     "as an exact copy",
                     items_[rep].path);
        }
      }
    }
  }

  /// Near pairs among `reps` (exact-class representatives with hashes), united into components
  /// of two or more. With the chain guard, each representative's neighbours are kept
  /// (neighbours_) for settle(): memory O(pairs found), the search runs once.
  std::vector<std::vector<size_t>> near_components(const std::vector<size_t>& reps) {
    const size_t n = reps.size();
    if (n < 2) return {};
    std::vector<uint64_t> phashes(n);
    std::vector<uint64_t> dhashes(n);
    for (size_t i = 0; i < n; ++i) {
      phashes[i] = items_[reps[i]].phash;
      dhashes[i] = items_[reps[i]].dhash;
    }
    DisjointSets sets(n);
    std::unordered_set<uint64_t> found_pairs;  // (smaller << 32) | larger rep position
    std::vector<NearPair> buffer;
    const auto flush = [&] {
      if (sink_ && !buffer.empty()) sink_(buffer);
      buffer.clear();
    };
    // Called from one thread at a time (the Hamming search serialises its sink). `variant`: the
    // hashes of reps[i] that met the stored hashes of reps[j].
    const auto consider = [&](size_t i, size_t j, Variant variant) {
      if (i == j) return;
      const GroupingItem& a = items_[reps[i]];
      const GroupingItem& b = items_[reps[j]];
      const auto [ap, ad] = hashes_of(a, variant);
      const Orientation o = orientation_of(variant);
      const int dp = hamming_distance(ap, b.phash);
      const int dd = hamming_distance(ad, b.dhash);
      if (!rule_.accepts(dp, dd)) return;
      // A pair found again (the other way round, or through another orientation or window) was
      // recorded the first time; the searches run stored hashes first, so that time has them.
      const uint64_t key = (uint64_t{std::min(i, j)} << 32) | std::max(i, j);
      if (!found_pairs.insert(key).second) return;
      sets.unite(i, j);
      ++result_.near_pairs;
      if (options_.chain_guard) {
        neighbours_[reps[i]].push_back(reps[j]);
        neighbours_[reps[j]].push_back(reps[i]);
      }
      NearPair pair{reps[i], reps[j], dp, dd, o};
      if (pair.a > pair.b) {
        std::swap(pair.a, pair.b);
        pair.orientation = inverse(o);
      }
      buffer.push_back(pair);
      if (buffer.size() >= 4096) flush();
    };

    HammingSearchOptions search;
    search.method = options_.method == "brute"  ? HammingMethod::kBruteForce
                    : options_.method == "mih" ? HammingMethod::kMultiIndex
                                               : HammingMethod::kAuto;
    search.threads = options_.threads;
    // Search on the hash the rule needs; with "both" the pHash search finds every candidate
    // and the dHash condition is checked on each; with "either" both searches run.
    const bool search_phash = options_.match != NearMatch::kDhash;
    const bool search_dhash = options_.match == NearMatch::kDhash || options_.match == NearMatch::kEither;
    const auto self_join = [&](const std::vector<uint64_t>& hashes, int t) {
      const HammingPairSink to_consider = [&](std::span<const HammingPair> pairs) {
        for (const HammingPair& p : pairs) consider(p.a, p.b, 0);
      };
      if (options_.self_join && options_.self_join(hashes, t, to_consider)) return;
      search.max_distance = t;
      hamming_self_join(hashes, search, to_consider);
    };
    if (search_phash) self_join(phashes, options_.phash_threshold);
    if (search_dhash) self_join(dhashes, options_.dhash_threshold);

    // Queries: each representative turned the seven other ways, and each of its crop windows;
    // base: the stored hashes. A pair found both ways, or through two variants, is considered
    // each time; unite() and the chain guard's neighbour lists do not mind repeats.
    std::vector<uint64_t> queries;
    std::vector<std::pair<uint32_t, Variant>> query_of;
    const auto add_queries = [&](Variant variant, bool present(const GroupingItem&)) {
      for (size_t i = 0; i < n; ++i) {
        const GroupingItem& item = items_[reps[i]];
        if (!present(item)) continue;
        const auto [p, d] = hashes_of(item, variant);
        queries.push_back(search_phash ? p : d);
        query_of.emplace_back(static_cast<uint32_t>(i), variant);
      }
    };
    if (options_.orientations) {
      for (Variant k = 1; k < kOrientationCount; ++k) {
        add_queries(k, [](const GroupingItem& item) { return item.orientation_phash != nullptr; });
      }
    }
    if (options_.crops) {
      for (Variant w = kFirstWindow; w < kFirstWindow + kCropWindowCount; ++w) {
        add_queries(w, [](const GroupingItem& item) { return item.crop_phash != nullptr; });
      }
    }
    if (!queries.empty()) {
      const auto cross_join = [&](const std::vector<uint64_t>& base, int t) {
        search.max_distance = t;
        hamming_cross_join(queries, base, search, [&](std::span<const HammingPair> pairs) {
          for (const HammingPair& p : pairs) {
            const auto [i, variant] = query_of[p.a];
            consider(i, p.b, variant);
          }
        });
      };
      cross_join(search_phash ? phashes : dhashes,
                 search_phash ? options_.phash_threshold : options_.dhash_threshold);
      if (search_phash && search_dhash) {
        for (size_t q = 0; q < query_of.size(); ++q) {
          const auto [i, variant] = query_of[q];
          queries[q] = hashes_of(items_[reps[i]], variant).second;
        }
        cross_join(dhashes, options_.dhash_threshold);
      }
    }
    flush();

    std::map<size_t, std::vector<size_t>> by_root;
    for (size_t i = 0; i < n; ++i) by_root[sets.find(i)].push_back(reps[i]);
    std::vector<std::vector<size_t>> components;
    for (auto& [root, members] : by_root) {
      if (members.size() > 1) components.push_back(std::move(members));
    }
    return components;
  }

  /// The members of the exact class that `rep` represents (just `rep` for a class of one).
  [[nodiscard]] std::span<const size_t> members_of(size_t rep) const {
    if (const auto it = multi_members_.find(rep); it != multi_members_.end()) return it->second;
    return {&exact_class_[rep], 1};  // exact_class_[rep] == rep
  }

  /// True when item x is a better keeper than item y (both in the component last ranked).
  [[nodiscard]] bool better_keeper(size_t x, size_t y) const { return rank_[x] < rank_[y]; }

  /// Ranks every member of the component's exact classes (rank_keepers: the keeper order,
  /// relative to the component's own members) into rank_.
  void rank_component(const std::vector<size_t>& reps) {
    std::vector<size_t> all;
    for (size_t rep : reps) {
      for (size_t member : members_of(rep)) all.push_back(member);
    }
    std::vector<GroupingItem> members;
    members.reserve(all.size());
    for (size_t i : all) members.push_back(items_[i]);
    JpegQualityOf jpeg_quality;
    if (options_.jpeg_quality) {
      jpeg_quality = [&](size_t k) {
        // Byte-identical files have one quality: estimate it once per exact class.
        const auto [it, inserted] = jpeg_quality_.try_emplace(exact_class_[all[k]], 0);
        if (inserted) it->second = options_.jpeg_quality(all[k]);
        return it->second;
      };
    }
    const std::vector<size_t> ranked = rank_keepers(members, options_.keeper_order, jpeg_quality);
    for (size_t r = 0; r < ranked.size(); ++r) rank_[all[ranked[r]]] = r;
  }

  /// Turns a component (exact-class representatives) into one or more groups. Without the chain
  /// guard: one group, keeper the best member of all its classes. With it, greedily in keeper
  /// order: the best representative not yet placed keeps a group of itself and its unplaced
  /// neighbours that are near it (within the thresholds of the keeper). That is the same as
  /// "keeper of the component, members near it stay, the rest regroup by their own pairs",
  /// repeated, since the best unplaced member is always the best of its own remaining part;
  /// done on the stored neighbour lists, it costs O(members + pairs), not a search per split.
  void settle(const std::vector<size_t>& reps) {
    rank_component(reps);
    // Best member of each class, then classes ordered by it.
    std::vector<std::pair<size_t, size_t>> by_keeper;  // (best member, representative)
    by_keeper.reserve(reps.size());
    for (size_t rep : reps) {
      size_t best = rep;
      for (size_t member : members_of(rep)) {
        if (better_keeper(member, best)) best = member;
      }
      by_keeper.emplace_back(best, rep);
    }
    std::sort(by_keeper.begin(), by_keeper.end(),
              [&](const auto& x, const auto& y) { return better_keeper(x.first, y.first); });

    if (!options_.chain_guard) {
      const size_t keeper = by_keeper.front().first;
      std::vector<std::pair<size_t, Nearness>> near;
      for (size_t rep : reps) {
        // Joined through a chain maybe: keep it, with its actual distance to the keeper.
        near.emplace_back(rep, nearness(items_[keeper], items_[rep], rule_, options_)
                                   .value_or(Nearness{
                                       hamming_distance(items_[keeper].phash, items_[rep].phash),
                                       hamming_distance(items_[keeper].dhash, items_[rep].dhash),
                                       Orientation::kIdentity}));
      }
      emit_group(keeper, near);
      return;
    }

    bool first = true;
    for (const auto& [keeper, keeper_rep] : by_keeper) {
      if (placed_.contains(keeper_rep)) continue;
      placed_.insert(keeper_rep);
      std::vector<std::pair<size_t, Nearness>> near = {{keeper_rep, Nearness{0, 0, Orientation::kIdentity}}};
      for (size_t other : neighbours_[keeper_rep]) {
        if (placed_.contains(other)) continue;
        if (const auto n = nearness(items_[keeper], items_[other], rule_, options_)) {
          placed_.insert(other);
          near.emplace_back(other, *n);
        }
      }
      if (first) {
        result_.chain_splits += static_cast<int64_t>(reps.size() - near.size());
        first = false;
      }
      emit_group(keeper, near);
    }
  }

  /// Records a group: `keeper`, and each representative in `near` (the keeper's own class
  /// included, with distance 0) with all the members of its exact class. Nothing for a lone file.
  void emit_group(size_t keeper, const std::vector<std::pair<size_t, Nearness>>& near) {
    const size_t keeper_rep = exact_class_[keeper];
    DuplicateGroup group;
    bool any_near = false;
    bool any_exact = false;
    for (const auto& [rep, n] : near) {
      for (size_t member : members_of(rep)) {
        GroupMember m;
        m.item = member;
        m.is_keeper = member == keeper;
        m.exact = rep == keeper_rep;
        m.phash_distance = n.phash_distance;
        m.dhash_distance = n.dhash_distance;
        m.orientation = n.orientation;
        if (!m.is_keeper) (m.exact ? any_exact : any_near) = true;
        group.members.push_back(m);
      }
    }
    if (group.members.size() < 2) return;
    std::sort(group.members.begin(), group.members.end(),
              [](const GroupMember& x, const GroupMember& y) {
                return std::make_tuple(!x.is_keeper, !x.exact, x.phash_distance, x.dhash_distance, x.item) <
                       std::make_tuple(!y.is_keeper, !y.exact, y.phash_distance, y.dhash_distance, y.item);
              });
    group.kind = any_exact && any_near ? "mixed" : any_exact ? "exact" : "near";
    result_.groups.push_back(std::move(group));
  }

  std::span<const GroupingItem> items_;
  const DedupOptions& options_;
  const ExactConfirm& confirm_;
  const NearPairSink& sink_;
  MatchRule rule_;
  std::vector<size_t> exact_class_;  ///< item -> representative of its exact class
  /// representative -> members (itself first, then ascending), for exact classes of two or more.
  std::unordered_map<size_t, std::vector<size_t>> multi_members_;
  /// representative -> representatives it makes a near pair with (chain guard only).
  std::unordered_map<size_t, std::vector<size_t>> neighbours_;
  std::unordered_set<size_t> placed_;  ///< representatives already in a group (chain guard)
  std::vector<size_t> rank_;  ///< item -> its place in its component's keeper order (settle)
  std::unordered_map<size_t, int> jpeg_quality_;  ///< exact class -> estimated JPEG quality
  GroupingResult result_;
};

}  // namespace

int DuplicateGroup::max_distance() const {
  int result = 0;
  for (const GroupMember& m : members) result = std::max(result, m.phash_distance);
  return result;
}

GroupingResult group_duplicates(std::span<const GroupingItem> items, const DedupOptions& options,
                                const ExactConfirm& confirm, const NearPairSink& sink) {
  if (options.phash_threshold < 0 || options.phash_threshold > 32 || options.dhash_threshold < 0 ||
      options.dhash_threshold > 32) {
    throw std::invalid_argument("dedup: Hamming thresholds must be within 0..32");
  }
  return Grouper(items, options, confirm, sink).run();
}

}  // namespace vpipe
