#include "vpipe/io/manifest_db.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/io/manifest.h"

namespace vpipe::manifest_detail {

// --- Statement ---

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = other.db_;
  }
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  // Explicit byte length and SQLITE_UTF8 with no validation: the bytes are stored unchanged.
  // SQLITE_STATIC: callers keep `text` alive until the statement is reset. An empty view may
  // have no data pointer; "" keeps it text, not NULL.
  sqlite3_bind_text64(stmt_, index, text.empty() ? "" : text.data(), text.size(), SQLITE_STATIC,
                      SQLITE_UTF8);
  return *this;
}

Statement& Statement::bind(int index, Null) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const uint8_t> bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC);
  return *this;
}

bool Statement::step(const char* doing) {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(doing);
}

void Statement::run(const char* doing) {
  ResetGuard guard{this};
  while (step(doing)) {
  }
}

int64_t Statement::single_int(const char* doing) {
  ResetGuard guard{this};
  if (!step(doing)) db_->fail(doing);
  return int64(0);
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

int Statement::int32(int column) const { return sqlite3_column_int(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::text(int column) const {
  // sqlite3_column_text before sqlite3_column_bytes, as SQLite's docs require.
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::span<const uint8_t> Statement::blob(int column) const {
  if (sqlite3_column_type(stmt_, column) != SQLITE_BLOB) return {};
  const auto* bytes = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  return {bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

// --- ManifestDb ---

ManifestDb::~ManifestDb() { close(); }

void ManifestDb::close() {
  cache_.clear();  // finalized before the connection closes
  // _v2 defers the close if a statement were still alive, instead of failing.
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void ManifestDb::fail(const std::string& doing) const {
  const bool refused_write =
      read_only_ && db_ != nullptr && (sqlite3_errcode(db_) & 0xff) == SQLITE_READONLY;
  throw ManifestError("manifest '" + name_ + "': " + doing + ": " +
                      (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory") +
                      (refused_write ? " (it was opened read-only, for a command that only "
                                       "reads it)"
                                     : ""));
}

void ManifestDb::exec(const char* sql, const char* doing) const {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
}

Statement ManifestDb::prepare(const char* sql, unsigned flags) const {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, flags, &stmt, nullptr) != SQLITE_OK) {
    fail(std::string("cannot prepare '") + sql + "'");
  }
  return Statement(stmt, this);
}

Statement& ManifestDb::cached(const char* sql) const {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, prepare(sql, SQLITE_PREPARE_PERSISTENT)).first;
  return it->second;
}

int64_t ManifestDb::query_int(const char* sql, const char* doing) const {
  return prepare(sql).single_int(doing);
}

int64_t ManifestDb::changes() const { return sqlite3_changes64(db_); }

int64_t ManifestDb::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

void ManifestDb::rollback() const { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

ManifestDb::ForeignKeysBack::~ForeignKeysBack() {
  sqlite3_exec(db->db_, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
}

bool ManifestDb::begin_unchanged_since(int64_t version) const {
  // foreign_keys can only change outside a transaction, hence the order. `back` turns them on
  // again when this returns false or throws; when it returns true the transaction is open, the
  // pragma is a no-op there, and the caller's own ForeignKeysBack turns them on after its commit.
  exec("PRAGMA foreign_keys = OFF", "cannot pause the foreign-key checks");
  const ForeignKeysBack back{this};
  exec("BEGIN IMMEDIATE", "cannot start a write transaction");
  bool unchanged = false;
  try {
    unchanged = query_int("PRAGMA data_version", "cannot read the data version") == version;
  } catch (...) {
    rollback();
    throw;
  }
  if (!unchanged) rollback();
  return unchanged;
}

int64_t ManifestDb::read_schema_version() {
  // The first statement reads the header: this is where a file that is not a database shows.
  sqlite3_stmt* probe = nullptr;
  int probe_rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &probe, nullptr);
  if (probe_rc == SQLITE_OK) probe_rc = sqlite3_step(probe);
  const int64_t version = probe_rc == SQLITE_ROW ? sqlite3_column_int64(probe, 0) : 0;
  sqlite3_finalize(probe);
  if (probe_rc != SQLITE_ROW) {
    if (sqlite3_errcode(db_) == SQLITE_NOTADB) {
      throw ManifestError("manifest '" + name_ +
                          "' is not an SQLite database (wrong path? vpipe will not overwrite "
                          "it): " +
                          sqlite3_errmsg(db_));
    }
    fail("cannot read the schema version");
  }
  if (version > Manifest::kSchemaVersion) {
    throw ManifestError("manifest " + name_ + " was written by a newer vpipe (schema " +
                        std::to_string(version) + ", this build knows " +
                        std::to_string(Manifest::kSchemaVersion) + ")");
  }
  if (version == 0 &&
      query_int("SELECT count(*) FROM sqlite_schema", "cannot read the schema") > 0) {
    throw ManifestError("manifest '" + name_ +
                        "' is an SQLite database but not a vpipe manifest (it has tables and "
                        "no vpipe schema version); choose another path");
  }
  return version;
}

namespace {

/// `file:PATH?immutable=1`, with the characters a URI path may not hold percent-encoded.
std::string immutable_uri(const std::filesystem::path& path) {
  std::string uri = "file:";
  const std::filesystem::path absolute = std::filesystem::absolute(path);
  for (const unsigned char c : absolute.native()) {
    if (c == '%' || c == '?' || c == '#' || c < 0x21 || c >= 0x7f) {
      uri += fmt::format("%{:02X}", c);
    } else {
      uri += static_cast<char>(c);
    }
  }
  return uri + "?immutable=1";
}

}  // namespace

void ManifestDb::open_read_only(const std::filesystem::path& path) {
  name_ = path.string();
  read_only_ = true;
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) fail("cannot open");
  sqlite3_busy_timeout(db_, 10'000);
  int64_t version = 0;
  try {
    version = read_schema_version();
  } catch (const ManifestError&) {
    // A WAL database whose -shm file cannot be created (read-only media): nothing can write to
    // it there, so it is opened as immutable, without shared memory or locks.
    const int code = sqlite3_extended_errcode(db_);
    if ((code & 0xff) != SQLITE_CANTOPEN && (code & 0xff) != SQLITE_READONLY) throw;
    close();
    rc = sqlite3_open_v2(immutable_uri(path).c_str(), &db_,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
    if (rc != SQLITE_OK) fail("cannot open");
    version = read_schema_version();
    log().debug("manifest '{}': opened as immutable (read-only media)", name_);
  }
  if (version == 0) {
    throw ManifestError("manifest '" + name_ +
                        "' is empty (no vpipe schema): run `vpipe scan` "
                        "into it first");
  }
  if (version < Manifest::kSchemaVersion) {
    // An older schema is upgraded when it can be; a command that only reads then reads the
    // upgraded one.
    close();
    read_only_ = false;
    if (::access(path.c_str(), W_OK) != 0) {
      throw ManifestError(fmt::format(
          "manifest '{}' has schema {}, older than this vpipe's {}, and cannot be upgraded "
          "here (it is read-only); open it once where it can be written (any vpipe command "
          "upgrades it)",
          name_, version, Manifest::kSchemaVersion));
    }
    open(path);
    return;
  }
  exec("PRAGMA query_only = 1", "cannot set query_only");
  exec("PRAGMA cache_size = -32768", "cannot set the cache size");
}

void ManifestDb::open(const std::filesystem::path& path) {
  name_ = path.string();
  const int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) fail("cannot open");
  if (sqlite3_db_readonly(db_, "main") == 1) {
    throw ManifestError("manifest '" + name_ +
                        "' cannot be written (a read-only file, folder "
                        "or medium), and this command writes to it; report, export and "
                        "validate only read it and work there");
  }
  // A concurrent reader (a report, the sqlite3 shell) may briefly hold a lock; wait for it.
  sqlite3_busy_timeout(db_, 10'000);
  const int64_t version = read_schema_version();

  // WAL: readers never block the writer and a crash cannot corrupt the file (docs/MANIFEST.md).
  Statement wal = prepare("PRAGMA journal_mode = WAL");
  if (!wal.step("cannot enable WAL mode")) fail("cannot enable WAL mode");
  const std::string mode = wal.text(0);
  wal.reset();
  if (mode != "wal") {
    log().warn(
        "manifest '{}': WAL mode unavailable (journal mode is '{}'); the manifest stays "
        "crash-safe but readers will block the writer",
        name_, mode);
  }
  // NORMAL in WAL mode: commits are atomic and never corrupt; only fsync at checkpoints.
  exec("PRAGMA synchronous = NORMAL", "cannot set synchronous");
  exec("PRAGMA foreign_keys = ON", "cannot enable foreign keys");
  // 32 MiB of page cache (default 2 MiB) keeps the path and hash b-trees hot on big runs.
  exec("PRAGMA cache_size = -32768", "cannot set the cache size");

  if (version < Manifest::kSchemaVersion) migrate();
}

void ManifestDb::migrate() {
  bool created = false;  // this connection made the database: later steps are not news
  for (const Migration& step : migrations()) {
    // IMMEDIATE takes the write lock first, so two processes opening a new manifest at once
    // cannot both run a step; the version is re-read under the lock.
    exec("BEGIN IMMEDIATE", "cannot start the schema migration");
    try {
      const int64_t version = query_int("PRAGMA user_version", "cannot read the schema version");
      if (version >= step.to_version) {
        exec("COMMIT", "cannot finish the schema migration");
        continue;
      }
      if (step.sql != nullptr) exec(step.sql, "cannot migrate the schema");
      if (step.code != nullptr) step.code(*this);
      const std::string bump = "PRAGMA user_version = " + std::to_string(step.to_version);
      exec(bump.c_str(), "cannot set the schema version");
      exec("COMMIT", "cannot commit the schema migration");
      if (version == 0) {
        created = true;
        log().debug("manifest '{}': created", name_);
      } else if (created) {
        log().debug("manifest '{}': schema {}", name_, step.to_version);
      } else {
        log().info("manifest '{}': schema migrated from {} to {}", name_, version, step.to_version);
      }
    } catch (...) {
      rollback();
      throw;
    }
  }
}

std::map<std::string, int64_t> count_by(Statement& stmt, const char* doing) {
  std::map<std::string, int64_t> counts;
  stmt.each_row(doing, [&](const Statement& row) { counts[row.text(0)] += row.int64(1); });
  return counts;
}

std::map<std::string, int64_t> count_by(const ManifestDb& db, const char* sql, const char* doing) {
  Statement stmt = db.prepare(sql);
  return count_by(stmt, doing);
}

std::string now_utc_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     static_cast<int>(ms.count() % 1000));
}

}  // namespace vpipe::manifest_detail
