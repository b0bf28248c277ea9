#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "vpipe/core/record.h"

namespace vpipe {

/// Where a report page finds the picture of one file.
struct Thumbnail {
  std::string src;      ///< relative to the report directory ("thumbs/<key>.jpg"); empty = none
  std::string failure;  ///< why there is no picture, for the placeholder; empty when src is set
};

/// The report's thumbnail cache: `<report_dir>/thumbs/<key>.jpg`, where the key is a hash of the
/// file's path, size and mtime as the manifest recorded them and of the thumbnail size. A file
/// that has not changed keeps its thumbnail across report runs; a changed one (new size or
/// mtime) gets a new name, so a browser never shows a stale cached picture. A file that cannot be
/// decoded gets `<key>.fail` holding the reason, so it is not retried either; a file that cannot
/// be read (moved, unmounted) is retried next time. Thumbnails and markers are written atomically.
/// Images with alpha are drawn on a light-gray checkerboard (8-px squares), not on black.
///
/// Thread safety: one thread calls `get`; it runs `threads` workers of its own, each with its own
/// Decoder.
class ThumbnailCache {
 public:
  /// `size`: longer side of a thumbnail, pixels. `threads` 0 = hardware concurrency. Creates
  /// `<report_dir>/thumbs`; throws IoError when it cannot.
  ThumbnailCache(const std::filesystem::path& report_dir, int size, int threads);

  /// The thumbnails of `files` (result[i] is for *files[i]): found in the cache or made now, in
  /// parallel. Per-file problems become a Thumbnail with a failure; throws IoError only when a
  /// thumbnail cannot be written (the output directory is unusable).
  [[nodiscard]] std::vector<Thumbnail> get(std::span<const FileRecord* const> files);

  /// The cache key of a file: 32 lowercase hex digits (XXH3-128).
  [[nodiscard]] static std::string key(const FileRecord& file, int size);

  [[nodiscard]] int64_t made() const { return made_; }      ///< encoded by this object
  [[nodiscard]] int64_t cached() const { return cached_; }  ///< found on disk (picture or .fail)
  [[nodiscard]] int64_t failures() const { return failures_; }  ///< requests left without picture

 private:
  std::filesystem::path dir_;  ///< <report_dir>/thumbs
  int size_;
  int threads_;
  int64_t made_ = 0;
  int64_t cached_ = 0;
  int64_t failures_ = 0;
};

}  // namespace vpipe
