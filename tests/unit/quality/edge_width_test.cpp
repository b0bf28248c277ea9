#include "vpipe/quality/edge_width.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "edge_width_reference.h"
#include "vpipe/core/image.h"
#include "vpipe/quality/signals.h"

namespace vpipe {
namespace {

/// A 256x192 gray image of vertical and horizontal bars (period 16 px, 40 and 200 gray levels):
/// every edge is a one-pixel step.
cv::Mat bars() {
  cv::Mat m(192, 256, CV_8UC1);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      m.at<uint8_t>(y, x) = ((x / 16) + (y / 16)) % 2 == 0 ? 40 : 200;
    }
  }
  return m;
}

double width_of(const cv::Mat& m) { return edge_width_cpu(m.data, nullptr, m.cols, m.rows); }

TEST(EdgeWidth, SharpStepsAreOneStepWide) {
  // One pixel across a row or column; along a diagonal, one diagonal step of sqrt 2 pixels (the
  // widest direction is the signal).
  EXPECT_NEAR(width_of(bars()), std::sqrt(2.0), 1e-9);
}

TEST(EdgeWidth, GaussianBlurWidensEdgesInProportionToSigma) {
  const cv::Mat sharp = bars();
  double previous = width_of(sharp);
  double at_two = 0;
  for (double sigma : {1.0, 2.0, 3.0}) {
    cv::Mat blurred;
    cv::GaussianBlur(sharp, blurred, cv::Size(0, 0), sigma);
    const double w = width_of(blurred);
    // A blurred step's rise over its steepest step is sqrt(2 pi) sigma = 2.5 sigma across it;
    // a diagonal crossing an axis-aligned edge reads up to sqrt 2 times that.
    EXPECT_GE(w, 0.9 * 2.5066 * sigma) << "sigma " << sigma;
    EXPECT_LE(w, 1.1 * std::sqrt(2.0) * 2.5066 * sigma) << "sigma " << sigma;
    EXPECT_GT(w, previous);
    // Past the pixel's own width (about 1 px, which dominates at sigma 1), in proportion.
    if (sigma == 2.0) at_two = w;
    if (sigma == 3.0) {
      EXPECT_NEAR(w / at_two, 1.5, 0.15);
    }
    previous = w;
  }
}

TEST(EdgeWidth, MotionBlurAcrossOneDirectionIsSeen) {
  cv::Mat motion;
  cv::Mat kernel = cv::Mat::ones(1, 9, CV_32F) / 9.0f;  // horizontal smear over 9 px
  cv::filter2D(bars(), motion, -1, kernel);
  EXPECT_GT(width_of(motion), 3.0);  // the widest direction decides
}

TEST(EdgeWidth, FlatAndTinyImagesAreNotJudged) {
  const cv::Mat flat(100, 100, CV_8UC1, cv::Scalar(128));
  EXPECT_EQ(width_of(flat), 0.0);
  const uint8_t one = 7;
  EXPECT_EQ(edge_width_cpu(&one, nullptr, 1, 1), 0.0);
  // One sharp step in an 8x8 image: 8 rows, 11 diagonals each way cross it, fewer than the 20
  // strong edges a direction needs.
  cv::Mat step(8, 8, CV_8UC1, cv::Scalar(0));
  step(cv::Rect(4, 0, 4, 8)).setTo(200);
  EXPECT_EQ(width_of(step), 0.0);
}

TEST(EdgeWidth, AStrongEdgeIsAFifthOfTheTonalRange) {
  // Bars of 40 and 200: the 1st and 99th percentiles are 40 and 200, a fifth of 160 is 32.
  const cv::Mat b = bars();
  EXPECT_EQ(strong_edge_rise(b.data, nullptr, b.cols, b.rows), 32);
  // The same from the histogram a caller counted: half the pixels at 40, half at 200.
  std::array<int64_t, 256> counts{};
  counts[40] = counts[200] = int64_t{b.cols} * b.rows / 2;
  EXPECT_EQ(strong_edge_rise(counts, int64_t{b.cols} * b.rows), 32);
  EXPECT_EQ(strong_edge_rise(counts, 0), kMinStrongEdgeRise);
  // Held within 16..40: a flat image, and a full-range one (0 and 255: a fifth is 51).
  const cv::Mat flat(64, 64, CV_8UC1, cv::Scalar(90));
  EXPECT_EQ(strong_edge_rise(flat.data, nullptr, flat.cols, flat.rows), kMinStrongEdgeRise);
  cv::Mat full = bars();
  full.setTo(0, full == 40);
  full.setTo(255, full == 200);
  EXPECT_EQ(strong_edge_rise(full.data, nullptr, full.cols, full.rows), kMaxStrongEdgeRise);
  // Over the opaque pixels only: the full-range bars, transparent but for a band of 100..190.
  cv::Mat alpha(full.rows, full.cols, CV_8UC1, cv::Scalar(0));
  cv::Mat band = full.clone();
  for (int x = 0; x < band.cols; ++x) {
    band.at<uint8_t>(0, x) = static_cast<uint8_t>(100 + (x * 90) / (band.cols - 1));
    alpha.at<uint8_t>(0, x) = 255;
  }
  // The 1st and 99th percentiles of the 256 opaque pixels are 100 and 189: 89 / 5 = 17.8.
  EXPECT_EQ(strong_edge_rise(band.data, alpha.data, band.cols, band.rows), 18);
  // No opaque pixel at all: the floor.
  const cv::Mat none(full.rows, full.cols, CV_8UC1, cv::Scalar(0));
  EXPECT_EQ(strong_edge_rise(full.data, none.data, full.cols, full.rows), kMinStrongEdgeRise);
}

TEST(EdgeWidth, ALowContrastPictureStillHasItsEdgesJudged) {
  // Bars of 100 and 120: steps of 20 levels, under the 24 every picture once needed, but a
  // fifth of this picture's range is 4, held at 16: they are strong edges, and sharp.
  cv::Mat soft = bars();
  soft.setTo(100, soft == 40);
  soft.setTo(120, soft == 200);
  EXPECT_NEAR(width_of(soft), std::sqrt(2.0), 1e-9);
  cv::Mat smeared;
  cv::filter2D(soft, smeared, -1, cv::Mat::ones(1, 9, CV_32F) / 9.0f);
  EXPECT_GT(width_of(smeared), 3.0);
}

TEST(EdgeWidth, ANoiselessGradientIsOneWideEdge) {
  // 3 levels per pixel over 64 px: every row is one run of rise 189 and steepest step 3.
  cv::Mat ramp(64, 64, CV_8UC1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) ramp.at<uint8_t>(y, x) = static_cast<uint8_t>(x * 3);
  EXPECT_GE(width_of(ramp), 63.0);
}

TEST(EdgeWidth, NoiseReadsSharp) {
  cv::Mat noise(128, 128, CV_8UC1);
  std::mt19937 rng(3);
  for (int i = 0; i < noise.rows * noise.cols; ++i) noise.data[i] = static_cast<uint8_t>(rng());
  const double w = width_of(noise);
  EXPECT_GT(w, 0.0);
  EXPECT_LT(w, 2.0);
}

TEST(EdgeWidth, TransparentPixelsEndRuns) {
  // A white square on a black canvas whose black part is transparent: the square's outline is
  // not an edge, and nothing else is, so the image is not judged.
  cv::Mat m(64, 64, CV_8UC1, cv::Scalar(0));
  cv::Mat opaque(64, 64, CV_8UC1, cv::Scalar(0));
  m(cv::Rect(16, 16, 32, 32)).setTo(255);
  opaque(cv::Rect(16, 16, 32, 32)).setTo(255);
  EXPECT_GT(width_of(m), 0.0);
  EXPECT_EQ(edge_width_cpu(m.data, opaque.data, m.cols, m.rows), 0.0);
}

/// What a random test image holds.
enum class Content { kNoise, kGradientAndNoise, kSteps, kBlurredSteps, kFlat, kRamp };
/// Its alpha plane.
enum class Alpha { kNone, kRandom, kHalfTransparent, kTransparent, kSoftBand, kHoles };

std::vector<uint8_t> random_gray(int width, int height, Content content, std::mt19937& rng) {
  std::uniform_int_distribution<int> level(0, 255);
  std::uniform_int_distribution<int> noise(-12, 12);
  std::uniform_real_distribution<double> frequency(0.01, 0.3);
  const double fx = frequency(rng);
  const double fy = frequency(rng);
  const double edge_x = std::uniform_real_distribution<double>(0, width)(rng);
  const double blur = std::uniform_real_distribution<double>(0.3, 6.0)(rng);
  const int period = std::uniform_int_distribution<int>(2, 12)(rng);
  std::vector<uint8_t> gray(static_cast<size_t>(width) * height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double v = 0;
      switch (content) {
        case Content::kNoise:
          v = level(rng);
          break;
        case Content::kGradientAndNoise:
          v = 128 + 60 * std::sin(fx * x) * std::cos(fy * y) + noise(rng);
          break;
        case Content::kSteps:
          v = ((x / period + y / (period + 1)) % 2) != 0 ? 200 : 40;
          break;
        case Content::kBlurredSteps:
          v = 128 + 100 * std::tanh((x - edge_x + 0.4 * y) / blur) + noise(rng) / 6;
          break;
        case Content::kFlat:
          v = 77;
          break;
        case Content::kRamp:
          v = (x * period + y) % 256;
          break;
      }
      gray[static_cast<size_t>(y) * width + x] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  }
  return gray;
}

std::vector<uint8_t> random_alpha(int width, int height, Alpha kind, std::mt19937& rng) {
  std::uniform_int_distribution<int> level(0, 255);
  std::vector<uint8_t> alpha(static_cast<size_t>(width) * height, 255);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t& a = alpha[static_cast<size_t>(y) * width + x];
      switch (kind) {
        case Alpha::kNone:
          break;
        case Alpha::kRandom:
          a = static_cast<uint8_t>(level(rng));
          break;
        case Alpha::kHalfTransparent:
          a = x < width / 2 ? 0 : 255;
          break;
        case Alpha::kTransparent:
          a = 0;
          break;
        case Alpha::kSoftBand:
          a = static_cast<uint8_t>(std::clamp((x - width / 3) * 8, 0, 255));
          break;
        case Alpha::kHoles:
          a = level(rng) < 20 ? kEdgeOpaqueAlpha - 1 : kEdgeOpaqueAlpha;
          break;
      }
    }
  }
  return alpha;
}

TEST(EdgeWidth, EqualsTheLineByLineReferenceBitForBit) {
  // The lane walks find the same runs as the reference's line-by-line walk, and add the same
  // doubles in the same order: the result must be the same double, not merely a close one.
  const std::vector<std::pair<int, int>> sizes = {
      {1, 1},   {1, 7},   {1, 300},   {9, 1},     {300, 1},  {2, 2},   {2, 3},  {3, 2},
      {2, 100}, {100, 2}, {3, 3},     {15, 15},   {16, 16},  {17, 17}, {17, 5}, {31, 33},
      {33, 16}, {64, 64}, {255, 129}, {256, 192}, {513, 77}, {77, 513}};
  const Content contents[] = {Content::kNoise, Content::kGradientAndNoise,
                              Content::kSteps, Content::kBlurredSteps,
                              Content::kFlat,  Content::kRamp};
  const Alpha alphas[] = {Alpha::kNone,        Alpha::kRandom,   Alpha::kHalfTransparent,
                          Alpha::kTransparent, Alpha::kSoftBand, Alpha::kHoles};
  std::mt19937 rng(20261206);
  int judged = 0;
  int cases = 0;
  for (int seed = 0; seed < 2; ++seed) {
    for (const auto& [width, height] : sizes) {
      for (const Content content : contents) {
        for (const Alpha alpha_kind : alphas) {
          const std::vector<uint8_t> gray = random_gray(width, height, content, rng);
          const std::vector<uint8_t> alpha = random_alpha(width, height, alpha_kind, rng);
          const uint8_t* a = alpha_kind == Alpha::kNone ? nullptr : alpha.data();
          SCOPED_TRACE(std::to_string(width) + "x" + std::to_string(height) + " content " +
                       std::to_string(static_cast<int>(content)) + " alpha " +
                       std::to_string(static_cast<int>(alpha_kind)) + " seed " +
                       std::to_string(seed));
          const double expected = edge_width_reference(gray.data(), a, width, height);
          EXPECT_EQ(edge_width_cpu(gray.data(), a, width, height), expected);
          judged += expected != 0.0 ? 1 : 0;
          ++cases;
        }
      }
    }
  }
  // Not every comparison is of zeros: the images not judged are the flat, tiny, thin or
  // transparent ones (about 70% of the cases here; 475 of 1584 are judged).
  EXPECT_GT(judged, cases / 4);
}

Image gray_image(const cv::Mat& m) {
  Image image(m.cols, m.rows, 1);
  std::copy(m.data, m.data + m.total(), image.pixels.begin());
  return image;
}

TEST(ExposureSignals, HighlightLevelIsThe99thPercentile) {
  cv::Mat m(100, 100, CV_8UC1, cv::Scalar(30));
  m(cv::Rect(0, 0, 100, 2)).setTo(250);  // 2% of the pixels bright
  const QualitySignals q = quality_signals_cpu(gray_image(m));
  EXPECT_DOUBLE_EQ(q.highlight_level, 250.0);
  EXPECT_DOUBLE_EQ(q.clipped_fraction, 0.02);
  m(cv::Rect(0, 0, 100, 2)).setTo(30);
  m(cv::Rect(0, 0, 100, 1)).setTo(250);  // 1%: the 99th percentile interpolates between levels
  const QualitySignals q1 = quality_signals_cpu(gray_image(m));
  EXPECT_GT(q1.highlight_level, 30.0);
  EXPECT_LT(q1.highlight_level, 250.0);
}

TEST(ExposureSignals, ClippingCountsAnySaturatedChannel) {
  Image rgb(10, 10, 3);
  for (size_t i = 0; i < 100; ++i) {
    rgb.pixels[3 * i] = i < 30 ? 255 : 120;  // 30 pixels with red clipped
    rgb.pixels[3 * i + 1] = 100;
    rgb.pixels[3 * i + 2] = 90;
  }
  EXPECT_DOUBLE_EQ(quality_signals_cpu(rgb).clipped_fraction, 0.30);
}

/// A 100x100 RGB photo-like image: 30% of the pixels blown to white (`white`), the rest a ramp
/// over levels 20..179 (scaled by `gain`), so that its top thins out.
Image blown_photo(int white, double gain) {
  Image rgb(100, 100, 3);
  for (size_t i = 0; i < 10'000; ++i) {
    const int level = i < 3'000 ? white : static_cast<int>((20 + (i % 160)) * gain);
    for (size_t c = 0; c < 3; ++c) rgb.pixels[3 * i + c] = static_cast<uint8_t>(level);
  }
  return rgb;
}

TEST(ExposureSignals, HighlightPlateauIsTheShareAtTheTopLevel) {
  const QualitySignals q = quality_signals_cpu(blown_photo(255, 1.0));
  EXPECT_DOUBLE_EQ(q.clipped_fraction, 0.30);
  EXPECT_DOUBLE_EQ(q.highlight_plateau, 0.30);
  // Darkened by a stop, the blown area is no longer clipped but still a plateau at the top.
  const QualitySignals dark = quality_signals_cpu(blown_photo(127, 0.5));
  EXPECT_DOUBLE_EQ(dark.clipped_fraction, 0.0);
  EXPECT_NEAR(dark.highlight_plateau, 0.30, 1e-9);
  // Without the blown area the ramp's top four levels hold 4 of its 160 levels.
  Image ramp = blown_photo(179, 1.0);
  for (size_t i = 0; i < 3'000; ++i) {
    for (size_t c = 0; c < 3; ++c) ramp.pixels[3 * i + c] = static_cast<uint8_t>(20 + i % 160);
  }
  EXPECT_NEAR(quality_signals_cpu(ramp).highlight_plateau, 4.0 / 160, 0.002);
  // A gray image measures its gray levels, and a single bright pixel is not the top level.
  cv::Mat m(100, 100, CV_8UC1, cv::Scalar(90));
  m(cv::Rect(0, 0, 100, 20)).setTo(200);
  m.at<uint8_t>(50, 50) = 255;
  EXPECT_DOUBLE_EQ(quality_signals_cpu(gray_image(m)).highlight_plateau, 2'001.0 / 10'000);
}

TEST(ExposureSignals, HighlightPlateauOfTheOpaquePixelsOnly) {
  Image rgb = blown_photo(255, 1.0);
  Image alpha(100, 100, 1);
  for (size_t i = 0; i < 10'000; ++i) alpha.pixels[i] = i < 2'000 ? 0 : 255;  // 2/3 of the blown
  EXPECT_DOUBLE_EQ(quality_signals_cpu(rgb, &alpha).highlight_plateau, 1'000.0 / 8'000);
}

}  // namespace
}  // namespace vpipe
