#pragma once

// The infer pass's tables of the manifest (docs/MANIFEST.md: inferences, detections, crops):
// their rows and the store that reads and writes them.

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

/// What models made of a manifest's files, and the crops cut from it. A view over the manifest's
/// connection: cheap to make, used like the Manifest it was made from (one thread at a time);
/// writes need one opened read-write.
///
///   InferenceStore(manifest).count_detections("yolo");
class InferenceStore {
 public:
  explicit InferenceStore(const Manifest& manifest);

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
    std::string model;          ///< "" = every model
    std::string task;           ///< "" = both, else "detect" or "classify"
    bool keepers_only = false;  ///< only files the dedup pass kept (no decision = kept)
    int64_t offset = 0;         ///< in files, not detections
    int64_t limit = -1;         ///< files; -1 = no limit
  };
  /// A file with its predictions (of the models the query selects) and their crops.
  struct FileDetections {
    FileRecord file;
    std::vector<DetectionRecord> detections;  ///< by model, then rank
    std::vector<CropRecord> crops;            ///< those that exist, in detection order
  };
  /// Streams the files that have an "ok" inference of the selected models, ordered by path (files
  /// with no detection included: a YOLO export writes an empty label file for them), one file
  /// at a time: memory stays flat. Do not write to the manifest from inside `visit`.
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

 private:
  const manifest_detail::ManifestDb& db_;
};

}  // namespace vpipe
