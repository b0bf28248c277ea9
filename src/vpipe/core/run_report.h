#pragma once

// What a pass measured of its stages (the engine fills it, the manifest stores it, the report and
// the CLI print it): plain data, in core so that none of them depends on another for it.

#include <cstdint>
#include <string>
#include <vector>

namespace vpipe {

/// Counters of one stage over a run. Times are summed over the stage's workers, nanoseconds.
struct StageMetrics {
  std::string name;
  int workers = 1;
  /// StageSpec::device: the device the stage's busy time is spent waiting on ("" = host cores).
  std::string device;
  uint64_t items_in = 0;
  uint64_t items_out = 0;
  uint64_t batches = 0;
  int64_t busy_ns = 0;         ///< inside the stage function (the source: producing items)
  int64_t wait_input_ns = 0;   ///< blocked on an empty input queue (or collecting a batch)
  int64_t wait_output_ns = 0;  ///< blocked on a full output queue (backpressure)
  /// batch_size_counts[k] = number of batches of size in [2^k, 2^(k+1)).
  std::vector<uint64_t> batch_size_counts;
  uint64_t max_batch_size = 0;

  /// busy_ns / (workers * wall): how much of its capacity the stage used, 0..1.
  [[nodiscard]] double utilization(int64_t wall_ns) const;
  [[nodiscard]] double mean_batch_size() const;
};

/// Metrics of a whole run and the engine's verdict on its bottleneck.
struct RunReport {
  std::vector<StageMetrics> stages;  ///< source first, in pipeline order
  int64_t wall_ns = 0;
  bool stopped = false;  ///< ended by RunOptions::stop rather than by running out of input
  /// The stages are steps that ran one after another (a pass that is not an engine pipeline):
  /// the table names the slowest step instead of a bottleneck between concurrent stages.
  bool sequential = false;
  /// Index in `stages` of the bottleneck: the stage with the highest utilization (busy while its
  /// neighbours wait on it). -1 for an empty run.
  int bottleneck = -1;

  /// A short table, one row per stage (items, busy %, waiting for input %, waiting for room %,
  /// mean batch); a line per device stage, "cuda:0 busy 87% of the run (stage 'infer')", where
  /// busy is the stage's busy time over the wall time, at most 100% (workers on one device
  /// overlap); then "bottleneck: <stage> (<why>)", which with a device stage also says whether
  /// the run is device-bound ("compute on cuda:0 bounds the run") or host-bound ("the host
  /// bounds the run; cuda:0 idles 60%"). For stderr or a report.
  [[nodiscard]] std::string format_table() const;
  /// The same figures as one JSON object (docs/CLI.md, "--json"): {"wall_seconds", "stopped",
  /// "bottleneck" (a stage name, or null), "stages": [{"name", "workers", "device" (or null),
  /// "items_in", "items_out", "busy_seconds", "wait_input_seconds", "wait_output_seconds",
  /// "utilization" (0..1)}]}.
  [[nodiscard]] std::string json() const;
};

}  // namespace vpipe
