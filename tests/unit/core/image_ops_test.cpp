#include "vpipe/core/image_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace vpipe {
namespace {

Image random_image(int w, int h, int channels, uint32_t seed) {
  std::mt19937 rng(seed);
  Image img(w, h, channels);
  for (auto& v : img.pixels) v = static_cast<uint8_t>(rng());
  return img;
}

TEST(ResizeToFit, KeepsAspectAndRespectsMaxSide) {
  struct Case {
    int w, h, max_side, want_w, want_h;
  };
  for (const Case& c : {Case{1000, 500, 256, 256, 128}, Case{500, 1000, 256, 128, 256},
                        Case{1024, 768, 256, 256, 192}, Case{300, 7, 256, 256, 6},
                        Case{4000, 3000, 100, 100, 75}, Case{257, 257, 256, 256, 256}}) {
    for (int channels : {1, 3}) {
      const Image out = resize_to_fit(random_image(c.w, c.h, channels, 1), c.max_side);
      EXPECT_EQ(out.width, c.want_w) << c.w << "x" << c.h;
      EXPECT_EQ(out.height, c.want_h) << c.w << "x" << c.h;
      EXPECT_EQ(out.channels, channels);
      EXPECT_EQ(out.pixels.size(), out.stride() * out.height);
      EXPECT_LE(std::max(out.width, out.height), c.max_side);
      // Aspect ratio kept to within the rounding of the shorter side.
      const double ratio_in = static_cast<double>(c.w) / c.h;
      const double ratio_out = static_cast<double>(out.width) / out.height;
      const double shorter = std::min(out.width, out.height);
      EXPECT_NEAR(ratio_out / ratio_in, 1.0, 0.5 / shorter + 1e-9) << c.w << "x" << c.h;
    }
  }
}

TEST(ResizeToFit, ThinImagesKeepAtLeastOnePixel) {
  const Image out = resize_to_fit(random_image(5000, 3, 1, 2), 256);
  EXPECT_EQ(out.width, 256);
  EXPECT_EQ(out.height, 1);
  const Image tall = resize_to_fit(random_image(1, 9000, 3, 3), 256);
  EXPECT_EQ(tall.width, 1);
  EXPECT_EQ(tall.height, 256);
}

TEST(ResizeToFit, LeavesSmallImagesAlone) {
  for (auto [w, h] : {std::pair{100, 50}, {256, 256}, {256, 10}, {1, 1}}) {
    const Image in = random_image(w, h, 3, 4);
    const Image out = resize_to_fit(in, 256);
    EXPECT_EQ(out.width, in.width);
    EXPECT_EQ(out.height, in.height);
    EXPECT_EQ(out.pixels, in.pixels);
  }
  const Image empty = resize_to_fit(Image{}, 256);
  EXPECT_TRUE(empty.empty());
}

TEST(ResizeToFit, AveragesAreas) {
  // Halving: each output pixel is the mean of a 2x2 block, to within rounding.
  const Image in = random_image(512, 300, 3, 5);
  const Image out = resize_to_fit(in, 256);
  ASSERT_EQ(out.width, 256);
  ASSERT_EQ(out.height, 150);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        const double mean =
            (in.row(2 * y)[3 * (2 * x) + c] + in.row(2 * y)[3 * (2 * x + 1) + c] +
             in.row(2 * y + 1)[3 * (2 * x) + c] + in.row(2 * y + 1)[3 * (2 * x + 1) + c]) /
            4.0;
        ASSERT_LE(std::abs(out.row(y)[3 * x + c] - mean), 0.5) << x << "," << y << "," << c;
      }
    }
  }
}

TEST(ToGray, UsesBt601Weights) {
  const Image rgb = random_image(64, 48, 3, 6);
  const Image gray = to_gray(rgb);
  ASSERT_EQ(gray.width, 64);
  ASSERT_EQ(gray.height, 48);
  ASSERT_EQ(gray.channels, 1);
  for (int y = 0; y < gray.height; ++y) {
    for (int x = 0; x < gray.width; ++x) {
      const uint8_t* p = rgb.row(y) + 3 * x;
      const double luma = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      // OpenCV works in fixed point; allow one level beyond exact rounding.
      ASSERT_LE(std::abs(gray.row(y)[x] - luma), 1.0) << x << "," << y;
    }
  }
}

TEST(ToGray, PrimariesAndGrays) {
  Image rgb(5, 1, 3);
  rgb.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 77, 77, 77, 255, 255, 255};
  const Image gray = to_gray(rgb);
  EXPECT_EQ(gray.pixels[0], std::lround(0.299 * 255));  // 76
  EXPECT_EQ(gray.pixels[1], std::lround(0.587 * 255));  // 150
  EXPECT_EQ(gray.pixels[2], std::lround(0.114 * 255));  // 29
  EXPECT_EQ(gray.pixels[3], 77);                        // weights sum to 1
  EXPECT_EQ(gray.pixels[4], 255);
}

TEST(ToGray, GrayInputIsCopied) {
  const Image in = random_image(33, 17, 1, 7);
  const Image out = to_gray(in);
  EXPECT_EQ(out.channels, 1);
  EXPECT_EQ(out.pixels, in.pixels);
}

TEST(ToGray, EmptyImageGivesEmptyGray) {
  const Image out = to_gray(Image(0, 10, 3));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.channels, 1);
}

}  // namespace
}  // namespace vpipe
