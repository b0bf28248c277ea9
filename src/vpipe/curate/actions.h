#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "vpipe/io/file_lock.h"

namespace vpipe {

class Manifest;

/// What to do with the files after a dedup pass (`actions:` in the pipeline config, the
/// `--copy-keepers`... options). Nothing is ever deleted: rejects and duplicates are moved, and
/// every operation is journaled in the manifest so `vpipe undo` can put it back.
/// An empty directory switches that action off; a relative one is resolved against the current
/// directory when the actions run, and the journal stores absolute sources and targets, so undo
/// works from any directory.
struct ActionOptions {
  std::string copy_keepers;     ///< copy every kept file here
  std::string link_keepers;     ///< hard-link every kept file here (symlink when it cannot)
  std::string move_rejects;     ///< move every rejected file here
  std::string move_duplicates;  ///< move every duplicate (non-keeper group member) here
  const std::atomic<bool>* stop = nullptr;  ///< SIGINT/SIGTERM: finish the file at hand, stop
};

struct ActionSummary {
  int64_t copied = 0;
  int64_t hardlinked = 0;
  int64_t symlinked = 0;
  int64_t moved = 0;
  int64_t already_done = 0;  ///< target already there with the same bytes (a rerun)
  int64_t recovered = 0;     ///< operations a crashed run left half done, finished now
  int64_t changed = 0;       ///< changed since the scan (size, mtime, or for moves the bytes): left alone
  int64_t failed = 0;        ///< see the log and the journal's error column
  bool stopped = false;
};

/// Where `source` goes under `dir`: the source path's components mirrored below it (an
/// absolute path loses its leading '/', '..' becomes '_up_', '.' is dropped), so two inputs
/// never map to the same target and the layout stays recognisable.
[[nodiscard]] std::filesystem::path action_target(const std::filesystem::path& dir,
                                                  const std::string& source);

/// The lock file that keeps action runs on the manifest `db` apart: `<db>-actions.lock`.
[[nodiscard]] std::filesystem::path action_lock_path(const std::filesystem::path& db);

/// Takes the action lock of the manifest `db`, for a run that acts on files (from before the
/// dedup pass whose decisions it carries out to the end of its actions) or an undo: two such
/// runs on one manifest would each move and copy the same files. Waits for another holder
/// (logging once who it waits for) unless `wait` is false, then throws LockBusy naming the lock
/// and the holder's pid. `stop` ends a wait: the returned lock is then not held().
[[nodiscard]] FileLock lock_actions(const std::filesystem::path& db, bool wait,
                                    const std::atomic<bool>* stop);

/// Carries out the configured actions on the decisions of the last dedup pass. Each file
/// operation is journaled as planned (committed) before it starts and marked done after; every
/// write goes to a temporary name in the target directory and is renamed into place, so a crash
/// leaves no half-written file under a final name. Operations a crashed earlier run left
/// planned are finished or rolled back first. Never overwrites an existing different file
/// (that operation fails with a reason). Throws vpipe::Error only for what ends the run (an
/// action directory that cannot be created). The caller holds lock_actions() for the run.
ActionSummary run_actions(Manifest& manifest, const ActionOptions& options);

struct UndoSummary {
  int64_t restored = 0;  ///< moved files put back
  /// Of those, files without a row: a scan after the move removed it. Scan again to judge them.
  int64_t unscanned = 0;
  int64_t removed = 0;   ///< copies and links taken away
  int64_t skipped = 0;   ///< nothing to undo (never done, or already undone)
  int64_t failed = 0;    ///< could not be undone safely: see the log
};

/// Reverses every journaled action, newest first: moves go back to their source path, copies
/// and links made by vpipe are removed (only when they are still what vpipe wrote). Planned
/// operations of a crashed run are resolved by looking at the files. Safe to repeat. The caller
/// holds lock_actions().
UndoSummary undo_actions(Manifest& manifest);

}  // namespace vpipe
