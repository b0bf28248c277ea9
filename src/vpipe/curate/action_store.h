#pragma once

// The action journal of the manifest (docs/MANIFEST.md `actions`): its row and the store that
// reads and writes it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vpipe {

class Manifest;
namespace manifest_detail {
class ManifestDb;
}  // namespace manifest_detail

/// One file operation of an action (`--move-rejects`...), journaled in table `actions` before it
/// is done so that `vpipe undo` can put it back even after a crash in the middle.
struct ActionRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string kind;    ///< "copy", "link" (hard link, or symlink where impossible) or "move"
  std::string source;  ///< the input file
  std::string target;  ///< where it went
  std::string state;   ///< "planned", "done", "failed", "undone"
  std::string error;
};

/// The journal of the file operations actions did (curate/actions.h). A view over the manifest's
/// connection: cheap to make, used like the Manifest it was made from (one thread at a time);
/// writes need one opened read-write.
///
///   ActionStore(manifest).actions("planned");
class ActionStore {
 public:
  explicit ActionStore(const Manifest& manifest);

  /// Journals an action as "planned" and commits, before the file operation is done; returns
  /// its id. `action.state` is ignored.
  int64_t plan_action(const ActionRecord& action);
  /// Records the outcome of a planned action: "done", "failed" (with `error`) or "undone".
  void set_action_state(int64_t id, std::string_view state, std::string_view error = {});
  /// Actions in journal order; only those in `state` when it is not empty.
  [[nodiscard]] std::vector<ActionRecord> actions(std::string_view state = {}) const;

 private:
  const manifest_detail::ManifestDb& db_;
};

}  // namespace vpipe
