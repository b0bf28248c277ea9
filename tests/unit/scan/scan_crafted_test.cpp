// Every signal, and the default verdict, on crafted images through the whole per-file scan
// (scan_bytes): a flat image, pure noise, full transparency, 1x1, 16-bit and CMYK. Each gets a
// status and the reasons that describe it, never a crash or a made-up defect.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "vpipe/core/image.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/quality/rules.h"
#include "vpipe/scan/scan.h"

namespace vpipe {
namespace {

FileRecord scan(const std::vector<uint8_t>& bytes) {
  Decoder decoder;
  FileRecord record;
  scan_bytes(bytes, decoder, DecodeOptions{}, record);
  return record;
}

std::set<std::string> reasons(const FileRecord& record) {
  std::set<std::string> out;
  for (const RejectReason& r : evaluate_quality(record, QualityRules{})) out.insert(r.rule);
  return out;
}

void expect_finite(const QualitySignals& q) {
  for (double v : {q.sharpness, q.brightness, q.contrast, q.dark_fraction, q.bright_fraction,
                   q.entropy, q.colorfulness, q.edge_width, q.clipped_fraction,
                   q.highlight_level, q.opaque_fraction, q.highlight_plateau}) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GE(v, 0);
  }
}

using Names = std::set<std::string>;

TEST(ScanCrafted, AFlatImageIsFlatNotBlurredDarkOrClipped) {
  Image flat(320, 240, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 128);
  const FileRecord r = scan(encode_jpeg(flat, 90));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
  expect_finite(r.quality);
  EXPECT_EQ(r.quality.edge_width, 0);  // no edge: blur is not judged
  EXPECT_NEAR(r.quality.highlight_plateau, 1.0, 1e-9);  // every pixel at the top level
  EXPECT_EQ(reasons(r), (Names{"low_contrast", "low_information"}));
}

TEST(ScanCrafted, PureNoiseIsSharpAndPasses) {
  Image noise(256, 256, 3);
  std::mt19937 rng(7);
  for (uint8_t& v : noise.pixels) v = static_cast<uint8_t>(rng());
  const FileRecord r = scan(encode_png(noise));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
  expect_finite(r.quality);
  EXPECT_GT(r.quality.edge_width, 0);
  EXPECT_LT(r.quality.edge_width, 2.0);
  // The brightest of three uniform channels within 3 levels of its top: about 1 - (252/256)^3.
  EXPECT_GT(r.quality.highlight_plateau, 0.02);
  EXPECT_LT(r.quality.highlight_plateau, 0.08);
  EXPECT_EQ(reasons(r), Names{});
}

TEST(ScanCrafted, FullTransparencyIsTransparentOnly) {
  Image rgb(200, 200, 3);
  std::fill(rgb.pixels.begin(), rgb.pixels.end(), 255);
  Image alpha(200, 200, 1);  // every pixel transparent
  const FileRecord r = scan(encode_png(rgb, alpha));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
  expect_finite(r.quality);
  EXPECT_EQ(r.quality.opaque_fraction, 0);
  EXPECT_EQ(r.quality.highlight_plateau, 0);  // nothing measured
  EXPECT_EQ(reasons(r), Names{"transparent"});
}

TEST(ScanCrafted, OnePixelIsTinyAndFlat) {
  Image one(1, 1, 3);
  one.pixels = {200, 100, 50};
  const FileRecord r = scan(encode_png(one));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
  expect_finite(r.quality);
  EXPECT_EQ(r.width, 1);
  EXPECT_EQ(r.quality.highlight_plateau, 1.0);
  EXPECT_EQ(reasons(r), (Names{"low_contrast", "low_information", "tiny"}));
}

TEST(ScanCrafted, SixteenBitIsMeasuredLikeItsEightBitRendering) {
  // Bars of 20% and 80% gray in 16 bits: sharp steps, mid exposure, nothing clipped.
  Image16 wide(320, 240, 1);
  for (int y = 0; y < wide.height; ++y) {
    for (int x = 0; x < wide.width; ++x) {
      wide.pixels[static_cast<size_t>(y) * wide.width + x] =
          ((x / 20 + y / 20) % 2 == 0) ? 13107 : 52428;
    }
  }
  const FileRecord r = scan(encode_png16(wide));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
  expect_finite(r.quality);
  EXPECT_NEAR(r.quality.brightness, 127.5, 2);
  EXPECT_GT(r.quality.edge_width, 0);
  EXPECT_LT(r.quality.edge_width, 3.0);
  EXPECT_EQ(r.quality.clipped_fraction, 0);
  EXPECT_NEAR(r.quality.highlight_plateau, 0.5, 0.1);  // the 80% bars: half, not clipped
  EXPECT_EQ(reasons(r), Names{});
}

TEST(ScanCrafted, CmykJpegIsDecodedAndJudged) {
  // Inverted (Adobe) CMYK of a mid-gray picture with a white square: no ink there.
  const int w = 240;
  const int h = 180;
  std::vector<uint8_t> cmyk(static_cast<size_t>(w) * h * 4);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const bool white = x >= 60 && x < 180 && y >= 45 && y < 135;
      uint8_t* p = &cmyk[(static_cast<size_t>(y) * w + x) * 4];
      p[0] = p[1] = p[2] = 255;        // no C, M, Y ink (inverted: 255 = none)
      p[3] = white ? 255 : 110;        // black ink outside the square
    }
  }
  tjhandle handle = tjInitCompress();
  ASSERT_NE(handle, nullptr);
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  ASSERT_EQ(tjCompress2(handle, cmyk.data(), w, 0, h, TJPF_CMYK, &jpeg, &size, TJSAMP_444, 95,
                        0),
            0)
      << tjGetErrorStr2(handle);
  const std::vector<uint8_t> bytes(jpeg, jpeg + size);
  tjFree(jpeg);
  tjDestroy(handle);

  const FileRecord r = scan(bytes);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.error;
  expect_finite(r.quality);
  EXPECT_EQ(r.width, w);
  // A quarter of the picture is white (clipped), the rest 110 of 255.
  EXPECT_NEAR(r.quality.clipped_fraction, 0.25, 0.03);
  EXPECT_GT(r.quality.highlight_level, 240);
  EXPECT_NEAR(r.quality.highlight_plateau, 0.25, 0.03);
  EXPECT_EQ(reasons(r).count("dark"), 0u);
}

}  // namespace
}  // namespace vpipe
