// AVX-512 tile kernel: 8 distances per instruction with VPOPCNTQ, compared to t into a mask.
// Built with -mavx512f -mavx512vpopcntdq -mavx512bw -mavx512vl -mpopcnt and only called
// when the CPU has them (hamming_index.cpp). Uses intrinsics and builtins only, no shared
// inline code (see hamming_kernels.h).
#include <immintrin.h>

#include "vpipe/dedup/hamming_kernels.h"

namespace vpipe::hamming_detail {
namespace {

// Writes the hits of one row at columns j + (set bits of `hits`).
inline size_t emit(uint64_t row_hash, uint32_t i, const uint64_t* b, uint32_t j, uint32_t hits,
                   HammingPair* out, size_t count) {
  while (hits != 0) {
    const uint32_t jj = j + static_cast<uint32_t>(__builtin_ctz(hits));
    out[count++] = HammingPair{i, jj, static_cast<uint8_t>(__builtin_popcountll(row_hash ^ b[jj]))};
    hits &= hits - 1;
  }
  return count;
}

inline __mmask8 within(__m512i row, __m512i cols, __m512i threshold) {
  return _mm512_cmple_epu64_mask(_mm512_popcnt_epi64(_mm512_xor_si512(row, cols)), threshold);
}

inline __mmask8 within_masked(__mmask8 lanes, __m512i row, __m512i cols, __m512i threshold) {
  return _mm512_mask_cmple_epu64_mask(lanes, _mm512_popcnt_epi64(_mm512_xor_si512(row, cols)),
                                      threshold);
}

// One row against columns [j, nb).
inline size_t row_from(const uint64_t* a, uint32_t i, const uint64_t* b, uint32_t j, uint32_t nb,
                       __m512i threshold, HammingPair* out, size_t count) {
  const __m512i row = _mm512_set1_epi64(static_cast<long long>(a[i]));
  for (; j + 8 <= nb; j += 8) {
    const __mmask8 m = within(row, _mm512_loadu_si512(b + j), threshold);
    if (m != 0) count = emit(a[i], i, b, j, m, out, count);
  }
  if (j < nb) {
    const auto lanes = static_cast<__mmask8>((1u << (nb - j)) - 1);
    const __mmask8 m = within_masked(lanes, row, _mm512_maskz_loadu_epi64(lanes, b + j), threshold);
    if (m != 0) count = emit(a[i], i, b, j, m, out, count);
  }
  return count;
}

// Columns held in registers: up to kVecs * 8 columns (the last vector partial, its missing
// lanes forced to distance 64 > t), each row streamed past them. One branch per row, and a
// loop as long as the tile is tall, which predicts well even for the tiny tiles of
// multi-index buckets.
template <int kVecs>
size_t column_block(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, uint32_t j0,
                    __m512i threshold, HammingPair* out, size_t count) {
  __m512i cols[kVecs];
  for (int c = 0; c + 1 < kVecs; ++c) cols[c] = _mm512_loadu_si512(b + j0 + 8 * c);
  const uint32_t last = j0 + 8 * (kVecs - 1);
  const auto tail = static_cast<__mmask8>((1u << (nb - last)) - 1);  // nb - last in 1..8
  cols[kVecs - 1] = _mm512_maskz_loadu_epi64(tail, b + last);
  const __m512i far = _mm512_set1_epi64(64);
  for (uint32_t i = 0; i < na; ++i) {
    const __m512i row = _mm512_set1_epi64(static_cast<long long>(a[i]));
    __m512i nearest = _mm512_mask_popcnt_epi64(far, tail, _mm512_xor_si512(row, cols[kVecs - 1]));
    for (int c = 0; c + 1 < kVecs; ++c) {
      // maskz with all lanes: GCC 12's plain _mm512_min_epu64 warns (-Wmaybe-uninitialized).
      nearest = _mm512_maskz_min_epu64(0xff, nearest,
                                       _mm512_popcnt_epi64(_mm512_xor_si512(row, cols[c])));
    }
    if (_mm512_cmple_epu64_mask(nearest, threshold) != 0) [[unlikely]] {
      for (int c = 0; c + 1 < kVecs; ++c) {
        count = emit(a[i], i, b, j0 + 8 * c, within(row, cols[c], threshold), out, count);
      }
      count =
          emit(a[i], i, b, last, within_masked(tail, row, cols[kVecs - 1], threshold), out, count);
    }
  }
  return count;
}

size_t columns_resident(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb,
                        __m512i threshold, HammingPair* out) {
  size_t count = 0;
  uint32_t j = 0;
  for (; j + 64 <= nb; j += 64) {
    count = column_block<8>(a, na, b, j + 64, j, threshold, out, count);
  }
  switch ((nb - j + 7) / 8) {
    case 1:
      return column_block<1>(a, na, b, nb, j, threshold, out, count);
    case 2:
      return column_block<2>(a, na, b, nb, j, threshold, out, count);
    case 3:
      return column_block<3>(a, na, b, nb, j, threshold, out, count);
    case 4:
      return column_block<4>(a, na, b, nb, j, threshold, out, count);
    case 5:
      return column_block<5>(a, na, b, nb, j, threshold, out, count);
    case 6:
      return column_block<6>(a, na, b, nb, j, threshold, out, count);
    case 7:
      return column_block<7>(a, na, b, nb, j, threshold, out, count);
    case 8:
      return column_block<8>(a, na, b, nb, j, threshold, out, count);
    default:
      return count;
  }
}

}  // namespace

size_t tile_avx512(const uint64_t* a, uint32_t na, const uint64_t* b, uint32_t nb, TileShape shape,
                   int t, HammingPair* out) {
  // Every row starts at column 0 or before: the whole tile.
  if (shape.upper && shape.diagonal + static_cast<int64_t>(na) <= 0) shape.upper = false;
  const __m512i threshold = _mm512_set1_epi64(t);
  if (!shape.upper) return columns_resident(a, na, b, nb, threshold, out);
  size_t count = 0;
  for (uint32_t i = 0; i < na; ++i) {
    const int64_t first = static_cast<int64_t>(i) + shape.diagonal + 1;
    if (first >= static_cast<int64_t>(nb)) break;  // later rows start even further right
    count =
        row_from(a, i, b, first > 0 ? static_cast<uint32_t>(first) : 0, nb, threshold, out, count);
  }
  return count;
}

}  // namespace vpipe::hamming_detail
