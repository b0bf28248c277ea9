// Brute-force Hamming join: the portable tile kernel and the tiled, parallel driver that the
// SIMD kernels (hamming_brute_avx2.cpp, hamming_brute_avx512.cpp) plug into.
#include <algorithm>
#include <atomic>
#include <vector>

#include "vpipe/dedup/hamming_kernels.h"

namespace vpipe::hamming_detail {
namespace {

// Square tiles: a column block of 2048 hashes is 16 KB and stays in L1 while row slices of
// kTileRows stream past it.
constexpr uint32_t kBlock = kTileCols;

}  // namespace

size_t tile_scalar(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, TileShape shape,
                   int t, HammingPair* out) {
  // Every row starts at column 0 or before: the whole tile.
  if (shape.upper && shape.diagonal + static_cast<int64_t>(na) <= 0) shape.upper = false;
  size_t count = 0;
  for (uint32_t i = 0; i < na; ++i) {
    uint32_t j = 0;
    if (shape.upper) {
      const int64_t first = static_cast<int64_t>(i) + shape.diagonal + 1;
      if (first >= static_cast<int64_t>(nb)) break;  // later rows start even further right
      j = first > 0 ? static_cast<uint32_t>(first) : 0;
    }
    const uint64_t row = a[i];
    for (; j < nb; ++j) {
      const int d = popcount_portable(row ^ b[j]);
      if (d <= t) out[count++] = HammingPair{i, j, static_cast<uint8_t>(d)};
    }
  }
  return count;
}

void brute_force_join(const JoinRequest& request, JoinOutput& output) {
  const uint64_t nq = request.queries.size();
  const uint64_t nb = request.base.size();
  if (nq == 0 || nb == 0) return;
  const uint64_t row_blocks = (nq + kBlock - 1) / kBlock;
  const uint64_t col_blocks = (nb + kBlock - 1) / kBlock;

  // Work units are tiles (row block, column block); a self-join takes the upper triangle with
  // its diagonal, numbered row block by row block, and first_unit[r] is the number of tile
  // (r, r). Tiles all cost about the same, so an atomic counter balances the cores.
  std::vector<uint64_t> first_unit;
  uint64_t units = row_blocks * col_blocks;
  if (request.self) {
    first_unit.resize(row_blocks);
    uint64_t sum = 0;
    for (uint64_t r = 0; r < row_blocks; ++r) {
      first_unit[r] = sum;
      sum += row_blocks - r;
    }
    units = sum;
  }
  std::atomic<uint64_t> next_unit{0};
  const int threads = static_cast<int>(std::min<uint64_t>(request.threads, units));

  run_workers(threads, output, [&](int) {
    PairBuffer buffer(output);
    const uint64_t* queries = request.queries.data();
    const uint64_t* base = request.base.data();
    while (!output.stopped()) {
      const uint64_t unit = next_unit.fetch_add(1, std::memory_order_relaxed);
      if (unit >= units) break;
      uint64_t r = 0;
      uint64_t c = 0;
      if (request.self) {
        r = static_cast<uint64_t>(std::upper_bound(first_unit.begin(), first_unit.end(), unit) -
                                  first_unit.begin()) -
            1;
        c = r + (unit - first_unit[r]);
      } else {
        r = unit / col_blocks;
        c = unit % col_blocks;
      }
      const uint64_t row_end = std::min(nq, (r + 1) * kBlock);
      const uint64_t col_begin = c * kBlock;
      const auto cols = static_cast<uint32_t>(std::min(nb, col_begin + kBlock) - col_begin);
      for (uint64_t row = r * kBlock; row < row_end; row += kTileRows) {
        const auto rows = static_cast<uint32_t>(std::min<uint64_t>(kTileRows, row_end - row));
        TileShape shape;
        if (request.self && r == c) {
          shape.upper = true;
          shape.diagonal = static_cast<int64_t>(row) - static_cast<int64_t>(col_begin);
        }
        HammingPair* pairs = buffer.tile_space();
        const size_t found =
            request.kernel(queries + row, rows, base + col_begin, cols, shape, request.t, pairs);
        size_t kept = 0;
        for (size_t k = 0; k < found; ++k) {
          const uint32_t a = pairs[k].a + static_cast<uint32_t>(row);
          const uint32_t b = pairs[k].b + static_cast<uint32_t>(col_begin);
          if (request.second_t >= 0 &&
              popcount_portable(request.second_queries[a] ^ request.second_base[b]) > request.second_t) {
            continue;
          }
          pairs[kept++] = HammingPair{a, b, pairs[k].distance};
        }
        buffer.commit(kept);
      }
    }
    buffer.flush();
  });
}

double brute_force_cost(double nq, double nb, bool self) {
  // ns per comparison, one thread, AVX-512 kernel (bench/hamming_bench.cpp): 8 per vector
  // at ~0.55 ns, the same figure as kPerVector in hamming_mih.cpp.
  constexpr double kPerComparison = 0.07;
  const double comparisons = self ? nq * (nq - 1) / 2 : nq * nb;
  return comparisons * kPerComparison;
}

}  // namespace vpipe::hamming_detail
