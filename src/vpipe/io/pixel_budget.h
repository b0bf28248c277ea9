#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace vpipe {

/// A process-wide cap on the pixels that decoders hold at full resolution at once, shared by
/// the decode workers of a pass (DecodeOptions::budget). A decoder takes a lease on an image's
/// pixels once its header gives the size and before it allocates; the lease goes with the
/// decoded image (DecodeResult::lease) and gives the pixels back when it ends. A worker whose
/// image does not fit waits for others to give back, so N workers on N huge images hold one or
/// two at a time instead of N. One image over the whole budget still decodes, alone: a budget
/// never deadlocks, and the per-image limit (`max_pixels`) is what refuses images.
class PixelBudget {
 public:
  explicit PixelBudget(uint64_t pixels) : capacity_(pixels) {}
  PixelBudget(const PixelBudget&) = delete;
  PixelBudget& operator=(const PixelBudget&) = delete;

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : budget_(other.budget_), pixels_(other.pixels_) {
      other.budget_ = nullptr;
      other.pixels_ = 0;
    }
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        release();
        budget_ = other.budget_;
        pixels_ = other.pixels_;
        other.budget_ = nullptr;
        other.pixels_ = 0;
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    [[nodiscard]] uint64_t pixels() const { return pixels_; }
    /// Gives back all but `pixels` (a decoder that found it needs less, e.g. row by row).
    void shrink_to(uint64_t pixels);
    void release();

   private:
    friend class PixelBudget;
    Lease(PixelBudget* budget, uint64_t pixels) : budget_(budget), pixels_(pixels) {}
    PixelBudget* budget_ = nullptr;
    uint64_t pixels_ = 0;
  };

  /// Waits until `pixels` fit beside the leases held (or none is held), then takes them. A thread
  /// that still holds a lease and asks again can wait forever when the two do not fit together:
  /// give the first back, or let another thread end it (the scan's signals stage does).
  [[nodiscard]] Lease acquire(uint64_t pixels);

  [[nodiscard]] uint64_t capacity() const { return capacity_; }
  [[nodiscard]] uint64_t in_use() const;
  /// The most pixels held at once so far (for tests and the profiler).
  [[nodiscard]] uint64_t peak() const;

 private:
  void give_back(uint64_t pixels);

  const uint64_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  uint64_t in_use_ = 0;
  uint64_t peak_ = 0;
};

}  // namespace vpipe
