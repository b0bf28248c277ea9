#pragma once

// The manifest's `files` table (docs/MANIFEST.md): a row per input file, which every pass reads
// and the scan and the crawl write. The row type, FileRecord, is core/record.h's: the quality
// and dedup code reads its signals and hashes.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vpipe/core/record.h"

namespace vpipe {

class Manifest;
namespace manifest_detail {
class ManifestDb;
}  // namespace manifest_detail

/// The file rows of a manifest. A view over its connection: cheap to make, used like the
/// Manifest it was made from (one thread at a time); writes need one opened read-write.
///
///   FileStore(manifest).find_file(path);
class FileStore {
 public:
  explicit FileStore(const Manifest& manifest);

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
  /// flat however many rows. Do not write to the manifest from inside `visit`.
  void for_each_file(const std::function<bool(const FileRecord&)>& visit) const;
  [[nodiscard]] int64_t count_files() const;
  /// status name -> number of file rows with that status.
  [[nodiscard]] std::map<std::string, int64_t> status_counts() const;

 private:
  const manifest_detail::ManifestDb& db_;
};

}  // namespace vpipe
