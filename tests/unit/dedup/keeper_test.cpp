// The keeper policy on its own: rank_keepers' order and explain_keeper's words for each step.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vpipe/dedup/grouping.h"

namespace vpipe {
namespace {

using K = KeeperCriterion;
const std::vector<KeeperCriterion> kDefaultOrder = DedupOptions{}.keeper_order;

/// Members of one group; paths are string literals (static storage), so views stay valid.
struct Group {
  std::vector<GroupingItem> items;

  GroupingItem& add(const char* path, int width = 4000, int height = 3000) {
    GroupingItem& item = items.emplace_back();
    item.path = path;
    item.width = width;
    item.height = height;
    item.pixels = int64_t{width} * height;
    item.quality = 0.5;
    item.edge_width = 1.4;
    item.highlight_plateau = 0.02;
    item.mtime_ns = 1'600'000'000'000'000'000;  // 2020-09-13
    return item;
  }
  KeeperExplanation why(size_t keeper, const std::vector<KeeperCriterion>& order = kDefaultOrder,
                        const JpegQualityOf& jpeg = {}) const {
    return explain_keeper(items, keeper, order, jpeg);
  }
};

TEST(ExplainKeeper, Largest) {
  Group g;
  g.add("a.jpg");
  g.add("b.jpg", 2000, 1500).edge_width = 1.0;
  const KeeperExplanation why = g.why(0);
  EXPECT_EQ(why.decided_by, "pixels");
  EXPECT_EQ(why.text, "largest (4000x3000 vs 2000x1500)");
}

TEST(ExplainKeeper, LeastDegradedByBlur) {
  Group g;
  g.add("a.jpg");
  g.add("b.jpg").edge_width = 2.9;
  EXPECT_EQ(g.why(0).decided_by, "least_degraded");
  EXPECT_EQ(g.why(0).text, "least degraded (edge width 1.4 vs 2.9 px)");
  g.items[1].edge_width = 0;
  EXPECT_EQ(g.why(0).text, "least degraded (edge width 1.4 px vs no strong edges)");
}

TEST(ExplainKeeper, LeastDegradedByBlownHighlightsNamesTheTermThatDiffersMost) {
  Group g;
  g.add("a.jpg");
  GroupingItem& blown = g.add("b.jpg");
  blown.highlight_plateau = 0.31;
  blown.edge_width = 1.9;  // 36% wider too (20 points of it no blur), but the plateau differs more
  EXPECT_EQ(g.why(0).text, "least degraded (blown highlights 2% vs 31%)");
  g.items[0].highlight_plateau = 0.004;
  EXPECT_EQ(g.why(0).text, "least degraded (blown highlights 0.4% vs 31%)");
}

TEST(RankKeepers, AToneEditThatKeepsThePlateauTiesAndTheOlderFileWins) {
  // A darkened copy of a photo with blown highlights: its plateau moved down with the rest of
  // the tones, but it is still as large, so the copy does not look less degraded; nor does its
  // higher quality score (mid-tones, no clipped channel) decide before the files' ages.
  Group g;
  g.add("photo.jpg");
  g.add("photo-darker.jpg");  // adding may move the items: set them through g.items after
  GroupingItem& original = g.items[0];
  original.highlight_plateau = 0.16;
  original.quality = 0.88;
  GroupingItem& darker = g.items[1];
  darker.highlight_plateau = 0.155;
  darker.quality = 0.95;
  darker.mtime_ns = original.mtime_ns + 86'400'000'000'000;
  EXPECT_EQ(rank_keepers(g.items, kDefaultOrder), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(g.why(0).decided_by, "oldest");
  // With the ages equal, the quality score decides.
  g.items[1].mtime_ns = g.items[0].mtime_ns;
  EXPECT_EQ(rank_keepers(g.items, kDefaultOrder), (std::vector<size_t>{1, 0}));
}

TEST(RankKeepers, EdgesUpTo20PercentWiderAreNoBlur) {
  // A tone edit changes which edges count as strong and moves the width by noise.
  Group g;
  g.add("original.jpg").edge_width = 1.40;
  g.add("gamma.jpg").edge_width = 1.65;  // 18% wider: a tie, the older file wins
  g.items[1].mtime_ns = g.items[0].mtime_ns + 1;
  g.items[1].quality = 0.9;
  EXPECT_EQ(rank_keepers(g.items, kDefaultOrder), (std::vector<size_t>{0, 1}));
  g.items[1].edge_width = 1.40 * 1.31;  // 31% wider: 0.11 past the dead zone, over the margin
  EXPECT_EQ(g.why(0).decided_by, "least_degraded");
}

TEST(RankKeepers, TheReferenceWidthIsTheLowerQuartileNotTheNarrowest) {
  // A copy with its contrast cut keeps only its steepest edges and measures narrower than the
  // original; measured against it, every other member would look blurred.
  Group g;
  g.add("original.jpg").edge_width = 1.4;
  for (const char* copy : {"mirror.jpg", "reencode.jpg", "rot90.jpg"}) {
    g.add(copy).mtime_ns += 1;
  }
  g.add("low-contrast.jpg").edge_width = 1.0;
  g.items[4].mtime_ns += 1;
  EXPECT_EQ(rank_keepers(g.items, kDefaultOrder).front(), 0U);
  EXPECT_EQ(g.why(0).decided_by, "oldest");
  // With only two members the lower quartile is the narrower one.
  Group pair;
  pair.add("original.jpg").edge_width = 1.4;
  pair.add("low-contrast.jpg").edge_width = 1.0;
  pair.items[1].mtime_ns += 1;
  EXPECT_EQ(pair.why(1).decided_by, "least_degraded");
}

TEST(ExplainKeeper, HigherJpegQuality) {
  Group g;
  g.add("a.jpg").jpeg = true;
  g.add("b.jpg").jpeg = true;
  const JpegQualityOf jpeg = [](size_t i) { return i == 0 ? 95 : 40; };
  const KeeperExplanation why = g.why(0, kDefaultOrder, jpeg);
  EXPECT_EQ(why.decided_by, "least_degraded");
  EXPECT_EQ(why.text, "higher JPEG quality (95 vs 40)");
}

TEST(ExplainKeeper, ANonJpegKeeperBeatsAMoreCompressedJpegCopy) {
  // Compression compares JPEGs only: the PNG ties with the best JPEG, the worse JPEG drops out.
  Group g;
  g.add("a.png").quality = 0.9;
  g.add("b.jpg").jpeg = true;
  g.add("c.jpg").jpeg = true;
  const JpegQualityOf jpeg = [](size_t i) { return i == 1 ? 95 : 82; };
  EXPECT_EQ(g.why(0, kDefaultOrder, jpeg).text,
            "least degraded (not a JPEG vs JPEG quality 82; best JPEG copy 95); higher quality "
            "score (0.90 vs 0.50)");
}

TEST(ExplainKeeper, ValuesGetTheDecimalsItTakesToTellThemApart) {
  Group g;
  g.add("a.jpg").quality = 0.5501;
  g.add("b.jpg").quality = 0.5299;  // 0.0202 below: not a tie
  EXPECT_EQ(g.why(0).text, "higher quality score (0.55 vs 0.53)");
  g.items[1].quality = 0.5302;  // 0.0199 below: a tie, decided by the path
  EXPECT_EQ(g.why(0).decided_by, "path_order");
  g.items[0].quality = g.items[1].quality;
  g.items[1].mtime_ns = g.items[0].mtime_ns + 250'000'000;  // a quarter second later
  EXPECT_EQ(g.why(0).text, "oldest (2020-09-13 12:26:40.000 vs 2020-09-13 12:26:40.250 UTC)");
  g.items[1].mtime_ns = g.items[0].mtime_ns + 7;
  EXPECT_EQ(g.why(0).text,
            "oldest (2020-09-13 12:26:40.000000000 vs 2020-09-13 12:26:40.000000007 UTC)");
}

TEST(ExplainKeeper, TheConfiguredOrderAfterATie) {
  Group g;
  g.add("dir/a.jpg").quality = 0.87;
  g.add("dir/b.jpg").quality = 0.52;
  EXPECT_EQ(g.why(0).decided_by, "quality");
  EXPECT_EQ(g.why(0).text, "higher quality score (0.87 vs 0.52)");

  g.items[1].quality = 0.87;
  g.items[1].mtime_ns = g.items[0].mtime_ns + int64_t{400} * 86'400'000'000'000;
  EXPECT_EQ(g.why(0).decided_by, "oldest");
  EXPECT_EQ(g.why(0).text, "oldest (2020-09-13 vs 2021-10-18)");
  g.items[1].mtime_ns = g.items[0].mtime_ns + 3'000'000'000;  // the same day: times
  EXPECT_EQ(g.why(0).text, "oldest (2020-09-13 12:26:40 vs 2020-09-13 12:26:43 UTC)");

  g.items[1].mtime_ns = g.items[0].mtime_ns;
  g.items[1].path = "dir/longer.jpg";
  EXPECT_EQ(g.why(0).decided_by, "shortest_path");
  EXPECT_EQ(g.why(0).text, "shortest path (9 vs 14 bytes)");

  g.items[1].path = "dir/c.jpg";
  EXPECT_EQ(g.why(0).decided_by, "path_order");
  EXPECT_EQ(g.why(0).text, "first in path order (tied on every criterion)");
}

TEST(ExplainKeeper, EachStepThatBeatSomeMemberIsListed) {
  Group g;
  g.add("a.jpg");
  g.add("small.jpg", 2000, 1500);
  g.add("blurred.jpg").edge_width = 2.9;
  g.add("rejected.jpg").rejected = true;
  const KeeperExplanation why = g.why(0);
  EXPECT_EQ(why.decided_by, "usable");
  EXPECT_EQ(why.text,
            "not rejected (1 rejected); largest (4000x3000 vs 2000x1500); least degraded (edge "
            "width 1.4 vs 2.9 px)");
  EXPECT_EQ(rank_keepers(g.items, kDefaultOrder), (std::vector<size_t>{0, 2, 1, 3}));
}

TEST(ExplainKeeper, EveryMemberRejected) {
  Group g;
  g.add("a.jpg").rejected = true;
  g.add("b.jpg", 100, 100).rejected = true;
  EXPECT_EQ(g.why(0).text, "every member rejected; largest (4000x3000 vs 100x100)");
}

TEST(ExplainKeeper, AKeeperThatIsNotFirstSaysSo) {
  // As after a chain-guard split, or a rescan: the order no longer puts the keeper first.
  Group g;
  g.add("a.jpg", 100, 100);
  g.add("b.jpg");
  EXPECT_EQ(g.why(0).decided_by, "candidate_group");
}

TEST(ExplainKeeper, FollowsTheGivenOrder) {
  Group g;
  g.add("a.jpg").mtime_ns = 1;
  g.add("big.jpg", 8000, 6000).mtime_ns = 2;
  EXPECT_EQ(g.why(0, {K::kOldest, K::kPixels}).decided_by, "oldest");
  EXPECT_EQ(g.why(1, {K::kPixels, K::kOldest}).text, "largest (8000x6000 vs 4000x3000)");
}

TEST(RankKeepers, DegradationIsRelativeToTheMembersStillTied) {
  // Blur compares edge widths as a ratio to the reference width of the members still tied on
  // pixels: a small, sharper copy (out on pixels) does not make the large ones' small difference
  // count.
  Group g;
  g.add("a.jpg").edge_width = 2.0;
  g.add("b.jpg").edge_width = 2.15;  // 7.5% wider than a: within the margin
  g.add("small.jpg", 400, 300).edge_width = 1.0;
  g.items[1].quality = 0.9;  // so b wins the tie on quality
  EXPECT_EQ(rank_keepers(g.items, kDefaultOrder), (std::vector<size_t>{1, 0, 2}));
}

}  // namespace
}  // namespace vpipe
