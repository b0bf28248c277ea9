#include "vpipe/curate/action_store.h"

#include "vpipe/core/error.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/manifest_db.h"

namespace vpipe {

using manifest_detail::int_or_null;
using manifest_detail::now_utc_iso8601;
using manifest_detail::Statement;
using manifest_detail::text_or_null;

ActionStore::ActionStore(const Manifest& manifest) : db_(manifest.db()) {}

int64_t ActionStore::plan_action(const ActionRecord& action) {
  const std::string now = now_utc_iso8601();
  const int64_t run_id = action.run_id > 0 ? action.run_id : db_.current_run_id;
  db_.prepare(
         "INSERT INTO actions (run_id, kind, source, target, state, updated_at) "
         "VALUES (?1, ?2, ?3, ?4, 'planned', ?5)")
      .bind_all(int_or_null(run_id, run_id > 0), action.kind, action.source, action.target, now)
      .run("cannot journal an action");
  return db_.last_insert_rowid();
}

void ActionStore::set_action_state(int64_t id, std::string_view state, std::string_view error) {
  const std::string now = now_utc_iso8601();
  db_.prepare("UPDATE actions SET state = ?1, error = ?2, updated_at = ?3 WHERE id = ?4")
      .bind_all(state, text_or_null(error), now, id)
      .run("cannot update an action");
  if (db_.changes() == 0) {
    throw ManifestError("manifest '" + db_.name() + "': no action with id " + std::to_string(id));
  }
}

std::vector<ActionRecord> ActionStore::actions(std::string_view state) const {
  std::vector<ActionRecord> result;
  Statement stmt = db_.prepare(
      state.empty()
          ? "SELECT id, run_id, kind, source, target, state, error FROM actions ORDER BY id"
          : "SELECT id, run_id, kind, source, target, state, error FROM actions WHERE state = ?1 "
            "ORDER BY id");
  if (!state.empty()) stmt.bind(1, state);
  stmt.each_row("cannot read actions", [&](const Statement& row) {
    ActionRecord a;
    a.id = row.int64(0);
    a.run_id = row.int64(1);
    a.kind = row.text(2);
    a.source = row.text(3);
    a.target = row.text(4);
    a.state = row.text(5);
    a.error = row.text(6);
    result.push_back(std::move(a));
  });
  return result;
}

}  // namespace vpipe
