// The dedup and quality pass's tables (docs/MANIFEST.md: groups, decisions, reasons,
// quality_thresholds, near_pairs), and the curated view of files joined with their decisions.

#include "vpipe/dedup/dedup_store.h"

#include <fmt/format.h>

#include <array>

#include "vpipe/io/manifest.h"
#include "vpipe/io/manifest_db.h"
#include "vpipe/io/manifest_files.h"

namespace vpipe {

using manifest_detail::count_by;
using manifest_detail::int_or_null;
using manifest_detail::kFileColumnCount;
using manifest_detail::run_or_null;
using manifest_detail::Statement;
using manifest_detail::text_or_null;

namespace {

constexpr const char* kInsertNearPair =
    "INSERT OR REPLACE INTO near_pairs (a, b, phash_distance, dhash_distance, orientation) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";

void write_near_pair(Statement& stmt, const NearPairRecord& p) {
  stmt.bind_all(p.a, p.b, p.phash_distance, p.dhash_distance, text_or_null(p.orientation))
      .run("cannot write a near pair");
}

/// The secondary indexes of the dedup results, as the schema creates them (manifest_schema.cpp;
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

// The files of CuratedQuery::Order::kColourless (files AS f, decisions AS d; ?7 the bound): with
// signals and some opaque pixel (opaque_fraction NULL: scanned before transparency, opaque), not
// rejected, colourfulness below the bound; as quality/rules.h is_colourless.
constexpr const char* kColourlessWhere =
    "f.phash IS NOT NULL AND f.status IN ('ok', 'damaged') AND "
    "(f.opaque_fraction IS NULL OR f.opaque_fraction > 0) AND f.colorfulness < ?7 AND "
    "(d.decision IS NULL OR d.decision <> 'reject')";

/// The SELECT of for_each_curated: the file columns, then the decision's at kFileColumnCount.

std::string curated_sql(const DedupStore::CuratedQuery& query) {
  using Order = DedupStore::CuratedQuery::Order;
  std::string sql = std::string("SELECT ") + manifest_detail::kFileColumnsQualified +
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
          "ORDER BY d.group_id, d.is_keeper DESC, d.match = 'exact' DESC, d.phash_distance, "
          "f.path ";
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
  return sql + "LIMIT ?5 OFFSET ?6";
}

/// The decision columns of a curated row, from column `d` on.
DecisionRecord read_decision(const Statement& row, int d) {
  DecisionRecord dec;
  dec.file_id = row.int64(d);
  dec.decision = row.text(d + 1);
  dec.group_id = row.int64_or(d + 2, 0);
  dec.is_keeper = row.boolean(d + 3);
  dec.match = row.text(d + 4);
  dec.phash_distance = static_cast<int>(row.int64_or(d + 5, -1));
  dec.dhash_distance = static_cast<int>(row.int64_or(d + 6, -1));
  dec.orientation = row.text(d + 7);
  dec.quality_score = row.real(d + 8);
  return dec;
}

}  // namespace

DedupStore::DedupStore(const Manifest& manifest) : db_(manifest.db()) {}

void DedupStore::replace_dedup_results(std::span<const GroupRecord> groups,
                                       std::span<const DecisionRecord> decisions,
                                       std::span<const ThresholdRecord> thresholds) {
  replace_dedup_results(
      groups, decisions.size(), [&](size_t i, DecisionRecord& d) { d = decisions[i]; }, thresholds);
}

void DedupStore::replace_dedup_results(std::span<const GroupRecord> groups, size_t decision_count,
                                       const std::function<void(size_t, DecisionRecord&)>& decision,
                                       std::span<const ThresholdRecord> thresholds,
                                       const DedupWrite& write) {
  const manifest_detail::ManifestDb& db = db_;
  db.transaction_after_read(write.rows_read_at, "cannot commit the dedup results", [&] {
    db.exec("DELETE FROM quality_thresholds", "cannot clear thresholds");
    Statement threshold_stmt = db.prepare(
        "INSERT OR REPLACE INTO quality_thresholds (rule, signal, threshold, rejects_below, "
        "enabled) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const ThresholdRecord& t : thresholds) {
      threshold_stmt.bind_all(t.rule, t.signal, t.threshold, t.rejects_below, t.enabled)
          .run("cannot write a threshold");
    }
    db.exec("DELETE FROM reasons", "cannot clear reasons");
    db.exec("DELETE FROM decisions", "cannot clear decisions");
    db.exec("DELETE FROM groups", "cannot clear groups");
    // The secondary indexes are built once after the rows, not row by row: a million
    // decisions in file order, but their group and decision keys in random order.
    for (const DedupIndex& index : kDedupIndexes) {
      db.exec(fmt::format("DROP INDEX IF EXISTS {}", index.name).c_str(), "cannot drop an index");
    }
    Statement group_stmt = db.prepare(
        "INSERT INTO groups (id, kind, keeper_id, size, max_distance) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const GroupRecord& g : groups) {
      group_stmt.bind_all(g.id, g.kind, g.keeper_id, g.size, g.max_distance)
          .run("cannot write a group");
    }
    Statement decision_stmt = db.prepare(
        "INSERT INTO decisions (file_id, decision, group_id, is_keeper, match, phash_distance, "
        "dhash_distance, orientation, quality_score, run_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    Statement reason_stmt = db.prepare(
        "INSERT OR REPLACE INTO reasons (file_id, rule, value, threshold, severity) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    DecisionRecord d;
    for (size_t i = 0; i < decision_count; ++i) {
      d = DecisionRecord{};
      decision(i, d);
      decision_stmt
          .bind_all(d.file_id, d.decision, int_or_null(d.group_id, d.group_id > 0), d.is_keeper,
                    text_or_null(d.match), int_or_null(d.phash_distance, d.phash_distance >= 0),
                    int_or_null(d.dhash_distance, d.dhash_distance >= 0),
                    text_or_null(d.orientation), d.quality_score, run_or_null(db))
          .run("cannot write a decision");
      for (const ReasonRecord& r : d.reasons) {
        reason_stmt.bind_all(d.file_id, r.rule, r.value, r.threshold, r.severity)
            .run("cannot write a reason");
      }
    }
    for (const DedupIndex& index : kDedupIndexes) db.exec(index.create, "cannot build an index");
    if (write.replace_pairs) {
      db.exec("DELETE FROM near_pairs", "cannot clear near pairs");
      Statement pair_stmt = db.prepare(kInsertNearPair);
      NearPairRecord p;
      for (size_t i = 0; i < write.pair_count; ++i) {
        p = NearPairRecord{};
        write.pair(i, p);
        write_near_pair(pair_stmt, p);
      }
    }
  });
}

void DedupStore::clear_near_pairs() {
  db_.exec("DELETE FROM near_pairs", "cannot clear near pairs");
}

void DedupStore::add_near_pairs(std::span<const NearPairRecord> pairs,
                                std::optional<int64_t> rows_read_at) {
  if (pairs.empty()) return;
  db_.transaction_after_read(rows_read_at, "cannot commit near pairs", [&] {
    Statement stmt = db_.prepare(kInsertNearPair);
    for (const NearPairRecord& p : pairs) write_near_pair(stmt, p);
  });
}

int64_t DedupStore::count_near_pairs() const {
  return db_.query_int("SELECT count(*) FROM near_pairs", "cannot count near pairs");
}

std::map<std::string, int64_t> DedupStore::decision_counts() const {
  return count_by(db_, "SELECT decision, count(*) FROM decisions GROUP BY decision",
                  "cannot count decisions");
}

std::map<std::string, int64_t> DedupStore::reason_counts() const {
  return count_by(db_, "SELECT rule, count(*) FROM reasons GROUP BY rule", "cannot count reasons");
}

std::vector<ThresholdRecord> DedupStore::quality_thresholds() const {
  std::vector<ThresholdRecord> result;
  db_.prepare(
         "SELECT rule, signal, threshold, rejects_below, enabled FROM quality_thresholds "
         "ORDER BY rowid")
      .each_row("cannot read quality thresholds", [&](const Statement& row) {
        result.push_back(
            ThresholdRecord{row.text(0), row.text(1), row.real(2), row.boolean(3), row.boolean(4)});
      });
  return result;
}

int64_t DedupStore::count_groups() const {
  return db_.query_int("SELECT count(*) FROM groups", "cannot count groups");
}

std::vector<GroupRecord> DedupStore::groups() const {
  std::vector<GroupRecord> result;
  db_.prepare("SELECT id, kind, keeper_id, size, max_distance FROM groups ORDER BY id")
      .each_row("cannot read groups", [&](const Statement& row) {
        GroupRecord g;
        g.id = row.int64(0);
        g.kind = row.text(1);
        g.keeper_id = row.int64(2);
        g.size = row.int64(3);
        g.max_distance = row.int32(4);
        result.push_back(std::move(g));
      });
  return result;
}

int64_t DedupStore::count_colourless(double colorfulness_below) const {
  return db_
      .prepare(std::string("SELECT count(*) FROM files AS f LEFT JOIN decisions AS d ON "
                           "d.file_id = f.id WHERE ") +
               kColourlessWhere)
      .bind(7, colorfulness_below)
      .single_int("cannot count colourless files");
}

void DedupStore::for_each_curated(const CuratedQuery& query,
                                  const std::function<bool(const CuratedFile&)>& visit) const {
  using Order = CuratedQuery::Order;
  Statement stmt = db_.prepare(curated_sql(query));
  Statement reasons_stmt = db_.prepare(
      "SELECT rule, value, threshold, severity FROM reasons WHERE file_id = ?1 "
      "ORDER BY severity DESC, rule");
  if (query.order == Order::kPath && !query.decision.empty()) stmt.bind(1, query.decision);
  if (query.order == Order::kGroup) stmt.bind(2, query.group_from).bind(3, query.group_to);
  if (query.order == Order::kSeverity) stmt.bind(4, query.rule);
  if (query.order == Order::kColourless) stmt.bind(7, query.colorfulness_below);
  stmt.bind(5, query.limit).bind(6, query.offset);

  CuratedFile file;
  stmt.each_row("cannot read curated files", [&](const Statement& row) {
    file.file = manifest_detail::read_file_row(db_, row);
    file.has_decision = !row.is_null(kFileColumnCount);
    file.decision = file.has_decision ? read_decision(row, kFileColumnCount) : DecisionRecord{};
    if (file.decision.decision == "reject") {
      reasons_stmt.bind(1, file.decision.file_id)
          .each_row("cannot read reasons", [&](const Statement& reason) {
            file.decision.reasons.push_back(
                ReasonRecord{reason.text(0), reason.real(1), reason.real(2), reason.real(3)});
          });
    }
    return visit(file);
  });
}

}  // namespace vpipe
