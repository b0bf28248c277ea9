#include "vpipe/engine/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>

#include "vpipe/core/log.h"

namespace vpipe::detail {

namespace {

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
}

}  // namespace

std::string format_progress_line(const ProgressSample& oldest, const ProgressSample& newest,
                                 const ProgressStages& stages, int64_t expected_total) {
  const double window_s = static_cast<double>(newest.time_ns - oldest.time_ns) / 1e9;
  const double rate =
      window_s > 0 ? static_cast<double>(newest.items_done - oldest.items_done) / window_s : 0.0;
  std::string line = expected_total >= 0
                         ? fmt::format("vpipe: {}/{} {}, {:.1f} {}/s", newest.items_done,
                                       expected_total, stages.unit, rate, stages.unit)
                         : fmt::format("vpipe: {} {}, {:.1f} {}/s", newest.items_done, stages.unit, rate,
                                       stages.unit);
  if (expected_total >= 0) {
    const auto left = expected_total - static_cast<int64_t>(newest.items_done);
    if (left <= 0) {
      line += ", ETA 0:00:00";
    } else if (rate > 0) {
      line += ", ETA " + format_duration(static_cast<double>(left) / rate);
    } else {
      line += ", ETA --";
    }
  }
  int busiest = -1;
  double busiest_utilization = -1;
  const size_t n = std::min({stages.names.size(), oldest.busy_ns.size(), newest.busy_ns.size()});
  for (size_t i = 0; i < n && window_s > 0; ++i) {
    const double capacity_ns =
        static_cast<double>(newest.time_ns - oldest.time_ns) * std::max(stages.workers[i], 1);
    const double utilization =
        static_cast<double>(newest.busy_ns[i] - oldest.busy_ns[i]) / capacity_ns;
    if (utilization > busiest_utilization) {
      busiest_utilization = utilization;
      busiest = static_cast<int>(i);
    }
  }
  if (busiest >= 0) {
    line += fmt::format(", bottleneck: {} ({:.0f}% busy)", stages.names[busiest],
                        100.0 * std::clamp(busiest_utilization, 0.0, 1.0));
  }
  return line;
}

std::string format_final_progress_line(const RunReport& report, const std::string& unit) {
  const uint64_t done = report.stages.empty() ? 0 : report.stages.back().items_out;
  const double wall_s = static_cast<double>(report.wall_ns) / 1e9;
  std::string line =
      fmt::format("vpipe: {} {} in {}, {:.1f} {}/s", done, unit, format_duration(wall_s),
                  wall_s > 0 ? static_cast<double>(done) / wall_s : 0.0, unit);
  if (report.stopped) line += " (stopped)";
  if (report.bottleneck >= 0) {
    const StageMetrics& stage = report.stages[report.bottleneck];
    line += fmt::format(", bottleneck: {} ({:.0f}% busy)", stage.name,
                        100.0 * std::clamp(stage.utilization(report.wall_ns), 0.0, 1.0));
  }
  return line;
}

ProgressMonitor::ProgressMonitor(std::ostream& out, ProgressStages stages,
                                 std::function<int64_t()> expected_total,
                                 std::function<ProgressSample()> sample,
                                 std::chrono::milliseconds period)
    : out_(out),
      stages_(std::move(stages)),
      expected_total_(std::move(expected_total)),
      sample_(std::move(sample)),
      period_(period) {
  window_.push_back(sample_());
  thread_ = std::thread([this] { loop(); });
}

ProgressMonitor::~ProgressMonitor() { stop(); }

void ProgressMonitor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProgressMonitor::print_final(const RunReport& report) {
  draw(format_final_progress_line(report, stages_.unit), true);
}

void ProgressMonitor::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (wake_.wait_for(lock, period_, [this] { return stopping_; })) return;
    lock.unlock();
    try {
      window_.push_back(sample_());
      while (window_.size() > 2 && window_.back().time_ns - window_[1].time_ns >= kWindowNs) {
        window_.pop_front();
      }
      const int64_t expected = expected_total_ ? expected_total_() : -1;
      draw(format_progress_line(window_.front(), window_.back(), stages_, expected), false);
    } catch (const std::exception& e) {
      // Progress is cosmetic: a failing expected_total callback must not end the run.
      log().warn("progress display stopped: {}", e.what());
      return;
    }
    lock.lock();
  }
}

void ProgressMonitor::draw(const std::string& line, bool final) {
  // Pad with spaces to wipe what is left of a longer previous line.
  const size_t pad = last_line_length_ > line.size() ? last_line_length_ - line.size() : 0;
  out_ << '\r' << line << std::string(pad, ' ');
  if (final) out_ << '\n';
  out_.flush();
  last_line_length_ = final ? 0 : line.size();
}

}  // namespace vpipe::detail
