#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/core/device.h"
#include "vpipe/core/record.h"
#include "vpipe/core/run_report.h"
#include "vpipe/crawl/url_store.h"
#include "vpipe/io/decode.h"

namespace vpipe {

/// Everything `vpipe scan` can be told.
struct ScanOptions {
  std::vector<std::string> roots;  ///< directories or files, walked recursively
  std::string path_list;           ///< a file with one path per record ("-" = stdin); may be empty
  char list_delimiter = '\n';      ///< '\0' for `find -print0` lists
  std::filesystem::path db;        ///< the manifest
  int threads = 0;                 ///< decode/signal workers; 0 = available cores
  bool force = false;              ///< rescan files whose path, size and mtime are unchanged
  DecodeOptions decode;            ///< lenient, max_pixels (min_long_side is set by the scan)
  uint64_t max_file_bytes = uint64_t{1} << 30;  ///< bigger files are too_large without reading
  /// Also store the hashes of the eight orientations (rotation/mirror-invariant dedup) and of
  /// nine crop windows (crop-invariant dedup); costs 7 more small DCTs per image and 9 more
  /// thumbnails with their DCTs (dedup/hashes.h orientation_hashes_cpu, crop_hashes_cpu).
  bool orientation_hashes = true;
  /// The manifest writer commits a transaction per batch of this many rows, or when the oldest
  /// row has waited manifest_max_delay_ms, whichever comes first (the engine's batcher).
  int manifest_batch = 512;
  int manifest_max_delay_ms = 250;
  std::ostream* progress = nullptr;             ///< live progress (stderr in the CLI)
  std::string trace_path;                       ///< Chrome trace output; empty = none
  const std::atomic<bool>* stop = nullptr;      ///< set by SIGINT/SIGTERM handlers
  Device device = Device::cpu();                ///< recorded in the runs table
  std::string config_json = "{}";               ///< the effective options, recorded in runs
  /// When set, the file system holding this path is flushed (syncfs) before each manifest
  /// commit that records files: the crawl uses it so that a URL is recorded done only once its
  /// image (data and rename) is on disk, one flush per batch instead of an fsync per file.
  std::filesystem::path sync_before_commit;
};

/// What a scan did.
struct ScanSummary {
  std::map<std::string, int64_t> status_counts;  ///< files written this run, by status name
  int64_t scanned = 0;    ///< files read and written to the manifest this run
  int64_t unchanged = 0;  ///< skipped: already in the manifest with the same size and mtime
  int64_t ignored = 0;    ///< neither an image signature nor an image extension (not recorded)
  int64_t walk_errors = 0;
  /// Rows deleted: files under a scanned folder that are gone since an earlier scan (moved by an
  /// action, deleted, renamed). Not after a stopped walk, nor for a folder none of whose files
  /// was found (an unmounted drive).
  int64_t removed = 0;
  bool stopped = false;   ///< interrupted by ScanOptions::stop
  RunReport engine;       ///< per-stage metrics and the bottleneck
};

/// The hashes dedup reads with orientations and crops on, from the gray working image: phash,
/// dhash, the eight orientation and nine crop-window hashes and their has_ flags (an empty image
/// gets all-zero hashes). What measure_image stores with `orientation_hashes`. Thread-safe.
void store_dedup_hashes(const Image& gray, FileRecord& record);

/// Hashes and quality signals from one decoded image (any size, gray or RGB): builds the working
/// image (resize_to_fit kWorkingSize, area) and fills record.phash, dhash, quality, has_signals,
/// and the orientation hashes when `orientation_hashes`. Thread-safe (pure apart from `record`).
void measure_image(const Image& decoded, FileRecord& record, bool orientation_hashes = false);

/// The same for an image with an alpha plane (`alpha`: 1 channel, 8-bit, decoded's size, 255 =
/// opaque; empty = opaque, as DecodeResult::alpha): the hashes are those of the picture composited
/// on black (equal to what earlier versions stored), the quality signals are measured on the
/// opaque pixels only and fill quality.opaque_fraction (docs/SIGNALS.md). Thread-safe (pure apart
/// from `record`).
void measure_image(const Image& decoded, const Image& alpha, FileRecord& record,
                   bool orientation_hashes = false);

/// The whole per-file scan on bytes already in memory: content hash, format, decode at the
/// reduced scale, signals. Fills every field of `record` but path, size and mtime. `decoder` is
/// the calling thread's own. Used by the scan stages' tests and benchmarks.
void scan_bytes(std::span<const uint8_t> bytes, Decoder& decoder, const DecodeOptions& options,
                FileRecord& record);

/// Runs the scan pass (walk -> read -> decode -> signals -> manifest) over `options.roots` and
/// `options.path_list`, resuming from the manifest. Per-file problems are statuses in the
/// manifest; throws vpipe::Error for what ends the run (unopenable manifest, missing root).
ScanSummary run_scan(const ScanOptions& options);

class Manifest;

/// One file handed to the scan by a producer other than the walk (the crawler).
struct ScanInput {
  std::string path;  ///< the file; empty when the URL below produced none
  /// The crawl's record of the URL the file came from: written with the file's row, in the
  /// same transaction (a URL is "done" exactly when its image is in `files`).
  std::optional<CrawlUrlRecord> url;
};
/// Produces inputs by calling `emit` (which returns false once the scan is stopping).
using ScanInputs = std::function<void(const std::function<bool(ScanInput&&)>& emit)>;

/// The scan's stages (read -> decode -> signals -> manifest) fed by `inputs` instead of a walk:
/// the crawler hands each download over as it lands, so nothing walks the directory again.
/// Every input is scanned (there is no unchanged check). `options.roots`, `path_list`, `db` and
/// `force` are not used; the caller owns `manifest` and its run (begin_run / end_run / stage
/// metrics). `expected_total` feeds the progress line's ETA; `unit` names what it counts.
ScanSummary scan_inputs(const ScanOptions& options, Manifest& manifest,
                        const std::string& source_name, const ScanInputs& inputs,
                        std::function<int64_t()> expected_total = {},
                        std::string_view unit = "files");

}  // namespace vpipe
