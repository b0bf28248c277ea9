#pragma once

// The integer arithmetic of exact area resampling (area_resample.h), shared by the CPU
// reference (area_resample.cpp) and the CUDA kernel (dedup/cuda/phash_cuda.cu) so that both
// cut the source into the same weighted pixels. Standard library only: nvcc compiles it too.

#include <cstdint>

#ifndef VPIPE_HOST_DEVICE
#if defined(__CUDACC__)
#define VPIPE_HOST_DEVICE __host__ __device__
#else
#define VPIPE_HOST_DEVICE
#endif
#endif

namespace vpipe::area {

/// The source pixels under one output pixel along one axis. Lengths are measured in units where
/// a source pixel is `out_n` long and an output pixel `in_n` long, so that every overlap is a
/// whole number.
struct SourceSpan {
  int first = 0;              ///< first source pixel touched
  int last = 0;               ///< last source pixel touched (inclusive)
  uint64_t first_weight = 0;  ///< overlap with `first`
  uint64_t last_weight = 0;   ///< overlap with `last` (0 when first == last)
  // Pixels strictly between first and last are covered fully: weight out_n each.
};

/// The span of output pixel `out_index` (0..out_n-1) when `in_n` source pixels become `out_n`.
constexpr VPIPE_HOST_DEVICE SourceSpan span_of(int out_index, int in_n, int out_n) {
  const int64_t begin = static_cast<int64_t>(out_index) * in_n;
  const int64_t end = begin + in_n;
  SourceSpan s;
  s.first = static_cast<int>(begin / out_n);
  s.last = static_cast<int>((end - 1) / out_n);
  if (s.first == s.last) {
    s.first_weight = static_cast<uint64_t>(in_n);
  } else {
    s.first_weight = static_cast<uint64_t>(static_cast<int64_t>(s.first + 1) * out_n - begin);
    s.last_weight = static_cast<uint64_t>(end - static_cast<int64_t>(s.last) * out_n);
  }
  return s;
}

/// The weight (in the units above) that `span` gives source pixel `k`, first <= k <= last.
constexpr VPIPE_HOST_DEVICE uint64_t weight_of(const SourceSpan& span, int k, int out_n) {
  if (k == span.first) return span.first_weight;
  if (k == span.last) return span.last_weight;
  return static_cast<uint64_t>(out_n);
}

/// Every output pixel gathers weight in_width * in_height (units above); its level is the
/// weighted sum divided by that, rounded to the nearest level, halves up.
constexpr VPIPE_HOST_DEVICE uint8_t level_of(uint64_t weighted_sum, uint64_t area) {
  return static_cast<uint8_t>((weighted_sum + area / 2) / area);
}

}  // namespace vpipe::area
