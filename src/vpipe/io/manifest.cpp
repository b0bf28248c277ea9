#include "vpipe/io/manifest.h"

#include <unistd.h>

#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <ctime>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/core/version.h"
#include "vpipe/io/manifest_paths.h"

namespace vpipe {
namespace {

// Schema version 1. The layout is documented column by column in docs/MANIFEST.md; keep the
// two in step. Text columns hold bytes exactly as given (paths may be non-UTF-8).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  command       TEXT NOT NULL,
  config        TEXT NOT NULL,
  vpipe_version TEXT NOT NULL,
  device        TEXT NOT NULL,
  started_at    TEXT NOT NULL,
  ended_at      TEXT,
  outcome       TEXT,
  counts        TEXT
);
CREATE TABLE files (
  path            TEXT PRIMARY KEY NOT NULL,
  size_bytes      INTEGER NOT NULL,
  mtime_ns        INTEGER NOT NULL,
  status          TEXT NOT NULL,
  error           TEXT,
  format          TEXT,
  width           INTEGER,
  height          INTEGER,
  content_hash    TEXT,
  phash           INTEGER,
  dhash           INTEGER,
  sharpness       REAL,
  brightness      REAL,
  contrast        REAL,
  dark_fraction   REAL,
  bright_fraction REAL,
  entropy         REAL,
  colorfulness    REAL,
  run_id          INTEGER REFERENCES runs(id),
  scanned_at      TEXT NOT NULL
);
CREATE INDEX files_content_hash ON files(content_hash);
)sql";

// Schema version 2: files get an integer id that other tables reference (the v1 table had only
// the implicit rowid, which VACUUM may renumber), an optional blob of orientation hashes, and the
// tables of the dedup/quality pass, the action journal and per-stage metrics. SQLite cannot add
// a primary key to a table, so the files table is rebuilt; rows keep their order and values.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE files_v2 (
  id                 INTEGER PRIMARY KEY,
  path               TEXT NOT NULL UNIQUE,
  size_bytes         INTEGER NOT NULL,
  mtime_ns           INTEGER NOT NULL,
  status             TEXT NOT NULL,
  error              TEXT,
  format             TEXT,
  width              INTEGER,
  height             INTEGER,
  content_hash       TEXT,
  phash              INTEGER,
  dhash              INTEGER,
  sharpness          REAL,
  brightness         REAL,
  contrast           REAL,
  dark_fraction      REAL,
  bright_fraction    REAL,
  entropy            REAL,
  colorfulness       REAL,
  orientation_hashes BLOB,
  run_id             INTEGER REFERENCES runs(id),
  scanned_at         TEXT NOT NULL
);
INSERT INTO files_v2 (path, size_bytes, mtime_ns, status, error, format, width, height,
  content_hash, phash, dhash, sharpness, brightness, contrast, dark_fraction, bright_fraction,
  entropy, colorfulness, run_id, scanned_at)
  SELECT path, size_bytes, mtime_ns, status, error, format, width, height, content_hash, phash,
  dhash, sharpness, brightness, contrast, dark_fraction, bright_fraction, entropy, colorfulness,
  run_id, scanned_at FROM files ORDER BY rowid;
DROP TABLE files;
ALTER TABLE files_v2 RENAME TO files;
CREATE INDEX files_content_hash ON files(content_hash);
CREATE TABLE groups (
  id           INTEGER PRIMARY KEY,
  kind         TEXT NOT NULL,
  keeper_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  size         INTEGER NOT NULL,
  max_distance INTEGER NOT NULL
);
CREATE TABLE decisions (
  file_id        INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
  decision       TEXT NOT NULL,
  group_id       INTEGER REFERENCES groups(id) ON DELETE SET NULL,
  is_keeper      INTEGER NOT NULL,
  match          TEXT,
  phash_distance INTEGER,
  dhash_distance INTEGER,
  orientation    TEXT,
  quality_score  REAL NOT NULL,
  run_id         INTEGER REFERENCES runs(id)
);
CREATE INDEX decisions_group ON decisions(group_id, is_keeper DESC, phash_distance);
CREATE INDEX decisions_decision ON decisions(decision);
CREATE TABLE reasons (
  file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  rule      TEXT NOT NULL,
  value     REAL NOT NULL,
  threshold REAL NOT NULL,
  severity  REAL NOT NULL,
  PRIMARY KEY (file_id, rule)
);
CREATE INDEX reasons_rule ON reasons(rule, severity DESC);
CREATE TABLE quality_thresholds (
  rule          TEXT PRIMARY KEY,
  signal        TEXT NOT NULL,
  threshold     REAL NOT NULL,
  rejects_below INTEGER NOT NULL,
  enabled       INTEGER NOT NULL
);
CREATE TABLE near_pairs (
  a              INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  b              INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  phash_distance INTEGER NOT NULL,
  dhash_distance INTEGER NOT NULL,
  orientation    TEXT,
  PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE actions (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER REFERENCES runs(id),
  kind       TEXT NOT NULL,
  source     TEXT NOT NULL,
  target     TEXT NOT NULL,
  state      TEXT NOT NULL,
  error      TEXT,
  updated_at TEXT NOT NULL
);
CREATE TABLE stage_metrics (
  run_id         INTEGER NOT NULL REFERENCES runs(id),
  pass           TEXT NOT NULL,
  position       INTEGER NOT NULL,
  stage          TEXT NOT NULL,
  workers        INTEGER NOT NULL,
  items_in       INTEGER NOT NULL,
  items_out      INTEGER NOT NULL,
  batches        INTEGER NOT NULL,
  busy_ns        INTEGER NOT NULL,
  wait_input_ns  INTEGER NOT NULL,
  wait_output_ns INTEGER NOT NULL,
  wall_ns        INTEGER NOT NULL,
  is_bottleneck  INTEGER NOT NULL,
  sequential     INTEGER NOT NULL,
  PRIMARY KEY (run_id, pass, position)
);
)sql";

// Schema version 3: the infer pass. `inferences` says what a model made of a file (and the
// file's mtime then, for resume); `detections` holds its predictions, `crops` the crops written
// for them. Replacing an inference deletes its detections, which cascades to their crops.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE inferences (
  file_id     INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  model       TEXT NOT NULL,
  status      TEXT NOT NULL,
  error       TEXT,
  mtime_ns    INTEGER NOT NULL,
  run_id      INTEGER REFERENCES runs(id),
  inferred_at TEXT NOT NULL,
  PRIMARY KEY (file_id, model)
);
CREATE INDEX inferences_model ON inferences(model, status);
CREATE TABLE detections (
  id        INTEGER PRIMARY KEY,
  file_id   INTEGER NOT NULL,
  model     TEXT NOT NULL,
  task      TEXT NOT NULL,
  rank      INTEGER NOT NULL,
  class_id  INTEGER NOT NULL,
  label     TEXT,
  score     REAL NOT NULL,
  x1        REAL,
  y1        REAL,
  x2        REAL,
  y2        REAL,
  keypoints BLOB,
  UNIQUE (file_id, model, rank),
  FOREIGN KEY (file_id, model) REFERENCES inferences(file_id, model) ON DELETE CASCADE
);
CREATE INDEX detections_model_label ON detections(model, label);
CREATE TABLE crops (
  detection_id INTEGER PRIMARY KEY REFERENCES detections(id) ON DELETE CASCADE,
  path         TEXT NOT NULL,
  x            INTEGER NOT NULL,
  y            INTEGER NOT NULL,
  width        INTEGER NOT NULL,
  height       INTEGER NOT NULL,
  size_bytes   INTEGER NOT NULL,
  xxh64        INTEGER NOT NULL
);
)sql";

// Schema version 4: the crawl. `urls` holds every URL of the lists a crawl was given, with its
// state and the list's other columns; `crawl_hosts` what each crawl run did per host.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE urls (
  id           INTEGER PRIMARY KEY,
  url          TEXT NOT NULL UNIQUE,
  state        TEXT NOT NULL,
  reason       TEXT,
  message      TEXT,
  http_status  INTEGER,
  attempts     INTEGER NOT NULL DEFAULT 0,
  path         TEXT,
  bytes        INTEGER,
  content_type TEXT,
  final_url    TEXT,
  host         TEXT NOT NULL,
  source       TEXT,
  line         INTEGER,
  extras       TEXT NOT NULL DEFAULT '{}',
  added_run    INTEGER REFERENCES runs(id),
  run_id       INTEGER REFERENCES runs(id),
  updated_at   TEXT
);
CREATE INDEX urls_state ON urls(state, reason);
CREATE INDEX urls_path ON urls(path);
CREATE TABLE crawl_hosts (
  run_id   INTEGER NOT NULL REFERENCES runs(id),
  host     TEXT NOT NULL,
  urls     INTEGER NOT NULL,
  done     INTEGER NOT NULL,
  failed   INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  bytes    INTEGER NOT NULL,
  seconds  REAL NOT NULL,
  PRIMARY KEY (run_id, host)
);
)sql";

// Schema version 6: the signals the quality rules read since they were calibrated on real
// photographs (docs/SIGNALS.md): blur as the width of the sharpest edges, highlights as the 99th
// percentile of gray, clipping as the share of pixels with a channel at 250 or more; and
// `opaque_fraction`, the share of working pixels with alpha >= 128 (the other signals of a
// transparent image are measured over those pixels only). Rows scanned before have NULL there;
// the scan measures them again (FileStamp::current_signals).
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE files ADD COLUMN edge_width REAL;
ALTER TABLE files ADD COLUMN clipped_fraction REAL;
ALTER TABLE files ADD COLUMN highlight_level REAL;
ALTER TABLE files ADD COLUMN opaque_fraction REAL;
)sql";

// Schema version 7: `highlight_plateau`, the share of pixels on a plateau at the image's top
// level (blown highlights, wherever a tone edit moved them), which the keeper compares within a
// group, and `crop_hashes`, the hashes of five 90% windows (nine from schema 8) that find cropped copies
// (docs/DEDUP.md). Rows scanned before have NULL there; the scan measures them again.
constexpr const char* kSchemaV7 = R"sql(
ALTER TABLE files ADD COLUMN highlight_plateau REAL;
ALTER TABLE files ADD COLUMN crop_hashes BLOB;
)sql";

// Schema version 8: nine crop windows (a 3x3 grid of anchors) instead of five, so `crop_hashes`
// is 144 bytes. The five-window hashes of schema 7 are dropped; the next scan measures those rows
// again (file_stamps) and dedup meanwhile compares them without windows.
constexpr const char* kSchemaV8 = R"sql(
UPDATE files SET crop_hashes = NULL WHERE crop_hashes IS NOT NULL;
)sql";

// Schema version 9: no index on `decisions.decision`. Three values over every row: a scan of the
// table answers "WHERE decision = ?" about as fast, and the index cost 15 bytes a file (a fifth
// of what a dedup pass adds to the manifest at scale, docs/PERFORMANCE.md).
constexpr const char* kSchemaV9 = R"sql(
DROP INDEX IF EXISTS decisions_decision;
)sql";

// Schema version 10: `edge_width` counts a run as a strong edge from a fifth of the image's
// tonal range (16..40 gray levels; quality/edge_width.h) instead of 24 levels for every image:
// the values of earlier scans are dropped, so that the rule never judges a value of the old
// definition; the next scan measures those rows again (FileStamp::current_signals), and until
// then they are not judged blurry (0: no strong edges).
constexpr const char* kSchemaV10 = R"sql(
UPDATE files SET edge_width = NULL WHERE edge_width IS NOT NULL;
)sql";

/// One step of the schema's history: SQL, then code, that bring a database at `to_version - 1`
/// to `to_version`, run in one transaction together with the user_version bump. Version 0 is an
/// empty database. To change the schema: append a step, bump Manifest::kSchemaVersion, and
/// describe the step in docs/MANIFEST.md. Never edit a step that has shipped.
struct Migration {
  int to_version;
  const char* sql;  ///< nullptr: none
  /// A step SQL alone cannot do (nullptr: none): gets the connection and the manifest's path
  /// as given; throws ManifestError.
  void (*code)(sqlite3* db, const std::string& name) = nullptr;
};

// Schema version 5: every stored path absolute, with a canonical directory (io/paths.h), so
// commands work from any directory and one file is one row (manifest_paths.h).
// Schema versions 6 to 10: kSchemaV6 to kSchemaV10 above.
constexpr std::array<Migration, 10> kMigrations{{{1, kSchemaV1},
                                                {2, kSchemaV2},
                                                {3, kSchemaV3},
                                                {4, kSchemaV4},
                                                {5, nullptr, manifest_detail::make_stored_paths_absolute},
                                                {6, kSchemaV6},
                                                {7, kSchemaV7},
                                                {8, kSchemaV8},
                                                {9, kSchemaV9},
                                                {10, kSchemaV10}}};
static_assert(kMigrations.back().to_version == Manifest::kSchemaVersion,
              "every schema version needs a migration step");

constexpr const char* kFileColumns =
    "path, size_bytes, mtime_ns, status, error, format, width, height, content_hash, phash, "
    "dhash, sharpness, brightness, contrast, dark_fraction, bright_fraction, entropy, "
    "colorfulness, orientation_hashes, id, edge_width, clipped_fraction, highlight_level, "
    "opaque_fraction, highlight_plateau, crop_hashes";
// The same columns qualified for joins (files AS f).
constexpr const char* kFileColumnsQualified =
    "f.path, f.size_bytes, f.mtime_ns, f.status, f.error, f.format, f.width, f.height, "
    "f.content_hash, f.phash, f.dhash, f.sharpness, f.brightness, f.contrast, f.dark_fraction, "
    "f.bright_fraction, f.entropy, f.colorfulness, f.orientation_hashes, f.id, f.edge_width, "
    "f.clipped_fraction, f.highlight_level, f.opaque_fraction, f.highlight_plateau, "
    "f.crop_hashes";
constexpr int kFileColumnCount = 26;
// The files of CuratedQuery::Order::kColourless (files AS f, decisions AS d; ?7 the bound): with
// signals and some opaque pixel (opaque_fraction NULL: scanned before transparency, opaque), not
// rejected, colourfulness below the bound; as quality/rules.h is_colourless.
constexpr const char* kColourlessWhere =
    "f.phash IS NOT NULL AND f.status IN ('ok', 'damaged') AND "
    "(f.opaque_fraction IS NULL OR f.opaque_fraction > 0) AND f.colorfulness < ?7 AND "
    "(d.decision IS NULL OR d.decision <> 'reject')";
// Orientation hashes blob: 8 pHashes then 8 dHashes, each uint64 little-endian: 128 bytes.
constexpr size_t kOrientationBlobBytes = 16 * sizeof(uint64_t);
// Crop hashes blob: 9 pHashes then 9 dHashes (CropWindow order), uint64 little-endian: 144 bytes.
constexpr size_t kCropWords = std::tuple_size_v<decltype(FileRecord::crop_phash)>;
constexpr size_t kCropBlobBytes = 2 * kCropWords * sizeof(uint64_t);

/// Writes `words` into `blob` as little-endian uint64s.
template <size_t kBytes>
void pack_words(std::span<const uint64_t> words, std::array<uint8_t, kBytes>& blob) {
  for (size_t k = 0; k < words.size(); ++k) {
    for (size_t byte = 0; byte < 8; ++byte) blob[k * 8 + byte] = static_cast<uint8_t>(words[k] >> (8 * byte));
  }
}
/// Reads little-endian uint64 `k` of `blob`.
uint64_t word_at(const uint8_t* blob, size_t k) {
  uint64_t word = 0;
  for (size_t byte = 0; byte < 8; ++byte) word |= uint64_t{blob[k * 8 + byte]} << (8 * byte);
  return word;
}

// Updating in place (not INSERT OR REPLACE, which deletes and re-inserts) keeps the row's
// identity, so tables that later reference a file row are not cascaded away by a rescan.
constexpr const char* kUpsertSql =
    "INSERT INTO files (path, size_bytes, mtime_ns, status, error, format, width, height, "
    "content_hash, phash, dhash, sharpness, brightness, contrast, dark_fraction, "
    "bright_fraction, entropy, colorfulness, run_id, scanned_at, orientation_hashes, edge_width, "
    "clipped_fraction, highlight_level, opaque_fraction, highlight_plateau, crop_hashes) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27) "
    "ON CONFLICT (path) DO UPDATE SET size_bytes = excluded.size_bytes, "
    "mtime_ns = excluded.mtime_ns, status = excluded.status, error = excluded.error, "
    "format = excluded.format, width = excluded.width, height = excluded.height, "
    "content_hash = excluded.content_hash, phash = excluded.phash, dhash = excluded.dhash, "
    "sharpness = excluded.sharpness, brightness = excluded.brightness, "
    "contrast = excluded.contrast, dark_fraction = excluded.dark_fraction, "
    "bright_fraction = excluded.bright_fraction, entropy = excluded.entropy, "
    "colorfulness = excluded.colorfulness, run_id = excluded.run_id, "
    "scanned_at = excluded.scanned_at, orientation_hashes = excluded.orientation_hashes, "
    "edge_width = excluded.edge_width, clipped_fraction = excluded.clipped_fraction, "
    "highlight_level = excluded.highlight_level, opaque_fraction = excluded.opaque_fraction, "
    "highlight_plateau = excluded.highlight_plateau, crop_hashes = excluded.crop_hashes";

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

/// Resets a statement when a use of it ends, so the next use starts clean and a failed step
/// does not keep a read transaction open.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

/// Now, as ISO 8601 UTC with milliseconds ("2024-05-01T12:34:56.789Z"): readable, sorts as
/// text, and accepted by SQLite's date functions.
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

/// A JSON object of name -> count, names escaped per RFC 8259.
std::string counts_json(const std::map<std::string, int64_t>& counts) {
  std::string json = "{";
  bool first = true;
  for (const auto& [name, count] : counts) {
    if (!first) json += ',';
    first = false;
    json += '"';
    for (unsigned char c : name) {
      if (c == '"' || c == '\\') {
        json += '\\';
        json += static_cast<char>(c);
      } else if (c < 0x20) {
        json += fmt::format("\\u{:04x}", c);
      } else {
        json += static_cast<char>(c);
      }
    }
    json += "\":";
    json += std::to_string(count);
  }
  json += '}';
  return json;
}

/// Parses ContentHash::hex(): 32 hex digits, high word first.
std::optional<ContentHash> parse_content_hash(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  ContentHash hash;
  const auto parse_word = [](std::string_view digits, uint64_t& word) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), word, 16);
    return ec == std::errc() && end == digits.data() + digits.size();
  };
  if (!parse_word(hex.substr(0, 16), hash.high) || !parse_word(hex.substr(16), hash.low)) {
    return std::nullopt;
  }
  return hash;
}

void bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  // Explicit byte length and SQLITE_UTF8 with no validation: the bytes are stored unchanged,
  // which is what lets non-UTF-8 paths round-trip. SQLITE_STATIC: callers keep `text` alive
  // until the statement is reset.
  sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void bind_text_or_null(sqlite3_stmt* stmt, int index, std::string_view text) {
  if (text.empty()) {
    sqlite3_bind_null(stmt, index);
  } else {
    bind_text(stmt, index, text);
  }
}

std::string column_text(sqlite3_stmt* stmt, int index) {
  // sqlite3_column_text before sqlite3_column_bytes, as SQLite's docs require.
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
}

bool column_is_null(sqlite3_stmt* stmt, int index) {
  return sqlite3_column_type(stmt, index) == SQLITE_NULL;
}

}  // namespace

struct Manifest::Impl {
  std::string name;  ///< the database path, for messages
  sqlite3* db = nullptr;
  bool read_only = false;  ///< opened with Access::read_only
  Statement upsert;
  Statement find;
  int64_t current_run_id = 0;  ///< set by begin_run; 0 = no run (files.run_id stays NULL)

  ~Impl() {
    upsert.reset();
    find.reset();
    // _v2 defers the close if a statement were still alive, instead of failing.
    if (db != nullptr) sqlite3_close_v2(db);
  }

  /// Throws ManifestError naming the database, what was being done and SQLite's reason.
  [[noreturn]] void fail(const std::string& doing) const {
    const bool refused_write = read_only && db != nullptr &&
                               (sqlite3_errcode(db) & 0xff) == SQLITE_READONLY;
    throw ManifestError("manifest '" + name + "': " + doing + ": " +
                        (db != nullptr ? sqlite3_errmsg(db) : "out of memory") +
                        (refused_write ? " (it was opened read-only, for a command that only "
                                         "reads it)"
                                       : ""));
  }

  void exec(const char* sql, const char* doing) const {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
  }

  Statement prepare(const char* sql, unsigned flags = 0) const {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, flags, &stmt, nullptr) != SQLITE_OK) {
      fail(std::string("cannot prepare '") + sql + "'");
    }
    return Statement(stmt);
  }

  /// Steps a statement that returns no rows (or whose rows are ignored).
  void step_done(sqlite3_stmt* stmt, const char* doing) const {
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) fail(doing);
  }

  /// Runs a statement that returns one integer (e.g. a pragma) and returns it.
  int64_t query_int(const char* sql, const char* doing) const {
    Statement stmt = prepare(sql);
    if (sqlite3_step(stmt.get()) != SQLITE_ROW) fail(doing);
    return sqlite3_column_int64(stmt.get(), 0);
  }

  std::string query_text(const char* sql, const char* doing) const {
    Statement stmt = prepare(sql);
    if (sqlite3_step(stmt.get()) != SQLITE_ROW) fail(doing);
    return column_text(stmt.get(), 0);
  }

  /// The schema version of the database just opened; throws for a file that is not a manifest.
  int64_t read_schema_version() {
    // The first statement reads the header: this is where a file that is not a database shows.
    sqlite3_stmt* probe = nullptr;
    int probe_rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &probe, nullptr);
    if (probe_rc == SQLITE_OK) {
      probe_rc = sqlite3_step(probe);
    }
    const int64_t version = probe_rc == SQLITE_ROW ? sqlite3_column_int64(probe, 0) : 0;
    sqlite3_finalize(probe);
    if (probe_rc != SQLITE_ROW) {
      if (sqlite3_errcode(db) == SQLITE_NOTADB) {
        throw ManifestError("manifest '" + name +
                            "' is not an SQLite database (wrong path? vpipe will not overwrite "
                            "it): " +
                            sqlite3_errmsg(db));
      }
      fail("cannot read the schema version");
    }
    if (version > Manifest::kSchemaVersion) {
      throw ManifestError("manifest " + name + " was written by a newer vpipe (schema " +
                          std::to_string(version) + ", this build knows " +
                          std::to_string(Manifest::kSchemaVersion) + ")");
    }
    if (version == 0 &&
        query_int("SELECT count(*) FROM sqlite_schema", "cannot read the schema") > 0) {
      throw ManifestError("manifest '" + name +
                          "' is an SQLite database but not a vpipe manifest (it has tables and "
                          "no vpipe schema version); choose another path");
    }
    return version;
  }

  void close() {
    upsert.reset();
    find.reset();
    if (db != nullptr) sqlite3_close_v2(db);
    db = nullptr;
  }

  void open_read_only(const std::filesystem::path& path) {
    name = path.string();
    read_only = true;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) fail("cannot open");
    sqlite3_busy_timeout(db, 10'000);
    int64_t version = 0;
    try {
      version = read_schema_version();
    } catch (const ManifestError&) {
      // A WAL database whose -shm file cannot be created (read-only media): nothing can write
      // to it there, so it is opened as immutable, without shared memory or locks.
      const int code = sqlite3_extended_errcode(db);
      if ((code & 0xff) != SQLITE_CANTOPEN && (code & 0xff) != SQLITE_READONLY) throw;
      close();
      rc = sqlite3_open_v2(immutable_uri(path).c_str(), &db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
      if (rc != SQLITE_OK) fail("cannot open");
      version = read_schema_version();
      log().debug("manifest '{}': opened as immutable (read-only media)", name);
    }
    if (version == 0) {
      throw ManifestError("manifest '" + name + "' is empty (no vpipe schema): run `vpipe scan` "
                          "into it first");
    }
    if (version < Manifest::kSchemaVersion) {
      // An older schema is upgraded when it can be; a command that only reads then reads the
      // upgraded one.
      close();
      read_only = false;
      if (::access(path.c_str(), W_OK) != 0) {
        throw ManifestError(fmt::format(
            "manifest '{}' has schema {}, older than this vpipe's {}, and cannot be upgraded "
            "here (it is read-only); open it once where it can be written (any vpipe command "
            "upgrades it)",
            name, version, Manifest::kSchemaVersion));
      }
      open(path);
      return;
    }
    exec("PRAGMA query_only = 1", "cannot set query_only");
    exec("PRAGMA cache_size = -32768", "cannot set the cache size");
    upsert = prepare(kUpsertSql, SQLITE_PREPARE_PERSISTENT);
    find = prepare((std::string("SELECT ") + kFileColumns + " FROM files WHERE path = ?1").c_str(),
                   SQLITE_PREPARE_PERSISTENT);
  }

  /// `file:PATH?immutable=1`, with the characters a URI path may not hold percent-encoded.
  static std::string immutable_uri(const std::filesystem::path& path) {
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

  void open(const std::filesystem::path& path) {
    name = path.string();
    const int rc =
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) fail("cannot open");
    if (sqlite3_db_readonly(db, "main") == 1) {
      throw ManifestError("manifest '" + name + "' cannot be written (a read-only file, folder "
                          "or medium), and this command writes to it; report, export and "
                          "validate only read it and work there");
    }
    // A concurrent reader (a report, the sqlite3 shell) may briefly hold a lock; wait for it.
    sqlite3_busy_timeout(db, 10'000);
    const int64_t version = read_schema_version();

    // WAL: readers never block the writer and a crash cannot corrupt the file (docs/MANIFEST.md).
    const std::string mode = query_text("PRAGMA journal_mode = WAL", "cannot enable WAL mode");
    if (mode != "wal") {
      log().warn(
          "manifest '{}': WAL mode unavailable (journal mode is '{}'); the manifest stays "
          "crash-safe but readers will block the writer",
          name, mode);
    }
    // NORMAL in WAL mode: commits are atomic and never corrupt; only fsync at checkpoints.
    exec("PRAGMA synchronous = NORMAL", "cannot set synchronous");
    exec("PRAGMA foreign_keys = ON", "cannot enable foreign keys");
    // 32 MiB of page cache (default 2 MiB) keeps the path and hash b-trees hot on big runs.
    exec("PRAGMA cache_size = -32768", "cannot set the cache size");

    if (version < Manifest::kSchemaVersion) migrate();

    upsert = prepare(kUpsertSql, SQLITE_PREPARE_PERSISTENT);
    find = prepare((std::string("SELECT ") + kFileColumns + " FROM files WHERE path = ?1").c_str(),
                   SQLITE_PREPARE_PERSISTENT);
  }

  void migrate() {
    bool created = false;  // this connection made the database: later steps are not news
    for (const Migration& step : kMigrations) {
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
        if (step.code != nullptr) step.code(db, name);
        const std::string bump = "PRAGMA user_version = " + std::to_string(step.to_version);
        exec(bump.c_str(), "cannot set the schema version");
        exec("COMMIT", "cannot commit the schema migration");
        if (version == 0) {
          created = true;
          log().debug("manifest '{}': created", name);
        } else if (created) {
          log().debug("manifest '{}': schema {}", name, step.to_version);
        } else {
          log().info("manifest '{}': schema migrated from {} to {}", name, version,
                     step.to_version);
        }
      } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    }
  }

  /// Reads a row of kFileColumns into a record.
  FileRecord read_file_row(sqlite3_stmt* stmt) const {
    FileRecord record;
    record.path = column_text(stmt, 0);
    record.size_bytes = sqlite3_column_int64(stmt, 1);
    record.mtime_ns = sqlite3_column_int64(stmt, 2);
    const std::string status = column_text(stmt, 3);
    const std::optional<ItemStatus> parsed = item_status_from_string(status);
    if (!parsed) {
      throw ManifestError("manifest '" + name + "': file row has unknown status '" + status +
                          "' (written by a newer vpipe?)");
    }
    record.status = *parsed;
    record.error = column_text(stmt, 4);
    record.format = column_text(stmt, 5);
    record.width = sqlite3_column_int(stmt, 6);
    record.height = sqlite3_column_int(stmt, 7);
    if (!column_is_null(stmt, 8)) {
      const std::string hex = column_text(stmt, 8);
      if (const std::optional<ContentHash> hash = parse_content_hash(hex)) {
        record.has_content_hash = true;
        record.content_hash = *hash;
      } else {
        log().warn("manifest '{}': ignoring malformed content_hash '{}'", name, hex);
      }
    }
    if (!column_is_null(stmt, 9)) {
      record.has_signals = true;
      record.phash = std::bit_cast<uint64_t>(sqlite3_column_int64(stmt, 9));
      record.dhash = std::bit_cast<uint64_t>(sqlite3_column_int64(stmt, 10));
      QualitySignals& q = record.quality;
      q.sharpness = sqlite3_column_double(stmt, 11);
      q.brightness = sqlite3_column_double(stmt, 12);
      q.contrast = sqlite3_column_double(stmt, 13);
      q.dark_fraction = sqlite3_column_double(stmt, 14);
      q.bright_fraction = sqlite3_column_double(stmt, 15);
      q.entropy = sqlite3_column_double(stmt, 16);
      q.colorfulness = sqlite3_column_double(stmt, 17);
      // NULL (a row scanned before schema 6) reads as 0; the next scan measures it again.
      q.edge_width = sqlite3_column_double(stmt, 20);
      q.clipped_fraction = sqlite3_column_double(stmt, 21);
      q.highlight_level = sqlite3_column_double(stmt, 22);
      q.opaque_fraction = column_is_null(stmt, 23) ? 1.0 : sqlite3_column_double(stmt, 23);
      q.highlight_plateau = sqlite3_column_double(stmt, 24);  // NULL before schema 7: 0
    }
    if (sqlite3_column_type(stmt, 18) == SQLITE_BLOB &&
        static_cast<size_t>(sqlite3_column_bytes(stmt, 18)) == kOrientationBlobBytes) {
      const auto* blob = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, 18));
      for (size_t k = 0; k < 16; ++k) {
        (k < 8 ? record.orientation_phash[k] : record.orientation_dhash[k - 8]) = word_at(blob, k);
      }
      record.has_orientation_hashes = true;
    }
    if (sqlite3_column_type(stmt, 25) == SQLITE_BLOB &&
        static_cast<size_t>(sqlite3_column_bytes(stmt, 25)) == kCropBlobBytes) {
      const auto* blob = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, 25));
      for (size_t k = 0; k < 2 * kCropWords; ++k) {
        (k < kCropWords ? record.crop_phash[k] : record.crop_dhash[k - kCropWords]) =
            word_at(blob, k);
      }
      record.has_crop_hashes = true;
    }
    record.id = sqlite3_column_int64(stmt, 19);
    return record;
  }

  /// Binds `r` to the upsert; the blobs are bound from `blobs`, which must outlive the step.
  struct Blobs {
    std::array<uint8_t, kOrientationBlobBytes> orientations{};
    std::array<uint8_t, kCropBlobBytes> crops{};
  };
  void bind_file(sqlite3_stmt* stmt, const FileRecord& r, const std::string& hash_hex,
                 const std::string& scanned_at, Blobs& blobs) const {
    bind_text(stmt, 1, r.path);
    sqlite3_bind_int64(stmt, 2, r.size_bytes);
    sqlite3_bind_int64(stmt, 3, r.mtime_ns);
    bind_text(stmt, 4, to_string(r.status));
    bind_text_or_null(stmt, 5, r.error);
    bind_text_or_null(stmt, 6, r.format);
    if (r.width > 0) {
      sqlite3_bind_int(stmt, 7, r.width);
    } else {
      sqlite3_bind_null(stmt, 7);
    }
    if (r.height > 0) {
      sqlite3_bind_int(stmt, 8, r.height);
    } else {
      sqlite3_bind_null(stmt, 8);
    }
    if (r.has_content_hash) {
      bind_text(stmt, 9, hash_hex);
    } else {
      sqlite3_bind_null(stmt, 9);
    }
    if (r.has_signals) {
      // SQLite integers are signed 64-bit; the hash bits are stored as they are.
      sqlite3_bind_int64(stmt, 10, std::bit_cast<int64_t>(r.phash));
      sqlite3_bind_int64(stmt, 11, std::bit_cast<int64_t>(r.dhash));
      const QualitySignals& q = r.quality;
      sqlite3_bind_double(stmt, 12, q.sharpness);
      sqlite3_bind_double(stmt, 13, q.brightness);
      sqlite3_bind_double(stmt, 14, q.contrast);
      sqlite3_bind_double(stmt, 15, q.dark_fraction);
      sqlite3_bind_double(stmt, 16, q.bright_fraction);
      sqlite3_bind_double(stmt, 17, q.entropy);
      sqlite3_bind_double(stmt, 18, q.colorfulness);
      sqlite3_bind_double(stmt, 22, q.edge_width);
      sqlite3_bind_double(stmt, 23, q.clipped_fraction);
      sqlite3_bind_double(stmt, 24, q.highlight_level);
      sqlite3_bind_double(stmt, 25, q.opaque_fraction);
      sqlite3_bind_double(stmt, 26, q.highlight_plateau);
    }  // else: left NULL (bindings are cleared after every row)
    if (current_run_id > 0) {
      sqlite3_bind_int64(stmt, 19, current_run_id);
    }
    bind_text(stmt, 20, scanned_at);
    if (r.has_orientation_hashes) {
      std::array<uint64_t, 16> words{};
      std::copy(r.orientation_phash.begin(), r.orientation_phash.end(), words.begin());
      std::copy(r.orientation_dhash.begin(), r.orientation_dhash.end(), words.begin() + 8);
      pack_words(words, blobs.orientations);
      sqlite3_bind_blob(stmt, 21, blobs.orientations.data(),
                        static_cast<int>(blobs.orientations.size()), SQLITE_STATIC);
    }
    if (r.has_crop_hashes) {
      std::array<uint64_t, 2 * kCropWords> words{};
      std::copy(r.crop_phash.begin(), r.crop_phash.end(), words.begin());
      std::copy(r.crop_dhash.begin(), r.crop_dhash.end(), words.begin() + kCropWords);
      pack_words(words, blobs.crops);
      sqlite3_bind_blob(stmt, 27, blobs.crops.data(), static_cast<int>(blobs.crops.size()),
                        SQLITE_STATIC);
    }
  }
};

Manifest::Manifest(const std::filesystem::path& path, Access access)
    : impl_(std::make_unique<Impl>()) {
  if (access == Access::read_only) {
    impl_->open_read_only(path);
  } else {
    impl_->open(path);
  }
}

bool Manifest::read_only() const { return impl_->read_only; }

Manifest::~Manifest() = default;

std::unordered_map<std::string, Manifest::FileStamp> Manifest::file_stamps() const {
  std::unordered_map<std::string, FileStamp> stamps;
  stamps.reserve(static_cast<size_t>(count_files()));
  Statement stmt = impl_->prepare(
      "SELECT path, size_bytes, mtime_ns, "
      "(orientation_hashes IS NOT NULL AND crop_hashes IS NOT NULL) OR phash IS NULL, "
      "phash IS NULL OR (edge_width IS NOT NULL AND highlight_plateau IS NOT NULL) FROM files");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    stamps.emplace(column_text(stmt.get(), 0),
                   FileStamp{sqlite3_column_int64(stmt.get(), 1),
                             sqlite3_column_int64(stmt.get(), 2),
                             sqlite3_column_int(stmt.get(), 3) != 0,
                             sqlite3_column_int(stmt.get(), 4) != 0});
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read file stamps");
  return stamps;
}

void Manifest::upsert_files(std::span<const FileRecord> records) {
  if (records.empty()) return;
  Impl& m = *impl_;
  const std::string scanned_at = now_utc_iso8601();
  std::string hash_hex;
  Impl::Blobs blobs;
  m.exec("BEGIN IMMEDIATE", "cannot start a write transaction");
  try {
    sqlite3_stmt* stmt = m.upsert.get();
    for (const FileRecord& record : records) {
      ResetOnExit reset(stmt);
      if (record.has_content_hash) hash_hex = record.content_hash.hex();
      m.bind_file(stmt, record, hash_hex, scanned_at, blobs);
      if (sqlite3_step(stmt) != SQLITE_DONE) m.fail("cannot write the file row");
    }
    m.exec("COMMIT", "cannot commit file rows");
  } catch (...) {
    sqlite3_exec(m.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

int64_t Manifest::remove_files(std::span<const std::string> paths) {
  if (paths.empty()) return 0;
  Impl& m = *impl_;
  Statement stmt = m.prepare("DELETE FROM files WHERE path = ?1");
  int64_t removed = 0;
  m.exec("BEGIN IMMEDIATE", "cannot start a write transaction");
  try {
    for (const std::string& path : paths) {
      ResetOnExit reset(stmt.get());
      bind_text(stmt.get(), 1, path);
      if (sqlite3_step(stmt.get()) != SQLITE_DONE) m.fail("cannot delete a file row");
      removed += sqlite3_changes(m.db);
    }
    m.exec("COMMIT", "cannot commit the deleted file rows");
  } catch (...) {
    sqlite3_exec(m.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return removed;
}

std::optional<FileRecord> Manifest::find_file(std::string_view path) const {
  sqlite3_stmt* stmt = impl_->find.get();
  ResetOnExit reset(stmt);
  bind_text(stmt, 1, path);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) impl_->fail("cannot look up a file row");
  return impl_->read_file_row(stmt);
}

std::vector<FileRecord> Manifest::all_files() const {
  std::vector<FileRecord> records;
  for_each_file([&](const FileRecord& r) {
    records.push_back(r);
    return true;
  });
  return records;
}

void Manifest::for_each_file(const std::function<bool(const FileRecord&)>& visit) const {
  Statement stmt =
      impl_->prepare((std::string("SELECT ") + kFileColumns + " FROM files ORDER BY path").c_str());
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    if (!visit(impl_->read_file_row(stmt.get()))) return;
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read file rows");
}

int64_t Manifest::count_files() const {
  return impl_->query_int("SELECT count(*) FROM files", "cannot count file rows");
}

std::map<std::string, int64_t> Manifest::status_counts() const {
  std::map<std::string, int64_t> counts;
  Statement stmt = impl_->prepare("SELECT status, count(*) FROM files GROUP BY status");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    counts.emplace(column_text(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot count statuses");
  return counts;
}

int64_t Manifest::begin_run(std::string_view command, std::string_view config_json,
                            std::string_view device) {
  Statement stmt = impl_->prepare(
      "INSERT INTO runs (command, config, vpipe_version, device, started_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  const std::string started_at = now_utc_iso8601();
  bind_text(stmt.get(), 1, command);
  bind_text(stmt.get(), 2, config_json);
  bind_text(stmt.get(), 3, kVersion);
  bind_text(stmt.get(), 4, device);
  bind_text(stmt.get(), 5, started_at);
  impl_->step_done(stmt.get(), "cannot record the start of the run");
  impl_->current_run_id = sqlite3_last_insert_rowid(impl_->db);
  return impl_->current_run_id;
}

void Manifest::end_run(int64_t run_id, std::string_view outcome,
                       const std::map<std::string, int64_t>& counts) {
  Statement stmt =
      impl_->prepare("UPDATE runs SET ended_at = ?1, outcome = ?2, counts = ?3 WHERE id = ?4");
  const std::string ended_at = now_utc_iso8601();
  const std::string json = counts_json(counts);
  bind_text(stmt.get(), 1, ended_at);
  bind_text(stmt.get(), 2, outcome);
  bind_text(stmt.get(), 3, json);
  sqlite3_bind_int64(stmt.get(), 4, run_id);
  impl_->step_done(stmt.get(), "cannot record the end of the run");
  if (sqlite3_changes(impl_->db) == 0) {
    throw ManifestError("manifest '" + impl_->name + "': no run with id " + std::to_string(run_id));
  }
}

namespace {

/// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back if it throws.
template <typename Impl, typename Body>
void in_transaction(Impl& m, const char* doing, Body&& body) {
  m.exec("BEGIN IMMEDIATE", "cannot start a write transaction");
  try {
    body();
    m.exec("COMMIT", doing);
  } catch (...) {
    sqlite3_exec(m.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

/// Runs `body` as in_transaction, without foreign-key checks when `rows_read_at` (others_version
/// taken before the caller read the rows its ids come from) shows that no other connection has
/// committed since: then every id the caller writes exists. The version is compared while the
/// write lock is held, so nothing can commit between the comparison and the rows; when it
/// differs the transaction starts again with the checks on. foreign_keys can only change outside
/// a transaction, hence the order.
template <typename Impl, typename Body>
void in_transaction_after_read(Impl& m, std::optional<int64_t> rows_read_at, const char* doing,
                               Body&& body) {
  if (!rows_read_at) {
    in_transaction(m, doing, body);
    return;
  }
  m.exec("PRAGMA foreign_keys = OFF", "cannot pause the foreign-key checks");
  struct Restore {
    sqlite3* db;
    ~Restore() { sqlite3_exec(db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr); }
  } restore{m.db};
  m.exec("BEGIN IMMEDIATE", "cannot start a write transaction");
  bool unchanged = false;
  try {
    unchanged = m.query_int("PRAGMA data_version", "cannot read the data version") == *rows_read_at;
  } catch (...) {
    sqlite3_exec(m.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  if (!unchanged) {
    sqlite3_exec(m.db, "ROLLBACK", nullptr, nullptr, nullptr);
    m.exec("PRAGMA foreign_keys = ON", "cannot enable foreign keys");
    in_transaction(m, doing, body);
    return;
  }
  try {
    body();
    m.exec("COMMIT", doing);
  } catch (...) {
    sqlite3_exec(m.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void bind_int_or_null(sqlite3_stmt* stmt, int index, int64_t value, bool present) {
  if (present) {
    sqlite3_bind_int64(stmt, index, value);
  } else {
    sqlite3_bind_null(stmt, index);
  }
}

constexpr const char* kInsertNearPair =
    "INSERT OR REPLACE INTO near_pairs (a, b, phash_distance, dhash_distance, orientation) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";

/// Writes one near pair with kInsertNearPair prepared as `stmt`.
template <typename Impl>
void bind_near_pair(const Impl& m, sqlite3_stmt* stmt, const NearPairRecord& p) {
  ResetOnExit reset(stmt);
  sqlite3_bind_int64(stmt, 1, p.a);
  sqlite3_bind_int64(stmt, 2, p.b);
  sqlite3_bind_int(stmt, 3, p.phash_distance);
  sqlite3_bind_int(stmt, 4, p.dhash_distance);
  bind_text_or_null(stmt, 5, p.orientation);
  m.step_done(stmt, "cannot write a near pair");
}

}  // namespace

void Manifest::replace_dedup_results(std::span<const GroupRecord> groups,
                                     std::span<const DecisionRecord> decisions,
                                     std::span<const ThresholdRecord> thresholds) {
  replace_dedup_results(groups, decisions.size(),
                        [&](size_t i, DecisionRecord& d) { d = decisions[i]; }, thresholds);
}

namespace {
/// The secondary indexes of the dedup results, as the schema creates them (the migration above;
/// DedupResultsTest.WritingResultsRebuildsTheIndexesAsTheSchemaDefinesThem checks that the two
/// agree): replace_dedup_results drops and rebuilds them.
struct DedupIndex {
  const char* name;
  const char* create;
};
constexpr std::array<DedupIndex, 2> kDedupIndexes = {{
    {"decisions_group",
     "CREATE INDEX decisions_group ON decisions(group_id, is_keeper DESC, phash_distance)"},
    {"reasons_rule", "CREATE INDEX reasons_rule ON reasons(rule, severity DESC)"},
}};
}  // namespace

void Manifest::replace_dedup_results(std::span<const GroupRecord> groups, size_t decision_count,
                                     const std::function<void(size_t, DecisionRecord&)>& decision,
                                     std::span<const ThresholdRecord> thresholds,
                                     const DedupWrite& write) {
  Impl& m = *impl_;
  in_transaction_after_read(m, write.rows_read_at, "cannot commit the dedup results", [&] {
    m.exec("DELETE FROM quality_thresholds", "cannot clear thresholds");
    Statement threshold_stmt = m.prepare(
        "INSERT OR REPLACE INTO quality_thresholds (rule, signal, threshold, rejects_below, "
        "enabled) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const ThresholdRecord& t : thresholds) {
      ResetOnExit reset(threshold_stmt.get());
      bind_text(threshold_stmt.get(), 1, t.rule);
      bind_text(threshold_stmt.get(), 2, t.signal);
      sqlite3_bind_double(threshold_stmt.get(), 3, t.threshold);
      sqlite3_bind_int(threshold_stmt.get(), 4, t.rejects_below ? 1 : 0);
      sqlite3_bind_int(threshold_stmt.get(), 5, t.enabled ? 1 : 0);
      m.step_done(threshold_stmt.get(), "cannot write a threshold");
    }
    m.exec("DELETE FROM reasons", "cannot clear reasons");
    m.exec("DELETE FROM decisions", "cannot clear decisions");
    m.exec("DELETE FROM groups", "cannot clear groups");
    // The secondary indexes are built once after the rows, not row by row: a million
    // decisions in file order, but their group and decision keys in random order.
    for (const DedupIndex& index : kDedupIndexes) {
      m.exec(fmt::format("DROP INDEX IF EXISTS {}", index.name).c_str(), "cannot drop an index");
    }
    Statement group_stmt = m.prepare(
        "INSERT INTO groups (id, kind, keeper_id, size, max_distance) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const GroupRecord& g : groups) {
      ResetOnExit reset(group_stmt.get());
      sqlite3_bind_int64(group_stmt.get(), 1, g.id);
      bind_text(group_stmt.get(), 2, g.kind);
      sqlite3_bind_int64(group_stmt.get(), 3, g.keeper_id);
      sqlite3_bind_int64(group_stmt.get(), 4, g.size);
      sqlite3_bind_int(group_stmt.get(), 5, g.max_distance);
      m.step_done(group_stmt.get(), "cannot write a group");
    }
    Statement decision_stmt = m.prepare(
        "INSERT INTO decisions (file_id, decision, group_id, is_keeper, match, phash_distance, "
        "dhash_distance, orientation, quality_score, run_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    Statement reason_stmt = m.prepare(
        "INSERT OR REPLACE INTO reasons (file_id, rule, value, threshold, severity) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    DecisionRecord d;
    for (size_t i = 0; i < decision_count; ++i) {
      d = DecisionRecord{};
      decision(i, d);
      {
        sqlite3_stmt* st = decision_stmt.get();
        ResetOnExit reset(st);
        sqlite3_bind_int64(st, 1, d.file_id);
        bind_text(st, 2, d.decision);
        bind_int_or_null(st, 3, d.group_id, d.group_id > 0);
        sqlite3_bind_int(st, 4, d.is_keeper ? 1 : 0);
        bind_text_or_null(st, 5, d.match);
        bind_int_or_null(st, 6, d.phash_distance, d.phash_distance >= 0);
        bind_int_or_null(st, 7, d.dhash_distance, d.dhash_distance >= 0);
        bind_text_or_null(st, 8, d.orientation);
        sqlite3_bind_double(st, 9, d.quality_score);
        bind_int_or_null(st, 10, m.current_run_id, m.current_run_id > 0);
        m.step_done(st, "cannot write a decision");
      }
      for (const ReasonRecord& r : d.reasons) {
        sqlite3_stmt* st = reason_stmt.get();
        ResetOnExit reset(st);
        sqlite3_bind_int64(st, 1, d.file_id);
        bind_text(st, 2, r.rule);
        sqlite3_bind_double(st, 3, r.value);
        sqlite3_bind_double(st, 4, r.threshold);
        sqlite3_bind_double(st, 5, r.severity);
        m.step_done(st, "cannot write a reason");
      }
    }
    for (const DedupIndex& index : kDedupIndexes) {
      m.exec(index.create, "cannot build an index");
    }
    if (write.replace_pairs) {
      m.exec("DELETE FROM near_pairs", "cannot clear near pairs");
      Statement pair_stmt = m.prepare(kInsertNearPair);
      NearPairRecord p;
      for (size_t i = 0; i < write.pair_count; ++i) {
        p = NearPairRecord{};
        write.pair(i, p);
        bind_near_pair(m, pair_stmt.get(), p);
      }
    }
  });
}

int64_t Manifest::others_version() const {
  return impl_->query_int("PRAGMA data_version", "cannot read the data version");
}

void Manifest::clear_near_pairs() {
  impl_->exec("DELETE FROM near_pairs", "cannot clear near pairs");
}

void Manifest::add_near_pairs(std::span<const NearPairRecord> pairs,
                              std::optional<int64_t> rows_read_at) {
  if (pairs.empty()) return;
  Impl& m = *impl_;
  in_transaction_after_read(m, rows_read_at, "cannot commit near pairs", [&] {
    Statement stmt = m.prepare(kInsertNearPair);
    for (const NearPairRecord& p : pairs) bind_near_pair(m, stmt.get(), p);
  });
}

int64_t Manifest::count_near_pairs() const {
  return impl_->query_int("SELECT count(*) FROM near_pairs", "cannot count near pairs");
}

std::map<std::string, int64_t> Manifest::decision_counts() const {
  std::map<std::string, int64_t> counts;
  Statement stmt = impl_->prepare("SELECT decision, count(*) FROM decisions GROUP BY decision");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    counts.emplace(column_text(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot count decisions");
  return counts;
}

std::map<std::string, int64_t> Manifest::reason_counts() const {
  std::map<std::string, int64_t> counts;
  Statement stmt = impl_->prepare("SELECT rule, count(*) FROM reasons GROUP BY rule");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    counts.emplace(column_text(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot count reasons");
  return counts;
}

std::vector<ThresholdRecord> Manifest::quality_thresholds() const {
  std::vector<ThresholdRecord> result;
  Statement stmt = impl_->prepare(
      "SELECT rule, signal, threshold, rejects_below, enabled FROM quality_thresholds "
      "ORDER BY rowid");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    result.push_back(ThresholdRecord{column_text(stmt.get(), 0), column_text(stmt.get(), 1),
                                     sqlite3_column_double(stmt.get(), 2),
                                     sqlite3_column_int(stmt.get(), 3) != 0,
                                     sqlite3_column_int(stmt.get(), 4) != 0});
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read quality thresholds");
  return result;
}

int64_t Manifest::count_groups() const {
  return impl_->query_int("SELECT count(*) FROM groups", "cannot count groups");
}

std::vector<GroupRecord> Manifest::groups() const {
  std::vector<GroupRecord> result;
  Statement stmt =
      impl_->prepare("SELECT id, kind, keeper_id, size, max_distance FROM groups ORDER BY id");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    GroupRecord g;
    g.id = sqlite3_column_int64(stmt.get(), 0);
    g.kind = column_text(stmt.get(), 1);
    g.keeper_id = sqlite3_column_int64(stmt.get(), 2);
    g.size = sqlite3_column_int64(stmt.get(), 3);
    g.max_distance = sqlite3_column_int(stmt.get(), 4);
    result.push_back(std::move(g));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read groups");
  return result;
}

int64_t Manifest::count_colourless(double colorfulness_below) const {
  Statement stmt = impl_->prepare(
      (std::string("SELECT count(*) FROM files AS f LEFT JOIN decisions AS d ON d.file_id = f.id "
                   "WHERE ") +
       kColourlessWhere)
          .c_str());
  sqlite3_bind_double(stmt.get(), 7, colorfulness_below);
  if (sqlite3_step(stmt.get()) != SQLITE_ROW) impl_->fail("cannot count colourless files");
  return sqlite3_column_int64(stmt.get(), 0);
}

void Manifest::for_each_curated(const CuratedQuery& query,
                                const std::function<bool(const CuratedFile&)>& visit) const {
  Impl& m = *impl_;
  using Order = CuratedQuery::Order;
  // Decision columns follow the file columns, at kFileColumnCount + 0..8.
  std::string sql = std::string("SELECT ") + kFileColumnsQualified +
                    ", d.file_id, d.decision, d.group_id, d.is_keeper, d.match, d.phash_distance, "
                    "d.dhash_distance, d.orientation, d.quality_score FROM files AS f ";
  switch (query.order) {
    case Order::kPath:
      sql += "LEFT JOIN decisions AS d ON d.file_id = f.id ";
      if (!query.decision.empty()) sql += "WHERE d.decision = ?1 ";
      sql += "ORDER BY f.path ";
      break;
    case Order::kGroup:
      sql +=
          "JOIN decisions AS d ON d.file_id = f.id WHERE d.group_id BETWEEN ?2 AND ?3 "
          "ORDER BY d.group_id, d.is_keeper DESC, d.match = 'exact' DESC, d.phash_distance, f.path ";
      break;
    case Order::kSeverity:
      sql +=
          "JOIN reasons AS r ON r.file_id = f.id AND r.rule = ?4 "
          "LEFT JOIN decisions AS d ON d.file_id = f.id ORDER BY r.severity DESC, f.path ";
      break;
    case Order::kColourless:
      sql += std::string("LEFT JOIN decisions AS d ON d.file_id = f.id WHERE ") + kColourlessWhere +
             " ORDER BY f.colorfulness, f.path ";
      break;
  }
  sql += "LIMIT ?5 OFFSET ?6";
  Statement stmt = m.prepare(sql.c_str());
  Statement reasons_stmt = m.prepare(
      "SELECT rule, value, threshold, severity FROM reasons WHERE file_id = ?1 "
      "ORDER BY severity DESC, rule");
  if (query.order == Order::kPath && !query.decision.empty()) bind_text(stmt.get(), 1, query.decision);
  if (query.order == Order::kGroup) {
    sqlite3_bind_int64(stmt.get(), 2, query.group_from);
    sqlite3_bind_int64(stmt.get(), 3, query.group_to);
  }
  if (query.order == Order::kSeverity) bind_text(stmt.get(), 4, query.rule);
  if (query.order == Order::kColourless) {
    sqlite3_bind_double(stmt.get(), 7, query.colorfulness_below);
  }
  sqlite3_bind_int64(stmt.get(), 5, query.limit);
  sqlite3_bind_int64(stmt.get(), 6, query.offset);

  CuratedFile row;
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    sqlite3_stmt* st = stmt.get();
    row.file = m.read_file_row(st);
    constexpr int d = kFileColumnCount;
    row.has_decision = !column_is_null(st, d);
    row.decision = DecisionRecord{};
    if (row.has_decision) {
      DecisionRecord& dec = row.decision;
      dec.file_id = sqlite3_column_int64(st, d);
      dec.decision = column_text(st, d + 1);
      dec.group_id = column_is_null(st, d + 2) ? 0 : sqlite3_column_int64(st, d + 2);
      dec.is_keeper = sqlite3_column_int(st, d + 3) != 0;
      dec.match = column_text(st, d + 4);
      dec.phash_distance = column_is_null(st, d + 5) ? -1 : sqlite3_column_int(st, d + 5);
      dec.dhash_distance = column_is_null(st, d + 6) ? -1 : sqlite3_column_int(st, d + 6);
      dec.orientation = column_text(st, d + 7);
      dec.quality_score = sqlite3_column_double(st, d + 8);
      if (dec.decision == "reject") {
        ResetOnExit reset(reasons_stmt.get());
        sqlite3_bind_int64(reasons_stmt.get(), 1, dec.file_id);
        int rrc = 0;
        while ((rrc = sqlite3_step(reasons_stmt.get())) == SQLITE_ROW) {
          dec.reasons.push_back(ReasonRecord{column_text(reasons_stmt.get(), 0),
                                             sqlite3_column_double(reasons_stmt.get(), 1),
                                             sqlite3_column_double(reasons_stmt.get(), 2),
                                             sqlite3_column_double(reasons_stmt.get(), 3)});
        }
        if (rrc != SQLITE_DONE) m.fail("cannot read reasons");
      }
    }
    if (!visit(row)) break;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) m.fail("cannot read curated files");
}

// --- The infer pass ---

namespace {

/// Binds a filter value that may be empty as '' (never NULL), so `?N = ''` selects "all".
void bind_filter(sqlite3_stmt* stmt, int index, std::string_view text) {
  if (text.empty()) {
    sqlite3_bind_text64(stmt, index, "", 0, SQLITE_STATIC, SQLITE_UTF8);
  } else {
    bind_text(stmt, index, text);
  }
}

/// Keypoints blob: x, y pairs of float32, little-endian, 8 bytes per point.
std::string keypoints_blob(const std::vector<float>& keypoints) {
  std::string blob(keypoints.size() * 4, '\0');
  for (size_t i = 0; i < keypoints.size(); ++i) {
    const auto bits = std::bit_cast<uint32_t>(keypoints[i]);
    for (size_t byte = 0; byte < 4; ++byte) {
      blob[i * 4 + byte] = static_cast<char>(bits >> (8 * byte));
    }
  }
  return blob;
}

std::vector<float> keypoints_from_blob(sqlite3_stmt* stmt, int index) {
  std::vector<float> keypoints;
  if (sqlite3_column_type(stmt, index) != SQLITE_BLOB) return keypoints;
  const auto* blob = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, index));
  const size_t count = static_cast<size_t>(sqlite3_column_bytes(stmt, index)) / 4;
  keypoints.resize(count);
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits = 0;
    for (size_t byte = 0; byte < 4; ++byte) bits |= uint32_t{blob[i * 4 + byte]} << (8 * byte);
    keypoints[i] = std::bit_cast<float>(bits);
  }
  return keypoints;
}

// Crop columns, in the order read_crop reads them (crops AS c).
constexpr const char* kCropColumns =
    "c.detection_id, c.path, c.x, c.y, c.width, c.height, c.size_bytes, c.xxh64";

CropRecord read_crop(sqlite3_stmt* stmt, int first) {
  CropRecord c;
  c.detection_id = sqlite3_column_int64(stmt, first);
  c.path = column_text(stmt, first + 1);
  c.x = sqlite3_column_int(stmt, first + 2);
  c.y = sqlite3_column_int(stmt, first + 3);
  c.width = sqlite3_column_int(stmt, first + 4);
  c.height = sqlite3_column_int(stmt, first + 5);
  c.size_bytes = sqlite3_column_int64(stmt, first + 6);
  c.xxh64 = std::bit_cast<uint64_t>(sqlite3_column_int64(stmt, first + 7));
  return c;
}

}  // namespace

void Manifest::record_inferences(std::span<const InferenceRecord> records) {
  if (records.empty()) return;
  Impl& m = *impl_;
  const std::string now = now_utc_iso8601();
  in_transaction(m, "cannot commit inferences", [&] {
    // Deleting the detections cascades to their crops (crops.detection_id ON DELETE CASCADE).
    Statement delete_stmt = m.prepare("DELETE FROM detections WHERE file_id = ?1 AND model = ?2");
    // The file's mtime is read from its row in the same statement, so the stamp resume compares
    // against is the one the inference saw.
    Statement inference_stmt = m.prepare(
        "INSERT INTO inferences (file_id, model, status, error, mtime_ns, run_id, inferred_at) "
        "SELECT id, ?2, ?3, ?4, mtime_ns, ?5, ?6 FROM files WHERE id = ?1 "
        "ON CONFLICT (file_id, model) DO UPDATE SET status = excluded.status, "
        "error = excluded.error, mtime_ns = excluded.mtime_ns, run_id = excluded.run_id, "
        "inferred_at = excluded.inferred_at");
    Statement detection_stmt = m.prepare(
        "INSERT INTO detections (file_id, model, task, rank, class_id, label, score, x1, y1, x2, "
        "y2, keypoints) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    std::string blob;
    for (const InferenceRecord& r : records) {
      {
        ResetOnExit reset(delete_stmt.get());
        sqlite3_bind_int64(delete_stmt.get(), 1, r.file_id);
        bind_text(delete_stmt.get(), 2, r.model);
        m.step_done(delete_stmt.get(), "cannot delete previous detections");
      }
      {
        sqlite3_stmt* st = inference_stmt.get();
        ResetOnExit reset(st);
        sqlite3_bind_int64(st, 1, r.file_id);
        bind_text(st, 2, r.model);
        bind_text(st, 3, r.status);
        bind_text_or_null(st, 4, r.error);
        bind_int_or_null(st, 5, m.current_run_id, m.current_run_id > 0);
        bind_text(st, 6, now);
        m.step_done(st, "cannot write an inference");
        if (sqlite3_changes(m.db) == 0) {
          throw ManifestError("manifest '" + m.name + "': inference of model '" + r.model +
                              "' for file id " + std::to_string(r.file_id) +
                              ", which has no files row");
        }
      }
      for (size_t i = 0; i < r.detections.size(); ++i) {
        const DetectionRecord& d = r.detections[i];
        sqlite3_stmt* st = detection_stmt.get();
        ResetOnExit reset(st);
        sqlite3_bind_int64(st, 1, r.file_id);
        bind_text(st, 2, r.model);
        bind_text(st, 3, d.task);
        sqlite3_bind_int64(st, 4, static_cast<int64_t>(i));
        sqlite3_bind_int(st, 5, d.class_id);
        bind_text_or_null(st, 6, d.label);
        sqlite3_bind_double(st, 7, d.score);
        if (d.has_box) {
          sqlite3_bind_double(st, 8, d.x1);
          sqlite3_bind_double(st, 9, d.y1);
          sqlite3_bind_double(st, 10, d.x2);
          sqlite3_bind_double(st, 11, d.y2);
        }  // else NULL (bindings are cleared after every row)
        if (!d.keypoints.empty()) {
          blob = keypoints_blob(d.keypoints);
          sqlite3_bind_blob(st, 12, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
        }
        m.step_done(st, "cannot write a detection");
      }
    }
  });
}

std::unordered_map<int64_t, int64_t> Manifest::inferred_files(std::string_view model) const {
  std::unordered_map<int64_t, int64_t> result;
  Statement stmt = impl_->prepare(
      "SELECT file_id, mtime_ns FROM inferences WHERE model = ?1 AND status = 'ok'");
  bind_filter(stmt.get(), 1, model);
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    result.emplace(sqlite3_column_int64(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read inferred files");
  return result;
}

std::map<std::string, int64_t> Manifest::inference_counts(std::string_view model) const {
  std::map<std::string, int64_t> counts;
  Statement stmt = impl_->prepare(
      "SELECT status, count(*) FROM inferences WHERE ?1 = '' OR model = ?1 GROUP BY status");
  bind_filter(stmt.get(), 1, model);
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    counts.emplace(column_text(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot count inferences");
  return counts;
}

std::vector<std::string> Manifest::inferred_models() const {
  std::vector<std::string> models;
  Statement stmt = impl_->prepare("SELECT DISTINCT model FROM inferences ORDER BY model");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    models.push_back(column_text(stmt.get(), 0));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read inferred models");
  return models;
}

void Manifest::for_each_detection(const DetectionQuery& query,
                                  const std::function<bool(const FileDetections&)>& visit) const {
  Impl& m = *impl_;
  std::string sql = std::string("SELECT ") + kFileColumnsQualified +
                    " FROM files AS f WHERE EXISTS (SELECT 1 FROM inferences AS i WHERE "
                    "i.file_id = f.id AND i.status = 'ok' AND (?1 = '' OR i.model = ?1)) ";
  if (query.keepers_only) {
    // No decision row (no dedup pass yet, or a file added since) counts as kept.
    sql += "AND NOT EXISTS (SELECT 1 FROM decisions AS d WHERE d.file_id = f.id AND "
           "d.decision <> 'keep') ";
  }
  sql += "ORDER BY f.path LIMIT ?2 OFFSET ?3";
  Statement files_stmt = m.prepare(sql.c_str());
  bind_filter(files_stmt.get(), 1, query.model);
  sqlite3_bind_int64(files_stmt.get(), 2, query.limit);
  sqlite3_bind_int64(files_stmt.get(), 3, query.offset);
  // Crop columns follow the detection columns, at 12 + 0..7.
  Statement detections_stmt = m.prepare(
      (std::string("SELECT d.id, d.model, d.task, d.rank, d.class_id, d.label, d.score, d.x1, "
                   "d.y1, d.x2, d.y2, d.keypoints, ") +
       kCropColumns +
       " FROM detections AS d LEFT JOIN crops AS c ON c.detection_id = d.id "
       "WHERE d.file_id = ?1 AND (?2 = '' OR d.model = ?2) AND (?3 = '' OR d.task = ?3) "
       "AND EXISTS (SELECT 1 FROM inferences AS i WHERE i.file_id = d.file_id AND "
       "i.model = d.model AND i.status = 'ok') ORDER BY d.model, d.rank")
          .c_str());

  FileDetections row;
  int rc = 0;
  while ((rc = sqlite3_step(files_stmt.get())) == SQLITE_ROW) {
    row.file = m.read_file_row(files_stmt.get());
    row.detections.clear();
    row.crops.clear();
    {
      sqlite3_stmt* st = detections_stmt.get();
      ResetOnExit reset(st);
      sqlite3_bind_int64(st, 1, row.file.id);
      bind_filter(st, 2, query.model);
      bind_filter(st, 3, query.task);
      int drc = 0;
      while ((drc = sqlite3_step(st)) == SQLITE_ROW) {
        DetectionRecord d;
        d.id = sqlite3_column_int64(st, 0);
        d.file_id = row.file.id;
        d.model = column_text(st, 1);
        d.task = column_text(st, 2);
        d.rank = sqlite3_column_int(st, 3);
        d.class_id = sqlite3_column_int(st, 4);
        d.label = column_text(st, 5);
        d.score = static_cast<float>(sqlite3_column_double(st, 6));
        d.has_box = !column_is_null(st, 7);
        if (d.has_box) {
          d.x1 = static_cast<float>(sqlite3_column_double(st, 7));
          d.y1 = static_cast<float>(sqlite3_column_double(st, 8));
          d.x2 = static_cast<float>(sqlite3_column_double(st, 9));
          d.y2 = static_cast<float>(sqlite3_column_double(st, 10));
        }
        d.keypoints = keypoints_from_blob(st, 11);
        if (!column_is_null(st, 12)) row.crops.push_back(read_crop(st, 12));
        row.detections.push_back(std::move(d));
      }
      if (drc != SQLITE_DONE) m.fail("cannot read detections");
    }
    if (!visit(row)) break;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) m.fail("cannot read inferred files");
}

std::map<std::string, int64_t> Manifest::label_counts(std::string_view model) const {
  std::map<std::string, int64_t> counts;
  // A classifier's rank 0 is its top-1 class; its other ranks are runners-up, not findings.
  Statement stmt = impl_->prepare(
      "SELECT coalesce(label, CAST(class_id AS TEXT)), count(*) FROM detections "
      "WHERE (?1 = '' OR model = ?1) AND (task = 'detect' OR rank = 0) GROUP BY 1");
  bind_filter(stmt.get(), 1, model);
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    counts[column_text(stmt.get(), 0)] += sqlite3_column_int64(stmt.get(), 1);
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot count labels");
  return counts;
}

int64_t Manifest::count_detections(std::string_view model) const {
  Statement stmt = impl_->prepare("SELECT count(*) FROM detections WHERE ?1 = '' OR model = ?1");
  bind_filter(stmt.get(), 1, model);
  if (sqlite3_step(stmt.get()) != SQLITE_ROW) impl_->fail("cannot count detections");
  return sqlite3_column_int64(stmt.get(), 0);
}

void Manifest::record_crops(std::span<const CropRecord> crops) {
  if (crops.empty()) return;
  Impl& m = *impl_;
  in_transaction(m, "cannot commit crops", [&] {
    Statement stmt = m.prepare(
        "INSERT OR REPLACE INTO crops (detection_id, path, x, y, width, height, size_bytes, "
        "xxh64) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    for (const CropRecord& c : crops) {
      sqlite3_stmt* st = stmt.get();
      ResetOnExit reset(st);
      sqlite3_bind_int64(st, 1, c.detection_id);
      bind_text(st, 2, c.path);
      sqlite3_bind_int(st, 3, c.x);
      sqlite3_bind_int(st, 4, c.y);
      sqlite3_bind_int(st, 5, c.width);
      sqlite3_bind_int(st, 6, c.height);
      sqlite3_bind_int64(st, 7, c.size_bytes);
      sqlite3_bind_int64(st, 8, std::bit_cast<int64_t>(c.xxh64));
      m.step_done(st, "cannot write a crop (does its detection exist?)");
    }
  });
}

std::optional<CropRecord> Manifest::find_crop(int64_t detection_id) const {
  Statement stmt = impl_->prepare(
      (std::string("SELECT ") + kCropColumns + " FROM crops AS c WHERE c.detection_id = ?1")
          .c_str());
  sqlite3_bind_int64(stmt.get(), 1, detection_id);
  const int rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) impl_->fail("cannot look up a crop");
  return read_crop(stmt.get(), 0);
}

int64_t Manifest::count_crops() const {
  return impl_->query_int("SELECT count(*) FROM crops", "cannot count crops");
}

std::vector<Manifest::RunRecord> Manifest::runs() const {
  std::vector<RunRecord> result;
  Statement stmt = impl_->prepare(
      "SELECT id, command, config, vpipe_version, device, started_at, ended_at, outcome, counts "
      "FROM runs ORDER BY id");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    RunRecord r;
    r.id = sqlite3_column_int64(stmt.get(), 0);
    r.command = column_text(stmt.get(), 1);
    r.config = column_text(stmt.get(), 2);
    r.vpipe_version = column_text(stmt.get(), 3);
    r.device = column_text(stmt.get(), 4);
    r.started_at = column_text(stmt.get(), 5);
    r.ended_at = column_text(stmt.get(), 6);
    r.outcome = column_text(stmt.get(), 7);
    r.counts = column_text(stmt.get(), 8);
    result.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read runs");
  return result;
}

// ---- the crawl ----

namespace {

constexpr const char* kUrlColumns =
    "url, state, reason, message, http_status, attempts, path, bytes, content_type, final_url, "
    "host, source, line, extras";

CrawlUrlRecord read_url_row(sqlite3_stmt* st) {
  CrawlUrlRecord r;
  r.url = column_text(st, 0);
  r.state = column_text(st, 1);
  r.reason = column_text(st, 2);
  r.message = column_text(st, 3);
  r.http_status = sqlite3_column_int(st, 4);
  r.attempts = sqlite3_column_int(st, 5);
  r.path = column_text(st, 6);
  r.bytes = sqlite3_column_int64(st, 7);
  r.content_type = column_text(st, 8);
  r.final_url = column_text(st, 9);
  r.host = column_text(st, 10);
  r.source = column_text(st, 11);
  r.line = sqlite3_column_int64(st, 12);
  r.extras_json = column_text(st, 13);
  return r;
}

}  // namespace

int64_t Manifest::add_urls(std::span<const CrawlUrlRecord> urls) {
  Impl& m = *impl_;
  int64_t added = 0;
  if (urls.empty()) return added;
  in_transaction(m, "cannot commit URL rows", [&] {
    Statement stmt = m.prepare(
        "INSERT INTO urls (url, state, host, source, line, extras, added_run, run_id, "
        "updated_at) VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?6, ?7) "
        "ON CONFLICT (url) DO NOTHING");
    const std::string now = now_utc_iso8601();
    for (const CrawlUrlRecord& u : urls) {
      ResetOnExit reset(stmt.get());
      bind_text(stmt.get(), 1, u.url);
      bind_text(stmt.get(), 2, u.host);
      bind_text_or_null(stmt.get(), 3, u.source);
      bind_int_or_null(stmt.get(), 4, u.line, u.line > 0);
      bind_text(stmt.get(), 5, u.extras_json.empty() ? std::string_view("{}") : u.extras_json);
      bind_int_or_null(stmt.get(), 6, m.current_run_id, m.current_run_id > 0);
      bind_text(stmt.get(), 7, now);
      m.step_done(stmt.get(), "cannot add a URL row");
      added += sqlite3_changes(m.db);
    }
  });
  return added;
}

std::vector<std::string> Manifest::urls_to_fetch(
    const std::function<bool(std::string_view reason)>& retry) const {
  std::vector<std::string> urls;
  Statement stmt = impl_->prepare(
      "SELECT url, state, reason FROM urls WHERE state IN ('pending', 'failed') ORDER BY id");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const std::string state = column_text(stmt.get(), 1);
    if (state == "failed" && !(retry && retry(column_text(stmt.get(), 2)))) continue;
    urls.push_back(column_text(stmt.get(), 0));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read URL rows");
  return urls;
}

void Manifest::record_crawl_results(std::span<const FileRecord> files,
                                    std::span<const CrawlUrlRecord> urls) {
  if (files.empty() && urls.empty()) return;
  Impl& m = *impl_;
  const std::string now = now_utc_iso8601();
  std::string hash_hex;
  Impl::Blobs blobs;
  in_transaction(m, "cannot commit crawl results", [&] {
    sqlite3_stmt* upsert = m.upsert.get();
    for (const FileRecord& record : files) {
      ResetOnExit reset(upsert);
      if (record.has_content_hash) hash_hex = record.content_hash.hex();
      m.bind_file(upsert, record, hash_hex, now, blobs);
      if (sqlite3_step(upsert) != SQLITE_DONE) m.fail("cannot write the file row");
    }
    Statement stmt = m.prepare(
        "UPDATE urls SET state = ?2, reason = ?3, message = ?4, http_status = ?5, "
        "attempts = attempts + ?6, path = ?7, bytes = ?8, content_type = ?9, final_url = ?10, "
        "run_id = ?11, updated_at = ?12 WHERE url = ?1");
    for (const CrawlUrlRecord& u : urls) {
      ResetOnExit reset(stmt.get());
      bind_text(stmt.get(), 1, u.url);
      bind_text(stmt.get(), 2, u.state);
      bind_text_or_null(stmt.get(), 3, u.reason);
      bind_text_or_null(stmt.get(), 4, u.message);
      bind_int_or_null(stmt.get(), 5, u.http_status, u.http_status > 0);
      sqlite3_bind_int(stmt.get(), 6, u.attempts);
      bind_text_or_null(stmt.get(), 7, u.path);
      sqlite3_bind_int64(stmt.get(), 8, u.bytes);
      bind_text_or_null(stmt.get(), 9, u.content_type);
      bind_text_or_null(stmt.get(), 10, u.final_url);
      bind_int_or_null(stmt.get(), 11, m.current_run_id, m.current_run_id > 0);
      bind_text(stmt.get(), 12, now);
      m.step_done(stmt.get(), "cannot update a URL row");
      if (sqlite3_changes(m.db) != 1) {
        throw ManifestError("manifest '" + m.name + "': no URL row for '" + u.url + "'");
      }
    }
  });
}

std::optional<CrawlUrlRecord> Manifest::find_url(std::string_view url) const {
  Statement stmt =
      impl_->prepare((std::string("SELECT ") + kUrlColumns + " FROM urls WHERE url = ?1").c_str());
  bind_text(stmt.get(), 1, url);
  const int rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) impl_->fail("cannot look up a URL row");
  return read_url_row(stmt.get());
}

void Manifest::for_each_url(const std::function<bool(const CrawlUrlRecord&)>& visit) const {
  Statement stmt =
      impl_->prepare((std::string("SELECT ") + kUrlColumns + " FROM urls ORDER BY id").c_str());
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    if (!visit(read_url_row(stmt.get()))) return;
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read URL rows");
}

std::map<std::string, int64_t> Manifest::url_state_counts() const {
  std::map<std::string, int64_t> counts;
  Statement stmt = impl_->prepare("SELECT state, count(*) FROM urls GROUP BY state");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    counts.emplace(column_text(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot count URL rows");
  return counts;
}

std::map<std::string, int64_t> Manifest::url_failure_counts() const {
  std::map<std::string, int64_t> counts;
  Statement stmt = impl_->prepare(
      "SELECT coalesce(reason, ''), count(*) FROM urls WHERE state = 'failed' GROUP BY 1");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    counts.emplace(column_text(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot count failed URLs");
  return counts;
}

int64_t Manifest::crawled_bytes() const {
  return impl_->query_int("SELECT coalesce(sum(bytes), 0) FROM urls WHERE state = 'done'",
                          "cannot sum crawled bytes");
}

void Manifest::record_crawl_hosts(int64_t run_id, std::span<const CrawlHostRecord> hosts) {
  Impl& m = *impl_;
  in_transaction(m, "cannot commit crawl host figures", [&] {
    Statement stmt = m.prepare(
        "INSERT OR REPLACE INTO crawl_hosts (run_id, host, urls, done, failed, requests, bytes, "
        "seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    for (const CrawlHostRecord& h : hosts) {
      ResetOnExit reset(stmt.get());
      sqlite3_bind_int64(stmt.get(), 1, run_id);
      bind_text(stmt.get(), 2, h.host);
      sqlite3_bind_int64(stmt.get(), 3, h.urls);
      sqlite3_bind_int64(stmt.get(), 4, h.done);
      sqlite3_bind_int64(stmt.get(), 5, h.failed);
      sqlite3_bind_int64(stmt.get(), 6, h.requests);
      sqlite3_bind_int64(stmt.get(), 7, h.bytes);
      sqlite3_bind_double(stmt.get(), 8, h.seconds);
      m.step_done(stmt.get(), "cannot write crawl host figures");
    }
  });
}

std::vector<CrawlHostRecord> Manifest::latest_crawl_hosts() const {
  std::vector<CrawlHostRecord> hosts;
  Statement stmt = impl_->prepare(
      "SELECT host, urls, done, failed, requests, bytes, seconds FROM crawl_hosts "
      "WHERE run_id = (SELECT max(run_id) FROM crawl_hosts) ORDER BY bytes DESC, host");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    sqlite3_stmt* st = stmt.get();
    CrawlHostRecord h;
    h.host = column_text(st, 0);
    h.urls = sqlite3_column_int64(st, 1);
    h.done = sqlite3_column_int64(st, 2);
    h.failed = sqlite3_column_int64(st, 3);
    h.requests = sqlite3_column_int64(st, 4);
    h.bytes = sqlite3_column_int64(st, 5);
    h.seconds = sqlite3_column_double(st, 6);
    hosts.push_back(std::move(h));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read crawl host figures");
  return hosts;
}

void Manifest::record_stage_metrics(int64_t run_id, std::string_view pass,
                                    const RunReport& report) {
  Impl& m = *impl_;
  in_transaction(m, "cannot commit stage metrics", [&] {
    Statement stmt = m.prepare(
        "INSERT OR REPLACE INTO stage_metrics (run_id, pass, position, stage, workers, items_in, "
        "items_out, batches, busy_ns, wait_input_ns, wait_output_ns, wall_ns, is_bottleneck, "
        "sequential) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    for (size_t i = 0; i < report.stages.size(); ++i) {
      const StageMetrics& s = report.stages[i];
      ResetOnExit reset(stmt.get());
      sqlite3_bind_int64(stmt.get(), 1, run_id);
      bind_text(stmt.get(), 2, pass);
      sqlite3_bind_int64(stmt.get(), 3, static_cast<int64_t>(i));
      bind_text(stmt.get(), 4, s.name);
      sqlite3_bind_int(stmt.get(), 5, s.workers);
      sqlite3_bind_int64(stmt.get(), 6, static_cast<int64_t>(s.items_in));
      sqlite3_bind_int64(stmt.get(), 7, static_cast<int64_t>(s.items_out));
      sqlite3_bind_int64(stmt.get(), 8, static_cast<int64_t>(s.batches));
      sqlite3_bind_int64(stmt.get(), 9, s.busy_ns);
      sqlite3_bind_int64(stmt.get(), 10, s.wait_input_ns);
      sqlite3_bind_int64(stmt.get(), 11, s.wait_output_ns);
      sqlite3_bind_int64(stmt.get(), 12, report.wall_ns);
      sqlite3_bind_int(stmt.get(), 13, static_cast<int>(i) == report.bottleneck ? 1 : 0);
      sqlite3_bind_int(stmt.get(), 14, report.sequential ? 1 : 0);
      m.step_done(stmt.get(), "cannot write stage metrics");
    }
  });
}

std::vector<Manifest::PassMetrics> Manifest::latest_pass_metrics() const {
  std::vector<PassMetrics> result;
  Statement stmt = impl_->prepare(
      "SELECT s.run_id, s.pass, s.stage, s.workers, s.items_in, s.items_out, s.batches, "
      "s.busy_ns, s.wait_input_ns, s.wait_output_ns, s.wall_ns, s.is_bottleneck, s.sequential "
      "FROM stage_metrics AS s "
      "WHERE s.run_id = (SELECT max(run_id) FROM stage_metrics AS t WHERE t.pass = s.pass) "
      "ORDER BY s.run_id, s.pass, s.position");
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    sqlite3_stmt* st = stmt.get();
    const int64_t run_id = sqlite3_column_int64(st, 0);
    const std::string pass = column_text(st, 1);
    if (result.empty() || result.back().run_id != run_id || result.back().pass != pass) {
      result.push_back(PassMetrics{run_id, pass, RunReport{}});
    }
    RunReport& report = result.back().report;
    StageMetrics s;
    s.name = column_text(st, 2);
    s.workers = sqlite3_column_int(st, 3);
    s.items_in = static_cast<uint64_t>(sqlite3_column_int64(st, 4));
    s.items_out = static_cast<uint64_t>(sqlite3_column_int64(st, 5));
    s.batches = static_cast<uint64_t>(sqlite3_column_int64(st, 6));
    s.busy_ns = sqlite3_column_int64(st, 7);
    s.wait_input_ns = sqlite3_column_int64(st, 8);
    s.wait_output_ns = sqlite3_column_int64(st, 9);
    report.wall_ns = sqlite3_column_int64(st, 10);
    if (sqlite3_column_int(st, 11) != 0) report.bottleneck = static_cast<int>(report.stages.size());
    report.sequential = sqlite3_column_int(st, 12) != 0;
    report.stages.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read stage metrics");
  return result;
}

int64_t Manifest::plan_action(const ActionRecord& action) {
  Statement stmt = impl_->prepare(
      "INSERT INTO actions (run_id, kind, source, target, state, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, 'planned', ?5)");
  const std::string now = now_utc_iso8601();
  const int64_t run_id = action.run_id > 0 ? action.run_id : impl_->current_run_id;
  bind_int_or_null(stmt.get(), 1, run_id, run_id > 0);
  bind_text(stmt.get(), 2, action.kind);
  bind_text(stmt.get(), 3, action.source);
  bind_text(stmt.get(), 4, action.target);
  bind_text(stmt.get(), 5, now);
  impl_->step_done(stmt.get(), "cannot journal an action");
  return sqlite3_last_insert_rowid(impl_->db);
}

void Manifest::set_action_state(int64_t id, std::string_view state, std::string_view error) {
  Statement stmt =
      impl_->prepare("UPDATE actions SET state = ?1, error = ?2, updated_at = ?3 WHERE id = ?4");
  const std::string now = now_utc_iso8601();
  bind_text(stmt.get(), 1, state);
  bind_text_or_null(stmt.get(), 2, error);
  bind_text(stmt.get(), 3, now);
  sqlite3_bind_int64(stmt.get(), 4, id);
  impl_->step_done(stmt.get(), "cannot update an action");
  if (sqlite3_changes(impl_->db) == 0) {
    throw ManifestError("manifest '" + impl_->name + "': no action with id " + std::to_string(id));
  }
}

std::vector<ActionRecord> Manifest::actions(std::string_view state) const {
  std::vector<ActionRecord> result;
  Statement stmt = impl_->prepare(
      state.empty()
          ? "SELECT id, run_id, kind, source, target, state, error FROM actions ORDER BY id"
          : "SELECT id, run_id, kind, source, target, state, error FROM actions WHERE state = ?1 "
            "ORDER BY id");
  if (!state.empty()) bind_text(stmt.get(), 1, state);
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    ActionRecord a;
    a.id = sqlite3_column_int64(stmt.get(), 0);
    a.run_id = sqlite3_column_int64(stmt.get(), 1);
    a.kind = column_text(stmt.get(), 2);
    a.source = column_text(stmt.get(), 3);
    a.target = column_text(stmt.get(), 4);
    a.state = column_text(stmt.get(), 5);
    a.error = column_text(stmt.get(), 6);
    result.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot read actions");
  return result;
}

std::string Manifest::integrity_check() const {
  Statement stmt = impl_->prepare("PRAGMA integrity_check");
  std::string result;
  int rc = 0;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    if (!result.empty()) result += '\n';
    result += column_text(stmt.get(), 0);
  }
  if (rc != SQLITE_DONE) impl_->fail("cannot check integrity");
  return result;
}

void Manifest::release_memory() { sqlite3_db_release_memory(impl_->db); }

void Manifest::checkpoint() {
  int wal_frames = 0;
  int checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(impl_->db, nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           &wal_frames, &checkpointed);
  if (rc == SQLITE_BUSY) {
    // A reader still needs the WAL. Nothing is lost: committed data is durable in the WAL and
    // is copied into the main file by a later checkpoint.
    log().debug("manifest '{}': checkpoint incomplete, a reader is active", impl_->name);
    return;
  }
  if (rc != SQLITE_OK) impl_->fail("cannot checkpoint the write-ahead log");
}

}  // namespace vpipe
