#pragma once

// Internals of the Hamming index (hamming_index.h): the pair-comparison kernels, one per
// instruction set, and the two join drivers that call them. Not part of the public API.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "vpipe/dedup/hamming_index.h"

namespace vpipe::hamming_detail {

/// Which (i, j) of an na x nb tile a kernel compares: all of them, or (upper) only
/// j >= i + diagonal + 1, clamped to [0, nb). `diagonal` is signed so that a tile cut out of a
/// self-join triangle anywhere (rows and columns both offset) can be described.
struct TileShape {
  bool upper = false;
  int64_t diagonal = 0;
};

/// A tile kernel compares rows a[0..na) with columns b[0..nb) (both 8 bytes per hash) per
/// `shape` and writes (i, j, distance) with tile-local indices for every pair within t to
/// `out`, returning how many it wrote. `out` must have room for na * nb pairs (the caller
/// bounds tiles to kMaxTilePairs). Pure functions, thread-safe.
///
/// The SIMD kernels live in files compiled with -mavx2 / -mavx512*; they must call no inline
/// function or template shared with other files (its out-of-line copy could be the one the
/// linker keeps, and run on a CPU without those instructions), hence raw pointers here.
using TileKernel = size_t (*)(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb,
                              TileShape shape, int t, HammingPair* out);

size_t tile_scalar(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, TileShape shape,
                   int t, HammingPair* out);
size_t tile_avx2(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, TileShape shape,
                 int t, HammingPair* out);
size_t tile_avx512(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, TileShape shape,
                   int t, HammingPair* out);

/// The kernel for `level`; the caller has checked that the CPU supports it.
TileKernel tile_kernel(SimdLevel level);

/// Population count for the files built for the baseline ISA, where __builtin_popcountll is
/// a library call; this is a dozen inline instructions. Always inlined, so that no shared
/// out-of-line copy exists that a SIMD file could have compiled (see TileKernel).
[[gnu::always_inline]] inline int popcount_portable(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
}

/// Tiles are cut so that one kernel call writes at most this many pairs (rows * columns).
inline constexpr uint32_t kTileRows = 32;
inline constexpr uint32_t kTileCols = 2048;
inline constexpr size_t kMaxTilePairs = size_t{kTileRows} * kTileCols;
/// Pairs a worker gathers before handing them to the sink.
inline constexpr size_t kSinkChunk = 64 * 1024;

/// Per-run shared state of a join: the sink (serialised), the first error, the stop flag.
class JoinOutput {
 public:
  /// `keep` (may be null or empty): HammingSearchOptions::keep, applied by filter().
  explicit JoinOutput(const HammingPairSink& sink, const HammingPairFilter* keep = nullptr)
      : sink_(sink), keep_(keep != nullptr && *keep ? keep : nullptr) {}

  /// Drops the pairs `keep` refuses from pairs[0, count), keeping the others in order; returns
  /// how many are left. All are kept without a filter. Called on worker threads.
  [[nodiscard]] size_t filter(HammingPair* pairs, size_t count) const {
    if (keep_ == nullptr) return count;
    size_t kept = 0;
    for (size_t k = 0; k < count; ++k) {
      if ((*keep_)(pairs[k].a, pairs[k].b)) pairs[kept++] = pairs[k];
    }
    return kept;
  }

  /// Hands `pairs` to the sink under the lock. Rethrows nothing: a sink exception is stored,
  /// stop() turns true, and finish() rethrows it on the calling thread.
  void deliver(std::span<const HammingPair> pairs);
  void fail(std::exception_ptr error);
  [[nodiscard]] bool stopped() const { return stopped_.load(std::memory_order_relaxed); }
  /// Rethrows the first error of any worker.
  void finish();

 private:
  const HammingPairSink& sink_;
  const HammingPairFilter* keep_;
  std::mutex mutex_;
  std::exception_ptr error_;
  std::atomic<bool> stopped_{false};
};

/// One worker's pair buffer: capacity kSinkChunk + kMaxTilePairs, flushed to the JoinOutput
/// in chunks of >= kSinkChunk pairs.
class PairBuffer {
 public:
  explicit PairBuffer(JoinOutput& output) : output_(output), pairs_(kSinkChunk + kMaxTilePairs) {}
  /// Room for one tile (kMaxTilePairs pairs) at the end; the caller writes there and then
  /// calls commit() with the number it kept.
  HammingPair* tile_space() {
    if (size_ + kMaxTilePairs > pairs_.size()) flush();
    return pairs_.data() + size_;
  }
  void commit(size_t count) {
    size_ += output_.filter(pairs_.data() + size_, count);
    if (size_ >= kSinkChunk) flush();
  }
  void flush() {
    if (size_ > 0) output_.deliver(std::span<const HammingPair>(pairs_.data(), size_));
    size_ = 0;
  }

 private:
  JoinOutput& output_;
  std::vector<HammingPair> pairs_;
  size_t size_ = 0;
};

/// Runs worker(thread_index) on `threads` threads (the calling thread when 1); an exception
/// from a worker is stored in `output` and stops the others; rethrown by output.finish().
void run_workers(int threads, JoinOutput& output, const std::function<void(int)>& worker);

/// One block of a multi-index plan: hash bits [shift, shift + width) searched at `radius`.
struct MihBlock {
  int shift = 0;
  int width = 0;
  int radius = 0;
};

/// Blocks wider than this would need a bucket table of more than 2^22 entries (16 MB).
inline constexpr int kMaxBlockWidth = 22;

/// Whether searching `blocks` finds every pair within t: the blocks are disjoint bit ranges of
/// the 64 bits, each at most kMaxBlockWidth wide, and sum(radius + 1) >= t + 1. (Pigeonhole:
/// a pair missed by every block differs by >= radius + 1 in each, so by more than t in all.)
/// Bits in no block are simply not looked at.
[[nodiscard]] bool mih_plan_is_exact(const std::vector<MihBlock>& blocks, int t);

/// m blocks of near-equal width over all 64 bits, radius floor(t / m) for the first
/// (t mod m) + 1 and one less for the others (Norouzi's refined pigeonhole); blocks that end up
/// at radius -1 are dropped. What HammingSearchOptions::mih_blocks asks for.
[[nodiscard]] std::vector<MihBlock> mih_equal_blocks(int m, int t);

/// The cheapest exact plan for nq queries against nb hashes (nq == nb for a self-join) under
/// the cost model: blocks of any widths and radii with sum(radius + 1) = t + 1, chosen by
/// dynamic programming over (bits used, radius budget used). `cost` is in ~ns of one thread
/// on the reference machine.
struct MihPlan {
  std::vector<MihBlock> blocks;
  double cost = 0;
};
[[nodiscard]] MihPlan mih_plan(double nq, double nb, bool self, int t);

/// Estimated cost of the brute force, same units.
[[nodiscard]] double brute_force_cost(double nq, double nb, bool self);

/// A join request after validation. `self`: queries and base are the same array, only i < j.
struct JoinRequest {
  std::span<const uint64_t> queries;
  std::span<const uint64_t> base;
  bool self = true;
  int t = 0;
  int threads = 1;
  TileKernel kernel = nullptr;
  /// Multi-index blocks; empty = mih_plan(). Must satisfy mih_plan_is_exact.
  std::vector<MihBlock> mih_blocks;
  /// HammingSearchOptions' second hashes (self-join: second_queries == second_base) and their
  /// distance; second_t < 0: none.
  std::span<const uint64_t> second_queries;
  std::span<const uint64_t> second_base;
  int second_t = -1;
};

void brute_force_join(const JoinRequest& request, JoinOutput& output);
void multi_index_join(const JoinRequest& request, JoinOutput& output);

}  // namespace vpipe::hamming_detail
