#include "vpipe/io/manifest_paths.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/io/manifest_db.h"
#include "vpipe/io/paths.h"

namespace vpipe::manifest_detail {
namespace {

namespace fs = std::filesystem;

/// How many relative file paths are checked to choose which base comes first.
constexpr int kBaseSample = 1000;

/// What the migration was doing, for ManifestDb::fail's message.
std::string doing(std::string_view what) {
  return "schema 5 (absolute paths): " + std::string(what);
}

bool exists_no_follow(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_relative(std::string_view path) { return !path.empty() && path.front() != '/'; }

/// The rule for stored paths written by an older vpipe (docs/MANIFEST.md).
class PathRule {
 public:
  explicit PathRule(std::vector<fs::path> bases) : bases_(std::move(bases)) {
    for (const fs::path& base : bases_) resolvers_.emplace_back(base);
  }

  /// One path: absolute ones get their directory resolved; a relative one is resolved against
  /// the first base under which it exists, else against the first base (counted).
  std::string resolve(const std::string& path) {
    if (path.empty()) return path;
    if (!is_relative(path)) return absolute_.resolve(path);
    for (size_t i = 0; i < bases_.size(); ++i) {
      if (exists_no_follow(bases_[i] / path)) return resolvers_[i].resolve(path);
    }
    count_unresolved(path);
    return resolvers_[0].resolve(path);
  }

  /// An action's source and target, resolved against one base: the first under which either
  /// of them (the relative ones) exists, so a done move (source gone, target there) stays a pair.
  std::pair<std::string, std::string> resolve_pair(const std::string& source,
                                                   const std::string& target) {
    size_t base = 0;
    bool found = !is_relative(source) && !is_relative(target);
    for (size_t i = 0; i < bases_.size() && !found; ++i) {
      if ((is_relative(source) && exists_no_follow(bases_[i] / source)) ||
          (is_relative(target) && exists_no_follow(bases_[i] / target))) {
        base = i;
        found = true;
      }
    }
    if (!found) count_unresolved(is_relative(source) ? source : target);
    const auto one = [&](const std::string& path) {
      if (path.empty()) return path;
      return is_relative(path) ? resolvers_[base].resolve(path) : absolute_.resolve(path);
    };
    return {one(source), one(target)};
  }

  [[nodiscard]] int64_t unresolved() const { return unresolved_; }
  [[nodiscard]] const std::string& unresolved_example() const { return example_; }
  [[nodiscard]] const fs::path& first_base() const { return bases_.front(); }

 private:
  void count_unresolved(const std::string& path) {
    if (unresolved_++ == 0) example_ = path;
  }

  std::vector<fs::path> bases_;
  std::vector<StoredPathResolver> resolvers_;
  StoredPathResolver absolute_;
  int64_t unresolved_ = 0;
  std::string example_;
};

/// The two bases for relative paths, the one under which more of a sample of the manifest's
/// relative file paths exist first (the current directory on a tie).
std::vector<fs::path> choose_bases(const ManifestDb& db) {
  fs::path manifest_dir = fs::absolute(db.name()).parent_path();
  if (std::string real = real_path(manifest_dir.native()); !real.empty()) manifest_dir = real;
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (ec || manifest_dir == cwd) return {manifest_dir};
  int64_t at_cwd = 0;
  int64_t at_manifest = 0;
  db.prepare("SELECT path FROM files WHERE path NOT GLOB '/*' LIMIT " + std::to_string(kBaseSample))
      .each_row(doing("sampling relative paths").c_str(), [&](const Statement& row) {
        const std::string path = row.text(0);
        at_cwd += exists_no_follow(cwd / path) ? 1 : 0;
        at_manifest += exists_no_follow(manifest_dir / path) ? 1 : 0;
      });
  if (at_manifest > at_cwd) return {manifest_dir, cwd};
  return {cwd, manifest_dir};
}

/// Computes the new value of `table`.`column` for every row into temp.vpipe_moves (key, path),
/// only where it changes: the table itself is not written while it is read.
int64_t collect_moves(const ManifestDb& db, PathRule& rule, const std::string& table,
                      const std::string& key, const std::string& column) {
  db.exec("CREATE TEMP TABLE vpipe_moves (key INTEGER PRIMARY KEY, path TEXT NOT NULL)",
          doing("cannot make the moves table").c_str());
  Statement insert = db.prepare("INSERT INTO temp.vpipe_moves (key, path) VALUES (?1, ?2)");
  const std::string writing = doing("cannot note a new " + table + " path");
  int64_t moved = 0;
  db.prepare("SELECT " + key + ", " + column + " FROM " + table + " WHERE " + column +
             " IS NOT NULL")
      .each_row(doing("cannot read " + table).c_str(), [&](const Statement& row) {
        const std::string old_path = row.text(1);
        const std::string new_path = rule.resolve(old_path);
        if (new_path == old_path) return;
        insert.bind_all(row.int64(0), new_path).run(writing.c_str());
        ++moved;
      });
  return moved;
}

/// Writes temp.vpipe_moves into `table`.`column` and drops it.
void apply_moves(const ManifestDb& db, const std::string& table, const std::string& key,
                 const std::string& column) {
  db.prepare("UPDATE " + table + " SET " + column +
             " = (SELECT m.path FROM temp.vpipe_moves m WHERE m.key = " + table + "." + key +
             ") WHERE " + key + " IN (SELECT key FROM temp.vpipe_moves)")
      .run(doing("cannot rewrite " + table).c_str());
  db.exec("DROP TABLE temp.vpipe_moves", doing("cannot drop the moves table").c_str());
}

/// File rows that will name the same file: new path -> ids (moved rows, and a row that already
/// has that path). Usually none; a handful when one folder was scanned under two names.
std::map<std::string, std::vector<int64_t>> files_to_merge(const ManifestDb& db) {
  std::map<std::string, std::vector<int64_t>> merges;
  db.prepare(
        "SELECT m.path, m.key FROM temp.vpipe_moves m "
        "WHERE m.path IN (SELECT path FROM temp.vpipe_moves GROUP BY path HAVING count(*) > 1) "
        "OR EXISTS (SELECT 1 FROM files f WHERE f.path = m.path) ORDER BY m.path, m.key")
      .each_row(doing("cannot find clashing paths").c_str(),
                [&](const Statement& row) { merges[row.text(0)].push_back(row.int64(1)); });
  Statement holder = db.prepare("SELECT id FROM files WHERE path = ?1");
  for (auto& [path, ids_of_path] : merges) {
    std::vector<int64_t>& ids = ids_of_path;  // a structured binding cannot be captured (clang 14)
    holder.bind(1, path).each_row(doing("cannot find a path's row").c_str(),
                                  [&](const Statement& row) {
                                    ids.push_back(row.int64(0));
                                    return false;
                                  });
  }
  return merges;
}

/// Orders the rows of one merge: the survivor first. A row the dedup pass decided about wins
/// (its results stay valid), then the most recently scanned, then the newest id.
void order_by_survival(const ManifestDb& db, std::vector<int64_t>& ids) {
  Statement facts = db.prepare(
      "SELECT EXISTS (SELECT 1 FROM decisions WHERE file_id = ?1), scanned_at FROM files "
      "WHERE id = ?1");
  std::vector<std::tuple<bool, std::string, int64_t>> ranked;
  for (const int64_t id : ids) {
    facts.bind(1, id).each_row(doing("cannot rank merged rows").c_str(), [&](const Statement& row) {
      ranked.emplace_back(row.boolean(0), row.text(1), id);
      return false;
    });
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a > b; });
  ids.clear();
  for (const auto& r : ranked) ids.push_back(std::get<2>(r));
}

/// Folds `loser` into `survivor`: its inferences and their detections follow it (those of a
/// model the survivor has an inference of go: the survivor's are kept), then its row goes.
void fold_into(const ManifestDb& db, int64_t loser, int64_t survivor) {
  for (const char* sql :
       {"DELETE FROM inferences WHERE file_id = ?1 AND model IN "
        "(SELECT model FROM inferences WHERE file_id = ?2)",
        "UPDATE detections SET file_id = ?2 WHERE file_id = ?1",
        "UPDATE inferences SET file_id = ?2 WHERE file_id = ?1",
        "DELETE FROM temp.vpipe_moves WHERE key = ?1", "DELETE FROM files WHERE id = ?1"}) {
    Statement stmt = db.prepare(sql);
    stmt.bind(1, loser);
    if (sqlite3_bind_parameter_count(stmt.get()) > 1) stmt.bind(2, survivor);
    stmt.run(doing(sql).c_str());
  }
}

/// Merges the file rows that name one file. Returns how many rows went. When a row that went
/// had dedup results, the survivor had some too (it is chosen so): those results counted one
/// file twice, so they are cleared (groups, decisions, reasons, near_pairs) for `vpipe dedup`
/// to recompute; `dedup_cleared` says so.
int64_t merge_files(const ManifestDb& db, bool& dedup_cleared) {
  std::map<std::string, std::vector<int64_t>> merges = files_to_merge(db);
  std::vector<std::pair<int64_t, int64_t>> folds;  // loser, survivor
  for (auto& [path, ids] : merges) {
    order_by_survival(db, ids);
    for (size_t i = 1; i < ids.size(); ++i) folds.emplace_back(ids[i], ids[0]);
  }
  // Losers' dedup rows are looked at before any are deleted (a loser's row cascades).
  Statement in_dedup = db.prepare(
      "SELECT EXISTS (SELECT 1 FROM decisions WHERE file_id = ?1) OR "
      "EXISTS (SELECT 1 FROM reasons WHERE file_id = ?1) OR "
      "EXISTS (SELECT 1 FROM groups WHERE keeper_id = ?1) OR "
      "EXISTS (SELECT 1 FROM near_pairs WHERE a = ?1 OR b = ?1)");
  dedup_cleared = false;
  for (const auto& [loser, survivor] : folds) {
    dedup_cleared = dedup_cleared || in_dedup.bind(1, loser).single_int(
                                         doing("cannot read dedup rows").c_str()) != 0;
  }
  if (dedup_cleared) {
    db.exec(
        "DELETE FROM near_pairs; DELETE FROM reasons; DELETE FROM decisions; "
        "DELETE FROM groups;",
        doing("cannot clear the dedup results").c_str());
  }
  for (const auto& [loser, survivor] : folds) fold_into(db, loser, survivor);
  return static_cast<int64_t>(folds.size());
}

/// actions.source and actions.target, resolved as a pair.
int64_t rewrite_actions(const ManifestDb& db, PathRule& rule) {
  db.exec(
      "CREATE TEMP TABLE vpipe_action_moves (key INTEGER PRIMARY KEY, source TEXT NOT NULL, "
      "target TEXT NOT NULL)",
      doing("cannot make the action moves table").c_str());
  Statement insert =
      db.prepare("INSERT INTO temp.vpipe_action_moves (key, source, target) VALUES (?1, ?2, ?3)");
  int64_t moved = 0;
  db.prepare("SELECT id, source, target FROM actions")
      .each_row(doing("cannot read actions").c_str(), [&](const Statement& row) {
        const std::string source = row.text(1);
        const std::string target = row.text(2);
        const auto [new_source, new_target] = rule.resolve_pair(source, target);
        if (new_source == source && new_target == target) return;
        insert.bind_all(row.int64(0), new_source, new_target)
            .run(doing("cannot note an action's new paths").c_str());
        moved += (new_source != source ? 1 : 0) + (new_target != target ? 1 : 0);
      });
  db.exec(
      "UPDATE actions SET "
      "source = (SELECT m.source FROM temp.vpipe_action_moves m WHERE m.key = actions.id), "
      "target = (SELECT m.target FROM temp.vpipe_action_moves m WHERE m.key = actions.id) "
      "WHERE id IN (SELECT key FROM temp.vpipe_action_moves)",
      doing("cannot rewrite actions").c_str());
  db.exec("DROP TABLE temp.vpipe_action_moves", doing("cannot drop the moves table").c_str());
  return moved;
}

}  // namespace

void make_stored_paths_absolute(const ManifestDb& db) {
  const std::string& name = db.name();
  // Rows folded into another move their inferences and detections one statement at a time;
  // the foreign keys are checked once, at the migration's commit.
  db.exec("PRAGMA defer_foreign_keys = ON", doing("cannot defer foreign keys").c_str());
  PathRule rule(choose_bases(db));

  int64_t rewritten = collect_moves(db, rule, "files", "id", "path");
  bool dedup_cleared = false;
  const int64_t merged = merge_files(db, dedup_cleared);
  apply_moves(db, "files", "id", "path");
  for (const auto& [table, key] : {std::pair{"urls", "id"}, std::pair{"crops", "detection_id"}}) {
    rewritten += collect_moves(db, rule, table, key, "path");
    apply_moves(db, table, key, "path");
  }
  rewritten += rewrite_actions(db, rule);

  if (rewritten > 0) {
    log().info("manifest '{}': {} stored paths rewritten as absolute paths (docs/MANIFEST.md)",
               name, rewritten);
  }
  if (rule.unresolved() > 0) {
    log().warn(
        "manifest '{}': {} relative paths (e.g. '{}') name no existing file under the current "
        "directory or the manifest's; resolved against {} as the vpipe that wrote them would have",
        name, rule.unresolved(), rule.unresolved_example(), rule.first_base().string());
  }
  if (merged > 0) {
    log().warn(
        "manifest '{}': {} file rows named a file another row already named and were "
        "merged into it{}",
        name, merged,
        dedup_cleared ? "; the dedup results counted those files twice and were cleared: "
                        "run `vpipe dedup` again"
                      : "");
  }
}

}  // namespace vpipe::manifest_detail
