#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "vpipe/io/manifest.h"

namespace vpipe {

/// One pass's run in the manifest's `runs` table (docs/MANIFEST.md), from its start to its end,
/// written in one place for every pass: made when the pass starts (a `runs` row, outcome empty),
/// ended by finish() as `completed`, or `interrupted` when the pass was stopped. Destroyed without
/// finish(), which is what an exception on its way out of the pass does, the run is recorded as
/// `failed` with the counts counts_from() gives at that moment; an error while recording that is
/// logged, never thrown, so the caller sees the pass's own exception.
///
/// Not thread-safe: made, finished and destroyed on the pass's thread. The counts source is called
/// only from the destructor, after the pass's stages have stopped.
class RunScope {
 public:
  RunScope(Manifest& manifest, std::string_view command, std::string_view config_json,
           std::string_view device);
  ~RunScope();
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

  [[nodiscard]] int64_t id() const { return id_; }

  /// What to record as the counts of a failed run (the pass's figures so far). Default: none.
  void counts_from(std::function<std::map<std::string, int64_t>()> source);

  /// Stores the engine's per-stage figures of `pass` ("scan", "dedup", "infer:<model>", ...).
  void record_stages(std::string_view pass, const RunReport& report);

  /// Ends the run: `interrupted` when `stopped`, else `completed`, with `counts`; then
  /// checkpoints the manifest's write-ahead log. Throws what the manifest throws (the run then
  /// stays open and the destructor records it as failed).
  void finish(bool stopped, const std::map<std::string, int64_t>& counts);

 private:
  Manifest& manifest_;
  int64_t id_ = 0;
  bool ended_ = false;
  std::function<std::map<std::string, int64_t>()> failure_counts_;
};

}  // namespace vpipe
