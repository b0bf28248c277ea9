#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vpipe/core/device.h"
#include "vpipe/core/run_report.h"
#include "vpipe/dedup/grouping.h"
#include "vpipe/quality/rules.h"

namespace vpipe {

class Manifest;

/// Everything `vpipe dedup` can be told.
struct DedupPassOptions {
  DedupOptions dedup;
  QualityRules quality;
  bool quality_enabled = true;  ///< apply the quality rules (else every file is kept or grouped)
  /// As select_device returns: recorded in the runs table; on a CUDA device the near-pair
  /// self-joins run on that GPU (hamming_cuda.h) when there are at least gpu_join_min_hashes
  /// hashes, falling back to the CPU index when it cannot.
  Device device = Device::cpu();
  /// Below this many images the CPU index is used even on a GPU: multi-index hashing on the
  /// CPU costs ~1 s per 2M hashes at t = 10, less than a GPU's set-up and transfer for small
  /// sets. Provisional: the crossover is still to be measured on a GPU (docs/PERFORMANCE.md).
  size_t gpu_join_min_hashes = 500'000;
  std::string config_json = "{}";
  /// Fill DedupPassSummary::keeper_reasons (`vpipe dedup --explain`): one line per group.
  bool explain_keepers = false;
  /// Where the pass keeps the turned and windowed hashes while it runs (an unlinked scratch
  /// file, 272 bytes a file: curate/variant_file.h); the manifest's folder by default. Empty,
  /// or a folder it cannot write to: in memory.
  std::filesystem::path scratch_dir;
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
  int64_t largest_component = 0;  ///< representatives in the largest near component
  bool pairs_kept = true;  ///< GroupingResult::pairs_kept (false: large components searched again)
  double search_seconds = 0;      ///< the group step's Hamming searches and union-find
  double settle_seconds = 0;      ///< the group step's components: pairs, guard, keepers
  std::map<std::string, int64_t> decisions;  ///< keep / duplicate / reject -> files
  std::map<std::string, int64_t> reasons;    ///< rule -> files rejected by it
  /// Informational findings: rule -> files not rejected that it would reject, for the rules
  /// that only inform while disabled (today `grayscale`: quality.grayscale.enabled false, the
  /// default).
  std::map<std::string, int64_t> informational;
  QualityRules effective_quality;  ///< the rules as applied (automatic thresholds resolved)
  RunReport timings;  ///< one "stage" per step: load (with the verdicts), group, write
  /// Where the near-pair self-joins ran: "cpu", "cuda:N", or "cpu" with the reason the GPU was
  /// not used ("cpu (cuda:0: no usable CUDA device: ...)", "cpu (1200 images < 500000)").
  std::string join_device = "cpu";
  /// Groups by the first step that set their keeper apart (KeeperExplanation::decided_by:
  /// "usable", "pixels", "least_degraded", ...).
  std::map<std::string, int64_t> keepers_decided_by;
  /// With DedupPassOptions::explain_keepers, for each group in order (group id - 1): the
  /// keeper's path and why it won (KeeperExplanation::text).
  std::vector<std::pair<std::string, std::string>> keeper_reasons;
};

/// A self-join for DedupOptions::self_join that runs `gpu` (in the pass: hamming_self_join_cuda
/// on one device) and returns true; or, when `gpu` throws CudaError before handing over a pair,
/// logs the reason (once per pass), sets `*used` to "cpu (<name>: <reason>)", returns false so
/// the CPU index runs, and skips the GPU from then on. A CudaError after pairs were handed over
/// cannot fall back without double counting: it is rethrown as vpipe::Error naming the device
/// and asking for `--device cpu` (the pass writes nothing: its results are one transaction).
/// On success `*used` is set to `name`. `used` must outlive the returned function.
[[nodiscard]] std::function<bool(std::span<const uint64_t>, int, const HammingPairSink&)>
self_join_with_cpu_fallback(
    std::function<void(std::span<const uint64_t>, int, const HammingPairSink&)> gpu,
    std::string name, std::string* used);

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
