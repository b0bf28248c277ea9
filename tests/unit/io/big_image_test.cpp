// Big images in bounded memory (issue 15): PNGs over kRowByRowPixels read row by row into a box
// average when a reduced image is asked for, and the PixelBudget that caps the full-resolution
// pixels the decode workers of a pass hold at once.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "codec_test_util.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/pixel_budget.h"

namespace vpipe {
namespace {

using codec_test::max_difference;

// 4700 x 3600 = 16.9 MP, just over the row-by-row threshold; factor 18 leaves 20 columns and 0
// rows over (4700 = 18 * 261 + 2).
constexpr int kWidth = 4700;
constexpr int kHeight = 3600;

TEST(RowByRowPng, TheScansWorkingImageIsTheFullDecodesWithinOneLevel) {
  static_assert(uint64_t{kWidth} * kHeight > kRowByRowPixels);
  const Image rgb = codec_test::make_noise(kWidth, kHeight, 3, 7);
  const std::vector<uint8_t> png = encode_png(rgb);
  Decoder decoder;
  DecodeOptions full;
  DecodeOptions reduced;
  reduced.min_long_side = kWorkingSize;
  const DecodeResult a = decoder.decode(png, full);
  const DecodeResult b = decoder.decode(png, reduced);
  ASSERT_EQ(a.status, ItemStatus::kOk) << a.message;
  ASSERT_EQ(b.status, ItemStatus::kOk) << b.message;
  EXPECT_EQ(b.width, kWidth);  // the full size is still what the file is
  EXPECT_EQ(b.height, kHeight);
  EXPECT_EQ(b.image.width, kWidth / 18);
  EXPECT_EQ(b.image.height, kHeight / 18);
  EXPECT_GE(std::max(b.image.width, b.image.height), kWorkingSize);
  EXPECT_LE(max_difference(resize_to_fit(a.image, kWorkingSize), resize_to_fit(b.image, kWorkingSize)), 1);
}

TEST(RowByRowPng, WithAlphaTheCompositeIsTheFullDecodesWithinTwoLevels) {
  const Image rgb = codec_test::make_noise(kWidth, kHeight, 3, 11);
  Image alpha(kWidth, kHeight, 1);
  for (int y = 0; y < kHeight; ++y) {  // transparent on the left, opaque on the right
    for (int x = 0; x < kWidth; ++x) alpha.row(y)[x] = static_cast<uint8_t>(x * 255 / kWidth);
  }
  const std::vector<uint8_t> png = encode_png(rgb, alpha);
  Decoder decoder;
  DecodeOptions reduced;
  reduced.min_long_side = kWorkingSize;
  const DecodeResult a = decoder.decode(png, DecodeOptions{});
  const DecodeResult b = decoder.decode(png, reduced);
  ASSERT_EQ(b.status, ItemStatus::kOk) << b.message;
  ASSERT_FALSE(a.alpha.empty());
  ASSERT_FALSE(b.alpha.empty());
  EXPECT_LE(max_difference(resize_to_fit(composite_over(a.image, a.alpha), kWorkingSize),
                           resize_to_fit(composite_over(b.image, b.alpha), kWorkingSize)),
            2);
  EXPECT_LE(max_difference(resize_to_fit(a.alpha, kWorkingSize), resize_to_fit(b.alpha, kWorkingSize)), 1);
}

TEST(ScaledWebp, ABigStillWebpComesOutReducedAndCloseToTheWholeDecode) {
  const std::vector<uint8_t> webp = encode_webp(codec_test::make_rgb(kWidth, kHeight), 90);
  Decoder decoder;
  DecodeOptions reduced;
  reduced.min_long_side = kWorkingSize;
  const DecodeResult a = decoder.decode(webp, DecodeOptions{});
  const DecodeResult b = decoder.decode(webp, reduced);
  ASSERT_EQ(b.status, ItemStatus::kOk) << b.message;
  EXPECT_EQ(b.width, kWidth);
  EXPECT_EQ(b.image.width, kWidth / 18);
  EXPECT_EQ(b.image.height, kHeight / 18);
  // libwebp's rescaler weighs fractional pixels at the block edges: close, not identical.
  EXPECT_LE(max_difference(resize_to_fit(a.image, kWorkingSize), resize_to_fit(b.image, kWorkingSize)), 3);
}

TEST(RowByRowPng, SmallOrFullResolutionDecodesAreWhole) {
  const std::vector<uint8_t> png = encode_png(codec_test::make_rgb(3000, 2000));  // 6 MP
  Decoder decoder;
  DecodeOptions reduced;
  reduced.min_long_side = kWorkingSize;
  EXPECT_EQ(decoder.decode(png, reduced).image.width, 3000);
}

TEST(RowByRowPng, ATruncatedBigPngIsCorruptAndHoldsNoBudget) {
  std::vector<uint8_t> png = encode_png(codec_test::make_noise(kWidth, kHeight, 3, 3));
  png.resize(png.size() / 2);
  PixelBudget budget(100'000'000);
  DecodeOptions options;
  options.min_long_side = kWorkingSize;
  options.budget = &budget;
  Decoder decoder;
  const DecodeResult r = decoder.decode(png, options);
  EXPECT_EQ(r.status, ItemStatus::kCorrupt);
  EXPECT_NE(r.message.find("PNG"), std::string::npos) << r.message;
  EXPECT_EQ(budget.in_use(), 0U);
}

TEST(PixelBudgetTest, LeasesTakeTheirPixelsUntilTheyEndAndRowByRowTakesFewer) {
  PixelBudget budget(50'000'000);
  Decoder decoder;
  DecodeOptions options;
  options.budget = &budget;
  const std::vector<uint8_t> small = encode_png(codec_test::make_rgb(640, 480));
  {
    const DecodeResult r = decoder.decode(small, options);
    EXPECT_EQ(r.lease.pixels(), 640U * 480U);
    EXPECT_EQ(budget.in_use(), 640U * 480U);
  }
  EXPECT_EQ(budget.in_use(), 0U);
  const std::vector<uint8_t> big = encode_png(codec_test::make_noise(kWidth, kHeight, 3, 5));
  options.min_long_side = kWorkingSize;
  const DecodeResult r = decoder.decode(big, options);
  EXPECT_LT(r.lease.pixels(), uint64_t{kWidth} * 2 + 600 * 600);  // a row, and the small image
  EXPECT_GE(budget.peak(), uint64_t{kWidth} * kHeight);        // taken before the header was read
}

// A decoder that checks two sizes of one image (a GIF's canvas, then its first frame) must not
// wait on the lease it already holds: with a budget smaller than two of them it did.
TEST(PixelBudgetTest, AGifUnderATightBudgetDoesNotWaitOnItself) {
  const std::vector<uint8_t> gif = encode_gif(codec_test::make_rgb(200, 150));
  PixelBudget budget(200 * 150 + 1);
  DecodeOptions options;
  options.budget = &budget;
  Decoder decoder;
  const DecodeResult r = decoder.decode(gif, options);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(r.lease.pixels(), 200U * 150U);
}

TEST(PixelBudgetTest, WorkersWaitForEachOtherAndOneOversizedLeaseGoesAlone) {
  PixelBudget budget(100);
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 6; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        PixelBudget::Lease lease = budget.acquire(40);
        const int now = ++inside;
        int seen = most_inside.load();
        while (now > seen && !most_inside.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --inside;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(most_inside.load(), 2);  // 2 x 40 fit in 100, 3 do not
  EXPECT_LE(budget.peak(), 100U);
  EXPECT_EQ(budget.in_use(), 0U);

  PixelBudget::Lease small = budget.acquire(10);
  std::atomic<bool> got_big{false};
  std::thread big([&] {
    const PixelBudget::Lease lease = budget.acquire(1000);  // over the whole budget
    got_big = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got_big.load());  // waits for the others to finish...
  small.release();
  big.join();                    // ...then goes alone
  EXPECT_TRUE(got_big.load());
  EXPECT_EQ(budget.in_use(), 0U);
}

}  // namespace
}  // namespace vpipe
