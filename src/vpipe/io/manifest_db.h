#pragma once

// For the manifest's table stores only (io/file_store.h, dedup/dedup_store.h, ...): the connection
// they share, and the typed statement they read and write rows with. Passes use the stores and
// io/manifest.h, never this.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace vpipe::manifest_detail {

class ManifestDb;

/// SQL NULL, for Statement::bind.
struct Null {};

/// One prepared statement of a ManifestDb: typed binds (1-based, as SQLite numbers them),
/// stepping that throws ManifestError naming the manifest and what was being done, and typed
/// column reads (0-based). Owns the sqlite3_stmt; movable.
///
///   Statement stmt = db.prepare("SELECT status, count(*) FROM files GROUP BY status");
///   stmt.each_row("cannot count statuses", [&](const Statement& row) {
///     counts.emplace(row.text(0), row.int64(1));
///   });
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, const ManifestDb* db) : stmt_(stmt), db_(db) {}
  ~Statement();
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_) {}
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // --- binds (index 1..N); each returns *this ---
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, int64_t{value}); }
  Statement& bind(int index, bool value) { return bind(index, int64_t{value ? 1 : 0}); }
  Statement& bind(int index, double value);
  /// Text stored byte for byte (no UTF-8 validation: non-UTF-8 paths round-trip). The bytes are
  /// not copied: they must stay alive until the statement is reset.
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, Null);
  /// NULL when empty, else the value.
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, Null{});
  }
  /// A blob, not copied (alive until the statement is reset).
  Statement& bind_blob(int index, std::span<const uint8_t> bytes);
  /// Binds `values` to ?1, ?2, ... in order.
  template <typename... T>
  Statement& bind_all(const T&... values) {
    int index = 0;
    (bind(++index, values), ...);
    return *this;
  }

  // --- stepping ---
  /// Steps once: true with a row to read, false when done. Throws with `doing` otherwise.
  bool step(const char* doing);
  /// Steps a statement that returns no rows (or whose rows are ignored) to its end, then resets
  /// it for the next use (bindings cleared). Throws with `doing`.
  void run(const char* doing);
  /// Steps through every row, calling `visit(*this)` on each; `visit` returning false stops.
  /// Resets the statement afterwards (also when `visit` throws). Throws with `doing`.
  template <typename Visit>
  void each_row(const char* doing, Visit&& visit) {
    ResetGuard guard{this};
    while (step(doing)) {
      if constexpr (std::is_same_v<std::invoke_result_t<Visit&, const Statement&>, bool>) {
        if (!visit(std::as_const(*this))) return;
      } else {
        visit(std::as_const(*this));
      }
    }
  }
  /// The first column of the first row (a count, a pragma); throws when there is no row.
  int64_t single_int(const char* doing);
  /// Resets the statement and clears its bindings, for the next use.
  void reset();

  // --- columns (index 0..N-1) of the current row ---
  [[nodiscard]] int64_t int64(int column) const;
  [[nodiscard]] int int32(int column) const;
  [[nodiscard]] double real(int column) const;
  [[nodiscard]] bool boolean(int column) const { return int64(column) != 0; }
  /// The bytes as stored ("" for NULL).
  [[nodiscard]] std::string text(int column) const;
  [[nodiscard]] bool is_null(int column) const;
  /// The blob's bytes (empty for NULL or another type), valid until the next step or reset.
  [[nodiscard]] std::span<const uint8_t> blob(int column) const;
  /// `fallback` for NULL, else int64(column).
  [[nodiscard]] int64_t int64_or(int column, int64_t fallback) const {
    return is_null(column) ? fallback : int64(column);
  }

  [[nodiscard]] sqlite3_stmt* get() const { return stmt_; }

 private:
  struct ResetGuard {
    Statement* statement;
    ~ResetGuard() { statement->reset(); }
  };
  sqlite3_stmt* stmt_ = nullptr;
  const ManifestDb* db_ = nullptr;
};

/// The manifest's one SQLite connection: opening (read-write or read-only), the schema's
/// migrations, transactions and statements. Every table's store (Manifest's comment lists them)
/// works through one; its methods are const because a store holds it as `const&` whether it reads
/// or writes (a read-only connection refuses writes). One thread at a time, as Manifest.
class ManifestDb {
 public:
  ManifestDb() = default;
  ~ManifestDb();
  ManifestDb(const ManifestDb&) = delete;
  ManifestDb& operator=(const ManifestDb&) = delete;

  /// Opens or creates `path`, migrating an older schema (Manifest::Access::read_write).
  void open(const std::filesystem::path& path);
  /// Opens an existing `path` to read (Manifest::Access::read_only); an older schema is migrated
  /// when the file can be written.
  void open_read_only(const std::filesystem::path& path);

  /// Throws ManifestError naming the database, what was being done and SQLite's reason.
  [[noreturn]] void fail(const std::string& doing) const;
  void exec(const char* sql, const char* doing) const;
  [[nodiscard]] Statement prepare(const char* sql, unsigned flags = 0) const;
  [[nodiscard]] Statement prepare(const std::string& sql, unsigned flags = 0) const {
    return prepare(sql.c_str(), flags);
  }
  /// The statement of `sql`, prepared once per connection (SQLITE_PREPARE_PERSISTENT) and kept:
  /// for the statements a pass runs once per row. Reset after each use (run and each_row do).
  [[nodiscard]] Statement& cached(const char* sql) const;
  /// Runs a statement that returns one integer (a count, a pragma) and returns it.
  [[nodiscard]] int64_t query_int(const char* sql, const char* doing) const;
  /// Rows changed by the last write of this connection.
  [[nodiscard]] int64_t changes() const;
  [[nodiscard]] int64_t last_insert_rowid() const;

  /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT (`doing` names the commit), rolling back if
  /// it throws.
  template <typename Body>
  void transaction(const char* doing, Body&& body) const {
    exec("BEGIN IMMEDIATE", "cannot start a write transaction");
    commit_or_roll_back(doing, body);
  }
  /// As transaction(), without foreign-key checks when `rows_read_at` (others_version taken
  /// before the caller read the rows its ids come from) shows that no other connection has
  /// committed since: then every id the caller writes exists. Compared under the write lock;
  /// when it differs the transaction runs again with the checks on.
  template <typename Body>
  void transaction_after_read(std::optional<int64_t> rows_read_at, const char* doing,
                              Body&& body) const {
    if (!rows_read_at || !begin_unchanged_since(*rows_read_at)) {
      transaction(doing, body);
      return;
    }
    const ForeignKeysBack restore{this};
    commit_or_roll_back(doing, body);
  }
  void rollback() const;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] bool read_only() const { return read_only_; }
  [[nodiscard]] sqlite3* handle() const { return db_; }

  /// Set by Manifest::begin_run; 0 = no run (run_id columns stay NULL).
  int64_t current_run_id = 0;

 private:
  /// Runs `body` in the open transaction and commits it (`doing` names the commit), or rolls it
  /// back when `body` throws.
  template <typename Body>
  void commit_or_roll_back(const char* doing, Body& body) const {
    try {
      body();
      exec("COMMIT", doing);
    } catch (...) {
      rollback();
      throw;
    }
  }
  /// Turns foreign keys back on when the fast path of transaction_after_read ends.
  struct ForeignKeysBack {
    const ManifestDb* db;
    ~ForeignKeysBack();
  };
  /// Foreign keys off, BEGIN IMMEDIATE, then whether `version` is still PRAGMA data_version.
  /// True: the transaction is open with the checks off. False: nothing is open and the checks
  /// are on again.
  bool begin_unchanged_since(int64_t version) const;
  int64_t read_schema_version();
  void migrate();
  void close();

  std::string name_;  ///< the database path, for messages
  sqlite3* db_ = nullptr;
  mutable std::unordered_map<std::string, Statement> cache_;  ///< cached(): SQL -> statement
  bool read_only_ = false;
};

/// NULL for empty text, else the text (Statement::bind).
inline std::optional<std::string_view> text_or_null(std::string_view text) {
  return text.empty() ? std::nullopt : std::optional<std::string_view>(text);
}
/// NULL unless `present`, else `value` (Statement::bind).
inline std::optional<int64_t> int_or_null(int64_t value, bool present) {
  return present ? std::optional<int64_t>(value) : std::nullopt;
}
/// The run id to store: NULL outside a run.
inline std::optional<int64_t> run_or_null(const ManifestDb& db) {
  return int_or_null(db.current_run_id, db.current_run_id > 0);
}

/// name -> count from a statement whose rows are (text, count), e.g. "SELECT x, count(*) ...
/// GROUP BY x"; a name seen twice adds up.
std::map<std::string, int64_t> count_by(Statement& stmt, const char* doing);
std::map<std::string, int64_t> count_by(const ManifestDb& db, const char* sql, const char* doing);

/// Now, as ISO 8601 UTC with milliseconds ("2024-05-01T12:34:56.789Z"): readable, sorts as
/// text, and accepted by SQLite's date functions.
std::string now_utc_iso8601();

/// One step of the schema's history (manifest_schema.cpp): SQL, then code, that bring a
/// database at `to_version - 1` to `to_version`, run in one transaction together with the
/// user_version bump. Version 0 is an empty database.
struct Migration {
  int to_version;
  const char* sql;  ///< nullptr: none
  /// A step SQL alone cannot do (nullptr: none), on the connection inside the step's
  /// transaction; throws ManifestError.
  void (*code)(const ManifestDb& db) = nullptr;
};
/// Every step, in order; the last reaches Manifest::kSchemaVersion.
std::span<const Migration> migrations();

}  // namespace vpipe::manifest_detail
