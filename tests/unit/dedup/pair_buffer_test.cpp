// The kept pairs' buffer and folds on their own: whatever the batches, a fold leaves one entry
// per pair, sorted, each side holding the best match any of its entries had.

#include "vpipe/dedup/pair_buffer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <utility>
#include <vector>

namespace vpipe::grouping_detail {
namespace {

TEST(PairBuffer, FoldsKeepOneEntryPerPairWithEachSidesBestMatch) {
  for (const size_t batch : {size_t{1}, size_t{7}, size_t{100}, size_t{5000}}) {
    std::mt19937_64 rng(batch);
    PodBuffer<PairMatch> pairs;
    size_t sorted = 0;
    std::map<uint64_t, std::pair<uint32_t, uint32_t>> expected;  // key -> (low, high)
    for (int k = 0; k < 20000; ++k) {
      // Few distinct pairs, so most entries find their pair again, before or after a fold.
      const auto i = static_cast<uint32_t>(rng() % 60);
      const auto j = static_cast<uint32_t>(rng() % 60);
      if (i == j) continue;
      const PairMatch m = pair_match(i, j, static_cast<Variant>(rng() % 17),
                                     static_cast<int>(rng() % 15), static_cast<int>(rng() % 15));
      auto [it, fresh] = expected.try_emplace(m.key, m.low, m.high);
      if (!fresh) {
        it->second.first = std::min<uint32_t>(it->second.first, m.low);
        it->second.second = std::min<uint32_t>(it->second.second, m.high);
      }
      pairs.push_back(m);
      if (pairs.size() - sorted >= batch) fold_new_pairs(pairs, sorted);
    }
    fold_new_pairs(pairs, sorted);
    ASSERT_EQ(sorted, pairs.size());
    ASSERT_EQ(pairs.size(), expected.size()) << "batch " << batch;
    auto want = expected.begin();
    for (const PairMatch& m : pairs) {
      EXPECT_EQ(m.key, want->first);
      EXPECT_EQ(m.low, want->second.first);
      EXPECT_EQ(m.high, want->second.second);
      ++want;
    }
  }
}

TEST(PairBuffer, AMatchSeenFromEachSide) {
  // Position 5's turn 3 near position 2's stored hashes: seen from 5 only, as turn 3.
  const PairMatch turn = pair_match(5, 2, 3, 4, 6);
  EXPECT_EQ(turn.first(), 2U);
  EXPECT_EQ(turn.second(), 5U);
  EXPECT_EQ(turn.low, kNoMatch);
  const Nearness seen = nearness_of(turn.from(5));
  EXPECT_EQ(seen.phash_distance, 4);
  EXPECT_EQ(seen.dhash_distance, 6);
  EXPECT_EQ(seen.orientation, Orientation::kRotate270);  // Variant 3: turned 270 degrees
  // Both ways from 2: b (5) turned by 270, so 5 ~ 2 turned by its inverse.
  EXPECT_EQ(both_ways(turn, true)->orientation, Orientation::kRotate90);
  // A window matches from both sides, as the picture stands.
  const PairMatch window = pair_match(1, 7, kFirstWindow + 4, 3, 3);
  EXPECT_NE(window.low, kNoMatch);
  EXPECT_NE(window.high, kNoMatch);
  EXPECT_EQ(nearness_of(window.high).orientation, Orientation::kIdentity);
}

}  // namespace
}  // namespace vpipe::grouping_detail
