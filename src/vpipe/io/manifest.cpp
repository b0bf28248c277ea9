// The manifest's connection-level parts: opening, runs and their stage metrics, integrity and
// checkpoints. The tables' stores are beside their passes (io/manifest.h lists them), the
// schema's history in manifest_schema.cpp, the connection and typed statements in
// manifest_db.cpp.

#include "vpipe/io/manifest.h"

#include <fmt/format.h>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/core/version.h"
#include "vpipe/io/manifest_db.h"

namespace vpipe {

using manifest_detail::now_utc_iso8601;
using manifest_detail::Statement;

namespace {

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

}  // namespace

Manifest::Manifest(const std::filesystem::path& path, Access access)
    : db_(std::make_unique<manifest_detail::ManifestDb>()) {
  if (access == Access::read_only) {
    db_->open_read_only(path);
  } else {
    db_->open(path);
  }
}

Manifest::~Manifest() = default;

bool Manifest::read_only() const { return db_->read_only(); }

int64_t Manifest::begin_run(std::string_view command, std::string_view config_json,
                            std::string_view device) {
  const std::string started_at = now_utc_iso8601();
  db_->prepare(
         "INSERT INTO runs (command, config, vpipe_version, device, started_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind_all(command, config_json, std::string_view(kVersion), device, started_at)
      .run("cannot record the start of the run");
  db_->current_run_id = db_->last_insert_rowid();
  return db_->current_run_id;
}

void Manifest::end_run(int64_t run_id, std::string_view outcome,
                       const std::map<std::string, int64_t>& counts) {
  const std::string ended_at = now_utc_iso8601();
  const std::string json = counts_json(counts);
  db_->prepare("UPDATE runs SET ended_at = ?1, outcome = ?2, counts = ?3 WHERE id = ?4")
      .bind_all(ended_at, outcome, json, run_id)
      .run("cannot record the end of the run");
  if (db_->changes() == 0) {
    throw ManifestError("manifest '" + db_->name() + "': no run with id " + std::to_string(run_id));
  }
}

int64_t Manifest::others_version() const {
  return db_->query_int("PRAGMA data_version", "cannot read the data version");
}

std::vector<Manifest::RunRecord> Manifest::runs() const {
  std::vector<RunRecord> result;
  db_->prepare(
         "SELECT id, command, config, vpipe_version, device, started_at, ended_at, outcome, "
         "counts FROM runs ORDER BY id")
      .each_row("cannot read runs", [&](const Statement& row) {
        result.push_back(RunRecord{row.int64(0), row.text(1), row.text(2), row.text(3), row.text(4),
                                   row.text(5), row.text(6), row.text(7), row.text(8)});
      });
  return result;
}

void Manifest::record_stage_metrics(int64_t run_id, std::string_view pass,
                                    const RunReport& report) {
  db_->transaction("cannot commit stage metrics", [&] {
    Statement stmt = db_->prepare(
        "INSERT OR REPLACE INTO stage_metrics (run_id, pass, position, stage, workers, items_in, "
        "items_out, batches, busy_ns, wait_input_ns, wait_output_ns, wall_ns, is_bottleneck, "
        "sequential) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    for (size_t i = 0; i < report.stages.size(); ++i) {
      const StageMetrics& s = report.stages[i];
      stmt.bind_all(run_id, pass, static_cast<int64_t>(i), s.name, s.workers,
                    static_cast<int64_t>(s.items_in), static_cast<int64_t>(s.items_out),
                    static_cast<int64_t>(s.batches), s.busy_ns, s.wait_input_ns, s.wait_output_ns,
                    report.wall_ns, static_cast<int>(i) == report.bottleneck, report.sequential)
          .run("cannot write stage metrics");
    }
  });
}

std::vector<Manifest::PassMetrics> Manifest::latest_pass_metrics() const {
  std::vector<PassMetrics> result;
  db_->prepare(
         "SELECT s.run_id, s.pass, s.stage, s.workers, s.items_in, s.items_out, s.batches, "
         "s.busy_ns, s.wait_input_ns, s.wait_output_ns, s.wall_ns, s.is_bottleneck, "
         "s.sequential FROM stage_metrics AS s "
         "WHERE s.run_id = (SELECT max(run_id) FROM stage_metrics AS t WHERE t.pass = s.pass) "
         "ORDER BY s.run_id, s.pass, s.position")
      .each_row("cannot read stage metrics", [&](const Statement& row) {
        const int64_t run_id = row.int64(0);
        std::string pass = row.text(1);
        if (result.empty() || result.back().run_id != run_id || result.back().pass != pass) {
          result.push_back(PassMetrics{run_id, std::move(pass), RunReport{}});
        }
        RunReport& report = result.back().report;
        StageMetrics s;
        s.name = row.text(2);
        s.workers = row.int32(3);
        s.items_in = static_cast<uint64_t>(row.int64(4));
        s.items_out = static_cast<uint64_t>(row.int64(5));
        s.batches = static_cast<uint64_t>(row.int64(6));
        s.busy_ns = row.int64(7);
        s.wait_input_ns = row.int64(8);
        s.wait_output_ns = row.int64(9);
        report.wall_ns = row.int64(10);
        if (row.boolean(11)) report.bottleneck = static_cast<int>(report.stages.size());
        report.sequential = row.boolean(12);
        report.stages.push_back(std::move(s));
      });
  return result;
}

std::string Manifest::integrity_check() const {
  std::string result;
  db_->prepare("PRAGMA integrity_check")
      .each_row("cannot check integrity", [&](const Statement& row) {
        if (!result.empty()) result += '\n';
        result += row.text(0);
      });
  return result;
}

void Manifest::release_memory() { sqlite3_db_release_memory(db_->handle()); }

void Manifest::checkpoint() {
  int wal_frames = 0;
  int checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           &wal_frames, &checkpointed);
  if (rc == SQLITE_BUSY) {
    // A reader still needs the WAL. Nothing is lost: committed data is durable in the WAL and
    // is copied into the main file by a later checkpoint.
    log().debug("manifest '{}': checkpoint incomplete, a reader is active", db_->name());
    return;
  }
  if (rc != SQLITE_OK) db_->fail("cannot checkpoint the write-ahead log");
}

}  // namespace vpipe
