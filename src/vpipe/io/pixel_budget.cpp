#include "vpipe/io/pixel_budget.h"

#include <algorithm>

namespace vpipe {

PixelBudget::Lease PixelBudget::acquire(uint64_t pixels) {
  std::unique_lock lock(mutex_);
  freed_.wait(lock, [&] { return in_use_ == 0 || in_use_ + pixels <= capacity_; });
  in_use_ += pixels;
  peak_ = std::max(peak_, in_use_);
  return Lease(this, pixels);
}

uint64_t PixelBudget::in_use() const {
  const std::lock_guard lock(mutex_);
  return in_use_;
}

uint64_t PixelBudget::peak() const {
  const std::lock_guard lock(mutex_);
  return peak_;
}

void PixelBudget::give_back(uint64_t pixels) {
  {
    const std::lock_guard lock(mutex_);
    in_use_ -= std::min(in_use_, pixels);
  }
  freed_.notify_all();
}

void PixelBudget::Lease::shrink_to(uint64_t pixels) {
  if (budget_ == nullptr || pixels >= pixels_) return;
  budget_->give_back(pixels_ - pixels);
  pixels_ = pixels;
}

void PixelBudget::Lease::release() {
  if (budget_ != nullptr) budget_->give_back(pixels_);
  budget_ = nullptr;
  pixels_ = 0;
}

}  // namespace vpipe
