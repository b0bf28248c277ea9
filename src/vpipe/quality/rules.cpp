#include "vpipe/quality/rules.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>

namespace vpipe {
namespace {

constexpr std::array<ThresholdRuleInfo, 10> kThresholdRules = {{
    {"blurry", "edge_width", false, &QualityRules::blurry,
     "width of the sharpest edges (pixels at the 256-pixel working size) above the threshold"},
    {"dark", "highlight_level", true, &QualityRules::dark,
     "highlights (99th percentile of gray) below the threshold, in a dim picture"},
    {"overexposed", "clipped_fraction", false, &QualityRules::overexposed,
     "share of pixels with a clipped channel (>= 250) above the threshold"},
    {"low_contrast", "contrast", true, &QualityRules::low_contrast,
     "contrast (standard deviation of gray levels) below the threshold"},
    {"low_information", "entropy", true, &QualityRules::low_information,
     "entropy of the gray histogram below the threshold: a near-constant image"},
    {"tiny", "min_side", true, &QualityRules::tiny,
     "shorter side below the threshold, in pixels"},
    {"extreme_aspect", "aspect_ratio", false, &QualityRules::extreme_aspect,
     "aspect ratio (long side / short side) above the threshold"},
    {"grayscale", "colorfulness", true, &QualityRules::grayscale,
     "colourfulness below the threshold: a gray picture"},
    {"too_large", "max_side", false, &QualityRules::too_large,
     "longer side above the threshold, in pixels"},
    {"transparent", "opaque_fraction", true, &QualityRules::transparent,
     "share of opaque pixels below the threshold: almost nothing visible"},
}};

// quality_score: sharpness (at the 256 px working size) whose log maps to 1. Clean synthetic
// photos lie at 5..150 (median about 23), so the term spreads them over about 0.25..0.75.
constexpr double kScoreSharpnessCeiling = 1000;
// quality_score: mean gray levels within kScoreExposureBand of mid-gray (63.75..191.25) count as
// well exposed; the factor falls linearly to 0 at black (0) and white (255).
constexpr double kScoreMidGray = 127.5;
constexpr double kScoreExposureBand = 63.75;
// quality_score: a gray standard deviation at or above this counts as full contrast. Clean
// synthetic photos have 7..60 (median about 23).
constexpr double kScoreContrastFloor = 12;
// quality_score: a file that decoded only with a warning (damaged, e.g. truncated and
// grey-filled) is worth half an intact one, so an intact duplicate of it is kept instead.
constexpr double kScoreDamagedFactor = 0.5;

/// tiny and extreme_aspect read the record's width and height rather than a quality signal.
bool reads_size(const ThresholdRuleInfo& info) {
  return info.field == &QualityRules::tiny || info.field == &QualityRules::extreme_aspect ||
         info.field == &QualityRules::too_large;
}

/// The status rule of a record without usable pixels, or of a damaged one; empty when the status
/// gives no reason (ok, or damaged with damaged_is_corrupt off).
std::string_view status_rule(ItemStatus status, const QualityRules& rules) {
  switch (status) {
    case ItemStatus::kOk:
      return {};
    case ItemStatus::kDamaged:
      return rules.damaged_is_corrupt ? "corrupt" : std::string_view{};
    case ItemStatus::kCorrupt:
    case ItemStatus::kNotImage:
    case ItemStatus::kFailed:
      return "corrupt";
    case ItemStatus::kTooLarge:
    case ItemStatus::kUnreadable:
    case ItemStatus::kUnsupported:
      return to_string(status);
  }
  return "corrupt";
}

/// True when the record's signals were measured (status ok or damaged, and the scan filled them).
bool measured(const FileRecord& record) { return has_signals(record.status) && record.has_signals; }

/// How far past its threshold a firing rule's value is (docs/QUALITY.md, "Severity").
double severity(const ThresholdRuleInfo& info, double value, double threshold) {
  if (info.rejects_below) return threshold > 0 ? (threshold - value) / threshold : 1.0;
  return threshold > 0 ? value / threshold - 1 : value;
}

/// The p-th percentile (0..100) of `sorted` (ascending, not empty), interpolating linearly
/// between the order statistics at rank p / 100 * (n - 1) (numpy's default "linear" method).
double percentile(const std::vector<double>& sorted, double p) {
  assert(!sorted.empty());  // callers skip a corpus without signals
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

}  // namespace

std::span<const ThresholdRuleInfo> threshold_rules() { return kThresholdRules; }

double rule_input(const FileRecord& record, const ThresholdRuleInfo& info) {
  const QualitySignals& q = record.quality;
  if (info.field == &QualityRules::blurry) return q.edge_width;
  if (info.field == &QualityRules::dark) return q.highlight_level;
  if (info.field == &QualityRules::overexposed) return q.clipped_fraction;
  if (info.field == &QualityRules::low_contrast) return q.contrast;
  if (info.field == &QualityRules::low_information) return q.entropy;
  if (info.field == &QualityRules::grayscale) return q.colorfulness;
  if (info.field == &QualityRules::transparent) return q.opaque_fraction;
  const int short_side = std::min(record.width, record.height);
  if (short_side <= 0) return 0;
  if (info.field == &QualityRules::too_large) return std::max(record.width, record.height);
  if (info.field == &QualityRules::tiny) return short_side;
  assert(info.field == &QualityRules::extreme_aspect);  // kThresholdRules holds no other rule
  return static_cast<double>(std::max(record.width, record.height)) / short_side;
}

std::vector<std::pair<ThresholdRuleInfo, ThresholdRule>> signal_rules(const QualityRules& rules) {
  std::vector<std::pair<ThresholdRuleInfo, ThresholdRule>> out;
  out.reserve(kThresholdRules.size());
  for (const ThresholdRuleInfo& info : kThresholdRules) out.emplace_back(info, rules.*info.field);
  return out;
}

std::vector<RejectReason> evaluate_quality(const FileRecord& record, const QualityRules& rules) {
  std::vector<RejectReason> reasons;
  if (rules.reject_corrupt) {
    const std::string_view rule = status_rule(record.status, rules);
    if (!rule.empty()) reasons.push_back({std::string(rule), 0, 0, 1});
  }
  if (!measured(record)) return reasons;

  const bool size_known = record.width > 0 && record.height > 0;
  for (const ThresholdRuleInfo& info : kThresholdRules) {
    const ThresholdRule& rule = rules.*info.field;
    if (!rule.enabled) continue;
    if (reads_size(info) && !size_known) continue;
    // Nothing visible: every signal is 0 and says nothing of the picture; only `transparent`
    // and the size rules speak.
    if (record.quality.opaque_fraction <= 0 && !reads_size(info) &&
        info.field != &QualityRules::transparent) {
      continue;
    }
    if (info.field == &QualityRules::dark && record.quality.brightness >= kDarkMaxBrightness) {
      continue;
    }
    const double value = rule_input(record, info);
    const bool fires = info.rejects_below ? value < rule.threshold : value > rule.threshold;
    if (!fires) continue;
    reasons.push_back(
        {std::string(info.rule), value, rule.threshold, severity(info, value, rule.threshold)});
  }
  return reasons;
}

bool is_colourless(const FileRecord& record, const QualityRules& rules) {
  return record.has_signals && has_signals(record.status) && record.quality.opaque_fraction > 0 &&
         record.quality.colorfulness < rules.grayscale.threshold;
}

double quality_score(const FileRecord& record) {
  if (!measured(record)) return 0;
  const QualitySignals& q = record.quality;
  const double sharp = std::clamp(
      std::log1p(std::max(0.0, q.sharpness)) / std::log1p(kScoreSharpnessCeiling), 0.0, 1.0);
  const double off_mid = std::abs(q.brightness - kScoreMidGray);
  const double exposure =
      std::clamp(1 - std::max(0.0, off_mid - kScoreExposureBand) / kScoreExposureBand, 0.0, 1.0);
  const double contrast = std::clamp(q.contrast / kScoreContrastFloor, 0.0, 1.0);
  const double damaged = record.status == ItemStatus::kDamaged ? kScoreDamagedFactor : 1.0;
  return sharp * exposure * contrast * damaged;
}

std::optional<double> auto_threshold_limit(const ThresholdRuleInfo& info) {
  // The strictest automatic threshold per rule: beyond these values an image no longer looks
  // like what the rule names (docs/QUALITY.md, "Automatic thresholds").
  if (info.field == &QualityRules::blurry) return 2.5;
  if (info.field == &QualityRules::dark) return 140.0;
  if (info.field == &QualityRules::overexposed) return 0.15;
  if (info.field == &QualityRules::low_contrast) return 8.0;
  if (info.field == &QualityRules::low_information) return 2.0;
  return std::nullopt;
}

QualityRules resolve_auto_thresholds(const QualityRules& rules,
                                     std::span<const FileRecord> records) {
  QualityRules out = rules;
  if (!rules.auto_thresholds) return out;
  std::vector<double> values;
  values.reserve(records.size());
  for (const ThresholdRuleInfo& info : kThresholdRules) {
    ThresholdRule& rule = out.*info.field;
    const std::optional<double> limit = auto_threshold_limit(info);
    if (!rule.enabled || !limit) continue;
    values.clear();
    for (const FileRecord& r : records) {
      if (measured(r)) values.push_back(rule_input(r, info));
    }
    if (values.empty()) return rules;
    std::sort(values.begin(), values.end());
    const double p = std::clamp(rules.auto_percentile, 0.0, 100.0);
    if (info.rejects_below) {
      rule.threshold = std::min(percentile(values, p), *limit);
    } else {
      rule.threshold = std::max(percentile(values, 100 - p), *limit);
    }
  }
  return out;
}

}  // namespace vpipe
