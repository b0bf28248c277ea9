#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "vpipe/engine/timing.h"

namespace vpipe::detail {

/// What the engine needs of any queue without knowing its item type: a way to tear it down
/// when the run fails.
class QueueBase {
 public:
  virtual ~QueueBase() = default;
  /// Closes the queue and drops what it holds; wakes every blocked producer and consumer.
  /// Safe to call from any thread, any number of times.
  virtual void abort() = 0;
};

/// A bounded multi-producer multi-consumer FIFO with a dynamic batcher on its consumer side
/// (DESIGN.md, "The engine"). One stage's input queue.
///
/// - push blocks while `capacity` items are queued (backpressure; memory stays flat).
/// - pop_batch hands out up to `max_batch` items: as soon as that many are queued, or when the
///   oldest queued item has waited `max_delay`, or when the queue is closed (the remainder).
///   With max_delay 0 it takes whatever is queued, at least one item. Items keep collecting in
///   the queue while the consumers are busy, so a batch grows while the previous one runs.
/// - close(): producers are done; consumers drain what is left, then pop_batch returns false.
/// - abort(): the run failed; everything queued is dropped and every call returns false.
///
/// Storage: a ring of `capacity` slots allocated once; items are moved in and out, never copied.
/// Thread safety: every member function may be called concurrently.
template <class T>
class BoundedQueue final : public QueueBase {
 public:
  /// `capacity` >= 1 items; a batch is at most min(max_batch, capacity) items.
  explicit BoundedQueue(size_t capacity, size_t max_batch = 1,
                        std::chrono::nanoseconds max_delay = std::chrono::nanoseconds(0))
      : slots_(std::max<size_t>(capacity, 1)),
        batch_target_(std::clamp<size_t>(max_batch, 1, slots_.size())),
        max_delay_ns_(std::max<int64_t>(max_delay.count(), 0)),
        stamp_items_(batch_target_ > 1 && max_delay_ns_ > 0) {
    if (stamp_items_) enqueued_ns_.resize(slots_.size());
  }

  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  /// Appends one item, blocking while the queue is full. Returns false (the item is left in
  /// `item`) when the queue is closed or aborted. Time spent blocked goes to `timer`.
  [[nodiscard]] bool push(T&& item, StateTimer* timer = nullptr) {
    std::unique_lock lock(mu_);
    if (!wait_for_room(lock, timer)) return false;
    const size_t was = count_;
    put(std::move(item), stamp_items_ ? now_ns() : 0);
    const bool wake = should_wake_consumer(was);
    lock.unlock();
    if (wake) not_empty_.notify_one();
    return true;
  }

  /// Appends every item of `items` in order (moving from them), blocking for room as needed.
  /// Returns false when the queue was closed or aborted before all were in.
  [[nodiscard]] bool push_all(std::span<T> items, StateTimer* timer = nullptr) {
    size_t done = 0;
    std::unique_lock lock(mu_);
    while (done < items.size()) {
      if (!wait_for_room(lock, timer)) return false;
      const size_t was = count_;
      const int64_t stamp = stamp_items_ ? now_ns() : 0;
      while (done < items.size() && count_ < slots_.size()) put(std::move(items[done++]), stamp);
      if (should_wake_consumer(was)) not_empty_.notify_one();
    }
    return true;
  }

  /// Waits for a batch (see the class comment) and appends it to `out`. Returns false when the
  /// queue is closed and drained, or aborted. Time spent waiting, batch collection included,
  /// goes to `timer`.
  [[nodiscard]] bool pop_batch(std::vector<T>& out, StateTimer* timer = nullptr) {
    std::unique_lock lock(mu_);
    bool waited = false;
    const auto begin_wait = [&] {
      if (waited) return;
      waited = true;
      if (timer != nullptr) timer->begin(now_ns());
    };
    const auto end_wait = [&] {
      if (waited && timer != nullptr) timer->end(now_ns());
    };
    for (;;) {
      if (aborted_) {
        end_wait();
        return false;
      }
      if (count_ >= batch_target_) break;
      if (count_ == 0) {
        if (closed_) {
          end_wait();
          return false;
        }
        begin_wait();
        ++waiting_consumers_;
        not_empty_.wait(lock);
        --waiting_consumers_;
        continue;
      }
      if (closed_ || max_delay_ns_ == 0) break;
      const int64_t deadline = enqueued_ns_[head_] + max_delay_ns_;
      if (now_ns() >= deadline) break;
      begin_wait();
      ++waiting_consumers_;
      not_empty_.wait_until(lock, to_time_point(deadline));
      --waiting_consumers_;
    }
    const size_t taken = std::min(count_, batch_target_);
    for (size_t i = 0; i < taken; ++i) {
      out.push_back(std::move(*slots_[head_]));
      slots_[head_].reset();
      head_ = head_ + 1 == slots_.size() ? 0 : head_ + 1;
    }
    count_ -= taken;
    end_wait();
    // Producers blocked on a full queue are woken only once it has drained to half: they then
    // refill it in a run instead of waking for every freed slot (fewer context switches).
    const bool wake_producers = waiting_producers_ > 0 && count_ <= slots_.size() / 2;
    // Pass the turn on: another idle consumer may take what this batch left behind.
    const bool wake_consumer = count_ > 0 && waiting_consumers_ > 0;
    lock.unlock();
    if (wake_producers) not_full_.notify_all();
    if (wake_consumer) not_empty_.notify_one();
    return true;
  }

  /// No more pushes will come; consumers drain the rest.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  void abort() override {
    std::vector<std::optional<T>> dropped;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      aborted_ = true;
      // Items are destroyed outside the lock: they may be large.
      dropped.reserve(count_);
      for (; count_ > 0; --count_) {
        dropped.push_back(std::move(slots_[head_]));
        slots_[head_].reset();
        head_ = head_ + 1 == slots_.size() ? 0 : head_ + 1;
      }
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  [[nodiscard]] size_t capacity() const { return slots_.size(); }

  [[nodiscard]] size_t size() const {
    std::lock_guard lock(mu_);
    return count_;
  }

  /// The most items ever queued at once (for tests of the bound).
  [[nodiscard]] size_t high_water() const {
    std::lock_guard lock(mu_);
    return high_water_;
  }

 private:
  // Returns false when the queue is closed; otherwise there is room for at least one item.
  bool wait_for_room(std::unique_lock<std::mutex>& lock, StateTimer* timer) {
    if (closed_) return false;
    if (count_ < slots_.size()) return true;
    if (timer != nullptr) timer->begin(now_ns());
    ++waiting_producers_;
    not_full_.wait(lock, [&] { return closed_ || count_ < slots_.size(); });
    --waiting_producers_;
    if (timer != nullptr) timer->end(now_ns());
    return !closed_;
  }

  void put(T&& item, int64_t stamp) {
    size_t tail = head_ + count_;
    if (tail >= slots_.size()) tail -= slots_.size();
    slots_[tail].emplace(std::move(item));
    if (stamp_items_) enqueued_ns_[tail] = stamp;
    ++count_;
    high_water_ = std::max(high_water_, count_);
  }

  // With the lock held, after items were added to a queue that held `was` items. A
  // consumer waiting on an empty queue must learn of the first item (to start its max_delay
  // clock); one collecting a batch only needs waking when the batch is full.
  [[nodiscard]] bool should_wake_consumer(size_t was) const {
    if (waiting_consumers_ == 0) return false;
    return was == 0 || count_ >= batch_target_ || max_delay_ns_ == 0;
  }

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::vector<std::optional<T>> slots_;
  std::vector<int64_t> enqueued_ns_;  // now_ns() at push, per slot; only when batching by time
  size_t head_ = 0;
  size_t count_ = 0;
  size_t high_water_ = 0;
  size_t waiting_consumers_ = 0;
  size_t waiting_producers_ = 0;
  bool closed_ = false;
  bool aborted_ = false;
  const size_t batch_target_;
  const int64_t max_delay_ns_;
  const bool stamp_items_;
};

}  // namespace vpipe::detail
