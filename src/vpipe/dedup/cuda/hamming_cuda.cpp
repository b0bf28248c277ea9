// The public side of the CUDA Hamming search (hamming_cuda.h), compiled as C++20 in every build:
// argument checks, the device check, and the host pair buffer. The search itself is
// cuda::detail::self_join, in hamming_cuda.cu (nvcc) or hamming_cuda_stub.cpp (no nvcc).
#include "vpipe/dedup/cuda/hamming_cuda.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "vpipe/core/error.h"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/dedup/cuda/hamming_cuda_detail.h"

namespace vpipe {

// The kernel writes HammingPair's bytes (cuda::detail::kPair*): the layouts must agree.
static_assert(std::is_trivially_copyable_v<HammingPair>);
static_assert(sizeof(HammingPair) == cuda::detail::kPairBytes);
static_assert(offsetof(HammingPair, a) == cuda::detail::kPairOffsetA);
static_assert(offsetof(HammingPair, b) == cuda::detail::kPairOffsetB);
static_assert(offsetof(HammingPair, distance) == cuda::detail::kPairOffsetDistance);

HammingCudaStats hamming_self_join_cuda(std::span<const uint64_t> hashes, int threshold,
                                        const HammingPairSink& sink,
                                        const HammingCudaOptions& options) {
  if (threshold < 0 || threshold > 64) {
    throw std::invalid_argument("hamming_self_join_cuda: threshold " + std::to_string(threshold) +
                                " is outside 0..64");
  }
  if (hashes.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("hamming_self_join_cuda: " + std::to_string(hashes.size()) +
                                " hashes; at most 2^32 - 1 (indices are uint32_t)");
  }
  // The device check comes first, whatever the input, so a caller learns at once to fall back.
  if (const std::string why = cuda::unavailable_reason(options.device); !why.empty()) {
    throw CudaError("hamming_self_join_cuda: no usable CUDA device: " + why);
  }
  HammingCudaStats stats;
  if (hashes.size() < 2) return stats;

  const size_t pairs_per_launch =
      std::max(options.max_pairs_per_launch == 0 ? cuda::detail::kDefaultPairsPerLaunch
                                                 : options.max_pairs_per_launch,
               cuda::detail::kMinPairsPerLaunch);
  // Grows to the largest chunk actually delivered, not to pairs_per_launch up front.
  std::vector<HammingPair> chunk;
  const cuda::detail::SelfJoinCounts counts = cuda::detail::self_join(
      hashes.data(), hashes.size(), threshold, options.device, pairs_per_launch,
      [&chunk](size_t count) -> void* {
        if (chunk.size() < count) chunk.resize(count);
        return chunk.data();
      },
      [&chunk, &sink](size_t count) { sink(std::span<const HammingPair>(chunk.data(), count)); });
  stats.pairs = counts.pairs;
  stats.bands = counts.bands;
  stats.launches = counts.launches;
  stats.overflow_relaunches = counts.overflow_relaunches;
  return stats;
}

void hamming_self_join_cuda(std::span<const uint64_t> hashes, int threshold,
                            const HammingPairSink& sink, int device) {
  HammingCudaOptions options;
  options.device = device;
  (void)hamming_self_join_cuda(hashes, threshold, sink, options);
}

std::vector<HammingPair> hamming_self_join_cuda(std::span<const uint64_t> hashes, int threshold,
                                                const HammingCudaOptions& options) {
  std::vector<HammingPair> pairs;
  (void)hamming_self_join_cuda(
      hashes, threshold,
      [&pairs](std::span<const HammingPair> chunk) {
        pairs.insert(pairs.end(), chunk.begin(), chunk.end());
      },
      options);
  std::sort(pairs.begin(), pairs.end(), [](const HammingPair& x, const HammingPair& y) {
    return std::tie(x.a, x.b) < std::tie(y.a, y.b);
  });
  return pairs;
}

}  // namespace vpipe
