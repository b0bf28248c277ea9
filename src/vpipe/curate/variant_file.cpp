#include "vpipe/curate/variant_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

/// Moves `size` bytes at `offset` with `op` (pread or pwrite on the file), whatever the partial
/// transfers: the reason on failure ("" when all moved).
template <typename Op>
std::string transfer_all(Op op, char* bytes, size_t size, off_t offset) {
  while (size > 0) {
    const ssize_t n = op(bytes, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::strerror(errno);
    if (n == 0) return "the file ended early";
    bytes += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return {};
}

}  // namespace

std::unique_ptr<VariantFile> VariantFile::create(const std::filesystem::path& dir,
                                                 std::vector<GroupingItem>& items) {
  std::string name = (dir.empty() ? std::filesystem::path(".") : dir) / ".vpipe-variants-XXXXXX";
  const int fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return nullptr;
  ::unlink(name.c_str());
  return std::unique_ptr<VariantFile>(new VariantFile(fd, dir, items));
}

VariantFile::VariantFile(int fd, std::filesystem::path dir, std::vector<GroupingItem>& items)
    : fd_(fd), dir_(std::move(dir)), items_(items) {
  pending_.reserve(kChunkRows * kRowWords);
}

VariantFile::~VariantFile() { ::close(fd_); }

void VariantFile::add(const FileRecord& f) {
  const size_t at = pending_.size();
  pending_.resize(at + kRowWords, 0);
  uint64_t* row = pending_.data() + at;
  if (f.has_orientation_hashes) {
    std::copy(f.orientation_phash.begin(), f.orientation_phash.end(), row);
    std::copy(f.orientation_dhash.begin(), f.orientation_dhash.end(), row + kOrientationCount);
  }
  if (f.has_crop_hashes) {
    std::copy(f.crop_phash.begin(), f.crop_phash.end(), row + 2 * kOrientationCount);
    std::copy(f.crop_dhash.begin(), f.crop_dhash.end(),
              row + 2 * kOrientationCount + kCropWindowCount);
  }
  if (pending_.size() >= kChunkRows * kRowWords) flush();
}

void VariantFile::finish() { flush(); }

void VariantFile::flush() {
  const std::string failed = transfer_all(
      [&](char* bytes, size_t size, off_t offset) { return ::pwrite(fd_, bytes, size, offset); },
      reinterpret_cast<char*>(pending_.data()), pending_.size() * sizeof(uint64_t),
      static_cast<off_t>(rows_ * kRowBytes));
  if (!failed.empty()) {
    throw IoError(fmt::format(
        "dedup: cannot write the turned and windowed hashes to a scratch file in '{}': {}",
        dir_.string(), failed));
  }
  rows_ += pending_.size() / kRowWords;
  pending_.clear();
}

template <typename Visit>
void VariantFile::for_each_row(Visit&& visit) const {
  std::vector<uint64_t> chunk(kChunkRows * kRowWords);
  for (size_t first = 0; first < rows_; first += kChunkRows) {
    const size_t count = std::min(kChunkRows, rows_ - first);
    const std::string failed = transfer_all(
        [&](char* bytes, size_t size, off_t offset) { return ::pread(fd_, bytes, size, offset); },
        reinterpret_cast<char*>(chunk.data()), count * kRowBytes,
        static_cast<off_t>(first * kRowBytes));
    if (!failed.empty()) {
      throw IoError(fmt::format(
          "dedup: cannot read back the scratch file of turned and windowed hashes in '{}': {}",
          dir_.string(), failed));
    }
    for (size_t r = 0; r < count; ++r) visit(first + r, chunk.data() + r * kRowWords);
  }
}

void VariantFile::read(size_t variant, std::vector<uint64_t>& p, std::vector<uint64_t>& d) const {
  p.assign(items_.size(), 0);
  d.assign(items_.size(), 0);
  // Where the variant's pHash and dHash lie in a row.
  const size_t p_at = variant < kOrientationCount ? variant
                                                  : 2 * kOrientationCount + variant - kOrientationCount;
  const size_t d_at = variant < kOrientationCount ? p_at + kOrientationCount : p_at + kCropWindowCount;
  for_each_row([&](size_t i, const uint64_t* row) {
    if (i >= p.size()) return;
    p[i] = row[p_at];
    d[i] = row[d_at];
  });
}

void VariantFile::load_rows() const {
  for_each_row([&](size_t i, const uint64_t* row) {
    if (i >= items_.size()) return;
    GroupingItem& item = items_[i];
    if (item.orientations_in_columns) {
      auto& op = orientation_phash_.emplace_back();
      auto& od = orientation_dhash_.emplace_back();
      std::copy(row, row + kOrientationCount, op.begin());
      std::copy(row + kOrientationCount, row + 2 * kOrientationCount, od.begin());
      item.orientation_phash = &op;
      item.orientation_dhash = &od;
    }
    if (item.crops_in_columns) {
      auto& cp = crop_phash_.emplace_back();
      auto& cd = crop_dhash_.emplace_back();
      const uint64_t* crops = row + 2 * kOrientationCount;
      std::copy(crops, crops + kCropWindowCount, cp.begin());
      std::copy(crops + kCropWindowCount, crops + 2 * kCropWindowCount, cd.begin());
      item.crop_phash = &cp;
      item.crop_dhash = &cd;
    }
  });
}

}  // namespace vpipe
