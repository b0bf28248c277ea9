#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "vpipe/dedup/grouping.h"
#include "vpipe/engine/metrics.h"
#include "vpipe/quality/rules.h"

namespace vpipe {

class Manifest;

/// Everything `vpipe dedup` can be told.
struct DedupPassOptions {
  DedupOptions dedup;
  QualityRules quality;
  bool quality_enabled = true;  ///< apply the quality rules (else every file is kept or grouped)
  std::string device = "cpu";   ///< recorded in the runs table
  std::string config_json = "{}";
};

/// What a dedup pass decided.
struct DedupPassSummary {
  int64_t files = 0;        ///< file rows considered
  int64_t groups = 0;
  int64_t exact_groups = 0;
  int64_t near_groups = 0;  ///< "near" and "mixed"
  int64_t near_pairs = 0;
  int64_t exact_unconfirmed = 0;
  int64_t chain_splits = 0;
  std::map<std::string, int64_t> decisions;  ///< keep / duplicate / reject -> files
  std::map<std::string, int64_t> reasons;    ///< rule -> files rejected by it
  QualityRules effective_quality;  ///< the rules as applied (automatic thresholds resolved)
  RunReport timings;  ///< one "stage" per step: load (with the verdicts), group, write
};

/// The group pass over a manifest filled by the scan (docs/DEDUP.md): quality verdicts, exact and
/// near-duplicate groups with keepers, and a decision per file (keep, duplicate, reject), written
/// in one transaction that replaces the previous pass's results, so a crash or Ctrl-C leaves
/// the previous results whole and a rerun redoes the pass. Records a run ("dedup") and its stage
/// timings. Throws vpipe::Error when the manifest cannot be read or written.
DedupPassSummary run_dedup_pass(Manifest& manifest, const DedupPassOptions& options);

/// Same, opening the manifest at `db` (which must exist).
DedupPassSummary run_dedup_pass(const std::filesystem::path& db, const DedupPassOptions& options);

/// True when the two files have the same bytes (read in chunks; false when either cannot be
/// read). The byte-for-byte confirmation of exact duplicates.
[[nodiscard]] bool files_identical(const std::string& a, const std::string& b);

}  // namespace vpipe
