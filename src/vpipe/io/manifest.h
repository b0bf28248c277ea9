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

#include "vpipe/core/run_report.h"

namespace vpipe {

namespace manifest_detail {
class ManifestDb;
}  // namespace manifest_detail

/// The run's manifest: one SQLite database in WAL mode, the source of truth for resume, reports
/// and exports (DESIGN.md). Schema versioned with `PRAGMA user_version`; opening an older
/// database migrates it, a newer one is refused with ManifestError.
///
/// Thread safety: one Manifest holds one connection and must be used by one thread at a time
/// (the engine's single writer stage). Other processes may read it concurrently (WAL).
///
/// The Manifest itself holds the connection, the schema, and the runs every pass records. Each
/// table is read and written through the store of the pass that owns it, made from a Manifest:
/// FileStore (io/file_store.h: files), DedupStore (dedup/dedup_store.h: groups, decisions,
/// reasons, thresholds, near pairs), InferenceStore (infer/inference_store.h: inferences,
/// detections, crops), UrlStore (crawl/url_store.h: urls, crawl hosts) and ActionStore
/// (curate/action_store.h: the action journal).
class Manifest {
 public:
  static constexpr int kSchemaVersion = 10;

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

  /// Records the start of a run; returns its id. `config_json` is the effective configuration.
  int64_t begin_run(std::string_view command, std::string_view config_json, std::string_view device);
  /// Records the end of a run: outcome ("completed", "interrupted", "failed") and counts by name.
  void end_run(int64_t run_id, std::string_view outcome, const std::map<std::string, int64_t>& counts);

  /// A mark of what other connections have committed to this manifest: two calls on this
  /// Manifest return the same value when no other connection committed in between (SQLite's
  /// `PRAGMA data_version`; this connection's own writes do not move it).
  [[nodiscard]] int64_t others_version() const;

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

  /// Result of `PRAGMA integrity_check`: "ok" when the database is sound.
  [[nodiscard]] std::string integrity_check() const;

  /// Makes the WAL durable in the main file (wal_checkpoint(TRUNCATE)); called at the end of a run.
  void checkpoint();

  /// Frees the page cache's unused pages (up to its 32 MB), for a pass that has read what it
  /// needs and holds much in memory itself (the dedup pass at millions of files).
  void release_memory();

  /// The connection, for the tables' stores (FileStore, DedupStore, InferenceStore, UrlStore,
  /// ActionStore), which are made from a Manifest.
  [[nodiscard]] const manifest_detail::ManifestDb& db() const { return *db_; }

 private:
  std::unique_ptr<manifest_detail::ManifestDb> db_;  ///< the connection (io/manifest_db.h)
};

}  // namespace vpipe
