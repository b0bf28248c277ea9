#pragma once

// Batches that fit the device: a model call that runs out of device memory is not the end of a
// run. The batch is split in two and each half tried again, and the smaller size is kept for
// the batches that follow, so one expensive failure teaches the stage its limit (issue 7,
// "Memory"). The rule is the same on any device; on the CPU nothing throws DeviceOutOfMemory
// unless a test simulates it (BackendOptions::simulate_memory_bytes).

#include <cstddef>
#include <functional>
#include <string>

namespace vpipe {

/// Splits the batches of one model worker into chunks that fit, learning the size from
/// DeviceOutOfMemory. Not thread-safe: one per Model (the infer stage has one Model per worker).
class BatchHalving {
 public:
  /// `name` prefixes the log lines ("model 'yolov8n' on cuda:0"); `max_chunk` is the largest
  /// chunk tried first (0 = whole batches until memory says otherwise).
  explicit BatchHalving(std::string name, size_t max_chunk = 0)
      : name_(std::move(name)), limit_(max_chunk) {}

  /// Runs `run(first, count)` over the items [0, n) in order, in consecutive chunks of at most
  /// limit() items. When a chunk of c > 1 items throws DeviceOutOfMemory, limit() becomes c / 2
  /// (for the rest of this batch and every later one; it never grows back), a warning says so,
  /// and the chunk is run again in parts of the new size. When a chunk of one item throws it,
  /// `failed(index, why)` is called for that item and the other items go on. Any other
  /// exception propagates at once (items before it have been run).
  void run(size_t n, const std::function<void(size_t first, size_t count)>& run,
           const std::function<void(size_t index, const std::string& why)>& failed);

  /// The largest chunk run() now tries; 0 = no limit yet.
  [[nodiscard]] size_t limit() const { return limit_; }
  /// How many times the limit was halved.
  [[nodiscard]] size_t halvings() const { return halvings_; }

 private:
  std::string name_;
  size_t limit_;
  size_t halvings_ = 0;
};

}  // namespace vpipe
