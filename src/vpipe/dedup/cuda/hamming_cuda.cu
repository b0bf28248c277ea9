// Exact all-pairs Hamming search on the GPU: every pair i < j with popcount(h[i] ^ h[j]) <= t.
//
// Algorithm
//  - The n hashes are copied to the device (n * 8 bytes) and cut into blocks of kTile = 256.
//    A tile (bi, bj), bi <= bj, compares the 256 rows of block bi with the 256 columns of block
//    bj; the tiles of the upper triangle cover every pair i < j exactly once (in a diagonal tile,
//    bi == bj, only column k > row k counts; in every other tile all j > i).
//  - One CUDA block of 256 threads per tile: thread r holds h[bi * 256 + r] in a register, the
//    block stages h[bj * 256 .. + 255] in shared memory, and each thread runs __popcll(h_i ^ s[k])
//    along the tile (all threads read the same s[k]: a broadcast, no bank conflicts).
//  - Output: pass 1 counts each thread's matches; a block scan gives each thread its offset in
//    the block's run, and thread 0 reserves the run with ONE atomicAdd per block on a 64-bit
//    counter. Pass 2 (only in tiles with matches, rare for small t) recomputes and writes the
//    pairs. The runs are contiguous and need no further synchronisation.
//  - Overflow: the output buffer holds P pairs (P >= 65,536, one full tile, or all n(n-1)/2
//    pairs when that is fewer). A block whose run
//    does not fit (base + count > P) writes nothing; it records its base with atomicMin and
//    appends its tile to a pending list. Reservations are totally ordered by the atomic, so once
//    one fails every later one fails too: the buffer holds a gap-free prefix of
//    min(reserved, first failed base) pairs. The host copies that prefix out, hands it to the
//    sink, and relaunches over the pending tiles (two lists, ping-pong) until none are left.
//    Each relaunch finishes at least its first reserving tile, since an empty buffer fits any
//    tile; so the result is exact whatever the number of pairs (t = 64: all n(n-1)/2 pairs).
//  - Row bands: the triangle is processed in bands of block rows [b0, b0 + rows), each one
//    launch of a (nb - b0) x rows grid (tiles left of the diagonal return at once), with
//    rows * (nb - b0) <= 2^20 tiles, so the pending lists are bounded (8 bytes a tile), grid.y
//    stays under 65,536, and pairs reach the sink band by band.
// Memory on the device: n * 8 (hashes) + P * 12 (pairs) + 2 * 8 * min(max(2^20, nb), nb^2)
// (pending tiles)
// + 24 bytes of counters. Every CUDA call is checked; errors become vpipe::CudaError.
//
// Not yet run on a GPU: compiled for sm_75..sm_90 and reviewed, tested against the CPU index by
// tests/unit/device/hamming_cuda_test.cpp wherever a device is present.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "vpipe/core/error.h"
#include "vpipe/device/cuda/cuda_check.cuh"
#include "vpipe/dedup/cuda/hamming_cuda_detail.h"

namespace vpipe::cuda::detail {
namespace {

// ---------------------------------------------------------------------------------------------
// The kernel

/// HammingPair's layout (hamming_cuda_detail.h); padding bytes are left unwritten.
struct DevicePair {
  uint32_t a;
  uint32_t b;
  uint8_t distance;
};
static_assert(sizeof(DevicePair) == kPairBytes, "DevicePair must match HammingPair");
static_assert(offsetof(DevicePair, a) == kPairOffsetA, "DevicePair must match HammingPair");
static_assert(offsetof(DevicePair, b) == kPairOffsetB, "DevicePair must match HammingPair");
static_assert(offsetof(DevicePair, distance) == kPairOffsetDistance,
              "DevicePair must match HammingPair");

/// Per launch; the host resets it before each one.
struct LaunchState {
  unsigned long long reserved;    ///< pairs reserved, failed reservations included
  unsigned long long first_fail;  ///< smallest base of a reservation that did not fit, or ~0
  unsigned int pending;           ///< tiles appended to the pending list
};

constexpr uint32_t kWarps = kTile / 32;
static_assert(kTile % 32 == 0 && kWarps <= 32, "a tile is whole warps, scanned by one thread");
constexpr unsigned long long kNoRun = ~0ULL;

__device__ __forceinline__ unsigned long long pack_tile(uint32_t bi, uint32_t bj) {
  return (static_cast<unsigned long long>(bi) << 32) | bj;
}

/// One block per tile (bi, bj) of kTile x kTile hashes, blockDim.x == kTile.
/// `hashes`: n * 8 bytes. `out`: capacity pairs (12 bytes each). `tiles`: when null, the tile is
/// (band_first + blockIdx.y, band_first + blockIdx.x) and blocks left of the diagonal return;
/// otherwise tiles[blockIdx.x], packed (bi << 32 | bj). `pending_out`: room for one entry per
/// block of this launch (8 bytes each).
__global__ void __launch_bounds__(kTile)
    self_join_tiles(const uint64_t* __restrict__ hashes, uint64_t n, int threshold,
                    uint32_t band_first, const unsigned long long* __restrict__ tiles,
                    DevicePair* __restrict__ out, unsigned long long capacity, LaunchState* state,
                    unsigned long long* __restrict__ pending_out) {
  __shared__ uint64_t columns[kTile];
  __shared__ uint32_t warp_total[kWarps];
  __shared__ uint32_t warp_base[kWarps];
  __shared__ unsigned long long block_base;

  uint32_t bi;
  uint32_t bj;
  if (tiles == nullptr) {
    bi = band_first + blockIdx.y;
    bj = band_first + blockIdx.x;
    if (bj < bi) return;  // the whole block, before any barrier: below the diagonal
  } else {
    const unsigned long long tile = tiles[blockIdx.x];
    bi = static_cast<uint32_t>(tile >> 32);
    bj = static_cast<uint32_t>(tile & 0xffffffffULL);
  }

  const uint32_t r = threadIdx.x;
  // 64-bit: (nb - 1) * 256 + 255 may pass 2^32 - 1 when n is close to it.
  const uint64_t i = static_cast<uint64_t>(bi) * kTile + r;
  const uint64_t j0 = static_cast<uint64_t>(bj) * kTile;
  const bool row_valid = i < n;
  const uint64_t row = row_valid ? hashes[i] : 0;
  if (j0 + r < n) columns[r] = hashes[j0 + r];
  const uint32_t columns_valid =
      n - j0 < kTile ? static_cast<uint32_t>(n - j0) : kTile;  // j0 < n: bj < nb
  // i < j: in a diagonal tile only columns right of the thread's own row; elsewhere all (bj > bi).
  const uint32_t k_first = (bi == bj) ? r + 1 : 0;
  __syncthreads();

  // Pass 1: count. The loop bounds are uniform across the block, so s[k] is a broadcast read.
  uint32_t count = 0;
  if (row_valid) {
    for (uint32_t k = 0; k < columns_valid; ++k) {
      count += (k >= k_first && __popcll(row ^ columns[k]) <= threshold) ? 1u : 0u;
    }
  }

  // Block scan: inclusive within the warp, then the warp totals by thread 0.
  const uint32_t lane = r & 31u;
  const uint32_t warp = r >> 5;
  uint32_t inclusive = count;
  for (uint32_t d = 1; d < 32; d <<= 1) {
    const uint32_t v = __shfl_up_sync(0xffffffffu, inclusive, d);
    if (lane >= d) inclusive += v;
  }
  if (lane == 31) warp_total[warp] = inclusive;
  __syncthreads();

  if (r == 0) {
    uint32_t total = 0;  // <= kTile * kTile = 65,536
    for (uint32_t w = 0; w < kWarps; ++w) {
      warp_base[w] = total;
      total += warp_total[w];
    }
    unsigned long long base = kNoRun;
    if (total > 0) {
      base = atomicAdd(&state->reserved, static_cast<unsigned long long>(total));
      if (base + total > capacity) {
        // Does not fit: nothing is written; every later reservation fails too (the counter only
        // grows), so the written pairs are exactly [0, smallest failed base).
        atomicMin(&state->first_fail, base);
        const unsigned int slot = atomicAdd(&state->pending, 1u);
        pending_out[slot] = pack_tile(bi, bj);
        base = kNoRun;
      }
    }
    block_base = base;
  }
  __syncthreads();
  if (block_base == kNoRun || count == 0) return;  // no barrier below

  // Pass 2: write this thread's pairs into its slice of the block's run.
  unsigned long long slot = block_base + warp_base[warp] + (inclusive - count);
  for (uint32_t k = k_first; k < columns_valid; ++k) {
    const int distance = __popcll(row ^ columns[k]);
    if (distance <= threshold) {
      DevicePair pair;
      pair.a = static_cast<uint32_t>(i);
      pair.b = static_cast<uint32_t>(j0 + k);
      pair.distance = static_cast<uint8_t>(distance);
      out[slot++] = pair;
    }
  }
}

}  // namespace

SelfJoinCounts self_join(const uint64_t* hashes, size_t n, int threshold, int device,
                         size_t pairs_per_launch, const PairBufferFn& buffer_for,
                         const DeliverFn& deliver) {
  SelfJoinCounts counts;
  const DeviceScope scope(device);
  const Stream stream;

  const uint64_t block_count = (static_cast<uint64_t>(n) + kTile - 1) / kTile;  // nb <= 2^24
  // No launch has more blocks than this (see the bands below), nor more than nb * nb.
  const size_t pending_capacity = static_cast<size_t>(std::min<uint64_t>(
      std::max<uint64_t>(kMaxTilesPerBand, block_count), block_count * block_count));
  // Small inputs need no more than all their pairs: any tile's pairs still fit, so every launch
  // still completes a tile.
  const size_t pair_capacity = static_cast<size_t>(
      std::min<uint64_t>(pairs_per_launch, static_cast<uint64_t>(n) * (n - 1) / 2));

  const DeviceArray<uint64_t> d_hashes(n, "the hashes");
  const DeviceArray<DevicePair> d_pairs(pair_capacity, "the pair buffer");
  DeviceArray<unsigned long long> d_pending_a(pending_capacity, "the pending tiles");
  DeviceArray<unsigned long long> d_pending_b(pending_capacity, "the pending tiles");
  const DeviceArray<LaunchState> d_state(1, "the launch counters");
  VPIPE_CUDA_CHECK(cudaMemcpyAsync(d_hashes.get(), hashes, n * sizeof(uint64_t),
                                   cudaMemcpyHostToDevice, stream.get()));

  const LaunchState fresh{0ULL, kNoRun, 0u};
  unsigned long long* tiles_in = d_pending_a.get();   // read by a relaunch
  unsigned long long* tiles_out = d_pending_b.get();  // written by the current launch

  // One launch, then drain: copy the prefix that fits to the host and hand it to the sink.
  // Returns the number of tiles that did not fit (now listed in tiles_out).
  auto launch_and_drain = [&](dim3 grid, uint32_t band_first, const unsigned long long* tiles) {
    VPIPE_CUDA_CHECK(cudaMemcpyAsync(d_state.get(), &fresh, sizeof(fresh), cudaMemcpyHostToDevice,
                                     stream.get()));
    self_join_tiles<<<grid, kTile, 0, stream.get()>>>(
        d_hashes.get(), static_cast<uint64_t>(n), threshold, band_first, tiles, d_pairs.get(),
        static_cast<unsigned long long>(pair_capacity), d_state.get(), tiles_out);
    VPIPE_CUDA_CHECK_LAUNCH(stream.get());
    ++counts.launches;
    LaunchState state{};
    VPIPE_CUDA_CHECK(cudaMemcpyAsync(&state, d_state.get(), sizeof(state), cudaMemcpyDeviceToHost,
                                     stream.get()));
    VPIPE_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    const size_t written = static_cast<size_t>(std::min(state.reserved, state.first_fail));
    if (written > 0) {
      void* host = buffer_for(written);
      VPIPE_CUDA_CHECK(cudaMemcpyAsync(host, d_pairs.get(), written * kPairBytes,
                                       cudaMemcpyDeviceToHost, stream.get()));
      VPIPE_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
      counts.pairs += written;
      deliver(written);
    }
    return state.pending;
  };

  for (uint64_t band_first = 0; band_first < block_count;) {
    const uint64_t width = block_count - band_first;  // column blocks from the band's first row
    const uint64_t rows =
        std::min<uint64_t>({std::max<uint64_t>(1, kMaxTilesPerBand / width), width, 65535});
    ++counts.bands;
    // grid.x * grid.y <= pending_capacity: at most one pending entry per block.
    unsigned int pending =
        launch_and_drain(dim3(static_cast<unsigned int>(width), static_cast<unsigned int>(rows)),
                         static_cast<uint32_t>(band_first), nullptr);
    while (pending > 0) {
      std::swap(tiles_in, tiles_out);
      ++counts.overflow_relaunches;
      pending = launch_and_drain(dim3(pending), 0, tiles_in);
    }
    band_first += rows;
  }
  return counts;
}

}  // namespace vpipe::cuda::detail
