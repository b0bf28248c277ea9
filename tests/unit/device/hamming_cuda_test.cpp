// The CUDA Hamming search against the CPU index (the reference): the same pairs, distances
// included, on random, planted, duplicate-heavy and all-identical inputs, with a pair buffer small
// enough that the overflow-and-relaunch path runs. The kernel tests skip without a device; the
// fallback contract (a CudaError carrying the reason) is checked everywhere.
#include "vpipe/dedup/cuda/hamming_cuda.h"

#include <gtest/gtest.h>

#include "hamming_naive.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_skip.h"
#include "vpipe/core/error.h"
#include "vpipe/dedup/hamming_index.h"
#include "vpipe/device/cuda/gpu.h"

namespace vpipe {
namespace {

std::vector<HammingPair> cpu_pairs(const std::vector<uint64_t>& hashes, int t) {
  HammingSearchOptions options;
  options.max_distance = t;
  return hamming_self_join(hashes, options);
}

std::vector<uint64_t> random_hashes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> h(n);
  for (uint64_t& x : h) x = rng();
  return h;
}

uint64_t flip_bits(uint64_t h, int k, std::mt19937_64& rng) {
  std::vector<int> bits(64);
  for (int b = 0; b < 64; ++b) bits[b] = b;
  std::shuffle(bits.begin(), bits.end(), rng);
  for (int b = 0; b < k; ++b) h ^= uint64_t{1} << bits[b];
  return h;
}

/// `bases` random hashes, each followed somewhere by copies at exactly t and t + 1 bits and at a
/// random 0..t bits; shuffled so copies land in other tiles than their originals.
std::vector<uint64_t> planted_hashes(size_t bases, int t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> h = random_hashes(bases, seed + 1);
  std::uniform_int_distribution<int> any_k(0, t);
  for (size_t i = 0; i < bases; ++i) {
    h.push_back(flip_bits(h[i], t, rng));
    h.push_back(flip_bits(h[i], t + 1, rng));
    h.push_back(flip_bits(h[i], any_k(rng), rng));
  }
  std::shuffle(h.begin(), h.end(), rng);
  return h;
}

HammingCudaOptions small_buffer() {
  HammingCudaOptions options;
  options.max_pairs_per_launch = 1;  // raised to the minimum, one tile's worth (65,536 pairs)
  return options;
}

// ---------------------------------------------------------------------------------------------
// Without a device too

TEST(HammingCuda, WithoutADeviceItThrowsTheReasonSoCallersFallBack) {
  const std::vector<uint64_t> hashes = random_hashes(100, 1);
  const std::string why = cuda::unavailable_reason();
  if (why.empty()) {
    // A device: the same call must simply work.
    EXPECT_EQ(hamming_self_join_cuda(hashes, 10), cpu_pairs(hashes, 10));
    return;
  }
  try {
    (void)hamming_self_join_cuda(hashes, 10);
    FAIL() << "expected vpipe::CudaError";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  // Whatever the input: n < 2 does not skip the check.
  EXPECT_THROW(hamming_self_join_cuda(std::vector<uint64_t>{}, 3), CudaError);
  EXPECT_THROW(hamming_self_join_cuda(hashes, 3, [](std::span<const HammingPair>) {}), CudaError);
}

TEST(HammingCuda, ThresholdOutside0To64IsRefused) {
  const std::vector<uint64_t> hashes = random_hashes(10, 2);
  EXPECT_THROW((void)hamming_self_join_cuda(hashes, -1), std::invalid_argument);
  EXPECT_THROW((void)hamming_self_join_cuda(hashes, 65), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// On a device, against the CPU index

TEST(HammingCuda, RandomHashesMatchTheCpuIndex) {
  VPIPE_SKIP_WITHOUT_CUDA();
  const std::vector<uint64_t> hashes = random_hashes(5000, 3);
  EXPECT_EQ(hamming_self_join_cuda(hashes, 10), cpu_pairs(hashes, 10));
  // t = 24 on the same data: ~400k pairs spread over every tile, default buffer.
  const std::vector<HammingPair> wide = hamming_self_join_cuda(hashes, 24);
  EXPECT_GT(wide.size(), 100'000U);
  EXPECT_EQ(wide, cpu_pairs(hashes, 24));
}

TEST(HammingCuda, PlantedNearCopiesAtTheBoundary) {
  VPIPE_SKIP_WITHOUT_CUDA();
  for (const int t : {1, 4, 8, 12}) {
    const std::vector<uint64_t> hashes = planted_hashes(1500, t, 10 + t);
    const std::vector<HammingPair> expected = cpu_pairs(hashes, t);
    const std::vector<HammingPair> got = hamming_self_join_cuda(hashes, t);
    EXPECT_EQ(got, expected) << "t = " << t;
    // Each base's exact-t copy is found (a few more pairs can arise between copies).
    const auto at_t = std::count_if(got.begin(), got.end(),
                                    [t](const HammingPair& p) { return p.distance == t; });
    EXPECT_GE(at_t, 1500) << "t = " << t;
    EXPECT_TRUE(
        std::none_of(got.begin(), got.end(), [t](const HammingPair& p) { return p.distance > t; }));
    // And with a one-tile buffer, through the relaunch path.
    EXPECT_EQ(hamming_self_join_cuda(hashes, t, small_buffer()), expected) << "t = " << t;
  }
}

TEST(HammingCuda, AllIdenticalHashesOverflowTheBufferAndStayExact) {
  VPIPE_SKIP_WITHOUT_CUDA();
  const size_t n = 3000;  // 4,498,500 pairs, ~69 buffers of 65,536
  const std::vector<uint64_t> hashes(n, 0x0123456789abcdefULL);
  std::vector<HammingPair> got;
  size_t calls = 0;
  const HammingCudaStats stats = hamming_self_join_cuda(
      hashes, 0,
      [&](std::span<const HammingPair> chunk) {
        ++calls;
        EXPECT_LE(chunk.size(), 65'536U);
        got.insert(got.end(), chunk.begin(), chunk.end());
      },
      small_buffer());
  EXPECT_GT(stats.overflow_relaunches, 0U);
  EXPECT_EQ(stats.launches, stats.bands + stats.overflow_relaunches);
  EXPECT_EQ(stats.pairs, n * (n - 1) / 2);
  EXPECT_EQ(calls, stats.launches);  // every launch here writes pairs
  ASSERT_EQ(got.size(), n * (n - 1) / 2);
  std::sort(got.begin(), got.end(), [](const HammingPair& x, const HammingPair& y) {
    return std::tie(x.a, x.b) < std::tie(y.a, y.b);
  });
  size_t k = 0;
  for (uint32_t a = 0; a < n; ++a) {
    for (uint32_t b = a + 1; b < n; ++b, ++k) {
      ASSERT_EQ(got[k], (HammingPair{a, b, 0})) << "at " << k;
    }
  }
  // The default buffer holds them in one launch per band.
  EXPECT_EQ(hamming_self_join_cuda(hashes, 0), got);
}

TEST(HammingCuda, DuplicateHeavyInputAtThresholdZero) {
  VPIPE_SKIP_WITHOUT_CUDA();
  const std::vector<uint64_t> pool = random_hashes(40, 4);
  std::mt19937_64 rng(5);
  std::vector<uint64_t> hashes(4000);
  for (uint64_t& h : hashes) h = pool[rng() % pool.size()];
  const std::vector<HammingPair> expected = cpu_pairs(hashes, 0);
  EXPECT_EQ(hamming_self_join_cuda(hashes, 0), expected);
  EXPECT_EQ(hamming_self_join_cuda(hashes, 0, small_buffer()), expected);
}

TEST(HammingCuda, FewerThanTwoHashesAndTileEdges) {
  VPIPE_SKIP_WITHOUT_CUDA();
  EXPECT_TRUE(hamming_self_join_cuda(std::vector<uint64_t>{}, 10).empty());
  EXPECT_TRUE(hamming_self_join_cuda(std::vector<uint64_t>{42}, 64).empty());
  EXPECT_EQ(hamming_self_join_cuda(std::vector<uint64_t>{0, 0b111}, 3),
            (std::vector<HammingPair>{{0, 1, 3}}));
  EXPECT_TRUE(hamming_self_join_cuda(std::vector<uint64_t>{0, 0b111}, 2).empty());
  // Sizes around the 256-hash tile.
  for (const size_t n : {255U, 256U, 257U, 511U, 513U}) {
    std::vector<uint64_t> hashes = planted_hashes(n / 4 + 1, 6, n);
    hashes.resize(n);
    EXPECT_EQ(hamming_self_join_cuda(hashes, 6), cpu_pairs(hashes, 6)) << "n = " << n;
  }
}

TEST(HammingCuda, Threshold64IsEveryPair) {
  VPIPE_SKIP_WITHOUT_CUDA();
  const std::vector<uint64_t> hashes = random_hashes(600, 6);
  const std::vector<HammingPair> got = hamming_self_join_cuda(hashes, 64);
  EXPECT_EQ(got.size(), 600U * 599U / 2U);
  EXPECT_EQ(got, testing::naive_self_join(hashes, 64));
  EXPECT_EQ(hamming_self_join_cuda(hashes, 64, small_buffer()), got);
}

TEST(HammingCuda, ManyRowBands) {
  VPIPE_SKIP_WITHOUT_CUDA();
  // 600k hashes: 2,344 blocks of 256, more than 2^20 tiles, so several row bands.
  std::vector<uint64_t> hashes = planted_hashes(150'000, 6, 7);
  std::vector<HammingPair> got;
  const HammingCudaStats stats = hamming_self_join_cuda(
      hashes, 6,
      [&got](std::span<const HammingPair> chunk) {
        got.insert(got.end(), chunk.begin(), chunk.end());
      },
      HammingCudaOptions{});
  EXPECT_GT(stats.bands, 1U);
  std::sort(got.begin(), got.end(), [](const HammingPair& x, const HammingPair& y) {
    return std::tie(x.a, x.b) < std::tie(y.a, y.b);
  });
  EXPECT_EQ(got, cpu_pairs(hashes, 6));
}

TEST(HammingCuda, AnExceptionFromTheSinkReachesTheCaller) {
  VPIPE_SKIP_WITHOUT_CUDA();
  const std::vector<uint64_t> hashes(1000, 7);
  EXPECT_THROW(
      hamming_self_join_cuda(
          hashes, 0, [](std::span<const HammingPair>) { throw std::runtime_error("sink full"); }),
      std::runtime_error);
  // The device is left usable.
  EXPECT_EQ(hamming_self_join_cuda(hashes, 0).size(), 1000U * 999U / 2U);
}

}  // namespace
}  // namespace vpipe
