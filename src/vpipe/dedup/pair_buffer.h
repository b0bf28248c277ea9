#pragma once

// The search's kept pairs (grouping_detail::PairMatch) in memory: a growable buffer that never
// holds two copies of itself, and the folds that merge the entries of one pair. Internal to
// vpipe_dedup (grouping.cpp).

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

#include "vpipe/dedup/nearness.h"

namespace vpipe::grouping_detail {

/// A growable array of trivially copyable values on malloc/realloc: a large one grows by
/// remapping its pages instead of copying them into a second buffer, so growing never holds the
/// old and the new copy at once, and capacity not yet written is not resident.
template <typename T>
class PodBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  PodBuffer() = default;
  PodBuffer(const PodBuffer&) = delete;
  PodBuffer& operator=(const PodBuffer&) = delete;
  PodBuffer(PodBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  PodBuffer& operator=(PodBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~PodBuffer() { std::free(data_); }

  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] size_t capacity() const { return capacity_; }
  [[nodiscard]] T* begin() { return data_; }
  [[nodiscard]] T* end() { return data_ + size_; }
  [[nodiscard]] const T* begin() const { return data_; }
  [[nodiscard]] const T* end() const { return data_ + size_; }
  void push_back(const T& value) {
    if (size_ == capacity_) reserve(std::max<size_t>(16, capacity_ * 2));
    data_[size_++] = value;
  }
  void reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    resize_storage(capacity);
  }
  void resize(size_t size) {  // only shrinks
    size_ = std::min(size, size_);
  }
  void shrink_to_fit() {
    if (size_ < capacity_) resize_storage(size_);
  }
  void release() {
    std::free(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

 private:
  void resize_storage(size_t capacity) {
    if (capacity == 0) {
      release();
      return;
    }
    void* grown = std::realloc(data_, capacity * sizeof(T));
    if (grown == nullptr) throw std::bad_alloc();
    data_ = static_cast<T*>(grown);
    capacity_ = capacity;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

/// Sorts `pairs` by key and merges the entries of one pair into one (the better match of each
/// side).
void merge_duplicates(PodBuffer<PairMatch>& pairs);

/// Folds the entries after the first `sorted` of `pairs` (which are sorted by key, one per
/// pair) into them: the new ones sorted and merged among themselves, then merged with the old
/// from the back, a pair found again merged into its entry. Holds a copy of the new entries
/// only, never a second copy of the old. Afterwards all of `pairs` is sorted, one per pair,
/// and `sorted` is its size. O(old + new log new).
void fold_new_pairs(PodBuffer<PairMatch>& pairs, size_t& sorted);

}  // namespace vpipe::grouping_detail
