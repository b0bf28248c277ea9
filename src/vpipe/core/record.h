#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vpipe/core/status.h"

namespace vpipe {

/// XXH3-128 of a file's bytes. Equal hashes are a candidate match; callers that act on it
/// confirm byte for byte (DESIGN.md).
struct ContentHash {
  uint64_t high = 0;
  uint64_t low = 0;

  friend bool operator==(const ContentHash&, const ContentHash&) = default;
  /// 32 lowercase hex digits, high word first (the canonical XXH128 order).
  [[nodiscard]] std::string hex() const;
};

/// Quality signals of one image, measured on its working image (see docs/SIGNALS.md for
/// ranges and definitions).
struct QualitySignals {
  double sharpness = 0;        ///< variance of the Laplacian of the gray working image, >= 0
  double brightness = 0;       ///< mean gray level, 0..255
  double contrast = 0;         ///< standard deviation of gray levels, 0..127.5
  double dark_fraction = 0;    ///< share of pixels with gray level <= 16, 0..1
  double bright_fraction = 0;  ///< share of pixels with gray level >= 239, 0..1
  double entropy = 0;          ///< Shannon entropy of the 256-bin gray histogram, bits, 0..8
  double colorfulness = 0;     ///< Hasler & Suesstrunk colourfulness, >= 0 (0 for gray)
  /// blur: 20th-percentile effective width of strong edges, px at the working size, the widest
  /// of four directions (0 = no strong edges to judge by)
  double edge_width = 0;
  double clipped_fraction = 0;  ///< share of working pixels with any channel >= 250, 0..1
  double highlight_level = 0;   ///< 99th percentile of gray levels, 0..255
  /// Share of working pixels with alpha >= 128, 0..1; 1 for images without alpha. The signals
  /// above are measured over those pixels only (all 0 when there are none).
  double opaque_fraction = 1;
  /// share of working pixels whose brightest channel is within 3 levels of the image's top level
  /// (the highest level 0.1% of them reach), 0..1: blown highlights, even after a tone edit
  double highlight_plateau = 0;
};

/// One input file as the scan pass sees it: a row of the manifest's `files` table.
struct FileRecord {
  int64_t id = 0;    ///< the manifest's row id (files.id); 0 for a record not read from it
  std::string path;  ///< as given or found (raw bytes; may be non-UTF-8)
  int64_t size_bytes = 0;
  int64_t mtime_ns = 0;  ///< modification time, nanoseconds since the Unix epoch
  ItemStatus status = ItemStatus::kOk;
  std::string error;   ///< reason for a non-ok status, or the warning of a damaged/lenient file
  std::string format;  ///< "jpeg", "png", ... ; empty when not recognised
  int width = 0;       ///< full-resolution size after EXIF orientation; 0 when unknown
  int height = 0;
  bool has_content_hash = false;  ///< true whenever the bytes could be read
  ContentHash content_hash;
  bool has_signals = false;  ///< true when status is ok or damaged
  uint64_t phash = 0;
  uint64_t dhash = 0;
  QualitySignals quality;
  /// pHash and dHash of the image turned or mirrored each of the eight ways (index = the
  /// Orientation of dedup/hashes.h; [0] repeats phash/dhash). Only filled by a scan with
  /// orientation hashes on (rotation/mirror-invariant dedup).
  bool has_orientation_hashes = false;
  std::array<uint64_t, 8> orientation_phash{};
  std::array<uint64_t, 8> orientation_dhash{};
  /// pHash and dHash of nine windows of 90% of each side (a 3x3 grid of anchors: corners, edge
  /// midpoints, centre; the CropWindow order of dedup/hashes.h), for cropped copies. Filled with
  /// the orientation hashes.
  bool has_crop_hashes = false;
  std::array<uint64_t, 9> crop_phash{};
  std::array<uint64_t, 9> crop_dhash{};
};

/// One reason why the quality verdict rejected a file (manifest table `reasons`).
struct ReasonRecord {
  std::string rule;    ///< "blurry", "dark", ..., "corrupt"
  double value = 0;    ///< the measured value the rule read
  double threshold = 0;
  double severity = 0;  ///< how far past the threshold, >= 0; comparable within one rule
};

/// What the dedup and quality passes decided about one file (manifest table `decisions`).
struct DecisionRecord {
  int64_t file_id = 0;
  std::string decision;   ///< "keep", "duplicate" or "reject"
  int64_t group_id = 0;   ///< duplicate group (groups.id); 0 = in no group
  bool is_keeper = false;  ///< the member of its group that is kept
  std::string match;      ///< for a group member other than the keeper: "exact" or "near"
  int phash_distance = -1;  ///< to the group's keeper; -1 = not applicable
  int dhash_distance = -1;
  std::string orientation;  ///< for a turned/mirrored match: how this file is turned vs the keeper
  double quality_score = 0;
  std::vector<ReasonRecord> reasons;  ///< why it was rejected (empty unless decision == reject)
};

/// A quality rule over one measured value as applied by the last dedup pass (manifest table
/// `quality_thresholds`), so reports can draw the threshold on the value's histogram.
struct ThresholdRecord {
  std::string rule;     ///< "blurry", ...
  std::string signal;   ///< "sharpness", "brightness", ..., "min_side", "aspect_ratio"
  double threshold = 0;
  bool rejects_below = true;  ///< the rule fires for value < threshold (else value > threshold)
  bool enabled = true;
};

/// A duplicate group (manifest table `groups`).
struct GroupRecord {
  int64_t id = 0;           ///< 1..number of groups
  std::string kind;         ///< "exact" (all members byte-identical), "near", or "mixed"
  int64_t keeper_id = 0;    ///< files.id of the keeper
  int64_t size = 0;         ///< members, keeper included
  int max_distance = 0;     ///< largest pHash distance of a member to the keeper
};

/// A near-duplicate pair found by the Hamming search (manifest table `near_pairs`), a < b.
struct NearPairRecord {
  int64_t a = 0;  ///< files.id
  int64_t b = 0;
  int phash_distance = 0;
  int dhash_distance = 0;
  std::string orientation;  ///< empty = as stored; else how b is turned relative to a
};

/// One file operation of an action (`--move-rejects`...), journaled in table `actions` before it
/// is done so that `vpipe undo` can put it back even after a crash in the middle.
struct ActionRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string kind;    ///< "copy", "link" (hard link, or symlink where impossible) or "move"
  std::string source;  ///< the input file
  std::string target;  ///< where it went
  std::string state;   ///< "planned", "done", "failed", "undone"
  std::string error;
};

/// One prediction of a model for a file (manifest table `detections`): a box for a detector, a
/// class of the whole image for a classifier. Boxes are in pixels of the full-resolution image
/// after EXIF orientation (FileRecord width x height), corners x1y1 top-left, x2y2 bottom-right.
struct DetectionRecord {
  int64_t id = 0;       ///< detections.id; 0 for a record not read from the manifest
  int64_t file_id = 0;  ///< files.id
  std::string model;    ///< ModelSpec::name
  std::string task;     ///< "detect" or "classify"
  int rank = 0;         ///< 0-based, best score first, within (file, model)
  int class_id = 0;
  std::string label;  ///< class name ("" when the model has no labels)
  float score = 0;
  bool has_box = false;  ///< false for classifications
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  std::vector<float> keypoints;  ///< x, y pairs in the same pixels; usually empty
};

/// What one model made of one file (manifest table `inferences`), with its predictions.
struct InferenceRecord {
  int64_t file_id = 0;
  std::string model;
  std::string status = "ok";  ///< "ok" or "failed"
  std::string error;          ///< why it failed (decode error, backend error), naming the file
  std::vector<DetectionRecord> detections;  ///< rank order
};

/// A crop written for a detection (manifest table `crops`).
struct CropRecord {
  int64_t detection_id = 0;  ///< detections.id
  std::string path;          ///< where it was written
  int x = 0, y = 0;          ///< crop rectangle in full-resolution pixels (margin included)
  int width = 0, height = 0;
  int64_t size_bytes = 0;  ///< of the written file
  uint64_t xxh64 = 0;      ///< of the written file's bytes (rerun: unchanged crops are kept)
};

/// A row of table `urls` (schema 4): one URL of a crawl and how far it got.
struct CrawlUrlRecord {
  std::string url;
  std::string state = "pending";  ///< pending, done or failed
  std::string reason;             ///< failed: the fetcher's stable reason (http_404, timeout...)
  std::string message;            ///< failed: detail for people
  int http_status = 0;            ///< of the last response; 0 when none came
  int attempts = 0;               ///< requests made for it, over every run
  std::string path;               ///< done: the image (a files.path)
  int64_t bytes = 0;              ///< body bytes of the last response
  std::string content_type;       ///< as the server sent it
  std::string final_url;          ///< after redirects
  std::string host;               ///< lowercase host of `url` (the unit of the per-host figures)
  std::string source;             ///< the list it came from
  int64_t line = 0;               ///< and the line there
  /// The list's other columns (caption, license...) as a JSON object of strings; "{}" if none.
  std::string extras_json = "{}";
};

/// A row of table `crawl_hosts`: what one crawl run did on one host.
struct CrawlHostRecord {
  std::string host;
  int64_t urls = 0, done = 0, failed = 0, requests = 0, bytes = 0;
  double seconds = 0;  ///< from the host's first request to its last result
};

}  // namespace vpipe
