#pragma once

// Exact all-pairs Hamming search on a CUDA GPU (issue 7): the same pair set as the CPU index
// (vpipe/dedup/hamming_index.h, the reference it is tested against), computed by a tiled
// brute-force kernel. No CUDA header here: callers include this whether or not the build has
// kernels; without them (or without a device) every call throws vpipe::CudaError with the
// reason, and the caller falls back to hamming_self_join.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "vpipe/dedup/hamming_index.h"  // HammingPair, HammingPairSink (standard library only)

namespace vpipe {

struct HammingCudaOptions {
  /// CUDA device ordinal. The calling thread's current device is restored on return.
  int device = 0;
  /// Pairs the device output buffer holds (12 bytes each) and the most one sink call receives.
  /// 0 = the default, 4M pairs (48 MB). Raised to at least 65,536 (one 256 x 256 tile's worth),
  /// which is what guarantees progress; tests set it that low to exercise the overflow path.
  size_t max_pairs_per_launch = 0;
};

/// What a search did (tests, benchmarks).
struct HammingCudaStats {
  size_t pairs = 0;                ///< pairs handed to the sink
  size_t bands = 0;                ///< row bands of the upper triangle
  size_t launches = 0;             ///< kernel launches, relaunches included
  size_t overflow_relaunches = 0;  ///< launches over tiles left undone by a full output buffer
};

/// Every pair (i < j) of `hashes` with popcount(hashes[i] ^ hashes[j]) <= threshold, each exactly
/// once, handed to `sink` in chunks (at most max_pairs_per_launch pairs a call, in no particular
/// order, always from the calling thread; the span is valid only during the call). The same pairs
/// as hamming_self_join, whatever their number: when the device buffer fills, the tiles that did
/// not fit are run again after the host has drained it.
///
/// `hashes`: n * 8 bytes, contiguous, host memory; n < 2^32 (indices are uint32_t). It is copied
/// to the device (n * 8 bytes there, so 10M hashes take 80 MB). `threshold`: 0..64; 64 means
/// every pair (n(n-1)/2 of them: the buffer-and-drain loop makes that exact, not cheap). The CPU
/// index takes 0..32 only. n < 2 yields no pairs (after the device check).
/// Device memory, at most: n * 8 + max_pairs_per_launch * 12 + 16 * max(2^20, ceil(n / 256))
/// bytes (about 64 MB beyond the hashes by default; less for small n).
///
/// Throws vpipe::CudaError when no device can run it (the message contains
/// cuda::unavailable_reason(device)) or a CUDA call fails (the call and CUDA's error string; an
/// allocation failure says how many bytes it wanted); std::invalid_argument for a threshold
/// outside 0..64 or n >= 2^32. An exception thrown by the sink is rethrown; device memory is
/// freed either way. Thread-safe for distinct calls (each has its own buffers and stream).
HammingCudaStats hamming_self_join_cuda(std::span<const uint64_t> hashes, int threshold,
                                        const HammingPairSink& sink,
                                        const HammingCudaOptions& options);

/// As above, on `device` with the default buffer.
void hamming_self_join_cuda(std::span<const uint64_t> hashes, int threshold,
                            const HammingPairSink& sink, int device = 0);

/// Convenience: all pairs, sorted by (a, b) like hamming_self_join's.
[[nodiscard]] std::vector<HammingPair> hamming_self_join_cuda(
    std::span<const uint64_t> hashes, int threshold, const HammingCudaOptions& options = {});

}  // namespace vpipe
