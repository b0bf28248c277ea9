#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "vpipe/engine/metrics.h"

namespace vpipe {

/// When a stage's batch leaves: as soon as `max_batch` items are waiting, or when the oldest
/// waiting item has waited `max_delay`, whichever comes first. The batcher keeps collecting while
/// the previous batch runs. max_batch 1 = no batching.
struct BatchPolicy {
  size_t max_batch = 1;
  std::chrono::microseconds max_delay{0};
};

/// What a stage is: its name (used in metrics, progress and traces), how many worker threads run
/// it, how it batches, and how many items its input queue holds (0 = 2 * workers * max_batch).
struct StageSpec {
  std::string name;
  int workers = 1;
  BatchPolicy batch;
  size_t queue_capacity = 0;
};

/// An item type the engine can carry: movable, and able to record a per-item failure so that it
/// flows on with that status instead of stopping the run.
template <class T>
concept PipelineItem = std::movable<T> && requires(T item, std::string message) {
  item.fail(std::move(message));
};

/// Options for one run of a pipeline.
struct RunOptions {
  /// When it becomes true (e.g. set by a SIGINT handler), the source stops taking input; items
  /// already in flight finish and reach the last stage. Not owned; may be null.
  const std::atomic<bool>* stop = nullptr;
  /// Live progress on this stream (stderr in the CLI), redrawn about twice a second: items/s,
  /// ETA, the current bottleneck. Null: no progress.
  std::ostream* progress = nullptr;
  /// Expected number of items the last stage will see, for the ETA; return < 0 when unknown.
  /// Called from the progress thread. May be empty.
  std::function<int64_t()> expected_total;
  /// Record a span per batch per worker, for write_chrome_trace.
  bool trace = false;
};

namespace detail {
class PipelineCore;  // type-erased engine (pipeline.cpp)
}

/// A chain of stages joined by bounded queues (DESIGN.md, "The engine"). Stage 0 is the source
/// (one thread, pushes items through `emit`); every other stage pulls batches from its input
/// queue, works on them in place, and passes them on; items leaving the last stage are dropped.
///
/// Errors: a stage that throws vpipe::ItemError fails every item of that batch (item.fail) and
/// they flow on. Any other exception is fatal: the engine stops the source, closes every queue,
/// joins its threads and rethrows the first such exception from run().
///
/// Thread safety: build and run from one thread; stage functions run on worker threads (a stage
/// function is only ever called by the worker that created it).
template <PipelineItem T>
class Pipeline {
 public:
  /// Pushes one item downstream; blocks while the next queue is full (backpressure). Returns
  /// false when the run is stopping and the source should return.
  using Emit = std::function<bool(T&&)>;
  using SourceFn = std::function<void(const Emit&)>;
  /// Works on a batch in place (1..max_batch items).
  using StageFn = std::function<void(std::span<T>)>;
  /// Called once on each worker thread, with the worker's index, to make that worker's stage
  /// function: per-worker state (a decoder, a model handle, scratch) lives in its captures.
  using WorkerFactory = std::function<StageFn(int worker_index)>;

  Pipeline();
  ~Pipeline();

  void set_source(std::string name, SourceFn source);
  void add_stage(StageSpec spec, WorkerFactory make_worker);

  /// Runs to completion (source exhausted and every item through), until stopped, or until a
  /// fatal error (rethrown). Returns the metrics of every stage, source first.
  RunReport run(const RunOptions& options = {});

  /// Writes the trace of the last run (RunOptions::trace) as Chrome trace-event JSON, loadable
  /// in chrome://tracing and Perfetto. Throws IoError when the file cannot be written.
  void write_chrome_trace(const std::string& path) const;

 private:
  std::unique_ptr<detail::PipelineCore> core_;
};

}  // namespace vpipe
