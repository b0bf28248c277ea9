// The dedup pass on a device: the near-pair self-joins go to the GPU index on "cuda:N" and fall
// back to the CPU index when it cannot run, with the same groups either way. The fallback rules
// are tested with stand-in joins everywhere; the pass on cuda:0 runs on the GPU where there is
// one and through the fallback where there is not, and must decide the same in both cases.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "vpipe/core/error.h"
#include "vpipe/curate/dedup_pass.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/dedup/hamming_index.h"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

using GpuJoin = std::function<void(std::span<const uint64_t>, int, const HammingPairSink&)>;

const std::vector<uint64_t> kHashes = {0x0, 0x1, 0x3, 0xFFFF0000, 0xFFFF0001};

std::vector<HammingPair> collect(const std::function<bool(std::span<const uint64_t>, int,
                                                          const HammingPairSink&)>& join,
                                 bool* handled) {
  std::vector<HammingPair> pairs;
  *handled = join(kHashes, 2, [&](std::span<const HammingPair> chunk) {
    pairs.insert(pairs.end(), chunk.begin(), chunk.end());
  });
  return pairs;
}

TEST(SelfJoinFallback, ASuccessfulGpuJoinHandsOverItsPairsAndNamesTheDevice) {
  std::string used = "unset";
  const GpuJoin gpu = [](std::span<const uint64_t>, int, const HammingPairSink& sink) {
    const std::vector<HammingPair> pairs = {{0, 1, 1}, {3, 4, 1}};
    sink(pairs);
  };
  const auto join = self_join_with_cpu_fallback(gpu, "cuda:3", &used);
  bool handled = false;
  const std::vector<HammingPair> pairs = collect(join, &handled);
  EXPECT_TRUE(handled);
  EXPECT_EQ(pairs.size(), 2U);
  EXPECT_EQ(used, "cuda:3");
}

TEST(SelfJoinFallback, AFailureBeforeAnyPairFallsBackOnceAndSaysWhy) {
  std::string used;
  int calls = 0;
  const GpuJoin gpu = [&](std::span<const uint64_t>, int, const HammingPairSink&) {
    ++calls;
    throw CudaError("no usable CUDA device: driver too old");
  };
  const auto join = self_join_with_cpu_fallback(gpu, "cuda:0", &used);
  bool handled = true;
  EXPECT_TRUE(collect(join, &handled).empty());
  EXPECT_FALSE(handled);  // the grouping runs the CPU index instead
  EXPECT_EQ(used, "cpu (cuda:0: no usable CUDA device: driver too old)");
  // The second join (dHash after pHash) does not try the failed device again.
  EXPECT_TRUE(collect(join, &handled).empty());
  EXPECT_FALSE(handled);
  EXPECT_EQ(calls, 1);
}

TEST(SelfJoinFallback, AFailureAfterPairsWereHandedOverEndsThePassInsteadOfCountingTwice) {
  std::string used;
  const GpuJoin gpu = [](std::span<const uint64_t>, int, const HammingPairSink& sink) {
    const std::vector<HammingPair> pairs = {{0, 1, 1}};
    sink(pairs);
    throw DeviceOutOfMemory("cudaMalloc of 48 MB failed");
  };
  const auto join = self_join_with_cpu_fallback(gpu, "cuda:1", &used);
  bool handled = false;
  try {
    (void)collect(join, &handled);
    FAIL() << "expected vpipe::Error";
  } catch (const CudaError&) {
    FAIL() << "the CUDA error must become a plain Error with the advice";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cuda:1"), std::string::npos) << what;
    EXPECT_NE(what.find("--device cpu"), std::string::npos) << what;
    EXPECT_NE(what.find("cudaMalloc of 48 MB failed"), std::string::npos) << what;
  }
}

TEST(SelfJoinFallback, OtherErrorsPassThrough) {
  std::string used;
  const GpuJoin gpu = [](std::span<const uint64_t>, int, const HammingPairSink&) {
    throw std::invalid_argument("threshold 99");
  };
  const auto join = self_join_with_cpu_fallback(gpu, "cuda:0", &used);
  bool handled = false;
  EXPECT_THROW((void)collect(join, &handled), std::invalid_argument);
}

/// A manifest of `n` scanned images whose hashes form near groups of three (within 2 bits of
/// each other) among unrelated images.
fs::path make_manifest(const fs::path& dir, int n) {
  const fs::path db = dir / "run.db";
  Manifest manifest(db);
  std::mt19937_64 rng(11);
  std::vector<FileRecord> records;
  uint64_t base_p = 0;
  uint64_t base_d = 0;
  for (int i = 0; i < n; ++i) {
    if (i % 5 == 0) {
      base_p = rng();
      base_d = rng();
    }
    const bool grouped = i % 5 < 3;
    FileRecord r;
    r.path = (dir / ("img" + std::to_string(i) + ".jpg")).string();
    r.size_bytes = 1000 + i;
    r.mtime_ns = i;
    r.status = ItemStatus::kOk;
    r.has_signals = true;
    r.width = 64 + i % 7;
    r.height = 64;
    r.phash = grouped ? base_p ^ (uint64_t{1} << (i % 5)) : rng();
    r.dhash = grouped ? base_d ^ (uint64_t{1} << (i % 5)) : rng();
    r.has_content_hash = true;
    r.content_hash = {static_cast<uint64_t>(i), 7};
    records.push_back(r);
  }
  FileStore(manifest).upsert_files(records);
  return db;
}

struct PassResult {
  DedupPassSummary summary;
  std::map<std::string, int64_t> decisions;
  int64_t near_pairs = 0;
};

PassResult run_on(const fs::path& db, Device device, size_t min_hashes) {
  DedupPassOptions options;
  options.device = device;
  options.gpu_join_min_hashes = min_hashes;
  options.quality_enabled = false;
  PassResult r;
  Manifest manifest(db);
  r.summary = run_dedup_pass(manifest, options);
  r.decisions = DedupStore(manifest).decision_counts();
  r.near_pairs = DedupStore(manifest).count_near_pairs();
  return r;
}

TEST(DedupPass, StorePairsChangesOnlyWhatNearPairsHolds) {
  TempDir dir("vpipe-dedup-store-");
  const fs::path db = make_manifest(dir.path(), 500);
  std::map<std::string, int64_t> decisions;
  for (const PairStore store : kAllPairStores) {
    DedupPassOptions options;
    options.quality_enabled = false;
    options.dedup.store_pairs = store;
    Manifest manifest(db);
    const DedupPassSummary summary = run_dedup_pass(manifest, options);
    EXPECT_EQ(summary.near_groups, 100) << to_string(store);
    EXPECT_EQ(summary.near_pairs, 300) << to_string(store);  // 3 per group of three, found
    // Stored: every pair, one per member that is not a keeper, or none.
    const int64_t expected = store == PairStore::kAll ? 300 : store == PairStore::kForest ? 200 : 0;
    EXPECT_EQ(DedupStore(manifest).count_near_pairs(), expected) << to_string(store);
    if (decisions.empty()) {
      decisions = DedupStore(manifest).decision_counts();
    } else {
      EXPECT_EQ(DedupStore(manifest).decision_counts(), decisions) << to_string(store);
    }
  }
}

TEST(DedupPassOnDevice, Cuda0GivesTheCpuGroupsOnTheGpuOrThroughTheFallback) {
  TempDir dir("vpipe-dedup-device-");
  const fs::path db = make_manifest(dir.path(), 500);
  const PassResult cpu = run_on(db, Device::cpu(), 0);
  EXPECT_EQ(cpu.summary.join_device, "cpu");
  ASSERT_EQ(cpu.summary.near_groups, 100);  // every group of three found
  EXPECT_EQ(cpu.decisions.at("duplicate"), 200);

  const PassResult gpu = run_on(db, Device::cuda(0), 0);
  EXPECT_EQ(gpu.summary.groups, cpu.summary.groups);
  EXPECT_EQ(gpu.summary.near_pairs, cpu.summary.near_pairs);
  EXPECT_EQ(gpu.near_pairs, cpu.near_pairs);
  EXPECT_EQ(gpu.decisions, cpu.decisions);
  const std::string why = cuda::unavailable_reason(0);
  if (why.empty()) {
    EXPECT_EQ(gpu.summary.join_device, "cuda:0");
  } else {
    EXPECT_EQ(gpu.summary.join_device.rfind("cpu (cuda:0: ", 0), 0U) << gpu.summary.join_device;
    EXPECT_NE(gpu.summary.join_device.find(why), std::string::npos) << gpu.summary.join_device;
  }
}

TEST(DedupPassOnDevice, SmallSetsStayOnTheCpuAndSaySo) {
  TempDir dir("vpipe-dedup-device-");
  const fs::path db = make_manifest(dir.path(), 50);
  const PassResult r = run_on(db, Device::cuda(0), 1000);
  EXPECT_EQ(r.summary.join_device, "cpu (50 images < 1000, the GPU minimum)");
  EXPECT_EQ(r.summary.near_groups, 10);
}

}  // namespace
}  // namespace vpipe
