#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace vpipe::detail {

/// Monotonic time in nanoseconds (std::chrono::steady_clock). Every engine timestamp uses it.
[[nodiscard]] inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The steady_clock time point of a now_ns() value, for condition_variable::wait_until.
[[nodiscard]] inline std::chrono::steady_clock::time_point to_time_point(int64_t ns) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::nanoseconds(ns)));
}

/// Time one thread spends in one state (busy in a stage function, blocked on an empty input queue,
/// blocked on a full output queue), summed over its stretches in that state and readable live by
/// another thread (the progress monitor), a stretch in progress included.
/// Thread safety: begin/end from the one owning thread; total/live/reset from any thread.
class StateTimer {
 public:
  void begin(int64_t now) { since_.store(now, std::memory_order_relaxed); }

  void end(int64_t now) {
    const int64_t since = since_.load(std::memory_order_relaxed);
    if (since == kIdle) return;
    // Clear `since_` first: a live reader may then miss this stretch for one sample, but never
    // counts it twice.
    since_.store(kIdle, std::memory_order_relaxed);
    total_.fetch_add(now - since, std::memory_order_relaxed);
  }

  /// Completed stretches, nanoseconds.
  [[nodiscard]] int64_t total() const { return total_.load(std::memory_order_relaxed); }

  /// Completed stretches plus the one in progress at `now`, nanoseconds.
  [[nodiscard]] int64_t live(int64_t now) const {
    const int64_t since = since_.load(std::memory_order_relaxed);
    const int64_t done = total_.load(std::memory_order_relaxed);
    return since == kIdle || now < since ? done : done + (now - since);
  }

  void reset() {
    total_.store(0, std::memory_order_relaxed);
    since_.store(kIdle, std::memory_order_relaxed);
  }

 private:
  static constexpr int64_t kIdle = std::numeric_limits<int64_t>::min();
  std::atomic<int64_t> total_{0};
  std::atomic<int64_t> since_{kIdle};
};

}  // namespace vpipe::detail
