#pragma once

// `vpipe validate`: checks a labelled dataset (YOLO or COCO) for the mistakes that silently spoil
// training: missing or orphaned label files, malformed lines, class ids out of range, boxes
// outside the image or of no area, duplicate boxes, corrupt images, inconsistent COCO ids and
// sizes. What is checked and with which severity: docs/VALIDATE.md.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpipe {

class Manifest;

/// The dataset layouts `validate_dataset` understands.
enum class DatasetFormat : uint8_t { kAuto, kYolo, kCoco };

/// "auto", "yolo", "coco".
[[nodiscard]] std::string_view to_string(DatasetFormat f);
/// Inverse of `to_string`; nullopt for an unknown name.
[[nodiscard]] std::optional<DatasetFormat> dataset_format_from_string(std::string_view name);

/// An error makes the dataset unfit as it is (exit status 1 from the CLI); a warning is legal but
/// worth a look (a background image without labels).
enum class Severity : uint8_t { kError, kWarning };

/// "error", "warning".
[[nodiscard]] std::string_view to_string(Severity s);

/// One problem found in a dataset.
struct Finding {
  std::string path;  ///< the file the problem is in (label file, image, data.yaml, COCO JSON)
  int64_t line = 0;  ///< 1-based line in `path`; 0 when the problem has no line (a whole file)
  Severity severity = Severity::kError;
  std::string kind;     ///< stable snake_case name (docs/VALIDATE.md lists them), for scripts
  std::string message;  ///< what is wrong, for a person
};

/// What `validate_dataset` found. Callers may append their own findings (e.g. the manifest-based
/// crop check) with `add` and then call `sort_findings` again; the counts are computed from
/// `findings` on demand, so they always include what was appended.
struct ValidationReport {
  DatasetFormat format = DatasetFormat::kAuto;  ///< the format that was checked (never kAuto)
  std::filesystem::path root;                   ///< the dataset directory
  std::vector<std::string> sources;  ///< COCO JSON files or data.yaml that were read, in order
  int64_t images = 0;                ///< image files decoded
  int64_t label_files = 0;           ///< YOLO label files read (0 for COCO)
  int64_t annotations = 0;           ///< YOLO label lines / COCO annotations seen
  std::filesystem::path manifest;    ///< the manifest whose crops were checked ("" = none)
  int64_t crops = 0;                 ///< crop rows checked by validate_crops
  std::vector<Finding> findings;     ///< sorted by path, then line (then kind, message)

  void add(Finding f) { findings.push_back(std::move(f)); }
  void add(std::string path, int64_t line, Severity severity, std::string kind,
           std::string message);
  /// Sorts `findings` by path, line, kind, message (a stable, deterministic order).
  void sort_findings();
  [[nodiscard]] int64_t errors() const;
  [[nodiscard]] int64_t warnings() const;
  /// Findings per kind, with the severity of that kind (a kind always has one severity).
  [[nodiscard]] std::map<std::string, std::pair<Severity, int64_t>> counts_by_kind() const;
};

/// What to validate and how.
struct ValidateOptions {
  std::filesystem::path dir;  ///< the dataset directory (required; IoError when missing)
  DatasetFormat format = DatasetFormat::kAuto;
  /// COCO: the annotation JSON. Empty: DIR/annotations.json, DIR/_annotations.coco.json, or
  /// every DIR/annotations/*.json. Implies COCO under kAuto.
  std::filesystem::path coco_json;
  /// COCO: the folder `file_name` is relative to. Empty: the first of DIR, DIR/images, the JSON's
  /// folder where the file exists.
  std::filesystem::path coco_images;
  /// Image decoding workers (one Decoder each); <= 0: up to 4, by the cores available.
  int threads = 0;
  /// How far a box may reach outside the image, as a fraction of the image side (0.01 = 1%),
  /// before it is `box_out_of_bounds` (export rounding, boxes drawn to the very edge).
  double box_tolerance = 0.01;
  /// Two boxes of the same class in one image are `duplicate_box` above this IoU.
  double duplicate_iou = 0.95;
  /// Images of more pixels are reported as too large instead of decoded.
  uint64_t max_pixels = 200'000'000;
};

/// Validates the dataset in `options.dir` and returns every finding, sorted. Per-file problems
/// are findings, never thrown. Throws IoError when the directory (or the COCO JSON named by
/// `coco_json`) does not exist or cannot be read, ConfigError when the format cannot be
/// detected (neither YOLO nor COCO markers found, or both). Thread-safe (no shared state);
/// decodes images on `threads` workers of its own.
[[nodiscard]] ValidationReport validate_dataset(const ValidateOptions& options);

/// The format `validate_dataset` would check under kAuto: YOLO when DIR has data.yaml
/// (data.yml) or a labels/ folder (DIR/labels or DIR/<split>/labels), COCO when a COCO JSON is
/// given or found; ConfigError when neither or both.
[[nodiscard]] DatasetFormat detect_dataset_format(const ValidateOptions& options);

/// How `validate_crops` checks the crops of a manifest.
struct CropCheckOptions {
  std::string model;  ///< only this model's crops; "" = every model's
  /// Also decode each crop's source image and compare the crop's pixels with the source's pixels
  /// in the recorded rectangle (the check that the crop shows its box).
  bool compare_pixels = true;
  /// `crop_pixels_differ` when the mean absolute difference, in 8-bit levels over every sample,
  /// is at or above this. JPEG crops at quality 92 differ from their source by 1-3 levels.
  double pixel_tolerance = 8.0;
  /// Decoding workers (one Decoder each); <= 0: up to 4, by the cores available.
  int threads = 0;
};

/// Checks every crop row of `manifest` (table `crops`, written by the crop pass of `vpipe
/// detect --crops`) and appends to `report` one finding per defect, named by the crop file
/// (the message names the source image): the file is missing (`crop_missing`) or does not decode
/// (`crop_unreadable`); its decoded size is not the recorded width x height
/// (`crop_size_mismatch`); its size or xxh64 differ from the recorded ones (`crop_changed`);
/// the recorded rectangle leaves the source image (`crop_outside_image`) or does not contain the
/// detection's box (`crop_misses_box`); its pixels are not the source's pixels in that rectangle
/// (`crop_pixels_differ`, when `compare_pixels`). A source image that no longer decodes at its
/// recorded size is one `crop_source_unreadable` warning (its crops' pixels are not compared).
/// Counts the rows checked in `report.crops`; does not sort (call `report.sort_findings()`).
/// Throws ManifestError when the manifest cannot be read. `manifest` is only read, from the
/// calling thread; crops are decoded on `threads` workers of its own.
void validate_crops(const Manifest& manifest, ValidationReport& report,
                    const CropCheckOptions& options = {});

}  // namespace vpipe
