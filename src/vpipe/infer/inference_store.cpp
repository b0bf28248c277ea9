// The infer pass's tables (docs/MANIFEST.md: inferences, detections, crops).

#include "vpipe/infer/inference_store.h"

#include <bit>

#include "vpipe/core/error.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/manifest_db.h"
#include "vpipe/io/manifest_files.h"

namespace vpipe {

using manifest_detail::count_by;
using manifest_detail::run_or_null;
using manifest_detail::Statement;
using manifest_detail::text_or_null;

namespace {

/// Keypoints blob: x, y pairs of float32, little-endian, 8 bytes per point.
std::vector<uint8_t> keypoints_blob(const std::vector<float>& keypoints) {
  std::vector<uint8_t> blob(keypoints.size() * 4);
  for (size_t i = 0; i < keypoints.size(); ++i) {
    const auto bits = std::bit_cast<uint32_t>(keypoints[i]);
    for (size_t byte = 0; byte < 4; ++byte)
      blob[i * 4 + byte] = static_cast<uint8_t>(bits >> (8 * byte));
  }
  return blob;
}

std::vector<float> keypoints_from_blob(std::span<const uint8_t> blob) {
  std::vector<float> keypoints(blob.size() / 4);
  for (size_t i = 0; i < keypoints.size(); ++i) {
    uint32_t bits = 0;
    for (size_t byte = 0; byte < 4; ++byte) bits |= uint32_t{blob[i * 4 + byte]} << (8 * byte);
    keypoints[i] = std::bit_cast<float>(bits);
  }
  return keypoints;
}

// Crop columns, in the order read_crop reads them (crops AS c).
constexpr const char* kCropColumns =
    "c.detection_id, c.path, c.x, c.y, c.width, c.height, c.size_bytes, c.xxh64";

CropRecord read_crop(const Statement& row, int first) {
  CropRecord c;
  c.detection_id = row.int64(first);
  c.path = row.text(first + 1);
  c.x = row.int32(first + 2);
  c.y = row.int32(first + 3);
  c.width = row.int32(first + 4);
  c.height = row.int32(first + 5);
  c.size_bytes = row.int64(first + 6);
  c.xxh64 = std::bit_cast<uint64_t>(row.int64(first + 7));
  return c;
}

/// The detection columns of for_each_detection's second statement (then the crop's, at 12).
DetectionRecord read_detection(const Statement& row, int64_t file_id) {
  DetectionRecord d;
  d.id = row.int64(0);
  d.file_id = file_id;
  d.model = row.text(1);
  d.task = row.text(2);
  d.rank = row.int32(3);
  d.class_id = row.int32(4);
  d.label = row.text(5);
  d.score = static_cast<float>(row.real(6));
  d.has_box = !row.is_null(7);
  if (d.has_box) {
    d.x1 = static_cast<float>(row.real(7));
    d.y1 = static_cast<float>(row.real(8));
    d.x2 = static_cast<float>(row.real(9));
    d.y2 = static_cast<float>(row.real(10));
  }
  d.keypoints = keypoints_from_blob(row.blob(11));
  return d;
}

}  // namespace

InferenceStore::InferenceStore(const Manifest& manifest) : db_(manifest.db()) {}

void InferenceStore::record_inferences(std::span<const InferenceRecord> records) {
  if (records.empty()) return;
  const manifest_detail::ManifestDb& db = db_;
  const std::string now = manifest_detail::now_utc_iso8601();
  db.transaction("cannot commit inferences", [&] {
    // Deleting the detections cascades to their crops (crops.detection_id ON DELETE CASCADE).
    Statement delete_stmt = db.prepare("DELETE FROM detections WHERE file_id = ?1 AND model = ?2");
    // The file's mtime is read from its row in the same statement, so the stamp resume compares
    // against is the one the inference saw.
    Statement inference_stmt = db.prepare(
        "INSERT INTO inferences (file_id, model, status, error, mtime_ns, run_id, inferred_at) "
        "SELECT id, ?2, ?3, ?4, mtime_ns, ?5, ?6 FROM files WHERE id = ?1 "
        "ON CONFLICT (file_id, model) DO UPDATE SET status = excluded.status, "
        "error = excluded.error, mtime_ns = excluded.mtime_ns, run_id = excluded.run_id, "
        "inferred_at = excluded.inferred_at");
    Statement detection_stmt = db.prepare(
        "INSERT INTO detections (file_id, model, task, rank, class_id, label, score, x1, y1, x2, "
        "y2, keypoints) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    std::vector<uint8_t> blob;
    for (const InferenceRecord& r : records) {
      delete_stmt.bind_all(r.file_id, r.model).run("cannot delete previous detections");
      inference_stmt
          .bind_all(r.file_id, r.model, r.status, text_or_null(r.error), run_or_null(db), now)
          .run("cannot write an inference");
      if (db.changes() == 0) {
        throw ManifestError("manifest '" + db.name() + "': inference of model '" + r.model +
                            "' for file id " + std::to_string(r.file_id) +
                            ", which has no files row");
      }
      for (size_t i = 0; i < r.detections.size(); ++i) {
        const DetectionRecord& d = r.detections[i];
        detection_stmt.bind_all(r.file_id, r.model, d.task, static_cast<int64_t>(i), d.class_id,
                                text_or_null(d.label), double{d.score});
        if (d.has_box) {
          detection_stmt.bind(8, double{d.x1}).bind(9, double{d.y1});
          detection_stmt.bind(10, double{d.x2}).bind(11, double{d.y2});
        }  // else NULL (bindings are cleared after every row)
        if (!d.keypoints.empty()) {
          blob = keypoints_blob(d.keypoints);
          detection_stmt.bind_blob(12, blob);
        }
        detection_stmt.run("cannot write a detection");
      }
    }
  });
}

std::unordered_map<int64_t, int64_t> InferenceStore::inferred_files(std::string_view model) const {
  std::unordered_map<int64_t, int64_t> result;
  db_.prepare("SELECT file_id, mtime_ns FROM inferences WHERE model = ?1 AND status = 'ok'")
      .bind(1, model)
      .each_row("cannot read inferred files",
                [&](const Statement& row) { result.emplace(row.int64(0), row.int64(1)); });
  return result;
}

std::map<std::string, int64_t> InferenceStore::inference_counts(std::string_view model) const {
  // An empty filter binds as '' (never NULL), so `?1 = ''` selects every model.
  Statement stmt = db_.prepare(
      "SELECT status, count(*) FROM inferences WHERE ?1 = '' OR model = ?1 GROUP BY status");
  stmt.bind(1, model);
  return count_by(stmt, "cannot count inferences");
}

std::vector<std::string> InferenceStore::inferred_models() const {
  std::vector<std::string> models;
  db_.prepare("SELECT DISTINCT model FROM inferences ORDER BY model")
      .each_row("cannot read inferred models",
                [&](const Statement& row) { models.push_back(row.text(0)); });
  return models;
}

void InferenceStore::for_each_detection(
    const DetectionQuery& query, const std::function<bool(const FileDetections&)>& visit) const {
  std::string sql = std::string("SELECT ") + manifest_detail::kFileColumnsQualified +
                    " FROM files AS f WHERE EXISTS (SELECT 1 FROM inferences AS i WHERE "
                    "i.file_id = f.id AND i.status = 'ok' AND (?1 = '' OR i.model = ?1)) ";
  if (query.keepers_only) {
    // No decision row (no dedup pass yet, or a file added since) counts as kept.
    sql +=
        "AND NOT EXISTS (SELECT 1 FROM decisions AS d WHERE d.file_id = f.id AND "
        "d.decision <> 'keep') ";
  }
  sql += "ORDER BY f.path LIMIT ?2 OFFSET ?3";
  Statement files_stmt = db_.prepare(sql);
  files_stmt.bind_all(query.model, query.limit, query.offset);
  // Crop columns follow the detection columns, at 12 + 0..7.
  Statement detections_stmt = db_.prepare(
      std::string("SELECT d.id, d.model, d.task, d.rank, d.class_id, d.label, d.score, d.x1, "
                  "d.y1, d.x2, d.y2, d.keypoints, ") +
      kCropColumns +
      " FROM detections AS d LEFT JOIN crops AS c ON c.detection_id = d.id "
      "WHERE d.file_id = ?1 AND (?2 = '' OR d.model = ?2) AND (?3 = '' OR d.task = ?3) "
      "AND EXISTS (SELECT 1 FROM inferences AS i WHERE i.file_id = d.file_id AND "
      "i.model = d.model AND i.status = 'ok') ORDER BY d.model, d.rank");

  FileDetections file;
  files_stmt.each_row("cannot read inferred files", [&](const Statement& row) {
    file.file = manifest_detail::read_file_row(db_, row);
    file.detections.clear();
    file.crops.clear();
    detections_stmt.bind_all(file.file.id, query.model, query.task)
        .each_row("cannot read detections", [&](const Statement& d) {
          if (!d.is_null(12)) file.crops.push_back(read_crop(d, 12));
          file.detections.push_back(read_detection(d, file.file.id));
        });
    return visit(file);
  });
}

std::map<std::string, int64_t> InferenceStore::label_counts(std::string_view model) const {
  // A classifier's rank 0 is its top-1 class; its other ranks are runners-up, not findings.
  Statement stmt = db_.prepare(
      "SELECT coalesce(label, CAST(class_id AS TEXT)), count(*) FROM detections "
      "WHERE (?1 = '' OR model = ?1) AND (task = 'detect' OR rank = 0) GROUP BY 1");
  stmt.bind(1, model);
  return count_by(stmt, "cannot count labels");
}

int64_t InferenceStore::count_detections(std::string_view model) const {
  return db_.prepare("SELECT count(*) FROM detections WHERE ?1 = '' OR model = ?1")
      .bind(1, model)
      .single_int("cannot count detections");
}

void InferenceStore::record_crops(std::span<const CropRecord> crops) {
  if (crops.empty()) return;
  db_.transaction("cannot commit crops", [&] {
    Statement stmt = db_.prepare(
        "INSERT OR REPLACE INTO crops (detection_id, path, x, y, width, height, size_bytes, "
        "xxh64) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    for (const CropRecord& c : crops) {
      stmt.bind_all(c.detection_id, c.path, c.x, c.y, c.width, c.height, c.size_bytes,
                    std::bit_cast<int64_t>(c.xxh64))
          .run("cannot write a crop (does its detection exist?)");
    }
  });
}

std::optional<CropRecord> InferenceStore::find_crop(int64_t detection_id) const {
  std::optional<CropRecord> found;
  db_.prepare(std::string("SELECT ") + kCropColumns + " FROM crops AS c WHERE c.detection_id = ?1")
      .bind(1, detection_id)
      .each_row("cannot look up a crop", [&](const Statement& row) {
        found = read_crop(row, 0);
        return false;
      });
  return found;
}

int64_t InferenceStore::count_crops() const {
  return db_.query_int("SELECT count(*) FROM crops", "cannot count crops");
}

}  // namespace vpipe
