#pragma once

// Internal to the grouping (grouping.cpp): the union-find that joins near pairs into
// components, and a component's pairs indexed by member, which the chain guard and the pair
// forest walk. Not a public header.

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "vpipe/dedup/nearness.h"
#include "vpipe/dedup/pair_buffer.h"

namespace vpipe::grouping_detail {

/// Union-find over positions (< 2^32) with path halving and union by size: 8 bytes per element,
/// no allocation per union.
class DisjointSets {
 public:
  explicit DisjointSets(size_t n) : parent_(n), size_(n, 1) {
    assert(n <= UINT32_MAX && "positions fit 32 bits");
    std::iota(parent_.begin(), parent_.end(), uint32_t{0});
  }
  size_t find(size_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void unite(size_t a, size_t b) { unite_roots(find(a), find(b)); }
  /// unite() of two roots (find() results).
  void unite_roots(size_t a, size_t b) {
    if (a == b) return;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = static_cast<uint32_t>(a);
    size_[a] += size_[b];
  }

 private:
  std::vector<uint32_t> parent_;
  std::vector<uint32_t> size_;
};

/// A component's pairs, and for each position in its representatives the pairs it is in.
struct ComponentGraph {
  PodBuffer<PairMatch> found;        ///< the pairs, when found again for it (else empty)
  std::span<const PairMatch> pairs;  ///< keys: positions into the reps plus `base`, ascending
  uint32_t base = 0;
  /// The pairs of position k: adjacent[offsets[k]..offsets[k + 1]), indices into `pairs`.
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> adjacent;

  /// Fills offsets and adjacent from `pairs` for a component of `members` positions.
  void index_pairs(size_t members) {
    offsets.assign(members + 1, 0);
    for (const PairMatch& p : pairs) {
      ++offsets[p.first() - base + 1];
      ++offsets[p.second() - base + 1];
    }
    std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
    adjacent.resize(offsets.back());
    std::vector<uint32_t> fill(offsets.begin(), offsets.end() - 1);
    for (size_t e = 0; e < pairs.size(); ++e) {
      adjacent[fill[pairs[e].first() - base]++] = static_cast<uint32_t>(e);
      adjacent[fill[pairs[e].second() - base]++] = static_cast<uint32_t>(e);
    }
  }

  /// Position of representative `rep` in `reps` (ascending).
  static uint32_t position_of(const std::vector<size_t>& reps, size_t rep) {
    return static_cast<uint32_t>(std::lower_bound(reps.begin(), reps.end(), rep) - reps.begin());
  }
};

}  // namespace vpipe::grouping_detail
