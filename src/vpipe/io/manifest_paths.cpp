#include "vpipe/io/manifest_paths.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <map>
#include <memory>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/io/paths.h"

namespace vpipe::manifest_detail {
namespace {

namespace fs = std::filesystem;

/// How many relative file paths are checked to choose which base comes first.
constexpr int kBaseSample = 1000;

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

/// The migration's connection, with errors that name the manifest.
class Db {
 public:
  Db(sqlite3* db, const std::string& name) : db_(db), name_(name) {}

  [[noreturn]] void fail(const std::string& doing) const {
    throw ManifestError("manifest '" + name_ + "': schema 5 (absolute paths): " + doing + ": " +
                        sqlite3_errmsg(db_));
  }
  void exec(const char* sql) const {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  Statement prepare(const std::string& sql) const {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) fail(sql);
    return Statement(stmt);
  }
  /// Steps a statement that returns no rows, then resets it for the next use.
  void run(sqlite3_stmt* stmt) const {
    const int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) fail(sqlite3_sql(stmt));
    sqlite3_reset(stmt);
  }
  /// Steps a statement that returns rows; false at the end.
  bool next_row(sqlite3_stmt* stmt) const {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(sqlite3_sql(stmt));
    return false;
  }
  [[nodiscard]] int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  sqlite3* db_;
  const std::string& name_;
};

std::string column_text(sqlite3_stmt* stmt, int index) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
}

void bind_text(sqlite3_stmt* stmt, int index, const std::string& text) {
  // SQLITE_TRANSIENT: the bytes are copied (paths may be non-UTF-8 and are kept as they are).
  sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
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
std::vector<fs::path> choose_bases(const Db& db, const std::string& name) {
  fs::path manifest_dir = fs::absolute(name).parent_path();
  if (std::string real = real_path(manifest_dir.native()); !real.empty()) manifest_dir = real;
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (ec || manifest_dir == cwd) return {manifest_dir};
  Statement sample = db.prepare("SELECT path FROM files WHERE path NOT GLOB '/*' LIMIT " +
                                std::to_string(kBaseSample));
  int64_t at_cwd = 0;
  int64_t at_manifest = 0;
  while (db.next_row(sample.get())) {
    const std::string path = column_text(sample.get(), 0);
    at_cwd += exists_no_follow(cwd / path) ? 1 : 0;
    at_manifest += exists_no_follow(manifest_dir / path) ? 1 : 0;
  }
  if (at_manifest > at_cwd) return {manifest_dir, cwd};
  return {cwd, manifest_dir};
}

/// Computes the new value of `table`.`column` for every row into temp.vpipe_moves (key, path),
/// only where it changes: the table itself is not written while it is read.
int64_t collect_moves(const Db& db, PathRule& rule, const std::string& table,
                      const std::string& key, const std::string& column) {
  db.exec("CREATE TEMP TABLE vpipe_moves (key INTEGER PRIMARY KEY, path TEXT NOT NULL)");
  Statement read = db.prepare("SELECT " + key + ", " + column + " FROM " + table + " WHERE " +
                              column + " IS NOT NULL");
  Statement insert = db.prepare("INSERT INTO temp.vpipe_moves (key, path) VALUES (?1, ?2)");
  int64_t moved = 0;
  while (db.next_row(read.get())) {
    const std::string old_path = column_text(read.get(), 1);
    const std::string new_path = rule.resolve(old_path);
    if (new_path == old_path) continue;
    sqlite3_bind_int64(insert.get(), 1, sqlite3_column_int64(read.get(), 0));
    bind_text(insert.get(), 2, new_path);
    db.run(insert.get());
    ++moved;
  }
  return moved;
}

/// Writes temp.vpipe_moves into `table`.`column` and drops it.
void apply_moves(const Db& db, const std::string& table, const std::string& key,
                 const std::string& column) {
  Statement update = db.prepare("UPDATE " + table + " SET " + column +
                                " = (SELECT m.path FROM temp.vpipe_moves m WHERE m.key = " +
                                table + "." + key + ") WHERE " + key +
                                " IN (SELECT key FROM temp.vpipe_moves)");
  db.run(update.get());
  db.exec("DROP TABLE temp.vpipe_moves");
}

/// File rows that will name the same file: new path -> ids (moved rows, and a row that already
/// has that path). Usually none; a handful when one folder was scanned under two names.
std::map<std::string, std::vector<int64_t>> files_to_merge(const Db& db) {
  std::map<std::string, std::vector<int64_t>> merges;
  Statement clashes = db.prepare(
      "SELECT m.path, m.key FROM temp.vpipe_moves m "
      "WHERE m.path IN (SELECT path FROM temp.vpipe_moves GROUP BY path HAVING count(*) > 1) "
      "OR EXISTS (SELECT 1 FROM files f WHERE f.path = m.path) ORDER BY m.path, m.key");
  while (db.next_row(clashes.get())) {
    merges[column_text(clashes.get(), 0)].push_back(sqlite3_column_int64(clashes.get(), 1));
  }
  Statement holder = db.prepare("SELECT id FROM files WHERE path = ?1");
  for (auto& [path, ids] : merges) {
    bind_text(holder.get(), 1, path);
    if (db.next_row(holder.get())) ids.push_back(sqlite3_column_int64(holder.get(), 0));
    sqlite3_reset(holder.get());
  }
  return merges;
}

/// Orders the rows of one merge: the survivor first. A row the dedup pass decided about wins
/// (its results stay valid), then the most recently scanned, then the newest id.
void order_by_survival(const Db& db, std::vector<int64_t>& ids) {
  Statement facts = db.prepare(
      "SELECT EXISTS (SELECT 1 FROM decisions WHERE file_id = ?1), scanned_at FROM files "
      "WHERE id = ?1");
  std::vector<std::tuple<bool, std::string, int64_t>> ranked;
  for (const int64_t id : ids) {
    sqlite3_bind_int64(facts.get(), 1, id);
    if (db.next_row(facts.get())) {
      ranked.emplace_back(sqlite3_column_int(facts.get(), 0) != 0,
                          column_text(facts.get(), 1), id);
    }
    sqlite3_reset(facts.get());
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a > b; });
  ids.clear();
  for (const auto& r : ranked) ids.push_back(std::get<2>(r));
}

/// Folds `loser` into `survivor`: its inferences and their detections follow it (those of a
/// model the survivor has an inference of go: the survivor's are kept), then its row goes.
void fold_into(const Db& db, int64_t loser, int64_t survivor) {
  for (const char* sql :
       {"DELETE FROM inferences WHERE file_id = ?1 AND model IN "
        "(SELECT model FROM inferences WHERE file_id = ?2)",
        "UPDATE detections SET file_id = ?2 WHERE file_id = ?1",
        "UPDATE inferences SET file_id = ?2 WHERE file_id = ?1",
        "DELETE FROM temp.vpipe_moves WHERE key = ?1",
        "DELETE FROM files WHERE id = ?1"}) {
    Statement stmt = db.prepare(sql);
    sqlite3_bind_int64(stmt.get(), 1, loser);
    if (sqlite3_bind_parameter_count(stmt.get()) > 1) sqlite3_bind_int64(stmt.get(), 2, survivor);
    db.run(stmt.get());
  }
}

/// Merges the file rows that name one file. Returns how many rows went. When a row that went
/// had dedup results, the survivor had some too (it is chosen so): those results counted one
/// file twice, so they are cleared (groups, decisions, reasons, near_pairs) for `vpipe dedup`
/// to recompute; `dedup_cleared` says so.
int64_t merge_files(const Db& db, bool& dedup_cleared) {
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
    sqlite3_bind_int64(in_dedup.get(), 1, loser);
    dedup_cleared = dedup_cleared ||
                    (db.next_row(in_dedup.get()) && sqlite3_column_int(in_dedup.get(), 0) != 0);
    sqlite3_reset(in_dedup.get());
  }
  if (dedup_cleared) {
    db.exec("DELETE FROM near_pairs; DELETE FROM reasons; DELETE FROM decisions; "
            "DELETE FROM groups;");
  }
  for (const auto& [loser, survivor] : folds) fold_into(db, loser, survivor);
  return static_cast<int64_t>(folds.size());
}

/// actions.source and actions.target, resolved as a pair.
int64_t rewrite_actions(const Db& db, PathRule& rule) {
  db.exec(
      "CREATE TEMP TABLE vpipe_action_moves (key INTEGER PRIMARY KEY, source TEXT NOT NULL, "
      "target TEXT NOT NULL)");
  Statement read = db.prepare("SELECT id, source, target FROM actions");
  Statement insert =
      db.prepare("INSERT INTO temp.vpipe_action_moves (key, source, target) VALUES (?1, ?2, ?3)");
  int64_t moved = 0;
  while (db.next_row(read.get())) {
    const std::string source = column_text(read.get(), 1);
    const std::string target = column_text(read.get(), 2);
    const auto [new_source, new_target] = rule.resolve_pair(source, target);
    if (new_source == source && new_target == target) continue;
    sqlite3_bind_int64(insert.get(), 1, sqlite3_column_int64(read.get(), 0));
    bind_text(insert.get(), 2, new_source);
    bind_text(insert.get(), 3, new_target);
    db.run(insert.get());
    moved += (new_source != source ? 1 : 0) + (new_target != target ? 1 : 0);
  }
  db.exec(
      "UPDATE actions SET "
      "source = (SELECT m.source FROM temp.vpipe_action_moves m WHERE m.key = actions.id), "
      "target = (SELECT m.target FROM temp.vpipe_action_moves m WHERE m.key = actions.id) "
      "WHERE id IN (SELECT key FROM temp.vpipe_action_moves)");
  db.exec("DROP TABLE temp.vpipe_action_moves");
  return moved;
}

}  // namespace

void make_stored_paths_absolute(sqlite3* handle, const std::string& name) {
  const Db db(handle, name);
  // Rows folded into another move their inferences and detections one statement at a time;
  // the foreign keys are checked once, at the migration's commit.
  db.exec("PRAGMA defer_foreign_keys = ON");
  PathRule rule(choose_bases(db, name));

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
    log().warn("manifest '{}': {} file rows named a file another row already named and were "
               "merged into it{}",
               name, merged,
               dedup_cleared ? "; the dedup results counted those files twice and were cleared: "
                               "run `vpipe dedup` again"
                             : "");
  }
}

}  // namespace vpipe::manifest_detail
