#include "vpipe/quality/signals.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "vpipe/core/image_ops.h"

namespace vpipe {
namespace {

cv::Mat mat_of(Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), img.pixels.data(), img.stride());
}

Image constant_image(int w, int h, int channels, uint8_t value) {
  Image img(w, h, channels);
  std::fill(img.pixels.begin(), img.pixels.end(), value);
  return img;
}

Image uniform_noise(int w, int h, int channels, int lo, int hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(lo, hi);
  Image img(w, h, channels);
  for (auto& v : img.pixels) v = static_cast<uint8_t>(level(rng));
  return img;
}

/// Gray checkerboard of `cell` x `cell` squares alternating `a` (top-left) and `b`.
Image checkerboard(int w, int h, int cell, uint8_t a, uint8_t b) {
  Image img(w, h, 1);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) img.row(y)[x] = ((x / cell + y / cell) % 2 == 0) ? a : b;
  }
  return img;
}

/// A textured gray scene: smooth gradient plus a sinusoid plus a few discs, for blur tests.
Image textured_scene(uint32_t seed) {
  std::mt19937 rng(seed);
  cv::Mat m(200, 256, CV_8UC1);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      m.at<uint8_t>(y, x) =
          cv::saturate_cast<uint8_t>(60 + 0.4 * x + 30 * std::sin(x * 0.7) * std::cos(y * 0.45));
    }
  }
  std::uniform_int_distribution<int> pos(0, 255);
  for (int i = 0; i < 6; ++i)
    cv::circle(m, {pos(rng), pos(rng) % 200}, 10 + pos(rng) % 30, cv::Scalar(pos(rng)), cv::FILLED);
  Image img(m.cols, m.rows, 1);
  m.copyTo(mat_of(img));
  return img;
}

TEST(QualitySignals, ConstantImageHasNoStructure) {
  for (int channels : {1, 3}) {
    const QualitySignals s = quality_signals_cpu(constant_image(256, 180, channels, 93));
    EXPECT_EQ(s.sharpness, 0.0) << channels;
    EXPECT_EQ(s.contrast, 0.0) << channels;
    EXPECT_EQ(s.entropy, 0.0) << channels;
    EXPECT_FALSE(std::signbit(s.entropy)) << "entropy should be +0, not -0";
    EXPECT_DOUBLE_EQ(s.brightness, 93.0) << channels;
    EXPECT_EQ(s.dark_fraction, 0.0) << channels;
    EXPECT_EQ(s.bright_fraction, 0.0) << channels;
    EXPECT_EQ(s.colorfulness, 0.0) << channels;
  }
}

TEST(QualitySignals, CheckerboardMatchesHandFormulas) {
  // Equal counts of levels a and b: mean (a+b)/2, std |a-b|/2, entropy 1 bit.
  const uint8_t a = 40;
  const uint8_t b = 200;
  const QualitySignals s = quality_signals_cpu(checkerboard(256, 192, 8, a, b));
  EXPECT_DOUBLE_EQ(s.brightness, (a + b) / 2.0);
  EXPECT_DOUBLE_EQ(s.contrast, std::abs(a - b) / 2.0);
  EXPECT_NEAR(s.entropy, 1.0, 1e-12);
  EXPECT_EQ(s.dark_fraction, 0.0);
  EXPECT_EQ(s.bright_fraction, 0.0);
}

TEST(QualitySignals, OnePixelCheckerboardSharpnessIsExact) {
  // Every pixel's four neighbours (mirrored ones at the border too) hold the other level, so
  // the Laplacian is +-4(b - a) with equal counts: mean 0, variance 16 (b - a)^2.
  const int a = 10;
  const int b = 250;
  const QualitySignals s = quality_signals_cpu(checkerboard(64, 48, 1, a, b));
  EXPECT_DOUBLE_EQ(s.sharpness, 16.0 * (b - a) * (b - a));
  EXPECT_DOUBLE_EQ(s.dark_fraction, 0.5);
  EXPECT_DOUBLE_EQ(s.bright_fraction, 0.5);
}

TEST(QualitySignals, UnequalTwoLevelImageMatchesBinaryEntropy) {
  // Three rows of every four at level a: p = 3/4.
  Image img(100, 80, 1);
  const uint8_t a = 70;
  const uint8_t b = 130;
  for (int y = 0; y < img.height; ++y) std::fill_n(img.row(y), img.width, y % 4 == 3 ? b : a);
  const double p = 0.75;
  const double q = 0.25;
  const QualitySignals s = quality_signals_cpu(img);
  EXPECT_NEAR(s.entropy, -(p * std::log2(p) + q * std::log2(q)), 1e-12);
  EXPECT_NEAR(s.brightness, p * a + q * b, 1e-12);
  EXPECT_NEAR(s.contrast, std::sqrt(p * q) * (b - a), 1e-12);
}

TEST(QualitySignals, SharpnessMatchesOpenCvLaplacianVariance) {
  // Independent computation: cv::Laplacian (ksize 1 = the 4-neighbour kernel, BORDER_REFLECT_101
  // by default) and cv::meanStdDev.
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    for (auto [w, h] : {std::pair{256, 171}, {1, 50}, {50, 1}, {2, 2}, {37, 256}}) {
      Image img = uniform_noise(w, h, 1, 0, 255, seed);
      cv::Mat lap;
      cv::Laplacian(mat_of(img), lap, CV_64F, 1);
      cv::Scalar mean;
      cv::Scalar stddev;
      cv::meanStdDev(lap, mean, stddev);
      const double expected = stddev[0] * stddev[0];
      EXPECT_NEAR(quality_signals_cpu(img).sharpness, expected, 1e-9 * (1 + expected))
          << w << "x" << h << " seed " << seed;
    }
  }
}

TEST(QualitySignals, BlurMonotonicallyLowersSharpness) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    Image img = textured_scene(seed);
    double previous = quality_signals_cpu(img).sharpness;
    EXPECT_GT(previous, 0.0);
    for (double sigma : {0.6, 1.0, 1.5, 2.5, 4.0}) {
      Image blurred = img;
      cv::GaussianBlur(mat_of(img), mat_of(blurred), cv::Size(0, 0), sigma);
      const double sharpness = quality_signals_cpu(blurred).sharpness;
      EXPECT_LT(sharpness, previous) << "sigma " << sigma << " seed " << seed;
      previous = sharpness;
    }
  }
}

TEST(QualitySignals, DarkAndBrightFractions) {
  const QualitySignals dark = quality_signals_cpu(uniform_noise(200, 150, 3, 5, 15, 1));
  EXPECT_DOUBLE_EQ(dark.dark_fraction, 1.0);
  EXPECT_DOUBLE_EQ(dark.bright_fraction, 0.0);
  EXPECT_NEAR(dark.brightness, 10.0, 0.5);

  const QualitySignals bright = quality_signals_cpu(uniform_noise(200, 150, 1, 240, 255, 2));
  EXPECT_DOUBLE_EQ(bright.bright_fraction, 1.0);
  EXPECT_DOUBLE_EQ(bright.dark_fraction, 0.0);

  // The thresholds are inclusive: 16 is dark, 17 is not; 239 is bright, 238 is not.
  Image edges(4, 1, 1);
  edges.pixels = {16, 17, 238, 239};
  const QualitySignals e = quality_signals_cpu(edges);
  EXPECT_DOUBLE_EQ(e.dark_fraction, 0.25);
  EXPECT_DOUBLE_EQ(e.bright_fraction, 0.25);
}

TEST(QualitySignals, UniformNoiseHasNearlyEightBitsOfEntropy) {
  // 65536 samples over 256 levels: the plug-in estimate falls short of 8 bits by about
  // 255 / (2 * 65536 * ln 2) = 0.003 bits.
  const QualitySignals s = quality_signals_cpu(uniform_noise(256, 256, 1, 0, 255, 3));
  EXPECT_GT(s.entropy, 7.98);
  EXPECT_LE(s.entropy, 8.0);
}

TEST(QualitySignals, GrayImagesHaveNoColour) {
  EXPECT_EQ(quality_signals_cpu(uniform_noise(128, 128, 1, 0, 255, 4)).colorfulness, 0.0);

  // RGB with R = G = B: rg and yb are 0 everywhere.
  Image gray_rgb(128, 96, 3);
  std::mt19937 rng(5);
  for (size_t i = 0; i < gray_rgb.pixels.size(); i += 3) {
    const auto v = static_cast<uint8_t>(rng());
    gray_rgb.pixels[i] = gray_rgb.pixels[i + 1] = gray_rgb.pixels[i + 2] = v;
  }
  EXPECT_EQ(quality_signals_cpu(gray_rgb).colorfulness, 0.0);
}

TEST(QualitySignals, PureRedIsFarMoreColourfulThanGray) {
  Image red(64, 64, 3);
  for (size_t i = 0; i < red.pixels.size(); i += 3) red.pixels[i] = 255;
  const double red_c = quality_signals_cpu(red).colorfulness;
  // No spread; mean rg = 255, mean yb = 127.5.
  EXPECT_NEAR(red_c, 0.3 * std::sqrt(255.0 * 255.0 + 127.5 * 127.5), 1e-9);
  const double gray_c = quality_signals_cpu(constant_image(64, 64, 3, 128)).colorfulness;
  EXPECT_GT(red_c, gray_c + 50);
}

TEST(QualitySignals, ColorfulnessMatchesDirectFormula) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    const Image img = uniform_noise(97, 61, 3, 0, 255, seed);
    // Two-pass mean and variance in double: independent of the implementation's integer sums.
    const size_t n = img.pixels.size() / 3;
    double mean_rg = 0;
    double mean_yb = 0;
    for (size_t i = 0; i < n; ++i) {
      const double r = img.pixels[3 * i];
      const double g = img.pixels[3 * i + 1];
      const double b = img.pixels[3 * i + 2];
      mean_rg += (r - g) / n;
      mean_yb += (0.5 * (r + g) - b) / n;
    }
    double var_rg = 0;
    double var_yb = 0;
    for (size_t i = 0; i < n; ++i) {
      const double r = img.pixels[3 * i];
      const double g = img.pixels[3 * i + 1];
      const double b = img.pixels[3 * i + 2];
      var_rg += (r - g - mean_rg) * (r - g - mean_rg) / n;
      var_yb += (0.5 * (r + g) - b - mean_yb) * (0.5 * (r + g) - b - mean_yb) / n;
    }
    const double expected =
        std::sqrt(var_rg + var_yb) + 0.3 * std::sqrt(mean_rg * mean_rg + mean_yb * mean_yb);
    EXPECT_NEAR(quality_signals_cpu(img).colorfulness, expected, 1e-9 * expected);
  }
}

TEST(QualitySignals, RgbGraySignalsUseTheScanPassGray) {
  // The gray signals of an RGB working image equal those of to_gray() of it.
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    const Image rgb = uniform_noise(180, 120, 3, 0, 255, seed);
    const QualitySignals from_rgb = quality_signals_cpu(rgb);
    const QualitySignals from_gray = quality_signals_cpu(to_gray(rgb));
    EXPECT_EQ(from_rgb.brightness, from_gray.brightness);
    EXPECT_EQ(from_rgb.contrast, from_gray.contrast);
    EXPECT_EQ(from_rgb.entropy, from_gray.entropy);
    EXPECT_EQ(from_rgb.sharpness, from_gray.sharpness);
    EXPECT_EQ(from_rgb.dark_fraction, from_gray.dark_fraction);
    EXPECT_EQ(from_rgb.bright_fraction, from_gray.bright_fraction);
  }
}

TEST(QualitySignals, StayWithinDocumentedRanges) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const int lo = static_cast<int>(rng() % 256);
    const int hi = lo + static_cast<int>(rng() % (256 - lo));
    const Image img =
        uniform_noise(1 + static_cast<int>(rng() % 256), 1 + static_cast<int>(rng() % 256),
                      seed % 2 ? 3 : 1, lo, hi, seed);
    const QualitySignals s = quality_signals_cpu(img);
    EXPECT_GE(s.sharpness, 0.0);
    EXPECT_GE(s.brightness, lo);
    EXPECT_LE(s.brightness, hi);
    EXPECT_GE(s.contrast, 0.0);
    EXPECT_LE(s.contrast, 127.5);
    EXPECT_GE(s.dark_fraction, 0.0);
    EXPECT_LE(s.dark_fraction, 1.0);
    EXPECT_GE(s.bright_fraction, 0.0);
    EXPECT_LE(s.bright_fraction, 1.0);
    EXPECT_GE(s.entropy, 0.0);
    EXPECT_LE(s.entropy, 8.0);
    EXPECT_GE(s.colorfulness, 0.0);
  }
  // The extremes: half black, half white reaches the contrast bound.
  const QualitySignals extreme = quality_signals_cpu(checkerboard(16, 16, 4, 0, 255));
  EXPECT_DOUBLE_EQ(extreme.contrast, 127.5);
}

TEST(QualitySignals, EmptyImageGivesZeros) {
  const QualitySignals s = quality_signals_cpu(Image{});
  EXPECT_EQ(s.sharpness, 0.0);
  EXPECT_EQ(s.brightness, 0.0);
  EXPECT_EQ(s.entropy, 0.0);
  EXPECT_EQ(s.colorfulness, 0.0);
}

// --- With an alpha plane: signals over the opaque pixels only ---------------------------------

void expect_same_signals(const QualitySignals& a, const QualitySignals& b) {
  EXPECT_EQ(a.sharpness, b.sharpness);
  EXPECT_EQ(a.brightness, b.brightness);
  EXPECT_EQ(a.contrast, b.contrast);
  EXPECT_EQ(a.dark_fraction, b.dark_fraction);
  EXPECT_EQ(a.bright_fraction, b.bright_fraction);
  EXPECT_EQ(a.entropy, b.entropy);
  EXPECT_EQ(a.colorfulness, b.colorfulness);
  EXPECT_EQ(a.opaque_fraction, b.opaque_fraction);
}

TEST(MaskedQualitySignals, OpaqueMaskEqualsNoMaskBitForBit) {
  for (int channels : {1, 3}) {
    const Image img = uniform_noise(97, 61, channels, 0, 255, 40 + channels);
    const QualitySignals plain = quality_signals_cpu(img);
    EXPECT_EQ(plain.opaque_fraction, 1.0);
    const Image empty_alpha;
    expect_same_signals(quality_signals_cpu(img, &empty_alpha), plain);
    // Every pixel at or above the threshold counts: the same pixels, the same sums.
    const Image opaque = constant_image(97, 61, 1, 128);
    expect_same_signals(quality_signals_cpu(img, &opaque), plain);
  }
}

TEST(MaskedQualitySignals, TransparentPixelsAreNotMeasured) {
  // Left half: opaque, constant 200. Right half: transparent noise (any colour).
  Image img = uniform_noise(64, 40, 3, 0, 255, 7);
  Image alpha(64, 40, 1);
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 32; ++x) {
      std::fill_n(img.row(y) + 3 * x, 3, uint8_t{200});
      alpha.row(y)[x] = x % 2 == 0 ? 255 : 128;  // 128 counts; 127 below would not
    }
    for (int x = 32; x < 64; ++x) alpha.row(y)[x] = x % 2 == 0 ? 0 : 127;
  }
  const QualitySignals s = quality_signals_cpu(img, &alpha);
  EXPECT_EQ(s.opaque_fraction, 0.5);
  EXPECT_EQ(s.brightness, 200.0);
  EXPECT_EQ(s.contrast, 0.0);
  EXPECT_EQ(s.entropy, 0.0);
  EXPECT_EQ(s.dark_fraction, 0.0);
  EXPECT_EQ(s.bright_fraction, 0.0);
  EXPECT_EQ(s.colorfulness, 0.0);
  EXPECT_EQ(s.sharpness, 0.0);  // flat inside; the border with the noise is not counted
  // Without the mask the noise dominates.
  EXPECT_GT(quality_signals_cpu(img).contrast, 20.0);
}

TEST(MaskedQualitySignals, WhiteLogoOnTransparencyIsBrightAndFlat) {
  // A white disc on a fully transparent canvas whose colour is black: on black it is a dark image
  // with a sharp outline; measured over its opaque pixels it is white and flat.
  Image img = constant_image(256, 192, 3, 0);
  Image alpha = constant_image(256, 192, 1, 0);
  cv::circle(mat_of(img), {128, 96}, 40, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::circle(mat_of(alpha), {128, 96}, 40, cv::Scalar(255), cv::FILLED);
  const QualitySignals on_black = quality_signals_cpu(img);
  EXPECT_LT(on_black.brightness, 40.0);  // what the `dark` rule used to see
  EXPECT_GT(on_black.sharpness, 100.0);
  const QualitySignals s = quality_signals_cpu(img, &alpha);
  EXPECT_EQ(s.brightness, 255.0);
  EXPECT_EQ(s.sharpness, 0.0);
  EXPECT_NEAR(s.opaque_fraction, M_PI * 40 * 40 / (256.0 * 192.0), 0.01);
}

TEST(MaskedQualitySignals, SharpnessCountsPixelsWhoseNeighboursAreOpaque) {
  // Texture everywhere, an irregular opaque region: the variance over exactly the pixels whose
  // 4-neighbourhood (mirrored at borders) is opaque, from OpenCV's Laplacian.
  Image img = uniform_noise(80, 50, 1, 0, 255, 9);
  Image alpha = constant_image(80, 50, 1, 0);
  for (int y = 0; y < 50; ++y) {
    for (int x = 0; x < 80; ++x) {
      if ((x < 50 && y < 30) || (x >= 60 && y >= 10)) alpha.row(y)[x] = 255;
    }
  }
  cv::Mat laplacian;
  cv::Laplacian(mat_of(img), laplacian, CV_64F, 1, 1, 0, cv::BORDER_REFLECT_101);
  const auto opaque = [&](int x, int y) {
    const int mx = x < 0 ? -x : (x >= 80 ? 2 * 80 - 2 - x : x);
    const int my = y < 0 ? -y : (y >= 50 ? 2 * 50 - 2 - y : y);
    return alpha.row(my)[mx] >= 128;
  };
  double sum = 0;
  double sum_sq = 0;
  int n = 0;
  for (int y = 0; y < 50; ++y) {
    for (int x = 0; x < 80; ++x) {
      if (!opaque(x, y) || !opaque(x - 1, y) || !opaque(x + 1, y) || !opaque(x, y - 1) ||
          !opaque(x, y + 1)) {
        continue;
      }
      const double l = laplacian.at<double>(y, x);
      sum += l;
      sum_sq += l * l;
      ++n;
    }
  }
  ASSERT_GT(n, 1000);
  const double expected = sum_sq / n - (sum / n) * (sum / n);
  EXPECT_NEAR(quality_signals_cpu(img, &alpha).sharpness, expected, 1e-9 * expected);
}

TEST(MaskedQualitySignals, ColourfulnessOfOpaquePixelsOnly) {
  // Opaque pure red beside transparent pure green: as colourful as pure red alone (85.5).
  Image img(40, 20, 3);
  Image alpha(40, 20, 1);
  for (int y = 0; y < 20; ++y) {
    for (int x = 0; x < 40; ++x) {
      const bool red = x < 10;
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = red ? 255 : 0;
      p[1] = red ? 0 : 255;
      p[2] = 0;
      alpha.row(y)[x] = red ? 255 : 0;
    }
  }
  const QualitySignals s = quality_signals_cpu(img, &alpha);
  EXPECT_NEAR(s.colorfulness, 85.5, 0.05);
  EXPECT_GT(quality_signals_cpu(img).colorfulness, 100.0);  // red and green together
  EXPECT_EQ(s.opaque_fraction, 0.25);
}

TEST(MaskedQualitySignals, FullyTransparentGivesZeros) {
  const Image img = uniform_noise(33, 21, 3, 0, 255, 12);
  const Image alpha = constant_image(33, 21, 1, 127);
  const QualitySignals s = quality_signals_cpu(img, &alpha);
  EXPECT_EQ(s.opaque_fraction, 0.0);
  EXPECT_EQ(s.sharpness, 0.0);
  EXPECT_EQ(s.brightness, 0.0);
  EXPECT_EQ(s.contrast, 0.0);
  EXPECT_EQ(s.dark_fraction, 0.0);
  EXPECT_EQ(s.bright_fraction, 0.0);
  EXPECT_EQ(s.entropy, 0.0);
  EXPECT_EQ(s.colorfulness, 0.0);
}

TEST(QualitySignals, GivenGrayGivesTheSameSignalsBitForBit) {
  // The scan passes the gray image it already made; nothing may change by it.
  // The noise reaches 250 and more (clipped) in some images and not in others.
  for (int channels : {1, 3}) {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      const int top = seed % 2 == 1 ? 255 : 240;
      const Image img = channels == 1 && seed % 2 == 1
                            ? textured_scene(seed)
                            : uniform_noise(97, 61, channels, static_cast<int>(seed) * 20, top, seed);
      const QualitySignals a = quality_signals_cpu(img);
      const QualitySignals b = quality_signals_cpu(img, to_gray(img));
      // An all-opaque mask takes the masked path, whose colourfulness and brightest-channel
      // histogram are separate passes: the reference for the opaque path's single pass.
      const Image opaque = constant_image(img.width, img.height, 1, 255);
      const QualitySignals c = quality_signals_cpu(img, &opaque);
      EXPECT_EQ(a.colorfulness, c.colorfulness);
      EXPECT_EQ(a.clipped_fraction, c.clipped_fraction);
      EXPECT_EQ(a.highlight_plateau, c.highlight_plateau);
      EXPECT_EQ(a.highlight_level, c.highlight_level);
      EXPECT_EQ(a.sharpness, b.sharpness);
      EXPECT_EQ(a.brightness, b.brightness);
      EXPECT_EQ(a.contrast, b.contrast);
      EXPECT_EQ(a.dark_fraction, b.dark_fraction);
      EXPECT_EQ(a.bright_fraction, b.bright_fraction);
      EXPECT_EQ(a.entropy, b.entropy);
      EXPECT_EQ(a.colorfulness, b.colorfulness);
      EXPECT_EQ(a.edge_width, b.edge_width);
      EXPECT_EQ(a.clipped_fraction, b.clipped_fraction);
      EXPECT_EQ(a.highlight_level, b.highlight_level);
      EXPECT_EQ(a.opaque_fraction, b.opaque_fraction);
      EXPECT_EQ(a.highlight_plateau, b.highlight_plateau);
    }
  }
}

}  // namespace
}  // namespace vpipe
