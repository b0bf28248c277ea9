#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vpipe/core/record.h"
#include "vpipe/core/run_report.h"

namespace vpipe {

namespace manifest_detail {
class ManifestDb;
}  // namespace manifest_detail

/// What Manifest::replace_dedup_results writes besides groups and decisions, and what the pass
/// knows of the rows its results come from.
struct DedupWrite {
  /// Manifest::others_version() taken before the rows these results come from were read. While no other
  /// connection has committed since, every file id in the results exists, and the rows go in
  /// without a foreign-key lookup each (a third of the write at 2M files); when one has, each
  /// row is checked as always (a file deleted meanwhile fails the write, which rolls back).
  std::optional<int64_t> rows_read_at;
  /// Replace near_pairs too, in the same transaction: `pair(i, row)` fills the i-th of
  /// `pair_count` rows (ordered by (a, b) for a sequential b-tree). False: near_pairs is left
  /// as it is (streamed by add_near_pairs).
  bool replace_pairs = false;
  size_t pair_count = 0;
  std::function<void(size_t, NearPairRecord&)> pair;
};

/// The run's manifest: one SQLite database in WAL mode, the source of truth for resume, reports
/// and exports (DESIGN.md). Schema versioned with `PRAGMA user_version`; opening an older
/// database migrates it, a newer one is refused with ManifestError.
///
/// Thread safety: one Manifest holds one connection and must be used by one thread at a time
/// (the engine's single writer stage). Other processes may read it concurrently (WAL).
class Manifest {
 public:
  static constexpr int kSchemaVersion = 10;

  /// Size and mtime of a file as last scanned; resume skips files whose stamp is unchanged.
  struct FileStamp {
    int64_t size_bytes = 0;
    int64_t mtime_ns = 0;
    /// The row has orientation and crop hashes, or has no hashes at all (no pixels): nothing to
    /// add.
    bool has_orientation_hashes = false;
    /// The row has every signal of this schema (or no pixels); false for a row scanned before
    /// schema 7, which a scan measures again.
    bool current_signals = true;
  };

  enum class Access {
    read_write,  ///< creates a missing database, migrates an older schema
    /// For commands that only read (report, export, validate): works on read-only media. The
    /// database must exist. An older schema is migrated when the file can be written, and
    /// refused with a message otherwise. Every write throws ManifestError.
    read_only,
  };

  /// Opens or creates the database at `path` (its directory must exist). Throws ManifestError
  /// naming the file and SQLite's reason, and when `read_write` finds it cannot be written.
  explicit Manifest(const std::filesystem::path& path, Access access = Access::read_write);
  ~Manifest();
  Manifest(const Manifest&) = delete;
  Manifest& operator=(const Manifest&) = delete;

  /// Opened read-only (Access::read_only, unless it was migrated).
  [[nodiscard]] bool read_only() const;

  /// path -> stamp of every file row, for resume.
  [[nodiscard]] std::unordered_map<std::string, FileStamp> file_stamps() const;

  /// Inserts or replaces (by path) all records in one transaction.
  void upsert_files(std::span<const FileRecord> records);

  /// Deletes the rows of `paths` (those that have one) in one transaction, with everything
  /// derived from them (decisions, reasons, pairs, groups they keep, inferences, detections);
  /// the action journal keeps its entries. Returns how many rows were deleted.
  int64_t remove_files(std::span<const std::string> paths);

  [[nodiscard]] std::optional<FileRecord> find_file(std::string_view path) const;
  [[nodiscard]] std::vector<FileRecord> all_files() const;  ///< ordered by path
  /// Streams every file row, ordered by path, to `visit` (return false to stop): memory stays
  /// flat however many rows. Do not write to this Manifest from inside `visit`.
  void for_each_file(const std::function<bool(const FileRecord&)>& visit) const;
  [[nodiscard]] int64_t count_files() const;
  /// status name -> number of file rows with that status.
  [[nodiscard]] std::map<std::string, int64_t> status_counts() const;

  /// Records the start of a run; returns its id. `config_json` is the effective configuration.
  int64_t begin_run(std::string_view command, std::string_view config_json, std::string_view device);
  /// Records the end of a run: outcome ("completed", "interrupted", "failed") and counts by name.
  void end_run(int64_t run_id, std::string_view outcome, const std::map<std::string, int64_t>& counts);

  // --- The dedup and quality pass (docs/MANIFEST.md: groups, decisions, reasons, near_pairs) ---

  /// Replaces the results of the previous dedup pass by these, in one transaction: either all of
  /// them are visible or (after a crash) none, and the previous ones stay. `decisions[i].reasons`
  /// go to table `reasons`. Decisions are recorded under the current run (begin_run).
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
  /// A mark of what other connections have committed to this manifest: two calls on this
  /// Manifest return the same value when no other connection committed in between (SQLite's
  /// `PRAGMA data_version`; this connection's own writes do not move it).
  [[nodiscard]] int64_t others_version() const;
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
      kPath,      ///< every file, by path
      kGroup,     ///< members of groups [group_from, group_to]: by group, keeper first, then distance
      kSeverity,  ///< files rejected by `rule`, worst first (severity descending, then path)
      /// files with signals, not rejected, whose colorfulness is below `colorfulness_below`:
      /// the least colourful first (then path). The informational `grayscale` finding.
      kColourless,
    };
    Order order = Order::kPath;
    int64_t group_from = 1;
    int64_t group_to = INT64_MAX;
    std::string rule;
    std::string decision;  ///< kPath only: only files with this decision ("" = all)
    double colorfulness_below = 0;  ///< kColourless only
    int64_t offset = 0;
    int64_t limit = -1;  ///< -1 = no limit
  };
  /// Streams the selected files to `visit` (return false to stop), one row at a time: memory
  /// stays flat however large the manifest. Do not write to this Manifest from inside `visit`.
  void for_each_curated(const CuratedQuery& query,
                        const std::function<bool(const CuratedFile&)>& visit) const;
  /// How many files CuratedQuery::Order::kColourless selects for `colorfulness_below`.
  [[nodiscard]] int64_t count_colourless(double colorfulness_below) const;

  // --- The infer pass (docs/MANIFEST.md: inferences, detections, crops) ---

  /// Records what models made of files, in one transaction: for each record, the previous
  /// inference of that (file, model), its detections and their crops rows are replaced.
  /// Detection ids are assigned here, ranks are positions in `detections`, and file id and model
  /// are the record's (each detection's id, rank, file_id and model are ignored). The file's
  /// current files.mtime_ns is stored with the inference. Throws ManifestError for a file id
  /// with no files row (nothing of the batch is written then).
  void record_inferences(std::span<const InferenceRecord> records);
  /// file id -> files.mtime_ns at the time of the inference, for every file `model` has an "ok"
  /// inference of; resume skips those whose mtime is unchanged.
  [[nodiscard]] std::unordered_map<int64_t, int64_t> inferred_files(std::string_view model) const;
  /// Inference status name ("ok", "failed") -> count, for `model` ("" = every model).
  [[nodiscard]] std::map<std::string, int64_t> inference_counts(std::string_view model = {}) const;
  /// The models that have inferences, sorted.
  [[nodiscard]] std::vector<std::string> inferred_models() const;

  /// Which detections for_each_detection visits.
  struct DetectionQuery {
    std::string model;     ///< "" = every model
    std::string task;      ///< "" = both, else "detect" or "classify"
    bool keepers_only = false;  ///< only files the dedup pass kept (no decision = kept)
    int64_t offset = 0;    ///< in files, not detections
    int64_t limit = -1;    ///< files; -1 = no limit
  };
  /// A file with its predictions (of the models the query selects) and their crops.
  struct FileDetections {
    FileRecord file;
    std::vector<DetectionRecord> detections;  ///< by model, then rank
    std::vector<CropRecord> crops;            ///< those that exist, in detection order
  };
  /// Streams the files that have an "ok" inference of the selected models, ordered by path (files
  /// with no detection included: a YOLO export writes an empty label file for them), one file
  /// at a time: memory stays flat. Do not write to this Manifest from inside `visit`.
  void for_each_detection(const DetectionQuery& query,
                          const std::function<bool(const FileDetections&)>& visit) const;
  /// label -> number of detections (task "detect") or top-1 classifications ("classify"); a
  /// model without labels is counted by class id ("0", "1", ...).
  [[nodiscard]] std::map<std::string, int64_t> label_counts(std::string_view model = {}) const;
  [[nodiscard]] int64_t count_detections(std::string_view model = {}) const;

  /// Inserts or replaces (by detection id) crop rows, in one transaction. Throws ManifestError
  /// when a crop names no existing detection.
  void record_crops(std::span<const CropRecord> crops);
  [[nodiscard]] std::optional<CropRecord> find_crop(int64_t detection_id) const;
  [[nodiscard]] int64_t count_crops() const;

  // --- The crawl (docs/MANIFEST.md: urls, crawl_hosts) ---

  /// Adds URLs as "pending" under the current run, in one transaction. A URL already present
  /// (in any state) is left as it is, its extras included. Returns how many were new.
  int64_t add_urls(std::span<const CrawlUrlRecord> urls);
  /// The URLs a crawl still has to fetch, in the order they were added: every "pending" one,
  /// and the "failed" ones for whose reason `retry` returns true (when given).
  [[nodiscard]] std::vector<std::string> urls_to_fetch(
      const std::function<bool(std::string_view reason)>& retry = {}) const;
  /// Records what fetches ended in, with the file rows of the images they produced, in one
  /// transaction (so a URL is "done" exactly when its image has a files row). Each URL row is
  /// updated by `url`: state, reason, message, http_status, path, bytes, content_type,
  /// final_url; `attempts` is added to the stored count; the run is the current one. Throws
  /// ManifestError for a URL that was never added (nothing of the batch is written then).
  void record_crawl_results(std::span<const FileRecord> files,
                            std::span<const CrawlUrlRecord> urls);
  [[nodiscard]] std::optional<CrawlUrlRecord> find_url(std::string_view url) const;
  /// Streams every URL row in the order they were added (return false to stop).
  void for_each_url(const std::function<bool(const CrawlUrlRecord&)>& visit) const;
  /// state ("pending", "done", "failed") -> number of URLs; empty when nothing was crawled.
  [[nodiscard]] std::map<std::string, int64_t> url_state_counts() const;
  /// reason -> number of failed URLs.
  [[nodiscard]] std::map<std::string, int64_t> url_failure_counts() const;
  /// Body bytes of the URLs that are done.
  [[nodiscard]] int64_t crawled_bytes() const;
  /// Stores what crawl run `run_id` did per host (one transaction).
  void record_crawl_hosts(int64_t run_id, std::span<const CrawlHostRecord> hosts);
  /// The per-host figures of the most recent run that recorded any, most bytes first.
  [[nodiscard]] std::vector<CrawlHostRecord> latest_crawl_hosts() const;

  // --- Runs and their stage metrics ---

  /// A row of table `runs`.
  struct RunRecord {
    int64_t id = 0;
    std::string command, config, vpipe_version, device, started_at, ended_at, outcome, counts;
  };
  [[nodiscard]] std::vector<RunRecord> runs() const;  ///< oldest first
  /// Stores the engine's per-stage figures of one pass ("scan", "dedup", ...) of run `run_id`.
  void record_stage_metrics(int64_t run_id, std::string_view pass, const RunReport& report);
  /// The figures of each pass's most recent run that recorded it, in order of run, then pass.
  struct PassMetrics {
    int64_t run_id = 0;
    std::string pass;
    RunReport report;
  };
  [[nodiscard]] std::vector<PassMetrics> latest_pass_metrics() const;

  // --- The action journal (docs/MANIFEST.md `actions`) ---

  /// Journals an action as "planned" and commits, before the file operation is done; returns
  /// its id. `action.state` is ignored.
  int64_t plan_action(const ActionRecord& action);
  /// Records the outcome of a planned action: "done", "failed" (with `error`) or "undone".
  void set_action_state(int64_t id, std::string_view state, std::string_view error = {});
  /// Actions in journal order; only those in `state` when it is not empty.
  [[nodiscard]] std::vector<ActionRecord> actions(std::string_view state = {}) const;

  /// Result of `PRAGMA integrity_check`: "ok" when the database is sound.
  [[nodiscard]] std::string integrity_check() const;

  /// Makes the WAL durable in the main file (wal_checkpoint(TRUNCATE)); called at the end of a run.
  void checkpoint();

  /// Frees the page cache's unused pages (up to its 32 MB), for a pass that has read what it
  /// needs and holds much in memory itself (the dedup pass at millions of files).
  void release_memory();

 private:
  std::unique_ptr<manifest_detail::ManifestDb> db_;  ///< the connection (io/manifest_db.h)
};

}  // namespace vpipe
