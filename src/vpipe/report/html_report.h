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
  /// Write into an existing out_dir that is not an earlier report (check_report_dir).
  bool force = false;
};

/// Refuses (ConfigError naming it) an out_dir that exists and is not a place for a report: not
/// a directory, or a non-empty directory without an earlier vpipe report in it (an index.html
/// whose head names vpipe as its generator) unless `force`. A missing or empty directory and an
/// earlier report pass: a report is rewritten in place, its thumbnails reused. write_report
/// calls it; `vpipe run` calls it before its first pass, so a bad report.out fails at once.
void check_report_dir(const std::filesystem::path& out_dir, bool force);

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
/// - `files-N.html`: every file, by path, with its status and decision;
/// - when the manifest has inferences (`vpipe detect` / `vpipe classify`), per model
///   `detections-<model>-N.html`: every file the model ran on, by path, its preview (twice the
///   thumbnail size) with each box drawn over it as an inline SVG in the preview's pixels
///   (full-resolution boxes scaled by preview / FileRecord width and height), labelled
///   "label score", keypoints as dots; classifications as a caption "cat 0.93, dog 0.04". The label
///   filter is one set of pages per label, `detections-<model>.<label>-N.html` (the 30 most
///   frequent labels; a classifier's file belongs to its best class); index.html gets a card and
///   a label table per model;
/// - `crops-N.html`: the crops `--crops` wrote, with label, score, model and source image. Their
///   pictures are thumbnails made from the crop files into `thumbs/` like any other (keyed by the
///   crop's path, size and content hash), so the report stays self-contained when the crops move.
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
