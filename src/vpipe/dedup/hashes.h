#pragma once

#include <cstdint>
#include <span>

#include "vpipe/core/image.h"
#include "vpipe/core/record.h"

namespace vpipe {

/// XXH3-128 of `bytes` (libxxhash). Thread-safe.
[[nodiscard]] ContentHash content_hash(std::span<const uint8_t> bytes);

/// 64-bit DCT perceptual hash (pHash) of an image of any size (gray or RGB; RGB is converted
/// to gray). See docs/SIGNALS.md. Thread-safe (pure function). CPU reference implementation.
[[nodiscard]] uint64_t phash_cpu(const Image& img);

/// 64-bit difference hash (dHash): the image is area-resized to 9x8 gray and each bit says
/// whether a pixel is brighter than its right neighbour. Thread-safe. CPU reference.
[[nodiscard]] uint64_t dhash_cpu(const Image& img);

/// Number of differing bits.
[[nodiscard]] inline int hamming_distance(uint64_t a, uint64_t b) {
  return __builtin_popcountll(a ^ b);
}

}  // namespace vpipe
