// BatchHalving against a stand-in device that holds at most `capacity` items per call: every
// item is run exactly once and in order, the limit settles at what fits and stays there, an item
// that fits nowhere fails alone, and other errors are not mistaken for memory.
#include "vpipe/infer/batch_halving.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

struct FakeDevice {
  size_t capacity;
  std::vector<size_t> done;         // items run, in order
  std::vector<size_t> call_sizes;   // every call, failed ones included
  std::vector<std::string> failed;  // "index: why"

  void run(BatchHalving& h, size_t offset, size_t n) {
    h.run(
        n,
        [&](size_t first, size_t count) {
          call_sizes.push_back(count);
          if (count > capacity) {
            throw DeviceOutOfMemory("needs " + std::to_string(count) + " slots");
          }
          for (size_t i = first; i < first + count; ++i) done.push_back(offset + i);
        },
        [&](size_t index, const std::string& why) {
          failed.push_back(std::to_string(offset + index) + ": " + why);
        });
  }
};

TEST(BatchHalving, HalvesUntilTheBatchFitsAndRunsEveryItemOnceInOrder) {
  FakeDevice dev{3, {}, {}, {}};
  BatchHalving h("test model");
  dev.run(h, 0, 32);
  std::vector<size_t> expected(32);
  for (size_t i = 0; i < 32; ++i) expected[i] = i;
  EXPECT_EQ(dev.done, expected);
  EXPECT_TRUE(dev.failed.empty());
  EXPECT_EQ(h.limit(), 2U);  // 32 -> 16 -> 8 -> 4 -> 2
  EXPECT_EQ(h.halvings(), 4U);
  // The limit is kept: the next batch makes no call that fails.
  dev.call_sizes.clear();
  dev.run(h, 100, 7);
  EXPECT_EQ(dev.call_sizes, (std::vector<size_t>{2, 2, 2, 1}));
  EXPECT_EQ(h.halvings(), 4U);
  EXPECT_EQ(dev.done.size(), 39U);
  EXPECT_EQ(dev.done.back(), 106U);
}

TEST(BatchHalving, AnItemThatFitsNowhereFailsAloneAndTheRestRuns) {
  FakeDevice dev{0, {}, {}, {}};
  BatchHalving h("test model", 4);
  dev.run(h, 0, 5);
  EXPECT_TRUE(dev.done.empty());
  ASSERT_EQ(dev.failed.size(), 5U);
  EXPECT_EQ(dev.failed[0], "0: needs 1 slots");
  EXPECT_EQ(dev.failed[4], "4: needs 1 slots");
  EXPECT_EQ(h.limit(), 1U);
}

TEST(BatchHalving, AMaxChunkIsTheFirstSizeTried) {
  FakeDevice dev{100, {}, {}, {}};
  BatchHalving h("test model", 5);
  dev.run(h, 0, 12);
  EXPECT_EQ(dev.call_sizes, (std::vector<size_t>{5, 5, 2}));
  EXPECT_EQ(h.halvings(), 0U);
}

TEST(BatchHalving, OtherErrorsPropagateWithoutHalving) {
  BatchHalving h("test model");
  size_t calls = 0;
  EXPECT_THROW(h.run(
                   8,
                   [&](size_t, size_t) {
                     ++calls;
                     throw CudaError("an illegal memory access was encountered");
                   },
                   [](size_t, const std::string&) { FAIL() << "not a memory failure"; }),
               CudaError);
  EXPECT_EQ(calls, 1U);
  EXPECT_EQ(h.halvings(), 0U);
  EXPECT_EQ(h.limit(), 0U);
}

}  // namespace
}  // namespace vpipe
