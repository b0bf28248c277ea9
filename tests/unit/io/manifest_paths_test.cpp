// Schema 5: stored paths become absolute (io/manifest_paths.cpp). Each test builds a schema-4
// manifest with raw SQL (the tables of schema 4 are those of 5: the step changes values only),
// opens it from a chosen current directory and checks every table that holds a path or a file id.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "raw_db.h"
#include "scoped_cwd.h"
#include "temp_dir.h"
#include "vpipe/crawl/url_store.h"
#include "vpipe/curate/action_store.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::RawDb;
using testing::ScopedCwd;
using testing::TempDir;

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << "x";
}

class ManifestPathsTest : public ::testing::Test {
 protected:
  /// A manifest with the tables of schema 4 (today's, less the columns schemas 6 and 7 added), its
  /// version set back to 4, then `sql`.
  void make_schema4(const std::string& sql) {
    fs::create_directories(db_.parent_path());
    { Manifest created(db_); }
    RawDb raw(db_);
    for (const char* column :
         {"edge_width", "clipped_fraction", "highlight_level", "opaque_fraction",
          "highlight_plateau", "crop_hashes"}) {
      raw.exec(std::string("ALTER TABLE files DROP COLUMN ") + column);
    }
    raw.exec("PRAGMA user_version = 4");
    raw.exec(sql);
  }

  static std::string file_row(int id, const std::string& path, const std::string& scanned_at) {
    return "INSERT INTO files (id, path, size_bytes, mtime_ns, status, scanned_at) VALUES (" +
           std::to_string(id) + ", '" + path + "', 1, 1, 'ok', '" + scanned_at + "');\n";
  }

  TempDir tmp_{"vpipe_manifest_paths_"};
  fs::path root_ = fs::canonical(tmp_.path());
  fs::path db_ = root_ / "db" / "run.db";
};

TEST_F(ManifestPathsTest, RelativePathsBecomeAbsoluteAndTwoNamesOfOneFileMerge) {
  const fs::path data = root_ / "data";
  for (const char* f : {"photos/a.jpg", "photos/b.jpg", "photos/\xff.jpg", "crops/face.jpg",
                        "copies/photos/a.jpg"}) {
    touch(data / f);
  }
  const std::string abs_a = (data / "photos" / "a.jpg").string();
  // Rows 1 and 2 are one file (relative and absolute); both have dedup results, 2 is newer.
  make_schema4(
      file_row(1, "photos/a.jpg", "2024-01-01T00:00:00.000Z") +
      file_row(2, abs_a, "2024-02-01T00:00:00.000Z") +
      file_row(3, "photos/./b.jpg", "2024-01-01T00:00:00.000Z") +
      file_row(4, "gone.jpg", "2024-01-01T00:00:00.000Z") + R"sql(
INSERT INTO files (id, path, size_bytes, mtime_ns, status, scanned_at)
  VALUES (5, CAST(X'70686f746f732fff2e6a7067' AS TEXT), 1, 1, 'ok', 't');
INSERT INTO groups VALUES (1, 'exact', 1, 2, 0);
INSERT INTO decisions (file_id, decision, group_id, is_keeper, match, quality_score) VALUES
  (1, 'keep', 1, 1, NULL, 0.9), (2, 'duplicate', 1, 0, 'exact', 0.9),
  (3, 'keep', NULL, 0, NULL, 0.5), (4, 'reject', NULL, 0, NULL, 0);
INSERT INTO reasons VALUES (4, 'corrupt', 0, 0, 0);
INSERT INTO near_pairs VALUES (1, 2, 0, 0, NULL);
INSERT INTO inferences (file_id, model, status, mtime_ns, inferred_at) VALUES
  (1, 'faces', 'ok', 1, 't'), (1, 'cats', 'ok', 1, 't'), (2, 'cats', 'ok', 1, 't');
INSERT INTO detections (id, file_id, model, task, rank, class_id, label, score, x1, y1, x2, y2)
  VALUES (10, 1, 'faces', 'detect', 0, 0, 'face', 0.9, 1, 1, 5, 5),
         (11, 1, 'cats', 'detect', 0, 0, 'cat', 0.8, 1, 1, 5, 5),
         (12, 2, 'cats', 'detect', 0, 0, 'cat', 0.7, 1, 1, 5, 5);
INSERT INTO crops VALUES (10, 'crops/face.jpg', 0, 0, 5, 5, 1, 0);
INSERT INTO urls (id, url, state, path, host) VALUES (1, 'http://x/b.jpg', 'done', 'photos/b.jpg', 'x');
INSERT INTO actions (id, kind, source, target, state, updated_at)
  VALUES (1, 'copy', 'photos/a.jpg', 'copies/photos/a.jpg', 'done', 't');
)sql");

  {
    ScopedCwd cwd(data);  // where the files are: the base of the relative paths
    Manifest manifest(db_);
    EXPECT_EQ(FileStore(manifest).count_files(), 4);
    const std::optional<FileRecord> a = FileStore(manifest).find_file(abs_a);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->id, 2) << "the most recently scanned row survives";
    EXPECT_EQ(FileStore(manifest).find_file((data / "photos" / "b.jpg").string())->id, 3);
    EXPECT_EQ(FileStore(manifest).find_file((data / "photos" / "\xff.jpg").string())->id, 5);
    EXPECT_EQ(FileStore(manifest).find_file((data / "gone.jpg").string())->id, 4)
        << "found nowhere: resolved against the first base, as before";
    EXPECT_TRUE(DedupStore(manifest).decision_counts().empty())
        << "dedup results that counted one file twice are cleared";
    EXPECT_EQ(DedupStore(manifest).count_groups(), 0);
    EXPECT_EQ(DedupStore(manifest).count_near_pairs(), 0);
    const std::vector<ActionRecord> actions = ActionStore(manifest).actions();
    ASSERT_EQ(actions.size(), 1U);
    EXPECT_EQ(actions[0].source, abs_a);
    EXPECT_EQ(actions[0].target, (data / "copies" / "photos" / "a.jpg").string());
    EXPECT_EQ(UrlStore(manifest).find_url("http://x/b.jpg")->path,
              (data / "photos" / "b.jpg").string());
    EXPECT_EQ(InferenceStore(manifest).find_crop(10)->path, (data / "crops" / "face.jpg").string());
    EXPECT_EQ(manifest.integrity_check(), "ok");
  }
  RawDb raw(db_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  EXPECT_EQ(raw.text("SELECT count(*) FROM pragma_foreign_key_check"), "0");
  // The loser's inferences followed it where the survivor had none of that model.
  EXPECT_EQ(raw.text("SELECT group_concat(model, ',') FROM (SELECT model FROM inferences "
                     "WHERE file_id = 2 ORDER BY model)"),
            "cats,faces");
  EXPECT_EQ(raw.text("SELECT count(*) FROM inferences WHERE file_id = 1"), "0");
  EXPECT_EQ(raw.text("SELECT group_concat(id, ',') FROM (SELECT id FROM detections "
                     "WHERE file_id = 2 ORDER BY id)"),
            "10,12");
  EXPECT_EQ(raw.text("SELECT count(*) FROM crops WHERE detection_id = 10"), "1");
  EXPECT_EQ(raw.text("SELECT count(*) FROM files WHERE path NOT GLOB '/*'"), "0");
}

TEST_F(ManifestPathsTest, FilesFoundOnlyBesideTheManifestResolveThere) {
  // The manifest was written from its own folder; now it is opened from somewhere else.
  touch(db_.parent_path() / "photos" / "c.jpg");
  touch(db_.parent_path() / "dups" / "photos" / "moved.jpg");  // a done move
  make_schema4(file_row(1, "photos/c.jpg", "t") + file_row(2, "photos/moved.jpg", "t") +
               "INSERT INTO actions (id, kind, source, target, state, updated_at) VALUES "
               "(1, 'move', 'photos/moved.jpg', 'dups/photos/moved.jpg', 'done', 't');");
  fs::create_directories(root_ / "elsewhere");
  ScopedCwd cwd(root_ / "elsewhere");
  Manifest manifest(db_);
  const fs::path base = db_.parent_path();
  EXPECT_TRUE(FileStore(manifest).find_file((base / "photos" / "c.jpg").string()).has_value());
  EXPECT_TRUE(FileStore(manifest).find_file((base / "photos" / "moved.jpg").string()).has_value())
      << "a file found nowhere goes with the base most files were found under";
  const std::vector<ActionRecord> actions = ActionStore(manifest).actions();
  ASSERT_EQ(actions.size(), 1U);
  EXPECT_EQ(actions[0].source, (base / "photos" / "moved.jpg").string());
  EXPECT_EQ(actions[0].target, (base / "dups" / "photos" / "moved.jpg").string());
}

TEST_F(ManifestPathsTest, AMergeKeepsTheDedupResultsOfTheRowThatHasThem) {
  touch(root_ / "data" / "a.jpg");
  touch(root_ / "data" / "b.jpg");
  const std::string abs_a = (root_ / "data" / "a.jpg").string();
  // Row 1 (relative, newer) has no decision; row 2 (absolute) is the keeper of a group.
  make_schema4(file_row(1, "a.jpg", "2024-03-01T00:00:00.000Z") +
               file_row(2, abs_a, "2024-01-01T00:00:00.000Z") +
               file_row(3, (root_ / "data" / "b.jpg").string(), "t") + R"sql(
INSERT INTO groups VALUES (1, 'near', 2, 2, 4);
INSERT INTO decisions (file_id, decision, group_id, is_keeper, match, phash_distance, quality_score)
  VALUES (2, 'keep', 1, 1, NULL, 0, 0.9), (3, 'duplicate', 1, 0, 'near', 4, 0.8);
INSERT INTO near_pairs VALUES (2, 3, 4, 5, NULL);
)sql");
  ScopedCwd cwd(root_ / "data");
  Manifest manifest(db_);
  EXPECT_EQ(FileStore(manifest).count_files(), 2);
  EXPECT_EQ(FileStore(manifest).find_file(abs_a)->id, 2);
  EXPECT_EQ(DedupStore(manifest).decision_counts(),
            (std::map<std::string, int64_t>{{"duplicate", 1}, {"keep", 1}}));
  ASSERT_EQ(DedupStore(manifest).groups().size(), 1U);
  EXPECT_EQ(DedupStore(manifest).groups()[0].keeper_id, 2);
  EXPECT_EQ(DedupStore(manifest).count_near_pairs(), 1);
}

TEST_F(ManifestPathsTest, AbsolutePathsGetTheirFolderResolvedAndAMigratedManifestStaysPut) {
  touch(root_ / "data" / "a.jpg");
  fs::create_directory_symlink(root_ / "data", root_ / "link");
  make_schema4(file_row(1, (root_ / "link" / "a.jpg").string(), "t") +
               file_row(2, "/nowhere/x/../y.jpg", "t"));
  {
    Manifest manifest(db_);
    EXPECT_TRUE(FileStore(manifest).find_file((root_ / "data" / "a.jpg").string()).has_value());
    EXPECT_TRUE(FileStore(manifest).find_file("/nowhere/y.jpg").has_value());
  }
  // Schema 5 is not migrated again: a row written now keeps exactly the path it was given.
  {
    Manifest manifest(db_);
    FileRecord r;
    r.path = (root_ / "link" / "a.jpg").string();
    FileStore(manifest).upsert_files(std::vector<FileRecord>{r});
  }
  Manifest again(db_);
  EXPECT_EQ(FileStore(again).count_files(), 3);
}

}  // namespace
}  // namespace vpipe
