#include "vpipe/engine/bounded_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vpipe::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Move-only, so that a copy anywhere in the queue fails to compile.
struct Token {
  int id = 0;
  std::unique_ptr<int> payload;
};

Token make_token(int id) { return Token{id, std::make_unique<int>(id)}; }

std::vector<Token> make_tokens(int first, int count) {
  std::vector<Token> out;
  out.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) out.push_back(make_token(first + i));
  return out;
}

TEST(BoundedQueue, CapacityRespectedUnderFastProducerSlowConsumer) {
  constexpr size_t kCapacity = 4;
  constexpr int kItems = 100;
  BoundedQueue<Token> queue(kCapacity);
  std::atomic<int> pushed{0};
  std::atomic<int> popped{0};
  int max_in_flight = 0;
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) {
      ASSERT_TRUE(queue.push(make_token(i)));
      pushed.fetch_add(1);
      max_in_flight = std::max(max_in_flight, pushed.load() - popped.load());
    }
    queue.close();
  });
  std::vector<int> received;
  std::vector<Token> batch;
  while (queue.pop_batch(batch)) {
    popped.fetch_add(static_cast<int>(batch.size()));
    for (Token& t : batch) {
      ASSERT_NE(t.payload, nullptr);
      EXPECT_EQ(*t.payload, t.id);
      received.push_back(t.id);
    }
    batch.clear();
    std::this_thread::sleep_for(1ms);
  }
  producer.join();
  // Pushed-but-not-popped can exceed what the queue holds by the one item the consumer has
  // taken but not yet counted.
  EXPECT_LE(max_in_flight, static_cast<int>(kCapacity) + 1);
  EXPECT_LE(queue.high_water(), kCapacity);
  EXPECT_EQ(queue.high_water(), kCapacity) << "a fast producer should fill the queue";
  ASSERT_EQ(received.size(), static_cast<size_t>(kItems));
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(received[i], i);
}

TEST(BoundedQueue, CloseLetsConsumersDrainThenEnds) {
  BoundedQueue<Token> queue(8, 8, 10s);
  ASSERT_TRUE(queue.push(make_token(1)));
  ASSERT_TRUE(queue.push(make_token(2)));
  ASSERT_TRUE(queue.push(make_token(3)));
  queue.close();
  Token late = make_token(4);
  EXPECT_FALSE(queue.push(std::move(late)));
  // NOLINTNEXTLINE(bugprone-use-after-move): push refused it, so it was not moved from.
  EXPECT_NE(late.payload, nullptr) << "a refused item stays with the caller";

  std::vector<Token> batch;
  const auto start = Clock::now();
  ASSERT_TRUE(queue.pop_batch(batch));
  // Closed: the partial batch leaves at once instead of waiting max_delay (10 s).
  EXPECT_LT(Clock::now() - start, 5s);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].id, 1);
  EXPECT_EQ(batch[2].id, 3);
  batch.clear();
  EXPECT_FALSE(queue.pop_batch(batch));
  EXPECT_TRUE(batch.empty());
}

TEST(BoundedQueue, CloseWakesBlockedConsumer) {
  BoundedQueue<Token> queue(4);
  auto consumer = std::async(std::launch::async, [&] {
    std::vector<Token> batch;
    return queue.pop_batch(batch);
  });
  std::this_thread::sleep_for(20ms);
  queue.close();
  ASSERT_EQ(consumer.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(consumer.get());
}

TEST(BoundedQueue, AbortWakesBlockedProducerAndDropsItems) {
  BoundedQueue<Token> queue(2);
  ASSERT_TRUE(queue.push(make_token(1)));
  ASSERT_TRUE(queue.push(make_token(2)));
  auto producer = std::async(std::launch::async, [&] { return queue.push(make_token(3)); });
  std::this_thread::sleep_for(20ms);
  queue.abort();
  ASSERT_EQ(producer.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(producer.get());
  EXPECT_EQ(queue.size(), 0u);
  std::vector<Token> batch;
  EXPECT_FALSE(queue.pop_batch(batch));
  EXPECT_FALSE(queue.push(make_token(4)));
}

TEST(BoundedQueue, PushAllKeepsOrderAcrossWaits) {
  BoundedQueue<Token> queue(2);
  std::thread producer([&] {
    std::vector<Token> items = make_tokens(0, 50);
    ASSERT_TRUE(queue.push_all(std::span<Token>(items)));
    queue.close();
  });
  std::vector<int> received;
  std::vector<Token> batch;
  while (queue.pop_batch(batch)) {
    for (const Token& t : batch) received.push_back(t.id);
    batch.clear();
  }
  producer.join();
  ASSERT_EQ(received.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(received[i], i);
}

TEST(BoundedQueue, TimerCountsBlockedTimeOnly) {
  BoundedQueue<Token> queue(1);
  StateTimer push_wait;
  ASSERT_TRUE(queue.push(make_token(0), &push_wait));
  EXPECT_EQ(push_wait.total(), 0) << "a push with room must not count as waiting";
  std::thread consumer([&] {
    std::this_thread::sleep_for(30ms);
    std::vector<Token> batch;
    ASSERT_TRUE(queue.pop_batch(batch));
  });
  ASSERT_TRUE(queue.push(make_token(1), &push_wait));
  consumer.join();
  EXPECT_GT(push_wait.total(), 0);
}

TEST(Batcher, BatchesNeverExceedMaxBatch) {
  constexpr size_t kMaxBatch = 5;
  constexpr int kProducers = 2;
  constexpr int kConsumers = 3;
  constexpr int kPerProducer = 3000;
  BoundedQueue<Token> queue(16, kMaxBatch, 200us);
  std::atomic<int> producers_left{kProducers};
  std::vector<std::thread> threads;
  threads.reserve(kProducers + kConsumers);
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        ASSERT_TRUE(queue.push(make_token(p * kPerProducer + i)));
      }
      if (producers_left.fetch_sub(1) == 1) queue.close();
    });
  }
  std::mutex mu;
  std::vector<int> seen;
  size_t biggest = 0;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      std::vector<Token> batch;
      while (queue.pop_batch(batch)) {
        std::lock_guard lock(mu);
        biggest = std::max(biggest, batch.size());
        EXPECT_GE(batch.size(), 1u);
        for (const Token& t : batch) seen.push_back(t.id);
        batch.clear();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(biggest, kMaxBatch);
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), static_cast<size_t>(kProducers * kPerProducer));
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<int>(i));
}

TEST(Batcher, TrickleLeavesAfterMaxDelayAndArrivalsTogetherStayTogether) {
  constexpr auto kMaxDelay = 50ms;
  // Slack for a loaded machine; a batcher that waited for a full batch would take kGap.
  constexpr auto kSlack = 150ms;
  constexpr auto kGap = 400ms;
  BoundedQueue<Token> queue(64, 8, kMaxDelay);
  std::vector<Clock::time_point> sent;
  std::thread producer([&] {
    for (int round = 0; round < 2; ++round) {
      std::vector<Token> together = make_tokens(round * 10, 3);
      sent.push_back(Clock::now());
      ASSERT_TRUE(queue.push_all(std::span<Token>(together)));
      std::this_thread::sleep_for(kGap);
    }
    queue.close();
  });
  std::vector<size_t> sizes;
  std::vector<Clock::time_point> left;
  std::vector<Token> batch;
  while (queue.pop_batch(batch)) {
    left.push_back(Clock::now());
    sizes.push_back(batch.size());
    batch.clear();
  }
  producer.join();
  ASSERT_EQ(sizes.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(sizes[i], 3u) << "items pushed together leave together";
    const auto waited = left[i] - sent[i];
    EXPECT_GE(waited, kMaxDelay) << "a partial batch waits max_delay for company";
    EXPECT_LT(waited, kMaxDelay + kSlack) << "a partial batch leaves once max_delay is up";
  }
}

TEST(Batcher, FullBatchLeavesWithoutWaitingForDelay) {
  BoundedQueue<Token> queue(16, 4, 10s);
  std::vector<Token> items = make_tokens(0, 4);
  ASSERT_TRUE(queue.push_all(std::span<Token>(items)));
  std::vector<Token> batch;
  const auto start = Clock::now();
  ASSERT_TRUE(queue.pop_batch(batch));
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(batch.size(), 4u);
}

TEST(Batcher, ZeroDelayBurstFormsFullBatches) {
  BoundedQueue<Token> queue(64, 8, 0us);
  std::vector<Token> burst = make_tokens(0, 64);
  ASSERT_TRUE(queue.push_all(std::span<Token>(burst)));
  queue.close();
  std::vector<size_t> sizes;
  std::vector<Token> batch;
  int next = 0;
  while (queue.pop_batch(batch)) {
    sizes.push_back(batch.size());
    for (const Token& t : batch) EXPECT_EQ(t.id, next++);
    batch.clear();
  }
  EXPECT_EQ(sizes, std::vector<size_t>(8, 8));
}

TEST(Batcher, ZeroDelayTakesWhatIsQueued) {
  BoundedQueue<Token> queue(64, 8, 0us);
  std::vector<Token> items = make_tokens(0, 3);
  ASSERT_TRUE(queue.push_all(std::span<Token>(items)));
  std::vector<Token> batch;
  ASSERT_TRUE(queue.pop_batch(batch));
  EXPECT_EQ(batch.size(), 3u);
}

TEST(Batcher, KeepsCollectingWhileConsumerIsBusy) {
  // The consumer is "busy" (not in pop_batch) while the first item's max_delay runs out and
  // more items arrive: they all join that item's batch instead of it leaving alone.
  BoundedQueue<Token> queue(64, 8, 20ms);
  ASSERT_TRUE(queue.push(make_token(0)));
  std::this_thread::sleep_for(60ms);
  std::vector<Token> more = make_tokens(1, 4);
  ASSERT_TRUE(queue.push_all(std::span<Token>(more)));
  std::vector<Token> batch;
  ASSERT_TRUE(queue.pop_batch(batch));
  EXPECT_EQ(batch.size(), 5u);
}

TEST(Batcher, BatchIsCappedByCapacity) {
  // max_batch above the capacity could never fill; the batch is the whole queue instead.
  BoundedQueue<Token> queue(3, 100, 10s);
  std::vector<Token> items = make_tokens(0, 3);
  ASSERT_TRUE(queue.push_all(std::span<Token>(items)));
  std::vector<Token> batch;
  const auto start = Clock::now();
  ASSERT_TRUE(queue.pop_batch(batch));
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(batch.size(), 3u);
}

}  // namespace
}  // namespace vpipe::detail
