#pragma once

// The dedup pass's turned and windowed hashes (272 bytes a file) in an unlinked scratch file
// rather than in memory: the Hamming searches read them one variant at a time
// (VariantColumns, dedup/grouping.h). docs/DEDUP.md, "At scale".

#include <array>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <vector>

#include "vpipe/core/record.h"
#include "vpipe/dedup/grouping.h"

namespace vpipe {

class VariantFile final : public VariantColumns {
 public:
  /// A scratch file in `dir`, unlinked as soon as it is made (a crash leaves nothing), for
  /// the hashes of `items` (the caller's, which load_rows() points at rows in memory); nullptr
  /// when it cannot be made (the caller keeps the hashes in memory instead).
  static std::unique_ptr<VariantFile> create(const std::filesystem::path& dir,
                                             std::vector<GroupingItem>& items);
  ~VariantFile() override;
  VariantFile(const VariantFile&) = delete;
  VariantFile& operator=(const VariantFile&) = delete;

  /// Appends the next item's row: its orientation and crop hashes (zeros for what it lacks).
  /// Throws IoError (naming the folder) when the file cannot be written.
  void add(const FileRecord& f);
  /// Writes what add() still holds; call before the searches.
  void finish();

  void read(size_t variant, std::vector<uint64_t>& p, std::vector<uint64_t>& d) const override;
  void load_rows() const override;

 private:
  /// A row: the 8 orientation pHashes, their 8 dHashes, the 9 window pHashes, their 9 dHashes.
  static constexpr size_t kRowWords = 34;
  static constexpr size_t kRowBytes = kRowWords * sizeof(uint64_t);
  static constexpr size_t kChunkRows = 4096;

  VariantFile(int fd, std::filesystem::path dir, std::vector<GroupingItem>& items);
  void flush();
  /// Calls visit(row index, row words) for every row, reading kChunkRows at a time.
  template <typename Visit>
  void for_each_row(Visit&& visit) const;

  int fd_;
  std::filesystem::path dir_;
  std::vector<GroupingItem>& items_;
  std::vector<uint64_t> pending_;  ///< rows added and not yet written
  size_t rows_ = 0;                ///< rows written
  // Filled by load_rows(): what the items then point at.
  mutable std::deque<std::array<uint64_t, kOrientationCount>> orientation_phash_;
  mutable std::deque<std::array<uint64_t, kOrientationCount>> orientation_dhash_;
  mutable std::deque<std::array<uint64_t, kCropWindowCount>> crop_phash_;
  mutable std::deque<std::array<uint64_t, kCropWindowCount>> crop_dhash_;
};

}  // namespace vpipe
