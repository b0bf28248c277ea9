#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vpipe/engine/bounded_queue.h"
#include "vpipe/core/run_report.h"
#include "vpipe/engine/timing.h"
#include "vpipe/engine/trace.h"

namespace vpipe {
struct RunOptions;
}

namespace vpipe::detail {

class ProgressMonitor;
struct ProgressSample;

/// Counters of one worker thread (or of the source thread). Atomics are written by the owning
/// thread and read live by the progress monitor; the plain members are written by the owning
/// thread only and read after it is joined. Cache-line aligned so workers do not share lines.
struct alignas(64) WorkerSlot {
  std::atomic<uint64_t> items_in{0};
  std::atomic<uint64_t> items_out{0};
  std::atomic<uint64_t> batches{0};
  StateTimer busy;
  StateTimer wait_input;
  StateTimer wait_output;
  std::array<uint64_t, 64> batch_size_counts{};  ///< [k]: batches of size in [2^k, 2^(k+1))
  uint64_t max_batch_size = 0;
  std::deque<TraceSpan> trace;
};

/// The part of Pipeline<T> that does not depend on the item type: stage bookkeeping, threads,
/// metrics, the first fatal error, the stop flag, progress and trace. Pipeline<T> (pipeline.h)
/// owns the typed queues and worker loops and calls into this.
///
/// Thread safety: setup, begin_run, register_queue, spawn, finish_run and write_chrome_trace
/// from the thread that owns the pipeline; the rest from pipeline threads.
class PipelineCore {
 public:
  PipelineCore();
  ~PipelineCore();
  PipelineCore(const PipelineCore&) = delete;
  PipelineCore& operator=(const PipelineCore&) = delete;

  void set_source(std::string name);
  /// Throws ConfigError for an empty name or fewer than one worker.
  void add_stage(std::string name, int workers, std::string device = {});
  [[nodiscard]] bool has_source() const { return has_source_; }

  // --- one run, from the owning thread ---
  /// Resets the counters and starts progress. Throws ConfigError when no source is set.
  void begin_run(const RunOptions& options);
  /// `queue` is aborted when the run fails; it must outlive finish_run().
  void register_queue(QueueBase* queue);
  /// Starts a pipeline thread. An exception escaping `body` fails the run.
  void spawn(std::function<void()> body);
  /// Joins every thread, stops progress, and returns the report; rethrows the first fatal
  /// error instead if there was one.
  RunReport finish_run();

  // --- from pipeline threads ---
  [[nodiscard]] WorkerSlot& slot(size_t stage, int worker) { return *stages_[stage].slots[worker]; }

  /// Records the first fatal error and tears the run down: every queue is aborted.
  void fail(std::exception_ptr error) noexcept;

  /// For the source's emit: true when it must stop taking input (the stop flag is set, or the
  /// run failed). Notes that the run was stopped.
  [[nodiscard]] bool source_should_stop() {
    if (failed_.load(std::memory_order_relaxed)) return true;
    if (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) {
      stopped_.store(true, std::memory_order_relaxed);
      return true;
    }
    return false;
  }

  void source_begin() { source_start_ns_.store(now_ns(), std::memory_order_relaxed); }
  void source_end() { source_end_ns_.store(now_ns(), std::memory_order_relaxed); }

  [[nodiscard]] bool tracing() const { return trace_; }

  /// Held while a worker factory runs, so that factories are called one at a time.
  [[nodiscard]] std::mutex& factory_mutex() { return factory_mu_; }

  /// After a worker ran a batch of `items` from `start` to `end` (now_ns()).
  void record_batch(WorkerSlot& slot, int64_t start, int64_t end, size_t items) {
    slot.busy.end(end);
    slot.batches.fetch_add(1, std::memory_order_relaxed);
    // Batches hold at least one item; `| 1` keeps the bucket of n >= 1 and stays in bounds.
    ++slot.batch_size_counts[std::bit_width(items | 1) - 1];
    slot.max_batch_size = std::max<uint64_t>(slot.max_batch_size, items);
    if (trace_) record_span(slot, start, end, items);
  }

  /// Adds a span to the slot's trace unless the run's cap is reached.
  void record_span(WorkerSlot& slot, int64_t start, int64_t end, size_t items) {
    if (trace_spans_.fetch_add(1, std::memory_order_relaxed) >= kMaxTraceSpans) return;
    slot.trace.push_back(TraceSpan{start, end - start, static_cast<uint32_t>(items)});
  }

  /// Writes the trace of the last run (see pipeline.h).
  void write_chrome_trace(const std::string& path) const;

 private:
  struct Stage {
    std::string name;
    int workers = 1;
    std::vector<std::unique_ptr<WorkerSlot>> slots;
    std::string device;  ///< StageSpec::device
  };

  [[nodiscard]] ProgressSample sample(int64_t now) const;
  [[nodiscard]] int64_t source_busy_ns(int64_t now) const;
  [[nodiscard]] RunReport build_report(int64_t end_ns) const;

  std::vector<Stage> stages_;  // [0] is the source
  bool has_source_ = false;

  // Per run.
  const std::atomic<bool>* stop_ = nullptr;
  bool trace_ = false;
  int64_t run_start_ns_ = 0;
  std::atomic<int64_t> source_start_ns_{0};
  std::atomic<int64_t> source_end_ns_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> trace_spans_{0};
  std::mutex factory_mu_;
  std::mutex error_mu_;
  std::exception_ptr first_error_;  // guarded by error_mu_
  std::vector<QueueBase*> queues_;  // set before any thread starts; read by fail()
  std::vector<std::thread> threads_;
  std::unique_ptr<ProgressMonitor> progress_;
};

}  // namespace vpipe::detail
