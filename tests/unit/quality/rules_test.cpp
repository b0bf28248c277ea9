// The verdict rules on hand-made records: which side of each threshold fires (boundaries exact),
// the order of reasons, status reasons, severities, automatic thresholds and the quality score.
#include "vpipe/quality/rules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace vpipe {
namespace {

/// A record every default rule passes: a sharp, well exposed 640x480 photo.
FileRecord good_record() {
  FileRecord r;
  r.path = "good.jpg";
  r.status = ItemStatus::kOk;
  r.has_signals = true;
  r.width = 640;
  r.height = 480;
  r.quality.sharpness = 50;
  r.quality.brightness = 120;
  r.quality.contrast = 25;
  r.quality.entropy = 6;
  r.quality.edge_width = 1.5;
  r.quality.highlight_level = 220;
  r.quality.clipped_fraction = 0.01;
  r.quality.colorfulness = 30;
  return r;
}

std::vector<std::string> rules_of(const std::vector<RejectReason>& reasons) {
  std::vector<std::string> out;
  out.reserve(reasons.size());
  for (const auto& r : reasons) out.push_back(r.rule);
  return out;
}

using Names = std::vector<std::string>;

TEST(QualityRules, DefaultsPassAGoodRecord) {
  EXPECT_TRUE(evaluate_quality(good_record(), QualityRules{}).empty());
}

TEST(QualityRules, ThresholdRulesFireStrictlyPastTheirThreshold) {
  QualityRules rules;
  rules.blurry.threshold = 3;
  rules.dark.threshold = 128;
  rules.overexposed.threshold = 0.25;
  rules.grayscale = {true, 1};
  rules.too_large.threshold = 16384;
  rules.low_contrast.threshold = 3;
  rules.low_information.threshold = 2;
  rules.tiny.threshold = 48;
  rules.extreme_aspect.threshold = 4;

  struct Case {
    std::string rule;
    void (*set)(FileRecord&, double);
    double at;      // the threshold itself: passes
    double past;    // just past it: fires
    double inside;  // well inside the good side: passes
  };
  const std::vector<Case> cases = {
      {"blurry", [](FileRecord& r, double v) { r.quality.edge_width = v; }, 3, 3.001, 2},
      {"dark",
       [](FileRecord& r, double v) {
         r.quality.highlight_level = v;
         r.quality.brightness = 60;  // dark only judges images with a mean gray under 100
       },
       128, 127.99, 129},
      {"overexposed", [](FileRecord& r, double v) { r.quality.clipped_fraction = v; }, 0.25,
       0.2501, 0.2},
      {"low_contrast", [](FileRecord& r, double v) { r.quality.contrast = v; }, 3, 2.999, 3.5},
      {"low_information", [](FileRecord& r, double v) { r.quality.entropy = v; }, 2, 1.999, 2.5},
      {"tiny", [](FileRecord& r, double v) { r.width = r.height = static_cast<int>(v); }, 48, 47,
       49},
      {"extreme_aspect",
       [](FileRecord& r, double v) { r.width = static_cast<int>(std::lround(v * 100)); }, 4, 4.01,
       3.99},
      {"grayscale", [](FileRecord& r, double v) { r.quality.colorfulness = v; }, 1, 0.999, 2},
      {"too_large", [](FileRecord& r, double v) { r.width = r.height = static_cast<int>(v); },
       16384, 16385, 16000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.rule);
    FileRecord r = good_record();
    if (c.rule == "extreme_aspect") r.height = 100;
    c.set(r, c.at);
    EXPECT_EQ(rules_of(evaluate_quality(r, rules)), Names{}) << "at the threshold";
    c.set(r, c.inside);
    EXPECT_EQ(rules_of(evaluate_quality(r, rules)), Names{}) << "inside";
    c.set(r, c.past);
    const auto reasons = evaluate_quality(r, rules);
    ASSERT_EQ(rules_of(reasons), Names{c.rule}) << "past the threshold";
    EXPECT_DOUBLE_EQ(reasons[0].value, c.past);
    EXPECT_DOUBLE_EQ(reasons[0].threshold, c.at);
    EXPECT_GT(reasons[0].severity, 0);
  }
}

TEST(QualityRules, TinyAndAspectUseTheShortSideEitherWay) {
  QualityRules rules;
  FileRecord r = good_record();
  r.width = 47;
  r.height = 300;  // portrait: short side is the width
  EXPECT_EQ(rules_of(evaluate_quality(r, rules)), (Names{"tiny", "extreme_aspect"}));
  r.width = 1000;
  r.height = 250;  // exactly 4:1 passes
  EXPECT_EQ(rules_of(evaluate_quality(r, rules)), Names{});
  r.width = 1001;
  EXPECT_EQ(rules_of(evaluate_quality(r, rules)), Names{"extreme_aspect"});
}

TEST(QualityRules, DarkJudgesOnlyImagesWithADimMean) {
  FileRecord r = good_record();
  r.quality.highlight_level = 50;  // no highlight above 50 of 255
  r.quality.brightness = 100;      // but a flat mid-gray frame is not under-exposed
  EXPECT_EQ(rules_of(evaluate_quality(r, QualityRules{})), Names{});
  r.quality.brightness = 99.9;
  EXPECT_EQ(rules_of(evaluate_quality(r, QualityRules{})), Names{"dark"});
}

TEST(QualityRules, AFullyTransparentImageIsTransparentOnly) {
  FileRecord r = good_record();
  r.quality = QualitySignals{};
  r.quality.opaque_fraction = 0;  // signals all 0: not dark, not flat, just nothing to see
  const auto reasons = evaluate_quality(r, QualityRules{});
  ASSERT_EQ(rules_of(reasons), Names{"transparent"});
  EXPECT_DOUBLE_EQ(reasons[0].severity, 1.0);
  r = good_record();
  r.quality.opaque_fraction = 0.2;  // a logo on a transparent canvas: judged on its pixels
  EXPECT_TRUE(evaluate_quality(r, QualityRules{}).empty());
}

TEST(QualityRules, GrayscaleIsOffByDefault) {
  FileRecord r = good_record();
  r.quality.colorfulness = 0;
  EXPECT_TRUE(evaluate_quality(r, QualityRules{}).empty());
  QualityRules rules;
  rules.grayscale.enabled = true;
  EXPECT_EQ(rules_of(evaluate_quality(r, rules)), Names{"grayscale"});
}

TEST(QualityRules, UnknownSizeSkipsTinyAndAspect) {
  FileRecord r = good_record();
  r.width = 0;
  r.height = 0;
  EXPECT_TRUE(evaluate_quality(r, QualityRules{}).empty());
}

TEST(QualityRules, UnmeasuredSignalsAreNotRead) {
  FileRecord r = good_record();
  r.has_signals = false;  // status ok, but the scan never filled the (zero) signals
  r.quality = {};
  EXPECT_TRUE(evaluate_quality(r, QualityRules{}).empty());
  EXPECT_EQ(quality_score(r), 0);
}

TEST(QualityRules, DisabledRulesNeverFire) {
  QualityRules rules;
  FileRecord r = good_record();
  r.width = 10;
  r.height = 100;
  r.quality = {};  // all zero: dark, low_contrast, low_information (no edges: blur not judged)
  ASSERT_EQ(rules_of(evaluate_quality(r, rules)),
            (Names{"dark", "low_contrast", "low_information", "tiny", "extreme_aspect"}));
  for (const ThresholdRuleInfo& info : threshold_rules()) (rules.*info.field).enabled = false;
  EXPECT_TRUE(evaluate_quality(r, rules).empty());
  r.quality.edge_width = 50;
  r.quality.clipped_fraction = 1;
  EXPECT_TRUE(evaluate_quality(r, rules).empty());
}

TEST(QualityRules, SeveralReasonsComeInTheDocumentedOrder) {
  FileRecord r = good_record();
  r.status = ItemStatus::kDamaged;
  r.width = 30;
  r.height = 200;
  r.quality.edge_width = 5;
  r.quality.clipped_fraction = 0.9;
  r.quality.brightness = 250;
  r.quality.contrast = 1;
  r.quality.entropy = 0.5;
  r.quality.colorfulness = 0;
  QualityRules rules;
  rules.grayscale.enabled = true;
  EXPECT_EQ(rules_of(evaluate_quality(r, rules)),
            (Names{"corrupt", "blurry", "overexposed", "low_contrast", "low_information", "tiny",
                   "extreme_aspect", "grayscale"}));
}

TEST(QualityRules, StatusesMapToTheirRules) {
  const QualityRules rules;
  const std::vector<std::pair<ItemStatus, std::string>> expected = {
      {ItemStatus::kCorrupt, "corrupt"},       {ItemStatus::kNotImage, "corrupt"},
      {ItemStatus::kFailed, "corrupt"},        {ItemStatus::kTooLarge, "too_large"},
      {ItemStatus::kUnreadable, "unreadable"}, {ItemStatus::kUnsupported, "unsupported"},
  };
  for (const auto& [status, rule] : expected) {
    FileRecord r;  // no signals, no size: only the status reason
    r.status = status;
    const auto reasons = evaluate_quality(r, rules);
    ASSERT_EQ(reasons.size(), 1u) << to_string(status);
    EXPECT_EQ(reasons[0].rule, rule);
    EXPECT_EQ(reasons[0].value, 0);
    EXPECT_EQ(reasons[0].threshold, 0);
    EXPECT_EQ(reasons[0].severity, 1);
  }
}

TEST(QualityRules, StatusRulesFollowTheirSwitches) {
  QualityRules rules;
  FileRecord damaged = good_record();
  damaged.status = ItemStatus::kDamaged;
  EXPECT_EQ(rules_of(evaluate_quality(damaged, rules)), Names{"corrupt"});
  rules.damaged_is_corrupt = false;
  EXPECT_TRUE(evaluate_quality(damaged, rules).empty());

  FileRecord corrupt;
  corrupt.status = ItemStatus::kCorrupt;
  corrupt.width = 10;  // a header size, but no pixels: threshold rules stay quiet
  corrupt.height = 10;
  rules.reject_corrupt = false;
  EXPECT_TRUE(evaluate_quality(corrupt, rules).empty());
  rules.damaged_is_corrupt = true;
  EXPECT_TRUE(evaluate_quality(damaged, rules).empty()) << "reject_corrupt covers damaged too";
}

TEST(QualityRules, SeverityFormulas) {
  QualityRules rules;
  rules.blurry.threshold = 4;
  rules.overexposed.threshold = 0.2;
  rules.extreme_aspect.threshold = 4;
  FileRecord r = good_record();
  r.quality.edge_width = 6;
  r.quality.clipped_fraction = 0.5;
  r.quality.highlight_level = 32;
  r.quality.brightness = 20;
  r.width = 600;
  r.height = 100;
  const auto reasons = evaluate_quality(r, rules);
  ASSERT_EQ(rules_of(reasons), (Names{"blurry", "dark", "overexposed", "extreme_aspect"}));
  EXPECT_DOUBLE_EQ(reasons[0].severity, 0.5);   // 6 / 4 - 1
  EXPECT_DOUBLE_EQ(reasons[1].severity, 0.75);  // (128 - 32) / 128
  EXPECT_DOUBLE_EQ(reasons[2].severity, 1.5);   // 0.5 / 0.2 - 1
  EXPECT_DOUBLE_EQ(reasons[3].severity, 0.5);   // 6 / 4 - 1

  // Within one rule, further past the threshold is more severe.
  r.quality.edge_width = 8;
  EXPECT_GT(evaluate_quality(r, rules)[0].severity, reasons[0].severity);
}

TEST(QualityRules, RuleTableNamesEverySignalRule) {
  const auto table = signal_rules(QualityRules{});
  ASSERT_EQ(table.size(), 10u);
  EXPECT_EQ(table[0].first.rule, "blurry");
  EXPECT_EQ(table[0].first.signal, "edge_width");
  EXPECT_FALSE(table[0].first.rejects_below);
  EXPECT_EQ(table[1].first.signal, "highlight_level");
  EXPECT_TRUE(table[1].first.rejects_below);
  EXPECT_EQ(table[2].first.rule, "overexposed");
  EXPECT_FALSE(table[2].first.rejects_below);
  EXPECT_EQ(table[2].second.threshold, QualityRules{}.overexposed.threshold);
  EXPECT_EQ(table[6].first.signal, "aspect_ratio");
  FileRecord r = good_record();
  EXPECT_DOUBLE_EQ(rule_input(r, table[5].first), 480);
  EXPECT_DOUBLE_EQ(rule_input(r, table[6].first), 640.0 / 480.0);
  EXPECT_EQ(table[7].first.signal, "colorfulness");
  EXPECT_EQ(table[8].first.rule, "too_large");
  EXPECT_DOUBLE_EQ(rule_input(r, table[8].first), 640);
}

/// 101 records with signals whose every signal takes the values 1, 2, ..., 101 (shuffled by a
/// stride), plus records without signals that must be ignored.
std::vector<FileRecord> ramp_corpus() {
  std::vector<FileRecord> records;
  for (int i = 0; i < 101; ++i) {
    FileRecord r = good_record();
    const double v = 1 + (i * 37) % 101;
    r.quality.sharpness = v;
    r.quality.brightness = v;
    r.quality.contrast = v;
    r.quality.entropy = v;
    r.quality.edge_width = v;
    r.quality.highlight_level = v;
    r.quality.clipped_fraction = v / 101;
    records.push_back(r);
  }
  for (int i = 0; i < 5; ++i) {
    FileRecord broken;
    broken.status = ItemStatus::kCorrupt;
    records.push_back(broken);
  }
  return records;
}

TEST(QualityAutoThresholds, OffReturnsTheRulesUnchanged) {
  const QualityRules rules;
  const auto out = resolve_auto_thresholds(rules, ramp_corpus());
  for (const ThresholdRuleInfo& info : threshold_rules()) {
    EXPECT_EQ((out.*info.field).threshold, (rules.*info.field).threshold) << info.rule;
  }
}

TEST(QualityAutoThresholds, PercentilesOfTheCorpusClampedByTheLimits) {
  QualityRules rules;
  rules.auto_thresholds = true;
  rules.auto_percentile = 2.5;
  const auto records = ramp_corpus();
  const auto out = resolve_auto_thresholds(rules, records);
  // Rank 0.025 * 100 = 2.5 between the values 3 and 4: 3.5 (linear interpolation).
  // blurry rejects wide edges: the 97.5th percentile, rank 97.5 between 98 and 99.
  EXPECT_DOUBLE_EQ(out.blurry.threshold, 98.5);
  EXPECT_DOUBLE_EQ(out.dark.threshold, 3.5);
  EXPECT_DOUBLE_EQ(out.low_contrast.threshold, 3.5);
  EXPECT_DOUBLE_EQ(out.low_information.threshold, 2.0);  // clamped: never stricter than 2 bits
  EXPECT_DOUBLE_EQ(out.overexposed.threshold, 98.5 / 101);
  // Size rules keep their values.
  EXPECT_EQ(out.tiny.threshold, rules.tiny.threshold);
  EXPECT_EQ(out.extreme_aspect.threshold, rules.extreme_aspect.threshold);

  // Each automatic rule rejects the values past its percentile: 99, 100, 101 of 101.
  int blurry = 0;
  for (const FileRecord& r : records) {
    for (const auto& reason : evaluate_quality(r, out)) blurry += reason.rule == "blurry";
  }
  EXPECT_EQ(blurry, 3);
}

TEST(QualityAutoThresholds, HighSideForRulesThatRejectAbove) {
  QualityRules rules;
  rules.auto_thresholds = true;
  rules.auto_percentile = 10;
  auto records = ramp_corpus();
  for (FileRecord& r : records) {
    r.quality.highlight_level += 150;  // 151..251
    r.quality.clipped_fraction = r.quality.edge_width / 1000;  // 0.001..0.101
  }
  const auto out = resolve_auto_thresholds(rules, records);
  EXPECT_DOUBLE_EQ(out.blurry.threshold, 91);  // 90th percentile: rank 90 -> 1 + 90
  EXPECT_DOUBLE_EQ(out.overexposed.threshold, 0.15);  // 0.091, never stricter than 0.15
  EXPECT_DOUBLE_EQ(out.dark.threshold, 140);          // 10th percentile 161, clamped to 140
}

TEST(QualityAutoThresholds, DisabledRulesAndEmptyCorporaKeepTheirValues) {
  QualityRules rules;
  rules.auto_thresholds = true;
  rules.blurry.enabled = false;
  rules.blurry.threshold = 123;
  const auto out = resolve_auto_thresholds(rules, ramp_corpus());
  EXPECT_EQ(out.blurry.threshold, 123);
  EXPECT_NE(out.dark.threshold, rules.dark.threshold);

  const auto none = resolve_auto_thresholds(rules, std::vector<FileRecord>{});
  EXPECT_EQ(none.dark.threshold, rules.dark.threshold);
}

TEST(QualityScore, InUnitRangeMonotoneInSharpnessAndPenalised) {
  FileRecord r = good_record();
  double previous = -1;
  for (double s : {0.0, 0.5, 2.0, 5.0, 20.0, 100.0, 999.0}) {
    r.quality.sharpness = s;
    const double score = quality_score(r);
    EXPECT_GE(score, 0);
    EXPECT_LE(score, 1);
    EXPECT_GT(score, previous) << "sharpness " << s;
    previous = score;
  }
  r.quality.sharpness = 5000;
  EXPECT_DOUBLE_EQ(quality_score(r), 1.0);

  const FileRecord good = good_record();
  FileRecord dark = good;
  dark.quality.brightness = 20;
  FileRecord bright = good;
  bright.quality.brightness = 240;
  FileRecord flat = good;
  flat.quality.contrast = 3;
  FileRecord damaged = good;
  damaged.status = ItemStatus::kDamaged;
  FileRecord corrupt;
  corrupt.status = ItemStatus::kCorrupt;
  EXPECT_LT(quality_score(dark), quality_score(good));
  EXPECT_LT(quality_score(bright), quality_score(good));
  EXPECT_LT(quality_score(flat), quality_score(good));
  EXPECT_DOUBLE_EQ(quality_score(damaged), quality_score(good) / 2);
  EXPECT_EQ(quality_score(corrupt), 0);
}

}  // namespace
}  // namespace vpipe

namespace vpipe {
namespace {

TEST(ThresholdRuleMeaning, EveryRuleSaysWhatItReadsAndWhichSideRejects) {
  // The report's headings use these words: a rule that rejects below its threshold must say
  // "below", one that rejects above "above" (the report once said "mean brightness above the
  // threshold" for overexposed long after the rule had moved to clipped pixels).
  for (const ThresholdRuleInfo& info : threshold_rules()) {
    const std::string meaning(info.meaning);
    ASSERT_FALSE(meaning.empty()) << info.rule;
    const bool below = meaning.find("below the threshold") != std::string::npos;
    const bool above = meaning.find("above the threshold") != std::string::npos;
    EXPECT_EQ(below, info.rejects_below) << info.rule << ": " << meaning;
    EXPECT_EQ(above, !info.rejects_below) << info.rule << ": " << meaning;
  }
}

}  // namespace
}  // namespace vpipe
