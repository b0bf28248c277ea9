#include "vpipe/infer/batch_halving.h"

#include <algorithm>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"

namespace vpipe {

void BatchHalving::run(size_t n, const std::function<void(size_t, size_t)>& run,
                       const std::function<void(size_t, const std::string&)>& failed) {
  size_t first = 0;
  while (first < n) {
    const size_t count = limit_ == 0 ? n - first : std::min(limit_, n - first);
    try {
      run(first, count);
      first += count;
    } catch (const DeviceOutOfMemory& e) {
      if (count == 1) {
        failed(first, e.what());
        ++first;
        continue;
      }
      limit_ = count / 2;
      ++halvings_;
      log().warn("{}: out of device memory at a batch of {} ({}); batches of at most {} from now on",
                 name_, count, e.what(), limit_);
    }
  }
}

}  // namespace vpipe
