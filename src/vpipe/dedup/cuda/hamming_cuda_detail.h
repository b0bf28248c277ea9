#pragma once

// The seam between hamming_cuda.cpp (C++20, the public API of hamming_cuda.h) and
// hamming_cuda.cu (nvcc, C++17: CMake 3.25 has no C++20 flags for CUDA, so the kernel's
// translation unit cannot see std::span or hamming_index.h). Standard library only, C++17.

#include <cstddef>
#include <cstdint>
#include <functional>

namespace vpipe::cuda::detail {

// The device writes pairs in HammingPair's layout, 12 bytes: uint32 a at 0, uint32 b at 4,
// uint8 distance at 8, 3 bytes of padding. Both sides static_assert it.
inline constexpr size_t kPairBytes = 12;
inline constexpr size_t kPairOffsetA = 0;
inline constexpr size_t kPairOffsetB = 4;
inline constexpr size_t kPairOffsetDistance = 8;

/// Rows (threads of a block) and columns (hashes staged in shared memory) of one tile.
inline constexpr uint32_t kTile = 256;
/// The output buffer holds at least one tile's pairs, so every launch completes a tile.
inline constexpr size_t kMinPairsPerLaunch = size_t{kTile} * kTile;
inline constexpr size_t kDefaultPairsPerLaunch = size_t{1} << 22;
/// Tiles per row band (bounds the pending-tile lists: 8 bytes a tile, two lists).
inline constexpr size_t kMaxTilesPerBand = size_t{1} << 20;

struct SelfJoinCounts {
  size_t pairs = 0;
  size_t bands = 0;
  size_t launches = 0;
  size_t overflow_relaunches = 0;
};

/// Where the host side wants `count` pairs copied (count * kPairBytes bytes of host memory,
/// valid until the matching deliver call).
using PairBufferFn = std::function<void*(size_t count)>;
/// The buffer last returned now holds `count` pairs.
using DeliverFn = std::function<void(size_t count)>;

/// The search of hamming_self_join_cuda, arguments already validated (n >= 2, n < 2^32,
/// threshold 0..64, pairs_per_launch >= kMinPairsPerLaunch, the device usable).
/// Throws vpipe::CudaError on a failed CUDA call; rethrows what the callbacks throw.
SelfJoinCounts self_join(const uint64_t* hashes, size_t n, int threshold, int device,
                         size_t pairs_per_launch, const PairBufferFn& buffer_for,
                         const DeliverFn& deliver);

}  // namespace vpipe::cuda::detail
