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

// --- Alpha: composite_over, unpremultiply ---------------------------------------------------

TEST(CompositeOver, OnBlackIsTheOldDecoderRounding) {
  // Every (colour, alpha) pair: (c * a + 127) / 255, what decoders returned before alpha was kept.
  Image rgb(256, 256, 1);
  Image alpha(256, 256, 1);
  for (int a = 0; a < 256; ++a) {
    for (int c = 0; c < 256; ++c) {
      rgb.row(a)[c] = static_cast<uint8_t>(c);
      alpha.row(a)[c] = static_cast<uint8_t>(a);
    }
  }
  const Image out = composite_over(rgb, alpha);
  ASSERT_EQ(out.channels, 1);
  for (int a = 0; a < 256; ++a) {
    for (int c = 0; c < 256; ++c) {
      ASSERT_EQ(out.row(a)[c], (c * a + 127) / 255) << "c " << c << " a " << a;
    }
  }
  // The rvalue overload gives the same.
  EXPECT_EQ(composite_over(Image(rgb), alpha).pixels, out.pixels);
}

TEST(CompositeOver, EmptyAlphaIsOpaqueAndChannelsAreKept) {
  const Image rgb = random_image(17, 9, 3, 11);
  EXPECT_EQ(composite_over(rgb, Image()).pixels, rgb.pixels);
  Image moved = rgb;
  const uint8_t* buffer = moved.pixels.data();
  const Image out = composite_over(std::move(moved), Image());
  EXPECT_EQ(out.pixels.data(), buffer);  // no copy
  Image half(17, 9, 1);
  std::fill(half.pixels.begin(), half.pixels.end(), uint8_t{255});
  half.row(3)[5] = 0;
  const Image composited = composite_over(rgb, half);
  EXPECT_EQ(composited.channels, 3);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(composited.row(3)[15 + c], 0);
    EXPECT_EQ(composited.row(3)[18 + c], rgb.row(3)[18 + c]);
  }
}

TEST(CompositeOver, CheckerboardShowsThroughTransparentPixels) {
  Image rgb(32, 16, 3);
  std::fill(rgb.pixels.begin(), rgb.pixels.end(), uint8_t{9});
  Image alpha(32, 16, 1);  // all transparent but the last column
  for (int y = 0; y < 16; ++y) alpha.row(y)[31] = 255;
  const Image out = composite_over(rgb, alpha, Background::checkerboard(8, 240, 200));
  EXPECT_EQ(out.row(0)[0], 240);          // square (0, 0)
  EXPECT_EQ(out.row(0)[3 * 8], 200);      // square (1, 0)
  EXPECT_EQ(out.row(8)[0], 200);          // square (0, 1)
  EXPECT_EQ(out.row(8)[3 * 8], 240);      // square (1, 1)
  EXPECT_EQ(out.row(7)[3 * 7 + 2], 240);  // still square (0, 0)
  EXPECT_EQ(out.row(5)[3 * 31], 9);       // opaque: the image
  // Half transparent over a flat white: halfway between.
  alpha.row(0)[0] = 128;
  const Image on_white = composite_over(rgb, alpha, Background{255, 255, 0});
  EXPECT_EQ(on_white.row(0)[0], (9 * 128 + 255 * 127 + 127) / 255);
}

TEST(Unpremultiply, BlackCompositeRoundTripsExactly) {
  // For every premultiplied p <= a, composite_over(unpremultiply(p, a), a) == p: a premultiplied
  // source (WebP, associated-alpha TIFF) keeps its black composite bit for bit.
  Image premultiplied(256, 256, 1);
  Image alpha(256, 256, 1);
  for (int a = 0; a < 256; ++a) {
    for (int p = 0; p < 256; ++p) {
      premultiplied.row(a)[p] = static_cast<uint8_t>(std::min(p, a));
      alpha.row(a)[p] = static_cast<uint8_t>(a);
    }
  }
  const Image straight = unpremultiply(premultiplied, alpha);
  EXPECT_EQ(composite_over(straight, alpha).pixels, premultiplied.pixels);
  // And the straight colour is what was multiplied: 255 at a = 128 from p = 128.
  EXPECT_EQ(straight.row(128)[128], 255);
  EXPECT_EQ(straight.row(128)[64], 128);  // 64 * 255 / 128 = 127.5, rounded up
  EXPECT_EQ(straight.row(0)[0], 0);
  EXPECT_EQ(straight.row(255)[200], 200);  // opaque: unchanged
}

TEST(HasTransparency, FindsAnyPixelBelow255) {
  Image alpha(5, 4, 1);
  std::fill(alpha.pixels.begin(), alpha.pixels.end(), uint8_t{255});
  EXPECT_FALSE(has_transparency(alpha));
  alpha.row(3)[4] = 254;
  EXPECT_TRUE(has_transparency(alpha));
  EXPECT_FALSE(has_transparency(Image()));
}

}  // namespace
}  // namespace vpipe
