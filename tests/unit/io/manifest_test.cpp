#include "vpipe/io/manifest.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "raw_db.h"
#include "temp_dir.h"
#include "vpipe/core/error.h"
#include "vpipe/core/version.h"
#include "vpipe/curate/action_store.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/file_store.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::RawDb;
using testing::TempDir;

class ManifestTest : public ::testing::Test {
 protected:
  TempDir tmp_{"vpipe_manifest_"};
  fs::path dir_ = tmp_.path();
  fs::path db_path_ = dir_ / "manifest.db";
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
  r.quality = {123.25, 127.5, 64.125, 0.25, 0.0625, 7.5, 33.75, 2.75, 0.125, 231.5};
  r.quality.highlight_plateau = 0.03125;
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
  EXPECT_EQ(a.quality.edge_width, b.quality.edge_width);
  EXPECT_EQ(a.quality.clipped_fraction, b.quality.clipped_fraction);
  EXPECT_EQ(a.quality.highlight_level, b.quality.highlight_level);
  EXPECT_EQ(a.quality.highlight_plateau, b.quality.highlight_plateau);
  EXPECT_EQ(a.quality.brightness, b.quality.brightness);
  EXPECT_EQ(a.quality.contrast, b.quality.contrast);
  EXPECT_EQ(a.quality.dark_fraction, b.quality.dark_fraction);
  EXPECT_EQ(a.quality.bright_fraction, b.quality.bright_fraction);
  EXPECT_EQ(a.quality.entropy, b.quality.entropy);
  EXPECT_EQ(a.quality.colorfulness, b.quality.colorfulness);
  EXPECT_EQ(a.quality.opaque_fraction, b.quality.opaque_fraction);
}

TEST_F(ManifestTest, CreateSetsSchemaVersionAndWal) {
  { Manifest manifest(db_path_); }
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(Manifest::kSchemaVersion));
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE name = 'files_content_hash'"), "1");
}

TEST_F(ManifestTest, ReopenKeepsRows) {
  {
    Manifest manifest(db_path_);
    const std::vector<FileRecord> rows = {full_record("/a.jpg")};
    FileStore(manifest).upsert_files(rows);
  }
  Manifest again(db_path_);
  EXPECT_EQ(FileStore(again).count_files(), 1);
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
  FileStore(manifest).upsert_files(rows);

  const std::optional<FileRecord> found_full = FileStore(manifest).find_file(full.path);
  ASSERT_TRUE(found_full.has_value());
  expect_same(*found_full, full);
  const std::optional<FileRecord> found_bare = FileStore(manifest).find_file(bare.path);
  ASSERT_TRUE(found_bare.has_value());
  expect_same(*found_bare, bare);
  EXPECT_FALSE(FileStore(manifest).find_file("/data/none.jpg").has_value());
  // Not found by a prefix or a UTF-8 "repair" of the name.
  EXPECT_FALSE(FileStore(manifest).find_file("/data/\xff").has_value());
}

TEST_F(ManifestTest, StoredColumnsAreWhatTheDocsSay) {
  {
    Manifest manifest(db_path_);
    FileRecord bare;
    bare.path = "/b.jpg";
    bare.status = ItemStatus::kCorrupt;
    const std::vector<FileRecord> rows = {full_record("/a.jpg"), bare};
    FileStore(manifest).upsert_files(rows);
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

TEST_F(ManifestTest, OpaqueFractionRoundTripsAndOldRowsReadAsOpaque) {
  {
    Manifest manifest(db_path_);
    FileRecord logo = full_record("/logo.png");
    logo.quality.opaque_fraction = 0.375;
    FileRecord clear = full_record("/clear.png");
    clear.quality = QualitySignals{};
    clear.quality.opaque_fraction = 0;
    FileStore(manifest).upsert_files(
        std::vector<FileRecord>{logo, clear, full_record("/photo.jpg")});
    EXPECT_EQ(FileStore(manifest).find_file("/logo.png")->quality.opaque_fraction, 0.375);
    EXPECT_EQ(FileStore(manifest).find_file("/clear.png")->quality.opaque_fraction, 0.0);
    EXPECT_EQ(FileStore(manifest).find_file("/photo.jpg")->quality.opaque_fraction, 1.0);
  }
  {
    // Back to a version-4 database (no column), as written before transparency was measured.
    RawDb raw(db_path_);
    EXPECT_EQ(raw.text("SELECT typeof(opaque_fraction) FROM files WHERE path = '/logo.png'"),
              "real");
    raw.exec(
        "ALTER TABLE files DROP COLUMN opaque_fraction; ALTER TABLE files DROP COLUMN edge_width; "
        "ALTER TABLE files DROP COLUMN clipped_fraction; ALTER TABLE files DROP COLUMN "
        "highlight_level; ALTER TABLE files DROP COLUMN highlight_plateau; "
        "ALTER TABLE files DROP COLUMN crop_hashes; "
        "PRAGMA user_version = 4;");
  }
  Manifest migrated(db_path_);
  const FileRecord old_row = *FileStore(migrated).find_file("/logo.png");
  EXPECT_TRUE(old_row.has_signals);
  EXPECT_EQ(old_row.quality.opaque_fraction, 1.0);  // NULL: measured as opaque
  EXPECT_EQ(old_row.quality.sharpness, 123.25);
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  EXPECT_EQ(raw.text("SELECT typeof(opaque_fraction) FROM files WHERE path = '/logo.png'"), "null");
  EXPECT_EQ(raw.text("SELECT typeof(highlight_plateau) FROM files WHERE path = '/logo.png'"),
            "null");
}

TEST_F(ManifestTest, ReUpsertReplacesTheRow) {
  Manifest manifest(db_path_);
  FileRecord r = full_record("/x.png");
  FileStore(manifest).upsert_files(std::span(&r, 1));
  r.size_bytes = 42;
  r.status = ItemStatus::kOk;
  r.error.clear();
  r.has_signals = false;
  r.has_content_hash = false;
  FileStore(manifest).upsert_files(std::span(&r, 1));
  EXPECT_EQ(FileStore(manifest).count_files(), 1);
  const std::optional<FileRecord> found = FileStore(manifest).find_file("/x.png");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->size_bytes, 42);
  EXPECT_EQ(found->status, ItemStatus::kOk);
  EXPECT_EQ(found->error, "");
  EXPECT_FALSE(found->has_signals);
  EXPECT_FALSE(found->has_content_hash);
}

TEST_F(ManifestTest, RowsWithoutTheLatestSignalsAreRescanned) {
  Manifest manifest(db_path_);
  const std::vector<FileRecord> rows = {full_record("/a.jpg"), full_record("/b.jpg"),
                                        full_record("/c.jpg")};
  FileStore(manifest).upsert_files(rows);
  EXPECT_TRUE(FileStore(manifest).file_stamps().at("/a.jpg").current_signals);
  // A row written by a version-4 scan has NULL in the columns of schema 6, one by a version-6
  // scan in the column of schema 7.
  RawDb(db_path_).exec("UPDATE files SET edge_width = NULL WHERE path = '/b.jpg'");
  RawDb(db_path_).exec("UPDATE files SET highlight_plateau = NULL WHERE path = '/c.jpg'");
  const auto stamps = FileStore(manifest).file_stamps();
  EXPECT_TRUE(stamps.at("/a.jpg").current_signals);
  EXPECT_FALSE(stamps.at("/b.jpg").current_signals);
  EXPECT_FALSE(stamps.at("/c.jpg").current_signals);
  const std::optional<FileRecord> a = FileStore(manifest).find_file("/a.jpg");
  ASSERT_TRUE(a.has_value());
  EXPECT_DOUBLE_EQ(a->quality.edge_width, 2.75);
  EXPECT_DOUBLE_EQ(a->quality.clipped_fraction, 0.125);
  EXPECT_DOUBLE_EQ(a->quality.highlight_level, 231.5);
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
  FileStore(manifest).upsert_files(rows);
  const auto stamps = FileStore(manifest).file_stamps();
  ASSERT_EQ(stamps.size(), 6u);
  EXPECT_EQ(stamps.at("/f4").size_bytes, 104);
  EXPECT_EQ(stamps.at("/f4").mtime_ns, 4000);
  const std::map<std::string, int64_t> expected = {{"ok", 3}, {"corrupt", 2}, {"not_image", 1}};
  EXPECT_EQ(FileStore(manifest).status_counts(), expected);
}

TEST_F(ManifestTest, AllFilesOrderedByPathBytes) {
  Manifest manifest(db_path_);
  std::vector<FileRecord> rows(3);
  rows[0].path = "/b";
  rows[1].path = "/\xff";
  rows[2].path = "/B";
  FileStore(manifest).upsert_files(rows);
  const std::vector<FileRecord> all = FileStore(manifest).all_files();
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
    FileStore(manifest).upsert_files(std::span(&r, 1));
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
  FileStore(manifest).upsert_files(rows);
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
  FileStore(manifest).upsert_files(rows);
  RawDb reader(db_path_, SQLITE_OPEN_READONLY);
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "2");
  // The writer keeps writing while the reader holds an open read transaction (WAL).
  reader.exec("BEGIN");
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "2");
  const std::vector<FileRecord> more = {full_record("/c")};
  FileStore(manifest).upsert_files(more);
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "2");  // its snapshot
  reader.exec("COMMIT");
  EXPECT_EQ(reader.text("SELECT count(*) FROM files"), "3");
  manifest.checkpoint();  // with the reader idle it may truncate the WAL
  EXPECT_EQ(FileStore(manifest).count_files(), 3);
}

TEST_F(ManifestTest, CheckpointTruncatesTheWal) {
  Manifest manifest(db_path_);
  const std::vector<FileRecord> rows = {full_record("/a"), full_record("/b")};
  FileStore(manifest).upsert_files(rows);
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
  FileStore(manifest).upsert_files(rows);
  EXPECT_EQ(FileStore(manifest).count_files(), 100'000);
  FileStore(manifest).upsert_files(rows);  // a full rescan replaces, never duplicates
  EXPECT_EQ(FileStore(manifest).count_files(), 100'000);
  EXPECT_EQ(FileStore(manifest).find_file("/dataset/dir99/img_99999.jpg")->content_hash.low,
            99'999u);
}

// ---------------------------------------------------------------------------------------------
// Schema 2: migration, orientation hashes, dedup results, runs' stage metrics, action journal.

/// The tables of schema 1, as shipped (without its index).
constexpr const char* kVersion1Tables = R"sql(
CREATE TABLE runs (id INTEGER PRIMARY KEY, command TEXT NOT NULL, config TEXT NOT NULL,
  vpipe_version TEXT NOT NULL, device TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,
  outcome TEXT, counts TEXT);
CREATE TABLE files (path TEXT PRIMARY KEY NOT NULL, size_bytes INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL, status TEXT NOT NULL, error TEXT, format TEXT, width INTEGER,
  height INTEGER, content_hash TEXT, phash INTEGER, dhash INTEGER, sharpness REAL,
  brightness REAL, contrast REAL, dark_fraction REAL, bright_fraction REAL, entropy REAL,
  colorfulness REAL, run_id INTEGER REFERENCES runs(id), scanned_at TEXT NOT NULL);
)sql";

TEST_F(ManifestTest, Version1DatabaseIsMigratedKeepingEveryRow) {
  {
    // The exact v1 schema, as shipped, with two rows (one non-UTF-8 path).
    RawDb raw(db_path_);
    raw.exec(kVersion1Tables);
    raw.exec(R"sql(
CREATE INDEX files_content_hash ON files(content_hash);
INSERT INTO runs VALUES (1, 'scan', '{}', '0.1.0', 'cpu', 't0', 't1', 'completed', '{}');
INSERT INTO files VALUES ('/z.jpg', 10, 20, 'ok', NULL, 'jpeg', 64, 48,
  'fedcba98765432100123456789abcdef', -5, 7, 1.5, 2.5, 3.5, 0.1, 0.2, 6.5, 9.5, 1, 't');
INSERT INTO files VALUES (CAST(X'2f61ff2e6a7067' AS TEXT), 11, 21, 'corrupt', 'bad', NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, 't');
PRAGMA user_version = 1;
)sql");
  }
  Manifest manifest(db_path_);
  const std::vector<FileRecord> files = FileStore(manifest).all_files();
  ASSERT_EQ(files.size(), 2U);
  EXPECT_EQ(files[0].path, "/a\xff.jpg");
  EXPECT_EQ(files[0].status, ItemStatus::kCorrupt);
  EXPECT_EQ(files[1].path, "/z.jpg");
  EXPECT_EQ(files[1].phash, static_cast<uint64_t>(-5));
  EXPECT_EQ(files[1].quality.colorfulness, 9.5);
  EXPECT_FALSE(files[1].has_orientation_hashes);
  // Ids follow the old row order and are stable keys now.
  EXPECT_GT(files[0].id, 0);
  EXPECT_NE(files[0].id, files[1].id);
  EXPECT_EQ(manifest.runs().size(), 1U);
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE name = 'files_content_hash'"), "1");
  EXPECT_EQ(manifest.integrity_check(), "ok");
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST_F(ManifestTest, ReadOnlyOpeningReadsAndRefusesEveryWriteNamingWhy) {
  {
    Manifest manifest(db_path_);
    const std::vector<FileRecord> rows = {full_record("/a.jpg"), full_record("/b.jpg")};
    FileStore(manifest).upsert_files(rows);
  }
  const std::string before = file_bytes(db_path_);
  {
    const Manifest reader(db_path_, Manifest::Access::read_only);
    EXPECT_TRUE(reader.read_only());
    EXPECT_EQ(FileStore(reader).count_files(), 2);
    ASSERT_TRUE(FileStore(reader).find_file("/b.jpg").has_value());
    expect_same(*FileStore(reader).find_file("/b.jpg"), full_record("/b.jpg"));
  }
  Manifest reader(db_path_, Manifest::Access::read_only);
  const std::vector<FileRecord> more = {full_record("/c.jpg")};
  try {
    FileStore(reader).upsert_files(more);
    FAIL() << "a read-only manifest took a write";
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("opened read-only"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(db_path_.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(reader.begin_run("scan", "{}", "cpu"), ManifestError);
  EXPECT_EQ(FileStore(reader).count_files(), 2);
  EXPECT_EQ(file_bytes(db_path_), before);
}

TEST_F(ManifestTest, ReadOnlyOpeningCreatesNothingAndRefusesAnEmptyFile) {
  EXPECT_THROW(Manifest(dir_ / "missing.db", Manifest::Access::read_only), ManifestError);
  EXPECT_FALSE(fs::exists(dir_ / "missing.db"));
  std::ofstream(dir_ / "empty.db").close();
  try {
    const Manifest m(dir_ / "empty.db", Manifest::Access::read_only);
    FAIL() << "an empty file was opened as a manifest";
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::file_size(dir_ / "empty.db"), 0U);
}

TEST_F(ManifestTest, ReadOnlyOpeningOfAnOlderSchemaUpgradesAWritableFile) {
  {
    RawDb raw(db_path_);
    raw.exec(kVersion1Tables);
    raw.exec(R"sql(
INSERT INTO files VALUES ('/z.jpg', 10, 20, 'ok', NULL, 'jpeg', 64, 48, NULL, -5, 7, 1.5,
  2.5, 3.5, 0.1, 0.2, 6.5, 9.5, NULL, 't');
PRAGMA user_version = 1;
)sql");
  }
  const Manifest manifest(db_path_, Manifest::Access::read_only);
  EXPECT_FALSE(manifest.read_only());  // upgraded on a read-write connection
  EXPECT_EQ(FileStore(manifest).count_files(), 1);
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(Manifest::kSchemaVersion));
}

TEST_F(ManifestTest, OrientationAndCropHashesRoundTripAndMarkTheStamp) {
  Manifest manifest(db_path_);
  FileRecord with = full_record("/with.jpg");
  with.has_orientation_hashes = true;
  for (size_t k = 0; k < 8; ++k) {
    with.orientation_phash[k] = 0x8000000000000000ULL >> k | k;
    with.orientation_dhash[k] = ~with.orientation_phash[k];
  }
  with.has_crop_hashes = true;
  for (size_t k = 0; k < with.crop_phash.size(); ++k) {
    with.crop_phash[k] = 0x0123456789abcdefULL << k;
    with.crop_dhash[k] = ~with.crop_phash[k] ^ k;
  }
  // Scanned before crop hashes existed: orientation hashes only.
  FileRecord older = with;
  older.path = "/older.jpg";
  older.has_crop_hashes = false;
  FileRecord without = full_record("/without.jpg");
  FileRecord broken;
  broken.path = "/broken.jpg";
  broken.status = ItemStatus::kCorrupt;
  FileStore(manifest).upsert_files(std::vector<FileRecord>{with, older, without, broken});
  const FileRecord back = *FileStore(manifest).find_file("/with.jpg");
  EXPECT_TRUE(back.has_orientation_hashes);
  EXPECT_EQ(back.orientation_phash, with.orientation_phash);
  EXPECT_EQ(back.orientation_dhash, with.orientation_dhash);
  EXPECT_TRUE(back.has_crop_hashes);
  EXPECT_EQ(back.crop_phash, with.crop_phash);
  EXPECT_EQ(back.crop_dhash, with.crop_dhash);
  EXPECT_FALSE(FileStore(manifest).find_file("/without.jpg")->has_orientation_hashes);
  EXPECT_FALSE(FileStore(manifest).find_file("/older.jpg")->has_crop_hashes);
  const auto stamps = FileStore(manifest).file_stamps();
  EXPECT_TRUE(stamps.at("/with.jpg").has_orientation_hashes);
  EXPECT_FALSE(stamps.at("/older.jpg").has_orientation_hashes);  // rescanned for its crops
  EXPECT_FALSE(stamps.at("/without.jpg").has_orientation_hashes);
  EXPECT_TRUE(stamps.at("/broken.jpg").has_orientation_hashes);  // no pixels: nothing to add
}

TEST_F(ManifestTest, FiveWindowCropHashesOfSchema7AreDroppedAndRescanned) {
  {
    Manifest manifest(db_path_);
    FileRecord with = full_record("/with.jpg");
    with.has_orientation_hashes = true;
    with.has_crop_hashes = true;
    with.crop_phash.fill(0x1234);
    FileStore(manifest).upsert_files(std::vector<FileRecord>{with});
  }
  {
    // Back to schema 7, whose crop blob held five windows: 80 bytes.
    RawDb raw(db_path_);
    EXPECT_EQ(raw.text("SELECT length(crop_hashes) FROM files"), "144");
    raw.exec("UPDATE files SET crop_hashes = zeroblob(80); PRAGMA user_version = 7;");
  }
  Manifest migrated(db_path_);
  const FileRecord back = *FileStore(migrated).find_file("/with.jpg");
  EXPECT_TRUE(back.has_orientation_hashes);
  EXPECT_FALSE(back.has_crop_hashes);
  EXPECT_FALSE(
      FileStore(migrated).file_stamps().at("/with.jpg").has_orientation_hashes);  // rescanned
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  EXPECT_EQ(raw.text("SELECT typeof(crop_hashes) FROM files"), "null");
}

TEST_F(ManifestTest, EdgeWidthsOfSchema9AreDroppedAndRescanned) {
  {
    Manifest manifest(db_path_);
    FileRecord rec = full_record("/photo.jpg");
    rec.quality.edge_width = 2.5;
    FileStore(manifest).upsert_files(std::vector<FileRecord>{rec});
    EXPECT_TRUE(FileStore(manifest).file_stamps().at("/photo.jpg").current_signals);
  }
  {
    // Back to schema 9, whose edge widths counted strong edges from a rise of 24.
    RawDb raw(db_path_);
    raw.exec("PRAGMA user_version = 9;");
  }
  Manifest migrated(db_path_);
  EXPECT_FALSE(
      FileStore(migrated).file_stamps().at("/photo.jpg").current_signals);  // measured again
  const FileRecord back = *FileStore(migrated).find_file("/photo.jpg");
  EXPECT_TRUE(back.has_signals);  // the other signals and the hashes stay
  EXPECT_EQ(back.quality.edge_width, 0.0);  // not judged until then
  RawDb raw(db_path_);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "10");
  EXPECT_EQ(raw.text("SELECT typeof(edge_width) FROM files"), "null");
  EXPECT_EQ(raw.text("SELECT typeof(highlight_plateau) FROM files"), "real");
}

DecisionRecord decision(int64_t file_id, const char* what, int64_t group_id = 0, bool keeper = false) {
  DecisionRecord d;
  d.file_id = file_id;
  d.decision = what;
  d.group_id = group_id;
  d.is_keeper = keeper;
  return d;
}

StageMetrics stage(const char* name, int workers, uint64_t items, int64_t busy_ns) {
  StageMetrics s;
  s.name = name;
  s.workers = workers;
  s.items_in = items;
  s.items_out = items;
  s.busy_ns = busy_ns;
  return s;
}

ActionRecord action(const char* kind, const char* source, const char* target) {
  ActionRecord a;
  a.kind = kind;
  a.source = source;
  a.target = target;
  return a;
}

class DedupResultsTest : public ManifestTest {
 protected:
  /// Three files a, b, c (ids read back) and one group {a keeper, b near}; c rejected.
  void fill(Manifest& manifest) {
    FileStore(manifest).upsert_files(std::vector<FileRecord>{
        full_record("/a.jpg"), full_record("/b.jpg"), full_record("/c.jpg")});
    for (const FileRecord& f : FileStore(manifest).all_files()) ids_.push_back(f.id);
    DecisionRecord a = decision(ids_[0], "keep", 1, true);
    a.phash_distance = a.dhash_distance = 0;
    a.quality_score = 0.75;
    DecisionRecord b = decision(ids_[1], "duplicate", 1);
    b.match = "near";
    b.phash_distance = 6;
    b.dhash_distance = 4;
    b.orientation = "rotate90";
    DecisionRecord c = decision(ids_[2], "reject");
    c.reasons = {{"blurry", 3.5, 40, 0.9}, {"dark", 20, 35, 0.4}};
    const std::vector<GroupRecord> groups = {{1, "near", ids_[0], 2, 6}};
    const std::vector<ThresholdRecord> thresholds = {{"blurry", "sharpness", 40, true, true},
                                                     {"overexposed", "brightness", 230, false, false}};
    DedupStore(manifest).replace_dedup_results(groups, std::vector<DecisionRecord>{a, b, c},
                                               thresholds);
  }
  std::vector<int64_t> ids_;
};

/// Every index on the dedup results tables, "name: CREATE statement" one per line by name, read
/// with plain SQLite.
std::string dedup_indexes(const fs::path& db) {
  RawDb raw(db, SQLITE_OPEN_READONLY);
  return raw.text(
      "SELECT group_concat(name || ': ' || sql, char(10)) FROM (SELECT name, sql FROM "
      "sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('decisions', "
      "'reasons', 'groups') ORDER BY name)");
}

TEST_F(DedupResultsTest, WritingResultsRebuildsTheIndexesAsTheSchemaDefinesThem) {
  const fs::path fresh = dir_ / "fresh.db";
  { Manifest untouched(fresh); }
  const std::string schema = dedup_indexes(fresh);
  ASSERT_EQ(std::count(schema.begin(), schema.end(), '\n') + 1, 2)
      << "decisions_group, reasons_rule (decisions_decision went in 9): " << schema;
  {
    Manifest manifest(db_path_);
    fill(manifest);
    fill(manifest);  // a second pass replaces the first: dropped and rebuilt again
  }
  EXPECT_EQ(dedup_indexes(db_path_), schema);
}

TEST_F(DedupResultsTest, DecisionsGroupsAndReasonsReadBack) {
  Manifest manifest(db_path_);
  fill(manifest);
  EXPECT_EQ(DedupStore(manifest).count_groups(), 1);
  EXPECT_EQ(DedupStore(manifest).decision_counts(),
            (std::map<std::string, int64_t>{{"duplicate", 1}, {"keep", 1}, {"reject", 1}}));
  EXPECT_EQ(DedupStore(manifest).reason_counts(),
            (std::map<std::string, int64_t>{{"blurry", 1}, {"dark", 1}}));
  const std::vector<GroupRecord> groups = DedupStore(manifest).groups();
  ASSERT_EQ(groups.size(), 1U);
  EXPECT_EQ(groups[0].keeper_id, ids_[0]);
  EXPECT_EQ(groups[0].max_distance, 6);
  const std::vector<ThresholdRecord> t = DedupStore(manifest).quality_thresholds();
  ASSERT_EQ(t.size(), 2U);
  EXPECT_EQ(t[1].rule, "overexposed");
  EXPECT_FALSE(t[1].rejects_below);
  EXPECT_FALSE(t[1].enabled);

  // By group: keeper first, then the member with its distances.
  std::vector<DedupStore::CuratedFile> members;
  DedupStore::CuratedQuery by_group;
  by_group.order = DedupStore::CuratedQuery::Order::kGroup;
  DedupStore(manifest).for_each_curated(by_group, [&](const DedupStore::CuratedFile& f) {
    members.push_back(f);
    return true;
  });
  ASSERT_EQ(members.size(), 2U);
  EXPECT_EQ(members[0].file.path, "/a.jpg");
  EXPECT_TRUE(members[0].decision.is_keeper);
  EXPECT_EQ(members[1].decision.phash_distance, 6);
  EXPECT_EQ(members[1].decision.orientation, "rotate90");
  EXPECT_EQ(members[1].decision.match, "near");

  // Rejects of one rule, with every reason of each file, worst reason first.
  std::vector<DedupStore::CuratedFile> rejects;
  DedupStore::CuratedQuery by_rule;
  by_rule.order = DedupStore::CuratedQuery::Order::kSeverity;
  by_rule.rule = "dark";
  DedupStore(manifest).for_each_curated(by_rule, [&](const DedupStore::CuratedFile& f) {
    rejects.push_back(f);
    return true;
  });
  ASSERT_EQ(rejects.size(), 1U);
  ASSERT_EQ(rejects[0].decision.reasons.size(), 2U);
  EXPECT_EQ(rejects[0].decision.reasons[0].rule, "blurry");
  EXPECT_EQ(rejects[0].decision.reasons[0].threshold, 40);

  // By path with a decision filter, limit and offset; a visitor can stop early.
  std::vector<std::string> paths;
  DedupStore::CuratedQuery all;
  all.offset = 1;
  all.limit = 5;
  DedupStore(manifest).for_each_curated(all, [&](const DedupStore::CuratedFile& f) {
    paths.push_back(f.file.path);
    return true;
  });
  EXPECT_EQ(paths, (std::vector<std::string>{"/b.jpg", "/c.jpg"}));
  int visited = 0;
  DedupStore(manifest).for_each_curated(
      {}, [&](const DedupStore::CuratedFile&) { return ++visited < 2; });
  EXPECT_EQ(visited, 2);
}

TEST_F(DedupResultsTest, ANewPassReplacesTheOldResultsWhole) {
  Manifest manifest(db_path_);
  fill(manifest);
  const DecisionRecord only = decision(ids_[2], "keep");
  DedupStore(manifest).replace_dedup_results({}, std::vector<DecisionRecord>{only});
  EXPECT_EQ(DedupStore(manifest).count_groups(), 0);
  EXPECT_EQ(DedupStore(manifest).decision_counts(), (std::map<std::string, int64_t>{{"keep", 1}}));
  EXPECT_TRUE(DedupStore(manifest).reason_counts().empty());
  EXPECT_TRUE(DedupStore(manifest).quality_thresholds().empty());
}

TEST_F(DedupResultsTest, AFailedPassLeavesThePreviousResults) {
  Manifest manifest(db_path_);
  fill(manifest);
  // A decision for a file id that does not exist violates the foreign key: the whole write
  // rolls back and the previous pass stays.
  const DecisionRecord bogus = decision(999999, "keep");
  EXPECT_THROW(DedupStore(manifest).replace_dedup_results({}, std::vector<DecisionRecord>{bogus}),
               ManifestError);
  EXPECT_EQ(DedupStore(manifest).count_groups(), 1);
  EXPECT_EQ(DedupStore(manifest).decision_counts().size(), 3U);
}

TEST_F(DedupResultsTest, OnlyAnotherConnectionsCommitMovesTheVersion) {
  Manifest manifest(db_path_);
  fill(manifest);
  const int64_t before = manifest.others_version();
  DedupStore(manifest).add_near_pairs(std::vector<NearPairRecord>{{ids_[0], ids_[1], 6, 4, ""}});
  EXPECT_EQ(manifest.others_version(), before) << "this connection's own commit";
  RawDb(db_path_).exec("UPDATE files SET size_bytes = size_bytes + 1 WHERE id = " +
                       std::to_string(ids_[2]));
  EXPECT_NE(manifest.others_version(), before);
}

TEST_F(DedupResultsTest, ResultsOfRowsReadBeforeAnotherCommitAreCheckedAgainstIt) {
  Manifest manifest(db_path_);
  fill(manifest);
  const int64_t read_at = manifest.others_version();
  // Another connection deletes c after the pass read its rows: the decision for c must not
  // land unchecked, so the write fails whole and the previous results stay.
  RawDb(db_path_).exec("DELETE FROM files WHERE id = " + std::to_string(ids_[2]));
  const std::vector<DecisionRecord> rows = {decision(ids_[0], "keep"), decision(ids_[2], "keep")};
  DedupWrite write;
  write.rows_read_at = read_at;
  EXPECT_THROW(DedupStore(manifest).replace_dedup_results(
                   {}, rows.size(), [&](size_t i, DecisionRecord& d) { d = rows[i]; }, {}, write),
               ManifestError);
  EXPECT_EQ(DedupStore(manifest).count_groups(), 1);
  EXPECT_EQ(DedupStore(manifest).decision_counts().size(), 3U);
}

TEST_F(DedupResultsTest, PairsReplacedWithTheResultsAndTheChecksBackOnAfterwards) {
  Manifest manifest(db_path_);
  fill(manifest);
  DedupStore(manifest).add_near_pairs(
      std::vector<NearPairRecord>{{ids_[0], ids_[2], 9, 9, ""}, {ids_[1], ids_[2], 8, 8, ""}});
  const int64_t read_at = manifest.others_version();
  const std::vector<DecisionRecord> rows = {decision(ids_[0], "keep", 1, true),
                                            decision(ids_[1], "duplicate", 1)};
  const std::vector<NearPairRecord> pairs = {{ids_[0], ids_[1], 5, 3, "mirror"}};
  DedupWrite write;
  write.rows_read_at = read_at;
  write.replace_pairs = true;
  write.pair_count = pairs.size();
  write.pair = [&](size_t i, NearPairRecord& row) { row = pairs[i]; };
  DedupStore(manifest).replace_dedup_results(
      std::vector<GroupRecord>{{1, "near", ids_[0], 2, 5}}, rows.size(),
      [&](size_t i, DecisionRecord& d) { d = rows[i]; }, {}, write);
  EXPECT_EQ(DedupStore(manifest).decision_counts(),
            (std::map<std::string, int64_t>{{"duplicate", 1}, {"keep", 1}}));
  RawDb raw(db_path_, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.text("SELECT group_concat(a || '-' || b || ':' || phash_distance || ',' || "
                     "dhash_distance || ',' || orientation, ' ') FROM near_pairs"),
            std::to_string(ids_[0]) + "-" + std::to_string(ids_[1]) + ":5,3,mirror")
      << "the pairs of the previous pass are gone, the new one is in";
  // The pass's write turned the foreign-key checks off for itself only.
  EXPECT_THROW(DedupStore(manifest).replace_dedup_results(
                   {}, std::vector<DecisionRecord>{decision(999999, "keep")}),
               ManifestError);
  EXPECT_THROW(
      DedupStore(manifest).add_near_pairs(std::vector<NearPairRecord>{{ids_[0], 999999, 1, 1, ""}}),
      ManifestError);
  // Without replace_pairs near_pairs stays as it is (a pass that streamed them).
  DedupWrite keep_pairs;
  keep_pairs.rows_read_at = manifest.others_version();
  DedupStore(manifest).replace_dedup_results(
      std::vector<GroupRecord>{{1, "near", ids_[0], 2, 5}}, rows.size(),
      [&](size_t i, DecisionRecord& d) { d = rows[i]; }, {}, keep_pairs);
  EXPECT_EQ(DedupStore(manifest).count_near_pairs(), 1);
}

TEST_F(DedupResultsTest, NearPairsStreamInAndClear) {
  Manifest manifest(db_path_);
  fill(manifest);
  DedupStore(manifest).add_near_pairs(std::vector<NearPairRecord>{{ids_[0], ids_[1], 6, 4, ""}});
  DedupStore(manifest).add_near_pairs(std::vector<NearPairRecord>{
      {ids_[0], ids_[1], 6, 4, ""}, {ids_[1], ids_[2], 9, 9, "mirror"}});
  EXPECT_EQ(DedupStore(manifest).count_near_pairs(), 2);
  DedupStore(manifest).clear_near_pairs();
  EXPECT_EQ(DedupStore(manifest).count_near_pairs(), 0);
}

TEST_F(ManifestTest, StageMetricsOfTheLatestRunPerPass) {
  Manifest manifest(db_path_);
  RunReport first;
  first.stages = {stage("walk", 1, 5, 100), stage("decode", 2, 5, 900)};
  first.wall_ns = 1000;
  first.bottleneck = 1;
  const int64_t scan_run = manifest.begin_run("scan", "{}", "cpu");
  manifest.record_stage_metrics(scan_run, "scan", first);
  RunReport dedup;
  dedup.stages = {stage("group", 1, 5, 50)};
  dedup.wall_ns = 60;
  dedup.bottleneck = 0;
  dedup.sequential = true;
  const int64_t dedup_run = manifest.begin_run("dedup", "{}", "cpu");
  manifest.record_stage_metrics(dedup_run, "dedup", dedup);
  RunReport second = first;
  second.stages[1].busy_ns = 1900;
  const int64_t rescan = manifest.begin_run("scan", "{}", "cpu");
  manifest.record_stage_metrics(rescan, "scan", second);

  const auto latest = manifest.latest_pass_metrics();
  ASSERT_EQ(latest.size(), 2U);
  EXPECT_EQ(latest[0].pass, "dedup");
  EXPECT_EQ(latest[1].pass, "scan");
  EXPECT_TRUE(latest[0].report.sequential);
  EXPECT_FALSE(latest[1].report.sequential);
  EXPECT_EQ(latest[1].run_id, rescan);
  ASSERT_EQ(latest[1].report.stages.size(), 2U);
  EXPECT_EQ(latest[1].report.stages[1].busy_ns, 1900);
  EXPECT_EQ(latest[1].report.stages[1].workers, 2);
  EXPECT_EQ(latest[1].report.bottleneck, 1);
  EXPECT_EQ(latest[1].report.wall_ns, 1000);
}

TEST_F(ManifestTest, ActionJournalRecordsPlansAndOutcomes) {
  Manifest manifest(db_path_);
  const int64_t run = manifest.begin_run("dedup", "{}", "cpu");
  const int64_t a = ActionStore(manifest).plan_action(action("move", "/in/x.jpg", "/out/x.jpg"));
  const int64_t b = ActionStore(manifest).plan_action(action("copy", "/in/y.jpg", "/k/y.jpg"));
  ActionStore(manifest).set_action_state(a, "done");
  ActionStore(manifest).set_action_state(b, "failed", "No space left on device");
  const auto all = ActionStore(manifest).actions();
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].run_id, run);
  EXPECT_EQ(all[0].state, "done");
  EXPECT_EQ(all[1].error, "No space left on device");
  EXPECT_EQ(ActionStore(manifest).actions("done").size(), 1U);
  EXPECT_TRUE(ActionStore(manifest).actions("planned").empty());
  EXPECT_THROW(ActionStore(manifest).set_action_state(12345, "done"), ManifestError);
}

}  // namespace
}  // namespace vpipe
