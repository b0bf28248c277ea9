// Transparent images through the scan's per-file work (scan_bytes, measure_image): the hashes are
// those of the picture composited on black, as before decoders kept alpha; the quality signals are
// measured over the opaque pixels; opaque_fraction says how many there are.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/scan/scan.h"

namespace vpipe {
namespace {

cv::Mat mat_of(Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), img.pixels.data(), img.stride());
}

FileRecord scan(const std::vector<uint8_t>& bytes) {
  Decoder decoder;
  FileRecord record;
  scan_bytes(bytes, decoder, {}, record);
  return record;
}

/// A textured colour scene, w x h: gradients, a sinusoid and a few discs.
Image scene(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x * 255 / w);
      p[1] = static_cast<uint8_t>(128 + 90 * std::sin(x * 0.05) * std::cos(y * 0.07));
      p[2] = static_cast<uint8_t>(y * 255 / h);
    }
  }
  cv::circle(mat_of(img), {w / 3, h / 2}, h / 5, cv::Scalar(250, 30, 30), cv::FILLED);
  cv::circle(mat_of(img), {2 * w / 3, h / 3}, h / 6, cv::Scalar(20, 200, 40), cv::FILLED);
  return img;
}

/// Alpha of a w x h image: transparent left third, half transparent (128) band, an opaque rest
/// with a soft (ramped) edge.
Image soft_alpha(int w, int h) {
  Image alpha(w, h, 1);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int a = x < w / 3 ? 0 : (x < w / 2 ? 128 : 255);
      if (y < 20) a = a * y / 20;
      alpha.row(y)[x] = static_cast<uint8_t>(a);
    }
  }
  return alpha;
}

TEST(ScanAlpha, HashesEqualThoseOfTheBlackComposite) {
  const Image rgb = scene(640, 400);
  const Image alpha = soft_alpha(640, 400);
  const Image on_black = composite_over(rgb, alpha);
  const FileRecord opaque = scan(encode_png(on_black));
  for (const std::vector<uint8_t>& file :
       {encode_png(rgb, alpha), encode_tiff(rgb, alpha, true), encode_tiff(rgb, alpha, false)}) {
    const FileRecord r = scan(file);
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
    ASSERT_TRUE(r.has_signals);
    EXPECT_EQ(r.phash, opaque.phash);
    EXPECT_EQ(r.dhash, opaque.dhash);
    EXPECT_LT(r.quality.opaque_fraction, 0.75);
  }
  EXPECT_EQ(opaque.quality.opaque_fraction, 1.0);

  // The orientation hashes too, through measure_image.
  FileRecord with_alpha;
  FileRecord composite;
  measure_image(rgb, alpha, with_alpha, true);
  measure_image(on_black, composite, true);
  EXPECT_EQ(with_alpha.orientation_phash, composite.orientation_phash);
  EXPECT_EQ(with_alpha.orientation_dhash, composite.orientation_dhash);
  // An empty plane is the opaque path, bit for bit.
  FileRecord empty_plane;
  measure_image(on_black, Image(), empty_plane, true);
  EXPECT_EQ(empty_plane.quality.sharpness, composite.quality.sharpness);
  EXPECT_EQ(empty_plane.quality.brightness, composite.quality.brightness);
  EXPECT_EQ(empty_plane.orientation_phash, composite.orientation_phash);
}

TEST(ScanAlpha, WhiteLogoOnTransparencyIsNotDarkAndItsOutlineIsNoEdge) {
  // A white logo (a disc with an anti-aliased edge, and a bar) on a fully transparent 512x384
  // canvas: straight colour, so white wherever alpha > 0, black underneath the transparency.
  Image rgb(512, 384, 3);
  Image alpha(512, 384, 1);
  cv::circle(mat_of(alpha), {200, 190}, 90, cv::Scalar(255), cv::FILLED, cv::LINE_AA);
  cv::rectangle(mat_of(alpha), cv::Rect(320, 150, 120, 60), cv::Scalar(255), cv::FILLED);
  for (size_t i = 0; i < alpha.pixels.size(); ++i) {
    if (alpha.pixels[i] > 0) std::fill_n(rgb.pixels.begin() + 3 * i, 3, uint8_t{255});
  }
  const FileRecord logo = scan(encode_png(rgb, alpha));
  ASSERT_EQ(logo.status, ItemStatus::kOk) << logo.error;
  EXPECT_GT(logo.quality.brightness, 250.0);  // white, not `dark`
  EXPECT_LT(logo.quality.dark_fraction, 0.01);
  EXPECT_LT(logo.quality.sharpness, 1.0);  // flat inside; the outline does not count
  const double area = (M_PI * 90 * 90 + 120 * 60) / (512.0 * 384.0);
  EXPECT_NEAR(logo.quality.opaque_fraction, area, 0.01);

  // The same picture without its alpha (the black composite, what was measured before).
  const FileRecord on_black = scan(encode_png(composite_over(rgb, alpha)));
  EXPECT_LT(on_black.quality.brightness, 90.0);
  EXPECT_GT(on_black.quality.dark_fraction, 0.5);
  EXPECT_GT(on_black.quality.sharpness, 100.0);
  EXPECT_EQ(logo.phash, on_black.phash);
}

TEST(ScanAlpha, FullyTransparentImageHasZeroSignals) {
  Image rgb = scene(300, 200);
  Image alpha(300, 200, 1);  // all 0
  for (const std::vector<uint8_t>& file :
       {encode_png(rgb, alpha), encode_webp(rgb, alpha, 0, true)}) {
    const FileRecord r = scan(file);
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
    ASSERT_TRUE(r.has_signals);
    EXPECT_EQ(r.quality.opaque_fraction, 0.0);
    EXPECT_EQ(r.quality.sharpness, 0.0);
    EXPECT_EQ(r.quality.brightness, 0.0);
    EXPECT_EQ(r.quality.contrast, 0.0);
    EXPECT_EQ(r.quality.dark_fraction, 0.0);
    EXPECT_EQ(r.quality.bright_fraction, 0.0);
    EXPECT_EQ(r.quality.entropy, 0.0);
    EXPECT_EQ(r.quality.colorfulness, 0.0);
    EXPECT_EQ(r.phash, scan(encode_png(Image(300, 200, 3))).phash);  // black
  }
}

TEST(ScanAlpha, HalfTransparentImageHasHalfOpaqueFraction) {
  const Image rgb = scene(500, 300);
  Image alpha(500, 300, 1);
  for (int y = 0; y < 300; ++y) {
    for (int x = 250; x < 500; ++x) alpha.row(y)[x] = 255;
  }
  const FileRecord r = scan(encode_png(rgb, alpha));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
  EXPECT_NEAR(r.quality.opaque_fraction, 0.5, 0.01);
  // The brightness is that of the right half alone.
  FileRecord right;
  Image right_half(250, 300, 3);
  for (int y = 0; y < 300; ++y) {
    std::copy_n(rgb.row(y) + 3 * 250, 3 * 250, right_half.row(y));
  }
  const FileRecord whole = scan(encode_png(rgb));
  EXPECT_EQ(whole.quality.opaque_fraction, 1.0);
  measure_image(right_half, right);
  EXPECT_NEAR(r.quality.brightness, right.quality.brightness, 2.0);
  EXPECT_GT(std::abs(whole.quality.brightness - right.quality.brightness), 5.0);
}

}  // namespace
}  // namespace vpipe
