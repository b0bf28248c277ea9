#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vpipe/core/record.h"

namespace vpipe {

/// The run's manifest: one SQLite database in WAL mode, the source of truth for resume, reports
/// and exports (DESIGN.md). Schema versioned with `PRAGMA user_version`; opening an older
/// database migrates it, a newer one is refused with ManifestError.
///
/// Thread safety: one Manifest holds one connection and must be used by one thread at a time
/// (the engine's single writer stage). Other processes may read it concurrently (WAL).
class Manifest {
 public:
  static constexpr int kSchemaVersion = 1;

  /// Size and mtime of a file as last scanned; resume skips files whose stamp is unchanged.
  struct FileStamp {
    int64_t size_bytes = 0;
    int64_t mtime_ns = 0;
  };

  /// Opens or creates the database at `path` (its directory must exist). Throws ManifestError
  /// naming the file and SQLite's reason.
  explicit Manifest(const std::filesystem::path& path);
  ~Manifest();
  Manifest(const Manifest&) = delete;
  Manifest& operator=(const Manifest&) = delete;

  /// path -> stamp of every file row, for resume.
  [[nodiscard]] std::unordered_map<std::string, FileStamp> file_stamps() const;

  /// Inserts or replaces (by path) all records in one transaction.
  void upsert_files(std::span<const FileRecord> records);

  [[nodiscard]] std::optional<FileRecord> find_file(std::string_view path) const;
  [[nodiscard]] std::vector<FileRecord> all_files() const;  ///< ordered by path
  [[nodiscard]] int64_t count_files() const;
  /// status name -> number of file rows with that status.
  [[nodiscard]] std::map<std::string, int64_t> status_counts() const;

  /// Records the start of a run; returns its id. `config_json` is the effective configuration.
  int64_t begin_run(std::string_view command, std::string_view config_json, std::string_view device);
  /// Records the end of a run: outcome ("completed", "interrupted", "failed") and counts by name.
  void end_run(int64_t run_id, std::string_view outcome, const std::map<std::string, int64_t>& counts);

  /// Result of `PRAGMA integrity_check`: "ok" when the database is sound.
  [[nodiscard]] std::string integrity_check() const;

  /// Makes the WAL durable in the main file (wal_checkpoint(TRUNCATE)); called at the end of a run.
  void checkpoint();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpipe
