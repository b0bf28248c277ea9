#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vpipe/core/status.h"

namespace vpipe {

/// XXH3-128 of a file's bytes. Equal hashes are a candidate match; callers that act on it
/// confirm byte for byte (DESIGN.md).
struct ContentHash {
  uint64_t high = 0;
  uint64_t low = 0;

  friend bool operator==(const ContentHash&, const ContentHash&) = default;
  /// 32 lowercase hex digits, high word first (the canonical XXH128 order).
  [[nodiscard]] std::string hex() const;
};

/// Quality signals of one image, measured on its working image (see docs/SIGNALS.md for
/// ranges and definitions).
struct QualitySignals {
  double sharpness = 0;        ///< variance of the Laplacian of the gray working image, >= 0
  double brightness = 0;       ///< mean gray level, 0..255
  double contrast = 0;         ///< standard deviation of gray levels, 0..127.5
  double dark_fraction = 0;    ///< share of pixels with gray level <= 16, 0..1
  double bright_fraction = 0;  ///< share of pixels with gray level >= 239, 0..1
  double entropy = 0;          ///< Shannon entropy of the 256-bin gray histogram, bits, 0..8
  double colorfulness = 0;     ///< Hasler & Suesstrunk colourfulness, >= 0 (0 for gray)
  /// blur: 20th-percentile effective width of strong edges, px at the working size, the widest
  /// of four directions (0 = no strong edges to judge by)
  double edge_width = 0;
  double clipped_fraction = 0;  ///< share of working pixels with any channel >= 250, 0..1
  double highlight_level = 0;   ///< 99th percentile of gray levels, 0..255
  /// Share of working pixels with alpha >= 128, 0..1; 1 for images without alpha. The signals
  /// above are measured over those pixels only (all 0 when there are none).
  double opaque_fraction = 1;
  /// share of working pixels whose brightest channel is within 3 levels of the image's top level
  /// (the highest level 0.1% of them reach), 0..1: blown highlights, even after a tone edit
  double highlight_plateau = 0;
};

/// One input file as the scan pass sees it: a row of the manifest's `files` table.
struct FileRecord {
  int64_t id = 0;    ///< the manifest's row id (files.id); 0 for a record not read from it
  std::string path;  ///< as given or found (raw bytes; may be non-UTF-8)
  int64_t size_bytes = 0;
  int64_t mtime_ns = 0;  ///< modification time, nanoseconds since the Unix epoch
  ItemStatus status = ItemStatus::kOk;
  std::string error;   ///< reason for a non-ok status, or the warning of a damaged/lenient file
  std::string format;  ///< "jpeg", "png", ... ; empty when not recognised
  int width = 0;       ///< full-resolution size after EXIF orientation; 0 when unknown
  int height = 0;
  bool has_content_hash = false;  ///< true whenever the bytes could be read
  ContentHash content_hash;
  bool has_signals = false;  ///< true when status is ok or damaged
  uint64_t phash = 0;
  uint64_t dhash = 0;
  QualitySignals quality;
  /// pHash and dHash of the image turned or mirrored each of the eight ways (index = the
  /// Orientation of dedup/hashes.h; [0] repeats phash/dhash). Only filled by a scan with
  /// orientation hashes on (rotation/mirror-invariant dedup).
  bool has_orientation_hashes = false;
  std::array<uint64_t, 8> orientation_phash{};
  std::array<uint64_t, 8> orientation_dhash{};
  /// pHash and dHash of nine windows of 90% of each side (a 3x3 grid of anchors: corners, edge
  /// midpoints, centre; the CropWindow order of dedup/hashes.h), for cropped copies. Filled with
  /// the orientation hashes.
  bool has_crop_hashes = false;
  std::array<uint64_t, 9> crop_phash{};
  std::array<uint64_t, 9> crop_dhash{};
};

}  // namespace vpipe
