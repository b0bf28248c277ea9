// Cost of the engine itself: items through a chain of stages that do nothing, and through one
// bounded queue. Items per second is the number to watch: a queue hop must stay cheap next to
// decoding an image.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "vpipe/engine/bounded_queue.h"
#include "vpipe/engine/pipeline.h"

namespace {

struct BenchItem {
  int64_t id = 0;
  std::string error;
  void fail(std::string message) { error = std::move(message); }
};

// args: stages, workers per stage, max_batch.
void BM_PipelineNoopStages(benchmark::State& state) {
  const auto stages = static_cast<int>(state.range(0));
  const auto workers = static_cast<int>(state.range(1));
  const auto max_batch = static_cast<size_t>(state.range(2));
  constexpr int64_t kItems = 200'000;
  vpipe::Pipeline<BenchItem> pipeline;
  pipeline.set_source("source", [](const vpipe::Pipeline<BenchItem>::Emit& emit) {
    for (int64_t i = 0; i < kItems; ++i) {
      if (!emit(BenchItem{i, {}})) return;
    }
  });
  for (int s = 0; s < stages; ++s) {
    pipeline.add_stage(
        vpipe::StageSpec{"stage" + std::to_string(s), workers,
                         vpipe::BatchPolicy{max_batch, std::chrono::microseconds(0)}, 0},
        [](int) {
          return [](std::span<BenchItem> batch) { benchmark::DoNotOptimize(batch.data()); };
        });
  }
  for (auto _ : state) {
    const vpipe::RunReport report = pipeline.run();
    benchmark::DoNotOptimize(report.wall_ns);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_PipelineNoopStages)
    ->Args({1, 1, 1})
    ->Args({3, 1, 1})
    ->Args({3, 1, 32})
    ->Args({3, 2, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One producer, one consumer, one queue; args: capacity, max_batch.
void BM_BoundedQueueHop(benchmark::State& state) {
  const auto capacity = static_cast<size_t>(state.range(0));
  const auto max_batch = static_cast<size_t>(state.range(1));
  constexpr int64_t kItems = 500'000;
  for (auto _ : state) {
    vpipe::detail::BoundedQueue<BenchItem> queue(capacity, max_batch);
    std::thread producer([&] {
      for (int64_t i = 0; i < kItems; ++i) {
        if (!queue.push(BenchItem{i, {}})) return;
      }
      queue.close();
    });
    std::vector<BenchItem> batch;
    int64_t received = 0;
    while (queue.pop_batch(batch)) {
      received += static_cast<int64_t>(batch.size());
      batch.clear();
    }
    producer.join();
    benchmark::DoNotOptimize(received);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_BoundedQueueHop)
    ->Args({2, 1})
    ->Args({64, 1})
    ->Args({64, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
