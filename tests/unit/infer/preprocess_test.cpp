#include "vpipe/infer/preprocess.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

namespace vpipe {
namespace {

void expect_box_near(const Box& actual, const Box& expected, float tolerance) {
  EXPECT_NEAR(actual.x1, expected.x1, tolerance);
  EXPECT_NEAR(actual.y1, expected.y1, tolerance);
  EXPECT_NEAR(actual.x2, expected.x2, tolerance);
  EXPECT_NEAR(actual.y2, expected.y2, tolerance);
}

TEST(LetterboxGeometry, HdFrameIntoSquareInput) {
  // min(640 / 1280, 640 / 720) = 0.5; 1280 x 720 -> 640 x 360; (640 - 360) / 2 = 140 rows above.
  const Letterbox g = letterbox_geometry(1280, 720, 640, 640);
  EXPECT_FLOAT_EQ(g.scale_x, 0.5f);
  EXPECT_FLOAT_EQ(g.scale_y, 0.5f);
  EXPECT_EQ(g.resized_width, 640);
  EXPECT_EQ(g.resized_height, 360);
  EXPECT_FLOAT_EQ(g.pad_x, 0.0f);
  EXPECT_FLOAT_EQ(g.pad_y, 140.0f);
  EXPECT_EQ(g.src_width, 1280);
  EXPECT_EQ(g.dst_height, 640);
}

TEST(LetterboxGeometry, OddPaddingPutsTheExtraPixelBottomRight) {
  // 100 x 51 -> scale 0.64, 64 x 32.64 -> 64 x 33; 31 rows of padding: 15 above, 16 below.
  const Letterbox tall = letterbox_geometry(100, 51, 64, 64);
  EXPECT_EQ(tall.resized_height, 33);
  EXPECT_FLOAT_EQ(tall.pad_y, 15.0f);
  // Portrait 51 x 100: the same, on x.
  const Letterbox wide = letterbox_geometry(51, 100, 64, 64);
  EXPECT_EQ(wide.resized_width, 33);
  EXPECT_FLOAT_EQ(wide.pad_x, 15.0f);
  EXPECT_FLOAT_EQ(wide.pad_y, 0.0f);
}

TEST(LetterboxGeometry, UpscalesSmallImages) {
  // 320 x 240 -> scale 2, 640 x 480, (640 - 480) / 2 = 80 rows above.
  const Letterbox g = letterbox_geometry(320, 240, 640, 640);
  EXPECT_FLOAT_EQ(g.scale_x, 2.0f);
  EXPECT_EQ(g.resized_height, 480);
  EXPECT_FLOAT_EQ(g.pad_y, 80.0f);
}

TEST(LetterboxGeometry, StretchScalesEachAxisAndDoesNotPad) {
  const Letterbox g = letterbox_geometry(1280, 720, 640, 640, /*stretch=*/true);
  EXPECT_FLOAT_EQ(g.scale_x, 0.5f);
  EXPECT_FLOAT_EQ(g.scale_y, 640.0f / 720.0f);
  EXPECT_FLOAT_EQ(g.pad_x, 0.0f);
  EXPECT_FLOAT_EQ(g.pad_y, 0.0f);
  EXPECT_EQ(g.resized_width, 640);
  EXPECT_EQ(g.resized_height, 640);
  // The full input maps to the full source.
  expect_box_near(map_box_to_source(Box{0, 0, 640, 640}, g), Box{0, 0, 1280, 720}, 1e-3f);
}

TEST(MapBox, ModelToSourceUndoesPaddingAndScaleAndClamps) {
  const Letterbox g = letterbox_geometry(1280, 720, 640, 640);
  // The image area of the input, [0, 640] x [140, 500], is the whole source.
  expect_box_near(map_box_to_source(Box{0, 140, 640, 500}, g), Box{0, 0, 1280, 720}, 1e-4f);
  // (100, 240, 300, 340) -> x / 0.5, (y - 140) / 0.5 = (200, 200, 600, 400).
  expect_box_near(map_box_to_source(Box{100, 240, 300, 340}, g), Box{200, 200, 600, 400}, 1e-4f);
  // A box reaching into the padding is clamped to the source image.
  expect_box_near(map_box_to_source(Box{-10, 100, 700, 600}, g), Box{0, 0, 1280, 720}, 1e-4f);
}

TEST(MapBox, RoundTripIsIdentityInsideTheImage) {
  for (const Letterbox& g :
       {letterbox_geometry(1280, 720, 640, 640), letterbox_geometry(100, 51, 64, 64),
        letterbox_geometry(333, 777, 640, 384), letterbox_geometry(1280, 720, 640, 640, true)}) {
    // A box inside the image area of the input.
    const Box b{g.pad_x + 1.25f, g.pad_y + 2.5f,
                g.pad_x + static_cast<float>(g.resized_width) * 0.75f,
                g.pad_y + static_cast<float>(g.resized_height) * 0.5f};
    expect_box_near(map_box_to_model(map_box_to_source(b, g), g), b, 1e-4f);
  }
}

// Element (c, y, x) of one W x H image in each layout.
size_t nchw(int c, int y, int x, int w, int h) { return (static_cast<size_t>(c) * h + y) * w + x; }
size_t nhwc(int c, int y, int x, int w) { return (static_cast<size_t>(y) * w + x) * 3 + c; }

// A 4 x 2 RGB image: left 2 x 2 block (200, 100, 50), right block (10, 20, 30). Into a 2 x 2
// input: scale 0.5, resized 2 x 1 (each block averages to its own colour), 1 row of padding
// below it (pad_y = floor(1 / 2) = 0).
Image two_blocks() {
  Image img(4, 2, 3);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) {
      uint8_t* p = img.row(y) + static_cast<ptrdiff_t>(x) * 3;
      const bool left = x < 2;
      p[0] = left ? 200 : 10;
      p[1] = left ? 100 : 20;
      p[2] = left ? 50 : 30;
    }
  }
  return img;
}

// Identity normalisation: tensor values equal pixel values.
Normalization raw_pixels() {
  Normalization n;
  n.scale = 1.0f;
  return n;
}

TEST(LetterboxInto, NchwPlacesImageAndPadding) {
  const Letterbox g = letterbox_geometry(4, 2, 2, 2);
  ASSERT_EQ(g.resized_height, 1);
  ASSERT_FLOAT_EQ(g.pad_y, 0.0f);
  std::vector<float> out(size_t{3} * 2 * 2, -1.0f);
  letterbox_into(two_blocks(), g, raw_pixels(), TensorLayout::kNCHW, 114, out);
  // Row 0: the two blocks; planes R, G, B.
  EXPECT_FLOAT_EQ(out[nchw(0, 0, 0, 2, 2)], 200);
  EXPECT_FLOAT_EQ(out[nchw(1, 0, 0, 2, 2)], 100);
  EXPECT_FLOAT_EQ(out[nchw(2, 0, 0, 2, 2)], 50);
  EXPECT_FLOAT_EQ(out[nchw(0, 0, 1, 2, 2)], 10);
  EXPECT_FLOAT_EQ(out[nchw(1, 0, 1, 2, 2)], 20);
  EXPECT_FLOAT_EQ(out[nchw(2, 0, 1, 2, 2)], 30);
  // Row 1: padding in every channel.
  for (int c = 0; c < 3; ++c) {
    for (int x = 0; x < 2; ++x) EXPECT_FLOAT_EQ(out[nchw(c, 1, x, 2, 2)], 114) << c << "," << x;
  }
}

TEST(LetterboxInto, NhwcInterleavesTheSameValues) {
  const Letterbox g = letterbox_geometry(4, 2, 2, 2);
  std::vector<float> planar(12), interleaved(12);
  letterbox_into(two_blocks(), g, raw_pixels(), TensorLayout::kNCHW, 114, planar);
  letterbox_into(two_blocks(), g, raw_pixels(), TensorLayout::kNHWC, 114, interleaved);
  // Pixel (x=1, y=0) is elements 3, 4, 5 in NHWC and 1, 5, 9 in NCHW.
  EXPECT_FLOAT_EQ(interleaved[3], 10);
  EXPECT_FLOAT_EQ(interleaved[4], 20);
  EXPECT_FLOAT_EQ(interleaved[5], 30);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 2; ++x) {
        EXPECT_FLOAT_EQ(interleaved[nhwc(c, y, x, 2)], planar[nchw(c, y, x, 2, 2)]);
      }
    }
  }
}

TEST(LetterboxInto, NormalisesWithPerChannelMeanAndStd) {
  Normalization n;  // scale 1/255, ImageNet mean and std
  n.mean[0] = 0.485f;
  n.mean[1] = 0.456f;
  n.mean[2] = 0.406f;
  n.std[0] = 0.229f;
  n.std[1] = 0.224f;
  n.std[2] = 0.225f;
  const Letterbox g = letterbox_geometry(4, 2, 2, 2);
  std::vector<float> out(12);
  letterbox_into(two_blocks(), g, n, TensorLayout::kNCHW, 114, out);
  // R of (0, 0): (200 / 255 - 0.485) / 0.229 = (0.784314 - 0.485) / 0.229 = 1.307048.
  EXPECT_NEAR(out[nchw(0, 0, 0, 2, 2)], 1.307048f, 1e-5);
  // B of (1, 0): (30 / 255 - 0.406) / 0.225 = (0.117647 - 0.406) / 0.225 = -1.281569.
  EXPECT_NEAR(out[nchw(2, 0, 1, 2, 2)], -1.281569f, 1e-5);
  // Padding is normalised too; G of (0, 1): (114 / 255 - 0.456) / 0.224 = -0.039916.
  EXPECT_NEAR(out[nchw(1, 1, 0, 2, 2)], -0.039916f, 1e-5);
}

TEST(LetterboxInto, BgrSwapsChannelsAndIndexesMeanByTensorChannel) {
  Normalization n = raw_pixels();
  n.bgr = true;
  n.mean[0] = 1.0f;  // applies to tensor channel 0, which is blue
  const Letterbox g = letterbox_geometry(4, 2, 2, 2);
  std::vector<float> out(12);
  letterbox_into(two_blocks(), g, n, TensorLayout::kNCHW, 114, out);
  EXPECT_FLOAT_EQ(out[nchw(0, 0, 0, 2, 2)], 49);  // blue 50 - 1
  EXPECT_FLOAT_EQ(out[nchw(1, 0, 0, 2, 2)], 100);
  EXPECT_FLOAT_EQ(out[nchw(2, 0, 0, 2, 2)], 200);
  EXPECT_FLOAT_EQ(out[nchw(0, 1, 0, 2, 2)], 113);  // padding 114 - 1
}

TEST(LetterboxInto, GrayIsExpandedToThreeEqualChannels) {
  Image gray(4, 2, 1);
  for (int x = 0; x < 4; ++x) {
    gray.row(0)[x] = x < 2 ? 60 : 180;
    gray.row(1)[x] = x < 2 ? 60 : 180;
  }
  const Letterbox g = letterbox_geometry(4, 2, 2, 2);
  std::vector<float> out(12);
  letterbox_into(gray, g, raw_pixels(), TensorLayout::kNHWC, 0, out);
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(out[nhwc(c, 0, 0, 2)], 60);
    EXPECT_FLOAT_EQ(out[nhwc(c, 0, 1, 2)], 180);
    EXPECT_FLOAT_EQ(out[nhwc(c, 1, 1, 2)], 0);
  }
}

TEST(LetterboxInto, CentredPaddingAndBatchSlices) {
  // A uniform 8 x 4 image into 4 x 4: scale 0.5, resized 4 x 2, one row of padding above and
  // one below. Two images written as slices of one 2 x 3 x 4 x 4 buffer.
  Image first(8, 4, 3), second(8, 4, 3);
  std::fill(first.pixels.begin(), first.pixels.end(), uint8_t{7});
  std::fill(second.pixels.begin(), second.pixels.end(), uint8_t{9});
  const Letterbox g = letterbox_geometry(8, 4, 4, 4);
  ASSERT_FLOAT_EQ(g.pad_y, 1.0f);
  const size_t per_image = size_t{3} * 4 * 4;
  std::vector<float> batch(2 * per_image, -1.0f);
  const std::span<float> all(batch);
  letterbox_into(first, g, raw_pixels(), TensorLayout::kNCHW, 114, all.subspan(0, per_image));
  letterbox_into(second, g, raw_pixels(), TensorLayout::kNCHW, 114,
                 all.subspan(per_image, per_image));
  for (int c = 0; c < 3; ++c) {
    for (int x = 0; x < 4; ++x) {
      EXPECT_FLOAT_EQ(batch[nchw(c, 0, x, 4, 4)], 114);
      EXPECT_FLOAT_EQ(batch[nchw(c, 1, x, 4, 4)], 7);
      EXPECT_FLOAT_EQ(batch[nchw(c, 2, x, 4, 4)], 7);
      EXPECT_FLOAT_EQ(batch[nchw(c, 3, x, 4, 4)], 114);
      EXPECT_FLOAT_EQ(batch[per_image + nchw(c, 2, x, 4, 4)], 9);
      EXPECT_FLOAT_EQ(batch[per_image + nchw(c, 3, x, 4, 4)], 114);
    }
  }
}

TEST(LetterboxInto, UpscaledImageLandsWhereMapBoxSays) {
  // A 20 x 10 image, black with a white 4 x 4 square at (8, 2)-(12, 6), into 64 x 64:
  // scale 3.2, resized 64 x 32, pad_y 16. The square's centre (10, 4) maps to (32, 28.8):
  // inside the square in the input, and the padding row above it is still 114.
  Image img(20, 10, 3);
  for (int y = 2; y < 6; ++y) {
    for (int x = 8; x < 12; ++x) {
      for (int c = 0; c < 3; ++c) img.row(y)[x * 3 + c] = 255;
    }
  }
  const Letterbox g = letterbox_geometry(20, 10, 64, 64);
  ASSERT_FLOAT_EQ(g.pad_y, 16.0f);
  const Box square = map_box_to_model(Box{8, 2, 12, 6}, g);
  expect_box_near(square, Box{25.6f, 22.4f, 38.4f, 35.2f}, 1e-4f);
  std::vector<float> out(size_t{3} * 64 * 64);
  letterbox_into(img, g, raw_pixels(), TensorLayout::kNCHW, 114, out);
  EXPECT_FLOAT_EQ(out[nchw(0, 28, 32, 64, 64)], 255);
  EXPECT_FLOAT_EQ(out[nchw(0, 17, 2, 64, 64)], 0);     // image area, away from the square
  EXPECT_FLOAT_EQ(out[nchw(0, 15, 32, 64, 64)], 114);  // last padding row above
  EXPECT_FLOAT_EQ(out[nchw(0, 48, 32, 64, 64)], 114);  // first padding row below
}

}  // namespace
}  // namespace vpipe
