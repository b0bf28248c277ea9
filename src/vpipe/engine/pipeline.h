#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/engine/bounded_queue.h"
#include "vpipe/core/run_report.h"
#include "vpipe/engine/pipeline_core.h"
#include "vpipe/engine/timing.h"

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
  BatchPolicy batch{};
  size_t queue_capacity = 0;
  /// Where the stage's work runs when not on the host's cores ("cuda:0"), or empty. Its workers
  /// then wait on that device inside the stage function, so their busy time is the device's:
  /// the run report shows it as the device's busy share and says whether the device or the host
  /// bounds the run.
  std::string device{};
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
  /// What the progress line calls an item, plural ("files", "frames").
  std::string unit = "items";
};

namespace detail {
class PipelineCore;  // type-erased engine (pipeline_core.h, pipeline.cpp)
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
/// function is only ever called by the worker that created it). Worker factories are called on
/// the worker threads, one at a time.
///
/// Memory: each stage's input queue holds at most StageSpec::queue_capacity items (default
/// 2 * workers * max_batch), plus one batch per worker in hand; items are moved, never copied.
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

  /// Sets the source (stage 0). Throws ConfigError for an empty name or function.
  void set_source(std::string name, SourceFn source);
  /// Appends a stage. Throws ConfigError for an empty name or factory, workers < 1, max_batch
  /// outside 1..kMaxBatch, or a negative max_delay.
  void add_stage(StageSpec spec, WorkerFactory make_worker);

  /// Largest accepted BatchPolicy::max_batch (queues are sized from it).
  static constexpr size_t kMaxBatch = size_t{1} << 20;

  /// Runs to completion (source exhausted and every item through), until stopped, or until a
  /// fatal error (rethrown). Returns the metrics of every stage, source first.
  RunReport run(const RunOptions& options = {});

  /// Writes the trace of the last run (RunOptions::trace) as Chrome trace-event JSON, loadable
  /// in chrome://tracing and Perfetto. Throws IoError when the file cannot be written.
  void write_chrome_trace(const std::string& path) const;

 private:
  struct Stage {
    StageSpec spec;
    WorkerFactory make_worker;
  };
  using Queue = detail::BoundedQueue<T>;

  void run_source(Queue* out);
  void run_worker(size_t stage, int worker, Queue& in, Queue* out, std::atomic<int>& remaining);

  std::unique_ptr<detail::PipelineCore> core_;
  SourceFn source_;
  std::vector<Stage> stages_;  // without the source
};

// ---- implementation -------------------------------------------------------------------------

template <PipelineItem T>
Pipeline<T>::Pipeline() : core_(std::make_unique<detail::PipelineCore>()) {}

template <PipelineItem T>
Pipeline<T>::~Pipeline() = default;

template <PipelineItem T>
void Pipeline<T>::set_source(std::string name, SourceFn source) {
  if (!source) throw ConfigError("pipeline source '" + name + "' has no function");
  core_->set_source(std::move(name));
  source_ = std::move(source);
}

template <PipelineItem T>
void Pipeline<T>::add_stage(StageSpec spec, WorkerFactory make_worker) {
  if (!make_worker) throw ConfigError("stage '" + spec.name + "' has no worker factory");
  if (spec.batch.max_batch < 1 || spec.batch.max_batch > kMaxBatch) {
    throw ConfigError("stage '" + spec.name + "' has max_batch " +
                      std::to_string(spec.batch.max_batch) + ", outside 1.." +
                      std::to_string(kMaxBatch));
  }
  if (spec.batch.max_delay.count() < 0) {
    throw ConfigError("stage '" + spec.name + "' has a negative max_delay");
  }
  core_->add_stage(spec.name, spec.workers, spec.device);
  stages_.push_back(Stage{std::move(spec), std::move(make_worker)});
}

template <PipelineItem T>
RunReport Pipeline<T>::run(const RunOptions& options) {
  detail::PipelineCore& core = *core_;
  core.begin_run(options);
  // Declared before the threads start and destroyed after finish_run() has joined them.
  std::vector<std::unique_ptr<Queue>> queues;     // queues[i]: the input of stages_[i]
  std::unique_ptr<std::atomic<int>[]> remaining;  // per stage: workers still running
  try {
    for (const Stage& stage : stages_) {
      const BatchPolicy& batch = stage.spec.batch;
      const size_t capacity = stage.spec.queue_capacity != 0
                                  ? stage.spec.queue_capacity
                                  : 2 * static_cast<size_t>(stage.spec.workers) * batch.max_batch;
      queues.push_back(std::make_unique<Queue>(capacity, batch.max_batch, batch.max_delay));
      core.register_queue(queues.back().get());
    }
    remaining = std::make_unique<std::atomic<int>[]>(stages_.size());
    for (size_t i = 0; i < stages_.size(); ++i) remaining[i].store(stages_[i].spec.workers);
    for (size_t i = 0; i < stages_.size(); ++i) {
      Queue* out = i + 1 < queues.size() ? queues[i + 1].get() : nullptr;
      for (int w = 0; w < stages_[i].spec.workers; ++w) {
        core.spawn([this, i, w, in = queues[i].get(), out, left = &remaining[i]] {
          run_worker(i, w, *in, out, *left);
        });
      }
    }
    Queue* first = queues.empty() ? nullptr : queues.front().get();
    core.spawn([this, first] { run_source(first); });
  } catch (...) {
    core.fail(std::current_exception());
  }
  return core.finish_run();
}

template <PipelineItem T>
void Pipeline<T>::write_chrome_trace(const std::string& path) const {
  core_->write_chrome_trace(path);
}

template <PipelineItem T>
void Pipeline<T>::run_source(Queue* out) {
  detail::PipelineCore& core = *core_;
  detail::WorkerSlot& slot = core.slot(0, 0);
  const bool tracing = core.tracing();
  // The source is traced in spans of production, cut where it blocks on a full queue or every
  // kSpanNs, rather than one span per item.
  constexpr int64_t kSpanNs = 10'000'000;
  constexpr int64_t kBlockedNs = 50'000;
  core.source_begin();
  int64_t span_start = detail::now_ns();
  size_t span_items = 0;
  const Emit emit = [&](T&& item) -> bool {
    if (core.source_should_stop()) return false;
    const int64_t before = tracing ? detail::now_ns() : 0;
    if (out != nullptr && !out->push(std::move(item), &slot.wait_output)) return false;
    slot.items_in.fetch_add(1, std::memory_order_relaxed);
    slot.items_out.fetch_add(1, std::memory_order_relaxed);
    if (tracing) {
      ++span_items;
      const int64_t after = detail::now_ns();
      if (after - before > kBlockedNs || before - span_start >= kSpanNs) {
        core.record_span(slot, span_start, before, span_items);
        span_start = after;
        span_items = 0;
      }
    }
    return true;
  };
  try {
    source_(emit);
  } catch (...) {
    core.fail(std::current_exception());
  }
  if (tracing && span_items > 0) core.record_span(slot, span_start, detail::now_ns(), span_items);
  core.source_end();
  if (out != nullptr) out->close();
}

template <PipelineItem T>
void Pipeline<T>::run_worker(size_t stage, int worker, Queue& in, Queue* out,
                             std::atomic<int>& remaining) {
  detail::PipelineCore& core = *core_;
  try {
    detail::WorkerSlot& slot = core.slot(stage + 1, worker);
    StageFn fn;
    {
      std::lock_guard lock(core.factory_mutex());
      fn = stages_[stage].make_worker(worker);
    }
    if (!fn) {
      throw ConfigError("stage '" + stages_[stage].spec.name + "' made an empty stage function");
    }
    std::vector<T> batch;
    batch.reserve(std::min(stages_[stage].spec.batch.max_batch, in.capacity()));
    while (in.pop_batch(batch, &slot.wait_input)) {
      slot.items_in.fetch_add(batch.size(), std::memory_order_relaxed);
      const int64_t start = detail::now_ns();
      slot.busy.begin(start);
      try {
        fn(std::span<T>(batch));
      } catch (const ItemError& e) {
        for (T& item : batch) item.fail(e.what());
      }
      core.record_batch(slot, start, detail::now_ns(), batch.size());
      // Past the last stage items are dropped.
      if (out != nullptr && !out->push_all(std::span<T>(batch), &slot.wait_output)) break;
      slot.items_out.fetch_add(batch.size(), std::memory_order_relaxed);
      batch.clear();
    }
  } catch (...) {
    core.fail(std::current_exception());
  }
  if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1 && out != nullptr) out->close();
}

}  // namespace vpipe
