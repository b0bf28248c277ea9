#include "vpipe/dedup/grouping.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>

#include "vpipe/core/log.h"
#include "vpipe/dedup/candidate_search.h"
#include "vpipe/dedup/component_graph.h"
#include "vpipe/dedup/hamming_index.h"
#include "vpipe/dedup/nearness.h"
#include "vpipe/dedup/pair_buffer.h"

namespace vpipe {
namespace {

using grouping_detail::CandidateSearch;
using grouping_detail::ComponentGraph;
using grouping_detail::DisjointSets;
using grouping_detail::fold_new_pairs;
using grouping_detail::hashes_of;
using grouping_detail::inverse;
using grouping_detail::kFirstWindow;
using grouping_detail::kNoMatch;
using grouping_detail::MatchRule;
using grouping_detail::merge_duplicates;
using grouping_detail::Nearness;
using grouping_detail::nearness;
using grouping_detail::nearness_of;
using grouping_detail::PairMatch;
using grouping_detail::PairRule;
using grouping_detail::PodBuffer;
using grouping_detail::Variant;

class Grouper {
 public:
  Grouper(std::span<const GroupingItem> items, const DedupOptions& options,
          const ExactConfirm& confirm, const NearPairSink& sink)
      : items_(items),
        options_(options),
        confirm_(confirm),
        sink_(sink),
        rule_(PairRule::of(options)),
        exact_class_(items.size()),
        class_slot_(items.size(), -1),
        rank_(items.size()),
        jpeg_quality_(items.size(), -1) {
    std::iota(exact_class_.begin(), exact_class_.end(), size_t{0});
  }

  GroupingResult run() {
    if (options_.exact) find_exact_classes();
    // Members of each exact class of two or more, flat, by representative (the lowest index):
    // the representative, then the others ascending. A file that is its own representative
    // without a slot is a class of one.
    {
      std::vector<std::pair<size_t, size_t>> copies;  // (representative, member)
      for (size_t i = 0; i < items_.size(); ++i) {
        if (exact_class_[i] != i) copies.emplace_back(exact_class_[i], i);
      }
      std::sort(copies.begin(), copies.end());
      for (size_t k = 0; k < copies.size(); ++k) {
        const size_t rep = copies[k].first;
        if (k == 0 || copies[k - 1].first != rep) {
          class_slot_[rep] = static_cast<int32_t>(class_ranges_.size());
          class_ranges_.emplace_back(class_flat_.size(), class_flat_.size());
          class_flat_.push_back(rep);
        }
        class_flat_.push_back(copies[k].second);
        class_ranges_.back().second = class_flat_.size();
      }
    }

    std::vector<size_t> reps;  // one per exact class; only they take part in the near search
    for (size_t i = 0; i < items_.size(); ++i) {
      if (exact_class_[i] == i && options_.near && items_[i].has_hashes) reps.push_back(i);
    }
    std::vector<std::vector<size_t>> components;
    if (options_.near) {
      const auto search_start = std::chrono::steady_clock::now();
      components = near_components(reps);
      result_.search_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - search_start)
                              .count();
    }
    // Exact classes that are in no near component are groups of their own.
    std::vector<bool> in_component(items_.size(), false);
    for (const auto& component : components) {
      for (size_t rep : component) in_component[rep] = true;
    }
    for (const auto& [begin, end] : class_ranges_) {  // by representative, ascending
      if (!in_component[class_flat_[begin]]) components.push_back({class_flat_[begin]});
    }
    const auto settle_start = std::chrono::steady_clock::now();
    for (size_t k = 0; k < components.size(); ++k) {
      result_.largest_component =
          std::max(result_.largest_component, static_cast<int64_t>(components[k].size()));
      settle(components[k], k);
    }
    kept_pairs_.release();
    flush_pairs();
    result_.settle_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now() - settle_start)
                            .count();

    std::sort(result_.groups.begin(), result_.groups.end(),
              [](const DuplicateGroup& x, const DuplicateGroup& y) {
                if (x.members.size() != y.members.size())
                  return x.members.size() > y.members.size();
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
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return key(a) != key(b) ? key(a) < key(b) : a < b; });
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
        const bool alone = std::none_of(bucket.begin(), bucket.end(), [&](size_t i) {
          return i != rep && exact_class_[i] == rep;
        });
        if (alone) {
          ++result_.exact_unconfirmed;
          log().warn(
              "dedup: '{}' has the content hash of another file but not its bytes "
              "(changed since the scan, unreadable, or a hash collision); not grouped "
              "as an exact copy",
              items_[rep].path);
        }
      }
    }
  }


  /// The self-join of the stored hashes, on the pHash (`by_phash`) or the dHash.
  template <typename Visit>
  void self_join(CandidateSearch<Visit>& s, bool by_phash) {
    const std::vector<uint64_t>& hashes = by_phash ? s.phashes : s.dhashes;
    const std::vector<uint64_t>& other = by_phash ? s.dhashes : s.phashes;
    const int t = by_phash ? options_.phash_threshold : options_.dhash_threshold;
    const int other_t = by_phash ? options_.dhash_threshold : options_.phash_threshold;
    const bool both = s.both;
    s.search.max_distance = t;
    s.search.second_queries = {};
    s.search.second_base = both ? std::span<const uint64_t>(other) : std::span<const uint64_t>();
    s.search.second_max_distance = both ? other_t : -1;
    if (s.use_device && options_.self_join) {
      // The device join has no second hash: the test runs here, on the calling thread.
      const HammingPairSink tested = [&](std::span<const HammingPair> pairs) {
        for (const HammingPair& p : pairs) {
          const int searched = hamming_distance(hashes[p.a], hashes[p.b]);
          const int tested_distance = hamming_distance(other[p.a], other[p.b]);
          if (!both || tested_distance <= other_t) {
            s.visit(p.a, p.b, Variant{0}, by_phash ? searched : tested_distance,
                    by_phash ? tested_distance : searched);
          }
        }
      };
      if (options_.self_join(hashes, t, tested)) return;
    }
    hamming_self_join(hashes, s.search, [&](std::span<const HammingPair> pairs) {
      for (const HammingPair& p : pairs) {
        const int searched = p.distance;
        const int tested_distance = hamming_distance(other[p.a], other[p.b]);
        s.visit(p.a, p.b, Variant{0}, by_phash ? searched : tested_distance,
                by_phash ? tested_distance : searched);
      }
    });
  }

  /// The cross join of one variant (a turn or a crop window) of every item that has it, as
  /// queries (8 bytes per item, 16 with the other hash to test), against the stored hashes.
  /// `in_memory`: the item holds the variant's hashes; `in_columns`: they are in
  /// DedupOptions::variant_columns.
  template <typename Visit>
  void cross_join(CandidateSearch<Visit>& s, Variant variant, bool in_memory(const GroupingItem&),
                  bool in_columns(const GroupingItem&)) {
    const size_t n = s.reps.size();
    bool column_read = false;
    for (const bool by_phash : {true, false}) {
      if (by_phash ? !s.search_phash : !s.search_dhash) continue;
      s.queries.clear();
      s.query_other.clear();
      s.query_of.clear();
      for (size_t i = 0; i < n; ++i) {
        const GroupingItem& item = items_[s.reps[i]];
        const bool here = in_memory(item);
        if (!here && !in_columns(item)) continue;
        if (!here && !column_read) {
          options_.variant_columns->read(variant, s.column_p, s.column_d);
          column_read = true;
        }
        const auto [p, d] = here ? hashes_of(item, variant)
                                 : std::pair{s.column_p[s.reps[i]], s.column_d[s.reps[i]]};
        s.queries.push_back(by_phash ? p : d);
        s.query_other.push_back(by_phash ? d : p);
        s.query_of.push_back(static_cast<uint32_t>(i));
      }
      // The column is in the queries now: not held through the join (read again for the
      // dHash search of match `either`).
      s.column_p = {};
      s.column_d = {};
      column_read = false;
      // A variant must come nearer than the stored hashes (DedupOptions::variant_margin).
      const MatchRule& variant_rule = rule_.variant;
      s.search.max_distance =
          by_phash ? variant_rule.phash_threshold : variant_rule.dhash_threshold;
      const int second_t = by_phash ? variant_rule.dhash_threshold : variant_rule.phash_threshold;
      if (s.queries.empty() || s.search.max_distance < 0 || (s.both && second_t < 0)) continue;
      const std::vector<uint64_t>& other_base = by_phash ? s.dhashes : s.phashes;
      s.search.second_queries =
          s.both ? std::span<const uint64_t>(s.query_other) : std::span<const uint64_t>();
      s.search.second_base =
          s.both ? std::span<const uint64_t>(other_base) : std::span<const uint64_t>();
      s.search.second_max_distance = s.both ? second_t : -1;
      hamming_cross_join(
          s.queries, by_phash ? s.phashes : s.dhashes, s.search,
          [&](std::span<const HammingPair> pairs) {
            for (const HammingPair& p : pairs) {
              const int searched = p.distance;
              const int tested_distance = hamming_distance(s.query_other[p.a], other_base[p.b]);
              s.visit(s.query_of[p.a], p.b, variant, by_phash ? searched : tested_distance,
                      by_phash ? tested_distance : searched);
            }
          });
    }
  }

  /// Runs the Hamming searches over the items `reps` (indices into items_) and calls
  /// visit(i, j, variant, phash distance, dhash distance) for every pair the rule accepts through
  /// one variant: positions i, j into `reps`, and the variant of reps[i] (its stored hashes, a
  /// turn, a crop window) whose hashes are within the thresholds of reps[j]'s stored ones. With
  /// match `both` the search runs on the pHash and the dHash is tested on the search's worker
  /// threads (so the serialised visit sees only accepted pairs); with `either` both searches
  /// run. visit is called from one thread at a time, possibly more than once for one pair (the
  /// other way round, through another variant). `use_device`: let DedupOptions::self_join run
  /// the self-joins (the pass's own search, not a component's again), and log each join's time
  /// and pairs at debug level (`vpipe -v dedup`).
  template <typename Visit>
  void for_each_candidate(const std::vector<size_t>& reps, bool use_device, Visit&& raw_visit) {
    using V = std::remove_reference_t<Visit>;
    CandidateSearch<V> s(reps, use_device, raw_visit);
    const size_t n = reps.size();
    s.phashes.resize(n);
    s.dhashes.resize(n);
    for (size_t i = 0; i < n; ++i) {
      s.phashes[i] = items_[reps[i]].phash;
      s.dhashes[i] = items_[reps[i]].dhash;
    }
    s.search.method = options_.method == "brute" ? HammingMethod::kBruteForce
                      : options_.method == "mih" ? HammingMethod::kMultiIndex
                                                 : HammingMethod::kAuto;
    s.search.threads = options_.threads;
    // Search on the hash the rule needs. With "both" the pHash search finds every candidate
    // and the dHash is tested on each, on the search's threads (on the clustered benchmark a
    // sample has 6x fewer pairs by pHash than by dHash); with "either" both searches run.
    s.both = options_.match == NearMatch::kBoth;
    s.search_phash = options_.match != NearMatch::kDhash;
    s.search_dhash = options_.match == NearMatch::kDhash || options_.match == NearMatch::kEither;
    if (s.search_phash) s.timed("pHash self", 0, [&] { self_join(s, true); });
    if (s.search_dhash) s.timed("dHash self", 0, [&] { self_join(s, false); });

    const bool columns = options_.variant_columns != nullptr;
    if (options_.orientations) {
      for (Variant k = 1; k < kOrientationCount; ++k) {
        s.timed("turn", k, [&] {
          cross_join(
              s, k, [](const GroupingItem& item) { return item.orientation_phash != nullptr; },
              columns ? +[](const GroupingItem& item) { return item.orientations_in_columns; }
                      : +[](const GroupingItem&) { return false; });
        });
      }
    }
    if (options_.crops) {
      for (Variant w = kFirstWindow; w < kFirstWindow + kCropWindowCount; ++w) {
        s.timed("window", w - kFirstWindow, [&] {
          cross_join(
              s, w, [](const GroupingItem& item) { return item.crop_phash != nullptr; },
              columns ? +[](const GroupingItem& item) { return item.crops_in_columns; }
                      : +[](const GroupingItem&) { return false; });
        });
      }
    }
  }

  /// Near components among `reps` (exact-class representatives with hashes): union-find over
  /// every pair the searches find and the rule accepts. The pairs are kept as well, with the best
  /// match seen from each side (PairMatch, 16 bytes), while there are at most
  /// DedupOptions::max_kept_pairs distinct ones, so that settle() needs neither another search
  /// nor the variant hashes: afterwards kept_pairs_ holds them keyed by (slot of the smaller,
  /// slot of the larger) with slots numbering the components' members one component after
  /// another, sorted, and kept_ranges_[c] the run of component c. Past the budget they are
  /// dropped (kept_ranges_ stays empty) and settle() finds each component's pairs again.
  std::vector<std::vector<size_t>> near_components(const std::vector<size_t>& reps) {
    const size_t n = reps.size();
    if (n < 2) return {};
    DisjointSets sets(n);
    bool keep = options_.max_kept_pairs > 0;
    // A pair comes back through several variants: the pairs found since the last fold are
    // folded into the sorted ones whenever they are a sixteenth as many (at least
    // kMergeBatch), so the buffer holds at most about 1.07x the distinct pairs (and the fold a
    // copy of the new ones); past the budget it is
    // dropped. Growing remaps the buffer's pages (PodBuffer), so it never holds two copies.
    size_t sorted = 0;
    const auto fold = [&] {
      fold_new_pairs(kept_pairs_, sorted);
      if (kept_pairs_.size() > options_.max_kept_pairs) {
        keep = false;
        kept_pairs_.release();
        sorted = 0;
      }
    };
    for_each_candidate(reps, true, [&](size_t i, size_t j, Variant variant, int dp, int dd) {
      sets.unite(i, j);
      if (!keep || i == j) return;
      const size_t fresh = kept_pairs_.size() - sorted;
      if (fresh >= std::min(std::max(kMergeBatch, sorted / 16), options_.max_kept_pairs + 1)) {
        fold();
        if (!keep) return;
      }
      kept_pairs_.push_back(grouping_detail::pair_match(static_cast<uint32_t>(i),
                                                        static_cast<uint32_t>(j), variant, dp, dd));
    });
    if (keep) fold();  // the last, and the budget on what is left
    // Components as runs of positions sorted by (root, position): flat, no map of vectors.
    std::vector<std::pair<uint32_t, uint32_t>> by_root(n);  // (root, position)
    for (size_t i = 0; i < n; ++i) {
      by_root[i] = {static_cast<uint32_t>(sets.find(i)), static_cast<uint32_t>(i)};
    }
    std::sort(by_root.begin(), by_root.end());
    std::vector<std::vector<size_t>> components;
    std::vector<uint32_t> slot_start;  // per component, its first slot (index into by_root)
    for (size_t start = 0; start < n;) {
      size_t end = start + 1;
      while (end < n && by_root[end].first == by_root[start].first) ++end;
      if (end - start > 1) {
        std::vector<size_t>& members = components.emplace_back();
        members.reserve(end - start);
        for (size_t k = start; k < end; ++k) members.push_back(reps[by_root[k].second]);
        slot_start.push_back(static_cast<uint32_t>(start));
      }
      start = end;
    }
    result_.pairs_kept = keep;
    if (keep) {
      std::vector<uint32_t> slot_of(n);
      for (size_t k = 0; k < n; ++k) slot_of[by_root[k].second] = static_cast<uint32_t>(k);
      by_root = {};
      for (PairMatch& m : kept_pairs_) {
        const uint64_t a = slot_of[m.first()];
        const uint64_t b = slot_of[m.second()];
        m.key = std::min(a, b) << 32 | std::max(a, b);
        if (a > b) m.swap_sides();
      }
      merge_duplicates(kept_pairs_);
      kept_pairs_.shrink_to_fit();
      kept_ranges_.resize(components.size());
      const PairMatch* from = kept_pairs_.begin();
      const PairMatch* const last = kept_pairs_.end();
      for (size_t c = 0; c < components.size(); ++c) {
        // Both slots of a pair lie in one component, so its pairs are those whose smaller slot
        // is in the component's run.
        const uint64_t first = slot_start[c];
        const PairMatch* to =
            std::lower_bound(from, last, (first + components[c].size()) << 32,
                             [](const PairMatch& m, uint64_t key) { return m.key < key; });
        kept_ranges_[c] =
            KeptRange{static_cast<size_t>(from - kept_pairs_.begin()),
                      static_cast<size_t>(to - kept_pairs_.begin()), static_cast<uint32_t>(first)};
        from = to;
      }
    } else {
      log().info(
          "dedup: more than {} distinct near pairs; each large component's pairs are "
          "searched again while it settles (docs/DEDUP.md, \"At scale\")",
          options_.max_kept_pairs);
    }
    return components;
  }

  /// The near pairs inside one component (its representatives, ascending), keyed by positions
  /// into it, each once, ascending, with their matches. Small components compare every pair;
  /// large ones run the searches again over their own members. Memory: the component's pairs,
  /// freed with it.
  [[nodiscard]] PodBuffer<PairMatch> component_pairs(const std::vector<size_t>& component) {
    need_rows();
    const size_t m = component.size();
    PodBuffer<PairMatch> pairs;
    if (m <= kBruteComponent) {
      for (size_t i = 0; i < m; ++i) {
        for (size_t j = i + 1; j < m; ++j) {
          if (const auto match = grouping_detail::pair_matches(
                  items_[component[i]], items_[component[j]], static_cast<uint32_t>(i),
                  static_cast<uint32_t>(j), rule_, options_)) {
            pairs.push_back(*match);
          }
        }
      }
      return pairs;
    }
    for_each_candidate(component, false, [&](size_t i, size_t j, Variant variant, int dp, int dd) {
      if (i != j) {
        pairs.push_back(grouping_detail::pair_match(static_cast<uint32_t>(i),
                                                    static_cast<uint32_t>(j), variant, dp, dd));
      }
    });
    merge_duplicates(pairs);
    return pairs;
  }

  /// Makes every item's variant hashes reachable through its pointers, for the comparisons of
  /// whole rows (nearness, pair_matches): VariantColumns::load_rows, once.
  void need_rows() {
    if (rows_loaded_ || options_.variant_columns == nullptr) return;
    rows_loaded_ = true;
    options_.variant_columns->load_rows();
  }

  /// The members of the exact class that `rep` represents (just `rep` for a class of one).
  [[nodiscard]] std::span<const size_t> members_of(size_t rep) const {
    if (const int32_t slot = class_slot_[rep]; slot >= 0) {
      const auto [begin, end] = class_ranges_[static_cast<size_t>(slot)];
      return std::span<const size_t>(class_flat_).subspan(begin, end - begin);
    }
    return {&exact_class_[rep], 1};  // exact_class_[rep] == rep
  }

  /// The JPEG quality of all[k], for rank_keepers over `all` (items); empty when the options
  /// estimate none. Byte-identical files have one quality: estimated once per exact class.
  [[nodiscard]] JpegQualityOf jpeg_quality_of(const std::vector<size_t>& all) {
    if (!options_.jpeg_quality) return {};
    return [this, &all](size_t k) {
      int16_t& known = jpeg_quality_[exact_class_[all[k]]];
      if (known < 0) known = static_cast<int16_t>(options_.jpeg_quality(all[k]));
      return static_cast<int>(known);
    };
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
    const std::vector<size_t> ranked =
        rank_keepers(members, options_.keeper_order, jpeg_quality_of(all));
    for (size_t r = 0; r < ranked.size(); ++r) rank_[all[ranked[r]]] = static_cast<uint32_t>(r);
  }

  /// Turns component number `index` (exact-class representatives, ascending) into one or more
  /// groups. Without the chain guard: one group, keeper the best member of all its classes.
  /// With it, greedily in the component's keeper order: the best representative not yet placed
  /// gathers a group of itself and its unplaced neighbours that are near it (within the
  /// thresholds of the keeper); the group's keeper is then the best of the group by the group's
  /// own order, the group gathered again around it when that is another member (at most
  /// kKeeperRounds times). The neighbours are the component's own pairs (kept by the search, or
  /// component_pairs past the budget), so the guard costs O(members + pairs of this component).
  /// Hands the pairs to the sink as DedupOptions::store_pairs says.
  void settle(const std::vector<size_t>& reps, size_t index) {
    rank_component(reps);
    ComponentGraph graph;
    fill_graph(reps, index, graph);
    result_.near_pairs += static_cast<int64_t>(graph.pairs.size());
    if (options_.store_pairs == PairStore::kAll) {
      for (const PairMatch& p : graph.pairs) {
        emit_pair(reps[p.first() - graph.base], reps[p.second() - graph.base],
                  grouping_detail::both_ways(p, true).value());
      }
    }
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
    if (options_.chain_guard) {
      settle_guarded(reps, by_keeper, graph);
    } else {
      settle_whole(reps, by_keeper, graph);
    }
  }

  /// The pairs of component number `index` with their matches (kept by the search, or found
  /// again here), and their adjacency.
  void fill_graph(const std::vector<size_t>& reps, size_t index, ComponentGraph& g) {
    const size_t m = reps.size();
    if (index < kept_ranges_.size()) {
      const KeptRange& range = kept_ranges_[index];
      g.pairs =
          std::span<const PairMatch>(kept_pairs_.begin() + range.begin, range.end - range.begin);
      g.base = range.first_slot;
    } else if (m > 1) {
      g.found = component_pairs(reps);
      g.pairs = std::span<const PairMatch>(g.found.begin(), g.found.size());
    }
    g.index_pairs(m);
  }

  /// settle() without the chain guard: the whole component is one group, kept by its best
  /// member (`by_keeper` front); with PairStore::kForest, the tree by which each member joins.
  void settle_whole(const std::vector<size_t>& reps,
                    const std::vector<std::pair<size_t, size_t>>& by_keeper,
                    const ComponentGraph& g) {
    need_rows();
    const size_t keeper = by_keeper.front().first;
    std::vector<std::pair<size_t, Nearness>> near;
    for (size_t rep : reps) {
      // Joined through a chain maybe: keep it, with its actual distance to the keeper.
      near.emplace_back(
          rep, nearness(items_[keeper], items_[rep], rule_, options_)
                   .value_or(Nearness{hamming_distance(items_[keeper].phash, items_[rep].phash),
                                      hamming_distance(items_[keeper].dhash, items_[rep].dhash),
                                      Orientation::kIdentity}));
    }
    emit_group(keeper, near);
    if (options_.store_pairs != PairStore::kForest) return;
    // The tree by which each member joins, breadth first from the keeper's class.
    std::vector<char> seen(reps.size(), 0);
    std::vector<uint32_t> queue = {ComponentGraph::position_of(reps, by_keeper.front().second)};
    seen[queue.front()] = 1;
    for (size_t head = 0; head < queue.size(); ++head) {
      const uint32_t from = queue[head];
      for (uint32_t k = g.offsets[from]; k < g.offsets[from + 1]; ++k) {
        const PairMatch& p = g.pairs[g.adjacent[k]];
        const uint32_t to = p.other(from + g.base) - g.base;
        if (seen[to] != 0) continue;
        seen[to] = 1;
        queue.push_back(to);
        emit_pair(reps[from], reps[to],
                  grouping_detail::both_ways(p, p.first() == from + g.base).value());
      }
    }
  }

  /// settle() with the chain guard: groups gathered greedily in the component's keeper order
  /// (`by_keeper`), each around a keeper that is the best of its own group.
  void settle_guarded(const std::vector<size_t>& reps,
                      const std::vector<std::pair<size_t, size_t>>& by_keeper,
                      const ComponentGraph& g) {
    const size_t m = reps.size();
    std::vector<char> placed(m, 0);
    // The unplaced representatives near a keeper of class `keeper_rep`, the keeper's own class
    // first at distance 0: the group that keeper would keep.
    const auto gather = [&](size_t keeper_rep) {
      const uint32_t keeper_at = ComponentGraph::position_of(reps, keeper_rep);
      std::vector<std::pair<size_t, Nearness>> near = {
          {keeper_rep, Nearness{0, 0, Orientation::kIdentity}}};
      // The match seen from the keeper's side (its turns, either's windows). A keeper that is
      // not its class's representative is a byte-identical copy of it and is compared as it.
      for (uint32_t k = g.offsets[keeper_at]; k < g.offsets[keeper_at + 1]; ++k) {
        const PairMatch& p = g.pairs[g.adjacent[k]];
        const uint32_t other_at = p.other(keeper_at + g.base) - g.base;
        if (placed[other_at] != 0) continue;
        if (const uint32_t code = p.from(keeper_at + g.base); code != kNoMatch) {
          near.emplace_back(reps[other_at], nearness_of(code));
        }
      }
      return near;
    };
    bool first = true;
    for (const auto& [seed, seed_rep] : by_keeper) {
      if (placed[ComponentGraph::position_of(reps, seed_rep)] != 0) continue;
      // The seed is the best unplaced member by the component's ranking. The keeper is the best
      // of the group itself, ranked among its own members only: a component can chain in
      // copies of other pictures, and the relative criteria (least_degraded) must not compare a
      // photo's copies against them. When the group's best is another member, the group is
      // gathered again around it, so every member stays within the thresholds of its keeper.
      size_t keeper = seed;
      std::vector<std::pair<size_t, Nearness>> near = gather(exact_class_[keeper]);
      for (int round = 0; round < kKeeperRounds && near.size() > 1; ++round) {
        const size_t best = best_of_group(near);
        if (best == keeper) break;
        keeper = best;
        near = gather(exact_class_[keeper]);
      }
      for (const auto& [rep, n] : near) placed[ComponentGraph::position_of(reps, rep)] = 1;
      if (options_.store_pairs == PairStore::kForest) {
        // Each member's edge to its keeper: the group's spanning tree, a star.
        for (size_t k = 1; k < near.size(); ++k) emit_pair(keeper, near[k].first, near[k].second);
      }
      if (first) {
        result_.chain_splits += static_cast<int64_t>(m - near.size());
        first = false;
      }
      emit_group(keeper, near);
    }
  }

  /// The best keeper among every member of the exact classes in `near` (representatives),
  /// ranked by rank_keepers among those members only.
  [[nodiscard]] size_t best_of_group(const std::vector<std::pair<size_t, Nearness>>& near) {
    std::vector<size_t> all;
    for (const auto& [rep, n] : near) {
      for (size_t member : members_of(rep)) all.push_back(member);
    }
    std::vector<GroupingItem> members;
    members.reserve(all.size());
    for (size_t i : all) members.push_back(items_[i]);
    return all[rank_keepers(members, options_.keeper_order, jpeg_quality_of(all)).front()];
  }

  /// Hands the pair (x, y), `n` such that y ~ x turned by n.orientation, to the sink (a < b).
  void emit_pair(size_t x, size_t y, const Nearness& n) {
    if (!sink_) return;
    NearPair pair{x, y, n.phash_distance, n.dhash_distance, n.orientation};
    if (pair.a > pair.b) {
      std::swap(pair.a, pair.b);
      pair.orientation = inverse(pair.orientation);
    }
    pair_buffer_.push_back(pair);
    if (pair_buffer_.size() >= 4096) flush_pairs();
  }
  void flush_pairs() {
    if (sink_ && !pair_buffer_.empty()) sink_(pair_buffer_);
    pair_buffer_.clear();
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
    std::sort(
        group.members.begin(), group.members.end(), [](const GroupMember& x, const GroupMember& y) {
          return std::make_tuple(!x.is_keeper, !x.exact, x.phash_distance, x.dhash_distance,
                                 x.item) < std::make_tuple(!y.is_keeper, !y.exact, y.phash_distance,
                                                           y.dhash_distance, y.item);
        });
    group.kind = any_exact && any_near ? "mixed" : any_exact ? "exact" : "near";
    result_.groups.push_back(std::move(group));
  }

  std::span<const GroupingItem> items_;
  const DedupOptions& options_;
  const ExactConfirm& confirm_;
  const NearPairSink& sink_;
  PairRule rule_;
  std::vector<size_t> exact_class_;  ///< item -> representative of its exact class
  /// representative -> members (itself first, then ascending), for exact classes of two or more.
  /// class_flat_[class_ranges_[class_slot_[rep]]]: the members of rep's class, for classes of
  /// two or more (class_slot_ -1 otherwise).
  std::vector<int32_t> class_slot_;
  std::vector<std::pair<size_t, size_t>> class_ranges_;
  std::vector<size_t> class_flat_;
  std::vector<NearPair> pair_buffer_;  ///< pairs for the sink, handed over 4096 at a time
  /// Components up to this size find their pairs by comparing every two members; larger ones by
  /// the Hamming searches over their own members (for_each_candidate).
  static constexpr size_t kBruteComponent = 512;
  /// Kept pairs found before the first fold of their duplicates (13 MB).
  static constexpr size_t kMergeBatch = size_t{1} << 20;
  /// Where component c's pairs lie in kept_pairs_, and the slot its members are numbered from.
  struct KeptRange {
    size_t begin = 0;
    size_t end = 0;
    uint32_t first_slot = 0;
  };
  PodBuffer<PairMatch> kept_pairs_;     ///< near_components: the pairs, while within budget
  std::vector<KeptRange> kept_ranges_;  ///< per near component; empty when not kept
  /// How many times a group is gathered again around a better keeper (settle): in practice once;
  /// the bound only stops a cycle of relative rankings.
  static constexpr int kKeeperRounds = 4;
  std::vector<uint32_t> rank_;  ///< item -> its place in its component's keeper order (settle)
  std::vector<int16_t> jpeg_quality_;  ///< representative -> estimated JPEG quality, -1 unknown
  bool rows_loaded_ = false;           ///< need_rows() has run
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
  if (options.variant_margin < 0 || options.variant_margin > 32) {
    throw std::invalid_argument("dedup: variant_margin must be within 0..32");
  }
  return Grouper(items, options, confirm, sink).run();
}

}  // namespace vpipe
