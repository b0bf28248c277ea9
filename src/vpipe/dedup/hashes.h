#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>

#include "vpipe/core/image.h"
#include "vpipe/core/record.h"
#include "vpipe/dedup/area_resample.h"

namespace vpipe {

/// XXH3-128 of `bytes` (libxxhash). Thread-safe.
[[nodiscard]] ContentHash content_hash(std::span<const uint8_t> bytes);

/// 64-bit DCT perceptual hash (pHash) of an image of any size (gray or RGB; RGB is converted
/// to gray). See docs/SIGNALS.md. Thread-safe (pure function). CPU reference implementation.
[[nodiscard]] uint64_t phash_cpu(const Image& img);

/// 64-bit difference hash (dHash): the image is area-resized to 9x8 gray and each bit says
/// whether a pixel is brighter than its right neighbour. Thread-safe. CPU reference.
[[nodiscard]] uint64_t dhash_cpu(const Image& img);

/// The eight ways an image can be turned or mirrored (the dihedral group; EXIF orientations 1..8
/// in another order). Rotations are clockwise. Stored in the manifest by position, so never
/// reorder.
enum class Orientation : uint8_t {
  kIdentity = 0,
  kRotate90,    ///< turned 90 degrees clockwise
  kRotate180,
  kRotate270,   ///< turned 90 degrees counter-clockwise
  kMirror,      ///< left and right swapped
  kFlip,        ///< top and bottom swapped
  kTranspose,   ///< mirrored about the main diagonal
  kTransverse,  ///< mirrored about the anti-diagonal
};
inline constexpr size_t kOrientationCount = 8;

/// True for the orientations that swap width and height.
[[nodiscard]] bool orientation_swaps_sides(Orientation o);
/// "identity", "rotate90", ..., "transverse".
[[nodiscard]] std::string_view to_string(Orientation o);

/// Writes `src` (one 8-bit plane, width x height, row-major, tight) turned by `o` into `dst`
/// (same byte count; width and height swapped when orientation_swaps_sides(o)).
void orient_pixels(std::span<const uint8_t> src, int width, int height, Orientation o,
                   std::span<uint8_t> dst);

/// pHash and dHash of the image in each of its eight orientations, indexed by Orientation:
/// phash[k] == phash_cpu(image turned by k), bit for bit, and likewise for dHash. Derived from one
/// 32x32 and two 9x8/8x9 thumbnails of the image, so it costs 8 small DCTs more than phash_cpu,
/// not 8 resamples. Thread-safe. CPU reference.
struct OrientationHashes {
  std::array<uint64_t, kOrientationCount> phash{};
  std::array<uint64_t, kOrientationCount> dhash{};
};
[[nodiscard]] OrientationHashes orientation_hashes_cpu(const Image& img);
/// orientation_hashes_cpu of the gray image `resampler` was made over, sharing its column sums
/// with other hashes of the same image (crop_hashes_cpu): the same hashes, bit for bit.
[[nodiscard]] OrientationHashes orientation_hashes_cpu(const AreaResampler& resampler);

/// pHash and dHash of nine windows of the image, each kCropWindowSide of its width and height,
/// anchored on a 3x3 grid: the window's left edge at 0, half and all of the horizontal slack
/// (width - window width), likewise its top edge, in row-major CropWindow order (top-left, top,
/// top-right, left, centre, right, bottom-left, bottom, bottom-right). A copy cropped to 85..95% of
/// each side, anywhere in the picture, is then at most a quarter of the slack (2.5% of a side)
/// from one window and hashes close to it, where its hash against the whole image is too far off
/// (a 90% crop shifts the low frequencies pHash reads by up to a tenth of the picture). For speed
/// the windows of an image at least 144 px a side are cut from its half-size area-resampled copy,
/// and each window's dHash thumbnail is resampled from its pHash thumbnail: the hashes are those
/// of the windows' content, within rounding of phash_cpu / dhash_cpu of the window. Thread-safe.
/// CPU reference.
inline constexpr size_t kCropWindowCount = 9;
inline constexpr double kCropWindowSide = 0.9;
enum class CropWindow : uint8_t {
  kTopLeft = 0, kTop, kTopRight, kLeft, kCentre, kRight, kBottomLeft, kBottom, kBottomRight
};
struct CropHashes {
  std::array<uint64_t, kCropWindowCount> phash{};
static_assert(std::tuple_size_v<decltype(FileRecord::crop_phash)> == kCropWindowCount,
              "FileRecord stores every crop window");
  std::array<uint64_t, kCropWindowCount> dhash{};
};
[[nodiscard]] CropHashes crop_hashes_cpu(const Image& img);
/// crop_hashes_cpu of the gray image `resampler` was made over: the same hashes, bit for bit.
[[nodiscard]] CropHashes crop_hashes_cpu(const AreaResampler& resampler);

/// Number of differing bits.
[[nodiscard]] inline int hamming_distance(uint64_t a, uint64_t b) {
  return __builtin_popcountll(a ^ b);
}

}  // namespace vpipe
