#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace vpipe {

/// An allocator whose value-less `construct` leaves the element uninitialised, so that `resize`
/// of a vector using it does not zero the new bytes: for buffers that are filled at once (a
/// file read into them). Otherwise std::allocator.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  explicit DefaultInitAllocator(const DefaultInitAllocator<U>& /*other*/) noexcept {}

  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

/// Bytes that `resize` leaves uninitialised (DefaultInitAllocator).
using UninitializedBytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

/// Byte buffers handed back for reuse, so that a stage which makes one large buffer per item (a
/// file's bytes, a decoded image's pixels) gets memory that is already mapped instead of fresh
/// pages from the allocator: glibc serves buffers of a few hundred KB from mmap or from a heap it
/// trims, and every such buffer costs a page fault per 4 KB on first touch, which on the scan's
/// 1-3 MP JPEGs was several percent of the CPU time (docs/PERFORMANCE.md).
///
/// `Buffer`: std::vector<uint8_t> (take() gives zeroed bytes, as a new vector would) or
/// UninitializedBytes (take() gives bytes of unspecified value). Bounded: it keeps at most
/// `max_buffers` buffers, none with a capacity over `max_buffer_bytes`; others handed back are
/// freed. Thread-safe (one mutex, held for a push or a pop only).
template <typename Buffer>
class BasicBufferPool {
 public:
  BasicBufferPool(size_t max_buffers, size_t max_buffer_bytes)
      : max_buffers_(max_buffers), max_buffer_bytes_(max_buffer_bytes) {}
  BasicBufferPool(const BasicBufferPool&) = delete;
  BasicBufferPool& operator=(const BasicBufferPool&) = delete;

  /// A buffer of exactly `size` bytes, reusing the pooled buffer of the largest capacity (so that
  /// the buffers grow to the largest size in use and then stop reallocating).
  [[nodiscard]] Buffer take(size_t size) {
    Buffer buffer;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto largest = std::max_element(
            free_.begin(), free_.end(),
            [](const Buffer& a, const Buffer& b) { return a.capacity() < b.capacity(); });
        std::iter_swap(largest, free_.end() - 1);
        buffer = std::move(free_.back());
        free_.pop_back();
      }
    }
    buffer.clear();
    // Grown with a quarter to spare, so that a pool of buffers settles at the largest sizes in
    // use after a few files rather than reallocating for each slightly larger one.
    if (buffer.capacity() < size) buffer.reserve(size + size / 4);
    buffer.resize(size);
    return buffer;
  }

  /// Hands `buffer` back (its contents are discarded); frees it when the pool is full or the
  /// buffer is over the size limit.
  void give_back(Buffer&& buffer) {
    if (buffer.capacity() == 0 || buffer.capacity() > max_buffer_bytes_) return;
    Buffer kept = std::move(buffer);
    std::lock_guard lock(mutex_);
    if (free_.size() < max_buffers_) free_.push_back(std::move(kept));
  }

 private:
  const size_t max_buffers_;
  const size_t max_buffer_bytes_;
  std::mutex mutex_;
  std::vector<Buffer> free_;
};

/// Zeroed pixel buffers (Image::pixels).
using BufferPool = BasicBufferPool<std::vector<uint8_t>>;

}  // namespace vpipe
