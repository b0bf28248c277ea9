#pragma once

#include <algorithm>
#include <thread>

namespace vpipe {

/// Workers for a pass from a user's `threads` option: `requested` when positive, else one per
/// hardware thread (std::thread::hardware_concurrency, at least 1 when it is unknown).
[[nodiscard]] inline int resolve_threads(int requested) {
  if (requested > 0) return requested;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace vpipe
