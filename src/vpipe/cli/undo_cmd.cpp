#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/summaries.h"
#include "vpipe/core/json.h"
#include "vpipe/core/error.h"
#include "vpipe/curate/actions.h"
#include "vpipe/io/manifest.h"

namespace vpipe::cli {

void add_undo_command(CLI::App& app, int* exit_code) {
  auto db = std::make_shared<std::string>();
  auto no_wait = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("undo", "put back what actions moved and remove the copies and links they made, newest first");
  cmd->add_option("db", *db, "the manifest whose action journal to undo")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--no-wait", *no_wait, "when an action run holds the manifest, fail (exit 75) instead of waiting for it");
  cmd->add_flag("--json", *json, "print the summary as one JSON object on stdout, no text (docs/CLI.md)");
  cmd->callback([db, no_wait, json, exit_code] {
    // Ctrl-C during the wait ends the process: nothing has been touched yet.
    const FileLock lock = lock_actions(*db, !*no_wait, nullptr);
    Manifest manifest(*db);
    const UndoSummary s = undo_actions(manifest);
    *exit_code = s.failed > 0 ? 1 : 0;
    if (*json) {
      JsonObject undo;
      undo.add("restored", s.restored).add("removed", s.removed).add("skipped", s.skipped);
      undo.add("failed", s.failed).add("unscanned", s.unscanned);
      JsonObject o;
      o.add("command", "undo").add("manifest", json_path(*db)).add("undo", undo);
      fmt::print("{}\n", o.str());
      return;
    }
    fmt::print("undo: {} files moved back, {} copies/links removed, {} entries with nothing to undo",
               s.restored, s.removed, s.skipped);
    if (s.failed > 0) fmt::print(", {} could not be undone safely (see log)", s.failed);
    fmt::print("\n");
    if (s.unscanned > 0) {
      fmt::print("undo: {} of the files moved back were dropped by a scan after the move; scan "
                 "their folders again to judge them\n",
                 s.unscanned);
    }
  });
}

}  // namespace vpipe::cli
