#include "vpipe/engine/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_item.h"
#include "vpipe/core/error.h"

namespace vpipe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::TestItem;
using TestPipeline = Pipeline<TestItem>;

/// A source of items 0..count-1 that stops when emit says so.
TestPipeline::SourceFn count_to(int count) {
  return [count](const TestPipeline::Emit& emit) {
    for (int i = 0; i < count; ++i) {
      if (!emit(TestItem(i))) return;
    }
  };
}

/// A source that never runs out; `accepted` counts the items emit took.
TestPipeline::SourceFn endless(std::atomic<int>* accepted) {
  return [accepted](const TestPipeline::Emit& emit) {
    for (int i = 0;; ++i) {
      if (!emit(TestItem(i))) return;
      if (accepted != nullptr) accepted->fetch_add(1);
    }
  };
}

/// A stage function that marks each item as seen.
TestPipeline::WorkerFactory touch() {
  return [](int) {
    return [](std::span<TestItem> batch) {
      for (TestItem& item : batch) ++item.stages_seen;
    };
  };
}

/// Collects what reaches the last stage. Thread-safe.
struct Sink {
  std::mutex mu;
  std::vector<int> ids;
  std::map<int, std::string> errors;
  std::vector<int> stages_seen;
  bool payload_intact = true;

  TestPipeline::WorkerFactory factory() {
    return [this](int) {
      return [this](std::span<TestItem> batch) {
        std::lock_guard lock(mu);
        for (TestItem& item : batch) {
          ids.push_back(item.id);
          stages_seen.push_back(item.stages_seen);
          if (!item.error.empty()) errors[item.id] = item.error;
          payload_intact = payload_intact && item.payload != nullptr && *item.payload == item.id;
        }
      };
    };
  }
};

StageSpec spec(std::string name, int workers = 1, size_t max_batch = 1,
               std::chrono::microseconds max_delay = 0us, size_t queue_capacity = 0) {
  return StageSpec{std::move(name), workers, BatchPolicy{max_batch, max_delay}, queue_capacity};
}

TEST(Pipeline, EveryItemReachesTheLastStageExactlyOnce) {
  constexpr int kItems = 20000;
  TestPipeline pipeline;
  Sink sink;
  pipeline.set_source("source", count_to(kItems));
  pipeline.add_stage(spec("a", 3, 4, 100us), touch());
  pipeline.add_stage(spec("b", 2), touch());
  pipeline.add_stage(spec("c", 3, 16, 1000us), touch());
  pipeline.add_stage(spec("sink", 2, 8), sink.factory());
  const RunReport report = pipeline.run();

  ASSERT_EQ(sink.ids.size(), static_cast<size_t>(kItems));
  std::vector<int> ids = sink.ids;
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(ids[i], i) << "item missing or duplicated";
  EXPECT_TRUE(sink.payload_intact);
  EXPECT_TRUE(
      std::all_of(sink.stages_seen.begin(), sink.stages_seen.end(), [](int n) { return n == 3; }));
  EXPECT_TRUE(sink.errors.empty());
  EXPECT_FALSE(report.stopped);
  ASSERT_EQ(report.stages.size(), 5u);
  EXPECT_EQ(report.stages[0].name, "source");
  for (const StageMetrics& stage : report.stages) {
    EXPECT_EQ(stage.items_in, static_cast<uint64_t>(kItems)) << stage.name;
    EXPECT_EQ(stage.items_out, static_cast<uint64_t>(kItems)) << stage.name;
  }
  EXPECT_LE(report.stages[1].max_batch_size, 4u);
  EXPECT_LE(report.stages[3].max_batch_size, 16u);
}

TEST(Pipeline, SingleWorkersKeepOrder) {
  constexpr int kItems = 3000;
  TestPipeline pipeline;
  Sink sink;
  pipeline.set_source("source", count_to(kItems));
  pipeline.add_stage(spec("a", 1, 8, 200us), touch());
  pipeline.add_stage(spec("b", 1, 3), touch());
  pipeline.add_stage(spec("sink", 1, 5), sink.factory());
  pipeline.run();
  ASSERT_EQ(sink.ids.size(), static_cast<size_t>(kItems));
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(sink.ids[i], i);
}

TEST(Pipeline, SourceOnlyPipelineCountsItems) {
  TestPipeline pipeline;
  pipeline.set_source("source", count_to(100));
  const RunReport report = pipeline.run();
  ASSERT_EQ(report.stages.size(), 1u);
  EXPECT_EQ(report.stages[0].items_out, 100u);
}

TEST(Pipeline, CanRunTwice) {
  TestPipeline pipeline;
  Sink sink;
  pipeline.set_source("source", count_to(500));
  pipeline.add_stage(spec("sink", 2, 4), sink.factory());
  const RunReport first = pipeline.run();
  const RunReport second = pipeline.run();
  EXPECT_EQ(sink.ids.size(), 1000u);
  EXPECT_EQ(first.stages[1].items_in, 500u);
  EXPECT_EQ(second.stages[1].items_in, 500u) << "counters restart with each run";
}

TEST(Pipeline, RejectsBadConfiguration) {
  TestPipeline pipeline;
  EXPECT_THROW(pipeline.run(), ConfigError) << "no source";
  EXPECT_THROW(pipeline.add_stage(spec("a", 0), touch()), ConfigError);
  EXPECT_THROW(pipeline.add_stage(spec("a", 1, 0), touch()), ConfigError);
  EXPECT_THROW(pipeline.add_stage(spec("a", 1, TestPipeline::kMaxBatch + 1), touch()), ConfigError);
  EXPECT_THROW(pipeline.add_stage(spec("", 1), touch()), ConfigError);
  EXPECT_THROW(pipeline.add_stage(spec("a", 1), nullptr), ConfigError);
}

TEST(PipelineErrors, ItemErrorFailsOnlyThatBatchAndTheRunCompletes) {
  constexpr int kItems = 2000;
  TestPipeline pipeline;
  Sink sink;
  std::mutex batches_mu;
  std::vector<std::vector<int>> batches;
  pipeline.set_source("source", count_to(kItems));
  pipeline.add_stage(spec("check", 2, 4, 200us), [&](int) {
    return [&](std::span<TestItem> batch) {
      std::vector<int> ids;
      bool bad = false;
      for (TestItem& item : batch) {
        ids.push_back(item.id);
        bad = bad || item.id % 100 == 0;
      }
      {
        std::lock_guard lock(batches_mu);
        batches.push_back(ids);
      }
      if (bad) throw ItemError("multiple of 100 in batch");
    };
  });
  pipeline.add_stage(spec("after", 1), touch());
  pipeline.add_stage(spec("sink", 1), sink.factory());
  const RunReport report = pipeline.run();

  std::set<int> expected_failed;
  for (const std::vector<int>& batch : batches) {
    if (std::any_of(batch.begin(), batch.end(), [](int id) { return id % 100 == 0; })) {
      expected_failed.insert(batch.begin(), batch.end());
    }
  }
  ASSERT_EQ(sink.ids.size(), static_cast<size_t>(kItems)) << "failed items flow on";
  std::set<int> failed;
  for (const auto& [id, message] : sink.errors) {
    failed.insert(id);
    EXPECT_EQ(message, "multiple of 100 in batch");
  }
  EXPECT_EQ(failed, expected_failed);
  EXPECT_GE(failed.size(), static_cast<size_t>(kItems / 100));
  EXPECT_LT(failed.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(report.stages[2].items_out, static_cast<uint64_t>(kItems));
}

TEST(PipelineErrors, FatalErrorIsRethrownWithTypeAndMessage) {
  TestPipeline pipeline;
  // An endless source blocks on the full queue most of the time; the run must still end.
  pipeline.set_source("source", endless(nullptr));
  pipeline.add_stage(spec("a", 2), touch());
  pipeline.add_stage(spec("disk", 1, 1, 0us, 1), [](int) {
    return [](std::span<TestItem> batch) {
      for (const TestItem& item : batch) {
        if (item.id == 50) throw IoError("disk gone");
      }
    };
  });
  pipeline.add_stage(spec("sink", 1), touch());
  const auto start = Clock::now();
  try {
    pipeline.run();
    FAIL() << "run() should have thrown";
  } catch (const IoError& e) {
    EXPECT_STREQ(e.what(), "disk gone");
  }
  EXPECT_LT(Clock::now() - start, 20s);
}

TEST(PipelineErrors, FatalErrorWhileOthersAreBlockedOnFullQueues) {
  TestPipeline pipeline;
  pipeline.set_source("source", endless(nullptr));
  pipeline.add_stage(spec("fast", 2, 4), touch());
  pipeline.add_stage(spec("boom", 1), [](int) {
    return [](std::span<TestItem> batch) {
      if (batch.front().id >= 100) throw std::logic_error("invariant broke");
    };
  });
  // A slow last stage with a tiny queue keeps "boom" blocked pushing downstream.
  pipeline.add_stage(spec("slow", 1, 1, 0us, 1), [](int) {
    return [](std::span<TestItem>) { std::this_thread::sleep_for(2ms); };
  });
  const auto start = Clock::now();
  EXPECT_THROW(
      {
        try {
          pipeline.run();
        } catch (const std::logic_error& e) {
          EXPECT_STREQ(e.what(), "invariant broke");
          throw;
        }
      },
      std::logic_error);
  EXPECT_LT(Clock::now() - start, 20s);
}

TEST(PipelineErrors, SourceExceptionIsRethrown) {
  TestPipeline pipeline;
  pipeline.set_source("source", [](const TestPipeline::Emit& emit) {
    for (int i = 0; i < 10; ++i) (void)emit(TestItem(i));
    throw ManifestError("manifest locked");
  });
  pipeline.add_stage(spec("a", 2), touch());
  EXPECT_THROW(pipeline.run(), ManifestError);
}

TEST(PipelineErrors, WorkerFactoryExceptionIsRethrown) {
  TestPipeline pipeline;
  pipeline.set_source("source", endless(nullptr));
  pipeline.add_stage(spec("model", 2), [](int worker) -> TestPipeline::StageFn {
    if (worker == 1) throw ConfigError("no model file");
    return [](std::span<TestItem>) {};
  });
  try {
    pipeline.run();
    FAIL() << "run() should have thrown";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "no model file");
  }
}

TEST(PipelineStop, StopFlagStopsSourceAndInFlightItemsFinish) {
  TestPipeline pipeline;
  Sink sink;
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0};
  pipeline.set_source("source", endless(&accepted));
  pipeline.add_stage(spec("a", 2, 4), [&](int) {
    return [&](std::span<TestItem> batch) {
      for (TestItem& item : batch) {
        ++item.stages_seen;
        if (item.id == 300) stop.store(true);
      }
    };
  });
  // Slow enough, with a roomy queue, that items are still queued when stop is set.
  pipeline.add_stage(spec("b", 1, 1, 0us, 64), [](int) {
    return [](std::span<TestItem> batch) {
      std::this_thread::sleep_for(100us);
      for (TestItem& item : batch) ++item.stages_seen;
    };
  });
  pipeline.add_stage(spec("sink", 1), sink.factory());
  RunOptions options;
  options.stop = &stop;
  const RunReport report = pipeline.run(options);

  EXPECT_TRUE(report.stopped);
  const int emitted = accepted.load();
  EXPECT_GT(emitted, 300);
  ASSERT_EQ(sink.ids.size(), static_cast<size_t>(emitted)) << "every item emitted reaches the end";
  std::vector<int> ids = sink.ids;
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < emitted; ++i) ASSERT_EQ(ids[i], i);
  EXPECT_TRUE(
      std::all_of(sink.stages_seen.begin(), sink.stages_seen.end(), [](int n) { return n == 2; }));
  EXPECT_EQ(report.stages[0].items_out, static_cast<uint64_t>(emitted));
}

TEST(PipelineStop, StopSetBeforeRunEmitsNothing) {
  TestPipeline pipeline;
  Sink sink;
  std::atomic<bool> stop{true};
  pipeline.set_source("source", count_to(100));
  pipeline.add_stage(spec("sink", 1), sink.factory());
  RunOptions options;
  options.stop = &stop;
  const RunReport report = pipeline.run(options);
  EXPECT_TRUE(report.stopped);
  EXPECT_TRUE(sink.ids.empty());
  EXPECT_EQ(report.bottleneck, -1);
}

TEST(PipelineMetrics, SleepingStageIsTheBottleneck) {
  constexpr int kItems = 200;
  TestPipeline pipeline;
  pipeline.set_source("source", count_to(kItems));
  pipeline.add_stage(spec("fast_before", 1), touch());
  pipeline.add_stage(spec("slow", 1), [](int) {
    return [](std::span<TestItem> batch) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2) * batch.size());
    };
  });
  pipeline.add_stage(spec("fast_after", 1, 4, 100us), touch());
  const RunReport report = pipeline.run();

  ASSERT_EQ(report.stages.size(), 4u);
  EXPECT_EQ(report.bottleneck, 2);
  EXPECT_EQ(report.stages[2].name, "slow");
  for (const StageMetrics& stage : report.stages) {
    EXPECT_EQ(stage.items_in, static_cast<uint64_t>(kItems)) << stage.name;
    EXPECT_EQ(stage.items_out, static_cast<uint64_t>(kItems)) << stage.name;
  }
  EXPECT_GE(report.stages[2].busy_ns, int64_t{kItems} * 2'000'000);
  EXPECT_GT(report.stages[2].utilization(report.wall_ns), 0.5);
  // Upstream of the slow stage waits for room; downstream waits for input.
  EXPECT_GT(report.stages[0].wait_output_ns, 0);
  EXPECT_GT(report.stages[1].wait_output_ns, 0);
  EXPECT_GT(report.stages[3].wait_input_ns, 0);
  EXPECT_EQ(report.stages[2].batches, static_cast<uint64_t>(kItems));
  EXPECT_GT(report.wall_ns, report.stages[2].busy_ns / 2);

  const std::string table = report.format_table();
  EXPECT_NE(table.find("bottleneck: slow"), std::string::npos) << table;
  EXPECT_NE(table.find("fast_before"), std::string::npos) << table;
}

TEST(PipelineMetrics, BatchSizesAreCounted) {
  constexpr int kItems = 1000;
  TestPipeline pipeline;
  pipeline.set_source("source", count_to(kItems));
  pipeline.add_stage(spec("batched", 2, 8, 500us), [](int) {
    return [](std::span<TestItem>) { std::this_thread::sleep_for(50us); };
  });
  const RunReport report = pipeline.run();
  const StageMetrics& stage = report.stages[1];
  uint64_t batches = 0;
  for (uint64_t n : stage.batch_size_counts) batches += n;
  EXPECT_EQ(batches, stage.batches);
  EXPECT_GE(stage.max_batch_size, 1u);
  EXPECT_LE(stage.max_batch_size, 8u);
  EXPECT_LE(stage.batch_size_counts.size(), 4u) << "sizes up to 8 fall in buckets 0..3";
  EXPECT_DOUBLE_EQ(stage.mean_batch_size() * static_cast<double>(stage.batches),
                   static_cast<double>(kItems));
}

}  // namespace
}  // namespace vpipe
