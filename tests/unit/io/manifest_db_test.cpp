// The connection and typed statement every table store is written with (io/manifest_db.h):
// values round-trip by type, a statement is ready again after each use, errors name the
// manifest and what was being done, and a transaction is all or nothing.

#include "vpipe/io/manifest_db.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "vpipe/core/error.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using manifest_detail::ManifestDb;
using manifest_detail::Null;
using manifest_detail::Statement;
using testing::TempDir;

class ManifestDbTest : public ::testing::Test {
 protected:
  ManifestDbTest() {
    db().exec("CREATE TABLE scratch (i INTEGER, r REAL, t TEXT, b BLOB, n)", "create scratch");
  }
  const ManifestDb& db() const { return manifest_.db(); }
  int64_t rows() const { return db().query_int("SELECT count(*) FROM scratch", "count"); }

  TempDir tmp_{"vpipe_manifest_db_"};
  fs::path path_ = tmp_.path() / "m.db";
  Manifest manifest_{path_};
};

TEST_F(ManifestDbTest, EveryTypeRoundTripsAndTextKeepsItsBytes) {
  const std::string odd("a\xff\xfe\0b", 5);  // not UTF-8, with a NUL inside
  const std::vector<uint8_t> blob{0, 1, 254, 255};
  db().prepare("INSERT INTO scratch VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind_all(std::numeric_limits<int64_t>::min(), 0.1, odd, Null{}, std::optional<int>())
      .bind_blob(4, blob)
      .run("insert");
  int seen = 0;
  db().prepare("SELECT i, r, t, b, n, typeof(t) FROM scratch")
      .each_row("read", [&](const Statement& row) {
        ++seen;
        EXPECT_EQ(row.int64(0), std::numeric_limits<int64_t>::min());
        EXPECT_EQ(row.real(1), 0.1);
        EXPECT_EQ(row.text(2), odd);
        EXPECT_EQ(std::vector<uint8_t>(row.blob(3).begin(), row.blob(3).end()), blob);
        EXPECT_TRUE(row.is_null(4));
        EXPECT_EQ(row.int64_or(4, -7), -7);
        EXPECT_EQ(row.text(4), "");
        EXPECT_TRUE(row.blob(2).empty()) << "text is not a blob";
        EXPECT_EQ(row.text(5), "text");
      });
  EXPECT_EQ(seen, 1);
}

TEST_F(ManifestDbTest, AStatementIsReadyAgainAfterEachUseWithItsBindingsCleared) {
  Statement insert = db().prepare("INSERT INTO scratch (i, t) VALUES (?1, ?2)");
  insert.bind_all(1, "one").run("insert");
  insert.bind(1, 2).run("insert");  // ?2 was cleared: NULL, not "one"
  EXPECT_EQ(db().query_int("SELECT count(*) FROM scratch WHERE t IS NULL AND i = 2", "q"), 1);

  for (int i = 3; i <= 5; ++i) insert.bind(1, i).run("insert");
  Statement select = db().prepare("SELECT i FROM scratch WHERE i >= ?1 ORDER BY i");
  std::vector<int64_t> first;
  select.bind(1, 2).each_row("read", [&](const Statement& row) {
    first.push_back(row.int64(0));
    return first.size() < 2;  // stop after two rows
  });
  EXPECT_EQ(first, (std::vector<int64_t>{2, 3}));
  // Stopped early, then used again: from the first row, with the new binding.
  std::vector<int64_t> again;
  select.bind(1, 4).each_row("read", [&](const Statement& row) { again.push_back(row.int64(0)); });
  EXPECT_EQ(again, (std::vector<int64_t>{4, 5}));
}

TEST_F(ManifestDbTest, AStatementIsResetWhenTheVisitThrows) {
  db().prepare("INSERT INTO scratch (i) VALUES (1), (2)").run("insert");
  Statement select = db().prepare("SELECT i FROM scratch ORDER BY i");
  EXPECT_THROW(select.each_row("read", [](const Statement&) { throw std::runtime_error("x"); }),
               std::runtime_error);
  // A statement left mid-read would hold a read transaction; this one was reset.
  int64_t first = 0;
  select.each_row("read", [&](const Statement& row) {
    first = row.int64(0);
    return false;
  });
  EXPECT_EQ(first, 1);
}

TEST_F(ManifestDbTest, ErrorsNameTheManifestAndWhatWasBeingDone) {
  db().exec("CREATE UNIQUE INDEX scratch_i ON scratch(i)", "index");
  Statement insert = db().prepare("INSERT INTO scratch (i) VALUES (?1)");
  insert.bind(1, 1).run("insert");
  try {
    insert.bind(1, 1).run("cannot write the scratch row");
    FAIL() << "a duplicate key was accepted";
  } catch (const ManifestError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
    EXPECT_NE(what.find("cannot write the scratch row"), std::string::npos) << what;
    EXPECT_NE(what.find("UNIQUE"), std::string::npos) << what;
  }
  insert.bind(1, 2).run("insert");  // the failed statement was reset and works again
  EXPECT_EQ(rows(), 2);
  EXPECT_THROW((void)db().prepare("SELECT i FROM scratch WHERE 0").single_int("no row"),
               ManifestError);
  EXPECT_THROW((void)db().prepare("SELECT nonsense FROM nowhere"), ManifestError);
}

TEST_F(ManifestDbTest, ATransactionIsAllOrNothing) {
  Statement insert = db().prepare("INSERT INTO scratch (i) VALUES (?1)");
  EXPECT_THROW(db().transaction("commit",
                                [&] {
                                  insert.bind(1, 1).run("insert");
                                  throw std::runtime_error("the pass failed midway");
                                }),
               std::runtime_error);
  EXPECT_EQ(rows(), 0);
  db().transaction("commit", [&] {
    insert.bind(1, 1).run("insert");
    insert.bind(1, 2).run("insert");
  });
  EXPECT_EQ(rows(), 2);
}

TEST_F(ManifestDbTest, TheFastWriteAfterAReadChecksForeignKeysOnceAnotherConnectionCommitted) {
  db().exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)", "parent");
  db().exec("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))", "child");
  const auto orphan = [&] {
    db().prepare("INSERT INTO child VALUES (42)").run("cannot write the child");
  };
  // Nothing committed elsewhere since the mark: the ids are trusted, no lookup per row.
  const int64_t mark = manifest_.others_version();
  db().transaction_after_read(mark, "commit", orphan);
  EXPECT_EQ(db().query_int("SELECT count(*) FROM child", "q"), 1);
  // Another connection commits: the same write is checked, and refused.
  Manifest other(path_);
  other.db().exec("INSERT INTO parent VALUES (1)", "commit from another connection");
  EXPECT_THROW(db().transaction_after_read(mark, "commit", orphan), ManifestError);
  EXPECT_EQ(db().query_int("SELECT count(*) FROM child", "q"), 1);
  // And the checks are back on for plain writes after either path.
  EXPECT_THROW(db().transaction("commit", orphan), ManifestError);
}

TEST_F(ManifestDbTest, ACachedStatementIsPreparedOnce) {
  Statement& a = db().cached("SELECT count(*) FROM scratch");
  Statement& b = db().cached("SELECT count(*) FROM scratch");
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.single_int("count"), 0);
  EXPECT_EQ(b.single_int("count"), 0) << "reset after the first use";
}

}  // namespace
}  // namespace vpipe
