#pragma once

// The plain O(n^2) Hamming self-join every search method (CPU index, GPU kernel) must match.

#include <bit>
#include <cstdint>
#include <vector>

#include "vpipe/dedup/hamming_index.h"

namespace vpipe::testing {

/// Every pair i < j with popcount(h[i] ^ h[j]) <= t, sorted by (a, b).
inline std::vector<HammingPair> naive_self_join(const std::vector<uint64_t>& h, int t) {
  std::vector<HammingPair> pairs;
  for (size_t i = 0; i < h.size(); ++i) {
    for (size_t j = i + 1; j < h.size(); ++j) {
      const int d = std::popcount(h[i] ^ h[j]);
      if (d <= t) {
        pairs.push_back(
            {static_cast<uint32_t>(i), static_cast<uint32_t>(j), static_cast<uint8_t>(d)});
      }
    }
  }
  return pairs;
}

}  // namespace vpipe::testing
