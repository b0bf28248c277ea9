// AVX2 tile kernel. Built with -mavx2 -mpopcnt and only called when the CPU has both
// (hamming_index.cpp). Uses intrinsics and builtins only, no shared inline code (see
// hamming_kernels.h).
#include <immintrin.h>

#include "vpipe/dedup/hamming_kernels.h"

namespace vpipe::hamming_detail {
namespace {

inline size_t emit(uint64_t row_hash, uint32_t i, const uint64_t* b, uint32_t j, uint32_t hits,
                   HammingPair* out, size_t count) {
  while (hits != 0) {
    const uint32_t jj = j + static_cast<uint32_t>(__builtin_ctz(hits));
    out[count++] = HammingPair{i, jj, static_cast<uint8_t>(__builtin_popcountll(row_hash ^ b[jj]))};
    hits &= hits - 1;
  }
  return count;
}

// One row against columns [j, nb) with the scalar POPCNT instruction. Four columns per step,
// branch-free: popcount - (t + 1) is negative exactly for a hit, so OR-ing the four
// differences and testing the sign bit asks "any hit?" once.
inline size_t row_popcnt(const uint64_t* a, uint32_t i, const uint64_t* b, uint32_t j, uint32_t nb,
                         int t, HammingPair* out, size_t count) {
  const uint64_t row = a[i];
  const int64_t limit = t + 1;
  for (; j + 4 <= nb; j += 4) {
    const int64_t d0 = __builtin_popcountll(row ^ b[j]) - limit;
    const int64_t d1 = __builtin_popcountll(row ^ b[j + 1]) - limit;
    const int64_t d2 = __builtin_popcountll(row ^ b[j + 2]) - limit;
    const int64_t d3 = __builtin_popcountll(row ^ b[j + 3]) - limit;
    if ((d0 | d1 | d2 | d3) < 0) [[unlikely]] {
      const uint32_t hits = static_cast<uint32_t>(d0 < 0) | (static_cast<uint32_t>(d1 < 0) << 1) |
                            (static_cast<uint32_t>(d2 < 0) << 2) |
                            (static_cast<uint32_t>(d3 < 0) << 3);
      count = emit(row, i, b, j, hits, out, count);
    }
  }
  for (; j < nb; ++j) {
    const int d = __builtin_popcountll(row ^ b[j]);
    if (d <= t) out[count++] = HammingPair{i, j, static_cast<uint8_t>(d)};
  }
  return count;
}

// Per-byte popcount by nibble lookup (vpshufb), summed per 64-bit lane (vpsadbw).
inline __m256i popcount_lanes(__m256i x) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                       1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low_nibble = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(x, low_nibble);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low_nibble);
  const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
  return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}

// Columns held in registers (up to kVecs * 4, the last vector partial), each row streamed
// past them: one branch per row, which predicts well on the tiny tiles of multi-index
// buckets. The per-lane distances fit in the low 32 bits of each 64-bit lane (the high half
// is zero), so a 32-bit unsigned min keeps the nearest per lane.
template <int kVecs>
size_t column_block(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, uint32_t j0,
                    int t, HammingPair* out, size_t count) {
  __m256i cols[kVecs];
  for (int c = 0; c + 1 < kVecs; ++c) {
    cols[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j0 + 4 * c));
  }
  const uint32_t last = j0 + 4 * (kVecs - 1);
  const uint32_t tail = nb - last;  // 1..4
  const __m256i lane_index = _mm256_setr_epi64x(0, 1, 2, 3);
  const __m256i tail_lanes = _mm256_cmpgt_epi64(_mm256_set1_epi64x(tail), lane_index);
  cols[kVecs - 1] = _mm256_maskload_epi64(reinterpret_cast<const long long*>(b + last), tail_lanes);
  // Missing lanes of the last vector count as distance 64 (> t).
  const __m256i far = _mm256_andnot_si256(tail_lanes, _mm256_set1_epi64x(64));
  const __m256i threshold = _mm256_set1_epi64x(t);
  for (uint32_t i = 0; i < na; ++i) {
    const __m256i row = _mm256_set1_epi64x(static_cast<long long>(a[i]));
    __m256i nearest = _mm256_or_si256(
        far, _mm256_and_si256(tail_lanes, popcount_lanes(_mm256_xor_si256(row, cols[kVecs - 1]))));
    for (int c = 0; c + 1 < kVecs; ++c) {
      nearest = _mm256_min_epu32(nearest, popcount_lanes(_mm256_xor_si256(row, cols[c])));
    }
    if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(nearest, threshold))) != 0xf)
        [[unlikely]] {
      count = row_popcnt(a, i, b, j0, nb, t, out, count);
    }
  }
  return count;
}

size_t columns_resident(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, int t,
                        HammingPair* out) {
  size_t count = 0;
  uint32_t j = 0;
  for (; j + 32 <= nb; j += 32) count = column_block<8>(a, na, b, j + 32, j, t, out, count);
  switch ((nb - j + 3) / 4) {
    case 1:
      return column_block<1>(a, na, b, nb, j, t, out, count);
    case 2:
      return column_block<2>(a, na, b, nb, j, t, out, count);
    case 3:
      return column_block<3>(a, na, b, nb, j, t, out, count);
    case 4:
      return column_block<4>(a, na, b, nb, j, t, out, count);
    case 5:
      return column_block<5>(a, na, b, nb, j, t, out, count);
    case 6:
      return column_block<6>(a, na, b, nb, j, t, out, count);
    case 7:
      return column_block<7>(a, na, b, nb, j, t, out, count);
    case 8:
      return column_block<8>(a, na, b, nb, j, t, out, count);
    default:
      return count;
  }
}

}  // namespace

size_t tile_avx2(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, TileShape shape,
                 int t, HammingPair* out) {
  // Every row starts at column 0 or before: the whole tile.
  if (shape.upper && shape.diagonal + static_cast<int64_t>(na) <= 0) shape.upper = false;
  if (!shape.upper) return columns_resident(a, na, b, nb, t, out);
  size_t count = 0;
  for (uint32_t i = 0; i < na; ++i) {
    const int64_t first = static_cast<int64_t>(i) + shape.diagonal + 1;
    if (first >= static_cast<int64_t>(nb)) break;  // later rows start even further right
    count = row_popcnt(a, i, b, first > 0 ? static_cast<uint32_t>(first) : 0, nb, t, out, count);
  }
  return count;
}

}  // namespace vpipe::hamming_detail
