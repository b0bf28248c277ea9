// Multi-index hashing (Norouzi, Punjani, Fleet 2012) as a join. For each block of bits, in
// turn: group the hashes by their block value into buckets (a radix sort), then for every
// bucket u compare its hashes with those of every bucket v whose value is within the block's
// radius of u. Those bucket-against-bucket comparisons are dense tiles for the same SIMD
// kernels as the brute force, so the cost is mostly the expected number of candidates.
//
// A pair within t is found in at least one block (pigeonhole, see mih_plan_is_exact). It is
// reported only from the first block in which its block values are within that block's radius,
// which deduplicates without a hash set: a hit in block k is dropped if some earlier block would
// have found it.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "vpipe/dedup/hamming_kernels.h"

namespace vpipe::hamming_detail {
namespace {

/// Hashes grouped by the value of one block. Bucket v holds positions
/// [offsets[v], offsets[v + 1]) of `hashes` (n * 8 bytes) and `index` (n * 4 bytes: each
/// hash's position in the input).
struct BucketTable {
  std::vector<uint32_t> offsets;  // 2^width + 1 entries
  std::vector<uint64_t> hashes;
  std::vector<uint32_t> index;
  std::vector<uint64_t> second;  // the second hashes in the same order (empty without them)
};

/// The radix sort's intermediate order (n * 8 and n * 4 bytes), reused by every table built.
struct SortScratch {
  std::vector<uint64_t> hashes;
  std::vector<uint32_t> index;
};

uint64_t block_mask(int width) { return width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1; }

// Up to this many key bits are sorted in one scatter pass.
constexpr int kRadixBits = 11;

/// Groups `input` by the value of `block` (a stable counting sort): `table` gets the offsets,
/// the hashes and their input positions.
void build_table_order(std::span<const uint64_t> input, const MihBlock& block, BucketTable& table,
                       SortScratch& scratch) {
  const size_t n = input.size();
  const size_t buckets = size_t{1} << block.width;
  const uint64_t mask = block_mask(block.width);
  const int shift = block.shift;
  std::vector<uint32_t>& off = table.offsets;
  off.assign(buckets + 1, 0);
  table.hashes.resize(n);
  table.index.resize(n);
  if (block.width <= kRadixBits) {
    for (const uint64_t h : input) ++off[((h >> shift) & mask) + 1];
    for (size_t v = 0; v < buckets; ++v) off[v + 1] += off[v];
    // Scatter with off[v] as bucket v's cursor; afterwards off[v] is where bucket v + 1
    // starts, so one shift restores the starts without a second array.
    for (size_t i = 0; i < n; ++i) {
      const uint64_t h = input[i];
      const uint32_t at = off[(h >> shift) & mask]++;
      table.hashes[at] = h;
      table.index[at] = static_cast<uint32_t>(i);
    }
    std::copy_backward(off.begin(), off.end() - 2, off.end() - 1);
    off[0] = 0;
    return;
  }
  // Wider keys: two stable passes, low digit then high digit (LSD radix sort). Each pass
  // writes to at most 2^kRadixBits places at once, which the caches absorb; one pass to 2^w
  // places would miss the cache on nearly every write once the table outgrows it.
  const int low_bits = block.width / 2;
  const uint64_t low_mask = block_mask(low_bits);
  std::vector<uint32_t> low_cursor(size_t{1} << low_bits, 0);
  for (const uint64_t h : input) {
    const uint64_t key = (h >> shift) & mask;
    ++off[key + 1];
    ++low_cursor[key & low_mask];
  }
  for (size_t v = 0; v < buckets; ++v) off[v + 1] += off[v];
  uint32_t sum = 0;
  for (uint32_t& c : low_cursor) sum += std::exchange(c, sum);
  scratch.hashes.resize(std::max(scratch.hashes.size(), n));
  scratch.index.resize(std::max(scratch.index.size(), n));
  for (size_t i = 0; i < n; ++i) {
    const uint64_t h = input[i];
    const uint32_t at = low_cursor[(h >> shift) & low_mask]++;
    scratch.hashes[at] = h;
    scratch.index[at] = static_cast<uint32_t>(i);
  }
  // High digit d starts where key d << low_bits starts.
  std::vector<uint32_t> high_cursor(size_t{1} << (block.width - low_bits));
  for (size_t d = 0; d < high_cursor.size(); ++d) high_cursor[d] = off[d << low_bits];
  for (size_t i = 0; i < n; ++i) {
    const uint64_t h = scratch.hashes[i];
    const uint32_t at = high_cursor[((h >> shift) & mask) >> low_bits]++;
    table.hashes[at] = h;
    table.index[at] = scratch.index[i];
  }
}

/// Groups `input` by the value of `block` (a stable counting sort): `table` gets the offsets,
/// the hashes and their input positions, and with `second` (one per input hash, or empty) the
/// second hashes in table order.
void build_table(std::span<const uint64_t> input, std::span<const uint64_t> second,
                 const MihBlock& block, BucketTable& table, SortScratch& scratch) {
  build_table_order(input, block, table, scratch);
  table.second.resize(second.size());
  for (size_t at = 0; at < second.size(); ++at) table.second[at] = second[table.index[at]];
}

/// Every width-bit value with at most `radius` bits set: the XOR masks that take a bucket to
/// its neighbours. 1 + C(w,1) + ... + C(w,r) entries.
std::vector<uint32_t> ball(int width, int radius) {
  std::vector<uint32_t> masks{0};
  for (int weight = 1; weight <= std::min(radius, width); ++weight) {
    // Gosper's hack: the next larger value with the same number of set bits.
    uint64_t v = (uint64_t{1} << weight) - 1;
    const uint64_t end = uint64_t{1} << width;
    while (v < end) {
      masks.push_back(static_cast<uint32_t>(v));
      const uint64_t c = v & (~v + 1);
      const uint64_t r = v + c;
      v = (((r ^ v) >> 2) / c) | r;
    }
  }
  return masks;
}

double ball_size(int width, int radius) {
  double total = 0;
  double binomial = 1;  // C(width, k)
  for (int k = 0; k <= std::min(radius, width); ++k) {
    total += binomial;
    binomial = binomial * (width - k) / (k + 1);
  }
  return total;
}

/// A run of consecutive query buckets [bucket_begin, bucket_end), restricted to the table
/// positions [row_begin, row_end): a worker's unit. A large bucket is split over several.
struct Task {
  uint32_t bucket_begin;
  uint32_t bucket_end;
  uint32_t row_begin;
  uint32_t row_end;
};

/// Positions [begin, end) of one bucket in a BucketTable.
struct Range {
  uint32_t begin;
  uint32_t end;
};

// Buckets prefetched this many comparisons ahead, up to this many hashes of each.
constexpr size_t kPrefetchAhead = 4;
constexpr uint32_t kPrefetchHashes = 64;

std::vector<Task> make_tasks(const BucketTable& table, uint32_t rows_per_task) {
  std::vector<Task> tasks;
  const auto buckets = static_cast<uint32_t>(table.offsets.size() - 1);
  const auto& off = table.offsets;
  uint32_t u = 0;
  while (u < buckets) {
    const uint32_t size = off[u + 1] - off[u];
    if (size > rows_per_task) {
      for (uint64_t row = off[u]; row < off[u + 1]; row += rows_per_task) {
        const uint64_t end = std::min<uint64_t>(off[u + 1], row + rows_per_task);
        tasks.push_back(Task{u, u + 1, static_cast<uint32_t>(row), static_cast<uint32_t>(end)});
      }
      ++u;
      continue;
    }
    const uint32_t start = u;
    while (u < buckets && off[u + 1] - off[start] <= rows_per_task) ++u;
    tasks.push_back(Task{start, u, off[start], off[u]});
  }
  return tasks;
}

}  // namespace

bool mih_plan_is_exact(const std::vector<MihBlock>& blocks, int t) {
  uint64_t used = 0;
  int budget = 0;
  for (const MihBlock& block : blocks) {
    if (block.width < 1 || block.width > kMaxBlockWidth || block.shift < 0 ||
        block.shift + block.width > 64 || block.radius < 0) {
      return false;
    }
    const uint64_t bits = block_mask(block.width) << block.shift;
    if ((used & bits) != 0) return false;
    used |= bits;
    budget += block.radius + 1;
  }
  return budget >= t + 1;
}

std::vector<MihBlock> mih_equal_blocks(int m, int t) {
  std::vector<MihBlock> blocks;
  const int radius = t / m;
  const int spare = t % m;
  int shift = 0;
  for (int k = 0; k < m; ++k) {
    const int width = 64 / m + (k < 64 % m ? 1 : 0);
    const int r = k <= spare ? radius : radius - 1;
    if (r >= 0) blocks.push_back(MihBlock{shift, width, r});
    shift += width;
  }
  return blocks;
}

namespace {

// Cost model constants, ns on the reference machine (2-core AMD EPYC Zen 4 VM, AVX-512
// kernel), one thread: fitted to single-block runs of bench/hamming_bench.cpp --plan over
// n = 3e4..3e6, widths 8..22, radii 0..3 (mostly within 30%), then checked against whole
// plans at n = 2e5..1e7 (within ~15%).
constexpr double kBuildPerHash = 12.0;   // per hash and block: radix sort, row set-up
constexpr double kBuildPerBucket = 7.5;  // per bucket and block: offsets, empty-bucket scan
constexpr double kProbeSmall = 2.1;      // per (query bucket, ball entry), offsets in L2
constexpr double kProbeLarge = 3.6;      // the same when the offsets outgrow L2 (> 2^18)
constexpr double kPerTile = 18.0;        // per non-empty bucket pair: call, loads, misses
constexpr double kPerVector = 0.59;      // per row and 8 columns inside a tile

/// Expected cost of searching one block of `width` bits at `radius`.
double block_cost(double nq, double nb, bool self, int width, int radius) {
  const double buckets = std::ldexp(1.0, width);
  const double probes = ball_size(width, radius);
  const double lambda_q = nq / buckets;
  const double lambda_b = nb / buckets;
  const double busy_q = -std::expm1(-lambda_q);  // fraction of non-empty query buckets
  const double busy_b = -std::expm1(-lambda_b);
  // Mean size of a non-empty bucket.
  const double rows = busy_q > 0 ? lambda_q / busy_q : 0;
  const double cols = busy_b > 0 ? lambda_b / busy_b : 0;
  const double tiles = buckets * busy_q * probes * busy_b * (self ? 0.5 : 1.0);
  double cost = (self ? nq : nq + nb) * kBuildPerHash + buckets * kBuildPerBucket;
  cost += buckets * busy_q * probes * (width > 18 ? kProbeLarge : kProbeSmall);
  cost += tiles * (kPerTile + rows * (cols / 8 + 0.5) * kPerVector);
  return cost;
}

}  // namespace

MihPlan mih_plan(double nq, double nb, bool self, int t) {
  // best[bits][budget]: cheapest set of blocks using `bits` bits in all and
  // sum(radius + 1) == budget; choice[...] is its last block (width, radius).
  constexpr double kNone = std::numeric_limits<double>::infinity();
  const int need = t + 1;
  std::vector<std::vector<double>> best(65, std::vector<double>(need + 1, kNone));
  std::vector<std::vector<std::pair<int, int>>> choice(
      65, std::vector<std::pair<int, int>>(need + 1, {0, 0}));
  std::vector<std::vector<double>> cost_of(kMaxBlockWidth + 1, std::vector<double>(need, 0));
  for (int w = 1; w <= kMaxBlockWidth; ++w) {
    for (int r = 0; r < need; ++r) cost_of[w][r] = block_cost(nq, nb, self, w, r);
  }
  best[0][0] = 0;
  for (int bits = 0; bits < 64; ++bits) {
    for (int budget = 0; budget < need; ++budget) {
      if (best[bits][budget] == kNone) continue;
      for (int w = 1; w <= std::min(kMaxBlockWidth, 64 - bits); ++w) {
        for (int r = 0; budget + r + 1 <= need; ++r) {
          const double cost = best[bits][budget] + cost_of[w][r];
          double& slot = best[bits + w][budget + r + 1];
          if (cost < slot) {
            slot = cost;
            choice[bits + w][budget + r + 1] = {w, r};
          }
        }
      }
    }
  }
  int end_bits = 0;
  for (int bits = 1; bits <= 64; ++bits) {
    if (best[bits][need] < best[end_bits][need]) end_bits = bits;
  }
  MihPlan plan;
  plan.cost = best[end_bits][need];
  int bits = end_bits;
  int budget = need;
  while (bits > 0) {
    const auto [w, r] = choice[bits][budget];
    plan.blocks.push_back(MihBlock{0, w, r});
    bits -= w;
    budget -= r + 1;
  }
  int shift = 0;
  for (MihBlock& block : plan.blocks) {
    block.shift = shift;
    shift += block.width;
  }
  return plan;
}

namespace {

/// One block's pass of multi_index_join: the bucket tables of the queries and the base, and the
/// blocks before it (a pair they found is not reported again). Read-only, shared by the workers.
struct BlockJoin {
  const JoinRequest& request;
  const std::vector<MihBlock>& blocks;
  size_t k;  ///< this block's index in `blocks`
  const BucketTable& query_table;
  const BucketTable& base_table;
  std::vector<uint32_t> masks;  ///< the bucket XORs within the block's radius

  /// True when an earlier block would already have reported a pair with XOR `x`.
  [[nodiscard]] bool found_earlier(uint64_t x) const {
    for (size_t e = 0; e < k; ++e) {
      const uint64_t bits = (x >> blocks[e].shift) & block_mask(blocks[e].width);
      if (popcount_portable(bits) <= blocks[e].radius) return true;
    }
    return false;
  }

  /// Compares query rows [r0, r1) with base rows [c0, c1), tile by tile, into `buffer`.
  /// `same_bucket`: a self-join's bucket with itself, where only the pairs above the diagonal
  /// count.
  void join_ranges(uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1, bool same_bucket,
                   PairBuffer& buffer) const {
    const uint64_t* q_hash = query_table.hashes.data();
    const uint64_t* b_hash = base_table.hashes.data();
    const uint32_t* q_index = query_table.index.data();
    const uint32_t* b_index = base_table.index.data();
    const uint64_t* q_second = query_table.second.data();
    const uint64_t* b_second = base_table.second.data();
    const int second_t = request.second_t;
    // 64-bit positions: a step past the last tile must not wrap around.
    for (uint64_t col = c0; col < c1; col += kTileCols) {
      const auto cols = static_cast<uint32_t>(std::min<uint64_t>(c1 - col, kTileCols));
      for (uint64_t row = r0; row < r1; row += kTileRows) {
        const auto rows = static_cast<uint32_t>(std::min<uint64_t>(r1 - row, kTileRows));
        TileShape shape;
        if (same_bucket) {
          // Same table, same bucket: only the positions after the row's own.
          shape.upper = true;
          shape.diagonal = static_cast<int64_t>(row) - static_cast<int64_t>(col);
        }
        HammingPair* pairs = buffer.tile_space();
        const size_t found =
            request.kernel(q_hash + row, rows, b_hash + col, cols, shape, request.t, pairs);
        size_t kept = 0;
        for (size_t h = 0; h < found; ++h) {
          const uint64_t qi = row + pairs[h].a;
          const uint64_t bi = col + pairs[h].b;
          if (k > 0 && found_earlier(q_hash[qi] ^ b_hash[bi])) continue;
          if (second_t >= 0 && popcount_portable(q_second[qi] ^ b_second[bi]) > second_t) {
            continue;
          }
          uint32_t a = q_index[qi];
          uint32_t b = b_index[bi];
          if (request.self && a > b) std::swap(a, b);
          pairs[kept++] = HammingPair{a, b, pairs[h].distance};
        }
        buffer.commit(kept);
      }
    }
  }

  /// Every pair of one task: its query rows against the base buckets within the radius of
  /// theirs. `neighbours` is the worker's scratch.
  void run_task(const Task& task, std::vector<Range>& neighbours, PairBuffer& buffer) const {
    const uint32_t* q_off = query_table.offsets.data();
    const uint32_t* b_off = base_table.offsets.data();
    const uint64_t* b_hash = base_table.hashes.data();
    for (uint32_t u = task.bucket_begin; u < task.bucket_end; ++u) {
      const uint32_t r0 = std::max(q_off[u], task.row_begin);
      const uint32_t r1 = std::min(q_off[u + 1], task.row_end);
      if (r0 >= r1) continue;
      // The non-empty buckets to compare with, gathered first so that the hashes of the next
      // ones can be prefetched: each is a random place in a table larger than L2.
      neighbours.clear();
      for (const uint32_t mask : masks) {
        const uint32_t v = u ^ mask;
        // Self-join: the pair of buckets {u, v} is done once, from the smaller one.
        if (request.self && v < u) continue;
        if (b_off[v] != b_off[v + 1]) neighbours.push_back({b_off[v], b_off[v + 1]});
      }
      for (size_t next = 0; next < neighbours.size(); ++next) {
        if (next + kPrefetchAhead < neighbours.size()) {
          const Range& ahead = neighbours[next + kPrefetchAhead];
          const uint32_t count = std::min<uint32_t>(ahead.end - ahead.begin, kPrefetchHashes);
          for (uint32_t at = 0; at < count; at += 8) {  // 8 hashes per cache line
            __builtin_prefetch(b_hash + ahead.begin + at);
          }
        }
        // Self-join: distinct non-empty buckets start at distinct positions.
        const bool same_bucket = request.self && neighbours[next].begin == q_off[u];
        join_ranges(r0, r1, neighbours[next].begin, neighbours[next].end, same_bucket, buffer);
      }
    }
  }
};

}  // namespace

void multi_index_join(const JoinRequest& request, JoinOutput& output) {
  const std::span<const uint64_t> queries = request.queries;
  const std::span<const uint64_t> base = request.base;
  if (queries.empty() || base.empty()) return;
  const std::vector<MihBlock> blocks =
      !request.mih_blocks.empty()
          ? request.mih_blocks
          : mih_plan(static_cast<double>(queries.size()), static_cast<double>(base.size()),
                     request.self, request.t)
                .blocks;
  if (!mih_plan_is_exact(blocks, request.t)) {
    throw std::invalid_argument("hamming: the multi-index blocks do not cover distance " +
                                std::to_string(request.t));
  }

  BucketTable base_table;
  BucketTable query_table_storage;
  SortScratch scratch;
  const BucketTable& query_table = request.self ? base_table : query_table_storage;

  for (size_t k = 0; k < blocks.size() && !output.stopped(); ++k) {
    const MihBlock& block = blocks[k];
    build_table(base, request.second_base, block, base_table, scratch);
    if (!request.self) {
      build_table(queries, request.second_queries, block, query_table_storage, scratch);
    }
    const BlockJoin join{request,     blocks,     k,
                         query_table, base_table, ball(block.width, block.radius)};

    // ~64 tasks per thread for balance; bounded so that a split bucket's slices stay small.
    const auto rows_per_task = static_cast<uint32_t>(std::clamp<size_t>(
        queries.size() / (static_cast<size_t>(request.threads) * 64), 64, 16384));
    const std::vector<Task> tasks = make_tasks(query_table, rows_per_task);
    std::atomic<size_t> next_task{0};
    const int threads = static_cast<int>(std::min<size_t>(request.threads, tasks.size()));

    run_workers(threads, output, [&](int) {
      PairBuffer buffer(output);
      std::vector<Range> neighbours;
      neighbours.reserve(join.masks.size());
      while (!output.stopped()) {
        const size_t task_index = next_task.fetch_add(1, std::memory_order_relaxed);
        if (task_index >= tasks.size()) break;
        join.run_task(tasks[task_index], neighbours, buffer);
      }
      buffer.flush();
    });
  }
}

}  // namespace vpipe::hamming_detail
