#pragma once

// Exact Hamming-distance joins over 64-bit hashes (perceptual hashes, docs/SIGNALS.md): every
// pair of hashes that differ in at most t bits. Two methods give the same pairs:
//  - brute force: every pair is compared, tiled for the cache, SIMD (AVX2 / AVX-512 VPOPCNTDQ
//    picked at run time), parallel over cores. Cost ~ n^2 / 2, independent of the data.
//  - multi-index hashing (Norouzi, Punjani, Fleet, "Fast exact search in Hamming space with
//    multi-index hashing", 2012): the bits are split into blocks searched at radii r_k with
//    sum(r_k + 1) = t + 1; two hashes within t are within r_k in at least one block
//    (pigeonhole), so only hashes whose block values are that close are compared. Far cheaper
//    than brute force on spread-out hashes for small t; on data whose hashes share block values
//    (low entropy) it degrades toward brute force cost, never toward a wrong answer.
//
// Measured on the reference machine (2-core AMD EPYC Zen 4 VM, AVX-512, 2 threads):
// n = 2M at t = 10 in ~0.8 s with 67 MB peak RSS (16 MB of it the input); n = 10M in ~11 s,
// 312 MB. See bench/hamming_bench.cpp for the rest.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace vpipe {

/// One near pair: indices into the input array(s) and their Hamming distance (0..64).
/// Self-join: a < b. Cross join: a indexes the queries, b the base.
struct HammingPair {
  uint32_t a;
  uint32_t b;
  uint8_t distance;

  friend bool operator==(const HammingPair&, const HammingPair&) = default;
};

enum class HammingMethod { kAuto, kBruteForce, kMultiIndex };

/// Instruction set of the pair-comparison kernel (both methods use it).
enum class SimdLevel {
  kScalar,  ///< portable C++, no popcount instruction assumed
  kAvx2,    ///< AVX2 + POPCNT
  kAvx512,  ///< AVX-512 F/BW/VL + VPOPCNTDQ
};

/// Decides, on a worker thread, whether a pair within t goes on to the sink (a and b as in
/// HammingPair). Called concurrently from several threads: it must be thread-safe.
using HammingPairFilter = std::function<bool(uint32_t a, uint32_t b)>;

struct HammingSearchOptions {
  /// t: pairs with distance <= t are reported. 0..32 inclusive.
  int max_distance = 10;
  HammingMethod method = HammingMethod::kAuto;
  /// Force a kernel level (tests, benchmarks). Default: best_simd_level(). A level the CPU
  /// lacks is refused with std::invalid_argument, never executed.
  std::optional<SimdLevel> simd;
  /// Worker threads; 0 = std::thread::hardware_concurrency(). 1 runs on the calling thread.
  int threads = 0;
  /// Multi-index hashing only: split the 64 bits into m blocks of near-equal width (3..64),
  /// radius floor(t/m) for the first (t mod m) + 1 blocks and one less for the rest. 0 (the
  /// default) lets the cost model pick widths and radii freely (see choose_method). For tests
  /// and tuning; it does not change what kAuto picks.
  int mih_blocks = 0;
  /// When set, every pair within t is first shown to `keep` on the worker thread that found
  /// it, and only the pairs it accepts reach the sink. A join whose pairs are mostly
  /// candidates for a finer test runs that test in parallel this way, and the serialised sink
  /// sees only what passed.
  HammingPairFilter keep;
  /// A second hash per item, tested inside the join (before `keep`): with
  /// second_max_distance >= 0 a pair is reported only when its second hashes are within it
  /// too. Self-join: second_base, one per hash; cross join: second_queries (one per query) and
  /// second_base (one per base hash). The join reads them in its own (bucket) order, which is
  /// what makes this cheaper than a `keep` that looks them up by index when most candidates
  /// fail it (the dHash test of near duplicates that must agree in both hashes).
  std::span<const uint64_t> second_queries;
  std::span<const uint64_t> second_base;
  int second_max_distance = -1;  ///< 0..64; -1: no second hash
};

/// Receives pairs in chunks: each worker thread hands over what it has gathered once it holds
/// 64k pairs (a chunk is at most 128k pairs, 1.5 MB) and the rest when its work is done. Calls
/// are serialised (never two at once) but may come from any worker thread; the span is valid
/// only during the call. Each pair comes exactly once; their order is unspecified. An
/// exception thrown by the sink stops the search and is rethrown to the caller.
using HammingPairSink = std::function<void(std::span<const HammingPair>)>;
// (HammingSearchOptions::keep filters the pairs before they are gathered.)

/// Every pair (i < j) of `hashes` with popcount(hashes[i] ^ hashes[j]) <= t, each exactly once,
/// handed to `sink`. Exact (no false positives or negatives) for every method.
///
/// `hashes`: n * 8 bytes, contiguous; n < 2^32 (indices are uint32_t). Throws
/// std::invalid_argument for n >= 2^32, t outside 0..32, threads < 0, an invalid mih_blocks,
/// a second hash array of another length or a second_max_distance outside -1..64, or a forced
/// SIMD level the CPU lacks. Thread-safe: the inputs are only read.
/// Memory: brute force O(1) beyond the input; multi-index 24 bytes per hash (one block's
/// bucket table, 12 bytes per hash, and a sort buffer as large, reused block after block), 8
/// more with a second hash, plus 4 bytes per bucket (at most 2^22); both methods add a ~1.5 MB
/// pair buffer per thread.
void hamming_self_join(std::span<const uint64_t> hashes, const HammingSearchOptions& options,
                       const HammingPairSink& sink);

/// Convenience: all pairs of hamming_self_join, sorted by (a, b).
[[nodiscard]] std::vector<HammingPair> hamming_self_join(std::span<const uint64_t> hashes,
                                                         const HammingSearchOptions& options);

/// Every (query i, base j) with popcount(queries[i] ^ base[j]) <= t; pair.a = i, pair.b = j,
/// no ordering constraint between them. Used for rotation/mirror-invariant matching: the
/// queries are transformed hashes, the base the canonical ones. Same limits, errors and
/// thread safety as hamming_self_join; both spans n * 8 bytes with n < 2^32. Multi-index
/// memory: 12 bytes per hash of both sides plus 12 per hash of the larger side.
void hamming_cross_join(std::span<const uint64_t> queries, std::span<const uint64_t> base,
                        const HammingSearchOptions& options, const HammingPairSink& sink);

/// Convenience: all pairs of hamming_cross_join, sorted by (a, b).
[[nodiscard]] std::vector<HammingPair> hamming_cross_join(std::span<const uint64_t> queries,
                                                          std::span<const uint64_t> base,
                                                          const HammingSearchOptions& options);

/// Whether this CPU (and OS) can run the kernel of `level`. Thread-safe.
[[nodiscard]] bool simd_level_supported(SimdLevel level);

/// The best kernel level this CPU (and OS) supports. Thread-safe.
[[nodiscard]] SimdLevel best_simd_level();

[[nodiscard]] std::string_view to_string(SimdLevel level);
[[nodiscard]] std::string_view to_string(HammingMethod method);

/// What kAuto picks for a self-join of n hashes at distance t: the cheaper of the two under a
/// cost model calibrated on the reference machine (2-core AMD EPYC Zen 4, AVX-512 kernel),
/// which assumes spread-out hashes. Brute force: ~0.07 ns per pair, n(n-1)/2 pairs.
/// Multi-index: for the cheapest set of blocks (widths w_k, radii r_k, found by dynamic
/// programming), per block a radix sort of the n hashes, one table probe per (non-empty
/// bucket, ball entry) and the expected candidate comparisons, n^2 * ball(w, r) / 2^(w+1).
/// In effect: multi-index from n ~ 2k at t = 4, ~4k at t = 10, ~8k at t = 16, ~20k at
/// t = 20, ~300k at t = 24; brute force always at t = 32. (The two are within a few ms of each
/// other around the switch.) Cross joins (kAuto) use the same model on nq x nb.
[[nodiscard]] HammingMethod choose_method(size_t n, int t);

}  // namespace vpipe
