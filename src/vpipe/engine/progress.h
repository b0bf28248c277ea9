#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "vpipe/core/run_report.h"

namespace vpipe::detail {

/// A live reading of a running pipeline.
struct ProgressSample {
  int64_t time_ns = 0;           ///< now_ns() when taken
  uint64_t items_done = 0;       ///< items out of the last stage
  std::vector<int64_t> busy_ns;  ///< per stage, source first, summed over workers
};

/// Names and worker counts of the stages, source first.
struct ProgressStages {
  std::vector<std::string> names;
  std::vector<int> workers;
  std::string unit = "items";  ///< plural noun for an item in progress lines
};

/// One progress line from two readings (`oldest` before `newest`) of a window: items done,
/// items/s over the window, the ETA when `expected_total` >= 0, and the stage busiest over the
/// window (busy time / (workers * window)), which is the current bottleneck.
[[nodiscard]] std::string format_progress_line(const ProgressSample& oldest,
                                               const ProgressSample& newest,
                                               const ProgressStages& stages,
                                               int64_t expected_total);

/// The closing line of a run: items done, mean items/s, wall time, the run's bottleneck.
[[nodiscard]] std::string format_final_progress_line(const RunReport& report,
                                                     const std::string& unit = "items");

/// Redraws a progress line on `out` every `period` on its own thread ("\r", no newline), over a
/// window of the last few seconds. stop() ends the thread; print_final() then closes the line.
/// Thread safety: `sample` and `expected_total` are called on the monitor's thread; `out` is
/// written only by it until stop() returns, then by the caller of print_final().
class ProgressMonitor {
 public:
  ProgressMonitor(std::ostream& out, ProgressStages stages, std::function<int64_t()> expected_total,
                  std::function<ProgressSample()> sample,
                  std::chrono::milliseconds period = std::chrono::milliseconds(500));
  ~ProgressMonitor();
  ProgressMonitor(const ProgressMonitor&) = delete;
  ProgressMonitor& operator=(const ProgressMonitor&) = delete;

  void stop();
  void print_final(const RunReport& report);

 private:
  void loop();
  void draw(const std::string& line, bool final);

  static constexpr int64_t kWindowNs = 5'000'000'000;

  std::ostream& out_;
  const ProgressStages stages_;
  const std::function<int64_t()> expected_total_;
  const std::function<ProgressSample()> sample_;
  const std::chrono::milliseconds period_;
  std::deque<ProgressSample> window_;  // monitor thread only
  size_t last_line_length_ = 0;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vpipe::detail
