#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vpipe/core/record.h"

namespace vpipe {

/// One threshold rule over one signal. Which side rejects is fixed per rule (see QualityRules).
/// A rule fires strictly past its threshold: a value equal to the threshold passes.
struct ThresholdRule {
  bool enabled = true;
  double threshold = 0;
};

/// The quality verdict rules (docs/QUALITY.md for definitions, docs/ACCURACY.md for how the
/// defaults were chosen on synthetic corpora). An image is rejected when any enabled rule fires;
/// every firing rule is a reason. Signal values are those of docs/SIGNALS.md, measured on the
/// working image (longer side <= 256 px), so the defaults hold whatever the file's resolution.
struct QualityRules {
  ThresholdRule blurry{true, 3.0};         ///< edge_width > threshold (px at the working size)
  /// highlight_level < threshold (99th percentile of gray, 0..255), only for images whose mean
  /// gray is below kDarkMaxBrightness (a flat mid-gray frame is not dark)
  ThresholdRule dark{true, 128};
  ThresholdRule overexposed{true, 0.25};   ///< clipped_fraction > threshold (0..1)
  ThresholdRule low_contrast{true, 2};     ///< contrast < threshold (gray std, 0..127.5)
  ThresholdRule low_information{true, 1};  ///< entropy < threshold (bits, 0..8)
  ThresholdRule tiny{true, 48};            ///< min(width, height) < threshold (pixels)
  ThresholdRule extreme_aspect{true, 4};   ///< max(w, h) / min(w, h) > threshold
  ThresholdRule grayscale{false, 1};       ///< colorfulness < threshold (off by default)
  ThresholdRule too_large{true, 16384};    ///< max(width, height) > threshold (pixels)
  /// opaque_fraction < threshold: almost nothing visible (a fully transparent canvas)
  ThresholdRule transparent{true, 0.01};
  bool reject_corrupt = true;              ///< a file without usable pixels (status not ok/damaged)
  bool damaged_is_corrupt = true;          ///< also reject files that decoded only with a warning
  /// Replace the thresholds of the signal rules (blurry .. low_information) by percentiles of
  /// the corpus's own values (resolve_auto_thresholds).
  bool auto_thresholds = false;
  double auto_percentile = 1.0;  ///< percent of the corpus each automatic rule may reject
};

/// Why an image was rejected: the rule, the measured value and the threshold it crossed, and a
/// severity (>= 0, larger = worse; comparable within one rule) that the report sorts by.
struct RejectReason {
  std::string rule;  ///< "corrupt", "unreadable", ..., "blurry", "dark", ... (docs/QUALITY.md)
  double value = 0;
  double threshold = 0;
  double severity = 0;
};

/// What one threshold rule reads and which side of its threshold rejects.
struct ThresholdRuleInfo {
  std::string_view rule;      ///< "blurry", ... as in RejectReason::rule and the config
  std::string_view signal;    ///< a QualitySignals field, or "min_side" / "aspect_ratio"
  bool rejects_below = true;  ///< true: fires when value < threshold; false: value > threshold
  ThresholdRule QualityRules::*field = nullptr;  ///< the rule's settings in QualityRules
  /// What fires it, in words, for people (the report's headings): "... below the threshold" when
  /// rejects_below, else "... above the threshold".
  std::string_view meaning;
};

/// `dark` fires only for images whose mean gray level is below this: a fog or a flat gray frame
/// without highlights is not under-exposed (docs/QUALITY.md).
inline constexpr double kDarkMaxBrightness = 100;

/// The ten threshold rules, in evaluation order: blurry, dark, overexposed, low_contrast,
/// low_information, tiny, extreme_aspect, grayscale, too_large, transparent. tiny,
/// extreme_aspect and too_large read the record's width and height; the others read quality
/// signals. An image without any opaque pixel gets `transparent` and none of the other signal
/// rules (its signals are all 0: there is nothing to judge).
[[nodiscard]] std::span<const ThresholdRuleInfo> threshold_rules();

/// The value `info`'s rule compares with its threshold: the signal, min(width, height),
/// max(w, h) / min(w, h) or max(width, height) (0 when a side is unknown). Meaningful for records with signals only.
[[nodiscard]] double rule_input(const FileRecord& record, const ThresholdRuleInfo& info);

/// Each threshold rule (threshold_rules() order) with its settings in `rules`, for a report that
/// draws each threshold on its signal's histogram.
[[nodiscard]] std::vector<std::pair<ThresholdRuleInfo, ThresholdRule>> signal_rules(
    const QualityRules& rules);

/// Every reason `record` is rejected for, empty when it passes. Order: at most one status
/// reason first ("corrupt" for corrupt, not_image, failed, and damaged when damaged_is_corrupt;
/// "unreadable", "too_large", "unsupported" under their own names; all of them only when
/// reject_corrupt; value, threshold 0, severity 1), then the threshold rules in
/// threshold_rules() order. Threshold rules apply only to records with signals (status ok or
/// damaged, and FileRecord::has_signals).
/// Severity of a firing rule: (threshold - value) / threshold for a rule that rejects below,
/// value / threshold - 1 for one that rejects above (docs/QUALITY.md). Pure, thread-safe.
[[nodiscard]] std::vector<RejectReason> evaluate_quality(const FileRecord& record,
                                                         const QualityRules& rules);

/// Whether `record` has signals and no colour by the `grayscale` rule's threshold (colorfulness
/// below rules.grayscale.threshold), whether or not the rule is enabled: with it disabled (the
/// default) a colourless image is an informational finding, not a reject (docs/QUALITY.md).
[[nodiscard]] bool is_colourless(const FileRecord& record, const QualityRules& rules);

/// One score per image in [0, 1], higher is better: log sharpness scaled to [0, 1], times an
/// exposure factor and a contrast factor (docs/QUALITY.md); 0 for a record without signals.
/// Used to pick which of a group of duplicates to keep (after pixel count). Pure, thread-safe.
[[nodiscard]] double quality_score(const FileRecord& record);

/// The strictest threshold resolve_auto_thresholds may choose for a signal rule (blurry 2.5,
/// dark 140, overexposed 0.15, low_contrast 8, low_information 2); nullopt for the rules that
/// are never automatic (tiny, extreme_aspect, grayscale, too_large).
[[nodiscard]] std::optional<double> auto_threshold_limit(const ThresholdRuleInfo& info);

/// When rules.auto_thresholds, returns a copy of `rules` in which each enabled signal rule
/// (blurry .. low_information) has as its threshold the auto_percentile-th percentile (linear
/// interpolation between order statistics) of that signal over the records with signals: the
/// low tail for rules that reject below, the 100 - p-th percentile for those that reject above.
/// So on any corpus each rule rejects at most about p% of the images, whether or not they are
/// bad. The threshold is then clamped so that it is never stricter than auto_threshold_limit
/// (a clean corpus does not lose its p% to rules whose values there mean nothing is wrong).
/// tiny, extreme_aspect, the status rules and disabled rules keep their configured values; with
/// no record with signals, or auto_thresholds off, `rules` comes back unchanged. Pure.
[[nodiscard]] QualityRules resolve_auto_thresholds(const QualityRules& rules,
                                                   std::span<const FileRecord> records);

}  // namespace vpipe
