#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace vpipe {

class Manifest;

/// What `vpipe report` can be told.
struct ReportOptions {
  std::filesystem::path out_dir;  ///< created if missing; pages, style.css and thumbs/ go here
  int page_size = 200;            ///< groups, images or file rows per page (>= 1)
  int thumbnail_size = 160;       ///< longer side of a thumbnail, pixels
  int threads = 0;                ///< thumbnail workers; 0 = hardware concurrency
  std::string title;              ///< page title; empty = "vpipe report"
  int max_group_members = 12;     ///< members shown per group card; the rest are counted
};

/// What `write_report` did.
struct ReportSummary {
  int64_t pages = 0;               ///< HTML pages written
  int64_t thumbnails_made = 0;     ///< encoded this run
  int64_t thumbnails_cached = 0;   ///< reused from an earlier run (or earlier in this one)
  int64_t thumbnail_failures = 0;  ///< images shown as a placeholder (no pixels, unreadable)
  std::filesystem::path index;     ///< out_dir/index.html
};

/// Writes a static HTML report of the manifest into `options.out_dir`: it opens from disk, with
/// no server, script or network access. Pages:
/// - `index.html`: counts by status and decision, duplicate groups, rejection reasons with their
///   thresholds, one histogram (inline SVG) per quality signal with the thresholds drawn, stage
///   timings per pass with the bottleneck, and the runs;
/// - `groups-N.html`: duplicate groups, largest first, each a card of thumbnails with the keeper
///   marked and every member's distance to it;
/// - `rejects.html` and `rejects-<rule>-N.html`: rejected images per rule, worst first, with the
///   measured value against the threshold;
/// - `files-N.html`: every file, by path, with its status and decision.
/// Every list is paginated (`page_size` items per page), and the manifest is streamed, so memory
/// stays bounded however many files it holds. Thumbnails are made only for images that appear on
/// a page, cached under `thumbs/` (see ThumbnailCache). Every page is written atomically;
/// pages of an earlier report that this one no longer has are removed. Names and messages are
/// HTML-escaped and invalid UTF-8 is shown as U+FFFD.
///
/// Reads the manifest only. Throws IoError when the output cannot be written, ManifestError when
/// the manifest cannot be read, ConfigError for a page_size < 1.
ReportSummary write_report(const Manifest& manifest, const ReportOptions& options);

/// Same, opening the manifest at `db`, which must exist (IoError otherwise). An empty title
/// becomes "vpipe report: <file name of db>".
ReportSummary write_report(const std::filesystem::path& db, const ReportOptions& options);

}  // namespace vpipe
