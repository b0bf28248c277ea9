#include "vpipe/dedup/area_resample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <utility>
#include <vector>

namespace vpipe {
namespace {

Image random_gray(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  Image img(w, h, 1);
  for (auto& v : img.pixels) v = static_cast<uint8_t>(rng());
  return img;
}

std::vector<uint8_t> resample(const Image& img, int w, int h) {
  std::vector<uint8_t> out(static_cast<size_t>(w) * h);
  area_resample_gray(img, w, h, out);
  return out;
}

TEST(AreaResample, MatchesOpenCvAreaResizeWhenShrinking) {
  // Independent reference: cv::resize INTER_AREA on float input, unrounded. Ours is the same
  // average rounded to the nearest level.
  struct Case {
    int in_w, in_h, out_w, out_h;
  };
  for (const Case& c :
       {Case{256, 192, 9, 8}, Case{256, 192, 32, 32}, Case{255, 171, 9, 8}, Case{100, 33, 32, 32},
        Case{40, 300, 9, 8}, Case{33, 32, 32, 32}, Case{1000, 10, 9, 8}}) {
    Image img = random_gray(c.in_w, c.in_h, static_cast<uint32_t>(c.in_w * 7 + c.in_h));
    cv::Mat as_float;
    cv::Mat(img.height, img.width, CV_8UC1, img.pixels.data()).convertTo(as_float, CV_32F);
    cv::Mat expected;
    cv::resize(as_float, expected, cv::Size(c.out_w, c.out_h), 0, 0, cv::INTER_AREA);
    const auto ours = resample(img, c.out_w, c.out_h);
    for (int i = 0; i < c.out_h; ++i) {
      for (int j = 0; j < c.out_w; ++j) {
        EXPECT_NEAR(ours[i * c.out_w + j], expected.at<float>(i, j), 0.5 + 1e-3)
            << c.in_w << "x" << c.in_h << " -> " << c.out_w << "x" << c.out_h << " at " << j << ","
            << i;
      }
    }
  }
}

TEST(AreaResample, ConstantStaysExactlyConstant) {
  for (auto [w, h] : {std::pair{256, 192}, {97, 13}, {5, 3}, {1, 1}}) {
    Image img(w, h, 1);
    std::fill(img.pixels.begin(), img.pixels.end(), uint8_t{201});
    for (auto [ow, oh] : {std::pair{9, 8}, {32, 32}}) {
      for (uint8_t v : resample(img, ow, oh)) ASSERT_EQ(v, 201) << w << "x" << h;
    }
  }
}

TEST(AreaResample, HandComputedFractions) {
  // 3 -> 2 columns: output 0 covers pixel 0 and half of pixel 1; output 1 the other half of
  // pixel 1 and pixel 2. (10 + 0.5 * 20) / 1.5 = 13.33 -> 13; (0.5 * 20 + 41) / 1.5 = 34.
  Image img(3, 1, 1);
  img.pixels = {10, 20, 41};
  EXPECT_EQ(resample(img, 2, 1), (std::vector<uint8_t>{13, 34}));

  // Enlarging 2 -> 3: the middle output covers half of each source pixel; halves round up.
  Image two(2, 1, 1);
  two.pixels = {10, 21};
  EXPECT_EQ(resample(two, 3, 1), (std::vector<uint8_t>{10, 16, 21}));

  // 2x2 blocks.
  Image block(4, 2, 1);
  block.pixels = {0, 2, 100, 101, 4, 6, 102, 103};
  EXPECT_EQ(resample(block, 2, 1), (std::vector<uint8_t>{3, 102}));  // 3, 101.5 -> 102
}

TEST(AreaResampler, EqualsAreaResampleGrayOfTheWindowBitForBit) {
  // Windows anywhere in images of many shapes, shrunk and enlarged, including a constant and a
  // saturated image (the largest sums).
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const int w = 1 + static_cast<int>(rng() % 300);
    const int h = 1 + static_cast<int>(rng() % 300);
    Image img = random_gray(w, h, static_cast<uint32_t>(trial));
    if (trial % 10 == 0) std::fill(img.pixels.begin(), img.pixels.end(), uint8_t{255});
    const AreaResampler resampler(img);
    for (int k = 0; k < 4; ++k) {
      const int ww = 1 + static_cast<int>(rng() % w);
      const int wh = 1 + static_cast<int>(rng() % h);
      const int x0 = static_cast<int>(rng() % (w - ww + 1));
      const int y0 = static_cast<int>(rng() % (h - wh + 1));
      Image window(ww, wh, 1);
      for (int y = 0; y < wh; ++y) {
        std::copy(img.row(y0 + y) + x0, img.row(y0 + y) + x0 + ww, window.row(y));
      }
      const std::pair<int, int> any_size{1 + static_cast<int>(rng() % 400),
                                         1 + static_cast<int>(rng() % 400)};
      for (const auto& [ow, oh] :
           {std::pair{32, 32}, std::pair{9, 8}, std::pair{8, 9}, any_size}) {
        std::vector<uint8_t> got(static_cast<size_t>(ow) * oh);
        resampler.resample(x0, y0, ww, wh, ow, oh, got);
        ASSERT_EQ(got, resample(window, ow, oh))
            << w << "x" << h << " window " << ww << "x" << wh << "+" << x0 << "+" << y0 << " -> "
            << ow << "x" << oh;
      }
    }
    std::vector<uint8_t> whole(32 * 32);
    resampler.resample(32, 32, whole);
    ASSERT_EQ(whole, resample(img, 32, 32));
  }
}

}  // namespace
}  // namespace vpipe
