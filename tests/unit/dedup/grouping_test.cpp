#include "vpipe/dedup/grouping.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace vpipe {
namespace {

// Flips the lowest `bits` bits of the bit positions listed from `first` on.
uint64_t flip(uint64_t hash, int first, int bits) {
  for (int i = first; i < first + bits; ++i) hash ^= uint64_t{1} << i;
  return hash;
}

constexpr uint64_t kBaseP = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kBaseD = 0xc2b2ae3d27d4eb4fULL;

/// A test corpus: items own their paths.
struct Corpus {
  std::vector<std::string> paths;
  std::vector<GroupingItem> items;

  GroupingItem& add(std::string path, uint64_t phash, uint64_t dhash, int64_t pixels = 1000) {
    paths.push_back(std::move(path));
    GroupingItem item;
    item.id = static_cast<int64_t>(items.size()) + 100;
    item.has_hashes = true;
    item.phash = phash;
    item.dhash = dhash;
    item.pixels = pixels;
    item.size_bytes = 1000 + static_cast<int64_t>(items.size());
    items.push_back(item);
    return items.back();
  }
  /// Views must be set after all adds (the paths vector may move its strings).
  std::span<const GroupingItem> view() {
    for (size_t i = 0; i < items.size(); ++i) items[i].path = paths[i];
    return items;
  }
};

// prefix + number, built by appending (GCC 12 warns falsely on `"x" + std::to_string(i)`).
std::string numbered(const char* prefix, int i, int j = -1) {
  std::string name = prefix;
  name += std::to_string(i);
  if (j >= 0) {
    name += '_';
    name += std::to_string(j);
  }
  return name;
}

const ExactConfirm kAlwaysIdentical = [](size_t, size_t) { return true; };

/// Group membership as sets of item indices, keeper first in each.
std::vector<std::vector<size_t>> members_of(const GroupingResult& result) {
  std::vector<std::vector<size_t>> groups;
  for (const DuplicateGroup& g : result.groups) {
    std::vector<size_t> m;
    for (const GroupMember& member : g.members) m.push_back(member.item);
    groups.push_back(m);
  }
  return groups;
}

TEST(Grouping, UniqueImagesMakeNoGroups) {
  Corpus c;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50; ++i) c.add(numbered("u", i), rng(), rng());
  const GroupingResult r = group_duplicates(c.view(), {}, kAlwaysIdentical);
  EXPECT_TRUE(r.groups.empty());
  EXPECT_EQ(r.near_pairs, 0);
}

TEST(Grouping, ChainGuardSplitsMembersFarFromTheKeeper) {
  // a - b: 6 bits, b - c: 6 bits, a - c: 12 bits (> t = 10). a is the largest, so the keeper.
  Corpus c;
  c.add("a", kBaseP, kBaseD, 3000);
  c.add("b", flip(kBaseP, 0, 6), flip(kBaseD, 0, 2), 2000);
  c.add("c", flip(kBaseP, 0, 6) ^ flip(0, 20, 6), flip(kBaseD, 0, 4), 1000);
  DedupOptions options;
  options.match = NearMatch::kPhash;
  options.phash_threshold = 10;
  const GroupingResult guarded = group_duplicates(c.view(), options, kAlwaysIdentical);
  EXPECT_EQ(members_of(guarded), (std::vector<std::vector<size_t>>{{0, 1}}));
  EXPECT_EQ(guarded.chain_splits, 1);
  EXPECT_EQ(guarded.near_pairs, 2);

  options.chain_guard = false;
  const GroupingResult chained = group_duplicates(c.view(), options, kAlwaysIdentical);
  ASSERT_EQ(chained.groups.size(), 1U);
  EXPECT_EQ(members_of(chained)[0], (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(chained.groups[0].members[2].phash_distance, 12);  // the real distance to a
  EXPECT_EQ(chained.groups[0].max_distance(), 12);
}

TEST(Grouping, ChainGuardKeepsAChainWhoseMiddleIsTheKeeper) {
  Corpus c;
  c.add("a", kBaseP, kBaseD, 1000);
  c.add("b", flip(kBaseP, 0, 6), kBaseD, 5000);  // the largest: keeper, within 6 of both
  c.add("c", flip(kBaseP, 0, 6) ^ flip(0, 20, 6), kBaseD, 1000);
  DedupOptions options;
  options.match = NearMatch::kPhash;
  const GroupingResult r = group_duplicates(c.view(), options, kAlwaysIdentical);
  ASSERT_EQ(r.groups.size(), 1U);
  EXPECT_EQ(r.groups[0].members.front().item, 1U);
  EXPECT_TRUE(r.groups[0].members.front().is_keeper);
  EXPECT_EQ(r.chain_splits, 0);
}

TEST(Grouping, SplitOffMembersRegroupAmongThemselves) {
  // Two tight pairs joined by one bridge pair: {a, b} ... {c, d}, with b - c within t.
  Corpus c;
  c.add("a", kBaseP, kBaseD, 9000);                                      // keeper of the first
  c.add("b", flip(kBaseP, 0, 5), kBaseD, 100);
  c.add("c", flip(kBaseP, 0, 5) ^ flip(0, 30, 5), kBaseD, 200);         // 10 from b, 10+ from a
  c.add("d", flip(kBaseP, 0, 5) ^ flip(0, 30, 5) ^ flip(0, 50, 2), kBaseD, 300);
  DedupOptions options;
  options.match = NearMatch::kPhash;
  options.phash_threshold = 7;
  const GroupingResult r = group_duplicates(c.view(), options, kAlwaysIdentical);
  EXPECT_EQ(members_of(r), (std::vector<std::vector<size_t>>{{0, 1}, {3, 2}}));
}

TEST(Grouping, ALongChainIsSplitIntoTightGroupsWithoutDeepRecursion) {
  // 20,000 hashes along a Gray-code walk: each differs from the next by one bit, so with t = 1
  // they form one long chain that the guard must split thousands of times.
  Corpus c;
  for (uint64_t i = 0; i < 20000; ++i) c.add(numbered("chain", static_cast<int>(i)), i ^ (i >> 1), kBaseD);
  DedupOptions options;
  options.match = NearMatch::kPhash;
  options.phash_threshold = 1;
  const GroupingResult r = group_duplicates(c.view(), options, kAlwaysIdentical);
  EXPECT_GT(r.chain_splits, 1000);
  std::set<size_t> seen;
  for (const DuplicateGroup& g : r.groups) {
    const uint64_t keeper = c.items[g.members.front().item].phash;
    for (const GroupMember& m : g.members) {
      EXPECT_TRUE(seen.insert(m.item).second) << "item " << m.item << " is in two groups";
      EXPECT_LE(hamming_distance(c.items[m.item].phash, keeper), 1);
    }
  }
  EXPECT_GT(seen.size(), 10000U);
}

TEST(Grouping, KeeperTieBreaksFollowTheConfiguredOrder) {
  Corpus c;
  auto& a = c.add("dir/longer_name.jpg", kBaseP, kBaseD, 1000);
  a.quality = 0.9;
  a.mtime_ns = 200;
  auto& b = c.add("dir/b.jpg", flip(kBaseP, 0, 1), kBaseD, 1000);
  b.quality = 0.5;
  b.mtime_ns = 100;
  auto& d = c.add("d.jpg", flip(kBaseP, 1, 1), kBaseD, 2000);
  d.quality = 0.1;
  d.mtime_ns = 300;
  DedupOptions options;
  const auto keeper = [&](std::vector<KeeperCriterion> order) {
    options.keeper_order = std::move(order);
    const GroupingResult r = group_duplicates(c.view(), options, kAlwaysIdentical);
    EXPECT_EQ(r.groups.size(), 1U);
    return r.groups.empty() ? size_t{99} : r.groups[0].members.front().item;
  };
  using K = KeeperCriterion;
  EXPECT_EQ(keeper({K::kPixels, K::kQuality, K::kOldest, K::kShortestPath}), 2U);
  EXPECT_EQ(keeper({K::kQuality, K::kPixels}), 0U);
  EXPECT_EQ(keeper({K::kOldest}), 1U);
  EXPECT_EQ(keeper({K::kShortestPath}), 2U);
  // Quality scores less than 0.02 apart are a tie, so the next criterion decides.
  c.items[0].quality = 0.341;
  c.items[1].quality = 0.345;
  EXPECT_EQ(keeper({K::kQuality, K::kOldest}), 1U);  // tie on quality, b is older
  c.items[1].quality = 0.38;
  EXPECT_EQ(keeper({K::kQuality, K::kOldest}), 1U);  // b is better by more than a step
  c.items[1].quality = 0.30;
  EXPECT_EQ(keeper({K::kQuality, K::kOldest}), 0U);
  // Measured from the highest, not in fixed steps: 0.549 and 0.551 tie (they straddle a 0.02
  // step boundary), 0.531 and 0.551 do not.
  c.items[0].quality = 0.551;
  c.items[1].quality = 0.549;
  EXPECT_EQ(keeper({K::kQuality, K::kOldest}), 1U);
  c.items[1].quality = 0.531;
  EXPECT_EQ(keeper({K::kQuality, K::kOldest}), 0U);
  // Equal on every criterion: byte order of the path decides, so the result is deterministic.
  c.items[0].pixels = c.items[1].pixels = c.items[2].pixels = 1;
  EXPECT_EQ(keeper({K::kPixels}), 2U);  // "d.jpg" < "dir/..."
}

TEST(Grouping, ARejectedFileIsKeeperOnlyWhenAllMembersAre) {
  Corpus c;
  auto& big = c.add("big_but_blurry.jpg", kBaseP, kBaseD, 9000);
  big.rejected = true;
  c.add("small.jpg", flip(kBaseP, 0, 2), kBaseD, 100);
  const GroupingResult r = group_duplicates(c.view(), {}, kAlwaysIdentical);
  ASSERT_EQ(r.groups.size(), 1U);
  EXPECT_EQ(r.groups[0].members.front().item, 1U);
  c.items[1].rejected = true;
  const GroupingResult all_rejected = group_duplicates(c.view(), {}, kAlwaysIdentical);
  EXPECT_EQ(all_rejected.groups[0].members.front().item, 0U);
}

// --- The keeper: resolution, then degradation relative to the group, then the configured order.

/// The keeper of the one group `c` makes with `options`.
size_t keeper_of(Corpus& c, const DedupOptions& options = {}) {
  const GroupingResult r = group_duplicates(c.view(), options, kAlwaysIdentical);
  EXPECT_EQ(r.groups.size(), 1U);
  return r.groups.empty() ? size_t{99} : r.groups[0].members.front().item;
}

/// An untouched photo's signals: sharp edges, a few pixels on the top plateau.
GroupingItem& photo(GroupingItem& item, double quality, double edge_width = 1.4,
                    double plateau = 0.02) {
  item.quality = quality;
  item.edge_width = edge_width;
  item.highlight_plateau = plateau;
  return item;
}

TEST(Grouping, ABlownOutCopyLosesToItsOriginalDespiteAHigherQualityScore) {
  // Issue 14: over-exposure raised contrast and sharpness, so the quality score preferred the copy.
  Corpus c;
  photo(c.add("original.jpg", kBaseP, kBaseD, 12'000'000), 0.87).mtime_ns = 200;
  auto& blown = c.add("o.jpg", flip(kBaseP, 0, 3), kBaseD, 12'000'000);
  photo(blown, 1.00, 1.3, 0.31).mtime_ns = 100;  // older, sharper, better scored
  EXPECT_EQ(keeper_of(c), 0U);
  // Without least_degraded (the old default order) the quality score picked the blown-out copy.
  DedupOptions old_order;
  old_order.keeper_order = {KeeperCriterion::kPixels, KeeperCriterion::kQuality,
                            KeeperCriterion::kOldest, KeeperCriterion::kShortestPath};
  EXPECT_EQ(keeper_of(c, old_order), 1U);
}

TEST(Grouping, ABlurredCopyLosesEvenWhenOlderAndBetterScored) {
  Corpus c;
  photo(c.add("original.jpg", kBaseP, kBaseD, 4'000'000), 0.50).mtime_ns = 200;
  photo(c.add("b.jpg", flip(kBaseP, 0, 2), kBaseD, 4'000'000), 0.60, 2.9).mtime_ns = 100;
  EXPECT_EQ(keeper_of(c), 0U);
  // A copy without strong edges at all, beside copies that have them, counts as blurred too.
  photo(c.items[1], 0.60, 0.0);
  EXPECT_EQ(keeper_of(c), 0U);
}

TEST(Grouping, ASmallerCopyLosesEvenWhenSharperAndCleaner) {
  Corpus c;
  photo(c.add("original.jpg", kBaseP, kBaseD, 4000 * 3000), 0.40, 1.6, 0.05);
  photo(c.add("r.jpg", flip(kBaseP, 0, 2), kBaseD, 2000 * 1500), 0.70, 1.1, 0.0);
  EXPECT_EQ(keeper_of(c), 0U);
}

TEST(Grouping, AnEqualSizeReencodeAtLowerJpegQualityLoses) {
  Corpus c;
  auto& original = photo(c.add("original.jpg", kBaseP, kBaseD, 4000 * 3000), 0.50);
  original.mtime_ns = 200;
  original.jpeg = true;
  // 0.5% fewer pixels (a few rows cropped) is the same size; older, with a better score.
  auto& reencoded = photo(c.add("r.jpg", flip(kBaseP, 0, 2), kBaseD, 4000 * 2985), 0.60);
  reencoded.mtime_ns = 100;
  reencoded.jpeg = true;
  photo(c.add("copy.png", flip(kBaseP, 1, 2), kBaseD, 2000 * 1500), 0.9);  // smaller: out first
  DedupOptions options;
  std::vector<size_t> asked;
  options.jpeg_quality = [&](size_t i) {
    asked.push_back(i);
    return i == 0 ? 95 : 40;
  };
  EXPECT_EQ(keeper_of(c, options), 0U);
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (std::vector<size_t>{0, 1}));  // only the JPEGs still tied, once each
  // Without an estimate, compression is not compared and the configured order decides.
  EXPECT_EQ(keeper_of(c), 1U);
  // Qualities 5 points apart are within the margin: a tie.
  options.jpeg_quality = [](size_t i) { return i == 0 ? 95 : 91; };
  EXPECT_EQ(keeper_of(c, options), 1U);
}

TEST(Grouping, JpegQualityIsEstimatedOncePerExactClass) {
  Corpus c;
  for (int i = 0; i < 3; ++i) {
    auto& item = photo(c.add(numbered("same", i), kBaseP, kBaseD, 1000), 0.5);
    item.jpeg = true;
    item.has_content_hash = true;
    item.content_hash = {7, 7};
    item.size_bytes = 10;
  }
  photo(c.add("other.jpg", flip(kBaseP, 0, 1), kBaseD, 1000), 0.5).jpeg = true;
  DedupOptions options;
  int calls = 0;
  options.jpeg_quality = [&](size_t i) {
    ++calls;
    return i == 3 ? 90 : 60;
  };
  EXPECT_EQ(keeper_of(c, options), 3U);
  EXPECT_EQ(calls, 2);
}

TEST(Grouping, DifferencesWithinTheMarginsFallThroughToTheConfiguredOrder) {
  Corpus c;
  // 0.6% fewer pixels, edges 3.6% wider, 3 points more on the plateau: ties; the quality score
  // decides (the files are equally old).
  photo(c.add("a.jpg", kBaseP, kBaseD, 1'000'000), 0.50, 1.40, 0.02);
  photo(c.add("b.jpg", flip(kBaseP, 0, 2), kBaseD, 994'000), 0.60, 1.45, 0.05);
  EXPECT_EQ(keeper_of(c), 1U);
  // Each past its margin decides before quality.
  c.items[1].pixels = 989'000;
  EXPECT_EQ(keeper_of(c), 0U);
  c.items[1].pixels = 1'000'000;
  c.items[1].edge_width = 1.60;  // 14% wider: inside the 20% that counts as no blur
  EXPECT_EQ(keeper_of(c), 1U);
  c.items[1].edge_width = 1.85;  // 32% wider
  EXPECT_EQ(keeper_of(c), 0U);
  c.items[1].edge_width = 1.40;
  c.items[1].highlight_plateau = 0.20;
  EXPECT_EQ(keeper_of(c), 0U);
  // Equal on everything the order asks: oldest, then the shortest path.
  c.items[1].highlight_plateau = c.items[0].highlight_plateau;
  c.items[1].quality = c.items[0].quality;
  c.items[0].mtime_ns = 5;
  c.items[1].mtime_ns = 9;
  EXPECT_EQ(keeper_of(c), 0U);
  c.items[1].mtime_ns = 5;
  c.paths[0] = "z.jpg";  // shorter, though later in byte order
  c.paths[1] = "bb.jpg";
  EXPECT_EQ(keeper_of(c), 0U);
}

TEST(Grouping, ARejectedFileIsNeverKeeperWhileAUsableOneExists) {
  Corpus c;
  // Largest, sharpest, cleanest, best score: but rejected.
  auto& best = photo(c.add("best.jpg", kBaseP, kBaseD, 9000), 0.99, 1.0, 0.0);
  best.rejected = true;
  photo(c.add("usable.jpg", flip(kBaseP, 0, 2), kBaseD, 100), 0.10, 3.0, 0.40);
  EXPECT_EQ(keeper_of(c), 1U);
  for (KeeperCriterion k : kAllKeeperCriteria) {
    DedupOptions options;
    options.keeper_order = {k};
    EXPECT_EQ(keeper_of(c, options), 1U) << to_string(k);
  }
}

TEST(Grouping, TheKeeperIsFirstByRankKeepersAndExplainedWithoutContradiction) {
  // Random groups of 2..6 members: the chosen keeper is rank_keepers' first, and explain_keeper
  // finds it first at every step.
  std::mt19937_64 rng(14);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int round = 0; round < 200; ++round) {
    Corpus c;
    const int n = 2 + static_cast<int>(rng() % 5);
    for (int i = 0; i < n; ++i) {
      auto& item = c.add(numbered("m", round, i), flip(kBaseP, i, 1), kBaseD,
                         1'000'000 - static_cast<int64_t>(rng() % 3) * 6'000);
      photo(item, std::round(unit(rng) * 10) / 10, 1 + std::round(unit(rng) * 4) / 4,
            std::round(unit(rng) * 4) / 20);
      item.rejected = rng() % 5 == 0;
      item.mtime_ns = static_cast<int64_t>(rng() % 3);
    }
    const GroupingResult r = group_duplicates(c.view(), {}, kAlwaysIdentical);
    ASSERT_EQ(r.groups.size(), 1U);
    const size_t keeper = r.groups[0].members.front().item;
    const std::vector<size_t> ranked = rank_keepers(c.items, DedupOptions{}.keeper_order);
    EXPECT_EQ(ranked.front(), keeper);
    const KeeperExplanation why = explain_keeper(c.items, keeper, DedupOptions{}.keeper_order);
    EXPECT_NE(why.decided_by, "candidate_group");
    EXPECT_FALSE(why.text.empty());
  }
}

TEST(Grouping, ExactAndNearMixInOneGroup) {
  Corpus c;
  auto& original = c.add("original.jpg", kBaseP, kBaseD, 1000);
  original.has_content_hash = true;
  original.content_hash = {1, 2};
  original.size_bytes = 5000;
  auto& copy = c.add("copy.jpg", kBaseP, kBaseD, 1000);
  copy.has_content_hash = true;
  copy.content_hash = {1, 2};
  copy.size_bytes = 5000;
  c.add("resized.jpg", flip(kBaseP, 3, 4), flip(kBaseD, 3, 2), 500);
  c.add("other.jpg", ~kBaseP, ~kBaseD, 1000);
  const GroupingResult r = group_duplicates(c.view(), {}, kAlwaysIdentical);
  ASSERT_EQ(r.groups.size(), 1U);
  const DuplicateGroup& g = r.groups[0];
  EXPECT_EQ(g.kind, "mixed");
  ASSERT_EQ(g.members.size(), 3U);
  EXPECT_EQ(g.members[0].item, 1U);  // same pixels: the shorter path "copy.jpg" keeps
  EXPECT_TRUE(g.members[1].exact);
  EXPECT_EQ(g.members[1].item, 0U);
  EXPECT_FALSE(g.members[2].exact);
  EXPECT_EQ(g.members[2].phash_distance, 4);
  EXPECT_EQ(g.members[2].dhash_distance, 2);
  // Only one representative of the exact class enters the near search: one pair, not two.
  EXPECT_EQ(r.near_pairs, 1);
}

TEST(Grouping, EqualHashesThatAreNotEqualBytesAreNotExact) {
  Corpus c;
  for (int i = 0; i < 3; ++i) {
    auto& item = c.add(numbered("f", i), kBaseP + static_cast<uint64_t>(i) * 0xffff, kBaseD);
    item.has_content_hash = true;
    item.content_hash = {9, 9};
    item.size_bytes = 10;
  }
  c.items[0].phash = 0;  // far apart perceptually: only the content hash links them
  c.items[1].phash = ~uint64_t{0};
  c.items[2].phash = 0xffffffff;
  // Files 0 and 2 are identical, file 1 only collides.
  const ExactConfirm confirm = [](size_t a, size_t b) { return (a == 1) == (b == 1); };
  const GroupingResult r = group_duplicates(c.view(), {}, confirm);
  ASSERT_EQ(r.groups.size(), 1U);
  EXPECT_EQ(r.groups[0].kind, "exact");
  EXPECT_EQ(members_of(r)[0], (std::vector<size_t>{0, 2}));
  EXPECT_EQ(r.exact_unconfirmed, 1);
  EXPECT_EQ(r.exact_candidates, 3);
}

TEST(Grouping, IdenticalUndecodableFilesFormAnExactGroup) {
  Corpus c;
  for (int i = 0; i < 2; ++i) {
    auto& item = c.add(numbered("broken", i), 0, 0);
    item.has_hashes = false;
    item.has_content_hash = true;
    item.content_hash = {4, 4};
  }
  c.items[1].size_bytes = c.items[0].size_bytes;
  const GroupingResult r = group_duplicates(c.view(), {}, kAlwaysIdentical);
  ASSERT_EQ(r.groups.size(), 1U);
  EXPECT_EQ(r.groups[0].kind, "exact");
}

TEST(Grouping, MatchModesCombinePhashAndDhash) {
  Corpus c;
  c.add("a", kBaseP, kBaseD);
  c.add("p_only", flip(kBaseP, 0, 3), flip(kBaseD, 0, 20));   // near by pHash only
  c.add("d_only", flip(kBaseP, 30, 20), flip(kBaseD, 40, 3));  // near by dHash only
  const auto groups_with = [&](NearMatch m) {
    DedupOptions options;
    options.match = m;
    options.chain_guard = false;
    return members_of(group_duplicates(c.view(), options, kAlwaysIdentical));
  };
  using G = std::vector<std::vector<size_t>>;
  EXPECT_EQ(groups_with(NearMatch::kBoth), G{});
  EXPECT_EQ(groups_with(NearMatch::kPhash), (G{{0, 1}}));
  EXPECT_EQ(groups_with(NearMatch::kDhash), (G{{0, 2}}));
  EXPECT_EQ(groups_with(NearMatch::kEither), (G{{0, 1, 2}}));
}

TEST(Grouping, TurnedCopiesMatchOnlyWithOrientationsOn) {
  std::array<uint64_t, kOrientationCount> a_phash{};
  std::array<uint64_t, kOrientationCount> a_dhash{};
  std::array<uint64_t, kOrientationCount> b_phash{};
  std::array<uint64_t, kOrientationCount> b_dhash{};
  std::mt19937_64 rng(3);
  for (size_t k = 0; k < kOrientationCount; ++k) {
    a_phash[k] = rng();
    a_dhash[k] = rng();
    b_phash[k] = rng();
    b_dhash[k] = rng();
  }
  // b is a turned 90 degrees clockwise, re-encoded (2 bits off).
  b_phash[0] = flip(a_phash[1], 0, 2);
  b_dhash[0] = flip(a_dhash[1], 5, 1);
  Corpus c;
  auto& a = c.add("a", a_phash[0], a_dhash[0], 2000);
  a.orientation_phash = &a_phash;
  a.orientation_dhash = &a_dhash;
  auto& b = c.add("b", b_phash[0], b_dhash[0], 1000);
  b.orientation_phash = &b_phash;
  b.orientation_dhash = &b_dhash;
  DedupOptions options;
  options.orientations = false;
  EXPECT_TRUE(group_duplicates(c.view(), options, kAlwaysIdentical).groups.empty());
  options.orientations = true;  // the default
  std::vector<NearPair> pairs;
  const GroupingResult r = group_duplicates(c.view(), options, kAlwaysIdentical,
                                            [&](std::span<const NearPair> p) {
                                              pairs.insert(pairs.end(), p.begin(), p.end());
                                            });
  ASSERT_EQ(r.groups.size(), 1U);
  const GroupMember& member = r.groups[0].members[1];
  EXPECT_EQ(member.item, 1U);
  EXPECT_EQ(member.orientation, Orientation::kRotate90);
  EXPECT_EQ(member.phash_distance, 2);
  EXPECT_EQ(member.dhash_distance, 1);
  ASSERT_FALSE(pairs.empty());
  EXPECT_EQ(pairs[0].a, 0U);
  EXPECT_EQ(pairs[0].b, 1U);
  EXPECT_EQ(pairs[0].orientation, Orientation::kRotate90);
}

TEST(Grouping, CropsMatchAWindowOfTheOriginalOnlyWhenAsked) {
  std::mt19937_64 rng(5);
  std::array<uint64_t, kCropWindowCount> a_phash{};
  std::array<uint64_t, kCropWindowCount> a_dhash{};
  for (size_t k = 0; k < kCropWindowCount; ++k) {
    a_phash[k] = rng();
    a_dhash[k] = rng();
  }
  Corpus c;
  auto& a = c.add("original", rng(), rng(), 4000);
  a.crop_phash = &a_phash;
  a.crop_dhash = &a_dhash;
  // b: the original's bottom-right 90%, re-encoded; far from the original's whole-image hashes.
  c.add("crop", flip(a_phash[3], 0, 3), flip(a_dhash[3], 7, 2), 3240);
  c.add("other", rng(), rng(), 4000);
  DedupOptions options;
  options.crops = false;
  EXPECT_TRUE(group_duplicates(c.view(), options, kAlwaysIdentical).groups.empty());
  options.crops = true;  // the default
  int64_t sunk = 0;
  const GroupingResult r = group_duplicates(
      c.view(), options, kAlwaysIdentical,
      [&](std::span<const NearPair> pairs) { sunk += static_cast<int64_t>(pairs.size()); });
  ASSERT_EQ(r.groups.size(), 1U);
  ASSERT_EQ(r.groups[0].members.size(), 2U);
  EXPECT_EQ(r.groups[0].members[0].item, 0U);  // the original, larger, keeps
  const GroupMember& member = r.groups[0].members[1];
  EXPECT_EQ(member.item, 1U);
  EXPECT_EQ(member.phash_distance, 3);
  EXPECT_EQ(member.dhash_distance, 2);
  EXPECT_EQ(member.orientation, Orientation::kIdentity);
  EXPECT_EQ(sunk, 1);
  EXPECT_EQ(r.near_pairs, 1);
  // The crop keeps the group when it is the better keeper: the original's window is then
  // compared the other way round.
  c.items[1].pixels = 9000;
  const GroupingResult swapped = group_duplicates(c.view(), options, kAlwaysIdentical);
  ASSERT_EQ(swapped.groups.size(), 1U);
  EXPECT_EQ(swapped.groups[0].members[0].item, 1U);
  EXPECT_EQ(swapped.groups[0].members[1].phash_distance, 3);
}

TEST(Grouping, SinkGetsThePairsStorePairsNamesOnceWithALessThanB) {
  Corpus c;
  std::mt19937_64 rng(11);
  // 40 clusters of 3 near copies plus 200 singletons.
  for (int g = 0; g < 40; ++g) {
    const uint64_t p = rng();
    const uint64_t d = rng();
    for (int k = 0; k < 3; ++k) {
      c.add(numbered("g", g, k), flip(p, k * 2, k), flip(d, k, k));
    }
  }
  for (int i = 0; i < 200; ++i) c.add(numbered("s", i), rng(), rng());
  std::vector<std::vector<std::pair<size_t, size_t>>> members_by_mode;
  for (const PairStore store : kAllPairStores) {
    DedupOptions options;
    options.store_pairs = store;
    std::set<std::pair<size_t, size_t>> seen;
    size_t delivered = 0;
    const GroupingResult r =
        group_duplicates(c.view(), options, kAlwaysIdentical, [&](std::span<const NearPair> pairs) {
          for (const NearPair& p : pairs) {
            EXPECT_LT(p.a, p.b);
            seen.emplace(p.a, p.b);
            ++delivered;
          }
        });
    EXPECT_EQ(delivered, seen.size()) << to_string(store);
    // Within a cluster every pair is near: 3 pairs each (random singletons are ~32 bits away),
    // counted whatever is stored.
    EXPECT_EQ(r.near_pairs, 120) << to_string(store);
    EXPECT_EQ(r.groups.size(), 40U);
    std::vector<std::pair<size_t, size_t>> membership;  // (item, keeper)
    for (const DuplicateGroup& g : r.groups) {
      EXPECT_EQ(g.members.size(), 3U);
      for (const GroupMember& m : g.members) membership.emplace_back(m.item, g.members[0].item);
      if (store == PairStore::kForest) {
        // The chain guard's forest is a star: each member's pair with its keeper.
        for (size_t k = 1; k < g.members.size(); ++k) {
          const size_t keeper = g.members[0].item;
          const size_t member = g.members[k].item;
          EXPECT_TRUE(seen.contains({std::min(keeper, member), std::max(keeper, member)}));
        }
      }
    }
    std::sort(membership.begin(), membership.end());
    members_by_mode.push_back(membership);
    const size_t expected = store == PairStore::kAll ? 120U : store == PairStore::kForest ? 80U : 0U;
    EXPECT_EQ(delivered, expected) << to_string(store);
  }
  EXPECT_EQ(members_by_mode[0], members_by_mode[1]);  // the same groups and keepers
  EXPECT_EQ(members_by_mode[1], members_by_mode[2]);
}

/// A clustered corpus with every kind of match: clusters whose hashes drift (chains the guard
/// splits), members matching only through a turned variant or a crop window, and singletons.
/// `big`: one cluster of 700, above the size from which a component's pairs are found by a
/// search rather than by comparing every two members.
struct ClusteredCorpus {
  Corpus c;
  std::deque<std::array<uint64_t, kOrientationCount>> turns;
  std::deque<std::array<uint64_t, kCropWindowCount>> windows;

  explicit ClusteredCorpus(uint32_t seed, bool big) {
    std::mt19937_64 rng(seed);
    const auto random_bits = [&](uint64_t h, int n) {
      for (int k = 0; k < n; ++k) h ^= uint64_t{1} << (rng() % 64);
      return h;
    };
    const auto add = [&](uint64_t p, uint64_t d) {
      GroupingItem& item = c.add(numbered("f", static_cast<int>(c.items.size())), p, d,
                                 1000 + static_cast<int64_t>(rng() % 50));
      item.mtime_ns = static_cast<int64_t>(rng() % 1000);
      // Turned and windowed variants: unrelated bits, except where a cluster plants a match.
      auto& t = turns.emplace_back();
      auto& w = windows.emplace_back();
      for (auto& h : t) h = rng();
      for (auto& h : w) h = rng();
      t[0] = p;
      if (rng() % 4 != 0) {  // most have them
        item.orientation_phash = &t;
        item.orientation_dhash = &t;  // the same words: a dHash variant near when the pHash is
      }
      if (rng() % 4 != 0) {
        item.crop_phash = &w;
        item.crop_dhash = &w;
      }
      return c.items.size() - 1;
    };
    const int clusters = big ? 3 : 25;
    for (int g = 0; g < clusters; ++g) {
      const int size = big && g == 0 ? 700 : 2 + static_cast<int>(rng() % 12);
      uint64_t p = rng();
      for (int k = 0; k < size; ++k) {
        // Drift: each member a few bits from the one before, so far ends may exceed 14.
        p = random_bits(p, static_cast<int>(rng() % 5));
        const size_t i = add(p, p);
        if (k % 7 == 3 && c.items[i].orientation_phash != nullptr) {
          // Found only through its turn: stored hashes far off, turn 3 near the cluster (1..14
          // bits off, so that some pairs need the variant margin to be small).
          auto& t = turns[i];
          t[3] = random_bits(p, 1 + static_cast<int>(rng() % 14));
          c.items[i].phash = c.items[i].dhash = t[0] = rng();
        } else if (k % 7 == 5 && c.items[i].crop_phash == nullptr && !windows.empty()) {
          // Found only through another member's window (when the one before has windows).
          const size_t before = i - 1;
          if (c.items[before].crop_phash != nullptr) {
            c.items[i].phash = c.items[i].dhash = rng();
            windows[before][k % kCropWindowCount] =
                random_bits(c.items[i].phash, 1 + static_cast<int>(rng() % 14));
          }
        }
      }
    }
    for (int i = 0; i < 300; ++i) add(rng(), rng());
  }
};

/// The grouping as docs/DEDUP.md defines it, written the slow way: every two items compared over
/// every variant of either, union-find, then per component the keeper order and the chain guard
/// (each group's keeper the best of the group by its own order).
/// Returns (item, its group's keeper) for every grouped item, sorted, and the pair count.
std::pair<std::vector<std::pair<size_t, size_t>>, int64_t> naive_grouping(
    std::span<const GroupingItem> items, const DedupOptions& options) {
  // A turn or a window must come variant_margin nearer than the stored hashes.
  const auto accepts = [&](uint64_t p1, uint64_t d1, uint64_t p2, uint64_t d2, int margin = 0) {
    return hamming_distance(p1, p2) <= options.phash_threshold - margin &&
           hamming_distance(d1, d2) <= options.dhash_threshold - margin;  // match: both
  };
  const int margin = options.variant_margin;
  // x's variants against y's stored hashes: its turns (when `turns`) and its windows.
  const auto one_way = [&](const GroupingItem& x, const GroupingItem& y, bool turns_too) {
    if (accepts(x.phash, x.dhash, y.phash, y.dhash)) return true;
    if (turns_too && x.orientation_phash != nullptr) {
      for (size_t k = 1; k < kOrientationCount; ++k) {
        if (accepts((*x.orientation_phash)[k], (*x.orientation_dhash)[k], y.phash, y.dhash, margin)) {
          return true;
        }
      }
    }
    if (x.crop_phash != nullptr) {
      for (size_t w = 0; w < kCropWindowCount; ++w) {
        if (accepts((*x.crop_phash)[w], (*x.crop_dhash)[w], y.phash, y.dhash, margin)) return true;
      }
    }
    return false;
  };
  const auto is_pair = [&](size_t a, size_t b) {
    return one_way(items[a], items[b], true) || one_way(items[b], items[a], true);
  };
  // The chain guard's test: the keeper turned against the member, windows both ways.
  const auto near_keeper = [&](size_t keeper, size_t other) {
    return one_way(items[keeper], items[other], true) || one_way(items[other], items[keeper], false);
  };
  const size_t n = items.size();
  std::vector<size_t> root(n);
  std::iota(root.begin(), root.end(), size_t{0});
  const auto find = [&](size_t x) {
    while (root[x] != x) x = root[x] = root[root[x]];
    return x;
  };
  std::vector<std::vector<size_t>> adjacent(n);
  int64_t pairs = 0;
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) {
      if (!is_pair(a, b)) continue;
      ++pairs;
      adjacent[a].push_back(b);
      adjacent[b].push_back(a);
      root[find(a)] = find(b);
    }
  }
  std::map<size_t, std::vector<size_t>> components;
  for (size_t i = 0; i < n; ++i) components[find(i)].push_back(i);
  std::vector<std::pair<size_t, size_t>> membership;
  for (const auto& [r, members] : components) {
    if (members.size() < 2) continue;
    std::vector<GroupingItem> copies;
    for (size_t i : members) copies.push_back(items[i]);
    const std::vector<size_t> order = rank_keepers(copies, options.keeper_order, {});
    std::set<size_t> placed;
    const auto gather = [&](size_t keeper) {
      std::vector<size_t> group = {keeper};
      for (size_t other : adjacent[keeper]) {
        if (!placed.contains(other) && near_keeper(keeper, other)) group.push_back(other);
      }
      return group;
    };
    for (size_t k : order) {
      // The seed by the component's order; the keeper the best of its group by the group's own
      // order, the group gathered again around it (docs/DEDUP.md, "The chain guard").
      size_t keeper = members[k];
      if (placed.contains(keeper)) continue;
      std::vector<size_t> group = gather(keeper);
      for (int round = 0; round < 4 && group.size() > 1; ++round) {
        std::vector<GroupingItem> own;
        for (size_t i : group) own.push_back(items[i]);
        const size_t best = group[rank_keepers(own, options.keeper_order, {}).front()];
        if (best == keeper) break;
        keeper = best;
        group = gather(keeper);
      }
      for (size_t i : group) placed.insert(i);
      if (group.size() < 2) continue;
      for (size_t i : group) membership.emplace_back(i, keeper);
    }
  }
  std::sort(membership.begin(), membership.end());
  return {membership, pairs};
}

/// Items whose turned and windowed hashes are behind VariantColumns, as the dedup pass keeps
/// them in a scratch file, instead of behind their own pointers.
class InColumns final : public VariantColumns {
 public:
  explicit InColumns(std::span<const GroupingItem> source)
      : items(source.begin(), source.end()), source_(source.begin(), source.end()) {
    for (GroupingItem& item : items) {
      item.orientations_in_columns = item.orientation_phash != nullptr;
      item.crops_in_columns = item.crop_phash != nullptr;
      item.orientation_phash = item.orientation_dhash = nullptr;
      item.crop_phash = item.crop_dhash = nullptr;
    }
  }
  void read(size_t variant, std::vector<uint64_t>& p, std::vector<uint64_t>& d) const override {
    ++reads;
    p.assign(source_.size(), 0);
    d.assign(source_.size(), 0);
    for (size_t i = 0; i < source_.size(); ++i) {
      const GroupingItem& s = source_[i];
      if (variant < kOrientationCount && s.orientation_phash != nullptr) {
        p[i] = (*s.orientation_phash)[variant];
        d[i] = (*s.orientation_dhash)[variant];
      } else if (variant >= kOrientationCount && s.crop_phash != nullptr) {
        p[i] = (*s.crop_phash)[variant - kOrientationCount];
        d[i] = (*s.crop_dhash)[variant - kOrientationCount];
      }
    }
  }
  void load_rows() const override {
    ++loads;
    for (size_t i = 0; i < source_.size(); ++i) {
      items[i].orientation_phash = source_[i].orientation_phash;
      items[i].orientation_dhash = source_[i].orientation_dhash;
      items[i].crop_phash = source_[i].crop_phash;
      items[i].crop_dhash = source_[i].crop_dhash;
    }
  }

  mutable std::vector<GroupingItem> items;  ///< what group_duplicates is given
  mutable int reads = 0;
  mutable int loads = 0;

 private:
  std::vector<GroupingItem> source_;
};

TEST(Grouping, MatchesTheNaiveDefinitionOnClusteredHashesWhateverIsStored) {
  for (const auto& [big, margin] : {std::pair{false, 2}, std::pair{true, 2}, std::pair{false, 0},
                                     std::pair{true, 5}}) {
    ClusteredCorpus corpus(big ? 5 : 3, big);
    const std::span<const GroupingItem> items = corpus.c.view();
    DedupOptions defaults;
    defaults.variant_margin = margin;
    const auto [expected, expected_pairs] = naive_grouping(items, defaults);
    ASSERT_GT(expected.size(), 40U);
    // The variant margin decides some pairs of this corpus.
    DedupOptions other_margin = defaults;
    other_margin.variant_margin = margin == 0 ? 2 : 0;
    EXPECT_NE(naive_grouping(items, other_margin).second, expected_pairs) << "margin " << margin;
    // Every way of storing pairs, with the search's pairs kept (the default budget), never
    // kept (budget 0: every large component searched again), and dropped half way (a budget
    // the big corpus overflows after filling its buffer a few times).
    struct Run {
      PairStore store;
      size_t budget;
    };
    std::vector<Run> runs;
    for (const PairStore store : kAllPairStores) runs.push_back({store, DedupOptions{}.max_kept_pairs});
    runs.push_back({PairStore::kAll, 0});
    runs.push_back({PairStore::kAll, 1500});
    // And each with the turned and windowed hashes in columns (the dedup pass's scratch file).
    std::vector<std::pair<Run, bool>> all_runs;
    for (const Run& run : runs) {
      all_runs.emplace_back(run, false);
      all_runs.emplace_back(run, true);
    }
    for (const auto& [run, in_columns] : all_runs) {
      const auto [store, budget] = run;
      DedupOptions options;
      options.variant_margin = margin;
      options.store_pairs = store;
      options.max_kept_pairs = budget;
      const InColumns columns(items);
      if (in_columns) options.variant_columns = &columns;
      int64_t stored = 0;
      const GroupingResult r = group_duplicates(
          in_columns ? std::span<const GroupingItem>(columns.items) : items, options,
          kAlwaysIdentical,
          [&](std::span<const NearPair> pairs) { stored += static_cast<int64_t>(pairs.size()); });
      if (in_columns) {
        // One read per variant; the rows only when the pairs were not kept.
        EXPECT_EQ(columns.reads, 16) << "big " << big << ", budget " << budget;
        EXPECT_EQ(columns.loads, r.pairs_kept ? 0 : 1) << "big " << big << ", budget " << budget;
      }
      std::vector<std::pair<size_t, size_t>> membership;
      for (const DuplicateGroup& g : r.groups) {
        for (const GroupMember& m : g.members) membership.emplace_back(m.item, g.members[0].item);
      }
      std::sort(membership.begin(), membership.end());
      EXPECT_EQ(membership, expected) << "big " << big << ", margin " << margin << ", "
                                      << to_string(store) << ", budget " << budget
                                      << (in_columns ? ", in columns" : "");
      // Each keeper is the best of its own group, ranked among the group's members alone.
      for (const DuplicateGroup& g : r.groups) {
        std::vector<GroupingItem> own;
        for (const GroupMember& m : g.members) own.push_back(items[m.item]);
        EXPECT_EQ(rank_keepers(own, options.keeper_order, {}).front(), 0U)
            << "group of " << g.members.front().item;
      }
      EXPECT_GT(r.chain_splits, 0) << "the drift makes chains for the guard to split";
      if (budget == 0 || (big && budget == 1500)) {
        EXPECT_FALSE(r.pairs_kept) << "big " << big << ", budget " << budget;
      } else if (budget > 1500) {
        EXPECT_TRUE(r.pairs_kept);
      }
      EXPECT_EQ(r.near_pairs, expected_pairs) << "big " << big << ", " << to_string(store);
      // A forest: one pair per grouped file that is not a keeper.
      const int64_t members = static_cast<int64_t>(membership.size() - r.groups.size());
      EXPECT_EQ(stored, store == PairStore::kAll      ? expected_pairs
                        : store == PairStore::kForest ? members
                                                      : 0)
          << "big " << big << ", " << to_string(store);
    }
  }
}

TEST(Grouping, WithoutTheChainGuardTheRowsAreReadFromTheColumnsAndTheGroupsAreTheSame) {
  ClusteredCorpus corpus(3, false);
  const std::span<const GroupingItem> items = corpus.c.view();
  DedupOptions options;
  options.chain_guard = false;
  const auto summary = [](const GroupingResult& r) {
    std::vector<std::tuple<size_t, size_t, int, int, Orientation>> out;
    for (const DuplicateGroup& g : r.groups) {
      for (const GroupMember& m : g.members) {
        out.emplace_back(m.item, g.members[0].item, m.phash_distance, m.dhash_distance,
                         m.orientation);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto expected = summary(group_duplicates(items, options, kAlwaysIdentical));
  ASSERT_GT(expected.size(), 40U);
  const InColumns columns(items);
  options.variant_columns = &columns;
  EXPECT_EQ(summary(group_duplicates(columns.items, options, kAlwaysIdentical)), expected);
  EXPECT_EQ(columns.loads, 1);  // every member's distance to its keeper needs both rows
}

TEST(Grouping, ThresholdsOutsideTheHashAreRefused) {
  Corpus c;
  DedupOptions options;
  options.phash_threshold = 33;
  EXPECT_THROW((void)group_duplicates(c.view(), options, kAlwaysIdentical), std::invalid_argument);
  options.phash_threshold = 14;
  options.variant_margin = -1;
  EXPECT_THROW((void)group_duplicates(c.view(), options, kAlwaysIdentical), std::invalid_argument);
}

TEST(Grouping, ATurnOrAWindowMustComeNearerThanTheStoredHashesByTheMargin) {
  std::mt19937_64 rng(11);
  // a: random turns and windows. b_turn matches a turned 180 degrees, b_window matches a's
  // top-left window, and b_plain matches a's stored hashes, each `bits` off in both hashes.
  std::array<uint64_t, kOrientationCount> a_turn_p{};
  std::array<uint64_t, kOrientationCount> a_turn_d{};
  std::array<uint64_t, kCropWindowCount> a_window_p{};
  std::array<uint64_t, kCropWindowCount> a_window_d{};
  for (auto* words : {&a_turn_p, &a_turn_d}) {
    for (uint64_t& h : *words) h = rng();
  }
  for (auto* words : {&a_window_p, &a_window_d}) {
    for (uint64_t& h : *words) h = rng();
  }
  const auto corpus_with = [&](int bits, int which) {
    Corpus c;
    auto& a = c.add("a", a_turn_p[0], a_turn_d[0], 4000);
    a.orientation_phash = &a_turn_p;
    a.orientation_dhash = &a_turn_d;
    a.crop_phash = &a_window_p;
    a.crop_dhash = &a_window_d;
    const uint64_t p = which == 0 ? a_turn_p[0] : which == 1 ? a_turn_p[2] : a_window_p[0];
    const uint64_t d = which == 0 ? a_turn_d[0] : which == 1 ? a_turn_d[2] : a_window_d[0];
    c.add("b", flip(p, 0, bits), flip(d, 20, bits), 1000);
    return c;
  };
  for (int which = 0; which < 3; ++which) {  // stored, turned, windowed
    for (const int margin : {0, 2, 5}) {
      for (int bits = 8; bits <= 15; ++bits) {
        Corpus c = corpus_with(bits, which);
        DedupOptions options;
        options.variant_margin = margin;
        const GroupingResult r = group_duplicates(c.view(), options, kAlwaysIdentical);
        const int limit = which == 0 ? 14 : 14 - margin;
        EXPECT_EQ(r.groups.size(), bits <= limit ? 1U : 0U)
            << "which " << which << ", margin " << margin << ", bits " << bits;
        if (!r.groups.empty()) {
          EXPECT_EQ(r.groups[0].members[1].phash_distance, bits);
          EXPECT_EQ(r.groups[0].members[1].orientation,
                    which == 1 ? Orientation::kRotate180 : Orientation::kIdentity);
        }
      }
    }
  }
}

}  // namespace
}  // namespace vpipe
