#include "vpipe/engine/pipeline.h"

#include <fmt/format.h>

#include <system_error>
#include <utility>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/engine/progress.h"

namespace vpipe::detail {

PipelineCore::PipelineCore() { stages_.push_back(Stage{"source", 1, {}, {}}); }

PipelineCore::~PipelineCore() {
  // finish_run() joins every thread; this only matters if run() itself was torn down oddly.
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void PipelineCore::set_source(std::string name) {
  if (name.empty()) throw ConfigError("pipeline source needs a name");
  stages_[0].name = std::move(name);
  has_source_ = true;
}

void PipelineCore::add_stage(std::string name, int workers, std::string device) {
  if (name.empty()) throw ConfigError("pipeline stage needs a name");
  if (workers < 1) {
    throw ConfigError(fmt::format("stage '{}' needs at least one worker, not {}", name, workers));
  }
  stages_.push_back(Stage{std::move(name), workers, {}, std::move(device)});
}

void PipelineCore::begin_run(const RunOptions& options) {
  if (!has_source_) throw ConfigError("pipeline has no source: call set_source before run");
  for (Stage& stage : stages_) {
    stage.slots.clear();
    for (int w = 0; w < stage.workers; ++w) stage.slots.push_back(std::make_unique<WorkerSlot>());
  }
  stop_ = options.stop;
  trace_ = options.trace;
  source_start_ns_.store(0, std::memory_order_relaxed);
  source_end_ns_.store(0, std::memory_order_relaxed);
  stopped_.store(false, std::memory_order_relaxed);
  failed_.store(false, std::memory_order_relaxed);
  trace_spans_.store(0, std::memory_order_relaxed);
  first_error_ = nullptr;
  queues_.clear();
  run_start_ns_ = now_ns();
  if (options.progress != nullptr) {
    ProgressStages names;
    for (const Stage& stage : stages_) {
      names.names.push_back(stage.name);
      names.workers.push_back(stage.workers);
    }
    names.unit = options.unit;
    progress_ = std::make_unique<ProgressMonitor>(*options.progress, std::move(names),
                                                  options.expected_total,
                                                  [this] { return sample(now_ns()); });
  }
}

void PipelineCore::register_queue(QueueBase* queue) { queues_.push_back(queue); }

void PipelineCore::spawn(std::function<void()> body) {
  threads_.emplace_back([this, body = std::move(body)] {
    try {
      body();
    } catch (...) {
      fail(std::current_exception());
    }
  });
}

void PipelineCore::fail(std::exception_ptr error) noexcept {
  std::lock_guard lock(error_mu_);
  if (failed_.exchange(true)) return;
  first_error_ = std::move(error);
  for (QueueBase* queue : queues_) queue->abort();
}

RunReport PipelineCore::finish_run() {
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  const int64_t end = now_ns();
  queues_.clear();
  if (progress_) progress_->stop();
  RunReport report = build_report(end);
  if (progress_) {
    progress_->print_final(report);
    progress_.reset();
  }
  if (first_error_) {
    std::exception_ptr error = std::exchange(first_error_, nullptr);
    std::rethrow_exception(error);
  }
  return report;
}

int64_t PipelineCore::source_busy_ns(int64_t now) const {
  const int64_t start = source_start_ns_.load(std::memory_order_relaxed);
  if (start == 0) return 0;
  const int64_t end = source_end_ns_.load(std::memory_order_relaxed);
  const int64_t elapsed = (end != 0 ? end : now) - start;
  // The source is producing whenever it is not blocked handing an item on.
  return std::max<int64_t>(elapsed - stages_[0].slots[0]->wait_output.live(now), 0);
}

ProgressSample PipelineCore::sample(int64_t now) const {
  ProgressSample out;
  out.time_ns = now;
  out.busy_ns.reserve(stages_.size());
  out.busy_ns.push_back(source_busy_ns(now));
  for (size_t i = 1; i < stages_.size(); ++i) {
    int64_t busy = 0;
    for (const auto& slot : stages_[i].slots) busy += slot->busy.live(now);
    out.busy_ns.push_back(busy);
  }
  for (const auto& slot : stages_.back().slots) {
    out.items_done += slot->items_out.load(std::memory_order_relaxed);
  }
  return out;
}

RunReport PipelineCore::build_report(int64_t end_ns) const {
  RunReport report;
  report.wall_ns = end_ns - run_start_ns_;
  report.stopped = stopped_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& stage = stages_[i];
    StageMetrics m;
    m.name = stage.name;
    m.workers = stage.workers;
    m.device = stage.device;
    std::array<uint64_t, 64> counts{};
    for (const auto& slot : stage.slots) {
      m.items_in += slot->items_in.load(std::memory_order_relaxed);
      m.items_out += slot->items_out.load(std::memory_order_relaxed);
      m.batches += slot->batches.load(std::memory_order_relaxed);
      m.busy_ns += slot->busy.total();
      m.wait_input_ns += slot->wait_input.total();
      m.wait_output_ns += slot->wait_output.total();
      m.max_batch_size = std::max(m.max_batch_size, slot->max_batch_size);
      for (size_t k = 0; k < counts.size(); ++k) counts[k] += slot->batch_size_counts[k];
    }
    if (i == 0) m.busy_ns = source_busy_ns(end_ns);
    size_t used = counts.size();
    while (used > 0 && counts[used - 1] == 0) --used;
    m.batch_size_counts.assign(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(used));
    report.stages.push_back(std::move(m));
  }
  // An empty run (nothing emitted) has no bottleneck.
  if (report.wall_ns > 0 && report.stages[0].items_out > 0) {
    double best = -1;
    for (size_t i = 0; i < report.stages.size(); ++i) {
      const double u = report.stages[i].utilization(report.wall_ns);
      if (u > best) {
        best = u;
        report.bottleneck = static_cast<int>(i);
      }
    }
  }
  return report;
}

void PipelineCore::write_chrome_trace(const std::string& path) const {
  std::vector<TraceThread> threads;
  int tid = 1;
  for (const Stage& stage : stages_) {
    for (size_t w = 0; w < stage.slots.size(); ++w) {
      std::string thread_name =
          stage.workers == 1 ? stage.name : fmt::format("{}#{}", stage.name, w);
      threads.push_back(
          TraceThread{tid++, std::move(thread_name), stage.name, &stage.slots[w]->trace});
    }
  }
  const int64_t recorded = trace_spans_.load(std::memory_order_relaxed);
  const uint64_t dropped =
      recorded > kMaxTraceSpans ? static_cast<uint64_t>(recorded - kMaxTraceSpans) : 0;
  if (dropped > 0) {
    log().warn("trace: kept the first {} spans, dropped {} (cap on trace memory)", kMaxTraceSpans,
               dropped);
  }
  write_chrome_trace_file(path, threads, run_start_ns_, dropped);
}

}  // namespace vpipe::detail
