#include <array>
#include <span>

#include "vpipe/io/manifest.h"
#include "vpipe/io/manifest_db.h"
#include "vpipe/io/manifest_paths.h"

// The schema's history, one step per version. The layout is documented column by column in
// docs/MANIFEST.md; keep the two in step. To change the schema: append a step, bump
// Manifest::kSchemaVersion, and describe the step in docs/MANIFEST.md. Never edit a step that
// has shipped.

namespace vpipe::manifest_detail {
namespace {

// Schema version 1. Text columns hold bytes exactly as given (paths may be non-UTF-8).
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
// group, and `crop_hashes`, the hashes of five 90% windows (nine from schema 8) that find cropped
// copies (docs/DEDUP.md). Rows scanned before have NULL there; the scan measures them again.
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

// Schema version 5: every stored path absolute, with a canonical directory (io/paths.h), so
// commands work from any directory and one file is one row (manifest_paths.h).
// Schema versions 6 to 10: kSchemaV6 to kSchemaV10 above.
constexpr std::array<Migration, 10> kMigrations{{{1, kSchemaV1},
                                                 {2, kSchemaV2},
                                                 {3, kSchemaV3},
                                                 {4, kSchemaV4},
                                                 {5, nullptr, make_stored_paths_absolute},
                                                 {6, kSchemaV6},
                                                 {7, kSchemaV7},
                                                 {8, kSchemaV8},
                                                 {9, kSchemaV9},
                                                 {10, kSchemaV10}}};
static_assert(kMigrations.back().to_version == Manifest::kSchemaVersion,
              "every schema version needs a migration step");

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace vpipe::manifest_detail
