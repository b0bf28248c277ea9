#pragma once

#include <cstdint>
#include <string>

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
};

/// One input file as the scan pass sees it: a row of the manifest's `files` table.
struct FileRecord {
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
};

}  // namespace vpipe
