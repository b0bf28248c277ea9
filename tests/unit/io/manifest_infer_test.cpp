// The manifest's infer pass (schema 3): inferences, detections and crops.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "raw_db.h"
#include "records.h"
#include "temp_dir.h"
#include "vpipe/core/error.h"
#include "vpipe/curate/action_store.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::box;
using testing::inference;
using testing::RawDb;
using testing::TempDir;
using testing::top_class;

FileRecord file(const std::string& path, int64_t mtime_ns = 1000) {
  FileRecord f;
  f.path = path;
  f.size_bytes = 10;
  f.mtime_ns = mtime_ns;
  f.format = "jpeg";
  f.width = 640;
  f.height = 480;
  return f;
}

CropRecord crop(int64_t detection_id, const std::string& path) {
  CropRecord c;
  c.detection_id = detection_id;
  c.path = path;
  c.x = 1;
  c.y = 2;
  c.width = 30;
  c.height = 40;
  c.size_bytes = 1234;
  c.xxh64 = 0x8000000000000001ULL;  // top bit set: stored as a negative int64
  return c;
}

class ManifestInferTest : public ::testing::Test {
 protected:

  /// Files /c.jpg, /a.jpg, /b.jpg, /d.jpg (ids read back into a_, b_, c_, d_).
  void add_files(Manifest& manifest) {
    FileStore(manifest).upsert_files(
        std::vector<FileRecord>{file("/c.jpg"), file("/a.jpg"), file("/b.jpg"), file("/d.jpg")});
    a_ = FileStore(manifest).find_file("/a.jpg")->id;
    b_ = FileStore(manifest).find_file("/b.jpg")->id;
    c_ = FileStore(manifest).find_file("/c.jpg")->id;
    d_ = FileStore(manifest).find_file("/d.jpg")->id;
  }

  /// Every detection visited, as "path:model:rank:label", for order checks.
  static std::vector<std::string> visit_all(const Manifest& manifest,
                                            const InferenceStore::DetectionQuery& query,
                                            std::vector<std::string>* paths = nullptr) {
    std::vector<std::string> seen;
    InferenceStore(manifest).for_each_detection(
        query, [&](const InferenceStore::FileDetections& row) {
          if (paths != nullptr) paths->push_back(row.file.path);
          for (const DetectionRecord& d : row.detections) {
            EXPECT_EQ(d.file_id, row.file.id);
            seen.push_back(row.file.path + ":" + d.model + ":" + std::to_string(d.rank) + ":" +
                           d.label);
          }
          return true;
        });
    return seen;
  }

  TempDir tmp_{"vpipe_manifest_infer_"};
  fs::path dir_ = tmp_.path();
  fs::path db_path_ = dir_ / "manifest.db";
  int64_t a_ = 0, b_ = 0, c_ = 0, d_ = 0;
};

TEST_F(ManifestInferTest, NewDatabaseHasTheInferTables) {
  { Manifest manifest(db_path_); }
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  for (const char* name : {"inferences", "detections", "crops", "inferences_model",
                           "detections_model_label"}) {
    EXPECT_EQ(raw.text(std::string("SELECT count(*) FROM sqlite_schema WHERE name = '") + name +
                       "'"),
              "1")
        << name;
  }
}

TEST_F(ManifestInferTest, DetectionsRoundTripWithBoxesKeypointsAndNulls) {
  Manifest manifest(db_path_);
  add_files(manifest);
  DetectionRecord face = box(0, "face", 0.875f, 10.5f, 20.25f, 110.5f, 220.75f);
  face.keypoints = {1.5f, 2.5f, -3.0f, 1e6f};
  DetectionRecord unlabeled = box(7, "", 0.5f, 0, 0, 1, 1);
  InferenceStore(manifest).record_inferences(std::vector<InferenceRecord>{
      inference(a_, "faces", {face, unlabeled}),
      inference(a_, "scenes", {top_class(3, "beach", 0.9f), top_class(1, "sea", 0.05f)})});

  std::vector<InferenceStore::FileDetections> rows;
  InferenceStore(manifest).for_each_detection({}, [&](const InferenceStore::FileDetections& row) {
    rows.push_back(row);
    return true;
  });
  ASSERT_EQ(rows.size(), 1U);
  const std::vector<DetectionRecord>& d = rows[0].detections;
  ASSERT_EQ(d.size(), 4U);
  // By model, then rank.
  EXPECT_EQ(d[0].model, "faces");
  EXPECT_EQ(d[0].rank, 0);
  EXPECT_EQ(d[0].task, "detect");
  EXPECT_TRUE(d[0].has_box);
  EXPECT_FLOAT_EQ(d[0].x1, 10.5f);
  EXPECT_FLOAT_EQ(d[0].y1, 20.25f);
  EXPECT_FLOAT_EQ(d[0].x2, 110.5f);
  EXPECT_FLOAT_EQ(d[0].y2, 220.75f);
  EXPECT_FLOAT_EQ(d[0].score, 0.875f);
  EXPECT_EQ(d[0].keypoints, face.keypoints);
  EXPECT_GT(d[0].id, 0);
  EXPECT_EQ(d[1].rank, 1);
  EXPECT_EQ(d[1].class_id, 7);
  EXPECT_EQ(d[1].label, "");
  EXPECT_TRUE(d[1].keypoints.empty());
  EXPECT_NE(d[0].id, d[1].id);
  EXPECT_EQ(d[2].model, "scenes");
  EXPECT_EQ(d[2].task, "classify");
  EXPECT_FALSE(d[2].has_box);
  EXPECT_EQ(d[3].label, "sea");

  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("SELECT count(*) FROM detections WHERE task = 'classify' AND x1 IS NULL AND "
                     "y2 IS NULL"),
            "2");
  EXPECT_EQ(raw.text("SELECT count(*) FROM detections WHERE keypoints IS NULL"), "3");
  EXPECT_EQ(raw.text("SELECT length(keypoints) FROM detections WHERE label = 'face'"), "16");
  EXPECT_EQ(raw.text("SELECT count(*) FROM detections WHERE label IS NULL"), "1");
}

TEST_F(ManifestInferTest, RecordReplacesTheInferenceItsDetectionsAndTheirCrops) {
  Manifest manifest(db_path_);
  add_files(manifest);
  InferenceStore(manifest).record_inferences(std::vector<InferenceRecord>{
      inference(a_, "m", {box(0, "cat", 0.9f, 0, 0, 10, 10), box(1, "dog", 0.8f, 5, 5, 20, 20)}),
      inference(a_, "other", {box(0, "x", 0.7f, 0, 0, 1, 1)}),
      inference(b_, "m", {box(0, "cat", 0.6f, 1, 1, 2, 2)})});
  std::vector<CropRecord> crops;
  InferenceStore(manifest).for_each_detection({}, [&](const InferenceStore::FileDetections& row) {
    for (const DetectionRecord& d : row.detections) {
      crops.push_back(crop(d.id, row.file.path + "." + d.model + std::to_string(d.rank)));
    }
    return true;
  });
  ASSERT_EQ(crops.size(), 4U);
  InferenceStore(manifest).record_crops(crops);
  EXPECT_EQ(InferenceStore(manifest).count_crops(), 4);
  const std::optional<CropRecord> back = InferenceStore(manifest).find_crop(crops[0].detection_id);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->path, crops[0].path);
  EXPECT_EQ(back->xxh64, 0x8000000000000001ULL);
  EXPECT_EQ(back->width, 30);
  EXPECT_EQ(back->size_bytes, 1234);
  EXPECT_FALSE(InferenceStore(manifest).find_crop(999'999).has_value());

  // Re-infer a with m: one detection now; a's "other" and b's m stay, with their crops.
  InferenceRecord again = inference(a_, "m", {box(2, "bird", 0.5f, 3, 3, 4, 4)});
  InferenceStore(manifest).record_inferences(std::span<const InferenceRecord>(&again, 1));
  EXPECT_EQ(InferenceStore(manifest).count_detections("m"), 2);  // a's bird, b's cat
  EXPECT_EQ(InferenceStore(manifest).count_detections("other"), 1);
  EXPECT_EQ(InferenceStore(manifest).count_detections(), 3);
  EXPECT_EQ(InferenceStore(manifest).count_crops(),
            2);  // a's two m crops went with their detections
  EXPECT_EQ(InferenceStore(manifest).inference_counts("m").at("ok"), 2);
  const std::vector<std::string> seen = visit_all(manifest, {});
  EXPECT_EQ(seen, (std::vector<std::string>{"/a.jpg:m:0:bird", "/a.jpg:other:0:x",
                                            "/b.jpg:m:0:cat"}));

  // A failed re-inference drops the detections too and is not "ok" any more.
  InferenceRecord failed = inference(b_, "m", {});
  failed.status = "failed";
  failed.error = "decode error in /b.jpg";
  InferenceStore(manifest).record_inferences(std::span<const InferenceRecord>(&failed, 1));
  EXPECT_EQ(InferenceStore(manifest).count_detections("m"), 1);
  EXPECT_EQ(InferenceStore(manifest).count_crops(), 1);
  const std::map<std::string, int64_t> counts = InferenceStore(manifest).inference_counts("m");
  EXPECT_EQ(counts.at("ok"), 1);
  EXPECT_EQ(counts.at("failed"), 1);
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("SELECT error FROM inferences WHERE status = 'failed'"),
            "decode error in /b.jpg");
  EXPECT_EQ(manifest.integrity_check(), "ok");
  EXPECT_EQ(raw.text("PRAGMA foreign_key_check"), "");
}

TEST_F(ManifestInferTest, UnknownFileOrDetectionIsRefusedAndNothingIsWritten) {
  Manifest manifest(db_path_);
  add_files(manifest);
  const std::vector<InferenceRecord> batch{inference(a_, "m", {box(0, "cat", 0.9f, 0, 0, 1, 1)}),
                                           inference(987'654, "m", {})};
  EXPECT_THROW(InferenceStore(manifest).record_inferences(batch), ManifestError);
  EXPECT_EQ(InferenceStore(manifest).count_detections(), 0);  // the whole batch rolled back
  EXPECT_TRUE(InferenceStore(manifest).inference_counts().empty());
  const CropRecord orphan = crop(42, "/crops/x.jpg");
  EXPECT_THROW(InferenceStore(manifest).record_crops(std::span<const CropRecord>(&orphan, 1)),
               ManifestError);
  EXPECT_EQ(InferenceStore(manifest).count_crops(), 0);
}

TEST_F(ManifestInferTest, CountsModelsAndLabels) {
  Manifest manifest(db_path_);
  add_files(manifest);
  InferenceRecord failed = inference(d_, "det", {});
  failed.status = "failed";
  InferenceStore(manifest).record_inferences(std::vector<InferenceRecord>{
      inference(a_, "det",
                {box(0, "cat", 0.9f, 0, 0, 1, 1), box(0, "cat", 0.8f, 0, 0, 2, 2),
                 box(1, "dog", 0.7f, 0, 0, 3, 3)}),
      inference(b_, "det", {box(5, "", 0.6f, 0, 0, 1, 1)}), inference(c_, "det", {}), failed,
      inference(a_, "cls", {top_class(2, "beach", 0.9f), top_class(0, "cat", 0.1f)}),
      inference(b_, "cls", {top_class(0, "cat", 0.7f), top_class(2, "beach", 0.2f)})});
  EXPECT_EQ(InferenceStore(manifest).inferred_models(), (std::vector<std::string>{"cls", "det"}));
  EXPECT_EQ(InferenceStore(manifest).count_detections("det"), 4);
  EXPECT_EQ(InferenceStore(manifest).count_detections("cls"), 4);
  EXPECT_EQ(InferenceStore(manifest).count_detections(), 8);
  EXPECT_EQ(InferenceStore(manifest).count_detections("nope"), 0);
  const std::map<std::string, int64_t> det_counts =
      InferenceStore(manifest).inference_counts("det");
  EXPECT_EQ(det_counts.at("ok"), 3);
  EXPECT_EQ(det_counts.at("failed"), 1);
  EXPECT_EQ(InferenceStore(manifest).inference_counts().at("ok"), 5);
  EXPECT_EQ(InferenceStore(manifest).label_counts("det"),
            (std::map<std::string, int64_t>{{"cat", 2}, {"dog", 1}, {"5", 1}}));
  // Classifications: top-1 only.
  EXPECT_EQ(InferenceStore(manifest).label_counts("cls"),
            (std::map<std::string, int64_t>{{"beach", 1}, {"cat", 1}}));
  EXPECT_EQ(InferenceStore(manifest).label_counts().at("cat"), 3);
}

TEST_F(ManifestInferTest, ForEachDetectionOrderFiltersAndPaging) {
  Manifest manifest(db_path_);
  add_files(manifest);
  InferenceRecord failed = inference(d_, "det", {});
  failed.status = "failed";
  InferenceStore(manifest).record_inferences(std::vector<InferenceRecord>{
      inference(c_, "det", {box(0, "cat", 0.9f, 0, 0, 1, 1), box(1, "dog", 0.5f, 0, 0, 1, 1)}),
      inference(a_, "det", {box(1, "dog", 0.8f, 0, 0, 1, 1)}),
      inference(b_, "det", {}),  // no detection: still visited
      failed,                    // failed: not visited
      inference(a_, "cls", {top_class(2, "beach", 0.9f)})});

  std::vector<std::string> paths;
  std::vector<std::string> seen = visit_all(manifest, {}, &paths);
  EXPECT_EQ(paths, (std::vector<std::string>{"/a.jpg", "/b.jpg", "/c.jpg"}));
  EXPECT_EQ(seen, (std::vector<std::string>{"/a.jpg:cls:0:beach", "/a.jpg:det:0:dog",
                                            "/c.jpg:det:0:cat", "/c.jpg:det:1:dog"}));

  InferenceStore::DetectionQuery by_model;
  by_model.model = "cls";
  paths.clear();
  seen = visit_all(manifest, by_model, &paths);
  EXPECT_EQ(paths, (std::vector<std::string>{"/a.jpg"}));
  EXPECT_EQ(seen, (std::vector<std::string>{"/a.jpg:cls:0:beach"}));

  InferenceStore::DetectionQuery by_task;
  by_task.task = "detect";
  paths.clear();
  seen = visit_all(manifest, by_task, &paths);
  EXPECT_EQ(paths.size(), 3U);  // the task filters detections, not files
  EXPECT_EQ(seen, (std::vector<std::string>{"/a.jpg:det:0:dog", "/c.jpg:det:0:cat",
                                            "/c.jpg:det:1:dog"}));

  InferenceStore::DetectionQuery page;
  page.model = "det";
  page.offset = 1;
  page.limit = 1;
  paths.clear();
  seen = visit_all(manifest, page, &paths);
  EXPECT_EQ(paths, (std::vector<std::string>{"/b.jpg"}));
  EXPECT_TRUE(seen.empty());

  // Stopping early.
  int visits = 0;
  InferenceStore(manifest).for_each_detection(
      {}, [&](const InferenceStore::FileDetections&) { return ++visits < 2; });
  EXPECT_EQ(visits, 2);

  // Keepers only: a kept, b a duplicate, c rejected, d has no inference; a file with no decision
  // row counts as kept (added below as /e.jpg).
  DecisionRecord keep;
  keep.file_id = a_;
  keep.decision = "keep";
  DecisionRecord dup;
  dup.file_id = b_;
  dup.decision = "duplicate";
  DecisionRecord reject;
  reject.file_id = c_;
  reject.decision = "reject";
  DedupStore(manifest).replace_dedup_results({}, std::vector<DecisionRecord>{keep, dup, reject});
  FileStore(manifest).upsert_files(std::vector<FileRecord>{file("/e.jpg")});
  const int64_t e = FileStore(manifest).find_file("/e.jpg")->id;
  InferenceRecord late = inference(e, "det", {box(0, "cat", 0.4f, 0, 0, 1, 1)});
  InferenceStore(manifest).record_inferences(std::span<const InferenceRecord>(&late, 1));
  InferenceStore::DetectionQuery keepers;
  keepers.keepers_only = true;
  paths.clear();
  visit_all(manifest, keepers, &paths);
  EXPECT_EQ(paths, (std::vector<std::string>{"/a.jpg", "/e.jpg"}));
  paths.clear();
  visit_all(manifest, {}, &paths);
  EXPECT_EQ(paths.size(), 4U);
}

TEST_F(ManifestInferTest, InferredFilesReturnTheMtimeRecordedWithTheInference) {
  Manifest manifest(db_path_);
  FileStore(manifest).upsert_files(
      std::vector<FileRecord>{file("/a.jpg", 111), file("/b.jpg", 222)});
  const int64_t a = FileStore(manifest).find_file("/a.jpg")->id;
  const int64_t b = FileStore(manifest).find_file("/b.jpg")->id;
  InferenceRecord failed = inference(b, "m", {});
  failed.status = "failed";
  InferenceStore(manifest).record_inferences(
      std::vector<InferenceRecord>{inference(a, "m", {}), failed, inference(b, "other", {})});
  std::unordered_map<int64_t, int64_t> inferred = InferenceStore(manifest).inferred_files("m");
  ASSERT_EQ(inferred.size(), 1U);  // failed inferences are redone
  EXPECT_EQ(inferred.at(a), 111);
  EXPECT_EQ(InferenceStore(manifest).inferred_files("other").at(b), 222);
  EXPECT_TRUE(InferenceStore(manifest).inferred_files("none").empty());

  // The file changes: the recorded mtime stays the old one until it is inferred again.
  FileStore(manifest).upsert_files(std::vector<FileRecord>{file("/a.jpg", 333)});
  EXPECT_EQ(FileStore(manifest).find_file("/a.jpg")->id, a);  // a rescan keeps the row
  EXPECT_EQ(InferenceStore(manifest).inferred_files("m").at(a), 111);
  InferenceRecord again = inference(a, "m", {});
  InferenceStore(manifest).record_inferences(std::span<const InferenceRecord>(&again, 1));
  EXPECT_EQ(InferenceStore(manifest).inferred_files("m").at(a), 333);
}

TEST_F(ManifestInferTest, Version2DatabaseIsMigratedKeepingItsRows) {
  {
    // The schema-2 tables this test needs, as shipped (files after its rebuild), with rows.
    RawDb raw(db_path_);
    raw.exec(R"sql(
CREATE TABLE runs (id INTEGER PRIMARY KEY, command TEXT NOT NULL, config TEXT NOT NULL,
  vpipe_version TEXT NOT NULL, device TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,
  outcome TEXT, counts TEXT);
CREATE TABLE "files" (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
  size_bytes INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, status TEXT NOT NULL, error TEXT,
  format TEXT, width INTEGER, height INTEGER, content_hash TEXT, phash INTEGER, dhash INTEGER,
  sharpness REAL, brightness REAL, contrast REAL, dark_fraction REAL, bright_fraction REAL,
  entropy REAL, colorfulness REAL, orientation_hashes BLOB, run_id INTEGER REFERENCES runs(id),
  scanned_at TEXT NOT NULL);
CREATE INDEX files_content_hash ON files(content_hash);
CREATE TABLE groups (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
  keeper_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE, size INTEGER NOT NULL,
  max_distance INTEGER NOT NULL);
CREATE TABLE decisions (file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
  decision TEXT NOT NULL, group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
  is_keeper INTEGER NOT NULL, match TEXT, phash_distance INTEGER, dhash_distance INTEGER,
  orientation TEXT, quality_score REAL NOT NULL, run_id INTEGER REFERENCES runs(id));
CREATE INDEX decisions_group ON decisions(group_id, is_keeper DESC, phash_distance);
CREATE INDEX decisions_decision ON decisions(decision);
CREATE TABLE reasons (file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  rule TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL, severity REAL NOT NULL,
  PRIMARY KEY (file_id, rule));
CREATE INDEX reasons_rule ON reasons(rule, severity DESC);
CREATE TABLE quality_thresholds (rule TEXT PRIMARY KEY, signal TEXT NOT NULL,
  threshold REAL NOT NULL, rejects_below INTEGER NOT NULL, enabled INTEGER NOT NULL);
CREATE TABLE near_pairs (a INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  b INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE, phash_distance INTEGER NOT NULL,
  dhash_distance INTEGER NOT NULL, orientation TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
CREATE TABLE actions (id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs(id),
  kind TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL,
  error TEXT, updated_at TEXT NOT NULL);
CREATE TABLE stage_metrics (run_id INTEGER NOT NULL REFERENCES runs(id), pass TEXT NOT NULL,
  position INTEGER NOT NULL, stage TEXT NOT NULL, workers INTEGER NOT NULL,
  items_in INTEGER NOT NULL, items_out INTEGER NOT NULL, batches INTEGER NOT NULL,
  busy_ns INTEGER NOT NULL, wait_input_ns INTEGER NOT NULL, wait_output_ns INTEGER NOT NULL,
  wall_ns INTEGER NOT NULL, is_bottleneck INTEGER NOT NULL, sequential INTEGER NOT NULL,
  PRIMARY KEY (run_id, pass, position));
INSERT INTO runs VALUES (1, 'dedup', '{}', '0.2.0', 'cpu', 't0', 't1', 'completed', '{}');
INSERT INTO files (id, path, size_bytes, mtime_ns, status, format, width, height, run_id,
  scanned_at) VALUES (7, '/x.jpg', 10, 555, 'ok', 'jpeg', 64, 48, 1, 't');
INSERT INTO files (id, path, size_bytes, mtime_ns, status, run_id, scanned_at)
  VALUES (9, '/y.jpg', 11, 21, 'corrupt', 1, 't');
INSERT INTO decisions VALUES (7, 'keep', NULL, 0, NULL, NULL, NULL, NULL, 0.75, 1);
INSERT INTO decisions VALUES (9, 'reject', NULL, 0, NULL, NULL, NULL, NULL, 0, 1);
INSERT INTO reasons VALUES (9, 'corrupt', 0, 0, 0);
INSERT INTO actions VALUES (1, 1, 'copy', '/x.jpg', '/out/x.jpg', 'done', NULL, 't');
PRAGMA user_version = 2;
)sql");
  }
  Manifest manifest(db_path_);
  const std::vector<FileRecord> files = FileStore(manifest).all_files();
  ASSERT_EQ(files.size(), 2U);
  EXPECT_EQ(files[0].id, 7);
  EXPECT_EQ(files[0].path, "/x.jpg");
  EXPECT_EQ(files[1].id, 9);
  EXPECT_EQ(DedupStore(manifest).decision_counts(),
            (std::map<std::string, int64_t>{{"keep", 1}, {"reject", 1}}));
  EXPECT_EQ(DedupStore(manifest).reason_counts().at("corrupt"), 1);
  EXPECT_EQ(ActionStore(manifest).actions().size(), 1U);
  EXPECT_EQ(manifest.runs().size(), 1U);
  // The new tables exist, start empty and work against the old rows.
  EXPECT_TRUE(InferenceStore(manifest).inferred_models().empty());
  EXPECT_EQ(InferenceStore(manifest).count_detections(), 0);
  InferenceRecord r = inference(7, "m", {box(0, "cat", 0.9f, 1, 2, 3, 4)});
  InferenceStore(manifest).record_inferences(std::span<const InferenceRecord>(&r, 1));
  EXPECT_EQ(InferenceStore(manifest).inferred_files("m").at(7), 555);
  InferenceStore::DetectionQuery keepers;
  keepers.keepers_only = true;
  int visited = 0;
  InferenceStore(manifest).for_each_detection(keepers,
                                              [&](const InferenceStore::FileDetections& row) {
                                                EXPECT_EQ(row.file.path, "/x.jpg");
                                                EXPECT_EQ(row.detections.size(), 1U);
                                                ++visited;
                                                return true;
                                              });
  EXPECT_EQ(visited, 1);
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  // Version 9 dropped the index on decisions.decision that version 2 created.
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name = 'decisions_decision'"), "0");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE name IN "
                     "('inferences', 'detections', 'crops')"),
            "3");
  EXPECT_EQ(manifest.integrity_check(), "ok");
}

}  // namespace
}  // namespace vpipe
