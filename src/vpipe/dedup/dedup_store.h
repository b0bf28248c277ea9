#pragma once

// The dedup and quality pass's tables of the manifest (docs/MANIFEST.md: groups, decisions,
// reasons, quality_thresholds, near_pairs): their rows and the store that reads and writes them.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vpipe/core/record.h"

namespace vpipe {

class Manifest;
namespace manifest_detail {
class ManifestDb;
}  // namespace manifest_detail

/// One reason why the quality verdict rejected a file (manifest table `reasons`).
struct ReasonRecord {
  std::string rule;  ///< "blurry", "dark", ..., "corrupt"
  double value = 0;  ///< the measured value the rule read
  double threshold = 0;
  double severity = 0;  ///< how far past the threshold, >= 0; comparable within one rule
};

/// What the dedup and quality passes decided about one file (manifest table `decisions`).
struct DecisionRecord {
  int64_t file_id = 0;
  std::string decision;     ///< "keep", "duplicate" or "reject"
  int64_t group_id = 0;     ///< duplicate group (groups.id); 0 = in no group
  bool is_keeper = false;   ///< the member of its group that is kept
  std::string match;        ///< for a group member other than the keeper: "exact" or "near"
  int phash_distance = -1;  ///< to the group's keeper; -1 = not applicable
  int dhash_distance = -1;
  std::string orientation;  ///< for a turned/mirrored match: how this file is turned vs the keeper
  double quality_score = 0;
  std::vector<ReasonRecord> reasons;  ///< why it was rejected (empty unless decision == reject)
};

/// A quality rule over one measured value as applied by the last dedup pass (manifest table
/// `quality_thresholds`), so reports can draw the threshold on the value's histogram.
struct ThresholdRecord {
  std::string rule;    ///< "blurry", ...
  std::string signal;  ///< "sharpness", "brightness", ..., "min_side", "aspect_ratio"
  double threshold = 0;
  bool rejects_below = true;  ///< the rule fires for value < threshold (else value > threshold)
  bool enabled = true;
};

/// A duplicate group (manifest table `groups`).
struct GroupRecord {
  int64_t id = 0;         ///< 1..number of groups
  std::string kind;       ///< "exact" (all members byte-identical), "near", or "mixed"
  int64_t keeper_id = 0;  ///< files.id of the keeper
  int64_t size = 0;       ///< members, keeper included
  int max_distance = 0;   ///< largest pHash distance of a member to the keeper
};

/// A near-duplicate pair found by the Hamming search (manifest table `near_pairs`), a < b.
struct NearPairRecord {
  int64_t a = 0;  ///< files.id
  int64_t b = 0;
  int phash_distance = 0;
  int dhash_distance = 0;
  std::string orientation;  ///< empty = as stored; else how b is turned relative to a
};

/// What DedupStore::replace_dedup_results writes besides groups and decisions, and what the
/// pass knows of the rows its results come from.
struct DedupWrite {
  /// Manifest::others_version() taken before the rows these results come from were read. While
  /// no other connection has committed since, every file id in the results exists, and the rows
  /// go in without a foreign-key lookup each (a third of the write at 2M files); when one has,
  /// each row is checked as always (a file deleted meanwhile fails the write, which rolls back).
  std::optional<int64_t> rows_read_at;
  /// Replace near_pairs too, in the same transaction: `pair(i, row)` fills the i-th of
  /// `pair_count` rows (ordered by (a, b) for a sequential b-tree). False: near_pairs is left
  /// as it is (streamed by add_near_pairs).
  bool replace_pairs = false;
  size_t pair_count = 0;
  std::function<void(size_t, NearPairRecord&)> pair;
};

/// The dedup results of a manifest. A view over its connection: cheap to make, used like the
/// Manifest it was made from (one thread at a time); writes need one opened read-write.
///
///   DedupStore(manifest).decision_counts();
class DedupStore {
 public:
  explicit DedupStore(const Manifest& manifest);

  /// Replaces the results of the previous dedup pass by these, in one transaction: either all of
  /// them are visible or (after a crash) none, and the previous ones stay. `decisions[i].reasons`
  /// go to table `reasons`. Decisions are recorded under the current run (Manifest::begin_run).
  void replace_dedup_results(std::span<const GroupRecord> groups,
                             std::span<const DecisionRecord> decisions,
                             std::span<const ThresholdRecord> thresholds = {});
  /// Same, with the decisions produced one at a time: `decision(i, row)` fills the i-th of
  /// `decision_count` rows (a fresh DecisionRecord each time), so a pass over millions of files
  /// never holds them all. Rows in file id order append to the b-tree; any order is correct.
  void replace_dedup_results(std::span<const GroupRecord> groups, size_t decision_count,
                             const std::function<void(size_t, DecisionRecord&)>& decision,
                             std::span<const ThresholdRecord> thresholds = {},
                             const DedupWrite& write = {});
  /// The quality thresholds the last dedup pass applied, in the order it wrote them.
  [[nodiscard]] std::vector<ThresholdRecord> quality_thresholds() const;
  /// Empties `near_pairs` (the start of a dedup pass that streams its pairs).
  void clear_near_pairs();
  /// Appends near pairs in one transaction (a pair already present is replaced).
  /// `rows_read_at`: as DedupWrite::rows_read_at.
  void add_near_pairs(std::span<const NearPairRecord> pairs,
                      std::optional<int64_t> rows_read_at = std::nullopt);
  [[nodiscard]] int64_t count_near_pairs() const;

  /// decision name ("keep", "duplicate", "reject") -> number of files; empty before a dedup pass.
  [[nodiscard]] std::map<std::string, int64_t> decision_counts() const;
  /// rule -> number of files rejected (among other reasons) by it.
  [[nodiscard]] std::map<std::string, int64_t> reason_counts() const;
  [[nodiscard]] int64_t count_groups() const;
  /// Groups ordered by id (ids are 1..count_groups(), largest group first).
  [[nodiscard]] std::vector<GroupRecord> groups() const;

  /// A file joined with what the dedup pass decided about it.
  struct CuratedFile {
    FileRecord file;
    bool has_decision = false;
    DecisionRecord decision;  ///< reasons included
  };
  /// Which files `for_each_curated` visits, in what order.
  struct CuratedQuery {
    enum class Order {
      kPath,   ///< every file, by path
      kGroup,  ///< members of groups [group_from, group_to]: by group, keeper first, then distance
      kSeverity,  ///< files rejected by `rule`, worst first (severity descending, then path)
      /// files with signals, not rejected, whose colorfulness is below `colorfulness_below`:
      /// the least colourful first (then path). The informational `grayscale` finding.
      kColourless,
    };
    Order order = Order::kPath;
    int64_t group_from = 1;
    int64_t group_to = INT64_MAX;
    std::string rule;
    std::string decision;           ///< kPath only: only files with this decision ("" = all)
    double colorfulness_below = 0;  ///< kColourless only
    int64_t offset = 0;
    int64_t limit = -1;  ///< -1 = no limit
  };
  /// Streams the selected files to `visit` (return false to stop), one row at a time: memory
  /// stays flat however large the manifest. Do not write to the manifest from inside `visit`.
  void for_each_curated(const CuratedQuery& query,
                        const std::function<bool(const CuratedFile&)>& visit) const;
  /// How many files CuratedQuery::Order::kColourless selects for `colorfulness_below`.
  [[nodiscard]] int64_t count_colourless(double colorfulness_below) const;

 private:
  const manifest_detail::ManifestDb& db_;
};

}  // namespace vpipe
