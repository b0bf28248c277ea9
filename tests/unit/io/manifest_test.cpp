#include "vpipe/io/manifest.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/version.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

/// A raw sqlite3 connection, as a second process (a report, the sqlite3 shell) would open.
class RawDb {
 public:
  explicit RawDb(const fs::path& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    }
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error != nullptr ? error : "?");
    }
    sqlite3_free(error);
  }

  /// First column of the first row, as text ("" when NULL or no row).
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      if (p != nullptr) out.assign(p, static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
    } else if (rc != SQLITE_DONE) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "vpipe_manifest_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_path_ = dir_ / "manifest.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  fs::path db_path_;
};

FileRecord full_record(const std::string& path) {
  FileRecord r;
  r.path = path;
  r.size_bytes = 5'000'000'123;  // over 32 bits
  r.mtime_ns = 1'700'000'000'123'456'789;
  r.status = ItemStatus::kDamaged;
  r.error = "premature end of JPEG data";
  r.format = "jpeg";
  r.width = 4032;
  r.height = 3024;
  r.has_content_hash = true;
  r.content_hash = {0xfedcba9876543210ULL, 0x0123456789abcdefULL};
  r.has_signals = true;
  r.phash = 0x8000000000000001ULL;  // top bit set: negative as int64
  r.dhash = 0xffffffffffffffffULL;
  r.quality = {123.25, 127.5, 64.125, 0.25, 0.0625, 7.5, 33.75};
  return r;
}

void expect_same(const FileRecord& a, const FileRecord& b) {
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.size_bytes, b.size_bytes);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.has_content_hash, b.has_content_hash);
  EXPECT_EQ(a.content_hash, b.content_hash);
  EXPECT_EQ(a.has_signals, b.has_signals);
  EXPECT_EQ(a.phash, b.phash);
  EXPECT_EQ(a.dhash, b.dhash);
  EXPECT_EQ(a.quality.sharpness, b.quality.sharpness);
  EXPECT_EQ(a.quality.brightness, b.quality.brightness);
  EXPECT_EQ(a.quality.contrast, b.quality.contrast);
  EXPECT_EQ(a.quality.dark_fraction, b.quality.dark_fraction);
  EXPECT_EQ(a.quality.bright_fraction, b.quality.bright_fraction);
  EXPECT_EQ(a.quality.entropy, b.quality.entropy);
  EXPECT_EQ(a.quality.colorfulness, b.quality.colorfulness);
}

TEST_F(ManifestTest, CreateSetsSchemaVersionAndWal) {
  { Manifest manifest(db_path_); }
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(Manifest::kSchemaVersion));
  EXPECT_EQ(raw.text("PRAGMA user_version"), "1");
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE name = 'files_content_hash'"), "1");
}

TEST_F(ManifestTest, ReopenKeepsRows) {
  {
    Manifest manifest(db_path_);
    const std::vector<FileRecord> rows = {full_record("/a.jpg")};
    manifest.upsert_files(rows);
  }
  Manifest again(db_path_);
  EXPECT_EQ(again.count_files(), 1);
}

TEST_F(ManifestTest, UpsertAndFindRoundTripEveryField) {
  Manifest manifest(db_path_);
  const FileRecord full = full_record("/data/\xff\xfe weird\nname.jpg");
  FileRecord bare;
  bare.path = "/data/unreadable.jpg";
  bare.size_bytes = 0;
  bare.mtime_ns = -5;  // before the epoch
  bare.status = ItemStatus::kUnreadable;
  bare.error = "permission denied";
  const std::vector<FileRecord> rows = {full, bare};
  manifest.upsert_files(rows);

  const std::optional<FileRecord> found_full = manifest.find_file(full.path);
  ASSERT_TRUE(found_full.has_value());
  expect_same(*found_full, full);
  const std::optional<FileRecord> found_bare = manifest.find_file(bare.path);
  ASSERT_TRUE(found_bare.has_value());
  expect_same(*found_bare, bare);
  EXPECT_FALSE(manifest.find_file("/data/none.jpg").has_value());
  // Not found by a prefix or a UTF-8 "repair" of the name.
  EXPECT_FALSE(manifest.find_file("/data/\xff").has_value());
}

TEST_F(ManifestTest, StoredColumnsAreWhatTheDocsSay) {
  {
    Manifest manifest(db_path_);
    FileRecord bare;
    bare.path = "/b.jpg";
    bare.status = ItemStatus::kCorrupt;
    const std::vector<FileRecord> rows = {full_record("/a.jpg"), bare};
    manifest.upsert_files(rows);
  }
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("SELECT content_hash FROM files WHERE path = '/a.jpg'"),
            "fedcba98765432100123456789abcdef");
  EXPECT_EQ(raw.text("SELECT phash FROM files WHERE path = '/a.jpg'"), "-9223372036854775807");
  EXPECT_EQ(raw.text("SELECT status FROM files WHERE path = '/a.jpg'"), "damaged");
  EXPECT_EQ(raw.text("SELECT typeof(sharpness) FROM files WHERE path = '/a.jpg'"), "real");
  EXPECT_EQ(raw.text("SELECT typeof(content_hash) || typeof(phash) || typeof(sharpness) || "
                     "typeof(width) FROM files WHERE path = '/b.jpg'"),
            "nullnullnullnull");
  EXPECT_EQ(raw.text("SELECT scanned_at LIKE '____-__-__T__:__:__.___Z' FROM files LIMIT 1"), "1");
}

TEST_F(ManifestTest, ReUpsertReplacesTheRow) {
  Manifest manifest(db_path_);
  FileRecord r = full_record("/x.png");
  manifest.upsert_files(std::span(&r, 1));
  r.size_bytes = 42;
  r.status = ItemStatus::kOk;
  r.error.clear();
  r.has_signals = false;
  r.has_content_hash = false;
  manifest.upsert_files(std::span(&r, 1));
  EXPECT_EQ(manifest.count_files(), 1);
  const std::optional<FileRecord> found = manifest.find_file("/x.png");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->size_bytes, 42);
  EXPECT_EQ(found->status, ItemStatus::kOk);
  EXPECT_EQ(found->error, "");
  EXPECT_FALSE(found->has_signals);
  EXPECT_FALSE(found->has_content_hash);
}

TEST_F(ManifestTest, FileStampsAndStatusCounts) {
  Manifest manifest(db_path_);
  std::vector<FileRecord> rows;
  for (int i = 0; i < 6; ++i) {
    FileRecord r;
    r.path = "/f" + std::to_string(i);
    r.size_bytes = 100 + i;
    r.mtime_ns = int64_t{1000} * i;
    r.status = i < 3 ? ItemStatus::kOk : (i < 5 ? ItemStatus::kCorrupt : ItemStatus::kNotImage);
    rows.push_back(r);
  }
  manifest.upsert_files(rows);
  const auto stamps = manifest.file_stamps();
  ASSERT_EQ(stamps.size(), 6u);
  EXPECT_EQ(stamps.at("/f4").size_bytes, 104);
  EXPECT_EQ(stamps.at("/f4").mtime_ns, 4000);
  const std::map<std::string, int64_t> expected = {{"ok", 3}, {"corrupt", 2}, {"not_image", 1}};
  EXPECT_EQ(manifest.status_counts(), expected);
}

TEST_F(ManifestTest, AllFilesOrderedByPathBytes) {
  Manifest manifest(db_path_);
  std::vector<FileRecord> rows(3);
  rows[0].path = "/b";
  rows[1].path = "/\xff";
  rows[2].path = "/B";
  manifest.upsert_files(rows);
  const std::vector<FileRecord> all = manifest.all_files();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].path, "/B");
  EXPECT_EQ(all[1].path, "/b");
  EXPECT_EQ(all[2].path, "/\xff");
}

TEST_F(ManifestTest, RunsAreRecordedAndLinkedToFiles) {
  int64_t run_id = 0;
  {
    Manifest manifest(db_path_);
    run_id = manifest.begin_run("scan", R"({"threads":4})", "cpu");
    EXPECT_GT(run_id, 0);
    FileRecord r = full_record("/a.jpg");
    manifest.upsert_files(std::span(&r, 1));
    manifest.end_run(run_id, "completed", {{"ok", 1}, {"a \"quoted\" name", 2}});
    EXPECT_THROW(manifest.end_run(run_id + 100, "completed", {}), ManifestError);
  }
  RawDb raw(db_path_);
  const std::string where = " FROM runs WHERE id = " + std::to_string(run_id);
  EXPECT_EQ(raw.text("SELECT command" + where), "scan");
  EXPECT_EQ(raw.text("SELECT config" + where), R"({"threads":4})");
  EXPECT_EQ(raw.text("SELECT vpipe_version" + where), kVersion);
  EXPECT_EQ(raw.text("SELECT device" + where), "cpu");
  EXPECT_EQ(raw.text("SELECT outcome" + where), "completed");
  EXPECT_EQ(raw.text("SELECT started_at <= ended_at" + where), "1");
  EXPECT_EQ(raw.text("SELECT json_extract(counts, '$.ok')" + where), "1");
  EXPECT_EQ(raw.text("SELECT value FROM runs, json_each(runs.counts) WHERE key = "
                     "'a \"quoted\" name' AND runs.id = " +
                     std::to_string(run_id)),
            "2");
  EXPECT_EQ(raw.text("SELECT json_valid(counts)" + where), "1");
  EXPECT_EQ(raw.text("SELECT run_id FROM files WHERE path = '/a.jpg'"), std::to_string(run_id));
}

TEST_F(ManifestTest, IntegrityCheckIsOk) {
  Manifest manifest(db_path_);
  const std::vector<FileRecord> rows = {full_record("/a"), full_record("/b")};
  manifest.upsert_files(rows);
  EXPECT_EQ(manifest.integrity_check(), "ok");
}

TEST_F(ManifestTest, NewerSchemaIsRefused) {
  {
    RawDb raw(db_path_);
    raw.exec("CREATE TABLE files (path TEXT PRIMARY KEY); PRAGMA user_version = 99;");
  }
  try {
    Manifest manifest(db_path_);
    FAIL() << "expected ManifestError";
  } catch (const ManifestError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(db_path_.string()), std::string::npos) << what;
    EXPECT_NE(what.find("newer vpipe"), std::string::npos) << what;
    EXPECT_NE(what.find("99"), std::string::npos) << what;
  }
}

TEST_F(ManifestTest, NonDatabaseFileIsRefusedAndKept) {
  const std::string text = "this is a text file, not a database, and long enough for a header\n";
  std::ofstream(db_path_) << text;
  try {
    Manifest manifest(db_path_);
    FAIL() << "expected ManifestError";
  } catch (const ManifestError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(db_path_.string()), std::string::npos) << what;
    EXPECT_NE(what.find("not an SQLite database"), std::string::npos) << what;
  }
  std::ifstream in(db_path_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line + "\n", text);
}

TEST_F(ManifestTest, ForeignSqliteDatabaseIsRefused) {
  {
    RawDb raw(db_path_);
    raw.exec("CREATE TABLE photos (id INTEGER);");
  }
  EXPECT_THROW(Manifest manifest(db_path_), ManifestError);
}

TEST_F(ManifestTest, MissingDirectoryIsManifestError) {
  EXPECT_THROW(Manifest manifest(dir_ / "no_dir" / "m.db"), ManifestError);
}

TEST_F(ManifestTest, SecondConnectionReadsWhileManifestIsOpen) {
  Manifest manifest(db_path_);
  const std::vector<FileRecord> rows = {full_record("/a"), full_record("/b")};
  manifest.upsert_files(rows);
  RawDb reader(db_path_, SQLITE_OPEN_READONLY);
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "2");
  // The writer keeps writing while the reader holds an open read transaction (WAL).
  reader.exec("BEGIN");
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "2");
  const std::vector<FileRecord> more = {full_record("/c")};
  manifest.upsert_files(more);
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "2");  // its snapshot
  reader.exec("COMMIT");
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "3");
  manifest.checkpoint();  // with the reader idle it may truncate the WAL
  EXPECT_EQ(manifest.count_files(), 3);
}

TEST_F(ManifestTest, CheckpointTruncatesTheWal) {
  Manifest manifest(db_path_);
  const std::vector<FileRecord> rows = {full_record("/a"), full_record("/b")};
  manifest.upsert_files(rows);
  const fs::path wal = db_path_.string() + "-wal";
  ASSERT_TRUE(fs::exists(wal));
  EXPECT_GT(fs::file_size(wal), 0u);
  manifest.checkpoint();
  EXPECT_EQ(fs::file_size(wal), 0u);
}

TEST_F(ManifestTest, HundredThousandRowsInOneBatch) {
  Manifest manifest(db_path_);
  std::vector<FileRecord> rows;
  rows.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    FileRecord r = full_record("/dataset/dir" + std::to_string(i / 1000) + "/img_" +
                               std::to_string(i) + ".jpg");
    r.content_hash.low = static_cast<uint64_t>(i);
    rows.push_back(std::move(r));
  }
  manifest.upsert_files(rows);
  EXPECT_EQ(manifest.count_files(), 100'000);
  manifest.upsert_files(rows);  // a full rescan replaces, never duplicates
  EXPECT_EQ(manifest.count_files(), 100'000);
  EXPECT_EQ(manifest.find_file("/dataset/dir99/img_99999.jpg")->content_hash.low, 99'999u);
}

}  // namespace
}  // namespace vpipe
